"""The leaderboard of prompted runs with several units (prompt variants × draws × samples).

Real run folders (record.json + samples.jsonl, one sample line per unit and example) are
written with :func:`bench.records.write_run` from units scored by the real metrics; the board is
built from the folders as ``bench leaderboard`` builds it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bench.leaderboard.build import SPREAD_FIELDS, build_leaderboard, protocol_summary
from bench.leaderboard.html import render_html
from bench.leaderboard.render import render_csv, render_markdown
from bench.leaderboard.schema import ROW_FIELDS
from bench.protocol import Unit
from bench.stats import compare_metric, load_run
from tests.unit.test_protocol_stats import grid, sentiment_case, write_sentiment_run

TASK = "stats-sentiment"
LOGLIK = {
    "variants": ["plain", "polite", "terse"],
    "fewshot": {"k": 2, "selector": "first", "draws": 1},
    "scoring": {"mode": "loglik", "normalization": "token"},
    "generation": {"n": 1},
}
GENERATE = {**LOGLIK, "scoring": {"mode": "generate", "extract": {"rule": "first"}}}


def board_of(tmp_path: Path, runs: list[tuple[str, list[Unit], dict | None, int]], n: int = 40):
    everything = list(dict.fromkeys(u for _, units, _, _ in runs for u in units))
    _, _, gold, _ = sentiment_case(n, everything, seed=0)
    for model, units, identity, seed in runs:
        _, _, gold_m, preds = sentiment_case(n, everything, seed=seed)
        # predictions relative to the shared gold labels: right where they were right
        same = {
            u: [
                p
                if gm == g
                else (None if p is None else ("positive" if p == "negative" else "negative"))
                for p, g, gm in zip(preds[u], gold, gold_m, strict=True)
            ]
            for u in units
        }
        write_sentiment_run(
            tmp_path / "results" / model / TASK, model, units, gold, same, identity=identity
        )
    return build_leaderboard(tmp_path / "results")


def test_multi_unit_runs_rank_by_the_mean_and_tie_by_the_two_level_test(tmp_path: Path) -> None:
    units = grid(("plain", "polite", "terse"), draws=1)
    board = board_of(tmp_path, [("A", units, LOGLIK, 1), ("B", units, LOGLIK, 2)])
    assert board.tasks == [TASK]  # one protocol: one column, the plain task name
    prim = board.long[board.long["primary"]].set_index("model")
    for model in ("A", "B"):
        record = load_run(tmp_path / "results" / model / TASK).record
        assert record.protocol is not None
        means = [u.metrics["accuracy"].value for u in record.protocol.units]
        assert prim.at[model, "value"] == pytest.approx(sum(means) / len(means))
        sp = record.protocol.spread["accuracy"]["variants"]
        assert prim.at[model, "spread_min"] == sp.min and prim.at[model, "spread_max"] == sp.max
    best = prim["value"].idxmax()
    other = "B" if best == "A" else "A"
    assert prim.at[best, "rank"] == 1 and prim.at[other, "rank"] == 2
    assert set(prim["tie_method"]) == {"paired-test"}
    comp = compare_metric(
        load_run(tmp_path / "results" / best / TASK),
        load_run(tmp_path / "results" / other / TASK),
        "accuracy",
        want_ci=False,
    )
    assert comp.method == "two-level-paired-bootstrap"
    tied = bool(prim.at[other, "tied_with_best"])
    assert tied == (comp.p_value >= 0.05)
    if tied:
        assert prim.at[other, "tie_p_value"] == pytest.approx(comp.p_value)

    # the spread is readable in every format
    sp = load_run(tmp_path / "results" / best / TASK).record.protocol.spread["accuracy"]["variants"]
    text = f"variants {sp.min:.4f}–{sp.max:.4f} (sd {sp.std:.4f})"
    assert text in render_markdown(board)
    assert text in render_html(board)
    rows = list(csv.DictReader(io.StringIO(render_csv(board))))
    assert list(rows[0]) == [*ROW_FIELDS, *SPREAD_FIELDS]
    row = next(r for r in rows if r["model"] == best and r["metric"] == "accuracy")
    assert row["spread_axis"] == "variants" and float(row["spread_min"]) == sp.min
    assert int(row["spread_n"]) == 3


def test_records_of_different_protocols_never_share_a_column(tmp_path: Path) -> None:
    units = grid(("plain", "polite", "terse"), draws=1)
    board = board_of(tmp_path, [("A", units, LOGLIK, 1), ("B", units, GENERATE, 2)])
    assert len(board.tasks) == 2
    labels = set(board.tasks)
    assert f"{TASK} [{protocol_summary(LOGLIK)}]" in labels
    assert f"{TASK} [{protocol_summary(GENERATE)}]" in labels
    assert set(board.long[board.long["primary"]]["tie_method"]) == {"single"}


def test_a_different_variant_set_or_draw_count_is_another_column(tmp_path: Path) -> None:
    two = {**LOGLIK, "variants": ["plain", "polite"]}
    draws = {**LOGLIK, "fewshot": {"k": 2, "selector": "first", "draws": 2}}
    board = board_of(
        tmp_path,
        [
            ("A", grid(("plain", "polite", "terse"), draws=1), LOGLIK, 1),
            ("B", grid(("plain", "polite"), draws=1), two, 2),
            ("C", grid(("plain", "polite", "terse"), draws=2), draws, 3),
        ],
    )
    assert len(board.tasks) == 3
    assert any("x2" in t for t in board.tasks) and any("2 variants" in t for t in board.tasks)


def test_one_unit_records_keep_the_board_as_it_was(tmp_path: Path) -> None:
    board = board_of(tmp_path, [("A", [Unit()], None, 1), ("B", [Unit()], None, 2)])
    assert board.tasks == [TASK]
    header = render_csv(board).splitlines()[0].split(",")
    assert header == list(ROW_FIELDS)
    md = render_markdown(board)
    assert "⟨" not in md and "spread" not in md
    assert set(board.long[board.long["primary"]]["tie_method"]) == {"paired-test"}
