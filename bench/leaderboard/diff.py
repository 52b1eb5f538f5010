"""Rank and score changes between two published leaderboards (``bench leaderboard --diff``).

The old version is read from its ``leaderboard.json`` alone; the new one is the leaderboard
being built. A primary value whose signature or dataset fingerprint changed is reported but
marked as not comparable: its change says nothing about the model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bench.errors import RecordError
from bench.leaderboard.render import fmt_mean, fmt_value, md_escape
from bench.leaderboard.schema import LeaderboardDocument, ModelEntry, Row

__all__ = ["DIFF_FILE", "LeaderboardDiff", "diff_documents", "load_document", "render_diff"]

DIFF_FILE = "DIFF.md"


def load_document(path: str | Path) -> LeaderboardDocument:
    """Read a published ``leaderboard.json`` (or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "leaderboard.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RecordError(
            f"{path}: no published leaderboard.json",
            fix="pass --diff the folder of a leaderboard built with --formats including json",
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: unreadable leaderboard ({exc})", fix="rebuild it") from exc
    try:
        return LeaderboardDocument.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RecordError(
            f"{path}: field '{where}': {err['msg']}",
            fix="rebuild the old leaderboard with this version of bench",
        ) from exc


@dataclass(frozen=True)
class ModelChange:
    """One model's standing before and after (``None`` where it is absent)."""

    model: str
    old: ModelEntry | None
    new: ModelEntry | None


@dataclass(frozen=True)
class ScoreChange:
    """One primary value before and after; ``note`` says why it is not comparable."""

    model: str
    task: str
    metric: str
    old: Row | None
    new: Row | None
    note: str


@dataclass(frozen=True)
class LeaderboardDiff:
    """Changes from ``old`` to ``new``: every model's standing and every changed primary value."""

    old: LeaderboardDocument
    new: LeaderboardDocument
    models: list[ModelChange]
    scores: list[ScoreChange]


def diff_documents(old: LeaderboardDocument, new: LeaderboardDocument) -> LeaderboardDiff:
    """Compare two leaderboards (main view positions and means, primary values)."""
    old_m = {m.model: m for m in old.models}
    new_m = {m.model: m for m in new.models}
    order = [m.model for m in new.models] + sorted(set(old_m) - set(new_m))
    models = [ModelChange(name, old_m.get(name), new_m.get(name)) for name in order]
    old_r = {(r.model, r.task): r for r in old.rows if r.primary}
    new_r = {(r.model, r.task): r for r in new.rows if r.primary}
    scores = []
    for key in sorted(set(old_r) | set(new_r), key=lambda k: (k[1], k[0])):
        a, b = old_r.get(key), new_r.get(key)
        if a is not None and b is not None:
            notes = []
            if a.metric != b.metric:
                notes.append(f"primary metric changed from {a.metric}")
            if a.dataset_fingerprint != b.dataset_fingerprint or a.task_version != b.task_version:
                notes.append("test set changed")
            if a.signature != b.signature:
                notes.append("signature changed")
            if not notes and a.value == b.value:
                continue
            scores.append(ScoreChange(key[0], key[1], b.metric, a, b, "; ".join(notes)))
        elif b is not None:
            scores.append(ScoreChange(key[0], key[1], b.metric, None, b, "new"))
        elif a is not None:
            scores.append(ScoreChange(key[0], key[1], a.metric, a, None, "removed"))
    return LeaderboardDiff(old=old, new=new, models=models, scores=scores)


def _delta(new: float | None, old: float | None, *, digits: int = 2) -> str:
    if new is None or old is None or math.isnan(new) or math.isnan(old):
        return "—"
    d = new - old
    return "±0" if round(d, digits) == 0 else f"{d:+.{digits}f}"


def _rank(entry: ModelEntry) -> int | None:
    """The entry's rank; a document written before ranks were recorded ranked by position."""
    if "rank" not in entry.model_fields_set:
        return entry.position
    return entry.rank


def _shown(entry: ModelEntry | None) -> str:
    if entry is None:
        return "—"
    rank = _rank(entry)
    return "unranked" if rank is None else str(rank)


def _moves(change: ModelChange) -> str:
    if change.old is None:
        return "new"
    if change.new is None:
        return "removed"
    old, new = _rank(change.old), _rank(change.new)
    if old is None or new is None:
        return "=" if old == new else ("ranked" if new is not None else "unranked")
    d = old - new
    return "=" if d == 0 else (f"↑{d}" if d > 0 else f"↓{-d}")


def render_diff(diff: LeaderboardDiff) -> str:
    """The diff as GitHub-flavoured Markdown (``DIFF.md``)."""
    old, new = diff.old, diff.new
    lines = [
        f"# Changes: {md_escape(new.title)}",
        "",
        f"From the published version built by bench {md_escape(old.bench_version)} "
        f"({len(old.models)} models, {len(old.tasks)} tasks) to this one, built by bench "
        f"{md_escape(new.bench_version)} ({len(new.models)} models, {len(new.tasks)} tasks). "
        "Rank (competition ranking among the models that have every task; unranked: the "
        "model lacks some), mean (0-100) and mean rank are those of the main table.",
        "",
        "| model | rank | move | mean (0-100) | Δ mean | mean rank | Δ mean rank |",
        "| --- | ---: | :---: | ---: | ---: | ---: | ---: |",
    ]
    for ch in diff.models:
        o, n = ch.old, ch.new
        pos = _shown(n) + (f" (was {_shown(o)})" if o and _shown(o) != _shown(n) else "")
        mean = fmt_mean(n.mean_0_100 if n else None)
        rank = fmt_mean(n.mean_rank if n else None)
        lines.append(
            f"| {md_escape(ch.model)} | {pos} | {_moves(ch)} | {mean} | "
            f"{_delta(n.mean_0_100 if n else None, o.mean_0_100 if o else None)} | {rank} | "
            f"{_delta(n.mean_rank if n else None, o.mean_rank if o else None)} |"
        )
    lines += ["", "## Primary scores that changed", ""]
    if not diff.scores:
        lines.append("None: every primary value is the same.")
    else:
        lines += [
            "| task | model | metric | old | new | Δ | note |",
            "| --- | --- | --- | ---: | ---: | ---: | --- |",
        ]
        for s in diff.scores:
            ref = s.new or s.old
            scale = ref.scale if ref is not None else 1.0
            a = fmt_value(s.old.value, scale) if s.old else "—"
            b = fmt_value(s.new.value, scale) if s.new else "—"
            digits = 2 if scale >= 100 else 4
            d = _delta(
                s.new.value if s.new else None, s.old.value if s.old else None, digits=digits
            )
            lines.append(
                f"| {md_escape(s.task)} | {md_escape(s.model)} | {md_escape(s.metric)} | {a} | "
                f"{b} | {d} | {md_escape(s.note)} |"
            )
    lines.append("")
    return "\n".join(lines)
