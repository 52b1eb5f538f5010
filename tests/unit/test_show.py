"""``bench show RUN_DIR --id ID``: one example's prompt, completion, parse and scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.runner import RunOutcome
from tests.unit.test_protocol_runner import (  # noqa: F401  (fixtures)
    VARIANTS,
    adapter_module,
    lines_of,
    run,
    sentiment_answers,
    task_with,
)


@pytest.fixture(scope="module")
def multi(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    request.getfixturevalue("adapter_module")  # the test adapter, importable
    task = task_with(prompts=VARIANTS, fewshot={"k": 1, "draws": 2, "selector": "random"})
    out = run(tmp_path_factory.mktemp("show"), task, limit=4)
    assert out.record_path is not None
    return out


def bench(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    got = capsys.readouterr()
    return code, got.out, got.err


def test_show_prints_every_unit_within_80_columns(
    multi: RunOutcome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert multi.record_path is not None
    folder = multi.record_path.parent
    first = lines_of(multi)[0]
    code, out, _ = bench(["show", str(folder), "--id", first.id], capsys)
    assert code == 0
    for key in ("plain/d0/s0", "plain/d1/s0", "ask/d0/s0", "ask/d1/s0"):
        assert f"example {first.id} · unit {key}" in out
    assert out.count("prompt:") == 4 and out.count("completion:") == 4
    assert "Is this review positive or negative?" in out  # the "ask" variant's prompt
    assert f"reference:\n  {first.reference}" in out
    assert "accuracy:" in out or "correct:" in out or "scores:" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    prompt = (first.response or {})["transcript"]["prompt"]
    # The prompt's words all appear (wrapped, never cut).
    shown = out.split("completion:")[0].split("prompt:")[1]
    assert " ".join(prompt.split()) == " ".join(shown.split())


def test_show_one_unit_and_json(multi: RunOutcome, capsys: pytest.CaptureFixture[str]) -> None:
    assert multi.record_path is not None
    folder = multi.record_path.parent
    lines = [line for line in lines_of(multi) if line.unit == "ask/d1/s0"]
    code, out, _ = bench(["show", str(folder), "--id", lines[1].id, "--unit", "ask/d1/s0"], capsys)
    assert code == 0 and out.count("example ") == 1 and "unit ask/d1/s0" in out
    assert f"shots:\n  {', '.join(lines[1].shots or [])}" in out
    code, out, _ = bench(["show", str(folder), "--id", lines[1].id, "--json"], capsys)
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(rows) == 4
    assert rows[3] == json.loads(lines[1].to_json())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--id", "no-such-id"], "no example with id 'no-such-id'"),
        (["--unit", "zz/d0/s0"], "has no unit 'zz/d0/s0' (units: plain/d0/s0"),
    ],
)
def test_show_names_an_unknown_id_or_unit(
    multi: RunOutcome, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert multi.record_path is not None
    folder = multi.record_path.parent
    args = ["show", str(folder), "--id", lines_of(multi)[0].id, *extra]
    code, _, err = bench(args, capsys)
    assert code == 2 and message in err and "fix:" in err


def test_show_refuses_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = bench(["show", str(tmp_path), "--id", "x"], capsys)
    assert code == 2 and "not a run folder" in err
