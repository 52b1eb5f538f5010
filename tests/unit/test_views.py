"""Model and metric views of preprocessing, on the real smoke data: a prompted adapter reads the
original Chinese text (full-width punctuation kept), every other adapter the normalised text as
before; the view is in each step's identity. Also: every smoke task ships three prompt
variants and validates as a user validates it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.prompting import messages, render
from bench.errors import TaskSpecError
from bench.preprocess import build_steps, map_fingerprint, model_view, steps_identity
from bench.preprocess.text import CollapseWhitespace, Lowercase, UnicodeNFKC
from bench.preprocess.zh import TraditionalToSimplified, ZhSegment
from bench.spec import ScoringSpec, StepSpec, load_task
from bench.stages import RunConfig, prepare

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tasks" / "smoke"
_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]
FULL_WIDTH = "，！？：；（）"


def _config(tmp_path: Path) -> RunConfig:
    return RunConfig(results=tmp_path / "results", cache=None, limit=40)


def test_prompted_requests_keep_full_width_punctuation(tmp_path: Path) -> None:
    task = load_task(SMOKE / "sentiment-zh.yaml")
    assert task.preprocess[0].name == "unicode_nfkc"
    prompted = prepare(task, _config(tmp_path), prompted=True)
    plain = prepare(task, _config(tmp_path))
    raw_texts = [r.text for r in prompted.requests]
    norm_texts = [r.text for r in plain.requests]
    changed = [i for i, t in enumerate(raw_texts) if any(c in t for c in FULL_WIDTH)]
    assert changed, "the smoke data has full-width punctuation in its first 40 texts"
    for i in changed:
        # the metric (and baseline) side: NFKC as before; the model side: the original.
        assert norm_texts[i] == unicodedata.normalize("NFKC", raw_texts[i])
        assert not any(c in norm_texts[i] for c in FULL_WIDTH)
    # The prompt a prompted adapter sends holds the text unchanged, in each variant.
    request = prompted.requests[changed[0]]
    text = request.text
    for name, _ in task.prompt_variants():
        bound = task.bind_variant(name)
        assert text in render(request, bound)
        assert text in messages(request, bound)[-1]["content"]
    # Both views ran the other steps (tokens exist; same ids, same labels).
    assert [r.id for r in prompted.requests] == [r.id for r in plain.requests]
    assert list(prompted.references) == list(plain.references)
    assert request.tokens


def test_a_task_can_put_a_step_in_the_model_view(tmp_path: Path) -> None:
    task = load_task(SMOKE / "sentiment-zh.yaml")
    steps = list(task.preprocess)
    steps[0] = StepSpec(name="unicode_nfkc", params={"view": "both"})
    task = task.model_copy(update={"preprocess": steps})
    prompted = prepare(task, _config(tmp_path), prompted=True)
    plain = prepare(task, _config(tmp_path))
    assert [r.text for r in prompted.requests] == [r.text for r in plain.requests]
    assert not any(c in r.text for r in prompted.requests for c in FULL_WIDTH)


def test_default_views_and_model_view_order() -> None:
    assert UnicodeNFKC().effective_view == "metric"
    assert Lowercase().effective_view == "metric"
    assert TraditionalToSimplified().effective_view == "metric"
    assert CollapseWhitespace().effective_view == "both"
    assert ZhSegment().effective_view == "both"
    steps = [UnicodeNFKC(), CollapseWhitespace(), UnicodeNFKC(view="model"), ZhSegment()]
    assert model_view(steps) == [steps[1], steps[2], steps[3]]


def test_step_identity_includes_the_view() -> None:
    default, both = UnicodeNFKC(), UnicodeNFKC(view="both")
    assert default.identity()["view"] == "metric"
    assert both.identity()["view"] == "both"
    assert default.identity()["params"] == {"fields": None}  # view is not a param key
    # An explicit view equal to the default is the same step.
    assert UnicodeNFKC(view="metric").identity() == default.identity()
    assert steps_identity([default]) != steps_identity([both])
    assert map_fingerprint("p", default, ["text"]) != map_fingerprint("p", both, ["text"])


def test_token_step_in_the_model_view_needs_a_model_view_tokeniser() -> None:
    task = load_task(SMOKE / "sentiment-zh.yaml")
    steps = [StepSpec(name="zh_segment", params={"view": "metric"}), StepSpec(name="truncate",
             params={"max_tokens": 5})]  # fmt: skip
    with pytest.raises(TaskSpecError) as err:
        build_steps(task.model_copy(update={"preprocess": steps}))
    assert err.value.message == (
        "task 'sentiment-zh': preprocess[1] 'truncate' is in the model view (view: both) and "
        "works on tokens, but every tokenising step before it is metric-only"
    )


def test_view_in_a_task_file_is_validated(tmp_path: Path) -> None:
    text = (SMOKE / "sentiment-zh.yaml").read_text(encoding="utf-8")
    path = tmp_path / "sentiment-zh.yaml"
    path.write_text(text.replace("  - unicode_nfkc\n", "  - unicode_nfkc: {view: reader}\n"))
    line = 1 + text.splitlines().index("  - unicode_nfkc")
    expected = (
        rf"line {line}: field 'preprocess\[0\]\.unicode_nfkc': view: Input should be 'model', "
        r"'metric' or 'both'"
    )
    with pytest.raises(TaskSpecError, match=expected):
        load_task(path)
    path.write_text(text.replace("  - unicode_nfkc\n", "  - unicode_nfkc: {view: model}\n"))
    assert load_task(path).preprocess[0].params == {"view": "model"}


SMOKE_TASKS = sorted(p.stem for p in SMOKE.glob("*.yaml") if p.stem != "recommendation-synthetic")


@pytest.mark.parametrize("name", SMOKE_TASKS)
def test_smoke_tasks_ship_three_variants(name: str) -> None:
    task = load_task(SMOKE / f"{name}.yaml")
    assert task.prompt is None and task.prompts is not None
    names = [v.name for v in task.prompts]
    assert len(names) >= 3 and names[0] == "default" and len(set(names)) == len(names)
    if task.family == "sentiment":
        assert all(v.verbalizers for v in task.prompts)
    if "zh" in task.languages:
        # Chinese tasks: variants in Chinese and in English.
        cjk = [any("\u4e00" <= c <= "\u9fff" for c in v.template.replace("{{", "")) for v in
               task.prompts]  # fmt: skip
        assert any(cjk) and not all(cjk), names
    if task.family == "sentiment" and task.language == "zh":
        words = {tuple(sorted((v.verbalizers or {}).values())) for v in task.prompts}
        assert len(words) >= 2  # each language its own verbalisers


def test_smoke_tasks_validate_with_the_cli() -> None:
    files = [str(SMOKE / f"{n}.yaml") for n in SMOKE_TASKS]
    done = subprocess.run(
        [*BENCH, "tasks", "validate", *files],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok ") == len(files), done.stdout


def _openai_server() -> Any:
    path = REPO / "tests" / "fixtures" / "openai_server.py"
    spec = importlib.util.spec_from_file_location("openai_server_views", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["openai_server_views"] = module
    spec.loader.exec_module(module)
    return module.OpenAIServer


def test_a_prompted_adapter_run_reads_the_original_text(tmp_path: Path) -> None:
    # The whole pair through the runner, against a real HTTP server: the prompted adapter's
    # samples show the original text, the same adapter unprompted the NFKC'd text.
    from bench.adapters.base import parse_model_spec
    from bench.adapters.openai import OpenAIAdapter
    from bench.catalog import find_task
    from bench.metrics.base import BootstrapConfig
    from bench.runner import run_pair

    class Unprompted(OpenAIAdapter):
        @property
        def prompted(self) -> bool:
            return False

    inputs = {}
    with _openai_server()() as server:
        model = parse_model_spec(f"openai:test-model,base_url={server.base_url}")
        for cls in (OpenAIAdapter, Unprompted):
            adapter = cls(
                "test-model", base_url=server.base_url, backoff=0.0, api_key_env="BENCH_NO_KEY"
            )
            config = RunConfig(
                results=tmp_path / cls.__name__, limit=30, bootstrap=BootstrapConfig(resamples=0)
            )
            task = find_task("sentiment-zh").bind_variant("default")
            task = task.model_copy(update={"scoring": ScoringSpec(mode="generate")})
            outcome = run_pair(model, task, config, adapter=adapter)
            assert outcome.record_path is not None
            lines = (outcome.record_path.parent / "samples.jsonl").read_text("utf-8")
            inputs[cls] = [json.loads(line)["input"] for line in lines.splitlines()]
    raw, normalised = inputs[OpenAIAdapter], inputs[Unprompted]
    assert any(c in t for t in raw for c in FULL_WIDTH)
    assert normalised == [unicodedata.normalize("NFKC", t) for t in raw]
    assert raw != normalised
