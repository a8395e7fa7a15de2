"""A private local PostgreSQL cluster: the default database of every command.

``pydeploy server start`` creates (once) and starts a cluster in its own
directory (``./.pgdata`` unless ``PYDEPLOY_HOME`` says otherwise), on its own
port, listening on 127.0.0.1 and a socket in that directory only, with pg_cron
preloaded when it is installed. PostgreSQL refuses to run as root, so when
root asks, the server runs as the ``postgres`` OS user, which then owns the
directory.

When that user cannot reach the directory asked for (root's home, a private
``mktemp -d``), the cluster goes where it can (a directory of its own under the
``postgres`` user's home) and the directory asked for becomes a symbolic link
to it: the checkout remembers where its cluster is, and every later command
run there finds it without any environment variable.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
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
    """PYDEPLOY_HOME, else ./.pgdata; absolute, but a symbolic link is not followed."""
    return Path(os.path.abspath(os.environ.get("PYDEPLOY_HOME", ".pgdata")))


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_OS_USER_WHEN_ROOT)
    except KeyError:
        raise ServerError(
            f"run as root, the local server needs the {SERVER_OS_USER_WHEN_ROOT} OS user, "
            "which does not exist",
            "install postgresql-15 (it creates that user), or run pydeploy as a normal user",
        ) from None


def _server_user_can(test: str, path: Path) -> bool:
    """``test -<test> path`` as the server's OS user (root only)."""
    argv = ["runuser", "-u", SERVER_OS_USER_WHEN_ROOT, "--", "test", f"-{test}", str(path)]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def reachable_home_for(requested: Path) -> Path:
    """Where the cluster asked for at ``requested`` goes when the server's OS user cannot
    reach ``requested``: a directory of its own under that user's home (else /var/tmp),
    named after the checkout and a hash of the path asked for."""
    digest = hashlib.sha256(str(requested).encode()).hexdigest()[:10]
    label = re.sub(r"[^A-Za-z0-9_.-]", "_", requested.parent.name or "root")
    candidates = [Path(_server_user().pw_dir) / "pydeploy-clusters", Path("/var/tmp/pydeploy")]
    for base in candidates:
        if not base.exists():
            try:
                base.mkdir(mode=0o755, parents=True)
            except OSError:
                continue
            owner = _server_user()
            os.chown(base, owner.pw_uid, owner.pw_gid)
        if _server_user_can("w", base):
            return base / f"{label}-{digest}"
    raise ServerError(
        f"the {SERVER_OS_USER_WHEN_ROOT} OS user cannot reach {requested}, "
        "nor any place to put the cluster instead",
        "set PYDEPLOY_HOME to a directory every user can traverse, e.g. /var/tmp/pgdata",
    )


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


@dataclass(frozen=True)
class StartResult:
    """What ``server start`` did."""

    started: bool  # False: it was already running
    url: str
    port: int
    home: str  # the directory asked for
    data_dir: str  # where the cluster is (elsewhere when home is a link to it)
    relocated: bool  # home is a link to a place the server's OS user can reach
    moved_from_port: int | None  # the remembered port, taken by another program


@dataclass
class LocalServer:
    home: Path

    @property
    def root(self) -> Path:
        """The cluster's directory: ``home``, or where ``home`` links to."""
        return self.home.resolve()

    @property
    def relocated(self) -> bool:
        return self.home.is_symlink()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def settings_file(self) -> Path:
        return self.root / "server.json"

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
            raise ServerError(
                f"{what} failed: {self._last_error_line(result.stderr)}",
                f"the server log is {self.log_file}",
            )
        return result

    def _last_error_line(self, stderr: str) -> str:
        """The line that says why: the server log's last FATAL/ERROR/PANIC, else stderr's."""
        lines: list[str] = []
        if self.log_file.exists():
            lines = self.log_file.read_text(errors="replace").splitlines()[-40:]
        for line in reversed(lines):
            if re.search(r"\b(FATAL|PANIC|ERROR):", line):
                return line.strip()
        stderr_lines = [s.strip() for s in stderr.splitlines() if s.strip()]
        return stderr_lines[-1] if stderr_lines else "no message"

    def _prepare_home(self) -> None:
        if os.geteuid() == 0 and not self.relocated:
            parent = self.home.parent
            parent.mkdir(parents=True, exist_ok=True)
            if not _server_user_can("x", parent) or not _server_user_can("w", parent):
                self._relocate(parent)
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.root, self.socket_dir):
                self._chown_to_server_user(path)
            if not _server_user_can("w", self.root):
                raise ServerError(
                    f"the {SERVER_OS_USER_WHEN_ROOT} OS user cannot write {self.root}",
                    "set PYDEPLOY_HOME to a directory every user can traverse, "
                    "e.g. /var/tmp/pgdata",
                )
        elif self.root.stat().st_uid != os.geteuid():
            raise ServerError(
                f"{self.root} belongs to another user (uid {self.root.stat().st_uid})",
                "use your own directory: set PYDEPLOY_HOME",
            )

    def _relocate(self, parent: Path) -> None:
        """Put the cluster where the server's OS user can reach it; ``home`` links there.

        The server user can traverse ``home`` itself (we make it its owner) but not
        ``parent``: nothing under ``parent`` is usable, so ``home`` becomes a link."""
        if self.home.is_dir():
            if not _only_empty_run_dir(self.home):
                raise ServerError(
                    f"the {SERVER_OS_USER_WHEN_ROOT} OS user cannot reach {self.home}, "
                    "which is not empty",
                    f"move it away (or set PYDEPLOY_HOME): pydeploy then puts the cluster "
                    f"where {SERVER_OS_USER_WHEN_ROOT} can reach it",
                )
            shutil.rmtree(self.home)  # an empty leftover of an earlier, failed start
        target = reachable_home_for(self.home)
        target.mkdir(parents=True, exist_ok=True)
        self._chown_to_server_user(target)
        self.home.symlink_to(target, target_is_directory=True)

    def _chown_to_server_user(self, path: Path) -> None:
        if os.geteuid() == 0:
            owner = _server_user()
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

    def _set_port(self, port: int) -> None:
        with (self.data_dir / "postgresql.conf").open("a") as f:
            f.write("\n# pydeploy: the previous port was taken by another program\n")
            f.write(f"port = {port}\n")
        self.settings_file.write_text(json.dumps({"port": port}) + "\n")

    def start(self) -> bool:
        """Create if needed and start; return False when it was already running."""
        return self.start_with_details().started

    def start_with_details(self) -> StartResult:
        """Create if needed and start; a remembered port that another program took is
        given up for a free one (and said so in the result)."""
        if not self.initialized:
            self.init()
        moved_from = None
        if self.is_running():
            started = False
        else:
            started = True
            if not _port_free(self.port):
                moved_from = self.port
                self._set_port(_free_port())
            self._pg_ctl_start()
            self._ensure_database()
        return StartResult(
            started=started,
            url=self.url(),
            port=self.port,
            home=str(self.home),
            data_dir=str(self.data_dir),
            relocated=self.relocated,
            moved_from_port=moved_from,
        )

    def _pg_ctl_start(self) -> None:
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
        """Stop and delete the cluster and its directory (and the link to it, if any)."""
        if self.initialized:
            self.stop()
        root = self.root
        shutil.rmtree(root, ignore_errors=True)
        if self.home.is_symlink():
            self.home.unlink()

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


def _only_empty_run_dir(path: Path) -> bool:
    """True for what a failed start leaves behind: nothing, or an empty run/."""
    entries = list(path.iterdir())
    if not entries:
        return True
    return [e.name for e in entries] == ["run"] and not any((path / "run").iterdir())


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    for port in range(FIRST_PORT, FIRST_PORT + 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServerError("no free TCP port for the local server", "stop other local clusters")
