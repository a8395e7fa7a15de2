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

import dataclasses
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from yoyo import internalmigrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import Migration, default_migration_table, read_migrations, topological_sort

from pydeploy import adoption, health, postings, privileges
from pydeploy.db import connect
from pydeploy.errors import DeployError, PydeployError, Refused, UsageError, from_psycopg
from pydeploy.health import CacheSummary, HealthProblem
from pydeploy.privileges import DEFAULT_ROLES, Roles
from pydeploy.sources import (
    FunctionFile,
    check_sql_dir,
    migration_checksum,
    migrations_dir,
    read_function_files,
    sha256_text,
)

DISTRIBUTION = "pg-gallery"

# Called before each step of an apply: (what, steps done so far, steps planned).
StepCallback = Callable[[str, int, int], None]

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
        return version(DISTRIBUTION)
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "signature": self.signature,
            "state": self.state,
            "action": self.action,
        }


@dataclass
class Status:
    applied_migrations: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)
    edited_migrations: list[str] = field(default_factory=list)
    unknown_migrations: list[str] = field(default_factory=list)
    functions: list[FunctionState] = field(default_factory=list)
    health: list[HealthProblem] = field(default_factory=list)
    cache: CacheSummary | None = None

    @property
    def function_drift(self) -> list[FunctionState]:
        return [f for f in self.functions if f.state in ("drift", "missing")]

    @property
    def pending_functions(self) -> list[FunctionState]:
        return [f for f in self.functions if f.state in ("new", "changed", "orphaned")]

    @property
    def in_sync(self) -> bool:
        """Deploy state only: the database is what the package's files say."""
        return not (
            self.pending_migrations
            or self.edited_migrations
            or self.unknown_migrations
            or self.function_drift
            or self.pending_functions
        )

    @property
    def healthy(self) -> bool:
        """Operational health only (statistics, pg_cron jobs): see pydeploy.health."""
        return not self.health

    def as_dict(self) -> dict[str, Any]:
        return {
            "in_sync": self.in_sync,
            "healthy": self.healthy,
            "migrations": {
                "applied": self.applied_migrations,
                "pending": self.pending_migrations,
                "edited_after_apply": self.edited_migrations,
                "applied_without_file": self.unknown_migrations,
            },
            "functions": [f.as_dict() for f in self.functions],
            "health": [dataclasses.asdict(h) for h in self.health],
            "cache": dataclasses.asdict(self.cache) if self.cache else None,
        }


@dataclass
class ApplyResult:
    """What an apply did (or, with dry_run, would do)."""

    applied_migrations: list[str]
    function_actions: list[FunctionState]
    adoption_steps: list[str] = field(default_factory=list)
    online_steps: list[str] = field(default_factory=list)  # after the transaction (postings)
    dry_run: bool = False
    seconds: float = 0.0
    grants: bool = False  # roles created or grants put back in place (pydeploy.privileges)

    @property
    def changed(self) -> bool:
        return bool(
            self.applied_migrations
            or self.function_actions
            or self.adoption_steps
            or self.online_steps
            or self.grants
        )

    @property
    def dropped_functions(self) -> list[FunctionState]:
        return [f for f in self.function_actions if f.action == "drop"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "adoption_steps": self.adoption_steps,
            "online_steps": self.online_steps,
            "migrations": self.applied_migrations,
            "functions": [f.as_dict() for f in self.function_actions],
            "grants": self.grants,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class DataLoss:
    """Data a rollback destroys. ``kind``: ``table`` (a table and its rows), ``column``
    (a column's values in every row), ``rows`` (TRUNCATE), ``schema`` (everything in it)
    or ``unknown`` (a DO block: what it does cannot be listed)."""

    migration: str
    kind: str
    name: str
    rows: int | None = None
    rows_estimated: bool = False

    def __str__(self) -> str:
        if self.kind == "unknown":
            return f"{self.name}: whatever it drops (pydeploy cannot list it)"
        if self.kind == "schema":
            return f"schema {self.name} and everything in it"
        rows = (
            ""
            if self.rows is None
            else f" ({'~' if self.rows_estimated else ''}{self.rows:,} rows)"
        )
        what = {"table": "table", "column": "column", "rows": "every row of"}[self.kind]
        return f"{what} {self.name}{rows}"


@dataclass
class RollbackResult:
    """What a rollback did (or, with dry_run, would do): the migrations rolled back,
    newest first, their rollback SQL, the data it destroys, and the function changes."""

    rolled_back: list[str]
    function_actions: list[FunctionState] = field(default_factory=list)
    sql: dict[str, str] = field(default_factory=dict)
    data_loss: list[DataLoss] = field(default_factory=list)
    dry_run: bool = False
    target: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "to": self.target,
            "migrations": [
                {
                    "id": m,
                    "sql": self.sql.get(m, ""),
                    "data_loss": [
                        dataclasses.asdict(d) | {"description": str(d)}
                        for d in self.data_loss
                        if d.migration == m
                    ],
                }
                for m in self.rolled_back
            ],
            "functions": [f.as_dict() for f in self.function_actions],
        }


def _read_migrations(sql_dir: Path) -> list[Migration]:
    migrations = read_migrations(str(migrations_dir(sql_dir)))
    for m in migrations:
        m.load()
    return list(topological_sort(migrations))


def _applied_migration_ids(cur: psycopg.Cursor) -> list[str]:
    """Ids yoyo recorded as applied, oldest first ([] on a database yoyo never saw)."""
    if _scalar(cur, "SELECT to_regclass(%s)", (default_migration_table,)) is None:
        return []
    rows = cur.execute(
        sql.SQL("SELECT migration_id FROM {} ORDER BY applied_at_utc").format(
            sql.Identifier(default_migration_table)
        )
    ).fetchall()
    return [r[0] for r in rows]


def _scalar(cur: psycopg.Cursor, query: str | sql.Composed, params: Any = None) -> Any:
    """The first column of the first row, None when there is no row."""
    row = cur.execute(query, params).fetchone()
    return row[0] if row else None


def _registry_exists(cur: psycopg.Cursor) -> bool:
    return _scalar(cur, "SELECT to_regclass('pydeploy.function_registry')") is not None


def _canonical_signature(cur: psycopg.Cursor, f: FunctionFile) -> str:
    """``name(type,type)`` as PostgreSQL prints a regprocedure, for a function that may
    not exist yet (its types are then spelled as PostgreSQL would, where they exist)."""
    spelled = [
        _scalar(cur, "SELECT format_type(to_regtype(%s), NULL)", (t,)) for t in f.argument_types
    ]
    if all(spelled):  # (to_regprocedure raises for a type that does not exist yet)
        existing = _scalar(cur, "SELECT to_regprocedure(%s)::text", (f.signature,))
        if existing:
            return str(existing)
    types = (s or t for s, t in zip(spelled, f.argument_types, strict=True))
    return f"{f.qualified_name}({','.join(types)})"


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
            states.append(FunctionState(f.stem, _canonical_signature(cur, f), "new"))
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
        cache=health.cache_summary(cur),
    )


def status(dsn: str | None, sql_dir: Path) -> Status:
    check_sql_dir(sql_dir)
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            return _status(cur, sql_dir)
    except psycopg.Error as e:
        raise from_psycopg(e, "status") from e


def health_problems(dsn: str | None) -> list[HealthProblem]:
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            return health.problems(cur)
    except psycopg.Error as e:
        raise from_psycopg(e, "health") from e


# -- changing the database -------------------------------------------------------


class _YoyoBackend(PostgresqlPsycopgBackend):  # type: ignore[misc]  # yoyo is untyped
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
            # migrations create the application's tables in public, whatever the
            # deploying role's own search_path says (functions name their schema)
            cur.execute("SET LOCAL search_path = public")
            # yoyo's own tables, inside this transaction (yoyo would take its lock
            # table and commit); then tell yoyo they are current
            if internalmigrations.needs_upgrading(backend):
                internalmigrations.upgrade(backend)
            backend._internal_schema_updated = True
            if not _registry_exists(cur) or not _scalar(
                cur, "SELECT to_regclass('pydeploy.migration_registry')"
            ):
                cur.execute(REGISTRY_DDL)  # CREATE ... IF NOT EXISTS needs CREATE rights
            yield backend, cur
        except BaseException:
            if not conn.closed and not conn.broken:
                # the original error is what matters: a failing ROLLBACK must not hide it
                with suppress(psycopg.Error):
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
        cause = _first_server_error(e)
        raise DeployError(f"migration {m.id} ({direction}) failed: {_pg_message(cause)}") from e
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


def _first_server_error(e: psycopg.Error) -> psycopg.Error:
    """The error the server sent, when a later one ("the connection is closed", raised
    while yoyo cleans up) hides it in the exception chain."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, psycopg.Error) and seen.diag.sqlstate:
            return seen
        seen = seen.__context__ or seen.__cause__
    return e


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
    old = old_signature and _scalar(cur, "SELECT to_regprocedure(%s)::text", (old_signature,))
    new = _scalar(cur, "SELECT to_regprocedure(%s)::text", (f.signature,))
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
    signature = _scalar(cur, "SELECT to_regprocedure(%s)::text", (f.signature,))
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


def _sync_functions(
    cur: psycopg.Cursor,
    sql_dir: Path,
    allowed_drops: Collection[str] | None = None,
    on_function: Callable[[FunctionState], None] | None = None,
) -> list[FunctionState]:
    files = read_function_files(sql_dir)
    by_stem = {f.stem: f for f in files}
    actions = [s for s in _function_states(cur, files) if s.action]
    _check_drops(cur, actions, allowed_drops)
    kinds: dict[str, str] = dict(
        cur.execute("SELECT file, kind FROM pydeploy.function_registry").fetchall()
    )
    for state in actions:
        if on_function is not None:
            on_function(state)
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


def _check_drops(
    cur: psycopg.Cursor, actions: list[FunctionState], allowed_drops: Collection[str] | None
) -> None:
    """Never drop more than the caller agreed to; never every function unasked."""
    drops = {a.file for a in actions if a.action == "drop"}
    if not drops:
        return
    if allowed_drops is None:
        deployed = _scalar(cur, "SELECT count(*) FROM pydeploy.function_registry")
        if len(drops) == deployed and all(a.action == "drop" for a in actions):
            raise Refused(
                f"this would drop every function pydeploy deployed ({len(drops)}) and "
                "deploy none: is the SQL tree the right one?",
                "`pydeploy apply --dry-run` shows the plan; the CLI asks before dropping",
            )
        return
    unexpected = sorted(drops - set(allowed_drops))
    if unexpected:
        raise Refused(
            f"this would drop functions that were not in the plan: {', '.join(unexpected)}",
            "the database or the files changed since the plan: run the command again",
        )


def _guard(doing: str) -> Any:
    """Turn a database error escaping ``doing`` into its one-line PydeployError."""

    @contextmanager
    def guarded() -> Iterator[None]:
        try:
            yield
        except psycopg.Error as e:
            raise from_psycopg(e, doing) from e

    return guarded()


def plan_apply(dsn: str | None, sql_dir: Path, roles: Roles = DEFAULT_ROLES) -> ApplyResult:
    """What ``apply`` would do, read-only."""
    check_sql_dir(sql_dir)
    read_function_files(sql_dir)  # refuse to start on a file that does not parse
    st = status(dsn, sql_dir)
    with _guard("apply --dry-run"), connect(dsn) as conn:
        steps = adoption.plan(conn)
        online = postings.pending(conn)
        grants = not privileges.in_place(conn.cursor(), roles)
    actions = [f for f in st.functions if f.action]
    return ApplyResult(st.pending_migrations, actions, steps, online, dry_run=True, grants=grants)


def apply(
    dsn: str | None,
    sql_dir: Path,
    *,
    dry_run: bool = False,
    allowed_drops: Collection[str] | None = None,
    on_step: StepCallback | None = None,
    roles: Roles = DEFAULT_ROLES,
) -> ApplyResult:
    """Run pending migrations, then (re)deploy changed, new, drifted or removed functions,
    then put the roles and grants in place (:mod:`pydeploy.privileges`).

    A reference database's legacy tables are first prepared for adoption online
    (see :mod:`pydeploy.adoption`); that preparation is undone if the rest fails.
    With nothing to do, nothing is written (a role without CREATE rights, or a
    read-only session, gets "nothing to do"). ``allowed_drops``: the files whose
    functions may be dropped (None: any, but never every deployed function).
    """
    started = time.monotonic()
    plan = plan_apply(dsn, sql_dir, roles)
    if dry_run:
        plan.seconds = time.monotonic() - started
        return plan
    if not plan.changed:
        return ApplyResult([], [], [], seconds=time.monotonic() - started)
    total = (
        len(plan.applied_migrations)
        + len(plan.function_actions)
        + len(plan.adoption_steps)
        + len(plan.online_steps)
    )
    done_steps = 0

    def step(what: str) -> None:
        nonlocal done_steps
        if on_step is not None:
            on_step(what, done_steps, max(total, done_steps + 1))
        done_steps += 1

    with _guard("apply"), _exclusive(dsn) as side:
        with adoption.prepared(side) as steps, _deploy_transaction(dsn) as (backend, cur):
            done_steps += len(steps)
            applied = set(_applied_migration_ids(cur))
            done = []
            for m in _read_migrations(sql_dir):
                if m.id not in applied:
                    step(f"migration {m.id}")
                    _run_migration(backend, cur, m, "apply")
                    done.append(m.id)
            actions = _sync_functions(
                cur,
                sql_dir,
                allowed_drops,
                lambda f: step(f"{f.action} function {f.signature}"),
            )
            privileges.grant(cur, roles)
        online = postings.complete(side, step)
    if on_step is not None:
        on_step("done", total, total)
    return ApplyResult(
        done, actions, steps, online, seconds=time.monotonic() - started, grants=plan.grants
    )


# -- rollback ----------------------------------------------------------------------


def _resolve_target(applied: list[str], to: str) -> list[str]:
    """The applied migrations after ``to`` (an id or its unique prefix; 0: all), newest first."""
    if to in ("0", "base"):
        return list(reversed(applied))
    matches = [m for m in applied if m == to] or [m for m in applied if m.startswith(to)]
    if len(matches) != 1:
        known = ", ".join(applied) or "none"
        raise UsageError(
            f"--to {to}: {'ambiguous' if matches else 'not an applied migration'}",
            f"applied migrations: {known}; --to 0 rolls back all of them",
        )
    return list(reversed(applied[applied.index(matches[0]) + 1 :]))


def _rollback_sql(m: Migration) -> str:
    path = Path(m.path).with_suffix(".rollback.sql")
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _count_rows(cur: psycopg.Cursor, table: str) -> tuple[int | None, bool]:
    """(rows, estimated): exact for small tables, the planner's estimate for big ones."""
    oid = _scalar(cur, "SELECT to_regclass(%s)::oid", (table,))
    if oid is None:
        return None, False
    estimate = _scalar(
        cur,
        "SELECT CASE WHEN bool_or(c.reltuples < 0) FILTER (WHERE c.relkind = 'r') THEN NULL"
        "            ELSE sum(c.reltuples) FILTER (WHERE c.relkind = 'r')::bigint END"
        "  FROM pg_partition_tree(%s::regclass) t JOIN pg_class c ON c.oid = t.relid",
        (oid,),
    )
    if estimate is not None and estimate >= 100_000:
        return int(estimate), True
    count = _scalar(cur, sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(oid_text(cur, oid))))
    return int(count), False


def oid_text(cur: psycopg.Cursor, oid: int) -> str:
    return str(_scalar(cur, "SELECT %s::regclass::text", (oid,)))


def _data_loss(cur: psycopg.Cursor, migration: str, text: str) -> list[DataLoss]:
    """What the statements of a rollback script destroy, read with PostgreSQL's parser."""
    import pglast
    from pglast import ast
    from pglast.enums import AlterTableType, ObjectType

    losses: list[DataLoss] = []
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return [DataLoss(migration, "unknown", f"{migration}.rollback.sql (does not parse)")]

    def name_of(parts: Any) -> str:
        return ".".join(p.sval for p in parts)

    for raw in statements:
        stmt = raw.stmt
        if isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_TABLE:
            for obj in stmt.objects or ():
                table = name_of(obj)
                rows, estimated = _count_rows(cur, table)
                losses.append(DataLoss(migration, "table", table, rows, estimated))
        elif isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_SCHEMA:
            for obj in stmt.objects or ():
                losses.append(DataLoss(migration, "schema", obj.sval))
        elif isinstance(stmt, ast.AlterTableStmt) and stmt.relation is not None:
            relation = stmt.relation
            table = ".".join(n for n in (relation.schemaname, relation.relname) if n)
            for cmd in stmt.cmds or ():
                if cmd.subtype == AlterTableType.AT_DropColumn:
                    rows, estimated = _count_rows(cur, table)
                    losses.append(
                        DataLoss(migration, "column", f"{table}.{cmd.name}", rows, estimated)
                    )
        elif isinstance(stmt, ast.TruncateStmt):
            for rel in stmt.relations or ():
                table = ".".join(n for n in (rel.schemaname, rel.relname) if n)
                rows, estimated = _count_rows(cur, table)
                losses.append(DataLoss(migration, "rows", table, rows, estimated))
        elif isinstance(stmt, ast.DoStmt):
            losses.append(DataLoss(migration, "unknown", f"a DO block of {migration}"))
    return losses


def _rollback_targets(cur: psycopg.Cursor, sql_dir: Path, to: str | None) -> list[Migration]:
    applied = _applied_migration_ids(cur)
    ids = _resolve_target(applied, to) if to is not None else applied[-1:]
    migrations = {m.id: m for m in _read_migrations(sql_dir)}
    missing = [i for i in ids if i not in migrations]
    if missing:
        raise DeployError(
            f"applied migration {missing[0]} has no file in {migrations_dir(sql_dir)}",
            "roll back with the package version that applied it",
        )
    return [migrations[i] for i in ids]


def plan_rollback(dsn: str | None, sql_dir: Path, *, to: str | None = None) -> RollbackResult:
    """What ``rollback`` would do, read-only: the migrations, their SQL, the data lost."""
    check_sql_dir(sql_dir)
    read_function_files(sql_dir)
    with _guard("rollback --dry-run"), connect(dsn) as conn, conn.cursor() as cur:
        targets = _rollback_targets(cur, sql_dir, to)
        sql_texts = {m.id: _rollback_sql(m) for m in targets}
        losses = [loss for m in targets for loss in _data_loss(cur, m.id, sql_texts[m.id])]
        actions = (
            [f for f in _function_states(cur, read_function_files(sql_dir)) if f.action]
            if targets
            else []
        )
    return RollbackResult(
        [m.id for m in targets], actions, sql_texts, losses, dry_run=True, target=to
    )


def rollback(
    dsn: str | None,
    sql_dir: Path,
    *,
    to: str | None = None,
    dry_run: bool = False,
    expected: list[str] | None = None,
) -> RollbackResult:
    """Roll back the most recently applied migration (``to``: every one applied after that
    migration), then bring functions in line with the files, in one transaction.

    With nothing applied, nothing at all is done (functions are left alone).
    ``expected``: the migrations the caller agreed to roll back (from a plan); if the
    database changed since, nothing is done and :class:`Refused` is raised.
    """
    plan = plan_rollback(dsn, sql_dir, to=to)
    if dry_run or not plan.rolled_back:
        plan.dry_run = dry_run
        return plan
    with (
        _guard("rollback"),
        _exclusive(dsn),
        _deploy_transaction(dsn) as (backend, cur),
    ):
        targets = _rollback_targets(cur, sql_dir, to)
        ids = [m.id for m in targets]
        if expected is not None and ids != expected:
            raise Refused(
                f"the database changed since the plan: it would now roll back "
                f"{', '.join(ids) or 'nothing'}, not {', '.join(expected)}",
                "nothing was changed: run the command again to see the new plan",
            )
        for m in targets:
            _run_migration(backend, cur, m, "rollback")
        actions = _sync_functions(cur, sql_dir)
    return RollbackResult(ids, actions, plan.sql, plan.data_loss, dry_run=False, target=to)


__all__ = [
    "ApplyResult",
    "DataLoss",
    "FunctionState",
    "PydeployError",
    "RollbackResult",
    "Status",
    "apply",
    "plan_apply",
    "plan_rollback",
    "rollback",
    "status",
]
