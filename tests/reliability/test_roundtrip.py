"""Nothing bench writes is lost or read back wrong, table-driven.

* Every JSONL file bench writes and reads round-trips any Unicode string: a text holding a
  character :meth:`str.splitlines` takes for a line break (U+2028, U+2029, U+0085, FF, VT, FS,
  GS, RS) stays one line, and is read back as written: by ``samples.jsonl`` (writer and
  reader), the predictions-file reader, and end to end (``bench run``, ``bench score RUN_DIR``
  and ``--check-determinism`` agree on such data). FF, VT, FS, GS and RS are escaped by JSON
  itself, so their cases guard against a regression; U+2028, U+2029 and U+0085 broke today.
* Results folders are injective: distinct display names (non-ASCII, differing only in
  punctuation, predictions files with the same stem) get distinct folders, and a collision is
  refused before anything is written.
* A ``--limit`` run writes beside the full record of the same model and task, never over it,
  and the leaderboard of a results folder holding both builds, with the limited record in a
  column of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from bench.adapters.predictions import load_predictions
from bench.cli import app
from bench.data import BUILTIN_ROOT
from bench.errors import BenchError, ResultsError
from bench.folders import folder_name
from bench.leaderboard import build_leaderboard
from bench.records import RunRecord, SampleLine, jsonl_lines, read_samples, write_run
from tests.reliability.cases import Case, Outcome, raises_exactly

SEPARATORS = {
    "U+2028": "\u2028",
    "U+2029": "\u2029",
    "U+0085": "\u0085",
    "FF": "\x0c",
    "VT": "\x0b",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
}


def cli(*args: str) -> Any:
    """``bench ARGS`` in this process (exit code, or ``None`` for 0)."""
    return get_command(app).main(list(args), standalone_mode=False)


# --------------------------------------------------------------------------- item 5: JSONL


def a_record(tmp: Path) -> RunRecord:
    """A real record (``bench score`` of a tiny predictions file), read back."""
    ids = [json.loads(line)["id"] for _, line in jsonl_lines(SENTIMENT_TEST.read_text())][:4]
    preds = tmp / "p.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": i, "prediction": "positive"}) + "\n" for i in ids),
        encoding="utf-8",
    )
    cli(
        "score", "--task", "sentiment-en", "--predictions", str(preds), "--limit", "4",
        "--bootstrap", "0", "--results", str(tmp / "r"),
    )  # fmt: skip
    path = next((tmp / "r").rglob("record.json"))
    return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))


SENTIMENT_TEST = BUILTIN_ROOT / "smoke" / "sentiment-en" / "test.jsonl"


def samples_roundtrip(sep: str) -> Callable[[Path], Any]:
    """Write samples whose input, prediction and reference hold ``sep``; read them back."""

    def run(tmp: Path) -> Any:
        record = a_record(tmp)
        text = f"before{sep}after"
        lines = [
            SampleLine(
                id=f"x{k}",
                input={"text": text},
                prediction=text,
                response={"text": text},
                reference=[text],
                run_id=record.run_id,
            )
            for k in range(3)
        ]
        folder = tmp / "out"
        write_run(folder, record, lines)
        raw = (folder / "samples.jsonl").read_text(encoding="utf-8")
        back = read_samples(folder / "samples.jsonl", record)
        return {
            "lines for any reader": len(raw.splitlines()),
            "read back": [(s.prediction, s.input, s.response, s.reference) for s in back],
        }

    return run


def samples_expected(sep: str) -> dict[str, Any]:
    text = f"before{sep}after"
    return {
        "lines for any reader": 3,
        "read back": [(text, {"text": text}, {"text": text}, [text])] * 3,
    }


def predictions_roundtrip(sep: str) -> Callable[[Path], Any]:
    """A predictions JSONL file (written as json.dumps writes, UTF-8 kept) read back."""

    def run(tmp: Path) -> Any:
        path = tmp / "preds.jsonl"
        rows = [{"id": f"q{k}", "prediction": f"answer{sep}{k}"} for k in range(3)]
        rows.append({"id": "bad", "prediction": 1})
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:3])
        path.write_text(text + "{oops\n", encoding="utf-8")
        try:
            load_predictions(path)
        except BenchError as exc:
            where = str(exc).split(": ")[1]  # the line the error names
        path.write_text(text, encoding="utf-8")
        got = load_predictions(path)
        return {"entries": {k: e.value for k, e in got.entries.items()}, "error at": where}

    return run


def predictions_expected(sep: str) -> dict[str, Any]:
    return {"entries": {f"q{k}": f"answer{sep}{k}" for k in range(3)}, "error at": "line 4"}


# --------------------------------------------------------------------------- item 12: folders


def two_runs(*names: str) -> Callable[[Path], Any]:
    """Run the majority baseline under each display name; the folders their records land in."""

    def run(tmp: Path) -> Any:
        for name in names:
            cli(
                "run", "-m", f"baseline:majority,name={name}", "-t", "sentiment-en",
                "--limit", "4", "--bootstrap", "0", "--no-cache", "--results", str(tmp / "r"),
            )  # fmt: skip
        found = {}
        for path in sorted((tmp / "r").rglob("record.json")):
            found[json.loads(path.read_text(encoding="utf-8"))["model"]["name"]] = path.parent
        return {
            "records": sorted(found),
            "distinct folders": len({p.parent for p in found.values()}),
            "folders kept their letters": all(
                any(ch.isalpha() and not ch.isascii() for ch in p.parent.name)
                for name, p in found.items()
                if any(ch.isalpha() and not ch.isascii() for ch in name)
            ),
        }

    return run


def same_stem(tmp: Path) -> Any:
    """Two predictions files named alike in two folders, in one run."""
    ids = [json.loads(line)["id"] for _, line in jsonl_lines(SENTIMENT_TEST.read_text())][:6]
    for sub, label in (("a", "positive"), ("b", "negative")):
        (tmp / sub).mkdir()
        (tmp / sub / "out.jsonl").write_text(
            "".join(json.dumps({"id": i, "prediction": label}) + "\n" for i in ids),
            encoding="utf-8",
        )
    cli(
        "run", "-m", f"predictions:{tmp / 'a' / 'out.jsonl'}",
        "-m", f"predictions:{tmp / 'b' / 'out.jsonl'}", "-t", "sentiment-en", "--limit", "6",
        "--bootstrap", "0", "--no-cache", "--results", str(tmp / "r"),
    )  # fmt: skip
    records = [json.loads(p.read_text()) for p in sorted((tmp / "r").rglob("record.json"))]
    return {
        "records": len(records),
        "names distinct": len({r["model"]["name"] for r in records}),
        # One file says positive, the other negative everywhere: their accuracies add to 1.
        "accuracies add up": round(sum(r["metrics"]["accuracy"]["value"] for r in records), 9),
    }


def collide(*models: str) -> Callable[[Path], Any]:
    """One run of ``models``, which must be refused with nothing written."""

    def run(tmp: Path) -> Any:
        try:
            cli(
                "run", *(x for m in models for x in ("-m", m)), "-t", "sentiment-en",
                "--limit", "4", "--bootstrap", "0", "--no-cache", "--results", str(tmp / "r"),
            )  # fmt: skip
        finally:
            assert not list((tmp / "r").rglob("record.json")), "a record was written"

    return run


def owned_by_another(tmp: Path) -> Any:
    """A folder holding another model's record (same folder name) is refused, kept intact."""
    cli(
        "run", "-m", "baseline:majority,name=baseline-tfidf-logreg", "-t", "sentiment-en",
        "--limit", "4", "--bootstrap", "0", "--no-cache", "--results", str(tmp / "r"),
    )  # fmt: skip
    record = tmp / "r" / "baseline-tfidf-logreg" / "sentiment-en" / "record.json"
    before = record.read_bytes()
    try:
        cli(
            "run", "-m", "baseline:tfidf-logreg", "-t", "sentiment-en", "--limit", "4",
            "--bootstrap", "0", "--no-cache", "--results", str(tmp / "r"),
        )  # fmt: skip
    finally:
        assert record.read_bytes() == before, "the other model's record was overwritten"


# --------------------------------------------------------------------------- item 13: --limit


def runs_then_board(*limits: int | None) -> Callable[[Path], Any]:
    """Run the majority baseline with each limit in turn; records, and the leaderboard."""

    def run(tmp: Path) -> Any:
        first: bytes | None = None
        for limit in limits:
            extra = ["--limit", str(limit)] if limit is not None else []
            cli(
                "run", "-m", "baseline:majority", "-m", "baseline:tfidf-logreg",
                "-t", "sentiment-en", *extra, "--bootstrap", "0", "--results", str(tmp / "r"),
                "--cache", str(tmp / "c.sqlite"),
            )  # fmt: skip
            full = tmp / "r" / "baseline-majority" / "sentiment-en" / "record.json"
            if first is None:
                first = full.read_bytes()
        records = {}
        for path in sorted((tmp / "r").rglob("record.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            rel = path.parent.relative_to(tmp / "r")
            records[str(rel)] = (data["task"]["n_examples"], data["task"]["limit"])
        board = build_leaderboard(tmp / "r")
        return {
            "records": records,
            "first record kept": full.read_bytes() == first,
            "columns": sorted(board.tasks),
        }

    return run


OUTCOMES = [
    *(
        Outcome(f"samples-{name}", samples_roundtrip(sep), samples_expected(sep))
        for name, sep in SEPARATORS.items()
    ),
    *(
        Outcome(f"predictions-{name}", predictions_roundtrip(sep), predictions_expected(sep))
        for name, sep in SEPARATORS.items()
    ),
    Outcome(
        "folders-non-ascii",
        two_runs("模型甲", "模型乙", "модель"),
        {
            "records": ["модель", "模型乙", "模型甲"],
            "distinct folders": 3,
            "folders kept their letters": True,
        },
    ),
    Outcome(
        "folders-punctuation",
        two_runs("gpt [ours]", "gpt (ours)", "gpt ours", "gpt/ours"),
        {
            "records": ["gpt (ours)", "gpt [ours]", "gpt ours", "gpt/ours"],
            "distinct folders": 4,
            "folders kept their letters": True,
        },
    ),
    Outcome(
        "folders-emoji-only",
        two_runs("😀", "😎"),
        {"records": ["😀", "😎"], "distinct folders": 2, "folders kept their letters": True},
    ),
    Outcome(
        "folders-same-stem-predictions",
        same_stem,
        {"records": 2, "names distinct": 2, "accuracies add up": 1.0},
    ),
    Outcome(
        "limit-after-full",
        runs_then_board(None, 20),
        {
            "records": {
                "baseline-majority/sentiment-en": (160, None),
                "baseline-majority/sentiment-en@limit-20": (20, 20),
                "baseline-tfidf-logreg/sentiment-en": (160, None),
                "baseline-tfidf-logreg/sentiment-en@limit-20": (20, 20),
            },
            "first record kept": True,
            "columns": ["sentiment-en [full]", "sentiment-en [limit 20]"],
        },
    ),
    Outcome(
        "full-after-limit",
        runs_then_board(20, None),
        {
            "records": {
                "baseline-majority/sentiment-en": (160, None),
                "baseline-tfidf-logreg/sentiment-en": (160, None),
            },
            "first record kept": False,  # a full run replaces a limited one
            "columns": ["sentiment-en"],
        },
    ),
    Outcome(
        "limit-beyond-the-test-set-is-full",
        runs_then_board(None, 1000),
        {
            "records": {
                "baseline-majority/sentiment-en": (160, None),
                "baseline-tfidf-logreg/sentiment-en": (160, None),
            },
            "first record kept": False,  # the same full run again
            "columns": ["sentiment-en"],
        },
    ),
]

CASES = [
    Case(
        "collision-same-name-two-models",
        collide("baseline:majority,name=x", "baseline:tfidf-logreg,name=x"),
        ResultsError,
        ("two models are named 'x'", "baseline:majority,name=x", "baseline:tfidf-logreg,name=x"),
    ),
    Case(
        "collision-separator-vs-dash",
        collide("baseline:majority,name=baseline-tfidf-logreg", "baseline:tfidf-logreg"),
        ResultsError,
        ("'baseline-tfidf-logreg' and 'baseline:tfidf-logreg'", "same folder", "name="),
    ),
    Case(
        "collision-existing-folder-of-another-model",
        owned_by_another,
        ResultsError,
        (
            "baseline-tfidf-logreg/sentiment-en holds the record of model "
            "'baseline-tfidf-logreg', not 'baseline:tfidf-logreg'",
        ),
    ),
]


def test_there_are_enough_cases() -> None:
    assert len(OUTCOMES) + len(CASES) >= 25
    assert len({c.id for c in [*OUTCOMES, *CASES]}) == len(OUTCOMES) + len(CASES)


@pytest.mark.parametrize("case", OUTCOMES, ids=[c.id for c in OUTCOMES])
def test_outcome(case: Outcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    assert case.run(tmp_path) == case.expect


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    raises_exactly(case, tmp_path)


def test_folder_names_are_injective_on_names_that_differ_in_what_is_replaced() -> None:
    names = ["a b", "a-b", "a_b", "a.b", "a/b", "a\\b", "a [b]", "a (b)", "ａ b", "a  b", ""]
    folders = [folder_name(n) for n in names]
    assert len(set(folders)) == len(names), dict(zip(names, folders, strict=True))
    assert all(f and "/" not in f and not f.startswith(".") for f in folders)
    long = [folder_name("模" * 300), folder_name("模" * 300 + "型"), folder_name("x" * 1000)]
    assert len(set(long)) == 3 and all(len(f.encode()) <= 255 for f in long)


# --------------------------------------------------------------------------- end to end

TRANSLATION = """\
name: seps
version: 1
family: translation
languages: [en, en]
description: Texts holding characters str.splitlines() breaks on.
source:
  kind: local
  location: data
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
  fields: {id: id, source: src, references: ref}
metrics: [bleu, chrf]
primary_metric: bleu
"""


def test_run_score_and_determinism_agree_on_texts_with_line_separators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bench run`` on data whose texts hold every separator, then ``bench score RUN_DIR``
    (re-scored from the samples) and ``--check-determinism``: the same metrics, no change."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    rows = []
    for k, (name, sep) in enumerate(SEPARATORS.items()):
        text = f"the cat sat on the mat{sep}and the dog lay by the door number {k}"
        rows.append({"id": name, "src": text, "ref": text.replace("door", "gate")})
    (tmp_path / "data" / "test.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    (tmp_path / "seps.yaml").write_text(TRANSLATION, encoding="utf-8")
    results = tmp_path / "r"
    common = ("--tasks-dir", str(tmp_path), "--bootstrap", "0", "--results", str(results))
    assert cli("run", "-m", "baseline:copy", "-t", "seps", "--no-cache", *common) in (None, 0)
    run_dir = results / "baseline-copy" / "seps"
    original = json.loads((run_dir / "record.json").read_text(encoding="utf-8"))
    assert original["metrics"]["bleu"]["value"] > 0
    cli("score", "--task", "seps", "--predictions", str(run_dir), *common)
    rescored = json.loads(
        (results / "baseline-copy-rescored" / "seps" / "record.json").read_text(encoding="utf-8")
    )
    for name in ("bleu", "chrf"):
        assert rescored["metrics"][name] == original["metrics"][name]
    samples = (run_dir / "samples.jsonl").read_text(encoding="utf-8")
    assert len(samples.splitlines()) == len(rows)  # one line per example for any reader
    assert cli(
        "run", "-m", "baseline:copy", "-t", "seps", "--check-determinism", "--no-cache", *common
    ) in (None, 0)
    checked = json.loads((run_dir / "record.json").read_text(encoding="utf-8"))
    assert checked["determinism"]["ok"] is True
    assert checked["metrics"] == original["metrics"]
