"""Bad predictions files, table-driven: no silent wrong score, no traceback, no bloated record.

Each error case scores a real predictions file with ``bench score`` (in-process, the CLI's own
command) and expects one exact :class:`~bench.errors.PredictionsError` naming the file, the line
and the value, with a fix. Each outcome case scores a file that is *not* an error (a byte-order
mark, CR LF line ends, a lone CR inside a line, integer item ids, ``--allow-missing``) and
checks the record it writes. A last group runs a real adapter whose answers fall outside the
task's labels: they are counted failures (cause ``invalid``), never scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.main import get_command

from bench.adapters.base import Adapter, ModelSpec
from bench.catalog import find_task
from bench.cli import app
from bench.data import BUILTIN_ROOT
from bench.errors import PredictionsError
from bench.families.base import Request, Response
from bench.families.sentiment import SentimentResponse
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_pair
from tests.reliability.cases import Case, Outcome, raises_exactly

LIMIT = 6


def _ids(task: str) -> list[str]:
    path = BUILTIN_ROOT / "smoke" / task / "test.jsonl"
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


EN = _ids("sentiment-en")[:LIMIT]
ZH = _ids("sentiment-zh")[:LIMIT]
QA = _ids("qa-en")
USERS = ["u001", "u002", "u003"]  # the first users of recommendation-synthetic (--limit 3)


def bench_score(tmp: Path, task: str, file: Path, *extra: str) -> Any:
    """``bench score --task TASK --predictions FILE`` in-process; BenchErrors propagate."""
    args = ["score", "--task", task, "--predictions", str(file), "--bootstrap", "0"]
    args += ["--results", str(tmp / "results"), *extra]
    return get_command(app).main(args, standalone_mode=False)


def jsonl(rows: Sequence[dict[str, Any] | str]) -> str:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    )


def sentiment(
    bad: Any, *, task: str = "sentiment-en", key: str = "prediction"
) -> Callable[[Path], Any]:
    """A case: every example predicted ``positive`` but the third, whose ``key``
    (``prediction`` or ``response``) is ``bad``."""
    ids = EN if task == "sentiment-en" else ZH

    def run(tmp: Path) -> Any:
        rows: list[dict[str, Any] | str] = [{"id": i, "prediction": "positive"} for i in ids]
        rows[2] = {"id": ids[2], key: bad}
        path = tmp / "preds.jsonl"
        path.write_text(jsonl(rows), encoding="utf-8")
        return bench_score(tmp, task, path, "--limit", str(LIMIT))

    return run


def sentiment_line(line: str) -> Callable[[Path], Any]:
    """A case: the third line of a sentiment-en predictions file is ``line`` as written."""

    def run(tmp: Path) -> Any:
        rows: list[dict[str, Any] | str] = [{"id": i, "prediction": "positive"} for i in EN]
        rows[2] = line
        path = tmp / "preds.jsonl"
        path.write_text(jsonl(rows), encoding="utf-8")
        return bench_score(tmp, "sentiment-en", path, "--limit", str(LIMIT))

    return run


def ranking(prediction: Any) -> Callable[[Path], Any]:
    """A case: recommendation-synthetic (3 users), the second user's ranking is ``prediction``."""

    def run(tmp: Path) -> Any:
        rows = [{"id": u, "prediction": ["i001", "i002"]} for u in USERS]
        rows[1]["prediction"] = prediction
        path = tmp / "preds.jsonl"
        path.write_text(jsonl(rows), encoding="utf-8")
        return bench_score(tmp, "recommendation-synthetic", path, "--limit", "3")

    return run


def qa_file(text: str, name: str = "preds.json") -> Callable[[Path], Any]:
    """A case: ``bench score --task qa-en`` on a file holding ``text``."""

    def run(tmp: Path) -> Any:
        path = tmp / name
        path.write_text(text, encoding="utf-8")
        return bench_score(tmp, "qa-en", path)

    return run


def squad_map(members: Sequence[str]) -> str:
    """A pretty-printed ``{id: answer}`` object, one member per line (line 1 is ``{``)."""
    return "{\n" + ",\n".join(members) + "\n}\n"


ALL_QA = [f'  "{q}": "Paris"' for q in QA]
DEEP = "[" * 100_000 + "]" * 100_000


LABELS = "[negative, positive]"

CASES = [
    # ---- item 1: sentiment labels and probabilities
    Case(
        "label-abbreviated",
        sentiment("pos"),
        PredictionsError,
        (
            "preds.jsonl: line 3",
            repr(EN[2]),
            "'pos' is not one of the task's labels",
            LABELS,
            "did you mean 'positive'",
        ),
    ),
    Case(
        "label-other-case",
        sentiment("Negative"),
        PredictionsError,
        ("line 3", "'Negative' is not one of", "did you mean 'negative'"),
    ),
    Case(
        "label-is-the-verbaliser",
        sentiment("正面", task="sentiment-zh"),
        PredictionsError,
        ("line 3", repr(ZH[2]), "'正面' is not one of", LABELS, "did you mean 'positive'"),
    ),
    Case(
        "label-outside-set",
        sentiment("neutral"),
        PredictionsError,
        ("line 3", "'neutral' is not one of the task's labels", LABELS),
    ),
    Case(
        "label-empty-string",
        sentiment(""),
        PredictionsError,
        ("line 3", "label '' is not one of"),
    ),
    Case(
        "label-in-response-object",
        sentiment({"label": "postive"}),
        PredictionsError,
        ("line 3", "'postive' is not one of", "did you mean 'positive'"),
    ),
    Case(
        "label-in-recorded-response",
        sentiment({"label": "pos"}, key="response"),
        PredictionsError,
        ("line 3", "response", "'pos' is not one of", "did you mean 'positive'"),
    ),
    Case(
        "label-not-a-string",
        sentiment({"label": 1}),
        PredictionsError,
        ("line 3", "wrong shape", "label: Input should be a valid string"),
    ),
    Case(
        "probabilities-keyed-by-non-labels",
        sentiment({"label": "positive", "probabilities": {"pos": 0.6, "neg": 0.4}}),
        PredictionsError,
        ("line 3", "probabilities are keyed by 'pos', 'neg'", LABELS),
    ),
    Case(
        "probabilities-nan",
        sentiment_line(
            f'{{"id": "{EN[2]}", "prediction": {{"label": "positive", '
            '"probabilities": {"positive": NaN, "negative": 0.5}}}'
        ),
        PredictionsError,
        ("line 3", "wrong shape", "must lie in [0, 1] (finite)", "'positive': nan"),
    ),
    Case(
        "probabilities-infinite",
        sentiment_line(
            f'{{"id": "{EN[2]}", "prediction": {{"label": "positive", '
            '"probabilities": {"positive": Infinity, "negative": 0}}}'
        ),
        PredictionsError,
        ("line 3", "must lie in [0, 1] (finite)", "'positive': inf"),
    ),
    Case(
        "probabilities-negative",
        sentiment({"label": "positive", "probabilities": {"positive": 1.2, "negative": -0.2}}),
        PredictionsError,
        ("line 3", "must lie in [0, 1]", "'positive': 1.2", "'negative': -0.2"),
    ),
    Case(
        "probabilities-not-summing-to-1",
        sentiment({"label": "positive", "probabilities": {"positive": 0.6, "negative": 0.6}}),
        PredictionsError,
        ("line 3", "must sum to 1 (within 0.0001), got 1.200000"),
    ),
    Case(
        "label-missing-from-its-probabilities",
        sentiment({"label": "positive", "probabilities": {"negative": 1.0}}),
        PredictionsError,
        ("line 3", "label 'positive' has no probability", "probabilities give negative"),
    ),
    # ---- item 2: rankings whose items are not ids
    Case(
        "ranking-nested-list",
        ranking([["i001"], "i002"]),
        PredictionsError,
        ("preds.jsonl: line 2", "'u002'", 'ranked item 1 is ["i001"] (list), not an item id'),
    ),
    Case(
        "ranking-null",
        ranking(["i001", None]),
        PredictionsError,
        ("line 2", "ranked item 2 is null (null), not an item id"),
    ),
    Case(
        "ranking-bool",
        ranking(["i001", True]),
        PredictionsError,
        ("line 2", "ranked item 2 is true (bool)"),
    ),
    Case(
        "ranking-float",
        ranking([3.0, "i001"]),
        PredictionsError,
        ("line 2", "ranked item 1 is 3.0 (float)"),
    ),
    Case(
        "ranking-object",
        ranking([{"id": "i001"}]),
        PredictionsError,
        ("line 2", 'ranked item 1 is {"id": "i001"} (dict)'),
    ),
    Case(
        "ranking-in-response-object",
        ranking({"ranked": ["i001", None]}),
        PredictionsError,
        ("line 2", "ranked item 2 is null"),
    ),
    Case(
        "ranking-duplicate-after-int",
        ranking([7, "7"]),
        PredictionsError,
        ("line 2", "ranked lists item '7' twice"),
    ),
    # ---- item 3: duplicate keys
    Case(
        "map-duplicate-id",
        qa_file(squad_map([*ALL_QA, f'  "{QA[0]}": "London"'])),
        PredictionsError,
        ("preds.json", f"id {QA[0]!r} appears twice (lines 2 and {len(QA) + 2})", "keep one"),
    ),
    Case(
        "map-duplicate-key-inside-a-prediction",
        qa_file(squad_map([f'  "{QA[0]}": {{"text": "a", "text": "b"}}', *ALL_QA[1:]])),
        PredictionsError,
        ("preds.json: line 2", repr(QA[0]), "key 'text' appears twice in one object"),
    ),
    Case(
        "line-duplicate-key",
        sentiment_line(f'{{"id": "{EN[2]}", "prediction": "positive", "prediction": "negative"}}'),
        PredictionsError,
        ("preds.jsonl: line 3", "key 'prediction' appears twice in one object"),
    ),
    Case(
        "line-duplicate-nested-key",
        sentiment_line(
            f'{{"id": "{EN[2]}", "prediction": {{"label": "positive", "probabilities": '
            '{"positive": 0.5, "positive": 0.5}}}'
        ),
        PredictionsError,
        ("line 3", "key 'positive' appears twice"),
    ),
    # ---- item 17 (predictions half): nesting depth
    Case(
        "line-100k-deep",
        sentiment_line(f'{{"id": "{EN[2]}", "prediction": {DEEP}}}'),
        PredictionsError,
        ("preds.jsonl: line 3", "nested deeper than 64 levels"),
    ),
    Case(
        "map-100k-deep",
        qa_file(squad_map([f'  "{QA[0]}": {DEEP}', *ALL_QA[1:]])),
        PredictionsError,
        ("preds.json", "nested deeper than 64 levels"),
    ),
    Case(
        "text-file-with-a-lone-cr-is-one-line-each",
        qa_file("Paris\r" * 3 + "\n", name="preds.txt"),
        PredictionsError,
        ("preds.txt: 1 lines", f"{len(QA)} examples"),
    ),
]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_predictions(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    raises_exactly(case, tmp_path)
    assert not (tmp_path / "results").exists()  # nothing scored, nothing written


# --------------------------------------------------------------------------- not errors


def record_of(tmp: Path, name: str, task: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (tmp / "results" / name / task / "record.json").read_text(encoding="utf-8")
    )
    return data


def samples_of(tmp: Path, name: str, task: str) -> list[dict[str, Any]]:
    text = (tmp / "results" / name / task / "samples.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line]


def _qa_answers() -> list[str]:
    """The first gold answer of each qa-en test example, in test-set order."""
    path = BUILTIN_ROOT / "smoke" / "qa-en" / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [
        r["answers"][0] if isinstance(r["answers"][0], str) else r["answers"][0]["text"]
        for r in rows
    ]


def text_variants(tmp: Path) -> None:
    """The gold answers as plain text three ways: LF, BOM + LF, CR LF; same scores, and the
    BOM is recorded."""
    answers = _qa_answers()
    variants = {
        "lf": "\n".join(answers) + "\n",
        "bom": "\ufeff" + "\n".join(answers) + "\n",
        "crlf": "\r\n".join(answers) + "\r\n",
    }
    for name, text in variants.items():
        path = tmp / f"{name}.txt"
        path.write_bytes(text.encode("utf-8"))
        bench_score(tmp, "qa-en", path)
    base = record_of(tmp, "lf", "qa-en")
    assert base["metrics"]["squad_em"]["value"] == 100.0  # the gold answers, on the 0-100 scale
    for name in ("bom", "crlf"):
        rec = record_of(tmp, name, "qa-en")
        assert rec["metrics"]["squad_f1"] == base["metrics"]["squad_f1"], name
        assert rec["metrics"]["squad_em"] == base["metrics"]["squad_em"], name
        first = samples_of(tmp, name, "qa-en")[0]["prediction"]
        assert first == answers[0], (name, first)  # no BOM, no CR left on a prediction
    assert record_of(tmp, "bom", "qa-en")["model"]["info"]["bom_stripped"] is True
    assert "bom_stripped" not in base["model"]["info"]


def lone_cr_is_content(tmp: Path) -> None:
    """A lone CR inside a text prediction neither splits the line nor is dropped."""
    answers = _qa_answers()
    answers[1] = answers[1] + "\rextra"
    path = tmp / "cr.txt"
    path.write_text("\n".join(answers) + "\n", encoding="utf-8", newline="")
    bench_score(tmp, "qa-en", path)
    rec = record_of(tmp, "cr", "qa-en")
    assert rec["task"]["n_examples"] == len(QA)
    assert samples_of(tmp, "cr", "qa-en")[1]["prediction"] == answers[1]


def line_separator_in_jsonl(tmp: Path) -> None:
    """A raw U+2028 inside a JSONL prediction is content, not a line break."""
    rows = [{"id": q, "prediction": "Paris\u2028London"} for q in QA]
    path = tmp / "sep.jsonl"
    path.write_text(jsonl(rows), encoding="utf-8")
    bench_score(tmp, "qa-en", path)
    assert record_of(tmp, "sep", "qa-en")["task"]["n_examples"] == len(QA)


def bom_in_jsonl(tmp: Path) -> None:
    rows = [{"id": q, "prediction": "Paris"} for q in QA]
    path = tmp / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jsonl(rows).encode("utf-8"))
    bench_score(tmp, "qa-en", path)
    assert record_of(tmp, "bom", "qa-en")["model"]["info"]["bom_stripped"] is True


def integer_item_ids(tmp: Path) -> None:
    """A ranking may give integer ids (the item ``"7"``), as a list or as ``{"ranked": ...}``;
    strings and ints score alike."""
    for name, ranked in {"ints": [7, 8], "strs": ["7", "8"]}.items():
        rows: list[dict[str, Any]] = [{"id": u, "prediction": ranked} for u in USERS]
        rows[0]["prediction"] = {"ranked": ranked}
        path = tmp / f"{name}.jsonl"
        path.write_text(jsonl(rows), encoding="utf-8")
        bench_score(tmp, "recommendation-synthetic", path, "--limit", "3")
    samples = samples_of(tmp, "ints", "recommendation-synthetic")
    assert [s["response"]["ranked"] for s in samples] == [["7", "8"]] * 3
    assert (
        record_of(tmp, "ints", "recommendation-synthetic")["metrics"]
        == record_of(tmp, "strs", "recommendation-synthetic")["metrics"]
    )


def allow_missing_grouped(tmp: Path) -> None:
    """142 missing ids: one kind with its count and 10 example ids, one label."""
    path = tmp / "few.jsonl"
    path.write_text(jsonl([{"id": q, "prediction": "Paris"} for q in QA[:3]]), encoding="utf-8")
    bench_score(tmp, "qa-en", path, "--allow-missing")
    failures = record_of(tmp, "few", "qa-en")["failures"]
    assert failures["count"] == len(QA) - 3
    assert failures["by_kind"] == {"missing": {"count": len(QA) - 3, "ids": sorted(QA[3:])[:10]}}
    assert failures["by_cause"] == {"missing: no prediction in few.jsonl": len(QA) - 3}


def many_messages_bounded(tmp: Path) -> None:
    """A distinct failure message per example (recorded failures, plus missing ids): the
    record stays small, the counts add up, and each kind keeps 10 example ids."""
    rows = [{"id": q, "failure": f"http: 503 for request {q}"} for q in QA[:100]]
    path = tmp / "msgs.jsonl"
    path.write_text(jsonl(rows), encoding="utf-8")
    # Every example fails here: --max-failures records such a pair on purpose.
    bench_score(tmp, "qa-en", path, "--allow-missing", "--max-failures", str(len(QA)))
    raw = (tmp / "results" / "msgs" / "qa-en" / "record.json").read_text(encoding="utf-8")
    failures = json.loads(raw)["failures"]
    assert failures["count"] == len(QA)
    assert len(failures["by_cause"]) <= 22
    assert sum(failures["by_cause"].values()) == len(QA)
    # The missing label (45) and 19 http labels are kept; the other 81 http labels are counted.
    assert failures["by_cause"]["http: (other messages)"] == 81
    assert failures["by_kind"]["http"] == {"count": 100, "ids": sorted(QA[:100])[:10]}
    assert failures["by_kind"]["missing"]["count"] == len(QA) - 100
    assert all(len(k["ids"]) <= 10 for k in failures["by_kind"].values())
    assert len(json.dumps(failures)) < 6000


OUTCOMES = [
    Outcome("text-bom-and-crlf-score-as-lf", text_variants),
    Outcome("text-lone-cr-is-content", lone_cr_is_content),
    Outcome("jsonl-line-separator-is-content", line_separator_in_jsonl),
    Outcome("jsonl-bom-stripped-and-recorded", bom_in_jsonl),
    Outcome("ranking-integer-ids", integer_item_ids),
    Outcome("allow-missing-grouped-by-kind", allow_missing_grouped),
    Outcome("failure-messages-bounded", many_messages_bounded),
]


@pytest.mark.parametrize("case", OUTCOMES, ids=[c.id for c in OUTCOMES])
def test_outcome(case: Outcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    case.run(tmp_path)


# --------------------------------------------------------------------------- adapter answers


class OffLabel(Adapter):
    """A real adapter (not a mock) whose answers are off the label set on every third example:
    ``mode`` says how."""

    name = "offlabel"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    class Params(Adapter.Params):
        mode: str = "label"

    params: Params

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        out: list[Response] = []
        for k in range(len(requests)):
            if k % 3:
                out.append(SentimentResponse(label="positive"))
            elif self.params.mode == "label":
                out.append(SentimentResponse(label="pos"))
            elif self.params.mode == "keys":
                out.append(SentimentResponse(label="positive", probabilities={"pos": 1.0}))
            else:
                out.append(SentimentResponse(label="positive", probabilities={"negative": 1.0}))
        return out


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("label", "invalid: label 'pos' is not one of the task's labels [negative, positive]"),
        ("keys", "invalid: probabilities are keyed by 'pos'"),
        ("unlisted", "invalid: label 'positive' has no probability"),
    ],
)
def test_adapter_answers_off_the_label_set_are_counted_failures(
    tmp_path: Path, mode: str, says: str
) -> None:
    task = find_task("sentiment-en")
    n = 12
    model = ModelSpec(raw=f"offlabel:,mode={mode}", kind="offlabel", target="", display_name=mode)
    cfg = RunConfig(results=tmp_path, limit=n, bootstrap=BootstrapConfig(resamples=0))
    outcome = run_pair(model, task, cfg, adapter=OffLabel(None, mode=mode))
    assert outcome.record is not None
    failures = outcome.record.failures
    assert failures.count == n // 3
    assert len(failures.by_cause) == 1
    label = next(iter(failures.by_cause))
    assert label.startswith(says), label
    assert failures.by_kind["invalid"].count == n // 3
    assert outcome.record.predictions.failed == n // 3
    assert outcome.record.metrics["accuracy"].n == n  # failed examples score as misses
    assert outcome.record_path is not None
    lines = (outcome.record_path.parent / "samples.jsonl").read_text(encoding="utf-8")
    samples = [json.loads(line) for line in lines.split("\n") if line]
    assert [s["failure"] is not None for s in samples] == [k % 3 == 0 for k in range(n)]
    # The answers in the label set are scored as given: none lost, none replaced.
    assert all(s["prediction"] == "positive" for s in samples if s["failure"] is None)
