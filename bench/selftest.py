"""``bench selftest``: run the repository's test suite, or its performance benchmarks.

The tests are not part of the installed package: they live in the repository's ``tests`` folder,
which an editable install (``pip install -e .``) keeps beside the ``bench`` package. A wheel
install has no tests, and ``bench selftest`` says so instead of running nothing.

``--perf`` runs ``tests/perf`` with ``-s`` (every benchmark prints its figures) and
``BENCH_PERF_SCALE=full``, the sizes quoted in the README; plain ``pytest`` runs the same
benchmarks at a reduced scale.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import BenchError, MissingDependency

__all__ = ["PERF_SCALE_ENV", "find_tests", "selftest_command"]

PERF_SCALE_ENV = "BENCH_PERF_SCALE"
"""``full`` runs the benchmarks at the sizes the README quotes; anything else, a reduced scale."""


def find_tests(tests: Path | None = None) -> Path:
    """The repository's ``tests`` folder: ``tests`` if given, else the one beside the package.

    Raises:
        BenchError: No such folder (bench was installed from a wheel, without its tests).
    """
    if tests is None:
        import bench

        candidate = Path(bench.__file__).resolve().parents[1] / "tests"
        where = f"beside the installed package ({candidate})"
    else:
        candidate = Path(tests)
        where = f"at {candidate}"
    if not (candidate / "conftest.py").is_file() or not (candidate / "perf").is_dir():
        raise BenchError(
            f"no bench test suite {where}: this bench was installed without its repository's "
            "tests folder (a wheel install ships only the package)",
            fix="clone the bench repository and install it with `pip install -e '.[dev]'`, or "
            "pass --tests PATH/TO/REPO/tests",
        )
    return candidate


def selftest_command(
    perf: bool, tests: Path | None = None, pytest_args: Sequence[str] = ()
) -> tuple[list[str], dict[str, str], Path]:
    """The pytest command line, environment and working directory of a self-test.

    Raises:
        BenchError: No test suite (see :func:`find_tests`).
        MissingDependency: pytest is not installed (extra ``[dev]``).
    """
    folder = find_tests(tests)
    if importlib.util.find_spec("pytest") is None:
        raise MissingDependency(
            "bench selftest needs pytest, which is not installed",
            fix="pip install 'bench[dev]'",
        )
    env = dict(os.environ)
    target = folder / "perf" if perf else folder
    command = [sys.executable, "-m", "pytest", str(target)]
    if perf:
        env[PERF_SCALE_ENV] = "full"
        command += ["-s", "-q"]
    return command + list(pytest_args), env, folder.parent


def run_selftest(perf: bool, tests: Path | None = None, pytest_args: Sequence[str] = ()) -> int:
    """Run the self-test and return pytest's exit code."""
    command, env, cwd = selftest_command(perf, tests, pytest_args)
    return subprocess.call(command, env=env, cwd=cwd)
