"""Apply, roll back and inspect: migrations (yoyo) plus repeatable function files.

Everything ``apply`` and ``rollback`` do happens in ONE transaction on one
connection, under a transaction-level advisory lock: two concurrent deploys
serialize, and a failure anywhere rolls back everything, yoyo's bookkeeping
included. yoyo reads the migrations and keeps its usual tables
(``_yoyo_migration``, ``_yoyo_log``), so ``yoyo list`` still works; pydeploy
runs the steps itself because yoyo would give each migration a connection and
a commit of its own.

pydeploy's own registry lives in the ``pydeploy`` schema: content checksums of
applied migrations (yoyo only tracks ids) and, for each deployed function, its
file checksum and the checksum of ``pg_get_functiondef`` right after deploy,
which is how a hand edit in the database is noticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg
from psycopg import sql
from yoyo import internalmigrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import Migration, default_migration_table, read_migrations, topological_sort

from pydeploy import adoption, health
from pydeploy.db import connect
from pydeploy.errors import DeployError
from pydeploy.sources import (
    FunctionFile,
    migration_checksum,
    migrations_dir,
    read_function_files,
    sha256_text,
)

# pg_advisory_lock key held by every pydeploy apply/rollback ("pydeploy" in ASCII, folded).
ADVISORY_LOCK_KEY = 0x7079_6465_706C_6F79 & 0x7FFF_FFFF_FFFF_FFFF

REGISTRY_DDL = """
CREATE SCHEMA IF NOT EXISTS pydeploy;
CREATE TABLE IF NOT EXISTS pydeploy.migration_registry (
    migration_id    text PRIMARY KEY,
    sha256          text NOT NULL,
    package_version text NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pydeploy.function_registry (
    file              text PRIMARY KEY,
    signature         text NOT NULL,
    kind              text NOT NULL,
    file_sha256       text NOT NULL,
    definition_sha256 text NOT NULL,
    package_version   text NOT NULL,
    applied_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON SCHEMA pydeploy IS 'Bookkeeping of pydeploy: applied migrations and deployed functions';
"""


def package_version() -> str:
    try:
        return version("pydeploy")
    except PackageNotFoundError:
        return "0+unknown"


# -- what is there and what would change ---------------------------------------


@dataclass(frozen=True)
class FunctionState:
    """One function file against the database.

    state is one of: ``ok``; ``new`` (never deployed); ``changed`` (file edited
    since deploy); ``drift`` (edited in the database by hand); ``missing``
    (deployed, then dropped by hand); ``orphaned`` (deployed, file since removed).
    """

    file: str
    signature: str
    state: str

    @property
    def action(self) -> str | None:
        return {
            "new": "create",
            "changed": "update",
            "drift": "restore",
            "missing": "restore",
            "orphaned": "drop",
        }.get(self.state)


@dataclass
class Status:
    applied_migrations: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)
    edited_migrations: list[str] = field(default_factory=list)
    unknown_migrations: list[str] = field(default_factory=list)
    functions: list[FunctionState] = field(default_factory=list)
    health: list[str] = field(default_factory=list)

    @property
    def function_drift(self) -> list[FunctionState]:
        return [f for f in self.functions if f.state in ("drift", "missing")]

    @property
    def pending_functions(self) -> list[FunctionState]:
        return [f for f in self.functions if f.state in ("new", "changed", "orphaned")]

    @property
    def in_sync(self) -> bool:
        return not (
            self.pending_migrations
            or self.edited_migrations
            or self.unknown_migrations
            or self.function_drift
            or self.pending_functions
            or self.health
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "in_sync": self.in_sync,
            "migrations": {
                "applied": self.applied_migrations,
                "pending": self.pending_migrations,
                "edited_after_apply": self.edited_migrations,
                "applied_without_file": self.unknown_migrations,
            },
            "functions": [f.__dict__ for f in self.functions],
            "health": self.health,
        }


@dataclass
class ApplyResult:
    applied_migrations: list[str]
    function_actions: list[FunctionState]
    adoption_steps: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.applied_migrations or self.function_actions or self.adoption_steps)


@dataclass
class RollbackResult:
    rolled_back: str | None
    function_actions: list[FunctionState]


def _read_migrations(sql_dir: Path) -> list[Migration]:
    migrations = read_migrations(str(migrations_dir(sql_dir)))
    for m in migrations:
        m.load()
    return list(topological_sort(migrations))


def _applied_migration_ids(cur: psycopg.Cursor) -> list[str]:
    """Ids yoyo recorded as applied, oldest first ([] on a database yoyo never saw)."""
    if cur.execute("SELECT to_regclass(%s)", (default_migration_table,)).fetchone()[0] is None:
        return []
    rows = cur.execute(
        sql.SQL("SELECT migration_id FROM {} ORDER BY applied_at_utc").format(
            sql.Identifier(default_migration_table)
        )
    ).fetchall()
    return [r[0] for r in rows]


def _registry_exists(cur: psycopg.Cursor) -> bool:
    return cur.execute("SELECT to_regclass('pydeploy.function_registry')").fetchone()[0] is not None


def _definition_sha(cur: psycopg.Cursor, signature: str) -> str | None:
    row = cur.execute(
        "SELECT pg_get_functiondef(p) FROM to_regprocedure(%s) AS p WHERE p IS NOT NULL",
        (signature,),
    ).fetchone()
    return sha256_text(row[0]) if row else None


def _function_states(cur: psycopg.Cursor, files: list[FunctionFile]) -> list[FunctionState]:
    registry: dict[str, tuple[str, str, str]] = {}
    if _registry_exists(cur):
        for file, signature, file_sha, definition_sha in cur.execute(
            "SELECT file, signature, file_sha256, definition_sha256 FROM pydeploy.function_registry"
        ):
            registry[file] = (signature, file_sha, definition_sha)
    states = []
    for f in files:
        if f.stem not in registry:
            states.append(FunctionState(f.stem, f.signature, "new"))
            continue
        signature, file_sha, definition_sha = registry.pop(f.stem)
        current = _definition_sha(cur, signature)
        if current is None:
            state = "missing"
        elif current != definition_sha:
            state = "drift"
        elif file_sha != f.sha256:
            state = "changed"
        else:
            state = "ok"
        states.append(FunctionState(f.stem, signature, state))
    for file, (signature, _, _) in sorted(registry.items()):
        states.append(FunctionState(file, signature, "orphaned"))
    return states


def _status(cur: psycopg.Cursor, sql_dir: Path) -> Status:
    migrations = _read_migrations(sql_dir)
    applied = _applied_migration_ids(cur)
    checksums: dict[str, str] = {}
    if _registry_exists(cur):
        checksums = dict(
            cur.execute("SELECT migration_id, sha256 FROM pydeploy.migration_registry").fetchall()
        )
    by_id = {m.id: m for m in migrations}
    return Status(
        applied_migrations=applied,
        pending_migrations=[m.id for m in migrations if m.id not in applied],
        edited_migrations=[
            i
            for i in applied
            if i in by_id
            and i in checksums
            and checksums[i] != migration_checksum(Path(by_id[i].path))
        ],
        unknown_migrations=[i for i in applied if i not in by_id],
        functions=_function_states(cur, read_function_files(sql_dir)),
        health=health.problems(cur),
    )


def status(dsn: str | None, sql_dir: Path) -> Status:
    with connect(dsn) as conn, conn.cursor() as cur:
        return _status(cur, sql_dir)


# -- changing the database -------------------------------------------------------


class _YoyoBackend(PostgresqlPsycopgBackend):
    """yoyo's PostgreSQL backend running on a connection pydeploy already holds."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self._given_connection = connection
        super().__init__(parse_uri("postgresql+psycopg:///pydeploy"), default_migration_table)

    def connect(self, dburi: object) -> psycopg.Connection:
        return self._given_connection


@contextmanager
def _exclusive(dsn: str | None) -> Iterator[psycopg.Connection]:
    """Hold pydeploy's advisory lock (a second apply or rollback waits) on a side
    connection in autocommit mode, which the online adoption steps also use."""
    conn = connect(dsn, autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        yield conn
    finally:
        conn.close()  # ends the session, and so releases the lock


@contextmanager
def _deploy_transaction(dsn: str | None) -> Iterator[tuple[_YoyoBackend, psycopg.Cursor]]:
    """One transaction with yoyo's and pydeploy's bookkeeping tables ready."""
    conn = connect(dsn, autocommit=True)  # yoyo issues BEGIN/COMMIT itself
    try:
        backend = _YoyoBackend(conn)
        backend.begin()
        try:
            cur = conn.cursor()
            # yoyo's own tables, inside this transaction (yoyo would take its lock
            # table and commit); then tell yoyo they are current
            if internalmigrations.needs_upgrading(backend):
                internalmigrations.upgrade(backend)
            backend._internal_schema_updated = True
            cur.execute(REGISTRY_DDL)
            yield backend, cur
        except BaseException:
            backend.rollback()
            raise
        backend.commit()
    finally:
        conn.close()


def _run_migration(
    backend: _YoyoBackend, cur: psycopg.Cursor, m: Migration, direction: str
) -> None:
    if not m.use_transactions:
        raise DeployError(
            f"migration {m.id} is marked '-- transactional: false'",
            "pydeploy applies everything in one transaction; split the non-transactional "
            "step (e.g. CREATE INDEX CONCURRENTLY) into a documented manual step",
        )
    try:
        m.process_steps(backend, direction)
    except psycopg.Error as e:
        raise DeployError(f"migration {m.id} ({direction}) failed: {_pg_message(e)}") from e
    backend.log_migration(m, direction)
    if direction == "apply":
        backend.mark_one(m, log=False)
        cur.execute(
            "INSERT INTO pydeploy.migration_registry (migration_id, sha256, package_version)"
            " VALUES (%s, %s, %s)",
            (m.id, migration_checksum(Path(m.path)), package_version()),
        )
    else:
        backend.unmark_one(m, log=False)
        cur.execute("DELETE FROM pydeploy.migration_registry WHERE migration_id = %s", (m.id,))


def _pg_message(e: psycopg.Error) -> str:
    diag = e.diag
    text = diag.message_primary or str(e).strip()
    if diag.sqlstate:
        text = f"[{diag.sqlstate}] {text}"
    if diag.context:
        text += f"\nCONTEXT: {diag.context.strip()}"
    return text


def _saved_acl(cur: psycopg.Cursor, signature: str) -> list[tuple[str, bool]] | None:
    """(grantee, grantable) of a function's EXECUTE grants; None for the default ACL."""
    row = cur.execute(
        "SELECT proacl IS NULL FROM pg_proc WHERE oid = to_regprocedure(%s)", (signature,)
    ).fetchone()
    if row is None or row[0]:
        return None
    return cur.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,"
        "       a.is_grantable"
        "  FROM pg_proc p, aclexplode(p.proacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee"
        " WHERE p.oid = to_regprocedure(%s)",
        (signature,),
    ).fetchall()


def _restore_acl(cur: psycopg.Cursor, signature: str, acl: list[tuple[str, bool]]) -> None:
    function = sql.SQL(signature)
    cur.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(function))
    for grantee, grantable in acl:
        cur.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}{}").format(
                function, sql.SQL(grantee), sql.SQL(" WITH GRANT OPTION" if grantable else "")
            )
        )


def _drop(cur: psycopg.Cursor, kind: str, signature: str) -> None:
    cur.execute(sql.SQL("DROP {} IF EXISTS {}").format(sql.SQL(kind), sql.SQL(signature)))


def _deploy_function(cur: psycopg.Cursor, f: FunctionFile, old_signature: str | None) -> None:
    """CREATE OR REPLACE one file; drop and recreate (keeping grants) when the
    signature or return type changed."""
    acl = None
    old = (
        old_signature
        and cur.execute("SELECT to_regprocedure(%s)::text", (old_signature,)).fetchone()[0]
    )
    new = cur.execute("SELECT to_regprocedure(%s)::text", (f.signature,)).fetchone()[0]
    if old and old != new:
        acl = _saved_acl(cur, old)
        _drop(cur, f.kind, old)
    cur.execute("SAVEPOINT pydeploy_function")
    try:
        cur.execute(f.text)
    except psycopg.errors.InvalidFunctionDefinition:
        # "cannot change return type of existing function" and friends.
        cur.execute("ROLLBACK TO SAVEPOINT pydeploy_function")
        acl = acl or _saved_acl(cur, f.signature)
        _drop(cur, f.kind, f.signature)
        cur.execute(f.text)
    cur.execute("RELEASE SAVEPOINT pydeploy_function")
    signature = cur.execute("SELECT to_regprocedure(%s)::text", (f.signature,)).fetchone()[0]
    if signature is None:
        raise DeployError(
            f"{f.path.name} did not create {f.signature}",
            "a file in pgsql/functions must create exactly the function it is named after",
        )
    if acl is not None:
        _restore_acl(cur, signature, acl)
    cur.execute(
        """
        INSERT INTO pydeploy.function_registry
               (file, signature, kind, file_sha256, definition_sha256, package_version)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (file) DO UPDATE SET
               signature = EXCLUDED.signature, kind = EXCLUDED.kind,
               file_sha256 = EXCLUDED.file_sha256,
               definition_sha256 = EXCLUDED.definition_sha256,
               package_version = EXCLUDED.package_version, applied_at = now()
        """,
        (f.stem, signature, f.kind, f.sha256, _definition_sha(cur, signature), package_version()),
    )


def _sync_functions(cur: psycopg.Cursor, sql_dir: Path) -> list[FunctionState]:
    files = read_function_files(sql_dir)
    by_stem = {f.stem: f for f in files}
    actions = [s for s in _function_states(cur, files) if s.action]
    kinds = dict(cur.execute("SELECT file, kind FROM pydeploy.function_registry").fetchall())
    for state in actions:
        if state.action == "drop":
            _drop(cur, kinds[state.file], state.signature)
            cur.execute("DELETE FROM pydeploy.function_registry WHERE file = %s", (state.file,))
            continue
        f = by_stem[state.file]
        old_signature = None if state.state == "new" else state.signature
        try:
            _deploy_function(cur, f, old_signature)
        except psycopg.Error as e:
            raise DeployError(f"{f.path.name}: {_pg_message(e)}") from e
    return actions


def apply(dsn: str | None, sql_dir: Path, *, dry_run: bool = False) -> ApplyResult:
    """Run pending migrations, then (re)deploy changed, new, drifted or removed functions.

    A reference database's legacy tables are first prepared for adoption online
    (see :mod:`pydeploy.adoption`); that preparation is undone if the rest fails.
    """
    read_function_files(sql_dir)  # refuse to start on a file that does not parse
    if dry_run:
        st = status(dsn, sql_dir)
        with connect(dsn) as conn:
            steps = adoption.plan(conn)
        actions = [f for f in st.functions if f.action]
        return ApplyResult(st.pending_migrations, actions, steps, dry_run=True)
    with (
        _exclusive(dsn) as side,
        adoption.prepared(side) as steps,
        _deploy_transaction(dsn) as (backend, cur),
    ):
        applied = set(_applied_migration_ids(cur))
        done = []
        for m in _read_migrations(sql_dir):
            if m.id not in applied:
                _run_migration(backend, cur, m, "apply")
                done.append(m.id)
        actions = _sync_functions(cur, sql_dir)
    return ApplyResult(done, actions, steps)


def rollback(dsn: str | None, sql_dir: Path) -> RollbackResult:
    """Roll back the most recently applied migration, then bring functions in line."""
    read_function_files(sql_dir)  # refuse to start on a file that does not parse
    with _exclusive(dsn), _deploy_transaction(dsn) as (backend, cur):
        applied = _applied_migration_ids(cur)
        migrations = {m.id: m for m in _read_migrations(sql_dir)}
        last = applied[-1] if applied else None
        if last is not None:
            if last not in migrations:
                raise DeployError(
                    f"the last applied migration {last} has no file in {migrations_dir(sql_dir)}",
                    "roll back with the package version that applied it",
                )
            _run_migration(backend, cur, migrations[last], "rollback")
        actions = _sync_functions(cur, sql_dir)
    return RollbackResult(last, actions)
