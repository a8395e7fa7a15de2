"""The privilege model and the package's own schema: a role granted the reader role calls the
gallery and nothing else; the admin role plans, explains, refreshes and changes knobs; no
object another role puts in public changes what the functions do, whoever calls them."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from pydeploy import api
from pydeploy.privileges import Roles
from tests.conftest import SQL_DIR
from tests.test_gallery import COMMUNITY, TAGS, oracle


def login_as(dsn: str, role: str) -> psycopg.Connection:
    """A session of its own for ``role``, qualified calls only (no search_path set)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["user"] = role
    return psycopg.connect(**params, autocommit=True, row_factory=dict_row)


@pytest.fixture
def logins(gallery_dsn: str) -> Iterator[dict[str, str]]:
    """Login roles app_reader and app_admin, granted the package's reader and admin roles."""
    names = {"reader": "app_reader", "admin": "app_admin"}
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        for grant, login in names.items():
            c.execute(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login))
            )  # left by an earlier test of this cluster
            c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
            c.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(getattr(Roles(), grant)), sql.Identifier(login)
                )
            )
    try:
        yield names
    finally:
        with psycopg.connect(gallery_dsn, autocommit=True) as c:
            for login in names.values():
                c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(login)))
                c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))


def test_the_reader_calls_the_gallery_and_its_facets(
    gallery_dsn: str, logins: dict[str, str]
) -> None:
    with (
        login_as(gallery_dsn, logins["reader"]) as reader,
        psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as owner,
    ):
        rows = reader.execute(
            "SELECT id, row_cursor FROM gallery.gallery_page(ARRAY[%s]::uuid[], page_size => 5)",
            (TAGS[0],),
        ).fetchall()
        assert [r["id"] for r in rows] == oracle(owner, [TAGS[0]], "all", COMMUNITY, None)[:5]
        nxt = reader.execute(
            "SELECT id FROM gallery.gallery_page(ARRAY[%s]::uuid[], %s, 5)",
            (TAGS[0], rows[-1]["row_cursor"]),
        ).fetchall()
        assert len(nxt) == 5
        assert reader.execute("SELECT * FROM gallery.popular_tags(3)").fetchall()
        assert reader.execute("SELECT * FROM gallery.tag_search('tag', 3)").fetchall()
        assert reader.execute(
            "SELECT * FROM gallery.tag_counts(ARRAY[%s]::uuid[])", (TAGS[0],)
        ).fetchall()
        # counts, kept in the count memo by gallery_count as its owner
        truth = len(oracle(owner, [TAGS[0]], "all", COMMUNITY, None))
        for _ in range(2):
            counted = reader.execute(
                "SELECT * FROM gallery.gallery_count(ARRAY[%s]::uuid[])", (TAGS[0],)
            ).fetchone()
            assert (counted["items"], counted["exact"]) == (truth, True)
        assert owner.execute("SELECT count(*) AS n FROM gallery_count_memo").fetchone()["n"] == 1


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM content_items_all LIMIT 1",
        "SELECT * FROM content_tags LIMIT 1",
        "SELECT cursor_secret FROM gallery_config",
        "UPDATE gallery_config SET max_tags = 100",
        "SELECT * FROM gallery_telemetry LIMIT 1",
        "SELECT * FROM gallery_count_memo LIMIT 1",
        "SELECT * FROM gallery_plan_memo LIMIT 1",
        "SELECT * FROM gallery_page_cache LIMIT 1",
        "SELECT * FROM gallery.gallery_stats_refresh()",
        "SELECT * FROM gallery.gallery_plan(NULL)",
        "SELECT * FROM gallery.gallery_explain()",
        "SELECT gallery._gallery_scope_sql('{community-auto}')",
        "SELECT gallery._gallery_matches_sql('scan', 'all', '{community-auto}', true, false)",
        "SELECT * FROM gallery._gallery_choose_for(NULL, 'all', '{community-auto}', 25)",
        "SELECT * FROM gallery._gallery_request(NULL, NULL, 25, 'all', NULL, NULL, 'next', NULL)",
        "SELECT gallery._gallery_stats_sample()",
        "INSERT INTO content_tags VALUES (1, 'auto', '00000000-0000-0000-0000-000000000001')",
        "CREATE FUNCTION gallery.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_the_reader_can_do_nothing_else(
    gallery_dsn: str, logins: dict[str, str], statement: str
) -> None:
    with (
        login_as(gallery_dsn, logins["reader"]) as reader,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        reader.execute(statement)


def test_forcing_a_strategy_is_for_the_admin(gallery_dsn: str, logins: dict[str, str]) -> None:
    call = "SELECT id FROM gallery.gallery_page(ARRAY[%s]::uuid[], strategy => 'tag_walk')"
    with login_as(gallery_dsn, logins["reader"]) as reader:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            reader.execute(call, (TAGS[0],))
        assert "administrator" in refused.value.diag.message_primary
        assert refused.value.diag.message_hint
    with login_as(gallery_dsn, logins["admin"]) as admin:
        assert admin.execute(call, (TAGS[0],)).fetchall()
        assert admin.execute("SELECT * FROM gallery.gallery_stats_refresh()").fetchone()
        assert admin.execute("SELECT * FROM gallery.gallery_plan(NULL)").fetchone()
        assert admin.execute("SELECT * FROM gallery.gallery_explain()").fetchall()
        admin.execute("UPDATE gallery_config SET telemetry_sample_rate = 0.5")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            admin.execute("SELECT * FROM content_items_all LIMIT 1")


def test_public_may_execute_nothing_of_the_package(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        granted_to_public = c.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p"
            " WHERE p.pronamespace = 'gallery'::regnamespace"
            "   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
            "                                      WHERE a.grantee = 0))"
        ).fetchall()
        assert granted_to_public == []
        schema_writers = c.execute(
            "SELECT r.rolname FROM pg_roles r"
            " WHERE has_schema_privilege(r.oid, 'gallery', 'CREATE') AND NOT r.rolsuper"
        ).fetchall()
        assert schema_writers == []


@pytest.mark.parametrize(
    ("change", "in_place"),
    [
        (
            "REVOKE EXECUTE ON FUNCTION gallery.gallery_page(uuid[], text, integer, text, text[],"
            " bigint, text, text) FROM gallery_reader",
            "SELECT has_function_privilege('gallery_reader', 'gallery.gallery_page(uuid[], text,"
            " integer, text, text[], bigint, text, text)', 'EXECUTE')",
        ),
        (
            "REVOKE USAGE ON SCHEMA gallery FROM gallery_reader",
            "SELECT has_schema_privilege('gallery_reader', 'gallery', 'USAGE')",
        ),
        (
            "GRANT USAGE ON SCHEMA gallery TO PUBLIC",
            "SELECT NOT has_schema_privilege('public', 'gallery', 'USAGE')",
        ),
        (
            "REVOKE gallery_reader FROM gallery_admin",
            "SELECT pg_has_role('gallery_admin', 'gallery_reader', 'MEMBER')",
        ),
        (
            "REVOKE UPDATE ON gallery_config FROM gallery_admin",
            "SELECT has_table_privilege('gallery_admin', 'gallery_config', 'UPDATE')",
        ),
        (
            "REVOKE DELETE ON gallery_telemetry FROM gallery_admin",
            "SELECT has_table_privilege('gallery_admin', 'gallery_telemetry', 'DELETE')",
        ),
    ],
)
def test_apply_is_idempotent_and_puts_back_a_revoked_grant(
    gallery_dsn: str, change: str, in_place: str
) -> None:
    assert not api.apply(gallery_dsn, SQL_DIR).changed
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        c.execute(change)
        assert c.execute(in_place).fetchone() == (False,)
    plan = api.apply(gallery_dsn, SQL_DIR, dry_run=True)
    assert plan.grants and plan.changed
    assert api.apply(gallery_dsn, SQL_DIR).grants
    assert not api.apply(gallery_dsn, SQL_DIR).changed
    with psycopg.connect(gallery_dsn) as c:
        assert c.execute(in_place).fetchone() == (True,)


# Objects an untrusted role can create in public (a database it owns, or a cluster
# upgraded from PostgreSQL <= 14): each would be picked over the built-in it shadows
# by any function whose search_path reaches public, and run as that function's caller.
HIJACKS = [
    "CREATE FUNCTION public.array_position(uuid[], uuid) RETURNS integer LANGUAGE sql"
    " AS $$ INSERT INTO public.hijacked VALUES ('array_position') RETURNING 1 $$",
    "CREATE FUNCTION public.hijack_contained(text[], text[]) RETURNS boolean LANGUAGE sql"
    " AS $$ INSERT INTO public.hijacked VALUES ('<@') RETURNING true $$;"
    " CREATE OPERATOR public.<@ (LEFTARG = text[], RIGHTARG = text[],"
    "                            FUNCTION = public.hijack_contained)",
    "CREATE FUNCTION public.unnest(integer[]) RETURNS SETOF integer LANGUAGE sql"
    " AS $$ INSERT INTO public.hijacked VALUES ('unnest') RETURNING 1 $$",
    "CREATE FUNCTION public.cardinality(uuid[]) RETURNS integer LANGUAGE sql"
    " AS $$ INSERT INTO public.hijacked VALUES ('cardinality') RETURNING 1 $$",
]


def test_objects_planted_in_public_change_nothing(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        tags = [TAGS[0], TAGS[1]]
        before = c.execute(
            "SELECT id, row_cursor FROM gallery.gallery_page(%s::uuid[], viewer_id => 2)", (tags,)
        ).fetchall()
        c.execute("CREATE ROLE intruder")
        c.execute("GRANT CREATE ON SCHEMA public TO intruder")
        c.execute("CREATE TABLE public.hijacked (what text)")
        c.execute("GRANT INSERT ON public.hijacked TO intruder")
        c.execute("SET ROLE intruder")
        for planted in HIJACKS:
            c.execute(planted)
        c.execute("RESET ROLE")
        try:
            # the superuser calls every entry point, with public first on its own path
            c.execute("SET search_path = public, gallery")
            after = c.execute(
                "SELECT id, row_cursor FROM gallery.gallery_page(%s::uuid[], viewer_id => 2)",
                (tags,),
            ).fetchall()
            c.execute(
                "SELECT * FROM gallery.gallery_page(%s::uuid[], match => 'any',"
                " sources => '{community-auto}', strategy => 'tag_walk')",
                (tags,),
            ).fetchall()
            c.execute("SELECT * FROM gallery.gallery_stats_refresh()")
            c.execute("SELECT * FROM gallery.gallery_explain(%s::uuid[])", (tags,))
            c.execute("SELECT * FROM gallery.popular_tags(5)")
            c.execute(
                "INSERT INTO content_tags VALUES (3, 'items', %s) ON CONFLICT DO NOTHING",
                (TAGS[20],),
            )
            assert after == before
            assert c.execute("SELECT * FROM public.hijacked").fetchall() == []
        finally:
            c.execute("RESET search_path")
            c.execute("DROP OWNED BY intruder")
            c.execute("DROP ROLE intruder")
