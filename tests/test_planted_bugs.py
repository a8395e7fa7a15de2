"""The planted bugs of ``./dev mutate`` (tests/mutations) still apply to the SQL as it is:
each edit's text is found exactly once. (Running them is ``./dev mutate``'s job, not CI's;
this keeps them from going stale when the SQL they edit changes.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutations.__main__ import MUTATIONS, Mutation, mutated_copy


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_a_planted_bug_still_applies(mutation: Mutation, tmp_path: Path) -> None:
    mutated_copy(mutation, tmp_path / "pgsql")
    original = (Path(__file__).parents[1] / "pgsql" / "functions" / mutation.file).read_text()
    assert (tmp_path / "pgsql" / "functions" / mutation.file).read_text() != original
