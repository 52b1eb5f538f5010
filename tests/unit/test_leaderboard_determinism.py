"""Publishing the same pairs again gives the same bytes, even when they were scored again on
another day: no published file carries a wall-clock fact unless asked (issue 19, item 11)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import bench.runner
import bench.stages
from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.leaderboard import build_leaderboard, write_leaderboard
from bench.leaderboard.plots import CREATOR, figure_bytes, interval_plot
from bench.metrics.base import BootstrapConfig
from bench.records import load_records
from bench.runner import RunConfig, run_plan

GOLDEN = Path(__file__).parents[1] / "golden" / "leaderboard" / "records"
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def _run(results: Path, cache: Path, day: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.stages, "now", lambda: f"{day}T08:30:00+00:00")
    monkeypatch.setattr(bench.runner, "now", lambda: f"{day}T08:30:00+00:00")
    cfg = RunConfig(
        results=results,
        cache=cache,
        limit=30,
        bootstrap=BootstrapConfig(resamples=100, seed=3),
        rescore=True,
    )
    run_plan(
        [parse_model_spec("baseline:majority"), parse_model_spec("baseline:tfidf-logreg")],
        [find_task("sentiment-en"), find_task("sentiment-zh")],
        cfg,
    )


def test_pairs_scored_again_on_another_day_publish_identical_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(tmp_path / "first", tmp_path / "cache.sqlite", "2031-05-17", monkeypatch)
    # A fresh clone: another results folder, scored again (from a copy of the cache) a year on.
    shutil.copy(tmp_path / "cache.sqlite", tmp_path / "cache2.sqlite")
    _run(tmp_path / "second", tmp_path / "cache2.sqlite", "2032-11-02", monkeypatch)
    first, second = load_records(tmp_path / "first"), load_records(tmp_path / "second")
    assert {r.finished_at[:10] for r in first} == {"2031-05-17"}
    assert {r.finished_at[:10] for r in second} == {"2032-11-02"}
    assert {r.run_id for r in first}.isdisjoint(r.run_id for r in second)

    a = write_leaderboard(build_leaderboard(tmp_path / "first"), tmp_path / "a", title="t")
    b = write_leaderboard(build_leaderboard(tmp_path / "second"), tmp_path / "b", title="t")
    assert [p.name for p in a] == [p.name for p in b] and len(a) == 6
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
        text = pa.read_text(encoding="utf-8")
        assert not DATE.search(text), f"{pa.name} has a date: {DATE.search(text)}"

    # Dates are opt-in, and then come from the records, never from the clock.
    dated = write_leaderboard(
        build_leaderboard(tmp_path / "first", dates=True), tmp_path / "dated", title="t"
    )
    by_name = {p.name: p.read_text(encoding="utf-8") for p in dated}
    assert "run of 2031-05-17" in by_name["README.md"]
    assert by_name["leaderboard.csv"].splitlines()[0].split(",")[-1] == "date"
    assert '"date": "2031-05-17"' in by_name["leaderboard.json"]
    assert "2031-05-17" in by_name["index.html"]
    assert set(DATE.findall("".join(by_name.values()))) == {"2031-05-17"}


def test_the_cli_takes_dates_from_the_records(tmp_path: Path) -> None:
    from bench.cli import main

    for flag, out in (([], tmp_path / "plain"), (["--dates"], tmp_path / "dated")):
        with pytest.raises(SystemExit) as info:
            main(["leaderboard", "--results", str(GOLDEN), "--out", str(out), *flag])
        assert info.value.code in (0, None)
    assert not DATE.search((tmp_path / "plain" / "README.md").read_text(encoding="utf-8"))
    dated = (tmp_path / "dated" / "README.md").read_text(encoding="utf-8")
    days = {r.finished_at[:10] for r in load_records(GOLDEN)}
    assert set(DATE.findall(dated)) == days


@pytest.mark.parametrize("fmt", ["svg", "pdf", "png"])
def test_figures_carry_no_date_and_a_fixed_creator(fmt: str) -> None:
    from matplotlib.figure import Figure

    def draw() -> bytes:
        fig = Figure(figsize=(2, 1))
        fig.add_subplot().plot([0, 1], [1, 0])
        return figure_bytes(fig, fmt, salt="s")

    one, two = draw(), draw()
    assert one == two
    assert CREATOR.encode() in one
    assert b"Matplotlib v" not in one and b"CreationDate" not in one
    assert not DATE.search(one.decode("latin-1"))


def test_the_report_plots_are_byte_identical() -> None:
    rows = [{"model": "a", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "best": True, "tied": True}]
    assert interval_plot(rows, xlabel="x", salt="k") == interval_plot(rows, xlabel="x", salt="k")
    assert "<dc:date>" not in interval_plot(rows, xlabel="x", salt="k")
