"""Shared machinery of the reliability tests: a test-only adapter plugin and ``bench`` runs.

The adapters live in a real plugin: a module plus a ``*.dist-info`` folder with an
``entry_points.txt`` in the ``bench.plugins`` group, written at test time into a folder that
child processes get on ``PYTHONPATH``. ``bench run`` in a subprocess finds them exactly as it
finds an installed third-party plugin; nothing is patched.

``reltest:lexicon`` is a deterministic, trainable lexicon rule for sentiment. Environment
variables (never parameters, so they do not change the fingerprint and the cache key) make it
slow and observable:

* ``RELTEST_LOG``: a file that gets ``init``, ``fit`` and one ``predict <id> <hash>`` line per
  request it predicts (appended and flushed at once, so a killed process leaves its trace);
* ``RELTEST_FIT_DELAY`` / ``RELTEST_PREDICT_DELAY`` / ``RELTEST_INFO_DELAY``: seconds to sleep in
  ``fit``, in each ``predict`` call, and in ``info()`` (which the runner calls after scoring,
  just before writing the record); ``info`` is logged before the sleep.

``reltest:flaky`` answers like the lexicon but returns a ``Failure`` (cause ``unparsable``) on
texts whose length is a multiple of 5 and ``timeout`` on multiples of 7 (see :func:`flaky_cause`).
``reltest:broken`` fails every example (cause ``unreachable``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NLTK_DATA = REPO.parent / "shared" / "nltk_data"
BENCH = Path(sys.executable).parent / "bench"

PLUGIN_MODULE = '''
"""Test-only adapters of the reliability tests (see tests/reliability/conftest.py)."""

import os
import time
from typing import ClassVar

from bench.adapters.base import Adapter
from bench.families.base import Failure
from bench.families.sentiment import SentimentResponse

POSITIVE = ("good", "great", "love", "excellent", "friendly", "perfect", "recommend", "best",
            "fast", "helpful", "amazing", "happy", "好", "棒", "满意", "喜欢", "推荐", "不错")


def _log(line):
    path = os.environ.get("RELTEST_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\\n").encode())
        finally:
            os.close(fd)


def _delay(name):
    time.sleep(float(os.environ.get(name, "0")))


def flaky_cause(text):
    if len(text) % 5 == 0:
        return "unparsable"
    if len(text) % 7 == 0:
        return "timeout"
    return None


class Lexicon(Adapter):
    """``positive`` when the text holds a positive cue word, else ``negative``."""

    name = "reltest:lexicon"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def __init__(self, target=None, **params):
        super().__init__(target, **params)
        _log("init")

    def fit(self, examples):
        _log("fit")
        _delay("RELTEST_FIT_DELAY")

    def info(self):
        _log("info")
        _delay("RELTEST_INFO_DELAY")
        return {"rule": "lexicon"}

    def answer(self, request):
        text = request.text.lower()
        return "positive" if any(w in text for w in POSITIVE) else "negative"

    def predict(self, requests):
        _delay("RELTEST_PREDICT_DELAY")
        out = []
        for r in requests:
            _log(f"predict {r.id} {r.content_hash()}")
            out.append(SentimentResponse(label=self.answer(r)))
        return out


class Flaky(Lexicon):
    """The lexicon rule, failing on some texts (two causes)."""

    name = "reltest:flaky"

    def predict(self, requests):
        out = []
        for r in requests:
            cause = flaky_cause(r.text)
            if cause == "unparsable":
                out.append(Failure(cause=cause, message="cannot parse the answer"))
                continue
            if cause == "timeout":
                out.append(Failure(cause=cause, message="the server did not answer"))
                continue
            _log(f"predict {r.id} {r.content_hash()}")  # successes only
            out.append(SentimentResponse(label=self.answer(r)))
        return out


class Broken(Lexicon):
    """Every answer is a Failure (cause ``unreachable``): a backend that is down."""

    name = "reltest:broken"

    def predict(self, requests):
        return [Failure(cause="unreachable", message="the backend is down") for r in requests]
'''

ENTRY_POINTS = """[bench.plugins]
adapter.reltest:lexicon = reltest_adapters:Lexicon
adapter.reltest:flaky = reltest_adapters:Flaky
adapter.reltest:broken = reltest_adapters:Broken
"""


def flaky_cause(text: str) -> str | None:
    """The failure cause ``reltest:flaky`` returns for ``text`` (mirrors the plugin module)."""
    if len(text) % 5 == 0:
        return "unparsable"
    if len(text) % 7 == 0:
        return "timeout"
    return None


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the ``reltest`` plugin (module + dist-info with entry points)."""
    root = tmp_path_factory.mktemp("reltest-plugin")
    (root / "reltest_adapters.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    info = root / "bench_reltest_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bench-reltest-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return root


@dataclass
class Bench:
    """Runs ``bench`` in subprocesses with an isolated home and the ``reltest`` plugin."""

    home: Path
    env: dict[str, str]

    @property
    def results(self) -> Path:
        return self.home / "results"

    @property
    def cache(self) -> Path:
        return self.home / "cache.sqlite"

    @property
    def log(self) -> Path:
        return Path(self.env["RELTEST_LOG"])

    def argv(self, *args: str) -> list[str]:
        return [str(BENCH), *args]

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start ``bench ARGS`` (stdout and stderr captured as text)."""
        return subprocess.Popen(
            self.argv(*args),
            env={**self.env, **env},
            cwd=self.home.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``bench ARGS`` to the end."""
        return subprocess.run(
            self.argv(*args),
            env={**self.env, **env},
            cwd=self.home.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []

    def predicted(self) -> list[tuple[str, str]]:
        """``(id, request hash)`` of every request the adapter was asked to predict, in order."""
        return [
            (p[1], p[2]) for p in (line.split() for line in self.log_lines()) if p[0] == "predict"
        ]

    def record(self, model_dir: str, task: str) -> dict[str, Any]:
        path = self.results / model_dir / task / "record.json"
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data


def make_bench(root: Path, plugin_dir: Path) -> Bench:
    """A :class:`Bench` whose home (results, cache) and adapter log live under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    env = {
        **os.environ,
        "BENCH_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(
            [str(plugin_dir), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "NLTK_DATA": str(NLTK_DATA),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "RELTEST_LOG": str(root / "adapter.log"),
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("RELTEST_FIT_DELAY", "RELTEST_PREDICT_DELAY", "RELTEST_INFO_DELAY"):
        env.pop(name, None)
    return Bench(home=home, env=env)


@pytest.fixture()
def bench(tmp_path: Path, plugin_dir: Path) -> Bench:
    """A :class:`Bench` with its own ``BENCH_HOME`` under ``tmp_path``."""
    return make_bench(tmp_path, plugin_dir)


def cached_hashes(path: Path) -> set[str]:
    """Request hashes in a prediction cache, read without disturbing running writers."""
    if not path.exists():
        return set()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return {row[0] for row in conn.execute("SELECT request FROM predictions")}
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return set()  # the file exists but its table does not yet


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 60
) -> None:
    """Poll ``condition`` until it holds; fail if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"bench exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture()
def reaper() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end are killed (by pid)."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate()


@dataclass(frozen=True)
class Helpers:
    """Plain functions of this conftest, for test modules (conftest is not importable)."""

    cached_hashes: Callable[[Path], set[str]] = cached_hashes
    wait_for: Callable[..., None] = wait_for
    flaky_cause: Callable[[str], str | None] = flaky_cause
    make_bench: Callable[[Path, Path], Bench] = make_bench


@pytest.fixture(scope="session")
def helpers() -> Helpers:
    """:class:`Helpers`."""
    return Helpers()
