"""``bench doctor``: which resources and extras are present on this machine."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["Check", "checks", "metric_model_checks"]

MODEL_METRICS = ("bertscore", "comet", "cometkiwi")
"""The model-based metrics whose default models ``bench doctor`` looks for."""


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str


def checks() -> list[Check]:
    """NLTK data packages, jieba's dictionary, OpenCC, optional extras and the torch device."""
    from bench.preprocess import resources

    rows: list[Check] = []
    for status in resources.nltk_resources():
        detail = status.path if status.present else f"install: {status.download}"
        rows.append(Check(f"nltk:{status.name}", status.present, detail or ""))
    for status in (resources.jieba_status(), resources.opencc_status()):
        rows.append(Check(status.name, status.present, status.detail))
    for extra, module in (("hf", "transformers"), ("api", "httpx"), ("ray", "ray")):
        found = importlib.util.find_spec(module) is not None
        rows.append(
            Check(f"extra [{extra}]", found, module if found else f"pip install 'bench[{extra}]'")
        )
    rows.extend(metric_model_checks())
    try:
        import torch

        device = "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        rows.append(Check("torch", True, f"{torch.__version__} ({device})"))
    except ImportError:
        rows.append(Check("torch", False, "pip install torch"))
    return rows


def metric_model_checks() -> list[Check]:
    """One line per default model of the model-based metrics (:data:`MODEL_METRICS`), naming
    the metrics that use it: found in the local Hugging Face cache (with its commit), or the
    command that downloads it."""
    from bench.metrics.model_based import hub_cache_snapshot
    from bench.registry import registry

    users: dict[str, list[str]] = {}
    for name in MODEL_METRICS:
        try:
            cls = registry.get("metric", name)
        except Exception:  # a broken plugin or install must not stop the report
            continue
        for repo in getattr(cls, "default_models", ()):
            users.setdefault(repo, []).append(name)
    rows = []
    for repo, names in users.items():
        snapshot = hub_cache_snapshot(repo)
        detail = f"{snapshot.name[:12]} ({snapshot})" if snapshot else f"hf download {repo}"
        rows.append(Check(f"model {repo} ({', '.join(names)})", snapshot is not None, detail))
    return rows
