"""The local executor: every pair in this process, one after the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.adapters.base import ModelSpec
from bench.executors import split_resources

if TYPE_CHECKING:
    from bench.runner import Callback, RunConfig, RunOutcome
    from bench.spec import TaskSpec

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Runs the plan with :func:`bench.runner.run_plan` (the executor parameters of model specs,
    ``num_gpus``, ``num_cpus`` and ``replicas``, are accepted and ignored)."""

    name = "local"

    def run(
        self,
        models: Sequence[ModelSpec],
        tasks: Sequence[TaskSpec],
        config: RunConfig,
        progress: Callback | None = None,
    ) -> list[RunOutcome]:
        """Evaluate every (model, task) pair in order."""
        from bench.runner import run_plan

        return run_plan([split_resources(m)[0] for m in models], tasks, config, progress)
