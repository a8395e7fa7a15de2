"""Upgrading a database from the previous release to the current SQL with ``pydeploy apply``.

The previous release is the ``pgsql/`` tree as of commit PREVIOUS_RELEASE. It is applied to a
fresh database, GALLERY_DATA_SQL is loaded, and a fixed set of gallery_page calls is recorded
(filters under 'all' and 'any', several source scopes, page 1, page 2 through page 1's cursor,
and the page before page 2 with direction 'prev'). Then the current SQL is applied over it and
the same calls must answer identically: the same ids in the same order, and the cursors handed
out before the upgrade keep working after it.

Should a release change the cursor format (the version field, ``g1`` today), cursors of the
previous release cannot keep working: they must then be refused with SQLSTATE 22023 and a HINT
(start from the first page), never answered with another page. The test checks whichever of
the two applies, from the version field of the cursors before and after.
"""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile
from pathlib import Path

import psycopg
import pytest

from pydeploy import api
from tests.conftest import GALLERY_DATA_SQL, REPO, SQL_DIR
from tests.test_gallery import ALL_SOURCES, COMMUNITY, PAGE_SQL, TAGS

PREVIOUS_RELEASE = "cef51db"
# the columns the previous release returns too (has_more came later)
RELEASED_PAGE_SQL = PAGE_SQL.replace("SELECT id, row_cursor, has_more", "SELECT id, row_cursor")
PAGE_SIZE = 7
VIEWER = 2
# name -> gallery_page filters (page size and direction aside)
CALLS: dict[str, dict[str, object]] = {
    "feed, anonymous": {"tags": [], "match": "all", "sources": COMMUNITY, "viewer": None},
    "one dense tag": {"tags": [TAGS[0]], "match": "all", "sources": ALL_SOURCES},
    "dense + middling, all": {"tags": [TAGS[0], TAGS[5]], "match": "all", "sources": ALL_SOURCES},
    "three tags, all": {"tags": [TAGS[1], TAGS[6], TAGS[11]], "match": "all"},
    "sparse and rare, any": {"tags": [TAGS[10], TAGS[11], TAGS[20]], "match": "any"},
    "own items + tag": {
        "tags": [TAGS[1]],
        "match": "all",
        "sources": ["user-regular", "user-auto"],
    },
    "community auto, any": {
        "tags": [TAGS[2], TAGS[15]],
        "match": "any",
        "sources": ["community-auto"],
        "viewer": None,
    },
}
PAGES = ("page 1", "page 2", "before page 2")


@pytest.fixture
def previous_release_sql(tmp_path: Path) -> Path:
    """The pgsql/ tree of the previous release, from the repository's history."""
    found = subprocess.run(
        [
            "git",
            "-C",
            str(REPO),
            "rev-parse",
            "--verify",
            "--quiet",
            f"{PREVIOUS_RELEASE}^{{commit}}",
        ],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(
            f"the repository has no commit {PREVIOUS_RELEASE} (the previous release), e.g. a "
            "shallow clone or a source archive: fetch the full history to run this test"
        )
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS_RELEASE, "pgsql"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "pgsql"


def call(conn: psycopg.Connection, filters: dict[str, object], **paging: object) -> list[tuple]:
    args = {
        "sources": ALL_SOURCES,
        "viewer": VIEWER,
        "cursor": None,
        "page_size": PAGE_SIZE,
        "direction": "next",
        "strategy": None,
        **filters,
        **paging,
    }
    return [(r[0], r[1]) for r in conn.execute(RELEASED_PAGE_SQL, args).fetchall()]


def record(conn: psycopg.Connection) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """Every call's pages as (id, row_cursor) rows."""
    pages = {}
    for name, filters in CALLS.items():
        first = call(conn, filters)
        second = call(conn, filters, cursor=first[-1][1])
        before = call(conn, filters, cursor=second[0][1], direction="prev")
        pages[name, "page 1"], pages[name, "page 2"], pages[name, "before page 2"] = (
            first,
            second,
            before,
        )
    return pages


def cursor_version(cursor: str) -> str:
    """g2 cursors are plain text (g2.<position>...); g1 ones were base64 of g1|..."""
    if cursor.startswith("g"):
        return cursor.split(".")[0]
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")[0]


def test_an_upgrade_from_the_previous_release_answers_every_call_as_before(
    blank_dsn: str, previous_release_sql: Path
) -> None:
    api.apply(blank_dsn, previous_release_sql)
    with psycopg.connect(blank_dsn, autocommit=True) as conn:
        conn.execute(GALLERY_DATA_SQL)
        before = record(conn)
    for (name, page), rows in before.items():
        assert len(rows) == PAGE_SIZE, f"{name}, {page}: the data must fill two pages"
        if page == "before page 2":
            assert rows == before[name, "page 1"], f"{name}: prev of page 2 is not page 1"

    upgraded = api.apply(blank_dsn, SQL_DIR)
    assert "gallery_page" in {f.file for f in upgraded.function_actions}
    assert api.status(blank_dsn, SQL_DIR).in_sync

    with psycopg.connect(blank_dsn, autocommit=True) as conn:
        after = record(conn)
        for (name, page), rows in before.items():
            assert [r[0] for r in after[name, page]] == [r[0] for r in rows], f"{name}, {page}"
        old, new = (
            cursor_version(pages["feed, anonymous", "page 1"][0][1]) for pages in (before, after)
        )
        for name, filters in CALLS.items():
            first, second = before[name, "page 1"], before[name, "page 2"]
            old_calls = {  # the calls that take a cursor issued before the upgrade
                "page 2": ({"cursor": first[-1][1]}, second),
                "before page 2": ({"cursor": second[0][1], "direction": "prev"}, first),
            }
            for page, (paging, expected) in old_calls.items():
                if old == new:  # the same format: the same pages, the same cursors
                    assert call(conn, filters, **paging) == expected, f"{name}, {page}"
                else:  # another format: refused with a hint, never answered
                    with pytest.raises(psycopg.errors.InvalidParameterValue) as refused:
                        call(conn, filters, **paging)
                    assert refused.value.diag.message_hint, f"{name}, {page}: no HINT"
        if old == new:
            assert after == before, "cursors of the same rows differ"
