"""Model adapters: the protocol, model-spec parsing, and the built-in adapters."""

from bench.adapters.base import (
    Adapter,
    Baseline,
    ModelAdapter,
    ModelSpec,
    Resources,
    TrainableAdapter,
    as_adapter,
    make_adapter,
    parse_model_spec,
)

__all__ = [
    "Adapter",
    "Baseline",
    "ModelAdapter",
    "ModelSpec",
    "Resources",
    "TrainableAdapter",
    "as_adapter",
    "make_adapter",
    "parse_model_spec",
]
