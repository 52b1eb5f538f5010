"""Conformance: every task file under tasks/, and every task template, is a working task."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.catalog import builtin_tasks_root, discover
from bench.data import load_split
from bench.families.base import Family, get_family
from bench.preprocess import build_steps
from bench.registry import _BUILTINS, registry
from bench.spec import LANGUAGE, TaskSpec, load_task
from bench.templates import task_template

# The families a task file may use (internal ones, such as the LLM judge's, have no tasks).
TASK_FAMILIES = sorted(n for n in _BUILTINS["family"] if not registry.get("family", n).internal)

ROOT = builtin_tasks_root()
TASK_FILES = sorted(ROOT.rglob("*.yaml"))
IDS = [p.relative_to(ROOT).as_posix() for p in TASK_FILES]
BUILTIN_DATA = [
    p for p in TASK_FILES if yaml.safe_load(p.read_text("utf-8"))["source"]["kind"] == "builtin"
]


def test_there_are_tasks_and_discovery_finds_each_file_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    assert len(TASK_FILES) >= 5 and len(BUILTIN_DATA) >= 2
    tasks = discover()
    # Installed plugins may add task folders of their own; the repo's files are found once each.
    found = [t.path for t in tasks.values() if t.path is not None and t.path.is_relative_to(ROOT)]
    assert sorted(found) == TASK_FILES
    assert {p.parent.name for p in TASK_FILES} >= {"smoke", "standard"}


@pytest.fixture(params=TASK_FILES, ids=IDS)
def spec(request: pytest.FixtureRequest) -> TaskSpec:
    path: Path = request.param
    return load_task(path, suite=path.relative_to(ROOT).parts[0])


def test_name_is_the_file_stem(spec: TaskSpec) -> None:
    assert spec.path is not None
    assert spec.name == spec.path.stem
    assert spec.version >= 1
    assert spec.description.strip()


def test_languages_are_set(spec: TaskSpec) -> None:
    assert spec.languages
    assert all(re.match(LANGUAGE, lang) for lang in spec.languages)
    assert len(set(spec.languages)) == len(spec.languages)
    # The catalog's two languages: every task has English or Chinese on one side (de-en too).
    assert {lang.split("-")[0] for lang in spec.languages} & {"en", "zh"}


def test_primary_metric_is_one_of_the_metrics(spec: TaskSpec) -> None:
    names = [m.name for m in spec.metrics]
    # A metric reporting several values is named by one of them: ndcg@10, f1/positive.
    assert spec.primary_metric.split("@")[0].split("/")[0] in names
    assert len(set(names)) == len(names)


def test_every_metric_resolves_and_takes_its_params(spec: TaskSpec) -> None:
    for metric in spec.metrics:
        cls = registry.get("metric", metric.name)
        instance = cls(**metric.params)
        assert instance.name == metric.name


def test_every_step_resolves_and_the_pipeline_builds(spec: TaskSpec) -> None:
    for step in spec.preprocess:
        assert registry.get("step", step.name).name == step.name
    steps = build_steps(spec)
    assert [s.name for s in steps] == [s.name for s in spec.preprocess]


def test_the_family_accepts_the_spec(spec: TaskSpec) -> None:
    family = get_family(spec.family)
    assert isinstance(family, Family) and family.name == spec.family
    family.check_spec(spec)
    if spec.family == "sentiment":
        assert spec.labels and len(spec.labels) >= 2


def test_a_remote_source_declares_its_original_release(spec: TaskSpec) -> None:
    source = spec.source
    if source.kind in ("hub", "url", "sacrebleu"):
        # So that --data NAME=PATH can load a local copy behind a firewall.
        assert source.original_release() is not None
    if source.kind == "url" and not source.archive_md5:
        for files in (source.files or {}).values():
            for name in [files] if isinstance(files, str) else files:
                assert name in source.sha256, f"{name} is downloaded but not pinned"


def _refs(ds: object) -> list[tuple[str, ...]]:
    from bench.families.generation import row_references

    return [row_references(row) for row in ds]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", BUILTIN_DATA, ids=[p.stem for p in BUILTIN_DATA])
def test_builtin_data_loads(path: Path) -> None:
    # Remote data (hub, url, sacrebleu) is loaded from local copies in the unit and golden tests.
    spec = load_task(path)
    family = get_family(spec.family)
    test = load_split(spec, family, "test").dataset
    if spec.family == "sentiment":
        train = load_split(spec, family, "train").dataset
        assert len(train) >= 300 and len(test) >= 150
        assert not set(train["id"]) & set(test["id"])
        for split in (train, test):
            counts = Counter(split["label"])
            assert set(counts) == set(spec.labels or ())
            assert min(counts.values()) >= 0.4 * max(counts.values())  # balanced enough
        # No templated near-duplicates: texts are unique across both splits.
        texts = [t.strip().lower() for t in [*train["text"], *test["text"]]]
    elif spec.family == "translation":
        train = load_split(spec, family, "train").dataset
        assert len(train) >= 500 and len(test) >= 150
        texts = [t.strip() for t in [*train["source"], *test["source"]]]
        assert all(refs and all(r.strip() for r in refs) for refs in _refs(test))
    elif spec.family == "summarization":
        assert len(test) >= 60
        texts = [t.strip() for t in test["document"]]
        assert all(refs and all(r.strip() for r in refs) for refs in _refs(test))
    elif spec.family == "qa":
        assert len(test) >= 100 and len(set(test["context"])) >= 20
        for row in test:
            assert row["answers"] and all(a in row["context"] for a in row["answers"])
        texts = [q.strip() for q in test["question"]]
    elif spec.family == "recommendation":
        assert len(test) >= 20_000  # interactions
        prepared: object = None
        prepared = family.prepare(spec, data_override=None, limit=None)
        assert prepared is not None and len(prepared.requests) >= 400  # type: ignore[attr-defined]
        assert prepared.info["users_excluded"] == 0
        texts = [r.user for r in prepared.requests]
    elif spec.family == "word-similarity":
        assert len(test) >= 40
        assert all(0 <= score <= 10 for score in test["score"])
        texts = [f"{a}\t{b}" for a, b in zip(test["word1"], test["word2"], strict=True)]
    elif spec.family == "word-analogy":
        assert len(test) >= 50 and len(set(test["category"])) >= 3
        texts = [" ".join(q) for q in zip(test["a"], test["b"], test["c"], test["d"], strict=True)]
    else:  # pragma: no cover - a new family adds its own checks here
        pytest.fail(f"no conformance checks for family {spec.family}")
    assert len(set(texts)) == len(texts)
    if spec.family == "recommendation":
        assert prepared is not None
        assert spec.test_size == len(prepared.requests)
    else:
        assert spec.test_size == len(test), "test_size must be what the data holds"


def test_every_builtin_family_has_a_template() -> None:
    for name in TASK_FAMILIES:
        assert registry.get("family", name).new_task_template, name


@pytest.mark.parametrize("family", TASK_FAMILIES)
def test_new_task_template_validates(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.cli import main

    monkeypatch.chdir(tmp_path)
    name = f"my-{family}-task"
    with pytest.raises(SystemExit) as info:
        main(["new-task", name, "--family", family, "--dir", str(tmp_path / "custom")])
    assert info.value.code in (0, None)
    path = tmp_path / "custom" / f"{name}.yaml"
    assert path.read_text(encoding="utf-8") == task_template(name, family)
    spec = load_task(path)
    assert spec.name == name and spec.family == family
    assert "#" in path.read_text(encoding="utf-8")  # the template explains itself
    get_family(family).check_spec(spec)
    build_steps(spec)


def test_a_declared_test_size_is_positive(spec: TaskSpec) -> None:
    # For the catalog and `bench tasks list` where the data is not local (checked against the
    # data above for built-in data); a size the publishers do not state is left out ("—").
    assert spec.test_size is None or spec.test_size > 0
    if spec.source.kind == "builtin":
        assert spec.test_size is not None


FEWSHOT_FAMILIES = {"sentiment", "translation", "summarization", "qa"}
"""The families whose prompts take exemplars (recommendation and word vectors do not)."""


def test_few_shot_exemplars_come_from_a_declared_split(spec: TaskSpec) -> None:
    # So that the LLM protocol's fewshot works on every task without editing it: a task whose
    # source has a train or validation role names the one exemplars come from.
    roles = set(spec.source.splits or {})
    if spec.family not in FEWSHOT_FAMILIES or not roles & {"train", "validation"}:
        return
    if spec.suite == "smoke":
        return  # the built-in suite keeps its own defaults (exemplars from train)
    assert spec.fewshot is not None, f"{spec.name}: add fewshot: {{split: ...}}"
    assert spec.fewshot.split in roles


def test_only_data_written_for_bench_ships_with_it(spec: TaskSpec) -> None:
    # Data bench ships (source kind builtin) is the smoke suite, written for bench under the
    # project's licence; every other task downloads or reads its data under the publisher's
    # terms, which `bench tasks show` states.
    if spec.source.kind == "builtin":
        assert spec.suite == "smoke" and spec.license == "Apache-2.0", spec.name
    else:
        assert spec.suite != "smoke"
