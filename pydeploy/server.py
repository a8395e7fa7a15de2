"""A private local PostgreSQL cluster: the default database of every command.

``pydeploy server start`` creates (once) and starts a cluster in its own
directory (``./.pgdata`` unless ``PYDEPLOY_HOME`` says otherwise), on its own
port, listening on 127.0.0.1 and a socket in that directory only, with pg_cron
preloaded when it is installed. PostgreSQL refuses to run as root, so when
root asks, the server runs as the ``postgres`` OS user, which then owns the
directory.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pydeploy.errors import ServerError

DATABASE = "gallery"
SUPERUSER = "postgres"
FIRST_PORT = 54329
SERVER_OS_USER_WHEN_ROOT = "postgres"


def default_home() -> Path:
    return Path(os.environ.get("PYDEPLOY_HOME", ".pgdata")).resolve()


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are: PYDEPLOY_PG_BINDIR, pg_config, or the newest Debian one."""
    configured = os.environ.get("PYDEPLOY_PG_BINDIR")
    if configured:
        return Path(configured)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for candidate in debian:
        if (candidate / "initdb").exists():
            return candidate
    raise ServerError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found",
        "install postgresql-15 or set PYDEPLOY_PG_BINDIR",
    )


def pkglibdir(bindir: Path) -> Path:
    out = subprocess.run(
        [str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True, check=False
    )
    if out.returncode == 0:
        return Path(out.stdout.strip())
    return bindir.parent / "lib"


@dataclass
class LocalServer:
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @property
    def settings_file(self) -> Path:
        return self.home / "server.json"

    @property
    def initialized(self) -> bool:
        return self.settings_file.exists() and (self.data_dir / "PG_VERSION").exists()

    @property
    def port(self) -> int:
        if not self.settings_file.exists():
            raise ServerError(f"no local server in {self.home}", "run `pydeploy server start`")
        return int(json.loads(self.settings_file.read_text())["port"])

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # -- running commands as the right OS user ---------------------------------

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", SERVER_OS_USER_WHEN_ROOT, "--", *argv]

    def _run(self, argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self._as_server_user(argv), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise ServerError(
                f"{what} failed (exit {result.returncode}): {result.stderr.strip()}\n{log_tail}",
                f"see {self.log_file}",
            )
        return result

    def _prepare_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.home, self.socket_dir):
                self._chown_to_server_user(path)
            probe = subprocess.run(
                self._as_server_user(["test", "-w", str(self.home)]), check=False
            )
            if probe.returncode != 0:
                raise ServerError(
                    f"the {SERVER_OS_USER_WHEN_ROOT} OS user cannot write {self.home}",
                    "choose a directory every user can traverse, e.g. PYDEPLOY_HOME=/tmp/pgdata",
                )
        elif self.home.stat().st_uid != os.geteuid():
            raise ServerError(
                f"{self.home} belongs to another user (uid {self.home.stat().st_uid})",
                "use your own directory: set PYDEPLOY_HOME",
            )

    def _chown_to_server_user(self, path: Path) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_OS_USER_WHEN_ROOT)
            os.chown(path, owner.pw_uid, owner.pw_gid)

    # -- lifecycle --------------------------------------------------------------

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        bindir = pg_bindir()
        result = subprocess.run(
            self._as_server_user([str(bindir / "pg_ctl"), "status", "-D", str(self.data_dir)]),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0

    def init(self) -> None:
        bindir = pg_bindir()
        self._prepare_home()
        port = _free_port()
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            "initdb",
        )
        preload = []
        if (pkglibdir(bindir) / "pg_cron.so").exists():
            preload.append("pg_cron")
        settings = {
            "port": port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "shared_preload_libraries": f"'{','.join(preload)}'",
            "cron.database_name": f"'{DATABASE}'",
            "shared_buffers": "'256MB'",
            "max_connections": 100,
            # bulk loads (backfill, bench data) write tens of GB of WAL: fewer checkpoints,
            # bigger WAL buffers, compressed full-page images
            "max_wal_size": "'8GB'",
            "wal_buffers": "'64MB'",
            "wal_compression": "lz4",
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with (self.data_dir / "postgresql.conf").open("a") as f:
            f.write("\n# pydeploy local server\n" + conf)
        self.settings_file.write_text(json.dumps({"port": port}) + "\n")
        self._chown_to_server_user(self.settings_file)

    def start(self) -> bool:
        """Create if needed and start; return False when it was already running."""
        if not self.initialized:
            self.init()
        if self.is_running():
            return False
        bindir = pg_bindir()
        self._run(
            [
                str(bindir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
            ],
            "pg_ctl start",
        )
        self._ensure_database()
        return True

    def stop(self) -> bool:
        """Stop if running; return False when it was not running."""
        if not self.is_running():
            return False
        bindir = pg_bindir()
        self._run(
            [str(bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)],
            "pg_ctl stop",
        )
        return True

    def destroy(self) -> None:
        """Stop and delete the cluster and its directory."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def _ensure_database(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE}"')
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def _free_port() -> int:
    for port in range(FIRST_PORT, FIRST_PORT + 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServerError("no free TCP port for the local server", "stop other local clusters")
