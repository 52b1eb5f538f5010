"""Read-only folders and full disks: a clear error before the model is called, no traceback.

Read-only folders are real ones that even root cannot write (tests run as root in CI, where
``chmod`` blocks nothing): a folder under ``/sys`` (sysfs refuses new files), a path under a
regular file (``ENOTDIR``), and ``chmod 0o555`` when not root. Full disks are real too: a 1 MiB
tmpfs mounted in a private user and mount namespace (``unshare``), filled up; that test is
skipped only where the kernel allows no such namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.errors import ResultsError
from bench.runner import RunConfig, preflight

ARGS = ("run", "--model", "reltest:lexicon", "--tasks", "sentiment-en", "--limit", "48")
ARGS += ("--bootstrap", "0")
SYS_DIR = Path("/sys/bench-reliability-test")


def _sys_is_read_only() -> bool:
    try:
        SYS_DIR.mkdir()
    except OSError:
        return True
    SYS_DIR.rmdir()
    return False


needs_sys = pytest.mark.skipif(not _sys_is_read_only(), reason="/sys accepts new folders here")


@needs_sys
def test_cli_refuses_a_read_only_results_folder_before_calling_the_model(bench: Any) -> None:
    done = bench.run(*ARGS, "--results", str(SYS_DIR / "results"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"error: results folder {SYS_DIR / 'results'}: it is not writable")
    assert "fix: choose another --results" in message
    assert bench.log_lines() == []  # the adapter was not even constructed
    assert not bench.cache.exists()


@needs_sys
def test_read_only_cache_folder(tmp_path: Path) -> None:
    cfg = RunConfig(results=tmp_path / "results", cache=SYS_DIR / "cache.sqlite")
    with pytest.raises(ResultsError, match=r"cache folder /sys/bench-reliability-test: it is not"):
        preflight(cfg)


def test_a_path_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResultsError) as info:
        preflight(RunConfig(results=tmp_path / "file" / "results"))
    assert f"results folder {tmp_path / 'file' / 'results'}: it is not writable" in str(info.value)
    assert "Not a directory" in str(info.value) or "File exists" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod 0o555")
def test_chmod_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ResultsError, match="Permission denied"):
            preflight(RunConfig(results=folder))
    finally:
        folder.chmod(0o755)


def test_free_space_minimum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    free_mb = shutil.disk_usage(tmp_path).free / 2**20
    monkeypatch.setenv("BENCH_MIN_FREE_MB", str(int(free_mb) + 1024))
    with pytest.raises(ResultsError, match=r"MiB free, a run needs \d+ MiB \(BENCH_MIN_FREE_MB\)"):
        preflight(RunConfig(results=tmp_path / "results"))
    monkeypatch.setenv("BENCH_MIN_FREE_MB", str(max(0, int(free_mb) - 1024)))
    preflight(RunConfig(results=tmp_path / "results", cache=tmp_path / "c" / "cache.sqlite"))
    assert (tmp_path / "results").is_dir() and (tmp_path / "c").is_dir()
    assert list((tmp_path / "results").iterdir()) == []  # the probe is gone
    monkeypatch.setenv("BENCH_MIN_FREE_MB", "lots")
    with pytest.raises(ResultsError, match="BENCH_MIN_FREE_MB='lots' is not a number"):
        preflight(RunConfig(results=tmp_path / "results"))


FULL_DISK = r"""
set -u
mount -t tmpfs -o size=1m tmpfs "$MNT" || exit 99
run() {  # run NAME ARGS...: bench's exit code, stdout and stderr into $OUT/NAME.*
  name=$1; shift
  "$BENCH" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
  echo $? >"$OUT/$name.rc"
  grep -c '^predict' "$RELTEST_LOG" >"$OUT/$name.predicted" 2>/dev/null
}
fill() {  # fill the tmpfs, leaving $1 KiB free
  head -c $(($1 * 1024)) /dev/zero >"$MNT/reserve"
  cat /dev/zero >"$MNT/filler" 2>/dev/null
  rm "$MNT/reserve"
}
# 1. A 1 MiB disk is below the default minimum of free space: refused up front.
run small $ARGS --results "$MNT/results" --cache "$OUT/cache.sqlite"
# 2. Almost full; the minimum check off: the results write hits ENOSPC after predicting.
fill 4
BENCH_MIN_FREE_MB=0 run enospc $ARGS --results "$MNT/results" --cache "$OUT/cache.sqlite"
# 3. Space freed: the same command resumes from the cache.
rm "$MNT/filler"
BENCH_MIN_FREE_MB=0 run resumed $ARGS --results "$MNT/results" --cache "$OUT/cache.sqlite"
# 4. The cache on the full disk.
rm -rf "$MNT/results"; fill 4
BENCH_MIN_FREE_MB=0 run cachefull $ARGS --results "$OUT/results4" --cache "$MNT/cache.sqlite"
"""


@pytest.mark.slow
def test_full_disk(bench: Any, tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) to mount a private tmpfs")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no user+mount namespaces here: {probe.stderr.strip()}")
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    env = {**bench.env, "MNT": str(mnt), "OUT": str(out), "ARGS": " ".join(ARGS)}
    env["BENCH"] = bench.argv()[0]
    done = subprocess.run(
        [unshare, "-rm", "bash", "-c", FULL_DISK],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode == 99:
        pytest.skip(f"cannot mount tmpfs in a user namespace: {done.stderr.strip()}")

    def predicted(name: str) -> int:
        """Requests the adapter had predicted, over all runs, when run ``name`` ended."""
        text = (out / f"{name}.predicted").read_text().strip()
        return int(text or 0)

    def result(name: str) -> tuple[int, str]:
        err = (out / f"{name}.err").read_text(encoding="utf-8")
        assert "Traceback" not in err, err
        return int((out / f"{name}.rc").read_text()), err.strip().splitlines()[-1]

    rc, message = result("small")
    assert rc == 2
    assert message.startswith(f"error: results folder {mnt / 'results'}: only ")
    assert "MiB free, a run needs 50 MiB" in message
    assert predicted("small") == 0  # refused before the model was called

    rc, message = result("enospc")
    assert rc == 2
    assert message.startswith(f"error: cannot write results to {mnt / 'results'}")
    assert "No space left on device" in message
    assert predicted("enospc") == 48

    rc, _ = result("resumed")
    assert rc == 0
    assert predicted("resumed") == 48  # everything came from the cache
    assert "48/48" in (out / "resumed.out").read_text(encoding="utf-8")  # cached/total column

    rc, message = result("cachefull")
    assert rc == 2
    assert f"prediction cache {mnt / 'cache.sqlite'}: the disk is full" in message
