"""Golden files: the Markdown and LaTeX tables of a fixed set of records.

The records under ``tests/golden/leaderboard/records`` are written by ``make_records.py`` beside
them (seeded, dated, with ``samples.jsonl`` so the tie test runs; the translation task has no
samples, so it shows the interval-overlap fallback). After an intended change of the output,
rewrite the golden files with ``BENCH_UPDATE_GOLDEN=1 pytest tests/unit/test_leaderboard_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.leaderboard import build_leaderboard
from bench.leaderboard.render import render_latex, render_markdown

GOLDEN = Path(__file__).parents[1] / "golden" / "leaderboard"
RECORDS = GOLDEN / "records"
TITLE = "golden | <fixture> & 50%"
COMMAND = "bench leaderboard --results tests/golden/leaderboard/records --out golden"


@pytest.fixture(scope="module")
def board():  # type: ignore[no-untyped-def]
    return build_leaderboard(RECORDS)


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("BENCH_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file; see the module docstring"


def test_markdown_matches_golden(board) -> None:  # type: ignore[no-untyped-def]
    _check("expected.md", render_markdown(board, title=TITLE, command=COMMAND))


def test_latex_matches_golden(board) -> None:  # type: ignore[no-untyped-def]
    _check("expected.tex", render_latex(board, title=TITLE, command=COMMAND))


def test_golden_records_exercise_what_the_tables_show(board) -> None:  # type: ignore[no-untyped-def]
    """The fixture is only useful if it holds ties, non-ties, a fallback and missing cells."""
    prim = board.long[board.long["primary"]]
    tied = prim["tied_with_best"].astype(bool)
    assert (tied & ~prim["best"]).sum() >= 3
    assert (~tied).sum() >= 2
    methods = {t: c.tie_method for t, c in board.columns.items()}
    assert methods == {
        "qa-zh": "paired-test",
        "sentiment-en": "paired-test",
        "summarization-en": "paired-test",
        "translation-en-zh": "ci-overlap",
    }
    assert board.main["complete"].sum() == 1 and len(board.main) == 5


def test_latex_escapes_every_special_character(board) -> None:  # type: ignore[no-untyped-def]
    tex = render_latex(board, title=TITLE, command=COMMAND)
    assert (
        r"tex \& md: 50\%\_\$x\$\textbar{}\textasciigrave{}y\textasciigrave{}\#"
        r"\textasciitilde{}\{\}" in tex
    )
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}" in tex
    assert "<script>" not in tex
    # booktabs rules, one table per task plus the main one
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 1 + len(board.tasks)
    # every row of every tabular has as many cells as its column spec
    for block in tex.split(r"\begin{tabular}{")[1:]:
        spec, body = block.split("}", 1)
        rows = [r for r in body.split(r"\end{tabular}")[0].split("\n") if r.endswith(r"\\")]
        for row in rows:
            cells = row[: -len(r"\\")].replace(r"\&", "").split("&")
            assert len(cells) == len(spec), row
