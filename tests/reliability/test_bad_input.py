"""Bad input, table-driven: every case raises its exact ``BenchError`` class, and the message
names the file, row or field at fault (and, where one is close, the right name).

Task files, data files, predictions files and model specs; plus the cases that are not errors
(a QA answer outside its context is counted in the record) and a 5 MB line that must load in
linear time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from bench.adapters.base import make_adapter, parse_model_spec
from bench.catalog import discover
from bench.cli import app
from bench.data import BUILTIN_ROOT, load_split
from bench.errors import (
    DataError,
    ModelSpecError,
    PredictionsError,
    TaskSpecError,
)
from bench.families.base import get_family
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_pair
from bench.spec import load_task
from tests.reliability.cases import Case, raises_exactly

TASK = """\
name: {name}
version: 1
family: sentiment
languages: [en]
description: A small local sentiment task.
labels: [negative, positive]
source:
  kind: local
  location: data
  format: {fmt}
  files: {{test: {file}}}
  splits: {{test: test}}
metrics: [accuracy, macro_f1]
primary_metric: accuracy
"""


def task_file(tmp: Path, text: str | None = None, name: str = "bad", **kw: str) -> Path:
    kw.setdefault("fmt", "jsonl")
    kw.setdefault("file", "test.jsonl")
    path = tmp / f"{name}.yaml"
    path.write_text(text if text is not None else TASK.format(name=name, **kw), encoding="utf-8")
    return path


def edited(old: str, new: str) -> Callable[[Path], Any]:
    """A case: the base task file with ``old`` replaced by ``new``, loaded."""

    def run(tmp: Path) -> Any:
        text = TASK.format(name="bad", fmt="jsonl", file="test.jsonl")
        assert old in text
        return load_task(task_file(tmp, text.replace(old, new, 1)))

    return run


def data(content: str | bytes, fmt: str = "jsonl", file: str = "test.jsonl") -> Callable[..., Any]:
    """A case: the base task reading ``content`` from its data file."""

    def run(tmp: Path) -> Any:
        (tmp / "data").mkdir(exist_ok=True)
        raw = content.encode() if isinstance(content, str) else content
        (tmp / "data" / file).write_bytes(raw)
        spec = load_task(task_file(tmp, fmt=fmt, file=file))
        return load_split(spec, get_family("sentiment"), "test")

    return run


def rows(*items: dict[str, Any]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)


OK = {"id": "a", "text": "fine", "label": "positive"}

QA_IDS = [
    json.loads(line)["id"]
    for line in (BUILTIN_ROOT / "smoke" / "qa-en" / "test.jsonl").read_text().splitlines()
]


def score(text: str, name: str = "preds.jsonl") -> Callable[[Path], Any]:
    """A case: ``bench score --task qa-en`` on a predictions file holding ``text``."""

    def run(tmp: Path) -> Any:
        path = tmp / name
        path.write_text(text, encoding="utf-8")
        args = ["score", "--task", "qa-en", "--predictions", str(path)]
        args += ["--results", str(tmp / "results"), "--bootstrap", "0"]
        return get_command(app).main(args, standalone_mode=False)

    return run


def preds(ids: list[str]) -> str:
    return "".join(json.dumps({"id": i, "prediction": "x"}) + "\n" for i in ids)


def model(spec: str) -> Callable[[Path], Any]:
    return lambda _tmp: make_adapter(parse_model_spec(spec))


def duplicate_task_names(tmp: Path) -> Any:
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    task_file(tmp / "a", name="twin")
    task_file(tmp / "b", name="twin")
    return discover([tmp / "a", tmp / "b"])


def python_tag(tmp: Path) -> Any:
    marker = tmp / "PWNED"
    text = f"name: bad\nversion: !!python/object/apply:os.system ['touch {marker}']\n"
    try:
        return load_task(task_file(tmp, text))
    finally:
        assert not marker.exists(), "a YAML tag ran code"


def unknown_item_ids(tmp: Path) -> Any:
    src = BUILTIN_ROOT / "smoke" / "recommendation-synthetic"
    (tmp / "data").mkdir()
    log = (src / "interactions.csv").read_text(encoding="utf-8").splitlines()
    header, first, *rest = log
    cols = header.split(",")
    bad = first.split(",")
    bad[cols.index("item_id")] = "no-such-item"
    (tmp / "data" / "interactions.csv").write_text(
        "\n".join([header, first, *rest[:40], ",".join(bad)]) + "\n", encoding="utf-8"
    )
    (tmp / "data" / "items.csv").write_text((src / "items.csv").read_text(encoding="utf-8"))
    task = (
        Path(__file__).parents[2] / "tasks" / "smoke" / "recommendation-synthetic.yaml"
    ).read_text()
    task = task.replace("kind: builtin", "kind: local").replace(
        "location: smoke/recommendation-synthetic", "location: data"
    )
    task = task.replace("name: recommendation-synthetic", "name: rec")
    spec = load_task(task_file(tmp, task, name="rec"))
    family = get_family("recommendation")
    return family.prepare(spec, data_override=None, limit=None)


def task_not_utf8(tmp: Path) -> Any:
    (tmp / "bad.yaml").write_bytes(b"name: b\xe9d\n")
    return load_task(tmp / "bad.yaml")


def missing_predictions(tmp: Path) -> Any:
    args = ["score", "--task", "qa-en", "--predictions", str(tmp / "none.jsonl")]
    return get_command(app).main(args, standalone_mode=False)


CASES = [
    # ---- task files
    Case(
        "yaml-syntax",
        edited("family: sentiment", "family: [sentiment"),
        TaskSpecError,
        ("bad.yaml", "line 4, column", "invalid YAML"),
    ),
    Case(
        "misspelt-key",
        edited("primary_metric:", "primary_metrc:"),
        TaskSpecError,
        (
            "bad.yaml line 14: field 'primary_metrc'",
            "unknown key 'primary_metrc'",
            "did you mean 'primary_metric'",
        ),
    ),
    Case(
        "misspelt-nested-key",
        edited("location: data", "locaton: data"),
        TaskSpecError,
        ("bad.yaml line 9", "'source.locaton'", "did you mean 'location'"),
    ),
    Case(
        "wrong-type",
        edited("version: 1", "version: one"),
        TaskSpecError,
        ("bad.yaml line 2", "field 'version'", "integer"),
    ),
    Case(
        "wrong-type-list",
        edited("languages: [en]", "languages: en"),
        TaskSpecError,
        ("bad.yaml line 4", "field 'languages'", "list"),
    ),
    Case(
        "unknown-family",
        edited("family: sentiment", "family: sentimnt"),
        TaskSpecError,
        (
            "bad.yaml line 3",
            "field 'family'",
            "unknown family 'sentimnt'",
            "did you mean 'sentiment'",
        ),
    ),
    Case(
        "unknown-metric",
        edited("[accuracy, macro_f1]", "[accuracy, macro_f2]"),
        TaskSpecError,
        ("bad.yaml line 13", "field 'metrics[1]'", "did you mean 'macro_f1'"),
    ),
    Case(
        "unknown-step",
        edited("metrics:", "preprocess: [lowercse]\nmetrics:"),
        TaskSpecError,
        ("bad.yaml line 13", "field 'preprocess[0]'", "did you mean 'lowercase'"),
    ),
    Case(
        "bad-step-param",
        edited("metrics:", "preprocess: [{truncate: {max_token: 5}}]\nmetrics:"),
        TaskSpecError,
        ("bad.yaml", "preprocess[0].truncate", "unknown parameter"),
    ),
    Case(
        "primary-not-in-metrics",
        edited("primary_metric: accuracy", "primary_metric: mcc"),
        TaskSpecError,
        ("bad.yaml line 14", "field 'primary_metric'", "'mcc' is not in metrics"),
    ),
    Case(
        "duplicate-key",
        edited("version: 1", "version: 1\nversion: 2"),
        TaskSpecError,
        ("bad.yaml line 3", "key 'version' is given twice (first on line 2)"),
    ),
    Case(
        "duplicate-task-names",
        duplicate_task_names,
        TaskSpecError,
        ("b/twin.yaml", "task 'twin' is also defined in", "a/twin.yaml"),
    ),
    Case(
        "name-not-file-stem",
        edited("name: bad", "name: other"),
        TaskSpecError,
        ("bad.yaml line 1", "field 'name'", "differs from the file name 'bad'"),
    ),
    Case(
        "python-object-tag",
        python_tag,
        TaskSpecError,
        ("bad.yaml", "line 2", "invalid YAML", "python/object/apply:os.system"),
    ),
    Case(
        "not-a-mapping",
        lambda tmp: load_task(task_file(tmp, "- a\n- b\n")),
        TaskSpecError,
        ("bad.yaml", "must be a YAML mapping"),
    ),
    Case("task-not-utf8", task_not_utf8, TaskSpecError, ("bad.yaml", "not UTF-8", "byte 7")),
    # ---- data files
    Case(
        "missing-data-file",
        lambda tmp: load_split(load_task(task_file(tmp)), get_family("sentiment"), "test"),
        DataError,
        ("task 'bad'", "no file matches", "data/test.jsonl"),
    ),
    Case(
        "not-utf8",
        data(rows(OK).encode() + b'{"id": "b", "text": "caf\xe9"}\n'),
        DataError,
        ("test.jsonl", "line 2", "not UTF-8", "0xe9"),
    ),
    Case("empty-file", data(""), DataError, ("test.jsonl", "no examples")),
    Case(
        "header-only-csv",
        data("id,text,label\n", fmt="csv", file="test.csv"),
        DataError,
        ("test.csv", "no examples"),
    ),
    Case(
        "missing-field",
        data(rows({"id": "a", "text": "x"})),
        DataError,
        ("test.jsonl", "field 'label'", "column 'label'"),
    ),
    Case(
        "null-label",
        data(rows(OK, {"id": "b", "text": "x", "label": None})),
        DataError,
        ("test.jsonl", "row 1 (line 2)", "id 'b'", "field 'label' is missing (null or NaN)"),
    ),
    Case(
        "nan-label",
        data("id,text,label\na,x,positive\nb,y,\n", fmt="csv", file="t.csv"),
        DataError,
        ("t.csv", "row 1 (line 3, after the header)", "field 'label' is missing"),
    ),
    Case(
        "label-outside-set",
        data(rows(OK, {"id": "b", "text": "x", "label": "neutral"})),
        DataError,
        ("test.jsonl", "row 1 (line 2)", "field 'label' is 'neutral'"),
    ),
    Case(
        "duplicate-ids",
        data(rows(OK, {**OK, "text": "other"})),
        DataError,
        ("test.jsonl", "row 1 (line 2)", "id 'a' repeats row 0"),
    ),
    Case(
        "invalid-json-line",
        data(rows(OK) + '{"id": "b", "text": oops}\n'),
        DataError,
        ("test.jsonl", "line 2, column", "invalid JSON"),
    ),
    Case(
        "json-line-not-object",
        data(rows(OK) + '["b", "x", "positive"]\n'),
        DataError,
        ("test.jsonl", "line 2", "not an object"),
    ),
    Case(
        "text-not-string",
        data(rows(OK, {"id": "b", "text": 5, "label": "positive"})),
        DataError,
        ("test.jsonl", "row 1 (line 2)", "field 'text' is int"),
    ),
    Case(
        "unknown-item-ids",
        unknown_item_ids,
        DataError,
        ("interactions.csv", "line 43", "field 'item' is 'no-such-item'", "item table"),
    ),
    # ---- predictions files
    Case(
        "predictions-missing-ids",
        score(preds(QA_IDS[:-1])),
        PredictionsError,
        ("preds.jsonl", f"1 of {len(QA_IDS)}", QA_IDS[-1]),
    ),
    Case(
        "predictions-extra-ids",
        score(preds([*QA_IDS, "nope"])),
        PredictionsError,
        ("preds.jsonl", "'nope'", f"line {len(QA_IDS) + 1}"),
    ),
    Case(
        "predictions-line-count",
        score("x\n" * (len(QA_IDS) - 2), name="preds.txt"),
        PredictionsError,
        ("preds.txt", f"{len(QA_IDS) - 2} lines", f"{len(QA_IDS)} examples"),
    ),
    Case(
        "predictions-shape",
        score(preds(QA_IDS[:3]) + '["a", "b"]\n'),
        PredictionsError,
        ("preds.jsonl", "line 4", "got list"),
    ),
    Case(
        "predictions-json",
        score(preds(QA_IDS[:1]) + "{oops\n"),
        PredictionsError,
        ("preds.jsonl", "line 2", "invalid JSON"),
    ),
    Case(
        "predictions-duplicate-id",
        score(preds([*QA_IDS, QA_IDS[0]])),
        PredictionsError,
        ("preds.jsonl", f"line {len(QA_IDS) + 1}", "appears twice"),
    ),
    Case(
        "predictions-missing-file",
        missing_predictions,
        PredictionsError,
        ("none.jsonl", "no such predictions file"),
    ),
    # ---- model specs
    Case(
        "unknown-kind",
        model("basline:majority"),
        ModelSpecError,
        ("unknown model kind 'basline'", "did you mean 'baseline'"),
    ),
    Case(
        "unknown-baseline",
        model("baseline:majorty"),
        ModelSpecError,
        ("unknown baseline 'majorty'", "did you mean 'majority'"),
    ),
    Case(
        "not-key-value",
        model("baseline:majority,seed"),
        ModelSpecError,
        ("baseline:majority,seed", "'seed' is not key=value"),
    ),
    Case("no-target", model("baseline"), ModelSpecError, ("'baseline'", "KIND:TARGET")),
    Case(
        "unknown-param",
        model("baseline:textcnn,max_epoch=3"),
        ModelSpecError,
        ("baseline:textcnn", "max_epoch", "unknown parameter", "did you mean 'max_epochs'"),
    ),
    Case(
        "bad-param-value",
        model("baseline:textcnn,max_epochs=lots"),
        ModelSpecError,
        ("baseline:textcnn", "max_epochs", "integer"),
    ),
    Case(
        "param-twice",
        model("baseline:majority,seed=1,seed=2"),
        ModelSpecError,
        ("parameter 'seed' is given twice",),
    ),
]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    raises_exactly(case, tmp_path, fix_optional=(TaskSpecError, ModelSpecError))


# --------------------------------------------------------------------------- not errors

QA_TASK = """\
name: qa-local
version: 1
family: qa
languages: [en]
description: A local QA task.
source:
  kind: local
  location: data
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
metrics: [squad_em, squad_f1]
primary_metric: squad_f1
"""


def test_qa_answer_not_in_its_context_is_counted_and_recorded(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    items = [
        {
            "id": "q1",
            "context": "Paris is the capital of France.",
            "question": "Capital?",
            "answers": ["Paris"],
        },
        {
            "id": "q2",
            "context": "The  Thames flows through London.",
            "question": "River?",
            "answers": ["the thames"],
        },  # case and spacing differ: still a span
        {
            "id": "q3",
            "context": "Bern is in Switzerland.",
            "question": "Capital?",
            "answers": ["Berne", "Bern"],
        },  # one of two answers is not a span
        {
            "id": "q4",
            "context": "Rome has seven hills.",
            "question": "Hills?",
            "answers": ["seven"],
        },
    ]
    (tmp_path / "data" / "test.jsonl").write_text(rows(*items), encoding="utf-8")
    (tmp_path / "qa-local.yaml").write_text(QA_TASK, encoding="utf-8")
    spec = load_task(tmp_path / "qa-local.yaml")
    cfg = RunConfig(results=tmp_path / "results", bootstrap=BootstrapConfig(resamples=0))
    outcome = run_pair(parse_model_spec("baseline:first-sentence"), spec, cfg)
    assert outcome.record is not None
    notes = outcome.record.task.protocol
    assert notes == {"answers_not_in_context": 1, "answers_not_in_context_ids": ["q3"]}
    assert outcome.record.task.n_examples == 4  # scored as they are, never dropped


def _load_time(tmp: Path, n_bytes: int) -> float:
    text = "good " * (n_bytes // 5)
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    (tmp / "data" / "test.jsonl").write_text(
        rows(OK, {"id": "long", "text": text, "label": "negative"}), encoding="utf-8"
    )
    spec = load_task(task_file(tmp, name=f"long{n_bytes}"))
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        split = load_split(spec, get_family("sentiment"), "test")
        best = min(best, time.perf_counter() - start)
    assert split.dataset[1]["text"] == text
    return best


def test_a_5mb_line_loads_in_linear_time(tmp_path: Path) -> None:
    small = _load_time(tmp_path / "a", 5 * 2**20 // 4)
    big = _load_time(tmp_path / "b", 5 * 2**20)
    assert big < 10
    # Four times the bytes: linear work takes about 4x; quadratic would take 16x.
    assert big < 10 * max(small, 0.02), (small, big)
