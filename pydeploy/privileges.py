"""Who may call what: the reader and admin roles, and the grants ``apply`` keeps in place.

The package's functions live in schema ``gallery`` (migration 0010), owned by the role that
deploys. PUBLIC may execute none of them. The reader role may call the gallery and its
facets; the admin role may also plan, explain, refresh statistics, read or change the
knobs and read, clear or warm the page cache. Both roles are NOLOGIN: grant one to the
application's login role (``GRANT gallery_reader TO app``). The functions a role may call
run as their owner (SECURITY DEFINER), so the reader needs no right on any table: it
cannot read other users' private items, nor the cursor secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from pydeploy.errors import DeployError

SCHEMA = "gallery"
READER_FUNCTIONS = (
    "gallery_page",
    "gallery_count",
    "related_tags",
    "popular_tags",
    "tag_counts",
    "tag_search",
)
ADMIN_FUNCTIONS = (
    "gallery_plan",
    "gallery_explain",
    "gallery_stats_refresh",
    "gallery_cache_clear",
    "gallery_cache_warm",
)
ADMIN_TABLES = {
    "gallery_config": "SELECT, UPDATE",
    # DELETE: the nightly clean-up (schedule.py), run as the role that scheduled it
    "gallery_telemetry": "SELECT, DELETE",
    "gallery_telemetry_summary": "SELECT",
    "tag_cardinality_stats": "SELECT",
    "tag_pair_stats": "SELECT",
    "count_sample_bits": "SELECT",
    "gallery_cache_summary": "SELECT",
}


@dataclass(frozen=True)
class Roles:
    reader: str = "gallery_reader"
    admin: str = "gallery_admin"


DEFAULT_ROLES = Roles()


def _functions(cur: psycopg.Cursor, names: tuple[str, ...]) -> list[tuple[int, str]]:
    """The oids and signatures of the package's functions with these names (by oid, so
    that a role without USAGE on the schema may ask too)."""
    return [
        (int(r[0]), str(r[1]))
        for r in cur.execute(
            "SELECT p.oid, p.oid::regprocedure::text FROM pg_proc p"
            " WHERE p.pronamespace = to_regnamespace(%s) AND p.proname = ANY (%s)"
            " ORDER BY 2",
            (SCHEMA, list(names)),
        )
    ]


def in_place(cur: psycopg.Cursor, roles: Roles) -> bool:
    """Whether the roles exist, hold their grants, and PUBLIC may execute nothing."""
    if cur.execute("SELECT to_regnamespace(%s) IS NULL", (SCHEMA,)).fetchone() == (True,):
        return True  # nothing deployed yet: the first apply grants
    for role in (roles.reader, roles.admin):
        if cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            return False
    checks = [(roles.reader, f) for f in _functions(cur, READER_FUNCTIONS)]
    checks += [(roles.admin, f) for f in _functions(cur, ADMIN_FUNCTIONS)]
    for role, (oid, _) in checks:
        row = cur.execute(
            "SELECT has_function_privilege(%s, %s::oid, 'EXECUTE')", (role, oid)
        ).fetchone()
        if row != (True,):
            return False
    row = cur.execute(
        "SELECT pg_has_role(%s, %s, 'MEMBER') AND has_schema_privilege(%s, %s, 'USAGE')"
        "       AND NOT has_schema_privilege('public', %s, 'USAGE')",
        (roles.admin, roles.reader, roles.reader, SCHEMA, SCHEMA),
    ).fetchone()
    if row != (True,):
        return False
    for table, rights in ADMIN_TABLES.items():
        for right in rights.split(", "):  # (has_table_privilege: true if any one is held)
            row = cur.execute(
                "SELECT to_regclass(%s) IS NULL OR has_table_privilege(%s, to_regclass(%s), %s)",
                (f"public.{table}", roles.admin, f"public.{table}", right),
            ).fetchone()
            if row != (True,):
                return False
    row = cur.execute(
        "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a"
        " WHERE p.pronamespace = to_regnamespace(%s) AND a.grantee = 0"
        "   AND a.privilege_type = 'EXECUTE'",
        (SCHEMA,),
    ).fetchone()
    public_executes = row is not None and row[0] > 0
    row = cur.execute(
        "SELECT count(*) FROM pg_proc p"
        " WHERE p.pronamespace = to_regnamespace(%s) AND p.proacl IS NULL",
        (SCHEMA,),
    ).fetchone()
    default_acl = row is not None and row[0] > 0  # NULL: the default, PUBLIC may execute
    return not (public_executes or default_acl)


def grant(cur: psycopg.Cursor, roles: Roles) -> None:
    """Create the roles when missing and put every grant in place (idempotent); nothing
    for an SQL tree without the gallery schema."""
    if cur.execute("SELECT to_regnamespace(%s) IS NULL", (SCHEMA,)).fetchone() == (True,):
        return
    for role in (roles.reader, roles.admin):
        if cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            continue
        try:
            cur.execute("SAVEPOINT pydeploy_role")
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            cur.execute("RELEASE SAVEPOINT pydeploy_role")
        except psycopg.errors.InsufficientPrivilege as e:
            raise DeployError(
                f"cannot create role {role}: {e.diag.message_primary}",
                f"create it first (CREATE ROLE {role} NOLOGIN), deploy as a role with "
                "CREATEROLE, or name existing roles with --reader-role / --admin-role",
            ) from e
    reader, admin, schema = (
        sql.Identifier(roles.reader),
        sql.Identifier(roles.admin),
        sql.Identifier(SCHEMA),
    )
    statements = [
        sql.SQL("GRANT {} TO {}").format(reader, admin),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, reader),
        sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {} FROM PUBLIC").format(schema),
    ]
    statements += [
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(f), reader)
        for _, f in _functions(cur, READER_FUNCTIONS)
    ]
    statements += [
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(f), admin)
        for _, f in _functions(cur, ADMIN_FUNCTIONS)
    ]
    statements += [
        sql.SQL("GRANT {} ON {} TO {}").format(
            sql.SQL(rights), sql.Identifier("public", table), admin
        )
        for table, rights in ADMIN_TABLES.items()
        if cur.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone() != (None,)
    ]
    for statement in statements:
        cur.execute(statement)
