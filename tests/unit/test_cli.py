"""The ``bench`` command line, run as a user runs it: a separate process in a temporary folder.

Every bad input must end as one ``error: ...`` line on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.data import BUILTIN_ROOT

_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]


def bench(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BENCH, *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
        check=False,
    )


@pytest.fixture()
def cli(bench_home: Path, nltk_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working folder with BENCH_HOME and NLTK_DATA set for child processes."""
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return bench_home.parent


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert lines[-1] == errors[0], proc.stderr  # the error is the last word, on one line
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


# --------------------------------------------------------------------------- the main job


# Every built-in baseline on every smoke task of a family it supports.
SMOKE_PAIRS = [
    *(
        (m, t)
        for m in (
            "bilstm",
            "majority",
            "textcnn",
            "tfidf-logreg",
            "transformer-small",
            "wordvec-logreg",
        )
        for t in ("sentiment-en", "sentiment-zh")
    ),
    *(("word2vec", t) for t in ("analogy-en", "analogy-zh", "wordsim-en", "wordsim-zh")),
    *((m, t) for m in ("copy", "ibm1") for t in ("translation-en-zh", "translation-zh-en")),
    *((m, t) for m in ("lead-k", "textrank") for t in ("summarization-en", "summarization-zh")),
    *((m, t) for m in ("first-sentence", "sliding-window") for t in ("qa-en", "qa-zh")),
    *((m, "recommendation-synthetic") for m in ("bpr-mf", "item-knn", "most-popular", "random")),
]


def test_run_smoke_suite_with_every_baseline_and_publish(cli: Path) -> None:
    proc = bench("run", "--limit", "40", "--publish", "OUT")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    results = cli / "home" / "results"
    records = sorted(p.relative_to(results).as_posix() for p in results.rglob("record.json"))
    assert records == sorted(f"baseline-{m}/{t}/record.json" for m, t in SMOKE_PAIRS)
    for path in results.rglob("record.json"):
        assert (path.parent / "samples.jsonl").is_file()
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["predictions"]["total"] == 40
        assert record["predictions"]["cached"] == 0
    readme = (cli / "OUT" / "README.md").read_text(encoding="utf-8")
    table = (cli / "OUT" / "leaderboard.csv").read_text(encoding="utf-8")
    for model in ("baseline:majority", "baseline:textcnn", "baseline:tfidf-logreg"):
        assert f"| {model} |" in readme
    assert "## sentiment-en" in readme and "## sentiment-zh" in readme
    assert str(cli) not in readme  # no machine-specific paths in a published file
    rows = list(csv.DictReader(io.StringIO(table)))
    assert {(r["model"], r["task"]) for r in rows if r["primary"] == "True"} == {
        (f"baseline:{m}", t) for m, t in SMOKE_PAIRS
    }
    assert "results" in proc.stdout  # the summary table

    # The same command again, scored again (--rescore; without it the records are kept):
    # everything from the cache, the same published files.
    again = bench("run", "--limit", "40", "--publish", "OUT2", "--rescore")
    assert again.returncode == 0, again.stderr[-3000:]
    for path in results.rglob("record.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["predictions"]["cached"] == 40
        assert record["timings"]["fit_s"] == 0.0
    assert "40/40" in again.stdout
    assert (cli / "OUT2" / "leaderboard.csv").read_text(encoding="utf-8") == table
    assert (cli / "OUT2" / "README.md").read_text(encoding="utf-8") == readme.replace(
        "--publish OUT`", "--publish OUT2 --rescore`"
    )


# --------------------------------------------------------------------------- tasks


def test_version_names_bench_python_and_the_scoring_libraries(cli: Path) -> None:
    from importlib import metadata

    proc = bench("--version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"bench {metadata.version('bench')}"
    assert lines[1] == f"Python {sys.version.split()[0]}"
    assert lines[2] == "libraries that can change a score:"
    listed = dict(line.split() for line in lines[3:])
    for name in ("sacrebleu", "rouge-score", "scikit-learn", "datasets", "jieba", "nltk"):
        assert listed[name] == metadata.version(name), name
    assert list(listed) == sorted(listed)
    assert proc.stderr == ""
    # Eager: it answers before any command, and a command after it is not run.
    assert bench("--version", "run").stdout == proc.stdout


def test_tasks_list(cli: Path) -> None:
    proc = bench("tasks", "list")
    assert proc.returncode == 0, proc.stderr
    for name in ("sentiment-en", "sentiment-zh", "chnsenticorp", "sst2", "imdb"):
        assert name in proc.stdout
    raw = bench("tasks", "list", "--format", "json")
    row = next(r for r in json.loads(raw.stdout) if r["name"] == "sentiment-zh")
    assert (row["family"], row["languages"], row["suite"], row["n scored"]) == (
        "sentiment", "zh", "smoke", "160",
    )  # fmt: skip


def test_tasks_show_has_three_segmented_examples(cli: Path) -> None:
    proc = bench("tasks", "show", "sentiment-zh")
    assert proc.returncode == 0, proc.stderr
    assert "zh_segment" in proc.stdout
    rows = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert len(rows) == 3
    expected = [
        json.loads(line)
        for line in (BUILTIN_ROOT / "smoke" / "sentiment-zh" / "test.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()[:3]
    ]
    for row, raw in zip(rows, expected, strict=True):
        assert row["id"] == raw["id"]
        tokens = row["text_tokens"]
        assert len(tokens) > 3
        assert "".join(tokens) == row["text"]  # jieba words cover the text exactly
        assert any(len(t) > 1 for t in tokens)  # words, not single characters


def test_tasks_show_prints_texts_verbatim(cli: Path) -> None:
    """Example texts are data: long lines stay whole and brackets are not markup."""
    text = "[bold]Great[/bold] coffee, " + "and a very long review " * 20 + "[/]"
    task = local_task(cli / "t", _rows({**GOOD, "text": text}))
    proc = bench("tasks", "show", str(task))
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert row["text"] == text


def test_tasks_validate_good_files(cli: Path) -> None:
    tasks = Path(__file__).resolve().parents[2] / "tasks"
    proc = bench("tasks", "validate", str(tasks / "smoke"), str(tasks / "standard" / "sst2.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok ") == len(list((tasks / "smoke").glob("*.yaml"))) + 1


def _smoke_task_text(name: str = "sentiment-en") -> str:
    path = Path(__file__).resolve().parents[2] / "tasks" / "smoke" / f"{name}.yaml"
    return path.read_text(encoding="utf-8")


def test_tasks_validate_bad_file(cli: Path) -> None:
    bad = cli / "sentiment-en.yaml"
    bad.write_text(
        _smoke_task_text().replace("primary_metric:", "primary_metrc:"), encoding="utf-8"
    )
    proc = bench("tasks", "validate", str(bad))
    error = assert_one_line_error(proc, str(bad), "primary_metrc")
    assert "line " in error


def test_tasks_schema_is_json(cli: Path) -> None:
    proc = bench("tasks", "schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["additionalProperties"] is False
    for key in ("name", "version", "family", "languages", "source", "preprocess", "metrics"):
        assert key in schema["properties"], key
    assert "path" not in schema["properties"]


def test_new_task_template_validates(cli: Path) -> None:
    proc = bench("new-task", "foo", "--family", "sentiment", "--dir", "D")
    assert proc.returncode == 0, proc.stderr
    path = cli / "D" / "foo.yaml"
    assert path.is_file()
    assert path.read_text(encoding="utf-8").lstrip().startswith("#")  # commented
    check = bench("tasks", "validate", str(path))
    assert check.returncode == 0, check.stderr
    assert f"ok  {path}" in check.stdout
    # Writing it again without --force is refused.
    assert_one_line_error(bench("new-task", "foo", "--family", "sentiment", "--dir", "D"), "exists")


def _doctor(env: dict[str, str]) -> dict[str, dict[str, str]]:
    proc = bench("doctor", "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    return {row["resource"]: row for row in json.loads(proc.stdout)}


def test_doctor_lists_nltk_resources(cli: Path, nltk_data: Path) -> None:
    # NLTK data with stopwords only: doctor tells present from missing packages, says where
    # NLTK looks, what falls back without punkt, and the command that installs each package
    # into the folder NLTK_DATA names.
    partial = cli / "partial-nltk"
    (partial / "corpora").mkdir(parents=True)
    shutil.copy(nltk_data / "corpora" / "stopwords.zip", partial / "corpora")
    rows = _doctor({**os.environ, "NLTK_DATA": str(partial)})
    assert rows["nltk:stopwords"]["status"] == "ok"
    assert str(partial) in rows["nltk:stopwords"]["detail"]
    path = rows["nltk data path"]
    assert path["status"] == "ok" and f"NLTK_DATA={partial}" in path["detail"], path
    for package in ("punkt_tab", "movie_reviews"):
        row = rows[f"nltk:{package}"]
        assert row["status"] == "missing", row
        assert f"python -m nltk.downloader -d {partial} {package}" in row["detail"], row
    assert "split:rule" in rows["nltk:punkt_tab"]["detail"]
    assert rows["jieba"]["status"] == "ok"


def test_doctor_without_nltk_data_says_nltk_data_is_unset(cli: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NLTK_DATA"}
    env["HOME"] = str(cli / "empty-home")
    rows = _doctor(env)
    path = rows["nltk data path"]
    assert path["status"] == "missing", path
    assert "NLTK_DATA is unset" in path["detail"] and "set NLTK_DATA" in path["detail"]
    assert str(cli / "empty-home" / "nltk_data") in path["detail"]
    assert "-d ~/nltk_data punkt_tab" in rows["nltk:punkt_tab"]["detail"]


def test_doctor_fits_80_columns_and_honours_columns_when_piped(cli: Path, nltk_data: Path) -> None:
    env = {**os.environ, "NLTK_DATA": str(nltk_data), "COLUMNS": "80"}
    proc = bench("doctor", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, [x for x in lines if len(x) > 80]
    assert not any(x != x.rstrip() for x in lines)
    text = " ".join(proc.stdout.split())
    assert f"NLTK_DATA={nltk_data}" in text
    assert "python -m nltk.downloader -d" in text  # the tagger is not in the shared data
    wide = bench("doctor", env={**env, "COLUMNS": "250"})
    assert max(len(x) for x in wide.stdout.splitlines()) > 80


def test_doctor_imports_neither_nltk_nor_torch_on_a_cpu_machine(nltk_data: Path) -> None:
    # What makes it fast (about 0.6 s against 5 s when both were imported): the answers come
    # from the file system and the installed distributions' metadata.
    code = (
        "import sys; from bench.doctor import checks; rows = checks(); "
        "print(len(rows), 'nltk' in sys.modules, 'torch' in sys.modules)"
    )
    env = {**os.environ, "NLTK_DATA": str(nltk_data)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    n, nltk_imported, torch_imported = done.stdout.split()
    assert int(n) > 10 and nltk_imported == "False"
    if "+cpu" in __import__("importlib.metadata").metadata.version("torch"):
        assert torch_imported == "False"


def test_doctor_reports_metric_models_in_the_local_hub_cache(cli: Path) -> None:
    # A hub cache in the layout huggingface_hub writes: models--ORG--NAME/snapshots/COMMIT/.
    hub = cli / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = hub / "models--bert-base-chinese" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    rows = _doctor({**os.environ, "HF_HUB_CACHE": str(hub)})
    found = rows["model bert-base-chinese (bertscore)"]
    assert found["status"] == "ok" and commit[:12] in found["detail"], found
    for repo, users in (
        ("roberta-large", "bertscore"),
        ("Unbabel/wmt22-comet-da", "comet"),
        ("FacebookAI/xlm-roberta-large", "comet, cometkiwi"),
    ):
        row = rows[f"model {repo} ({users})"]
        assert row["status"] == "missing" and f"hf download {repo}" in row["detail"], row


# --------------------------------------------------------------------------- bad input

LOCAL_TASK = """\
name: {name}
version: 1
family: sentiment
languages: [en]
description: A task with a local file, for CLI error tests.
labels: [negative, positive]
source:
  kind: local
  location: data
  format: jsonl
  files: {{train: train.jsonl, test: test.jsonl}}
  splits: {{train: train, test: test}}
preprocess: {preprocess}
metrics: [accuracy]
primary_metric: accuracy
"""


def local_task(
    root: Path, test_bytes: bytes, *, name: str = "local-task", preprocess: str = "[]"
) -> Path:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    train = (BUILTIN_ROOT / "smoke" / "sentiment-en" / "train.jsonl").read_text(encoding="utf-8")
    (data / "train.jsonl").write_text("".join(train.splitlines(True)[:40]), encoding="utf-8")
    (data / "test.jsonl").write_bytes(test_bytes)
    path = root / f"{name}.yaml"
    path.write_text(LOCAL_TASK.format(name=name, preprocess=preprocess), encoding="utf-8")
    return path


def _rows(*rows: dict[str, str]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


GOOD = {"id": "a", "text": "Great coffee and friendly staff.", "label": "positive"}


def run_majority(
    task: Path | str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return bench("run", "-m", "baseline:majority", "--tasks", str(task), *extra, env=env)


def test_unknown_key_in_task_file(cli: Path) -> None:
    path = cli / "tasks" / "sentiment-en.yaml"
    path.parent.mkdir()
    path.write_text(_smoke_task_text().replace("labels:", "lables:"), encoding="utf-8")
    assert_one_line_error(
        run_majority(path), str(path), "unknown key 'lables'", "did you mean 'labels'"
    )
    assert_one_line_error(bench("tasks", "validate", str(path)), "unknown key 'lables'")


def test_missing_field_in_a_data_row(cli: Path) -> None:
    test = _rows(GOOD, {**GOOD, "id": "b"}, {"id": "c", "label": "negative"})
    task = local_task(cli / "t", test)
    assert_one_line_error(run_majority(task), "row 2", "field 'text'", "'c'", "test.jsonl")
    assert not (cli / "home" / "results").exists() or not list((cli / "home").rglob("record.json"))


def test_empty_dataset(cli: Path) -> None:
    task = local_task(cli / "t", b"")
    assert_one_line_error(run_majority(task), "test.jsonl")
    error = assert_one_line_error(run_majority(task))
    assert "empty" in error or "no examples" in error


def test_unknown_adapter_name(cli: Path) -> None:
    proc = bench("run", "-m", "baseline:tfidf-logref", "--tasks", "sentiment-en", "--limit", "5")
    assert_one_line_error(proc, "tfidf-logref", "did you mean 'tfidf-logreg'")
    proc = bench("run", "-m", "baselin:majority", "--tasks", "sentiment-en", "--limit", "5")
    assert_one_line_error(proc, "baselin", "did you mean 'baseline'")


def test_unknown_adapter_fails_before_any_model_runs(cli: Path) -> None:
    proc = bench(
        "run",
        "-m",
        "baseline:majority",
        "-m",
        "baseline:majorty",
        "--tasks",
        "smoke",
        "--limit",
        "5",
    )
    assert_one_line_error(proc, "did you mean 'majority'")
    assert not list((cli / "home").rglob("record.json"))


def test_bad_adapter_parameter(cli: Path) -> None:
    proc = bench("run", "-m", "baseline:tfidf-logreg,fold=3", "--tasks", "sentiment-en")
    assert_one_line_error(proc, "fold", "did you mean 'folds'")


def test_unknown_task_name(cli: Path) -> None:
    proc = bench("run", "-m", "baseline:majority", "--tasks", "sentimnt-en")
    assert_one_line_error(proc, "sentimnt-en", "did you mean 'sentiment-en'")
    assert_one_line_error(bench("tasks", "show", "sentiment-ez"), "did you mean")


def test_non_utf8_data_file(cli: Path) -> None:
    gbk = json.dumps({"id": "a", "text": "酒店很好", "label": "positive"}, ensure_ascii=False)
    task = local_task(cli / "t", (gbk + "\n").encode("gbk"))
    assert_one_line_error(run_majority(task), "test.jsonl", "not UTF-8", "line 1")


def test_missing_nltk_data(cli: Path) -> None:
    empty = cli / "no-nltk"
    empty.mkdir()
    task = local_task(cli / "t", _rows(GOOD), name="needs-punkt", preprocess="[en_sentences]")
    env = {**os.environ, "NLTK_DATA": str(empty)}
    error = assert_one_line_error(run_majority(task, env=env), "punkt_tab", "en_sentences")
    assert "nltk.downloader punkt_tab" in error
    assert not list((cli / "home").rglob("record.json"))


def test_missing_nltk_data_fails_before_any_model_call(cli: Path) -> None:
    """With several tasks, the missing resource stops the run before the first prediction."""
    empty = cli / "no-nltk"
    empty.mkdir()
    task = local_task(cli / "t", _rows(GOOD), name="needs-punkt", preprocess="[en_sentences]")
    env = {**os.environ, "NLTK_DATA": str(empty)}
    proc = bench(
        "run", "-m", "baseline:majority", "--tasks", f"sentiment-zh,{task}", "--limit", "5", env=env
    )
    assert_one_line_error(proc, "punkt_tab")
    assert not list((cli / "home").rglob("record.json"))


@pytest.mark.parametrize(
    "spec",
    [
        "baseline",
        "baseline:",
        ":majority",
        "baseline:majority,seed",
        "baseline:majority,seed=1,seed=2",
    ],
)
def test_malformed_model_spec(cli: Path, spec: str) -> None:
    proc = bench("run", "-m", spec, "--tasks", "sentiment-en", "--limit", "5")
    assert_one_line_error(proc, spec)
