"""The runner's side of a prompted adapter's protocol: units, exemplars, records and samples.

The adapter is a real :class:`~bench.adapters.base.Adapter` subclass loaded through the
``plugin:module:Factory`` path. It answers deterministically from the prompt it renders
(:func:`bench.adapters.prompting.render`, exemplars included), so prompt variants and
exemplars change its answers, and it keeps that prompt in the response's transcript.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import accuracy_score

from bench import records
from bench.adapters.base import make_adapter, parse_model_spec
from bench.data import BUILTIN_ROOT
from bench.errors import BenchError
from bench.families.base import Family, get_family
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, RunOutcome, run_pair
from bench.spec import TaskSpec, load_task, parse_task

ADAPTER_MODULE = '''
"""A prompted sentiment adapter: a lexicon vote over the whole rendered prompt."""

from typing import ClassVar

from bench.adapters.base import Adapter
from bench.adapters.prompting import render
from bench.families.base import Transcript
from bench.families.sentiment import SentimentResponse

CUES = ("great", "love", "good", "excellent", "friendly", "perfect", "recommend", "best")
CALLS = []  # (batch ids) of every predict call, for the tests


class Prompted(Adapter):
    name = "test:prompted"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    class Params(Adapter.Params):
        prompted: bool = True
        refuse: str = ""
        sort: bool = False

    def __init__(self, target=None, **params):
        super().__init__(target, **params)
        self.spec = None

    @property
    def prompted(self):
        return self.params.prompted

    def protocol_support(self, task):
        return self.params.refuse or None

    def sort_key(self, request):
        return len(request.text) if self.params.sort else None

    def for_task(self, task, family):
        bound = type(self)(self.target, **self.params.model_dump())
        bound.spec = task
        return bound

    def predict(self, requests):
        CALLS.append([r.id for r in requests])
        out = []
        for r in requests:
            prompt = render(r, self.spec)
            # The test example's own text decides, the prompt (variant, exemplars) tips it.
            votes = sum(w in r.text.lower() for w in CUES) * 2 + len(prompt) % 2
            label = "positive" if votes >= 2 else "negative"
            out.append(
                SentimentResponse(
                    label=label, transcript=Transcript(prompt=prompt, completion=" " + label)
                )
            )
        return out
'''


@pytest.fixture(scope="module")
def adapter_module(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("prompted")
    (folder / "prompted_test_adapter.py").write_text(ADAPTER_MODULE, encoding="utf-8")
    sys.path.insert(0, str(folder))
    import prompted_test_adapter  # type: ignore[import-not-found]

    yield prompted_test_adapter
    sys.path.remove(str(folder))


@pytest.fixture(scope="module", autouse=True)
def sentiment_answers() -> Any:
    """Exemplar answers for sentiment where the family does not render them yet (another part
    of issue 15 adds ``answer_text``): the verbaliser of the gold label."""
    cls = type(get_family("sentiment"))
    if cls.answer_text is not Family.answer_text:
        yield
        return

    def answer_text(self: Any, request: Any, reference: Any, spec: TaskSpec | None) -> str:
        verbalizers = (spec.prompt.verbalizers if spec and spec.prompt else None) or {}
        return str(verbalizers.get(reference, reference))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cls, "answer_text", answer_text)
        yield


SMOKE = BUILTIN_ROOT.parent.parent / "tasks/smoke/sentiment-en.yaml"


def one_prompt() -> TaskSpec:
    """The smoke sentiment task with its ``default`` prompt variant only."""
    return load_task(SMOKE).bind_variant("default")


def task_with(**blocks: Any) -> TaskSpec:
    """The smoke sentiment task with ``blocks`` (``prompts``, ``fewshot``, ...) replacing its
    own (``prompts`` replaces ``prompt``)."""
    data = one_prompt().model_dump(mode="json", exclude_none=True)
    if "prompts" in blocks:
        data.pop("prompt", None)
    data.update(blocks)
    return parse_task(json.dumps(data), path=SMOKE)


VARIANTS = [
    {"name": "plain", "template": "Review: {{ text }}\nSentiment:"},
    {
        "name": "ask",
        "template": "Is this review positive or negative?\n{{ text }}\nAnswer:",
        "verbalizers": {"negative": "bad", "positive": "good"},
    },
]


def cfg(tmp: Path, **kw: Any) -> RunConfig:
    kw.setdefault("bootstrap", BootstrapConfig(resamples=0, seed=1))
    kw.setdefault("limit", 12)
    return RunConfig(results=tmp / "results", cache=tmp / "cache.sqlite", **kw)


def run(tmp: Path, task: TaskSpec, spec: str = "", name: str = "m", **kw: Any) -> RunOutcome:
    raw = f"plugin:prompted_test_adapter:Prompted{',' + spec if spec else ''},name={name}"
    return run_pair(parse_model_spec(raw), task, cfg(tmp, **kw))


def lines_of(outcome: RunOutcome) -> list[records.SampleLine]:
    assert outcome.record_path is not None
    record = records.load_record(outcome.record_path)
    return records.read_samples(outcome.record_path.parent / "samples.jsonl", record)


def comparable(outcome: RunOutcome) -> dict[str, Any]:
    """The record without what differs between two identical runs."""
    assert outcome.record is not None
    data = outcome.record.model_dump(mode="json")
    for key in ("run_id", "started_at", "finished_at", "timings", "predictions"):
        data.pop(key)
    data["model"].pop("name")
    return data


def test_units_give_per_unit_metrics_and_unit_major_samples(
    adapter_module: Any, tmp_path: Path
) -> None:
    task = task_with(prompts=VARIANTS, fewshot={"k": 2, "draws": 2, "selector": "random"})
    out = run(tmp_path, task)
    assert out.status == "done" and out.record is not None
    protocol = out.record.protocol
    assert protocol is not None
    keys = ["plain/d0/s0", "plain/d1/s0", "ask/d0/s0", "ask/d1/s0"]
    assert [
        f"{u.unit['variant']}/d{u.unit['draw']}/s{u.unit['sample']}" for u in protocol.units
    ] == keys
    lines = lines_of(out)
    assert len(lines) == 4 * 12
    assert [line.unit for line in lines] == [k for k in keys for _ in range(12)]
    assert all(line.shots is not None and len(line.shots) == 2 for line in lines)
    assert all(line.id not in (line.shots or []) for line in lines)
    per_unit = {}
    for unit, rows in records.samples_by_unit(lines).items():
        acc = accuracy_score([r.reference for r in rows], [r.prediction for r in rows])
        per_unit[unit] = float(acc)
        # What the model saw: the exemplars' texts before the example's own prompt.
        prompt = (rows[0].response or {})["transcript"]["prompt"]
        assert prompt.count("Review:" if unit.startswith("plain") else "Answer:") == 3
    for u, key in zip(protocol.units, keys, strict=True):
        assert u.metrics["accuracy"].value == pytest.approx(per_unit[key], abs=1e-12)
    mean = sum(per_unit.values()) / 4
    assert out.record.metrics["accuracy"].value == pytest.approx(mean, abs=1e-12)
    assert protocol.identity["variants"] == ["plain", "ask"]
    assert protocol.fewshot_hash is not None
    assert out.record.predictions.total == 48
    assert out.record.schema_version == records.RECORD_SCHEMA_VERSION == 5


def test_one_unit_record_and_samples_match_the_non_prompted_path(
    adapter_module: Any, tmp_path: Path
) -> None:
    task = one_prompt()
    kw = {"bootstrap": BootstrapConfig(resamples=200, seed=3)}
    plain = run(tmp_path / "a", task, "prompted=false", **kw)
    prompted = run(tmp_path / "b", task, **kw)
    assert plain.record is not None and prompted.record is not None
    assert plain.record.protocol is None
    assert prompted.record.protocol is not None and len(prompted.record.protocol.units) == 1
    # The same values and intervals; the prompted signatures end with the protocol's tag.
    tag = "|lm:loglik|norm:none|shots:0|variants:1"
    assert prompted.record.metrics == {
        k: v.model_copy(update={"signature": v.signature + tag})
        for k, v in plain.record.metrics.items()
    }
    strip = [line.model_dump(exclude={"run_id"}) for line in lines_of(plain)]
    assert [line.model_dump(exclude={"run_id"}) for line in lines_of(prompted)] == strip
    assert all("unit" not in json.loads(line.to_json()) for line in lines_of(prompted))
    # bench score RUN_DIR of the one-unit prompted run: the same values and protocol.
    from bench.cli import main

    assert prompted.record_path is not None
    args = ["score", "--task", "sentiment-en", "--predictions", str(prompted.record_path.parent)]
    args += ["--results", str(tmp_path / "r"), "--limit", "12", "--seed", "3", "--bootstrap"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "200"])
    assert exc.value.code in (0, None)
    again = records.load_record(next((tmp_path / "r").rglob("record.json")))
    assert again.metrics == prompted.record.metrics
    assert again.protocol is not None
    assert again.protocol.units == prompted.record.protocol.units


def test_num_fewshot_changes_the_exemplars_and_is_recorded(
    adapter_module: Any, tmp_path: Path
) -> None:
    task = task_with(fewshot={"k": 2})
    one = run(tmp_path / "a", task, num_fewshot=1)
    three = run(tmp_path / "b", task, num_fewshot=3)
    zero = run(tmp_path / "c", task, num_fewshot=0)
    assert {len(line.shots or []) for line in lines_of(one)} == {1}
    assert {len(line.shots or []) for line in lines_of(three)} == {3}
    assert all(line.shots is None for line in lines_of(zero))
    assert one.record is not None and three.record is not None and zero.record is not None
    assert one.record.protocol is not None and three.record.protocol is not None
    assert three.record.protocol.identity["num_fewshot"] == 3
    assert three.record.protocol.identity["fewshot"]["k"] == 3
    assert one.record.model.fingerprint != three.record.model.fingerprint
    assert zero.record.protocol is not None and zero.record.protocol.fewshot_hash is None


def test_num_fewshot_is_validated_on_the_command_line(
    adapter_module: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "-t", "sentiment-en", "--num-fewshot", "-1", "--results", str(tmp_path)])
    assert exc.value.code == 2
    assert "--num-fewshot" in capsys.readouterr().err


def test_protocol_support_reason_skips_the_pair(adapter_module: Any, tmp_path: Path) -> None:
    out = run(tmp_path, one_prompt(), "refuse=no log-likelihoods through this endpoint")
    assert out.status == "skipped"
    assert out.reason == "no log-likelihoods through this endpoint"
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.json"))


def test_batch_sizes_1_and_16_give_the_same_record_and_exemplars(
    adapter_module: Any, tmp_path: Path
) -> None:
    task = task_with(prompts=VARIANTS, fewshot={"k": 2, "draws": 2, "selector": "random"})
    small = run(tmp_path / "a", task, "sort=true", batch_size=1, limit=20)
    large = run(tmp_path / "b", task, "sort=true", batch_size=16, limit=20)
    assert comparable(small) == comparable(large)
    a = [line.model_dump(exclude={"run_id"}) for line in lines_of(small)]
    b = [line.model_dump(exclude={"run_id"}) for line in lines_of(large)]
    assert a == b


def test_sort_key_orders_requests_across_batch_size_chunks(
    adapter_module: Any, tmp_path: Path
) -> None:
    from bench.families.base import get_family as family_of
    from bench.stages import predict, prepare

    task = one_prompt()
    prepared = prepare(task, cfg(tmp_path, limit=20))
    family = family_of("sentiment")
    adapter = make_adapter(parse_model_spec("plugin:prompted_test_adapter:Prompted,sort=true"))
    bound = adapter.for_task(task, family)
    adapter_module.CALLS.clear()
    got = predict(bound, prepared.requests, None, family=family, fingerprint="x", batch_size=4)
    by_length = sorted(prepared.requests, key=lambda r: len(r.text))  # stable, as the runner
    assert [i for call in adapter_module.CALLS for i in call] == [r.id for r in by_length]
    assert all(len(call) <= 4 for call in adapter_module.CALLS)
    # Answers come back in input order.
    direct = bound.predict(list(prepared.requests))
    assert [got.responses[i] for i in range(20)] == direct


def test_bench_score_rescores_a_multi_unit_run_to_the_same_values(
    adapter_module: Any, tmp_path: Path
) -> None:
    from bench.cli import main

    task_file = tmp_path / "tasks" / "sentiment-variants.yaml"
    task_file.parent.mkdir()
    data = task_with(
        prompts=VARIANTS, fewshot={"k": 2, "draws": 2, "selector": "random"}
    ).model_dump(mode="json", exclude_none=True)
    data["name"] = "sentiment-variants"
    task_file.write_text(json.dumps(data), encoding="utf-8")
    task = load_task(task_file)
    out = run(tmp_path, task, bootstrap=BootstrapConfig(resamples=0, seed=12345))
    assert out.record_path is not None and out.record is not None
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "score", "--task", "sentiment-variants",
                "--predictions", str(out.record_path.parent),
                "--results", str(tmp_path / "rescored"), "--limit", "12", "--bootstrap", "0",
                "--tasks-dir", str(task_file.parent),
            ]
        )  # fmt: skip
    assert exc.value.code in (0, None)
    again = records.load_record(next((tmp_path / "rescored").rglob("record.json")))
    assert again.model.info["rescored_run"] == out.record.run_id
    assert again.metrics == out.record.metrics
    assert again.protocol is not None and out.record.protocol is not None
    assert again.protocol.units == out.record.protocol.units
    assert again.protocol.fewshot_hash == out.record.protocol.fewshot_hash


def test_check_determinism_refuses_several_units_and_checks_one(
    adapter_module: Any, tmp_path: Path
) -> None:
    from bench.stages import DeterminismCheck

    check = DeterminismCheck(sample=6, seed=2)
    task = task_with(prompts=VARIANTS)
    with pytest.raises(BenchError, match="--check-determinism does not check runs with several"):
        run(tmp_path / "a", task, determinism=check)
    one = run(tmp_path / "b", task_with(fewshot={"k": 2}), determinism=check)
    assert one.determinism is not None and one.record is not None
    assert len(one.determinism.checked) == 6 and one.determinism.changed_predictions == []
    assert one.record.determinism is not None


def test_ray_executor_refuses_a_protocol_with_several_units(adapter_module: Any) -> None:
    from bench.executors.ray import _refuse_units

    adapter = make_adapter(parse_model_spec("plugin:prompted_test_adapter:Prompted"))
    config = RunConfig(results=Path("unused"))
    with pytest.raises(BenchError, match="--executor ray does not run prompt variants") as exc:
        _refuse_units(adapter, task_with(prompts=VARIANTS), config, "m")
    assert "--executor local" in str(exc.value)
    with pytest.raises(BenchError, match="in-context examples"):
        _refuse_units(adapter, one_prompt(), RunConfig(results=Path("u"), num_fewshot=2), "m")
    assert _refuse_units(adapter, one_prompt(), config, "m") is None
    refusing = make_adapter(parse_model_spec("plugin:prompted_test_adapter:Prompted,refuse=no"))
    assert _refuse_units(refusing, task_with(prompts=VARIANTS), config, "m") == "no"
