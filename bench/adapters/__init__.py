"""Model adapters: the protocol, model-spec parsing, and the built-in adapters."""

from bench.adapters.base import (
    Adapter,
    ModelAdapter,
    ModelSpec,
    TrainableAdapter,
    make_adapter,
    parse_model_spec,
)

__all__ = [
    "Adapter",
    "ModelAdapter",
    "ModelSpec",
    "TrainableAdapter",
    "make_adapter",
    "parse_model_spec",
]
