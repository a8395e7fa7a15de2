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
        "prev page ordered by id only",
        "_gallery_page_rows.sql",
        (
            (
                "     ORDER BY CASE WHEN p_forward THEN NULL ELSE w.created_at END DESC,\n"
                "              CASE WHEN p_forward THEN NULL ELSE w.id END DESC\n$$",
                "     ORDER BY CASE WHEN p_forward THEN NULL ELSE w.id END DESC\n$$",
            ),
        ),
    ),
    Mutation(
        "order_first walks in id order",
        "_gallery_order_first.sql",
        (
            (
                "                                ELSE i.tag_nos && p_tag_nos END)\n"
                "         ORDER BY i.created_at DESC, i.id DESC\n"
                "         LIMIT p_limit) AS b\n"
                "      WHERE p_forward AND cardinality(p_others) > 0)",
                "                                ELSE i.tag_nos && p_tag_nos END)\n"
                "         ORDER BY i.id DESC, i.created_at DESC\n"
                "         LIMIT p_limit) AS b\n"
                "      WHERE p_forward AND cardinality(p_others) > 0)",
            ),
        ),
    ),
    Mutation(
        "keyset <= without excluding the cursor's own row",
        "_gallery_order_first.sql",
        (
            (
                "         WHERE (i.created_at, i.id) <= (p_after_at, p_after_id)\n"
                "           AND NOT (p_has_cursor",
                "         WHERE (i.created_at, i.id) <= (p_after_at, p_after_id)\n"
                "           AND NOT (false",
            ),
        ),
    ),
    Mutation(
        "tag_walk under all ignores the other tags",
        "_gallery_tag_walk.sql",
        (
            (
                "           AND i.tag_nos @> p_tag_nos\n"
                "           AND gallery._gallery_in_scope(i.source_type, i.creator_id,"
                " i.is_private,\n"
                "                                         p_own, p_others, p_viewer_id)\n"
                "         ORDER BY ct.created_at DESC",
                "           AND gallery._gallery_in_scope(i.source_type, i.creator_id,"
                " i.is_private,\n"
                "                                         p_own, p_others, p_viewer_id)\n"
                "         ORDER BY ct.created_at DESC",
            ),
        ),
    ),
    Mutation(
        "tag_merge ignores the tags past the two rarest",
        "_gallery_tag_merge.sql",
        (
            (
                "           AND i.tag_nos @> p_tag_nos\n"
                "           AND gallery._gallery_in_scope(i.source_type, i.creator_id,"
                " i.is_private,\n"
                "                                         p_own, p_others, p_viewer_id)\n"
                "         ORDER BY a.created_at DESC",
                "           AND gallery._gallery_in_scope(i.source_type, i.creator_id,"
                " i.is_private,\n"
                "                                         p_own, p_others, p_viewer_id)\n"
                "         ORDER BY a.created_at DESC",
            ),
        ),
    ),
    Mutation(
        "privacy check dropped",
        "_gallery_in_scope.sql",
        (("AND NOT p_is_private\n", "\n"),),
    ),
    Mutation(
        "cursor time truncated to milliseconds",
        "_gallery_page_rows.sql",
        (
            (
                "encode(timestamptz_send(s.created_at), 'hex')",
                "encode(timestamptz_send(date_trunc('milliseconds', s.created_at)), 'hex')",
            ),
        ),
    ),
    Mutation(
        "prev returns one row too many",
        "_gallery_page_rows.sql",
        (
            (
                "             LIMIT p_page_size) AS w",
                "             LIMIT p_page_size + CASE WHEN p_forward THEN 0 ELSE 1 END) AS w",
            ),
        ),
    ),
    Mutation(
        "has_more says no more on every page",
        "_gallery_page_rows.sql",
        (("           w.found > p_page_size", "           false"),),
    ),
    Mutation(
        "a cursor of another viewer accepted",
        "_gallery_request_row.sql",
        (
            (
                "concat_ws('|', p_filter_key, p_viewer_id)",
                "concat_ws('|', p_filter_key)",
            ),
        ),
    ),
    Mutation(
        "tag_walk's walks under any skip the scope check",
        "_gallery_tag_walk.sql",
        (
            (
                "                  AND gallery._gallery_in_scope(i.source_type, i.creator_id,"
                " i.is_private,\n"
                "                                                p_own, p_others, p_viewer_id)\n"
                "                ORDER BY ct.created_at DESC",
                "                ORDER BY ct.created_at DESC",
            ),
        ),
    ),
    Mutation(
        "tag_array treats any as all",
        "_gallery_tag_array.sql",
        (
            (
                "WHERE p_match = 'any' AND i.tag_nos && p_tag_nos",
                "WHERE p_match = 'any' AND i.tag_nos @> p_tag_nos",
            ),
        ),
    ),
    Mutation(
        "an unknown tag under all is ignored",
        "_gallery_tag_nos.sql",
        (("CASE WHEN p_match = 'all'", "CASE WHEN false"),),
    ),
    Mutation(
        "counts from the postings take private ones as public",
        "_gallery_count_postings.sql",
        (("WHERE ct.tag_id = v_tag AND NOT ct.is_private", "WHERE ct.tag_id = v_tag"),),
    ),
    Mutation(
        "a link takes its item's date but not its privacy",
        "content_tags_take_created_at.sql",
        (
            (
                "        SELECT i.created_at, i.is_private INTO NEW.created_at, NEW.is_private\n"
                "          FROM public.content_items i\n",
                "        SELECT i.created_at, false INTO NEW.created_at, NEW.is_private\n"
                "          FROM public.content_items i\n",
            ),
            (
                "        SELECT i.created_at, i.is_private INTO NEW.created_at, NEW.is_private\n"
                "          FROM public.content_items_auto i\n",
                "        SELECT i.created_at, false INTO NEW.created_at, NEW.is_private\n"
                "          FROM public.content_items_auto i\n",
            ),
        ),
    ),
    Mutation(
        "related_tags says exact when its link budget cut the matches",
        "related_tags.sql",
        (
            (
                "< $3 AND (SELECT count(*) FROM m) = (SELECT count(*) FROM r)",
                "< $3",
            ),
        ),
    ),
    Mutation(
        "telemetry not bounded by telemetry_max_rows",
        "gallery_page.sql",
        (
            (
                "% (SELECT c.telemetry_max_rows FROM public.gallery_config c)",
                "% 9223372036854775807",
            ),
        ),
    ),
    Mutation(
        "tag_array reads one match fewer than it must to know it is past the cap",
        "_gallery_tag_array.sql",
        (("LIMIT (SELECT cap.n FROM cap) + 1)", "LIMIT (SELECT cap.n FROM cap))"),),
    ),
    Mutation(
        "tag_array past its cap returns no page",
        "_gallery_tag_array.sql",
        (
            (
                "      WHERE (SELECT count(*) FROM c) > (SELECT cap.n FROM cap))",
                "      WHERE false)",
            ),
        ),
    ),
    Mutation(
        "telemetry waits for a transaction holding its slot",
        "gallery_page.sql",
        (("FOR UPDATE SKIP LOCKED);", "FOR UPDATE);"),),
    ),
    Mutation(
        "cursor signature not checked",
        "_gallery_cursor_read.sql",
        (("OR p.parts[5] IS DISTINCT FROM", "OR false AND p.parts[5] IS DISTINCT FROM"),),
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
