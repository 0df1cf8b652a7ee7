"""search.atomic: a file is replaced whole or left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.atomic import atomic_write


def test_writes_through_a_private_file_into_a_new_folder(tmp_path: Path) -> None:
    seen = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("new")

    out = atomic_write(tmp_path / "sub" / "f.csv", write)
    assert out.read_text() == "new" and seen[0] != out and seen[0].parent == out.parent
    assert sorted(p.name for p in out.parent.iterdir()) == ["f.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "f.md"
    out.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(out, broken)
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.md"]
