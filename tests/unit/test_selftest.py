"""``bench selftest``: finds the tests, runs pytest on them, or says they are absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import BenchError, MissingDependency
from bench.selftest import PERF_SCALE_ENV, find_tests, selftest_command

REPO = Path(__file__).resolve().parents[2]


def test_finds_the_repository_tests_beside_the_package() -> None:
    assert find_tests() == REPO / "tests"


def test_a_folder_without_the_suite_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="installed without its repository's tests") as info:
        find_tests(tmp_path)
    assert "pip install -e" in str(info.value) and "--tests" in str(info.value)


def test_perf_command_runs_tests_perf_at_full_scale_with_output() -> None:
    command, env, cwd = selftest_command(True, None, ["-k", "rouge"])
    assert command[:4] == [sys.executable, "-m", "pytest", str(REPO / "tests" / "perf")]
    assert command[4:] == ["-s", "-q", "-k", "rouge"]
    assert env[PERF_SCALE_ENV] == "full" and cwd == REPO
    plain, _, _ = selftest_command(False)
    assert plain[3] == str(REPO / "tests") and "-s" not in plain


def test_missing_pytest_names_the_dev_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytest" else real(name, *a)
    )
    with pytest.raises(MissingDependency, match=r"bench\[dev\]"):
        selftest_command(True)


def test_cli_selftest_perf_runs_pytest_on_the_given_suite(tmp_path: Path) -> None:
    suite = tmp_path / "tests"
    (suite / "perf").mkdir(parents=True)
    (suite / "conftest.py").write_text("")
    (suite / "perf" / "test_scale.py").write_text(
        "import os\n\ndef test_scale():\n    print('scale is', os.environ['BENCH_PERF_SCALE'])\n"
    )
    bench = [sys.executable, "-m", "bench.cli"]
    done = subprocess.run(
        [*bench, "selftest", "--perf", "--tests", str(suite), "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scale is full" in done.stdout and "1 passed" in done.stdout
    (suite / "perf" / "test_scale.py").write_text("def test_fails():\n    assert False\n")
    failed = subprocess.run(
        [*bench, "selftest", "--perf", "--tests", str(suite)], capture_output=True, check=False
    )
    assert failed.returncode == 1  # pytest's own exit code
    missing = subprocess.run(
        [*bench, "selftest", "--tests", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "installed without its repository's tests" in missing.stderr
