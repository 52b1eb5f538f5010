"""bench.registry: lazy names, did-you-mean, built-ins, and real entry-point plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.errors import MissingDependency, UnknownName
from bench.registry import _BUILTINS, ENTRY_POINT_GROUP, KINDS, PluginWarning, Registry, registry

REPO = Path(__file__).resolve().parents[2]
NLTK_DATA = REPO.parent / "shared" / "nltk_data"

ECHO_PLUGIN = '''\
"""A third-party adapter: answers every sentiment request with its first label."""

from bench.adapters.base import Adapter
from bench.families.sentiment import SentimentResponse


class EchoAdapter(Adapter):
    name = "echo"
    families = ("sentiment",)

    def predict(self, requests):
        return [SentimentResponse(label=r.labels[0], raw=r.labels[0]) for r in requests]


class FakeAccuracy:
    name = "accuracy"
'''


def make_plugin(root: Path, entry_points: str, *, module: str = "echo_plugin") -> Path:
    """Lay out an installed distribution (package + ``*.dist-info``) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(ECHO_PLUGIN, encoding="utf-8")
    info = root / f"{module.replace('_', '-')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{textwrap.dedent(entry_points)}", encoding="utf-8"
    )
    return root


def write_module(root: Path, name: str, body: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(body, encoding="utf-8")


# --------------------------------------------------------------------------- lazy names


def test_string_targets_are_imported_only_on_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "bench_lazy_probe", "class Thing:\n    name = 'thing'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "bench_lazy_probe", raising=False)
    reg = Registry()
    reg.register("metric", "thing", "bench_lazy_probe:Thing")
    assert "thing" in reg.names("metric")
    assert ("metric", "thing") in reg
    assert "bench_lazy_probe" not in sys.modules
    obj = reg.get("metric", "thing")
    assert "bench_lazy_probe" in sys.modules
    assert obj is sys.modules["bench_lazy_probe"].Thing
    assert reg.get("metric", "thing") is obj  # resolved once


def test_dotted_attributes_and_objects_can_be_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "bench_dotted_probe", "class Outer:\n    class Inner:\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry()
    reg.register("step", "inner", "bench_dotted_probe:Outer.Inner")
    assert reg.get("step", "inner").__qualname__ == "Outer.Inner"
    marker = object()
    reg.register("adapter", "obj", marker)
    assert reg.get("adapter", "obj") is marker
    # Re-registering a name replaces what it resolves to.
    other = object()
    reg.register("adapter", "obj", other)
    assert reg.get("adapter", "obj") is other


def test_a_broken_target_fails_on_get_not_on_register() -> None:
    reg = Registry()
    reg.register("metric", "broken", "bench_no_such_module_xyz:Thing")
    assert ("metric", "broken") in reg
    with pytest.raises(MissingDependency) as info:
        reg.get("metric", "broken")
    assert "bench_no_such_module_xyz" in str(info.value)
    assert "pip install bench_no_such_module_xyz" in str(info.value)


def test_registries_are_independent() -> None:
    a, b = Registry(), Registry(_BUILTINS)
    a.register("metric", "only-in-a", object())
    assert ("metric", "only-in-a") not in b
    assert ("metric", "only-in-a") not in registry
    assert ("metric", "accuracy") in b and ("metric", "accuracy") not in a


# --------------------------------------------------------------------------- unknown names


@pytest.mark.parametrize(
    ("kind", "name", "suggestion"),
    [
        ("metric", "acuracy", "accuracy"),
        ("step", "zh_segmnt", "zh_segment"),
        ("family", "sentimnt", "sentiment"),
        ("adapter", "baseline:tfidf-logrg", "baseline:tfidf-logreg"),
    ],
)
def test_unknown_names_have_did_you_mean(kind: str, name: str, suggestion: str) -> None:
    reg = Registry(_BUILTINS)
    with pytest.raises(UnknownName) as info:
        reg.get(kind, name)  # type: ignore[arg-type]
    err = info.value
    assert err.message == f"unknown {kind} '{name}' (did you mean '{suggestion}'?)"
    assert err.fix is not None and suggestion in err.fix
    assert err.fix.startswith("use one of: ")


def test_a_far_name_gets_no_suggestion_but_the_list() -> None:
    reg = Registry(_BUILTINS)
    with pytest.raises(UnknownName) as info:
        reg.get("metric", "zzzzzz")
    assert "did you mean" not in info.value.message
    # Installed plugins (CI installs the example plugin) add their metrics to the list.
    assert info.value.fix == "use one of: " + ", ".join(reg.names("metric"))


def test_unknown_kind() -> None:
    reg = Registry(_BUILTINS)
    with pytest.raises(UnknownName, match=r"unknown registry kind 'metrc' \(did you mean 'metric'"):
        reg.get("metrc", "accuracy")  # type: ignore[arg-type]
    with pytest.raises(UnknownName):
        reg.names("metrics")  # type: ignore[arg-type]
    with pytest.raises(UnknownName):
        reg.register("model", "x", object())  # type: ignore[arg-type]
    assert ("metrc", "accuracy") not in reg


# --------------------------------------------------------------------------- built-ins


BUILTIN_NAMES = [(kind, name) for kind in KINDS for name in _BUILTINS[kind]]


def test_every_kind_has_builtins() -> None:
    assert set(_BUILTINS) == set(KINDS)
    assert all(_BUILTINS[kind] for kind in KINDS)
    for kind in KINDS:
        assert set(_BUILTINS[kind]) <= set(registry.names(kind))


@pytest.mark.parametrize(
    ("kind", "name"), BUILTIN_NAMES, ids=[f"{k}:{n}" for k, n in BUILTIN_NAMES]
)
def test_every_builtin_resolves_to_a_class_of_that_name(kind: str, name: str) -> None:
    from bench.families.base import Family
    from bench.metrics.base import Metric
    from bench.preprocess.base import Step

    obj = registry.get(kind, name)  # type: ignore[arg-type]
    assert isinstance(obj, type)
    # A class knows the stable name it is registered under.
    assert obj.name == name
    base = {"family": Family, "step": Step, "metric": Metric}.get(kind)
    if base is not None:
        assert issubclass(obj, base)
    else:
        for method in ("fingerprint", "supports", "predict"):
            assert callable(getattr(obj, method))


PARAM_NAMES = [(kind, name) for kind in ("step", "metric") for name in _BUILTINS[kind]]


@pytest.mark.parametrize(("kind", "name"), PARAM_NAMES, ids=[f"{k}:{n}" for k, n in PARAM_NAMES])
def test_builds_without_params_is_what_the_class_does(kind: str, name: str) -> None:
    # The task loader skips importing a bare-named built-in on this answer, so it must be
    # exactly whether the class builds with no parameters.
    from pydantic import ValidationError

    cls = registry.get(kind, name)  # type: ignore[arg-type]
    try:
        cls()
        builds = True
    except (ValidationError, TypeError):
        builds = False
    assert registry.builds_without_params(kind, name) is builds  # type: ignore[arg-type]


def test_check_name_imports_nothing_and_fails_like_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "bench_check_probe", "class Thing:\n    name = 'thing'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "bench_check_probe", raising=False)
    reg = Registry(_BUILTINS)
    reg.register("metric", "thing", "bench_check_probe:Thing")
    reg.check_name("metric", "thing")
    assert "bench_check_probe" not in sys.modules
    with pytest.raises(UnknownName) as checked:
        reg.check_name("metric", "acuracy")
    with pytest.raises(UnknownName) as got:
        reg.get("metric", "acuracy")
    assert (checked.value.message, checked.value.fix) == (got.value.message, got.value.fix)
    # Only a built-in still registered as shipped is known to build without parameters.
    assert not reg.builds_without_params("metric", "thing")
    assert reg.builds_without_params("metric", "accuracy")
    reg.register("metric", "accuracy", "bench_check_probe:Thing")
    assert not reg.builds_without_params("metric", "accuracy")


# --------------------------------------------------------------------------- plugins


def test_an_installed_plugin_resolves_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plugin(
        tmp_path,
        """\
        adapter.echo = echo_plugin:EchoAdapter
        metric.accuracy = echo_plugin:FakeAccuracy
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "echo_plugin", raising=False)
    reg = Registry(_BUILTINS)
    assert "echo" in reg.names("adapter")
    assert "echo_plugin" not in sys.modules  # plugins are lazy too
    cls = reg.get("adapter", "echo")
    assert cls.__module__ == "echo_plugin" and cls.__name__ == "EchoAdapter"
    adapter = cls("anything")
    assert adapter.supports("sentiment") and not adapter.supports("qa")
    # A plugin cannot silently replace a built-in name.
    from bench.metrics.classification import Accuracy

    assert reg.get("metric", "accuracy") is Accuracy
    # Without the plugin distribution on the path, the name is unknown.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    with pytest.raises(UnknownName, match="unknown adapter 'echo'"):
        Registry(_BUILTINS).get("adapter", "echo")


def test_a_misnamed_entry_point_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plugin(tmp_path, "echo = echo_plugin:EchoAdapter\n", module="bad_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry(_BUILTINS)
    with pytest.warns(PluginWarning) as caught:
        names = reg.names("adapter")
    assert "baseline:majority" in names
    (warning,) = [str(w.message) for w in caught if "bad-plugin" in str(w.message)]
    assert "entry point 'echo' = 'echo_plugin:EchoAdapter'" in warning
    assert "KIND.NAME" in warning and "adapter.echo" in warning
    # Asked for by name, the misnamed entry point is the reason it is unknown.
    with pytest.raises(UnknownName) as info:
        reg.get("adapter", "echo")
    assert "entry point 'echo'" in info.value.message
    assert "bad-plugin" in info.value.message
    assert info.value.fix is not None and "adapter.echo" in info.value.fix


def test_a_misnamed_entry_point_leaves_every_other_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the first bad entry point raised once, and the registry, already marked
    scanned, then lacked every plugin, the good ones included."""
    make_plugin(tmp_path, "adapters.typo = bad_plugin:EchoAdapter\n", module="bad_plugin")
    make_plugin(
        tmp_path,
        """\
        adapter.echo = good_plugin:EchoAdapter
        tasks.good = good_plugin:TASKS
        """,
        module="good_plugin",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "good_plugin", raising=False)
    reg = Registry(_BUILTINS)
    with pytest.warns(PluginWarning, match=r"'adapters\.typo'.*bad-plugin"):
        assert "echo" in reg.names("adapter")
    assert "good" in [f.name for f in reg.task_folders()]
    assert reg.get("adapter", "echo").__name__ == "EchoAdapter"  # still there, every time
    assert "echo" in reg.names("adapter") and ("adapter", "echo") in reg
    assert [p.entry_point for p in reg.plugin_problems()] == ["adapters.typo"]
    with pytest.raises(UnknownName, match=r"'adapters\.typo'.*KIND\.NAME"):
        reg.get("adapter", "typo")
    with pytest.raises(UnknownName, match="unknown adapter 'other'"):
        reg.get("adapter", "other")  # names no bad entry point: the usual message


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", NLTK_DATA=str(NLTK_DATA), **extra)
    return env


def test_a_plugin_adapter_runs_from_the_command_line(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "site", "adapter.echo = echo_plugin:EchoAdapter\n")
    results = tmp_path / "results"
    command = [
        sys.executable,
        "-c",
        "from bench.cli import main; main()",
        "run",
        "-m",
        "echo:anything",
        "-t",
        "sentiment-en",
        "--limit",
        "5",
        "--bootstrap",
        "0",
        "--results",
        str(results),
        "--cache",
        str(tmp_path / "cache.sqlite"),
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=_env(PYTHONPATH=str(plugin), BENCH_HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = list(results.glob("*/sentiment-en/record.json"))
    assert len(records) == 1, sorted(str(p) for p in results.rglob("*"))
    record = json.loads(records[0].read_text(encoding="utf-8"))
    assert "echo:anything" in json.dumps(record["model"])
    assert record["metrics"]["accuracy"]["n"] == 5
    samples = records[0].with_name("samples.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(samples) == 5
    assert {json.loads(s)["prediction"] for s in samples} == {"negative"}  # the first label


def test_importing_bench_imports_neither_torch_nor_datasets() -> None:
    code = (
        "import json, sys\n"
        "import bench, bench.cli, bench.spec, bench.runner, bench.catalog, bench.registry\n"
        "from bench.registry import registry\n"
        "registry.names('adapter')\n"
        "heavy = ['torch', 'datasets', 'transformers']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
