"""Plugins from outside the repository: the example plugin package, really installed.

``tests/fixtures/bench_example_plugin`` is built and installed with pip into a temporary
folder (once per module), and ``bench`` runs in a subprocess with only that folder on
``PYTHONPATH`` and its working directory outside the repository. Each extension point is
checked through what a user sees: ``bench tasks list``, run records and samples, exit codes.
The tests work the same whether or not the plugin is also installed in the environment (CI
installs it): the temporary copy comes first on the path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from bench.adapters.base import PluginAdapter, make_adapter
from bench.errors import ModelSpecError, TaskSpecError
from bench.metrics.base import BootstrapConfig

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SRC = REPO / "tests" / "fixtures" / "bench_example_plugin"
NLTK_DATA = REPO.parent / "shared" / "nltk_data"
DIST = "bench-example-plugin"
TASK = "example-sentiment"
RESAMPLES = 200


def _install_with_pip(src: Path, site: Path) -> subprocess.CompletedProcess[str]:
    # Built from a copy, so setuptools' build/ and *.egg-info never land in the repository.
    build = site.parent / "src"
    shutil.copytree(src, build, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "--target", str(site),
         str(build)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _copy_installed_distribution(site: Path) -> bool:
    """Lay out the environment's installed copy (from its RECORD) under ``site``."""
    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        return False
    for rel in dist.files or []:
        source = Path(str(dist.locate_file(rel)))
        if source.is_file() and ".." not in rel.parts and "__pycache__" not in rel.parts:
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return True


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin built and installed by pip into a temporary folder.

    Offline: ``--no-build-isolation`` builds with the environment's setuptools. Where that
    cannot build (an old setuptools without ``bdist_wheel``), the copy pip installed into the
    environment (CI does) is laid out from its RECORD instead: the same packaging metadata.
    """
    site = tmp_path_factory.mktemp("plugin") / "site"
    done = _install_with_pip(PLUGIN_SRC, site)
    if done.returncode != 0 and not _copy_installed_distribution(site):
        pytest.fail(f"cannot install the example plugin:\n{done.stderr[-3000:]}")
    assert list(site.glob("bench_example_plugin-*.dist-info/entry_points.txt"))
    assert (site / "bench_example_plugin" / "tasks" / "example" / "data" / "test.jsonl").is_file()
    return site


def _command() -> list[str]:
    script = Path(sys.executable).with_name("bench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bench.cli"]


def bench(site: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``bench ARGS`` with the plugin folder on PYTHONPATH, outside the repository.

    The folder of the ``bench`` package this test imports follows the plugin folder, so the
    command runs the bench under test (where the environment's copy is installed elsewhere).
    """
    import bench as bench_package

    tested = Path(bench_package.__file__).resolve().parents[1]
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "BENCH_"))}
    full.update(
        PYTHONPATH=os.pathsep.join([str(site), str(tested)]),
        BENCH_HOME=str(cwd / "home"),
        NLTK_DATA=str(NLTK_DATA),
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_CACHE=str(cwd / "hf"),
        **env,
    )
    assert not cwd.resolve().is_relative_to(REPO)
    return subprocess.run(
        [*_command(), *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=180
    )


def _load_plugin_module(site: Path, name: str) -> ModuleType:
    """A module of the installed plugin, loaded from its file under a private name, so this
    process's imports stay as they were."""
    path = site / "bench_example_plugin" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_installed_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- tasks


def test_tasks_list_shows_the_plugin_task_and_its_origin(site: Path, tmp_path: Path) -> None:
    done = bench(site, tmp_path, "tasks", "list", "--format", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    row = rows[TASK]
    assert [row[k] for k in ("suite", "name", "family", "languages", "source", "n scored")] == [
        "example", TASK, "sentiment", "en", "local", "48",
    ]  # fmt: skip
    assert row["primary metric"] == "balanced_accuracy"
    assert row["origin"] == f"plugin {DIST} 0.1.0"
    assert rows["sentiment-zh"]["origin"] == "builtin"
    # The table at 80 columns (COLUMNS honoured when piped) cuts nothing.
    table = bench(site, tmp_path, "tasks", "list", COLUMNS="80")
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    assert f"origin plugin {DIST} 0.1.0" in " ".join(table.stdout.split())


def test_a_task_name_defined_twice_names_both_files(site: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine" / "team"
    mine.mkdir(parents=True)
    plugin_file = site / "bench_example_plugin" / "tasks" / "example" / f"{TASK}.yaml"
    shutil.copy(plugin_file, mine / f"{TASK}.yaml")
    done = bench(site, tmp_path, "tasks", "list", BENCH_TASKS_PATH=str(tmp_path / "mine"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert f"task '{TASK}' is also defined in" in done.stderr
    assert str(mine / f"{TASK}.yaml") in done.stderr and str(plugin_file) in done.stderr
    assert "(BENCH_TASKS_PATH)" in done.stderr and f"(plugin {DIST} 0.1.0)" in done.stderr


# --------------------------------------------------------------------------- run


@pytest.fixture(scope="module")
def runs(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``bench run`` of the entry-point adapter and the factory spec on the plugin task."""
    cwd = tmp_path_factory.mktemp("outside")
    done = bench(
        site, cwd, "run",
        "-m", "lexicon:en",
        "-m", "plugin:bench_example_plugin.adapters:make_adapter,tie=negative,name=factory",
        "-t", TASK, "--bootstrap", str(RESAMPLES), "--results", "results",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, Any] = {"cwd": cwd}
    for key, folder in (("entry", "lexicon-en"), ("factory", "factory")):
        run = cwd / "results" / folder / TASK
        out[key] = {
            "folder": run,
            "record": json.loads((run / "record.json").read_text(encoding="utf-8")),
            "samples": [
                json.loads(x)
                for x in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()
            ],
        }
    return out


def test_the_plugin_step_is_applied(runs: dict[str, Any], site: Path) -> None:
    record, samples = runs["entry"]["record"], runs["entry"]["samples"]
    steps = [s["step"] for s in record["task"]["preprocess"]]
    assert steps == ["unicode_nfkc", "collapse_whitespace", "mark_negation"]
    assert record["task"]["preprocess"][-1]["params"]["prefix"] == "NEG_"
    by_id = {s["id"]: s["input"] for s in samples}
    # Worked by hand from the data file (Das & Chen's scope: up to clause punctuation).
    assert by_id["ex-02"] == "Not NEG_good NEG_at NEG_all, the soup arrived cold."
    assert by_id["ex-07"] == "Delivery was fast and the box was not NEG_damaged."
    assert by_id["ex-22"] == "I can't NEG_say NEG_the NEG_room NEG_was NEG_clean."
    raw = {
        json.loads(x)["id"]: json.loads(x)["text"]
        for x in (site / "bench_example_plugin" / "tasks" / "example" / "data" / "test.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    }
    assert set(by_id) == set(raw)
    for key, text in raw.items():  # only words change: removing the marks gives the text back
        assert by_id[key].replace("NEG_", "") == text


def _expected_label(text: str, lexicon: dict[str, frozenset[str]], tie: str) -> str:
    """The lexicon rule, written again here from its description."""
    score = 0
    for raw in text.replace(",", " ").replace(".", " ").replace(";", " ").split():
        negated = raw.startswith("NEG_")
        word = raw.removeprefix("NEG_").strip("!?:").lower()
        value = (1 if word in lexicon["positive"] else 0) - (
            1 if word in lexicon["negative"] else 0
        )
        score += -value if negated else value
    return "positive" if score > 0 else "negative" if score < 0 else tie


@pytest.mark.parametrize(("key", "tie"), [("entry", "positive"), ("factory", "negative")])
def test_adapter_answers_and_plugin_metric_values(
    runs: dict[str, Any], site: Path, key: str, tie: str
) -> None:
    record, samples = runs[key]["record"], runs[key]["samples"]
    lexicon = _load_plugin_module(site, "adapters").LEXICONS["en"]
    predictions = [s["prediction"] for s in samples]
    references = [s["reference"] for s in samples]
    assert predictions == [_expected_label(s["input"], lexicon, tie) for s in samples]
    assert record["failures"]["count"] == 0 and record["model"]["adapter"] == "lexicon"
    # The plugin metric, recomputed with scikit-learn, point value and bootstrap interval.
    value = record["metrics"]["balanced_accuracy"]
    assert record["primary_metric"] == "balanced_accuracy"
    assert value["n"] == len(samples) == 48
    assert value["value"] == pytest.approx(balanced_accuracy_score(references, predictions), 1e-12)
    assert value["value"] != pytest.approx(record["metrics"]["accuracy"]["value"])
    gold, pred = np.array(references), np.array(predictions)
    idx = BootstrapConfig(resamples=RESAMPLES).resample_indices(len(samples))
    with warnings.catch_warnings():  # a resample may lack a predicted class: sklearn warns
        warnings.simplefilter("ignore")
        boot = [balanced_accuracy_score(gold[i], pred[i]) for i in idx]
    low, high = np.quantile(boot, [0.025, 0.975])
    assert (value["ci_low"], value["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    assert value["signature"] == (
        "balanced_accuracy|labels:negative,positive|invalid:miss|average:gold-classes|"
        f"boot:{RESAMPLES}|conf:0.95|seed:12345|plugin:{DIST}-0.1.0|v:1"
    )
    assert [s["scores"]["balanced_accuracy/correct"] for s in samples] == [
        float(p == r) for p, r in zip(predictions, references, strict=True)
    ]


def test_the_tie_parameter_changes_exactly_the_ties(runs: dict[str, Any], site: Path) -> None:
    adapters = _load_plugin_module(site, "adapters")
    entry, factory = runs["entry"]["samples"], runs["factory"]["samples"]
    ties = [s["id"] for s in entry if adapters.polarity(s["input"]) == 0]
    differ = [
        a["id"] for a, b in zip(entry, factory, strict=True) if a["prediction"] != b["prediction"]
    ]
    assert ties and differ == ties


def test_records_name_the_plugin_distribution(runs: dict[str, Any]) -> None:
    entry, factory = runs["entry"]["record"]["model"], runs["factory"]["record"]["model"]
    assert entry["info"]["plugin"] == {
        "source": "entry point adapter.lexicon",
        "module": "bench_example_plugin.adapters",
        "distribution": DIST,
        "version": "0.1.0",
    }
    assert factory["info"]["plugin"]["source"] == (
        "plugin:bench_example_plugin.adapters:make_adapter"
    )
    assert factory["info"]["plugin"]["distribution"] == DIST
    assert factory["params"] == {"tie": "negative"} and factory["name"] == "factory"
    assert entry["fingerprint"] != factory["fingerprint"]


def test_score_reproduces_the_plugin_run(runs: dict[str, Any], site: Path) -> None:
    entry = runs["entry"]
    done = bench(
        site, runs["cwd"], "score", "--task", TASK, "--predictions", str(entry["folder"]),
        "--bootstrap", str(RESAMPLES), "--results", "rescored",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(
        (runs["cwd"] / "rescored" / "lexicon-en-rescored" / TASK / "record.json").read_text(
            encoding="utf-8"
        )
    )
    assert again["metrics"] == entry["record"]["metrics"]


def test_the_plugin_metric_gets_paired_tests_and_tie_marks(
    runs: dict[str, Any], site: Path
) -> None:
    """balanced_accuracy declares its statistics; bench compare and the leaderboard's tie test
    use the declaration (no plugin name appears anywhere in bench)."""
    cwd = runs["cwd"]
    done = bench(
        site, cwd, "compare", "--results", "results", "--task", TASK, "--metric",
        "balanced_accuracy", "--json", "lexicon:en", "factory",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)["balanced_accuracy"]
    entry, factory = runs["entry"]["record"], runs["factory"]["record"]
    diff = (
        entry["metrics"]["balanced_accuracy"]["value"]
        - factory["metrics"]["balanced_accuracy"]["value"]
    )
    assert got["method"] == "paired-bootstrap"
    assert got["difference"] == pytest.approx(diff, abs=1e-12) and diff != 0
    assert got["ci_low"] <= got["difference"] <= got["ci_high"]
    assert 0 < got["p_value"] <= 1
    # The same paired bootstrap by hand: sacrebleu's draws, balanced accuracy of each resample.
    samples = {k: runs[k]["samples"] for k in ("entry", "factory")}
    gold = np.array([s["reference"] for s in samples["entry"]])
    trials = 1000  # bench compare's default, and the leaderboard tie test's
    idx = np.random.default_rng(12345).choice(len(gold), size=(trials, len(gold)))
    boot = {}
    for key, rows in samples.items():
        pred = np.array([s["prediction"] for s in rows])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            boot[key] = np.array([balanced_accuracy_score(gold[i], pred[i]) for i in idx])
    deltas = np.abs(boot["entry"] - boot["factory"])
    expected = (np.count_nonzero(deltas - deltas.mean() > abs(diff)) + 1) / (trials + 1)
    assert got["p_value"] == pytest.approx(expected, abs=1e-12)

    done = bench(site, cwd, "leaderboard", "--results", "results", "--out", "board")
    assert done.returncode == 0, done.stderr[-3000:]
    board = json.loads((cwd / "board" / "leaderboard.json").read_text(encoding="utf-8"))
    (task,) = [t for t in board["tasks"] if t["name"] == TASK]
    assert task["primary_metric"] == "balanced_accuracy" and task["tie_method"] == "paired-test"
    rows = [r for r in board["rows"] if r["task"] == TASK and r["primary"]]
    assert {r["model"] for r in rows} == {"lexicon:en", "factory"}
    best = next(r for r in rows if r["best"])
    other = next(r for r in rows if not r["best"])
    assert best["tied_with_best"] is True and best["tie_p_value"] == 1.0
    # Two models: the Holm adjustment of one test is the test itself.
    tied = got["p_value"] >= 0.05
    assert other["tied_with_best"] is tied
    assert other["tie_p_value"] == (pytest.approx(got["p_value"], abs=1e-12) if tied else None)
    assert other["tie_method"] == "paired-test"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "plugin:bench_example_plugin.adaptrs:make_adapter",
            "no module named 'bench_example_plugin.adaptrs' (did you mean 'adapters'?)",
        ),
        (
            "plugin:bench_example_plugin.adapters:make_adaptr",
            "'bench_example_plugin.adapters' has no attribute 'make_adaptr' "
            "(did you mean 'make_adapter'?)",
        ),
    ],
    ids=["bad-module", "bad-attribute"],
)
def test_bad_plugin_specs_exit_2_with_one_line(
    site: Path, tmp_path: Path, spec: str, message: str
) -> None:
    done = bench(site, tmp_path, "run", "-m", spec, "-t", TASK)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0] and "; fix: " in errors[0]
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("record.json"))  # checked before any model ran


@pytest.fixture()
def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The installed plugin importable in this process for one test (then forgotten)."""
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m.split(".")[0] == "bench_example_plugin"]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("plugin:bench_example_plugin.adapters", "is not MODULE:ATTRIBUTE"),
        (
            "plugin:bench_example_plugn.adapters:make_adapter",
            "(did you mean 'bench_example_plugin'?)",
        ),
        ("plugin:bench_example_plugin.adapters:LEXICONS", "is a dict, not a class or function"),
        ("plugin:bench_example_plugin.adapters:polarity", "cannot take no parameters"),
        (
            "plugin:bench_example_plugin.steps:MarkNegation",
            "missing: fingerprint, supports, predict",
        ),
        ("plugin:bench_example_plugin.adapters:make_adapter,colour=red", "unknown parameter"),
        ("plugin:bench_example_plugin.adapters:make_adapter,lexicon=eng", "did you mean 'en'?"),
    ],
)
def test_plugin_spec_errors(on_path: Path, spec: str, message: str) -> None:
    with pytest.raises(ModelSpecError) as info:
        make_adapter(spec)
    assert message in str(info.value) and "fix:" in str(info.value)


def test_a_class_is_a_factory_too(on_path: Path) -> None:
    adapter = make_adapter("plugin:bench_example_plugin.adapters:LexiconSentiment,tie=negative")
    assert isinstance(adapter, PluginAdapter) and adapter.name == "lexicon"
    assert adapter.info()["plugin"]["distribution"] == DIST
    assert adapter.params.tie == "negative"  # attributes of the adapter itself show through
    plain = make_adapter("plugin:bench_example_plugin.adapters:make_adapter,tie=negative")
    # The same model, named two ways, shares its fingerprint (and so its cached answers).
    assert adapter.fingerprint() == plain.fingerprint()
    other = make_adapter("plugin:bench_example_plugin.adapters:make_adapter")
    assert other.fingerprint() != plain.fingerprint()
    assert adapter.inner.fingerprint() != adapter.fingerprint()  # the version is folded in


def test_a_broken_tasks_entry_point_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import catalog
    from bench import registry as registry_module

    info = tmp_path / "broken_tasks-0.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-tasks\nVersion: 0.2\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [bench.plugins]
            tasks.broken = broken_tasks_nowhere:TASKS
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        registry_module, "registry", registry_module.Registry(registry_module._BUILTINS)
    )
    with pytest.raises(TaskSpecError) as caught:
        catalog.discover()
    message = str(caught.value)
    assert "entry point 'tasks.broken' = 'broken_tasks_nowhere:TASKS'" in message
    assert "(plugin broken-tasks 0.2)" in message and "broken_tasks_nowhere" in message
