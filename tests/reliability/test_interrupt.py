"""Ctrl-C (SIGINT) during ``bench run``: a clean stop, exit code 130, the exact resume command.

The test sends SIGINT while the model is predicting, checks that every batch finished before
the signal is in the cache, runs the command the message prints, word for word, and checks that
the resumed run asks the model for none of the cached predictions.
"""

from __future__ import annotations

import shlex
import signal
from typing import Any

import pytest

TASK = "sentiment-en"
ARGS = ("run", "--model", "reltest:lexicon", "--tasks", TASK, "--limit", "64")
ARGS += ("--batch-size", "8", "--bootstrap", "100")


@pytest.mark.slow
def test_ctrl_c_flushes_says_how_to_resume_and_resumes(
    bench: Any, helpers: Any, reaper: list[Any]
) -> None:
    proc = bench.popen(*ARGS, RELTEST_PREDICT_DELAY="0.3")
    reaper.append(proc)
    helpers.wait_for(lambda: len(helpers.cached_hashes(bench.cache)) >= 16, proc, "two batches")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    cached = helpers.cached_hashes(bench.cache)
    # Every batch the model finished was committed before exit (a batch in flight is lost).
    predicted = bench.predicted()
    assert len(cached) >= 16
    assert len(predicted) - len({h for _, h in predicted} & cached) <= 8
    assert not (bench.results / "reltest-lexicon" / TASK / "record.json").exists()

    lines = err.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("interrupted:"))
    assert str(bench.cache) in lines[at] and "resume with:" in lines[at]
    command = shlex.split(lines[at + 1])
    assert command == ["bench", *ARGS]

    # Resume with exactly that command.
    n_before = len(predicted)
    done = bench.run(*command[1:])
    assert done.returncode == 0, done.stderr
    record = bench.record("reltest-lexicon", TASK)
    later = {h for _, h in bench.predicted()[n_before:]}
    assert later and not later & cached
    assert record["predictions"]["cached"] >= len(cached)
    assert record["predictions"]["cached"] + record["predictions"]["computed"] == 64
