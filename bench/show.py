"""``bench show RUN_DIR --id ID``: what the model saw and said for one example of a run.

For each unit of the run (or the one ``--unit`` names) it prints the rendered prompt (the text
after the chat template, or the message list), the raw completion before parsing, the choice
scores of a log-likelihood answer, the parsed answer, the reference and the per-example
scores, wrapped to 80 columns. ``--json`` prints the raw ``samples.jsonl`` line(s) instead.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records import SAMPLES_FILE, SampleLine, load_record, read_samples

__all__ = ["WIDTH", "find_lines", "render_line", "show"]

WIDTH = 80
"""The width ``bench show`` wraps its text to."""
_INDENT = "  "


class ShowError(BenchError):
    """``bench show`` cannot find the run, the example or the unit asked for."""


def find_lines(run_dir: str | Path, example: str, unit: str | None = None) -> list[SampleLine]:
    """The ``samples.jsonl`` lines of example ``example`` in the run folder ``run_dir``, one
    per unit in file order (only ``unit``'s when given).

    Raises:
        ShowError: No run folder there, no such example or no such unit (with the ids or
            units the run has).
        RecordError: The record or samples cannot be read.
    """
    folder = Path(run_dir)
    record_path, samples_path = folder / "record.json", folder / SAMPLES_FILE
    if not record_path.is_file() or not samples_path.is_file():
        raise ShowError(
            f"{folder}: not a run folder (needs record.json and {SAMPLES_FILE})",
            fix="pass a results folder RESULTS/MODEL/TASK written by bench run",
        )
    lines = read_samples(samples_path, load_record(record_path))
    mine = [line for line in lines if line.id == example]
    if not mine:
        ids = list(dict.fromkeys(line.id for line in lines))
        shown = ", ".join(map(repr, ids[:5])) + (", ..." if len(ids) > 5 else "")
        raise ShowError(
            f"{samples_path}: no example with id {example!r} ({len(ids)} examples: {shown})",
            fix="pass one of the run's example ids with --id",
        )
    if unit is not None:
        units = [line.unit for line in mine]
        mine = [line for line in mine if line.unit == unit]
        if not mine:
            known = ", ".join(str(u) for u in units if u is not None) or "none: one unit"
            raise ShowError(
                f"{samples_path}: example {example!r} has no unit {unit!r} (units: {known})",
                fix="pass one of the run's units with --unit (variant/dN/sN), or drop --unit",
            )
    return mine


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _block(title: str, text: str) -> list[str]:
    """``title:`` and ``text`` indented, each line wrapped to :data:`WIDTH` (line breaks and
    blank lines kept)."""
    out = [f"{title}:"]
    for raw in text.split("\n") or [""]:
        wrapped = textwrap.wrap(
            raw,
            WIDTH,
            initial_indent=_INDENT,
            subsequent_indent=_INDENT,
            replace_whitespace=False,
            drop_whitespace=False,
            break_on_hyphens=False,
        )
        out += [w.rstrip() for w in wrapped] or [_INDENT.rstrip()]
    return out


def render_line(line: SampleLine) -> str:
    """One sample line as ``bench show`` prints it (every line at most :data:`WIDTH` wide,
    except a single word longer than that)."""
    head = f"example {line.id}" + (f" · unit {line.unit}" if line.unit else "")
    out = [head, "=" * min(WIDTH, max(len(head), 1))]
    if line.shots:
        out += _block("shots", ", ".join(line.shots))
    transcript = (line.response or {}).get("transcript") or {}
    if transcript.get("messages"):
        out.append("messages:")
        for m in transcript["messages"]:
            out += [_INDENT + s for s in _block(f"[{m.get('role', '?')}]", _text(m.get("content")))]
    elif transcript.get("prompt") is not None:
        out += _block("prompt", _text(transcript["prompt"]))
    else:
        out += _block("input", _text(line.input))
    if transcript.get("completion") is not None:
        out += _block("completion", _text(transcript["completion"]))
    if transcript.get("choices"):
        out += _block(
            "choices",
            "\n".join(f"{k}: {v}" for k, v in transcript["choices"].items())
            if isinstance(transcript["choices"], dict)
            else _text(transcript["choices"]),
        )
    out += _block("parsed", _text(line.prediction))
    out += _block("reference", _text(line.reference))
    if line.failure is not None:
        out += _block("failure", line.failure)
    scores = "\n".join(f"{k}: {_text(v)}" for k, v in sorted(line.scores.items()))
    out += _block("scores", scores or "(none)")
    return "\n".join(out)


def show(run_dir: str | Path, example: str, unit: str | None = None, *, raw: bool = False) -> str:
    """What ``bench show`` prints: every unit's view of ``example`` (blank-line separated),
    or with ``raw`` the ``samples.jsonl`` lines themselves.

    Raises:
        ShowError: See :func:`find_lines`.
    """
    lines = find_lines(run_dir, example, unit)
    if raw:
        return "\n".join(line.to_json() for line in lines)
    return "\n\n".join(render_line(line) for line in lines)
