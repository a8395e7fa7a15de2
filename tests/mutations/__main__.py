"""Planted bugs the gallery suite must catch: ``./dev mutate`` (not run by CI; ~10-30 min).

Each mutation edits a copy of ``pgsql/`` (every edit must match exactly once, so a mutation
that no longer applies is reported, never silently skipped), runs the gallery tests against
that copy (conftest.py reads ``GALLERY_SQL_DIR``) and reports whether they failed. The
unmutated copy runs first and must pass. Exit status 1 unless every mutation is caught.

    python -m tests.mutations [NAME ...]   # all, or only the named ones
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE = ["tests/test_gallery.py", "tests/test_concurrency.py"]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # under pgsql/functions
    edits: tuple[tuple[str, str], ...]  # (text, replacement), each text found exactly once


MUTATIONS = [
    Mutation(
        "page ordered by id only",
        "gallery_page.sql",
        ((" ORDER BY s.item_created_at DESC, s.item_id DESC'", " ORDER BY s.item_id DESC'"),),
    ),
    Mutation(
        "order_first walks in id order",
        "_gallery_order_first_sql.sql",
        (("' ORDER BY i.created_at %s, i.id %s'", "' ORDER BY i.id %s, i.id %s'"),),
    ),
    Mutation(
        "keyset <= instead of <",
        "_gallery_keyset_sql.sql",
        (("'(i.created_at, i.id) < ($2, $3)'", "'(i.created_at, i.id) <= ($2, $3)'"),),
    ),
    Mutation(
        "self_join ignores the third and later tags",
        "_gallery_self_join_sql.sql",
        (("generate_series(2, p_k)", "generate_series(2, least(p_k, 2))"),),
    ),
    Mutation(
        "privacy check dropped for community-regular",
        "_gallery_scope_sql.sql",
        (
            (
                "THEN '(i.creator_id = $1 OR NOT i.is_private)'",
                "THEN CASE WHEN v.src = 'items' THEN 'true'"
                " ELSE '(i.creator_id = $1 OR NOT i.is_private)' END",
            ),
            (
                "THEN '(i.creator_id IS DISTINCT FROM $1 AND NOT i.is_private)'",
                "THEN CASE WHEN v.src = 'items' THEN 'i.creator_id IS DISTINCT FROM $1'"
                " ELSE '(i.creator_id IS DISTINCT FROM $1 AND NOT i.is_private)' END",
            ),
        ),
    ),
    Mutation(
        "cursor time truncated to milliseconds",
        "gallery_page.sql",
        (
            (
                "THEN trunc(extract(epoch FROM i.created_at'",
                "THEN trunc(extract(epoch FROM date_trunc(''milliseconds'', i.created_at)'",
            ),
        ),
    ),
    Mutation(
        "prev returns one row too many",
        "gallery_page.sql",
        (("' WHERE s.n <= $10'", "' WHERE s.n <= $10 + (''%1$s'' = ''ASC'')::int'"),),
    ),
    Mutation(
        "has_more says no more on every page",
        "gallery_page.sql",
        (("'       s.found > $10'", "'       false'"),),
    ),
    Mutation(
        "a cursor of another viewer accepted",
        "_gallery_request.sql",
        (
            (
                "p_match, array_to_string(sources, ','), p_viewer_id)",
                "p_match, array_to_string(sources, ','))",
            ),
        ),
    ),
    Mutation(
        "tag-first strategies' row lookup skips the scope check",
        "_gallery_tag_first_page_sql.sql",
        (
            (
                "p_matches_sql, _gallery_scope_sql(p_sources), v_keyset.keyset_predicate",
                "p_matches_sql, 'true', v_keyset.keyset_predicate",
            ),
        ),
    ),
    Mutation(
        "tag_array treats any as all",
        "_gallery_tag_array_sql.sql",
        (("THEN 'i.tag_nos && $7'", "THEN 'i.tag_nos @> $7'"),),
    ),
    Mutation(
        "an unknown tag under all is ignored",
        "_gallery_tag_nos.sql",
        (("CASE WHEN p_match = 'all'", "CASE WHEN false"),),
    ),
    Mutation(
        "cursor signature not checked",
        "_gallery_cursor_read.sql",
        (("OR v_parts[5] IS DISTINCT FROM", "OR false AND v_parts[5] IS DISTINCT FROM"),),
    ),
]


def mutated_copy(mutation: Mutation | None, into: Path) -> None:
    shutil.copytree(REPO / "pgsql", into)
    if mutation is None:
        return
    path = into / "functions" / mutation.file
    text = path.read_text()
    for old, new in mutation.edits:
        if text.count(old) != 1:
            raise SystemExit(
                f"mutation {mutation.name!r} no longer applies: {old!r} is in "
                f"{mutation.file} {text.count(old)} times (must be once)"
            )
        text = text.replace(old, new)
    path.write_text(text)


def run_suite(sql_dir: Path) -> tuple[int, str | None, str]:
    """pytest's exit status, the first failing test (None when no test failed: an error
    elsewhere, or a pass) and pytest's last line, stopping at the first failure."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rf", *SUITE],
        cwd=REPO,
        env={**os.environ, "GALLERY_SQL_DIR": str(sql_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    failed = re.search(r"^FAILED (\S+)", out.stdout, re.MULTILINE)
    last = (out.stdout.strip().splitlines() or [out.stderr.strip()])[-1]
    return out.returncode, failed.group(1) if failed else None, last


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    for mutation in chosen:  # all of them must apply before anything runs
        with tempfile.TemporaryDirectory() as tmp:
            mutated_copy(mutation, Path(tmp) / "pgsql")
    caught = 0
    for mutation in [None, *chosen]:
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            mutated_copy(mutation, Path(tmp) / "pgsql")
            status, failed, last = run_suite(Path(tmp) / "pgsql")
        seconds = time.monotonic() - started
        if mutation is None:
            if status != 0:
                print(f"the unmutated suite does not pass ({failed or last}): fix that first")
                return 1
            print(f"unmutated: suite passes ({seconds:.0f} s)")
            continue
        verdict = "SURVIVED" if status == 0 else "caught" if failed else f"error {status}"
        caught += verdict == "caught"
        print(f"{verdict:8} {mutation.name} ({seconds:.0f} s): {failed or last}", flush=True)
    print(f"{caught} of {len(chosen)} planted bugs caught")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
