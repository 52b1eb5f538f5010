"""Task files and records never run code; API keys never reach a file, a log or a message.

* A scan of the package's source (its syntax tree, not a text grep that comments could fool)
  finds no ``eval``/``exec``/``compile``, no pickle-family imports, no unsafe YAML loader, no
  ``torch.load`` without ``weights_only=True``, no shell; no task file holds a YAML tag.
* YAML tags that construct Python objects are refused, and their code does not run.
* ``bench run`` with the ``openai:`` adapter against the real local server in
  ``tests/fixtures/openai_server.py``, with a distinctive key in the environment and failing
  requests (HTTP 500, then a server that is gone): the key is sent, and appears in no file the
  run wrote (records, samples, cache, leaderboard), in no output and in no error message.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import make_adapter, parse_model_spec
from bench.errors import ModelSpecError, RecordError, TaskSpecError
from bench.records import load_record
from bench.spec import parse_task

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "bench"
SECRET = "sk-reltest-7Qz9-NEVER-WRITE-ME"

_FIXTURE = REPO / "tests" / "fixtures" / "openai_server.py"
_spec = importlib.util.spec_from_file_location("openai_server_reltest", _FIXTURE)
assert _spec is not None and _spec.loader is not None
openai_server = importlib.util.module_from_spec(_spec)
sys.modules["openai_server_reltest"] = openai_server
_spec.loader.exec_module(openai_server)

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
UNSAFE_YAML = {"load", "unsafe_load", "full_load", "load_all", "unsafe_load_all", "full_load_all"}
UNSAFE_LOADERS = {"Loader", "UnsafeLoader", "FullLoader"}


def _problems(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                yield f"{where}: {func.id}()"
            if isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else ""
                if owner == "builtins" and func.attr in FORBIDDEN_CALLS:
                    yield f"{where}: builtins.{func.attr}()"
                if owner == "yaml" and func.attr in UNSAFE_YAML:
                    yield f"{where}: yaml.{func.attr}() (use yaml.safe_load)"
                if owner == "os" and func.attr in ("system", "popen"):
                    yield f"{where}: os.{func.attr}()"
                if func.attr == "load" and owner == "torch":
                    safe = any(
                        k.arg == "weights_only"
                        and isinstance(k.value, ast.Constant)
                        and k.value.value is True
                        for k in node.keywords
                    )
                    if not safe:
                        yield f"{where}: torch.load without weights_only=True"
            for k in node.keywords:
                if k.arg == "shell" and not (
                    isinstance(k.value, ast.Constant) and k.value.value is False
                ):
                    yield f"{where}: shell={ast.unparse(k.value)}"
                if k.arg == "Loader" and ast.unparse(k.value).split(".")[-1] in UNSAFE_LOADERS:
                    yield f"{where}: Loader={ast.unparse(k.value)}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    yield f"{where}: import {name}"


def test_the_package_source_runs_no_untrusted_code() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30
    problems = [p for f in files for p in _problems(f)]
    assert problems == []
    for f in files:
        assert "!function" not in f.read_text(encoding="utf-8"), f


def test_the_scan_catches_what_it_looks_for(tmp_path: Path) -> None:
    bad = REPO / "tests" / "reliability" / "_scan_probe.py"
    bad.write_text(
        "import pickle\nimport yaml, torch, subprocess\n"
        "eval('1')\nyaml.load('a', Loader=yaml.Loader)\ntorch.load('m.pt')\n"
        "subprocess.run('ls', shell=True)\nmodel.eval()\ntorch.load('m', weights_only=True)\n",
        encoding="utf-8",
    )
    try:
        found = list(_problems(bad))
    finally:
        bad.unlink()
    assert [p.split(": ", 1)[1] for p in found] == [
        "import pickle",
        "eval()",
        "yaml.load() (use yaml.safe_load)",
        "Loader=yaml.Loader",
        "torch.load without weights_only=True",
        "shell=True",
    ]


def test_no_task_file_uses_a_yaml_tag() -> None:
    for path in sorted((REPO / "tasks").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert "!!" not in text and "!function" not in text, path


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
        "!function os.system",
    ],
)
def test_python_yaml_tags_are_refused_and_never_run(value: str, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    text = f"name: evil\nversion: 1\nfamily: {value.format(marker=marker)}\n"
    with pytest.raises(TaskSpecError, match=r"line 3, column \d+: invalid YAML"):
        parse_task(text, path=tmp_path / "evil.yaml")
    assert not marker.exists()


def test_records_are_json_data_only(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"schema_version": 1, "__reduce__": "os.system"}))
    with pytest.raises(RecordError, match=f"{path}: field"):
        load_record(path)


def test_a_key_given_in_a_model_spec_is_not_echoed_in_errors() -> None:
    for raw in (f"openai:m,api_key={SECRET},oops", f"openai:m,token={SECRET},token=x"):
        with pytest.raises(ModelSpecError) as info:
            make_adapter(parse_model_spec(raw))
        assert SECRET not in str(info.value)


@pytest.mark.slow
def test_api_key_never_written_logged_or_shown(bench: Any, tmp_path: Path) -> None:
    board = tmp_path / "board"
    env = {"BENCH_RELTEST_KEY": SECRET}
    outputs = []
    with openai_server.OpenAIServer() as server:
        server.faults.n500 = 2  # two requests fail for good (no retries): counted failures
        spec = (
            f"openai:test-model,base_url={server.base_url},api_key_env=BENCH_RELTEST_KEY,"
            "max_retries=0,backoff=0,concurrency=2"
        )
        # qa-en: a chat endpoint cannot score sentiment's default mode (loglik)
        args = ("run", "--model", spec, "--tasks", "qa-en", "--variant", "default", "--limit", "8")
        done = bench.run(*args, "--bootstrap", "0", "--publish", str(board), **env)
        outputs += [done.stdout, done.stderr]
        assert done.returncode == 0, done.stderr
        assert set(server.faults.auth) == {f"Bearer {SECRET}"}  # the key was really sent
        url = server.base_url
    record = json.loads(next(bench.results.rglob("record.json")).read_text(encoding="utf-8"))
    assert record["failures"]["count"] == 2
    assert any("500" in cause for cause in record["failures"]["by_cause"])

    # The server is gone: every request fails (connection refused), on a fresh cache.
    spec_gone = spec.replace(server.base_url, url)
    gone = bench.run(
        "run",
        "--model",
        spec_gone,
        "--tasks",
        "qa-en",
        "--variant",
        "default",
        "--limit",
        "4",
        "--bootstrap",
        "0",
        "--no-cache",
        "--max-failures",  # every example fails: recorded only when --max-failures allows it
        "4",
        "--results",
        str(tmp_path / "gone"),
        **env,
    )
    outputs += [gone.stdout, gone.stderr]
    assert gone.returncode == 0, gone.stderr
    lost = json.loads(next((tmp_path / "gone").rglob("record.json")).read_text(encoding="utf-8"))
    assert lost["failures"]["count"] == 4  # each failure's message was written: checked below

    for text in outputs:
        assert SECRET not in text
    written = [p for root in (bench.home, board, tmp_path / "gone") for p in root.rglob("*")]
    files = [p for p in written if p.is_file()]
    assert any(p.name == "record.json" for p in files)
    assert any(p.name == "cache.sqlite" for p in files)
    assert any(p.suffix == ".md" for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
