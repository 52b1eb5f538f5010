"""Executors: where the (model, task) pairs of a run plan are evaluated.

* ``local`` (the default) runs every pair in this process, one after the other
  (:func:`bench.runner.run_plan`);
* ``ray`` splits the plan into (model, task, shard) jobs on a Ray cluster
  (:class:`bench.executors.ray.RayExecutor`, extra ``[ray]``).

Both write the same records into the same results folder and share the same prediction cache.
Three model-spec parameters are read by executors and never reach the adapter:

* ``num_gpus`` — GPUs one replica of the model asks Ray for;
* ``num_cpus`` — CPUs one replica asks for;
* ``replicas`` — how many copies of the model the ray executor loads (default 1).

Without them, a replica asks for what its adapter declares
(:meth:`bench.adapters.base.Adapter.resources`: one CPU by default, none for API models, which
mostly wait).

The local executor accepts and ignores them, so one command line works with either executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from bench.adapters.base import ModelSpec, parse_model_spec
from bench.errors import BenchError, ModelSpecError

if TYPE_CHECKING:
    from bench.runner import Callback, RunConfig, RunOutcome
    from bench.spec import TaskSpec

__all__ = [
    "EXECUTORS",
    "EXECUTOR_PARAMS",
    "Executor",
    "Resources",
    "get_executor",
    "split_resources",
]

EXECUTOR_PARAMS: Final = ("num_gpus", "num_cpus", "replicas")
"""Model-spec parameters consumed by executors (removed before the adapter is built)."""

EXECUTORS: Final = ("local", "ray")


@dataclass(frozen=True)
class Resources:
    """What a model spec asks the cluster for, per replica, and how many replicas to load.

    Attributes:
        num_cpus: CPUs per replica (``None``: what the adapter declares).
        num_gpus: GPUs per replica (``None``: what the adapter declares).
        replicas: Copies of the model (each one a Ray actor).
    """

    num_cpus: float | None = None
    num_gpus: float | None = None
    replicas: int = 1


class Executor(Protocol):
    """Runs a plan of models × tasks and returns one outcome per pair, model-major."""

    def run(
        self,
        models: Sequence[ModelSpec],
        tasks: Sequence[TaskSpec],
        config: RunConfig,
        progress: Callback | None = None,
    ) -> list[RunOutcome]:
        """Evaluate every (model, task) pair."""
        ...


def split_resources(spec: ModelSpec) -> tuple[ModelSpec, Resources]:
    """Remove the executor parameters from ``spec`` and return them as :class:`Resources`.

    The display name is recomputed without them (unless ``name=`` was given), so a model gets
    the same results folder and leaderboard row whichever executor ran it.

    Raises:
        ModelSpecError: A resource value is not a number (or ``replicas`` not a positive int).

    Example:
        >>> spec, res = split_resources(parse_model_spec("baseline:copy,num_gpus=1"))
        >>> spec.display_name, res.num_gpus
        ('baseline:copy', 1.0)
    """
    found = {k: spec.params[k] for k in EXECUTOR_PARAMS if k in spec.params}
    if not found:
        return spec, Resources()
    head, *pairs = spec.raw.split(",")
    kept = [p for p in pairs if p.partition("=")[0].strip() not in EXECUTOR_PARAMS]
    stripped = parse_model_spec(",".join([head, *kept]))
    values: dict[str, Any] = {}
    for key, text in found.items():
        try:
            number = float(text)
            if key == "replicas":
                if number != int(number) or number < 1:
                    raise ValueError(text)
                values[key] = int(number)
            else:
                if number < 0:
                    raise ValueError(text)
                values[key] = number
        except ValueError:
            kind = "a positive integer" if key == "replicas" else "a number >= 0"
            raise ModelSpecError(
                f"model spec '{spec.raw}': {key}={text} is not {kind}",
                fix=f"write e.g. {key}=1",
            ) from None
    return stripped, Resources(**values)


def get_executor(name: str, *, address: str | None = None, **options: Any) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``).

    Args:
        name: ``local`` or ``ray``.
        address: The Ray cluster (``auto``, ``ray://host:10001``); ``None`` starts a local one.
        options: Further :class:`~bench.executors.ray.RayExecutor` settings.

    Raises:
        BenchError: Unknown executor, or ``address`` given to the local executor.
        MissingDependency: ``ray`` is not installed (extra ``[ray]``).
    """
    if name == "local":
        if address is not None:
            raise BenchError(
                "--address is a Ray cluster address and needs --executor ray",
                fix="add --executor ray, or drop --address",
            )
        from bench.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from bench.executors.ray import RayExecutor

        return RayExecutor(address=address, **options)
    raise BenchError(f"unknown executor '{name}'", fix=f"use one of: {', '.join(EXECUTORS)}")
