"""``bench run --check-determinism``: re-run a seeded subset with another batch size, no cache.

A model that answers differently when its requests are batched differently (padding,
non-deterministic kernels, sampling without a seed, a server that load-balances between
replicas) makes its numbers irreproducible. After a pair has run, :func:`check_determinism`
picks ``sample`` examples at random (seeded), builds a fresh adapter from the same model spec
(trained again when it trains), and predicts those examples again with a different batch size
(1, or 2 when the run used batches of 1) and without the prediction cache. Every other example
keeps its recorded response, so the re-run scores exactly like the original except where a
re-predicted answer differs. The check then compares, example by example, the response and
the per-example scores, and records the outcome in the run's ``record.json`` under
``determinism`` (the metrics section is left untouched).

The re-run goes through :func:`bench.runner.run_pair` (so data loading, preprocessing,
training and scoring are the run's own) with a wrapper adapter that forwards only the chosen
examples to the model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.adapters.base import ModelSpec, make_adapter
from bench.errors import BenchError
from bench.families.base import Request, Response, get_family
from bench.records import atomic_write_text, load_record
from bench.runner import RunConfig, run_pair
from bench.spec import TaskSpec

__all__ = ["DEFAULT_SAMPLE", "DeterminismReport", "check_determinism", "rerun_batch_size"]

DEFAULT_SAMPLE = 32
"""How many examples ``--check-determinism`` re-runs by default."""

_MAX_LISTED = 50  # changed examples listed in the record (all are counted)


class _OriginalAnswer(Exception):
    """The recorded run failed on this example; the re-run reports the same failure."""


@dataclass(frozen=True)
class DeterminismReport:
    """The outcome of one determinism check.

    Attributes:
        model: The model's display name.
        task: The task name.
        checked: Example ids re-run.
        batch_size: The batch size of the re-run.
        original_batch_size: The batch size of the checked run.
        seed: The seed of the subset draw.
        changed_predictions: ``[{id, before, after}]`` for examples whose response changed.
        changed_scores: ``[{id, score, before, after}]`` for per-example scores that changed.
    """

    model: str
    task: str
    checked: list[str]
    batch_size: int
    original_batch_size: int
    seed: int
    changed_predictions: list[dict[str, Any]]
    changed_scores: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        """Nothing changed."""
        return not self.changed_predictions and not self.changed_scores

    def to_json(self) -> dict[str, Any]:
        """The ``determinism`` section of the record (at most 50 changes of each kind listed)."""
        return {
            "ok": self.ok,
            "sample": len(self.checked),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "original_batch_size": self.original_batch_size,
            "cache": "bypassed",
            "changed_predictions": len(self.changed_predictions),
            "changed_scores": len(self.changed_scores),
            "predictions": self.changed_predictions[:_MAX_LISTED],
            "scores": self.changed_scores[:_MAX_LISTED],
            "checked_ids": self.checked,
        }


def rerun_batch_size(original: int) -> int:
    """The batch size of the re-run: 1, or 2 when the run itself used batches of 1."""
    return 2 if original == 1 else 1


class _SubsetAdapter:
    """Forwards the chosen requests to a fresh adapter; answers the rest from the record."""

    def __init__(
        self,
        inner: Any,
        recorded: dict[str, dict[str, Any]],
        chosen: set[str],
        family: Any,
        batch_size: int,
    ) -> None:
        self._inner = inner
        self._recorded = recorded
        self._chosen = chosen
        self._family = family
        self._batch_size = batch_size
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def cacheable(self) -> bool:
        """Never: predictions must come from the model, not the cache."""
        return False

    def predict(self, batch: Sequence[Request]) -> list[Response]:
        """Recorded responses for the other examples; the model's for the chosen ones."""
        out: dict[int, Response] = {}
        todo = [i for i, req in enumerate(batch) if req.id in self._chosen]
        for start in range(0, len(todo), self._batch_size):
            part = todo[start : start + self._batch_size]
            self.batches.append(len(part))
            got = list(self._inner.predict([batch[i] for i in part]))
            out.update(zip(part, got, strict=True))
        for i, req in enumerate(batch):
            if i in out:
                continue
            row = self._recorded.get(req.id)
            if row is None or row.get("response") is None:
                raise _OriginalAnswer(str((row or {}).get("failure") or "failed in the run"))
            out[i] = self._family.parse_response(row["response"])
        return [out[i] for i in range(len(batch))]


def _read_samples(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(
            f"{path}: cannot read the run's samples for the determinism check ({exc})",
            fix="re-run the task",
        ) from exc


def check_determinism(
    model: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    run_folder: Path,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    write: bool = True,
) -> DeterminismReport:
    """Re-run ``sample`` random examples of a finished run and report what changed.

    Args:
        model: The model spec of the run.
        task: The task of the run.
        config: The run's settings (its batch size is what the re-run changes).
        run_folder: The run's folder (``record.json`` and ``samples.jsonl``).
        sample: How many examples to re-run (all when the task has fewer).
        seed: Seed of the subset draw.
        write: Add the report to the run's ``record.json`` (``determinism``).

    Raises:
        BenchError: The run folder cannot be read, or the re-run fails as a whole.
    """
    record_path = run_folder / "record.json"
    record = load_record(record_path)
    rows = _read_samples(run_folder / "samples.jsonl")
    ids = [str(r["id"]) for r in rows]
    k = min(max(sample, 0), len(ids))
    picked = np.random.default_rng(seed).choice(len(ids), size=k, replace=False)
    chosen = [ids[i] for i in sorted(picked.tolist())]
    batch = rerun_batch_size(config.batch_size)
    family = get_family(task.family)
    proxy = _SubsetAdapter(
        make_adapter(model), {str(r["id"]): r for r in rows}, set(chosen), family, batch
    )
    with tempfile.TemporaryDirectory(prefix="bench-determinism-") as tmp:
        rerun_config = replace(
            config, results=Path(tmp), cache=None, batch_size=max(batch, 1), max_failures=None
        )
        outcome = run_pair(model, task, rerun_config, adapter=proxy)
        if outcome.record_path is None:
            raise BenchError(
                f"determinism check of {model.display_name} on {task.name}: the re-run did not "
                f"finish ({outcome.status}: {outcome.reason})",
                fix="run without --check-determinism",
            )
        new_rows = {
            str(r["id"]): r for r in _read_samples(outcome.record_path.parent / "samples.jsonl")
        }
    old_rows = {str(r["id"]): r for r in rows}
    changed_predictions: list[dict[str, Any]] = []
    changed_scores: list[dict[str, Any]] = []
    for ex in chosen:
        before, after = old_rows[ex], new_rows.get(ex, {})
        if before.get("response") != after.get("response"):
            changed_predictions.append(
                {"id": ex, "before": before.get("prediction"), "after": after.get("prediction")}
            )
        old_scores, new_scores = before.get("scores") or {}, after.get("scores") or {}
        for name in sorted(set(old_scores) | set(new_scores)):
            if old_scores.get(name) != new_scores.get(name):
                changed_scores.append(
                    {
                        "id": ex,
                        "score": name,
                        "before": old_scores.get(name),
                        "after": new_scores.get(name),
                    }
                )
    report = DeterminismReport(
        model=record.model.name,
        task=record.task.name,
        checked=chosen,
        batch_size=batch,
        original_batch_size=config.batch_size,
        seed=seed,
        changed_predictions=changed_predictions,
        changed_scores=changed_scores,
    )
    if write:
        updated = record.model_copy(update={"determinism": report.to_json()})
        atomic_write_text(record_path, updated.model_dump_json(indent=2) + "\n")
    return report
