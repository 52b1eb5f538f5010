"""``bench tasks pin`` against a Hub API served on 127.0.0.1: the commit a branch points at is
written into the task file as ``source.revision``, comments kept; errors name the fix."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bench.catalog import builtin_tasks_root
from bench.errors import TaskSpecError
from bench.pin import pin_text
from bench.spec import load_task
from tests.unit.test_cli import assert_one_line_error, bench

SHA = "0123456789abcdef0123456789abcdef01234567"
REPOS = {"stanfordnlp/sst2": {"main": SHA, "v1": "f" * 40}}


class _Hub(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Hub.seen.append(self.path)
        m = re.match(r"^/api/datasets/([^/]+/[^/?]+)(?:/revision/([^/?]+))?", self.path)
        repo, rev = (m.group(1), m.group(2) or "main") if m else ("", "")
        sha = REPOS.get(repo, {}).get(rev)
        body = json.dumps({"id": repo, "sha": sha, "private": False} if sha else {"error": "nf"})
        self.send_response(200 if sha else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _task(folder: Path, revision: str = "") -> Path:
    text = (builtin_tasks_root() / "standard" / "sst2.yaml").read_text(encoding="utf-8")
    text = text.replace("name: sst2", "name: my-sst2")
    if revision:
        text = text.replace(
            "  location: stanfordnlp/sst2\n",
            f"  location: stanfordnlp/sst2\n  revision: {revision}  # a branch\n",
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "my-sst2.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _env(endpoint: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_OFFLINE", "BENCH_"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home / "hf"), BENCH_HOME=str(home), COLUMNS="200")
    return env


def test_pin_shows_then_writes_the_commit(hub: str, tmp_path: Path) -> None:
    path = _task(tmp_path / "mine")
    before = path.read_text(encoding="utf-8")
    env = _env(hub, tmp_path)
    shown = bench("tasks", "pin", "my-sst2", "--tasks-dir", str(tmp_path / "mine"), env=env)
    assert shown.returncode == 0, shown.stderr
    assert SHA in shown.stdout and "pass --write" in shown.stderr
    assert path.read_text(encoding="utf-8") == before  # showing writes nothing
    args = ["tasks", "pin", "my-sst2", "--tasks-dir", str(tmp_path / "mine"), "--write"]
    written = bench(*args, "--format", "json", env=env)
    assert written.returncode == 0, written.stderr
    (row,) = json.loads(written.stdout)
    assert row == {"task": "my-sst2", "repository": "stanfordnlp/sst2", "was": "main",
                   "commit": SHA}  # fmt: skip
    after = path.read_text(encoding="utf-8")
    assert f"  location: stanfordnlp/sst2\n  revision: {SHA}\n" in after
    assert after.replace(f"  revision: {SHA}\n", "") == before  # nothing else changed
    spec = load_task(path)
    assert spec.source.revision == SHA
    assert spec.spec_hash() != load_task(_task(tmp_path / "other")).spec_hash()
    again = bench(*args, env=env)
    assert again.returncode == 0 and "not pinned yet" not in again.stderr
    assert not any("/revision/" + SHA in p for p in _Hub.seen)  # a commit is not asked again


def test_a_branch_revision_is_resolved_and_replaced(hub: str, tmp_path: Path) -> None:
    path = _task(tmp_path / "mine", revision="v1")
    env = _env(hub, tmp_path)
    done = bench(
        "tasks", "pin", "my-sst2", "--tasks-dir", str(tmp_path / "mine"), "--write", env=env
    )
    assert done.returncode == 0, done.stderr
    assert f"  revision: {'f' * 40}  # a branch\n" in path.read_text(encoding="utf-8")


def test_unknown_repositories_and_offline_runs_are_clear_errors(hub: str, tmp_path: Path) -> None:
    path = _task(tmp_path / "mine")
    path.write_text(
        path.read_text(encoding="utf-8").replace("stanfordnlp/sst2", "nobody/nothing"), "utf-8"
    )
    env = _env(hub, tmp_path)
    args = ["tasks", "pin", "my-sst2", "--tasks-dir", str(tmp_path / "mine")]
    assert_one_line_error(bench(*args, env=env), "cannot resolve nobody/nothing@main", hub)
    assert_one_line_error(bench(*args, env={**env, "HF_HUB_OFFLINE": "1"}), "HF_HUB_OFFLINE")
    assert_one_line_error(
        bench("tasks", "pin", "sentiment-en", env=env), "no task of 'sentiment-en'"
    )


def test_pin_text_touches_only_the_sources_own_revision() -> None:
    text = (
        "name: t\nsource:\n  kind: hub\n  location: a/b\n  original:\n    format: tsv\n"
        "    revision: keep\nmetrics: [accuracy]\n"
    )
    pinned = pin_text(text, SHA)
    assert pinned.splitlines()[4] == f"  revision: {SHA}"
    assert "    revision: keep" in pinned
    with pytest.raises(TaskSpecError, match="no 'source:' block"):
        pin_text("name: t\n", SHA)
    with pytest.raises(ValueError):
        pin_text(text, "main")
