"""Metrics: pure functions of (predictions, references, params), each with a signature."""

from bench.metrics.base import BootstrapConfig, Metric, MetricValue, ScoringContext, score_task

__all__ = ["BootstrapConfig", "Metric", "MetricValue", "ScoringContext", "score_task"]
