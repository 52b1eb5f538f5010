"""matplotlib figures of a leaderboard, as inline SVG text (deterministic, no network).

SVG settings that keep a rebuilt report byte-identical: no date in the metadata, a fixed id
salt per figure, and text kept as ``<text>`` (``svg.fonttype: none``) so the browser draws it
with its own fonts — Chinese labels included, which matplotlib's default font lacks. Labels are
never parsed as mathtext (a model named ``$x$`` stays ``$x$``); matplotlib escapes them as XML.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CREATOR", "figure_bytes", "interval_plot", "language_plot"]

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_BEST = "#1b6ac9"
_TIED = "#6aa6e8"
_OTHER = "#8a8f98"
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
_COLORS = ("#1b6ac9", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#5c940d", "#a61e4d")


CREATOR = "bench"
"""The ``Creator`` of every saved figure (matplotlib's default names its own version)."""


def figure_bytes(fig: Any, fmt: str, salt: str) -> bytes:
    """The figure saved as ``fmt`` (``svg``, ``pdf`` or ``png``) with no wall-clock fact and
    no library version in it: the same figure gives the same bytes on every run.

    SVG ids come from ``svg.hashsalt`` (``salt``), SVG and PDF carry no ``Date`` and a fixed
    ``Creator``, PDF no ``CreationDate``/``ModDate`` and a fixed ``Producer``, PNG a fixed
    ``Software`` key and nothing else.
    """
    import matplotlib

    metadata: dict[str, Any]
    if fmt == "svg":
        metadata = {"Date": None, "Creator": CREATOR}
    elif fmt == "pdf":
        metadata = {
            "CreationDate": None,
            "ModDate": None,
            "Creator": CREATOR,
            "Producer": CREATOR,
        }
    elif fmt == "png":
        metadata = {"Software": CREATOR}
    else:
        raise ValueError(f"unsupported figure format {fmt!r} (svg, pdf, png)")
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.id": salt}):
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def _svg(fig: Any, salt: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), ids salted by ``salt``."""
    text = figure_bytes(fig, "svg", salt).decode("utf-8")
    start = text.find("<svg")
    return re.sub(r"\n\s*\n", "\n", text[start:]).strip() + "\n"


_ROW = 0.24  # inches per model
_CHAR = 0.072  # inches per (narrow) character of a 9 pt label
_LABEL_MAX = 40


def _label(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


def _width(text: str) -> float:
    """Approximate width of a label in inches (East Asian wide characters count twice)."""
    return _CHAR * sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _axes(labels: Sequence[str], *, top: float, bottom: float = 0.55) -> tuple[Any, Any]:
    """A figure sized by its labels, and axes with one row per label (first row on top).

    Sizes are computed, not measured (no ``bbox_inches="tight"``): measuring every label is
    what makes matplotlib slow with 50 models × 30 tasks. Labels are plain texts beside the
    axes rather than tick labels, which are several artists each.
    """
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    left = 0.25 + max((_width(x) for x in labels), default=0.0)
    plot_w, plot_h = 4.6, _ROW * max(len(labels), 1) + 0.3
    width, height = left + plot_w + 0.3, top + plot_h + bottom
    fig = Figure(figsize=(width, height))
    FigureCanvasSVG(fig)
    ax = fig.add_axes((left / width, bottom / height, plot_w / width, plot_h / height))
    n = len(labels)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    ax.spines["left"].set_visible(True)
    transform = ax.get_yaxis_transform()
    for i, text in enumerate(labels):
        ax.text(-0.015, n - 1 - i, text, transform=transform, ha="right", va="center")
    ax.grid(axis="x", color="#e4e6ea", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _quiet() -> Any:
    """Missing-glyph warnings are moot: text is drawn by the browser, not by matplotlib."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", message=r".*[Gg]lyph .* missing.*")
    warnings.filterwarnings("ignore", message=r".*[Mm]issing from font.*")
    return ctx


def interval_plot(
    rows: Sequence[Mapping[str, Any]],
    *,
    xlabel: str,
    salt: str,
) -> str:
    """Score with its 95% interval per model (one task), best first.

    Args:
        rows: ``{"model", "value", "ci_low", "ci_high", "best", "tied"}`` per model, in
            display order (best first).
        xlabel: Axis label (the metric and its direction).
        salt: Unique per figure in one page (SVG ids).
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        ctx = _quiet()
        try:
            n = len(rows)
            fig, ax = _axes([_label(str(r["model"])) for r in rows], top=0.15)
            ys = list(range(n))[::-1]
            # One artist per colour class, not per model: 50 models stay fast to draw.
            classes: dict[str, dict[str, list[float]]] = {}
            for y, row in zip(ys, rows, strict=True):
                value = float(row["value"])
                lo, hi = row.get("ci_low"), row.get("ci_high")
                color = _BEST if row["best"] else _TIED if row["tied"] else _OTHER
                part = classes.setdefault(color, {"x": [], "y": [], "lo": [], "hi": []})
                part["x"].append(value)
                part["y"].append(y)
                ok = _finite(lo) and _finite(hi)
                part["lo"].append(max(0.0, value - float(lo or 0.0)) if ok else 0.0)
                part["hi"].append(max(0.0, float(hi or 0.0) - value) if ok else 0.0)
            for color, part in classes.items():
                ax.errorbar(
                    part["x"],
                    part["y"],
                    xerr=[part["lo"], part["hi"]],
                    fmt="o",
                    color=color,
                    ecolor=color,
                    elinewidth=1.6,
                    capsize=3,
                    markersize=5,
                )
            ax.set_xlabel(xlabel)
            return _svg(fig, salt)
        finally:
            ctx.__exit__(None, None, None)


def language_plot(
    models: Sequence[str],
    groups: Sequence[tuple[str, str]],
    means: Mapping[tuple[str, str], float],
    *,
    xlabel: str,
    salt: str,
) -> str:
    """Each model's mean (0–100) per language group, one marker per group.

    Args:
        models: Models in display order.
        groups: ``(key, label)`` per language group.
        means: ``{(model, group key): mean}``; absent pairs are not drawn.
        xlabel: Axis label.
        salt: Unique per figure in one page.
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        ctx = _quiet()
        try:
            n = len(models)
            fig, ax = _axes([_label(str(m)) for m in models], top=0.5)
            ys = list(range(n))[::-1]
            for i, (key, label) in enumerate(groups):
                xs, yy = [], []
                for y, model in zip(ys, models, strict=True):
                    value = means.get((model, key))
                    if value is not None and _finite(value):
                        xs.append(value)
                        yy.append(y)
                ax.plot(
                    xs,
                    yy,
                    linestyle="none",
                    marker=_MARKERS[i % len(_MARKERS)],
                    color=_COLORS[i % len(_COLORS)],
                    markersize=6,
                    alpha=0.9,
                    label=label,
                )
            ax.set_xlim(-2, 102)
            ax.set_xlabel(xlabel)
            ax.legend(
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=max(1, len(groups)),
                frameon=False,
            )
            return _svg(fig, salt)
        finally:
            ctx.__exit__(None, None, None)


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)
