"""``bench doctor``: which resources and extras are present on this machine."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from dataclasses import dataclass

__all__ = [
    "Check",
    "checks",
    "metric_model_checks",
    "nltk_download_dir",
    "nltk_fix",
    "nltk_path_check",
    "torch_check",
]

MODEL_METRICS = ("bertscore", "comet", "cometkiwi")
"""The model-based metrics whose default models ``bench doctor`` looks for."""


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str


def checks() -> list[Check]:
    """NLTK's search path and data packages, jieba's dictionary, OpenCC, optional extras, the
    default models of the model-based metrics and the torch device.

    Fast (well under two seconds): NLTK and torch are not imported where the file system can
    answer (NLTK data found or missing in NLTK's folders; a torch build or a machine without
    an NVIDIA device)."""
    from bench.preprocess import resources

    rows: list[Check] = [nltk_path_check()]
    missing = []
    for status, pkg in zip(resources.nltk_resources(), resources.NLTK_PACKAGES, strict=True):
        if status.present:
            rows.append(Check(f"nltk:{status.name}", True, status.path or ""))
            continue
        missing.append(pkg.name)
        detail = f"used by {', '.join(pkg.used_by)}"
        if pkg.without:
            detail += f"; without it {pkg.without}"
        rows.append(Check(f"nltk:{status.name}", False, f"{detail}; fix: {nltk_fix(pkg.name)}"))
    for status in (resources.jieba_status(), resources.opencc_status()):
        rows.append(Check(status.name, status.present, status.detail))
    for extra, module in (("hf", "transformers"), ("api", "httpx"), ("ray", "ray")):
        found = importlib.util.find_spec(module) is not None
        rows.append(
            Check(f"extra [{extra}]", found, module if found else f"pip install 'bench[{extra}]'")
        )
    rows.extend(metric_model_checks())
    rows.append(torch_check())
    return rows


def nltk_download_dir() -> str:
    """Where :func:`nltk_fix` installs NLTK data: the first folder of ``NLTK_DATA`` when it is
    set, else ``~/nltk_data`` (both on NLTK's search path)."""
    first = next((d for d in os.environ.get("NLTK_DATA", "").split(os.pathsep) if d), None)
    return first or os.path.join("~", "nltk_data")


def nltk_fix(package: str) -> str:
    """The command that installs an NLTK data package where NLTK will look for it."""
    folder = nltk_download_dir()
    where = "~/" + shlex.quote(folder[2:]) if folder.startswith("~/") else shlex.quote(folder)
    return f"python -m nltk.downloader -d {where} {package}"


def nltk_path_check() -> Check:
    """Where NLTK looks for data: ``NLTK_DATA`` (or that it is unset) and each folder of its
    search path that exists; not ok when none exists."""
    from bench.preprocess.resources import nltk_search_path

    env = os.environ.get("NLTK_DATA")
    folders = nltk_search_path()
    present = [f for f in folders if os.path.exists(f)]
    head = f"NLTK_DATA={env}" if env else "NLTK_DATA is unset"
    if present:
        detail = f"{head}; NLTK reads {', '.join(present)}"
        others = len(folders) - len(present)
        if others:
            detail += f" (and {others} more folder{'s' * (others != 1)} that do not exist)"
    else:
        detail = (
            f"{head}; none of NLTK's {len(folders)} folders exists ({', '.join(folders[:3])}, "
            "...): set NLTK_DATA to the folder that holds your NLTK data"
        )
    return Check("nltk data path", bool(present), detail)


def torch_check() -> Check:
    """torch's version and device. torch is imported (over a second) only on a machine that
    has an NVIDIA device and a CUDA build of torch: anything else is told without it."""
    from importlib import metadata

    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return Check("torch", False, "pip install torch")
    if "+cpu" in version:
        return Check("torch", True, f"{version} (cpu: a CPU build)")
    no_device = not any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidia0"))
    if no_device and "torch" not in sys.modules and sys.platform.startswith("linux"):
        return Check("torch", True, f"{version} (cpu: no NVIDIA device)")
    import torch

    if torch.cuda.is_available():
        return Check("torch", True, f"{version} (cuda: {torch.cuda.get_device_name(0)})")
    return Check("torch", True, f"{version} (cpu)")


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
