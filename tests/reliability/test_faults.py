"""Faults, table-driven: hostile servers, pairs in which everything failed, markup in names,
bad numeric options and a server that echoes the API key.

* ``openai:`` against the real server of ``tests/fixtures/openai_server.py`` on 127.0.0.1:
  ``Retry-After`` of an hour, ``inf``, ``1e400`` or an HTTP date in the future waits at most
  ``max_backoff``; a server that trickles its answer a byte at a time is cut off by
  ``deadline``. Every call runs under a watchdog thread, so a hang fails the test instead of
  holding it.
* A pair in which every example failed (a closed port, a trickling server, nothing but 429s,
  a plugin whose every answer is a ``Failure``, a predictions file of failures) exits 2 with
  the cause printed and writes no record, unless ``--max-failures`` allows them all.
* Model names ``[/x]``, ``[ours]``, ``emoji :x:`` and paths with ``[b]`` and ``:x:`` print
  literally in ``bench run``, ``bench compare``, ``bench leaderboard`` and in error messages.
* Every numeric option is validated before anything runs (exit 2, the option named).
* A server that echoes the key in every answer: no file the run wrote holds it.
"""

from __future__ import annotations

import email.utils
import importlib.util
import json
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import pytest
from typer.testing import CliRunner

from bench.adapters.base import make_adapter, parse_model_spec
from bench.adapters.openai import OpenAIAdapter
from bench.cli import app
from bench.errors import ModelSpecError
from bench.families.base import Failure
from bench.families.sentiment import SentimentRequest

REPO = Path(__file__).resolve().parents[2]
_FIXTURE = REPO / "tests" / "fixtures" / "openai_server.py"
_spec = importlib.util.spec_from_file_location("openai_server_faults", _FIXTURE)
assert _spec is not None and _spec.loader is not None
openai_server = importlib.util.module_from_spec(_spec)
sys.modules["openai_server_faults"] = openai_server
_spec.loader.exec_module(openai_server)

TASK = "sentiment-en"
# openai chat cannot score sentiment's default (loglik): its fault cases use a generated task.
OPENAI_TASK = "qa-en"
SECRET = "sk-faults-9Xq2-ECHOED-BACK"
REQUEST = SentimentRequest(id="1", language="en", text="great", labels=("negative", "positive"))
IN_AN_HOUR = email.utils.format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def bounded(fn: Callable[[], Any], limit: float) -> tuple[Any, float]:
    """``fn()`` and its duration; fails (instead of hanging) when it takes over ``limit`` s."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    t0 = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.perf_counter() - t0
    if thread.is_alive():
        pytest.fail(f"still waiting after {limit} s")
    if "error" in box:
        raise box["error"]
    return box["value"], elapsed


# --------------------------------------------------------------------------- item 16: waits


@dataclass(frozen=True)
class WaitCase:
    id: str
    faults: dict[str, Any]
    params: dict[str, Any]
    expect: Any  # the label answered, or the Failure
    within: float  # seconds: what the adapter promises, plus slack for a loaded machine
    requests: int  # HTTP requests the server saw


WAIT_CASES = [
    *(
        WaitCase(
            f"retry-after-{name}",
            {"n429": 1, "retry_after": value},
            {"max_backoff": 0.2},
            "positive",
            0.2 + 3,
            2,
        )
        for name, value in (
            ("3600", "3600"),
            ("inf", "inf"),
            ("1e400", "1e400"),
            ("http-date-in-an-hour", IN_AN_HOUR),
            ("http-date-without-zone", "Wed, 21 Oct 2099 07:28:00"),
        )
    ),
    WaitCase(
        "retry-after-3600-on-every-attempt",
        {"n429": 1000, "retry_after": "3600"},
        {"max_backoff": 0.2, "max_retries": 2},
        Failure(cause="HTTP 429", message="gave up after 3 attempts"),
        2 * 0.2 + 3,
        3,
    ),
    WaitCase(
        "trickling-server-cut-off-by-deadline",
        {"trickle": 0.2},
        {"deadline": 1, "max_retries": 0},
        Failure(cause="deadline exceeded (1 s)", message="gave up after 1 attempts"),
        1 + 3,
        1,
    ),
    WaitCase(
        "trickling-server-each-retry-cut-off",
        {"trickle": 0.2},
        {"deadline": 0.5, "max_retries": 2},
        Failure(cause="deadline exceeded (0.5 s)", message="gave up after 3 attempts"),
        3 * 0.5 + 3,
        3,
    ),
    WaitCase(
        "slow-answer-within-its-deadline",
        {"trickle": 0.002},
        {"deadline": 30},
        "positive",
        30,
        1,
    ),
]


@pytest.mark.parametrize("case", WAIT_CASES, ids=[c.id for c in WAIT_CASES])
def test_waits_are_bounded(case: WaitCase) -> None:
    with openai_server.OpenAIServer() as server:
        for k, v in case.faults.items():
            setattr(server.faults, k, v)
        adapter = OpenAIAdapter(
            "m",
            base_url=server.base_url,
            api_key_env="BENCH_FAULTS_NO_KEY",
            backoff=0,
            **case.params,
        )
        (answer,), elapsed = bounded(lambda: adapter.predict([REQUEST]), case.within + 30)
        assert elapsed < case.within, elapsed
        assert server.faults.requests == case.requests
    if isinstance(case.expect, Failure):
        assert answer == case.expect
    else:
        assert answer.label == case.expect


def test_deadline_default_and_fingerprint() -> None:
    a = OpenAIAdapter("m", base_url="http://h/v1")
    assert a.deadline == 120
    assert OpenAIAdapter("m", timeout=300).deadline == 600  # a long timeout is kept
    assert OpenAIAdapter("m", timeout=300, deadline=5).deadline == 5
    # It bounds how long an answer may take, not what it says: same fingerprint, same cache.
    assert OpenAIAdapter("m", base_url="http://h/v1", deadline=5).fingerprint() == a.fingerprint()


# --------------------------------------------------------------------------- item 20: all failed


@dataclass(frozen=True)
class AllFailedCase:
    id: str
    args: Callable[[Any, Path], list[str]]  # (server, tmp) -> bench arguments
    rc: int
    says: tuple[str, ...]  # in the last line of stderr (rc 2) or nothing (rc 0)
    faults: dict[str, Any] = field(default_factory=dict)
    failed: int = 4  # failures in the record, when one is written


def _openai(params: str) -> Callable[[Any, Path], list[str]]:
    def args(server: Any, _tmp: Path) -> list[str]:
        spec = f"openai:m,base_url={server.base_url},api_key_env=BENCH_FAULTS_NO_KEY,{params}"
        return ["run", "-m", spec, "-t", OPENAI_TASK, "--variant", "default", "--limit", "4",
                "--bootstrap", "0"]  # fmt: skip

    return args


def _closed(_server: Any, _tmp: Path) -> list[str]:
    spec = f"openai:m,base_url=http://127.0.0.1:{closed_port()}/v1,max_retries=0"
    return ["run", "-m", spec, "-t", OPENAI_TASK, "--variant", "default", "--limit", "4",
            "--bootstrap", "0"]  # fmt: skip


def _plugin(*extra: str) -> Callable[[Any, Path], list[str]]:
    return lambda _s, _t: ["run", "-m", "reltest:broken", "-t", TASK, "--limit", "4", *extra]


def _failures_file(*extra: str) -> Callable[[Any, Path], list[str]]:
    def args(_server: Any, tmp: Path) -> list[str]:
        path = tmp / "failed.jsonl"
        lines = [{"id": f"en-test-{i:04d}", "failure": "timeout: no answer"} for i in range(1, 5)]
        path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        return ["score", "--task", TASK, "--predictions", str(path), "--limit", "4", *extra]

    return args


ALL_FAILED_CASES = [
    AllFailedCase(
        "openai-closed-port",
        _closed,
        2,
        ("all 4 examples failed", "connection error (ConnectError)", "no record was written"),
    ),
    AllFailedCase(
        "openai-trickling-server",
        _openai("deadline=1,max_retries=0,concurrency=4"),
        2,
        ("all 4 examples failed", "deadline exceeded (1 s): gave up after 1 attempts ×4"),
        {"trickle": 0.2},
    ),
    AllFailedCase(
        "openai-429-retry-after-an-hour",
        _openai("max_retries=1,max_backoff=0.1,concurrency=4"),
        2,
        ("all 4 examples failed", "HTTP 429: gave up after 2 attempts ×4"),
        {"n429": 1000, "retry_after": "3600"},
    ),
    AllFailedCase(
        "plugin-every-answer-a-failure",
        _plugin(),
        2,
        ("all 4 examples failed", "unreachable: the backend is down ×4", "--max-failures 4"),
    ),
    AllFailedCase(
        "plugin-max-failures-below-n-keeps-its-meaning",
        _plugin("--max-failures", "3"),
        2,
        ("reltest:broken on sentiment-en: all 4 examples failed",),
    ),
    AllFailedCase("plugin-max-failures-allows-all", _plugin("--max-failures", "4"), 0, ()),
    AllFailedCase(
        "predictions-every-line-a-failure",
        _failures_file(),
        2,
        ("all 4 examples failed", "timeout: no answer ×4"),
    ),
    AllFailedCase(
        "predictions-max-failures-allows-all", _failures_file("--max-failures", "4"), 0, ()
    ),
]


@pytest.mark.parametrize("case", ALL_FAILED_CASES, ids=[c.id for c in ALL_FAILED_CASES])
def test_a_pair_in_which_every_example_failed(
    case: AllFailedCase, bench: Any, tmp_path: Path
) -> None:
    with openai_server.OpenAIServer() as server:
        for k, v in case.faults.items():
            setattr(server.faults, k, v)
        t0 = time.perf_counter()
        done = bench.run(*case.args(server, tmp_path), "--results", str(bench.results), timeout=90)
        elapsed = time.perf_counter() - t0
    assert elapsed < 60
    assert done.returncode == case.rc, done.stderr
    records = list(bench.results.rglob("record.json"))
    if case.rc == 0:
        (record,) = records
        data = json.loads(record.read_text(encoding="utf-8"))
        assert data["failures"]["count"] == case.failed == data["task"]["n_examples"]
        return
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and "; fix: " in message
    for part in case.says:
        assert part in message, f"{part!r} not in: {message}"
    assert records == []  # no record: nothing computed, and no 0.0000 [0, 0] to publish


def test_an_outage_does_not_overwrite_the_earlier_record(bench: Any) -> None:
    args = ("-t", TASK, "--limit", "4", "--bootstrap", "0")
    good = bench.run("run", "-m", "reltest:lexicon,name=svc", *args)
    assert good.returncode == 0, good.stderr
    (path,) = bench.results.rglob("record.json")
    before = path.read_bytes()
    down = bench.run("run", "-m", "reltest:broken,name=svc", *args)
    assert down.returncode == 2
    assert "svc on sentiment-en: all 4 examples failed" in down.stderr
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- item 21: markup


@dataclass(frozen=True)
class MarkupCase:
    id: str
    command: str  # a key of MARKUP_COMMANDS
    rc: int
    stdout: tuple[str, ...] = ()  # printed literally ("{root}": the test's folder)
    stderr: tuple[str, ...] = ()


MARKUP_COMMANDS: dict[str, list[str]] = {
    "run": [
        "run",
        "-m",
        "baseline:majority,name=[/x]",
        "-m",
        "baseline:majority,name=[ours]",
        "-m",
        "baseline:majority,name=emoji :x:",
        "-t",
        TASK,
        "--limit",
        "6",
        "--bootstrap",
        "0",
        "--results",
        "{root}/[b]res",
    ],
    "compare-tags": [
        "compare",
        "[/x]",
        "[ours]",
        "--results",
        "{root}/[b]res",
        "--resamples",
        "100",
    ],
    "compare-emoji": [
        "compare",
        "emoji :x:",
        "[ours]",
        "--results",
        "{root}/[b]res",
        "--resamples",
        "100",
    ],
    "leaderboard": [
        "leaderboard",
        "--results",
        "{root}/[b]res",
        "--out",
        "{root}/:x:[b]board",
        "--formats",
        "md,csv",
    ],
    "error-selector": ["run", "-t", ":x:[/nope]", "--results", "{root}/[b]res"],
    "error-compare": ["compare", "[/x]", ":x:[/gone]", "--results", "{root}/[b]res"],
}

MARKUP_CASES = [
    MarkupCase("run-closing-tag-name", "run", 0, stdout=("\n[/x] ",)),
    MarkupCase("run-bracket-name", "run", 0, stdout=("\n[ours] ",)),
    MarkupCase("run-emoji-name", "run", 0, stdout=("\nemoji :x: ",)),
    MarkupCase("run-results-path", "run", 0, stderr=("→ {root}/[b]res",)),
    MarkupCase("compare-tag-names", "compare-tags", 0, stdout=("[/x] (A) vs [ours] (B)",)),
    MarkupCase("compare-emoji-name", "compare-emoji", 0, stdout=("emoji :x: (A) vs [ours] (B)",)),
    MarkupCase(
        "leaderboard-paths",
        "leaderboard",
        0,
        stderr=("wrote {root}/:x:[b]board/README.md", "wrote {root}/:x:[b]board/leaderboard.csv"),
    ),
    MarkupCase("error-quoting-a-selector", "error-selector", 2, stderr=("':x:[/nope]'",)),
    MarkupCase("error-quoting-a-model-name", "error-compare", 2, stderr=(":x:[/gone]",)),
]


@pytest.fixture(scope="module")
def markup_runs(
    tmp_path_factory: pytest.TempPathFactory, plugin_dir: Path, helpers: Any
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each command of :data:`MARKUP_COMMANDS`, run once, in order."""
    root = tmp_path_factory.mktemp("markup")
    bench = helpers.make_bench(root, plugin_dir)
    done = {
        key: bench.run(*[a.replace("{root}", str(root)) for a in argv])
        for key, argv in MARKUP_COMMANDS.items()
    }
    yield root, done


@pytest.mark.parametrize("case", MARKUP_CASES, ids=[c.id for c in MARKUP_CASES])
def test_user_strings_print_literally(case: MarkupCase, markup_runs: Any) -> None:
    root, done = markup_runs
    result = done[case.command]
    assert result.returncode == case.rc, result.stderr
    assert "Traceback" not in result.stderr
    assert "❌" not in result.stdout + result.stderr  # :x: is not an emoji code here
    for part in case.stdout:
        assert part.replace("{root}", str(root)) in result.stdout, result.stdout
    for part in case.stderr:
        assert part.replace("{root}", str(root)) in result.stderr, result.stderr
    if case.rc == 2:
        assert result.stderr.strip().splitlines()[-1].startswith("error: ")


# --------------------------------------------------------------------------- item 22: options


@dataclass(frozen=True)
class OptionCase:
    id: str
    argv: list[str]
    option: str


OPTION_CASES = [
    OptionCase("run-seed-negative", ["run", "--seed", "-1"], "--seed"),
    OptionCase("run-seed-over-32-bits", ["run", "--seed", str(2**32)], "--seed"),
    OptionCase("run-limit-negative", ["run", "--limit", "-5"], "--limit"),
    OptionCase("run-limit-zero", ["run", "--limit", "0"], "--limit"),
    OptionCase(
        "score-limit-negative",
        ["score", "--task", TASK, "--predictions", "p.jsonl", "--limit", "-5"],
        "--limit",
    ),
    OptionCase(
        "score-seed-negative",
        ["score", "--task", TASK, "--predictions", "p.jsonl", "--seed", "-3"],
        "--seed",
    ),
    OptionCase(
        "score-max-failures-negative",
        ["score", "--task", TASK, "--predictions", "p.jsonl", "--max-failures", "-1"],
        "--max-failures",
    ),
    OptionCase("compare-seed-negative", ["compare", "a", "b", "--seed", "-1"], "--seed"),
    OptionCase(
        "tasks-show-examples-negative", ["tasks", "show", TASK, "--examples", "-1"], "--examples"
    ),
]


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c.id for c in OPTION_CASES])
def test_numeric_options_are_refused_up_front(
    case: OptionCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    argv = list(case.argv)
    if argv[0] in ("run", "score", "compare"):
        argv += ["--results", str(tmp_path / "results")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{case.option}'" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing ran: no results, no cache, no home


def test_every_integer_option_declares_its_range() -> None:
    import typer

    from bench.cli import records_app, tasks_app

    commands = [
        c.callback
        for a in (app, tasks_app, records_app)
        for c in a.registered_commands
        if c.callback is not None
    ]
    unbounded, seen = [], []
    for fn in commands:
        for name, hint in get_type_hints(fn, include_extras=True).items():
            if get_origin(hint) is not Annotated:
                continue
            base, *meta = get_args(hint)
            if int not in (base, *get_args(base)) or base is bool:
                continue
            info = next(m for m in meta if isinstance(m, typer.models.ParameterInfo))
            seen.append(f"{fn.__name__} --{name}")
            if info.min is None:
                unbounded.append(f"{fn.__name__} --{name}")
    assert len(seen) >= 15 and "run --seed" in seen
    assert unbounded == []


@dataclass(frozen=True)
class SpecCase:
    id: str
    spec: str
    says: tuple[str, ...]


SPEC_CASES = [
    SpecCase("openai-deadline-zero", "openai:m,deadline=0", ("deadline", "greater than 0")),
    SpecCase("openai-deadline-negative", "openai:m,deadline=-1", ("deadline", "greater than 0")),
    SpecCase("openai-deadline-inf", "openai:m,deadline=inf", ("deadline", "finite number")),
    SpecCase("openai-max-backoff-inf", "openai:m,max_backoff=inf", ("max_backoff", "finite")),
    SpecCase("openai-backoff-nan", "openai:m,backoff=nan", ("backoff", "finite number")),
    SpecCase("openai-temperature-nan", "openai:m,temperature=nan", ("temperature", "finite")),
    SpecCase(
        "textcnn-seed-negative", "baseline:textcnn,seed=-1", ("seed", "greater than or equal to 0")
    ),
    SpecCase(
        "majority-seed-negative",
        "baseline:majority,seed=-3",
        ("seed", "greater than or equal to 0"),
    ),
    SpecCase(
        "random-seed-negative", "baseline:random,seed=-1", ("seed", "greater than or equal to 0")
    ),
    SpecCase(
        "logreg-seed-too-big",
        "baseline:tfidf-logreg,seed=4294967296",
        ("seed", "less than or equal to 4294967295"),
    ),
    SpecCase(
        "bpr-seed-negative", "baseline:bpr-mf,seed=-1", ("seed", "greater than or equal to 0")
    ),
]


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.id for c in SPEC_CASES])
def test_numeric_model_parameters_are_refused(case: SpecCase) -> None:
    with pytest.raises(ModelSpecError) as info:
        make_adapter(parse_model_spec(case.spec))
    for part in case.says:
        assert part in str(info.value), str(info.value)


# --------------------------------------------------------------------------- item 24: the key


@dataclass(frozen=True)
class KeyCase:
    id: str
    files: str  # a glob under the test's folder
    echoed: bool  # the answer (masked) is in the file: the check below can see a leak


KEY_CASES = [
    KeyCase("qa-samples", "home/results/*/qa-en/samples.jsonl", True),
    KeyCase("translation-samples", "home/results/*/translation-en-zh/samples.jsonl", True),
    KeyCase("records", "home/results/*/*/record.json", False),
    KeyCase("prediction-cache", "home/cache.sqlite*", True),
    KeyCase("html-report-examples", "board/index.html", True),
    KeyCase("every-file-written", "**/*", True),
]


@pytest.fixture(scope="module")
def echoed_run(
    tmp_path_factory: pytest.TempPathFactory, plugin_dir: Path, helpers: Any
) -> Iterator[tuple[Path, Any]]:
    """``bench run --publish`` against a server that echoes the ``Authorization`` header."""
    root = tmp_path_factory.mktemp("echo")
    bench = helpers.make_bench(root, plugin_dir)
    with openai_server.OpenAIServer() as server:
        server.faults.echo_auth = True
        spec = f"openai:m,base_url={server.base_url},api_key_env=BENCH_FAULTS_KEY,name=echo"
        done = bench.run(
            *("run", "-m", spec, "-t", "qa-en,translation-en-zh", "--limit", "3"),
            *("--bootstrap", "0", "--publish", str(root / "board")),
            BENCH_FAULTS_KEY=SECRET,
        )
        assert set(server.faults.auth) == {f"Bearer {SECRET}"}  # the key was really sent
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    yield root, done


@pytest.mark.parametrize("case", KEY_CASES, ids=[c.id for c in KEY_CASES])
def test_an_echoed_key_is_written_nowhere(case: KeyCase, echoed_run: Any) -> None:
    root, _done = echoed_run
    files = [p for p in root.glob(case.files) if p.is_file() and p.name != "adapter.log"]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    if not case.echoed:
        return
    if case.id == "prediction-cache":
        conn = sqlite3.connect(root / "home" / "cache.sqlite")
        try:
            stored = " ".join(str(row) for row in conn.execute("SELECT * FROM predictions"))
        finally:
            conn.close()
        assert "you sent Bearer ***" in stored
    else:
        assert any(b"you sent Bearer ***" in p.read_bytes() for p in files)


def test_enough_cases() -> None:
    cases = [WAIT_CASES, ALL_FAILED_CASES, MARKUP_CASES, OPTION_CASES, SPEC_CASES, KEY_CASES]
    assert sum(len(c) for c in cases) >= 40
    for table in cases:
        assert len({c.id for c in table}) == len(table)
