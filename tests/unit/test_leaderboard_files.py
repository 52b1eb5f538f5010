"""write_leaderboard writes exactly the files FILES lists: one list, not a second copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.leaderboard import build_leaderboard, render, write_leaderboard
from bench.leaderboard.render import FILES, FORMATS

GOLDEN = Path(__file__).parents[1] / "golden" / "leaderboard" / "records"


def test_every_format_writes_the_files_it_lists(tmp_path: Path) -> None:
    board = build_leaderboard(GOLDEN)
    paths = write_leaderboard(board, tmp_path, title="t", command="c")
    assert [p.name for p in paths] == [name for fmt in FORMATS for name in FILES[fmt]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert all(p.stat().st_size > 0 for p in paths)


def test_the_file_names_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(render.FILES, "csv", ("board.csv",))
    monkeypatch.setitem(render.FILES, "json", ("board.json", "board.schema.json"))
    board = build_leaderboard(GOLDEN)
    paths = write_leaderboard(board, tmp_path, formats=["csv", "json"], title="t", command="c")
    assert [p.name for p in paths] == ["board.csv", "board.json", "board.schema.json"]
    assert (tmp_path / "board.schema.json").read_text(encoding="utf-8").startswith("{")
