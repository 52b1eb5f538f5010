"""Bad task input, table-driven: ``--data`` overrides that match no task, YAML alias bombs and
deep nesting, an offline Hub, failed downloads, task files that validate but would fail, and
``bench new-task`` names that escape their folder.

Every case raises its exact ``BenchError`` class with a message naming the file, line, task or
URL at fault and the fix. Cases that could hang or exhaust memory on a broken bench (alias
bombs, deep nesting, an unreachable Hub) run in a child process with a timeout, and report how
long the failing operation took. Downloads go to real HTTP servers on 127.0.0.1: one serving
files (and a 404, a truncated body), one that accepts connections and never answers, and a port
where nothing listens.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shlex
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

import bench.errors
from bench.adapters.base import make_adapter, parse_model_spec
from bench.cli import _validate_data, app
from bench.data import BUILTIN_ROOT, load_split
from bench.errors import BenchError, DataError, TaskSpecError
from bench.families.base import get_family
from bench.spec import load_task

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
STANDARD = REPO / "tasks" / "standard"
_APPENDED = 1 + len(
    (REPO / "tasks" / "smoke" / "sentiment-en.yaml").read_text(encoding="utf-8").splitlines()
)
"""The line of sentiment-en.yaml where a YAML case's text starts (it is appended to the file)."""


# --------------------------------------------------------------------------- servers


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; ``/missing/...`` is a 404; ``/truncated/...`` sends half of
    the body it announces in ``Content-Length``, then closes the connection."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        files: dict[str, bytes] = self.server.files  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        if path.startswith("/truncated/"):
            body = files[path.removeprefix("/truncated")]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        body_or_none = files.get(path)
        if body_or_none is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body_or_none)))
        self.end_headers()
        self.wfile.write(body_or_none)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Servers:
    """The test servers: ``url`` (files), ``silent`` (accepts, never answers), ``closed``."""

    url: str
    silent: str
    closed: str
    files: dict[str, bytes]
    requests: list[str]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    httpd.files = {}  # type: ignore[attr-defined]
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    # A listening socket that is never accepted: connections complete, nothing is ever sent.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    try:
        yield Servers(
            url=f"http://127.0.0.1:{httpd.server_address[1]}",
            silent=f"http://127.0.0.1:{silent.getsockname()[1]}",
            closed=f"http://127.0.0.1:{closed_port}",
            files=httpd.files,  # type: ignore[attr-defined]
            requests=httpd.requests,  # type: ignore[attr-defined]
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        silent.close()


@dataclass
class Ctx:
    """What a case gets: its folder and the servers."""

    tmp: Path
    servers: Servers


# --------------------------------------------------------------------------- helpers

SENTIMENT = """\
name: {name}
version: 1
family: sentiment
languages: [en]
description: A small sentiment task.
labels: [negative, positive]
source:
{source}
metrics: [accuracy]
primary_metric: accuracy
"""

ROWS = (
    '{"id": "a", "review": "good", "label": "positive"}\n'
    '{"id": "b", "review": "bad", "label": "negative"}\n'
    '{"id": "c", "review": "great", "label": "positive"}\n'
)


def sentiment_task(tmp: Path, source: str, name: str = "t") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(
        SENTIMENT.format(name=name, source=textwrap.indent(source, "  ")), encoding="utf-8"
    )
    return path


def local_task(tmp: Path, fields: str) -> Path:
    (tmp / "data").mkdir(exist_ok=True)
    (tmp / "data" / "test.jsonl").write_text(ROWS, encoding="utf-8")
    source = (
        "kind: local\nlocation: data\nformat: jsonl\nfiles: {test: test.jsonl}\n"
        f"splits: {{test: test}}\nfields: {fields}\n"
    )
    return sentiment_task(tmp, source)


def cli(*args: str) -> Callable[[Ctx], Any]:
    """A case: ``bench ARGS`` in this process ("{tmp}" in an argument is the case's folder)."""

    def run(ctx: Ctx) -> Any:
        argv = [a.replace("{tmp}", str(ctx.tmp)) for a in args]
        return get_command(app).main(argv, standalone_mode=False)

    return run


def qa_predictions(ctx: Ctx) -> Path:
    ids = [
        json.loads(line)["id"]
        for line in (BUILTIN_ROOT / "smoke" / "qa-en" / "test.jsonl").read_text().splitlines()
    ]
    path = ctx.tmp / "preds.jsonl"
    path.write_text("".join(json.dumps({"id": i, "prediction": "x"}) + "\n" for i in ids))
    return path


def score_with(data: str) -> Callable[[Ctx], Any]:
    def run(ctx: Ctx) -> Any:
        args = ["score", "--task", "qa-en", "--predictions", str(qa_predictions(ctx))]
        args += ["--bootstrap", "0", "--results", str(ctx.tmp / "results"), "--data", data]
        return get_command(app).main(args, standalone_mode=False)

    return run


CHILD = """\
import json, sys, time
from pathlib import Path
from bench.errors import BenchError
{setup}
start = time.perf_counter()
try:
{body}
    outcome = {{"error": None}}
except BenchError as exc:
    outcome = {{"error": type(exc).__name__, "message": str(exc)}}
outcome["seconds"] = time.perf_counter() - start
print("OUTCOME " + json.dumps(outcome))
"""


def in_child(
    ctx: Ctx,
    body: str,
    *,
    setup: str = "",
    seconds: float,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> None:
    """Run ``body`` in a fresh interpreter (killed after ``timeout`` s); re-raise its
    ``BenchError`` here, after checking that the failing call took at most ``seconds``."""
    script = CHILD.format(setup=setup, body=textwrap.indent(body, "    "))
    child_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    for name, value in list(child_env.items()):
        if value == "":
            del child_env[name]
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ctx.tmp,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s (a hang or an exponential walk)")
    lines = [x for x in proc.stdout.splitlines() if x.startswith("OUTCOME ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    outcome = json.loads(lines[-1].removeprefix("OUTCOME "))
    assert outcome["error"], "no error was raised"
    assert outcome["seconds"] <= seconds, f"took {outcome['seconds']:.2f} s > {seconds} s"
    raise getattr(bench.errors, outcome["error"])(outcome["message"])


def yaml_case(extra: str, seconds: float = 5) -> Callable[[Ctx], Any]:
    """A case: the smoke sentiment task with ``extra`` appended, loaded in a child process."""

    def run(ctx: Ctx) -> Any:
        base = (REPO / "tasks" / "smoke" / "sentiment-en.yaml").read_text(encoding="utf-8")
        path = ctx.tmp / "sentiment-en.yaml"
        path.write_text(base + extra, encoding="utf-8")
        in_child(
            ctx,
            f"load_task({str(path)!r})",
            setup="from bench.spec import load_task",
            seconds=seconds,
        )

    return run


def alias_bomb() -> str:
    """Nine levels of nine aliases: 9**9 (387 million) strings once expanded, ~600 bytes."""
    lines = ['options: {lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"  , lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "}\n"


def deep_alias() -> str:
    # A 60-deep value aliased at depth 60: each is fine alone, together 121 levels deep.
    deep = "[" * 60 + "1" + "]" * 60
    return f"tags: [&d {deep}, {'[' * 60}*d{']' * 60}]\n"


def block_nesting(depth: int) -> str:
    return (
        "options:\n"
        + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth))
        + ("  " * (depth + 1) + "v: 1\n")
    )


HUB_TASK = """\
kind: hub
location: bench-tests/no-such-dataset
splits: {test: test}
fields: {text: review}
"""


def hub_case(endpoint: str) -> Callable[[Ctx], Any]:
    """A case: a hub task loaded with the Hub at ``endpoint`` (online mode), in a child."""

    def run(ctx: Ctx) -> Any:
        path = sentiment_task(ctx.tmp, HUB_TASK, name="hubtask")
        url = getattr(ctx.servers, endpoint)
        in_child(
            ctx,
            "load_split(spec, get_family('sentiment'), 'test')",
            setup=(
                "from bench.data import load_split\nfrom bench.families.base import get_family\n"
                f"from bench.spec import load_task\nspec = load_task({str(path)!r})"
            ),
            seconds=2.0,
            timeout=40,
            env={"HF_ENDPOINT": url, "HF_HUB_OFFLINE": "", "HF_DATASETS_OFFLINE": ""},
        )

    return run


CSV = "review,label\ngood stay,1\nbad room,0\nfriendly staff,1\nnoisy,0\n"
CSV_SHA = hashlib.sha256(CSV.encode()).hexdigest()


def url_task(ctx: Ctx, base: str, sha: str = CSV_SHA, name: str = "t") -> Path:
    ctx.servers.files["/files/reviews.csv"] = CSV.encode()
    source = (
        f"kind: url\nlocation: {base}\nformat: csv\nfiles: {{all: reviews.csv}}\n"
        f"sha256: {{reviews.csv: {sha}}}\nsplits: {{test: all}}\n"
        "fields: {text: review, label: label}\nlabel_map: {0: negative, 1: positive}\n"
    )
    return sentiment_task(ctx.tmp, source, name=name)


def download(base: Callable[[Servers], str], sha: str = CSV_SHA) -> Callable[[Ctx], Any]:
    """A case: a url task whose base URL is ``base(servers)``, loaded."""

    def run(ctx: Ctx) -> Any:
        spec = load_task(url_task(ctx, base(ctx.servers), sha))
        return load_split(spec, get_family("sentiment"), "test")

    return run


def ml_zip(member_prefix: str = "ml-100k/") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("u.data", "u.item"):
            zf.write(SHARED / "movielens-100k" / "ml-100k" / name, member_prefix + name)
    return buf.getvalue()


def movielens_task(ctx: Ctx, archive: bytes, md5: str | None = None) -> Path:
    """movielens-100k as shipped, its location rewritten to the local server."""
    ctx.servers.files["/grouplens/ml-100k.zip"] = archive
    text = (STANDARD / "movielens-100k.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "https://files.grouplens.org/datasets/movielens", ctx.servers.url + "/grouplens"
    )
    text = text.replace("0e33842e24a9c977be4e0107933c0723", md5 or hashlib.md5(archive).hexdigest())
    text = text.replace("name: movielens-100k", "name: ml-local")
    path = ctx.tmp / "ml-local.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def archive_case(archive: Callable[[], bytes], md5: str | None = None) -> Callable[[Ctx], Any]:
    def run(ctx: Ctx) -> Any:
        spec = load_task(movielens_task(ctx, archive(), md5))
        return get_family("recommendation").prepare(spec, data_override=None, limit=None)

    return run


def validate(fields: str) -> Callable[[Ctx], Any]:
    """A case: the data check of ``bench tasks validate`` on a local task."""
    return lambda ctx: _validate_data(load_task(local_task(ctx.tmp, fields)), None)


def nothing_written(ctx: Ctx) -> None:
    assert not (ctx.tmp / "home" / "results").exists()
    assert not (ctx.tmp / "results").exists()


def no_file_outside(ctx: Ctx) -> None:
    assert [p.name for p in ctx.tmp.rglob("*.yaml")] == []


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Ctx], Any]
    error: type[BenchError]
    says: tuple[str, ...]  # substrings of the message ("{tmp}", "{url}"... are filled in)
    then: Callable[[Ctx], None] | None = field(default=None)


RUN = ["run", "-m", "baseline:majority", "--bootstrap", "0", "--limit", "5"]

CASES = [
    # ---- --data names (item 14): refused before anything runs
    Case(
        "data-misspelt-task-run",
        cli(*RUN, "-t", "sentiment-en", "--data", "sentimen-en={tmp}"),
        DataError,
        (
            "--data sentimen-en=",
            "'sentimen-en' is not a task",
            "did you mean 'sentiment-en'",
            "selected: sentiment-en",
        ),
        nothing_written,
    ),
    Case(
        "data-unselected-task-run",
        cli(*RUN, "-t", "sentiment-en", "--data", "sst2={tmp}"),
        DataError,
        ("'sst2' is not one of the tasks selected", "selected: sentiment-en", "select task 'sst2'"),
        nothing_written,
    ),
    Case(
        "data-misspelt-in-a-suite-run",
        cli(*RUN, "-t", "smoke", "--data", "qa_en={tmp}"),
        DataError,
        ("'qa_en' is not a task", "did you mean 'qa-en'"),
        nothing_written,
    ),
    Case(
        "data-given-twice-run",
        cli(
            *RUN,
            "-t",
            "sentiment-en",
            "--data",
            "sentiment-en={tmp}/a",
            "--data",
            "sentiment-en={tmp}/b",
        ),
        DataError,
        ("--data sentiment-en=... is given twice", "{tmp}/a", "{tmp}/b"),
        nothing_written,
    ),
    Case(
        "data-misspelt-task-score",
        score_with("qa-eng=/tmp"),
        DataError,
        ("'qa-eng' is not a task", "did you mean 'qa-en'", "selected: qa-en"),
        nothing_written,
    ),
    Case(
        "data-other-task-score",
        score_with("qa-zh=/tmp"),
        DataError,
        ("'qa-zh' is not one of the tasks selected", "selected: qa-en"),
        nothing_written,
    ),
    Case(
        "data-misspelt-task-show",
        cli("tasks", "show", "sentiment-en", "--data", "sentiment_en={tmp}"),
        DataError,
        ("'sentiment_en' is not a task", "did you mean 'sentiment-en'"),
    ),
    # ---- YAML bounds (item 17), in a child process with a timeout
    Case(
        "yaml-alias-bomb",
        yaml_case(alias_bomb()),
        TaskSpecError,
        (
            f"sentiment-en.yaml line {_APPENDED + 5}",
            "expands to more than 100000 values",
            "alias *a4",
            "; fix: ",
        ),
    ),
    Case(
        "yaml-recursive-alias",
        yaml_case("options: &r {a: [1, *r]}\n"),
        TaskSpecError,
        (f"sentiment-en.yaml line {_APPENDED}", "alias *r refers to a value that contains it"),
    ),
    Case(
        "yaml-deep-flow-list",
        yaml_case("tags: " + "[" * 20000 + "]" * 20000 + "\n"),
        TaskSpecError,
        (f"sentiment-en.yaml line {_APPENDED}", "nesting deeper than 100 levels", "; fix: "),
    ),
    Case(
        "yaml-deep-flow-map",
        yaml_case("options: " + "{a: " * 20000 + "1" + "}" * 20000 + "\n"),
        TaskSpecError,
        (f"sentiment-en.yaml line {_APPENDED}", "nesting deeper than 100 levels"),
    ),
    Case(
        "yaml-deep-block-map",
        yaml_case(block_nesting(150)),
        TaskSpecError,
        (f"sentiment-en.yaml line {_APPENDED + 100}", "nesting deeper than 100 levels"),
    ),
    Case(
        "yaml-deep-through-an-alias",
        yaml_case(deep_alias()),
        TaskSpecError,
        (
            f"sentiment-en.yaml line {_APPENDED}",
            "nesting deeper than 100 levels",
            "alias *d is 60 levels deep",
        ),
    ),
    # ---- the Hub offline (item 18): one probe, <= 2 s, in a child process
    Case(
        "hub-closed-port",
        hub_case("closed"),
        DataError,
        (
            "task 'hubtask': cannot load hub:bench-tests/no-such-dataset[test]",
            "cannot be reached",
            "Connection refused",
            "HF_HUB_OFFLINE=1",
            "--data hubtask=PATH",
        ),
    ),
    Case(
        "hub-silent-server",
        hub_case("silent"),
        DataError,
        (
            "task 'hubtask': cannot load hub:",
            "{silent}",
            "no answer within 1.5 s",
            "--data hubtask=PATH",
        ),
    ),
    # ---- downloads (item 19) from the local server
    Case(
        "download-404",
        download(lambda s: s.url + "/missing"),
        DataError,
        (
            "task 't': cannot download {url}/missing/reviews.csv: HTTP 404 Not Found",
            "--data t=PATH",
        ),
    ),
    Case(
        "download-wrong-sha256",
        download(lambda s: s.url + "/files", sha="ab" * 32),
        DataError,
        (f"{{url}}/files/reviews.csv has SHA-256 {CSV_SHA}, expected {'ab' * 32}",),
    ),
    Case(
        "download-truncated-body",
        download(lambda s: s.url + "/truncated/files"),
        DataError,
        (
            "download of {url}/truncated/files/reviews.csv is truncated",
            f"{len(CSV) // 2} of {len(CSV)} bytes (Content-Length)",
        ),
    ),
    Case(
        "download-connection-refused",
        download(lambda s: s.closed),
        DataError,
        (
            "cannot download {closed}/reviews.csv: cannot connect",
            "Connection refused",
            "--data t=PATH",
        ),
    ),
    Case(
        "archive-wrong-md5",
        archive_case(ml_zip, md5="f" * 32),
        DataError,
        ("{url}/grouplens/ml-100k.zip has MD5", f"expected {'f' * 32}"),
    ),
    Case(
        "archive-missing-member",
        archive_case(lambda: ml_zip("other/")),
        DataError,
        ("{url}/grouplens/ml-100k.zip has no member ml-100k/u.data",),
    ),
    Case(
        "archive-not-a-zip",
        archive_case(lambda: b"<html>moved</html>"),
        DataError,
        ("{url}/grouplens/ml-100k.zip is not a zip archive",),
    ),
    # ---- validation that passes what will fail (item 23)
    Case(
        "validate-misspelt-column",
        validate("{text: reveiw, label: label}"),
        DataError,
        (
            "data/test.jsonl",
            "field 'text' maps to column 'reveiw'",
            "did you mean 'review'",
            "set source.fields.text",
        ),
    ),
    Case(
        "validate-misspelt-field",
        validate("{txt: review, label: label}"),
        DataError,
        ("source.fields names 'txt'", "did you mean 'text'"),
    ),
    Case(
        "new-task-parent-folder",
        cli("new-task", "../x", "--family", "sentiment", "--dir", "{tmp}/sub"),
        TaskSpecError,
        ("'../x' is not a task name", "no folders", "use e.g. 'x'"),
        no_file_outside,
    ),
    Case(
        "new-task-absolute-path",
        cli("new-task", "{tmp}/abs", "--family", "sentiment", "--dir", "{tmp}/sub"),
        TaskSpecError,
        ("{tmp}/abs' is not a task name",),
        no_file_outside,
    ),
    Case(
        "new-task-evil-name",
        cli("new-task", "Evil Name", "--family", "sentiment", "--dir", "{tmp}/sub"),
        TaskSpecError,
        ("'Evil Name' is not a task name", "use e.g. 'evil-name'"),
        no_file_outside,
    ),
]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_task(
    case: Case, tmp_path: Path, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NLTK_DATA", str(REPO.parent / "shared" / "nltk_data"))
    ctx = Ctx(tmp=tmp_path, servers=servers)
    start = time.monotonic()
    with pytest.raises(BenchError) as info:
        case.run(ctx)
    assert time.monotonic() - start < 60
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    fill = {"tmp": str(tmp_path), "url": servers.url, "silent": servers.silent}
    fill["closed"] = servers.closed
    for part in case.says:
        for key, value in fill.items():
            part = part.replace("{" + key + "}", value)
        assert part in message, f"{part!r} not in: {message}"
    assert "; fix: " in message
    if case.then is not None:
        case.then(ctx)


# --------------------------------------------------------------------------- what works


def test_a_url_download_is_checked_kept_and_read_once(
    tmp_path: Path, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    ctx = Ctx(tmp=tmp_path, servers=servers)
    spec = load_task(url_task(ctx, servers.url + "/files"))
    before = len(servers.requests)
    split = load_split(spec, get_family("sentiment"), "test")
    assert split.dataset["text"] == ["good stay", "bad room", "friendly staff", "noisy"]
    assert split.dataset["label"] == ["positive", "negative", "positive", "negative"]
    kept = list((tmp_path / "home" / "downloads").rglob("reviews.csv"))
    assert [p.read_text() for p in kept] == [CSV]
    assert not list((tmp_path / "home" / "downloads").rglob("*.part"))  # no partial file
    load_split(spec, get_family("sentiment"), "test")
    assert servers.requests[before:] == ["/files/reviews.csv"]  # the second read is local
    kept[0].write_text(CSV.replace("noisy", "quiet"))  # a damaged copy is fetched again
    assert load_split(spec, get_family("sentiment"), "test").dataset["text"][-1] == "noisy"
    assert servers.requests[before:] == ["/files/reviews.csv"] * 2


def test_a_failed_download_leaves_nothing_behind(
    tmp_path: Path, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    ctx = Ctx(tmp=tmp_path, servers=servers)
    for base, sha, says in (
        (servers.url + "/truncated/files", CSV_SHA, "is truncated"),
        (servers.url + "/files", "f" * 64, f"has SHA-256 {CSV_SHA}"),
    ):
        spec = load_task(url_task(ctx, base, sha))
        for _ in range(2):  # and the second try fails the same way: nothing bad was kept
            with pytest.raises(DataError, match=says):
                load_split(spec, get_family("sentiment"), "test")
    assert [p for p in (tmp_path / "home" / "downloads").rglob("*") if p.is_file()] == []


def test_movielens_from_a_local_server_archive(
    tmp_path: Path, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    spec = load_task(movielens_task(Ctx(tmp_path, servers), ml_zip()))
    prepared = get_family("recommendation").prepare(spec, data_override=None, limit=None)
    assert prepared is not None
    assert prepared.info["users_evaluated"] == 943  # every ml-100k user, items from u.item


def test_a_url_task_runs_end_to_end_against_a_local_server(
    tmp_path: Path, servers: Servers
) -> None:
    # chnsenticorp as shipped, its location rewritten to the local server, run by `bench`.
    csv = (SHARED / "chnsenticorp-htl" / "ChnSentiCorp_htl_all.csv").read_bytes()
    servers.files["/chn/ChnSentiCorp_htl_all.csv"] = csv
    text = (STANDARD / "chnsenticorp.yaml").read_text(encoding="utf-8")
    location = next(x for x in text.splitlines() if x.strip().startswith("location:"))
    text = text.replace(location, f"  location: {servers.url}/chn").replace(
        "name: chnsenticorp", "name: chn-local"
    )
    (tmp_path / "chn-local.yaml").write_text(text, encoding="utf-8")
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    env["NLTK_DATA"] = str(REPO.parent / "shared" / "nltk_data")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "run",
            "-m",
            "baseline:majority",
            "-t",
            "chn-local.yaml",
            "--limit",
            "20",
            "--bootstrap",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(
        next((tmp_path / "home" / "results").rglob("chn-local/record.json")).read_text()
    )
    assert record["task"]["n_examples"] == 20
    assert "/chn/ChnSentiCorp_htl_all.csv" in servers.requests


@pytest.mark.parametrize(
    ("task", "data", "role", "n"),
    [
        ("chnsenticorp", "chnsenticorp-htl/ChnSentiCorp_htl_all.csv", "test", 1553),
        ("csl-title", "csl-title-summarization/ts", "test", 1000),
    ],
)
def test_standard_url_tasks_load_with_data(task: str, data: str, role: str, n: int) -> None:
    spec = load_task(STANDARD / f"{task}.yaml")
    split = load_split(spec, get_family(spec.family), role, data_override=SHARED / data)
    assert len(split.dataset) == n


def test_movielens_loads_with_data() -> None:
    spec = load_task(STANDARD / "movielens-100k.yaml")
    prepared = get_family("recommendation").prepare(
        spec, data_override=SHARED / "movielens-100k" / "ml-100k", limit=None
    )
    assert prepared is not None and prepared.info["users_evaluated"] == 943


def test_tasks_validate_fails_on_a_misspelt_column(tmp_path: Path) -> None:
    path = local_task(tmp_path, "{text: reveiw, label: label}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "tasks", "validate", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "did you mean 'review'" in proc.stderr and "Traceback" not in proc.stderr
    path.write_text(path.read_text().replace("reveiw", "review"))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "tasks", "validate", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(data: test 3)" in proc.stdout


def test_new_task_writes_only_a_file_that_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    get_command(app).main(
        ["new-task", "good.name_1", "--family", "qa", "--dir", "sub"], standalone_mode=False
    )
    assert load_task(tmp_path / "sub" / "good.name_1.yaml").name == "good.name_1"


def test_readme_model_spec_keeps_the_space_of_its_prefix() -> None:
    line = next(
        x
        for x in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
        if "prefix=summarize" in x
    )
    argv = shlex.split(line)
    spec = parse_model_spec(argv[argv.index("-m") + 1])
    assert spec.params["prefix"] == "summarize: "
    assert make_adapter(spec).params.prefix == "summarize: "  # type: ignore[attr-defined]
    inner = parse_model_spec("hf:x, task = seq2seq ,prefix=  two  spaces  ")
    assert inner.params == {"task": " seq2seq ", "prefix": "  two  spaces  "}
    assert inner.target == "x"


def test_tasks_list_shows_what_is_scored(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_HOME": str(tmp_path / "home")}
    env["COLUMNS"] = "200"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "tasks", "list", "smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "n scored" in proc.stdout
    spec = load_task(REPO / "tasks" / "smoke" / "recommendation-synthetic.yaml")
    family = get_family("recommendation")
    prepared = family.prepare(spec, data_override=None, limit=None)
    assert prepared is not None
    users = prepared.info["users_evaluated"]
    rows = len(load_split(spec, family, "test").dataset)
    assert rows != users
    line = next(x for x in proc.stdout.splitlines() if "recommendation-synthetic" in x)
    assert f"{users} users" in line and str(rows) not in line
    line = next(x for x in proc.stdout.splitlines() if "sentiment-en" in x)
    assert " 160 " in line
