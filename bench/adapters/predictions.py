"""Scoring saved model outputs: a file of predictions as an adapter.

Two formats:

* ``jsonl`` (files ending in ``.jsonl`` or ``.json``): one object per example with the
  example's ``id`` and its ``prediction``, or — the official SQuAD / CMRC2018 prediction
  format — a single JSON object mapping each id to its prediction (``{"qid": "answer"}``).
  A prediction is, for sentiment, the label as a string (a label outside the task's label set
  scores as a miss) or a response object (``{"label": ..., "probabilities": {...}}``); for
  translation, summarization and QA, the text or ``{"text": ...}``; for recommendation, the
  ranked item ids or ``{"ranked": [...]}``. Every test example must have exactly one
  prediction, and the file must name no other id.
* ``text`` (any other file): plain text, one output per line in test-set order — the WMT
  convention for hypothesis files. The file must have exactly one line per test example.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench.adapters.base import Adapter
from bench.errors import PredictionsError
from bench.families.base import Family, Request, Response
from bench.spec import TaskSpec

__all__ = ["PredictionsAdapter", "read_predictions"]


def read_predictions(path: str | Path) -> dict[str, Any]:
    """Read a predictions JSONL file into ``{id: prediction}``.

    Raises:
        PredictionsError: Unreadable file, invalid JSON, a line that is not an object with
            ``id`` and ``prediction``, or an id given twice (each named with its line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PredictionsError(f"{path}: no such predictions file", fix="check the path") from exc
    except UnicodeDecodeError as exc:
        raise PredictionsError(
            f"{path}: not UTF-8 (byte {exc.start})", fix="save it as UTF-8"
        ) from exc
    # The official SQuAD / CMRC2018 prediction format: one JSON object {question id: answer}.
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.rstrip():
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and not ({"id", "prediction"} <= set(whole)):
            if not whole:
                raise PredictionsError(f"{path}: no predictions", fix="map every question id")
            return {str(k): v for k, v in whole.items()}
    out: dict[str, Any] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PredictionsError(
                f"{path}: line {lineno}: invalid JSON ({exc.msg})",
                fix='write one object per line: {"id": ..., "prediction": ...}',
            ) from exc
        if not isinstance(obj, dict) or "id" not in obj or "prediction" not in obj:
            raise PredictionsError(
                f"{path}: line {lineno}: expected an object with 'id' and 'prediction'",
                fix='write one object per line: {"id": ..., "prediction": ...}',
            )
        key = str(obj["id"])
        if key in out:
            raise PredictionsError(
                f"{path}: line {lineno}: id {key!r} appears twice", fix="keep one"
            )
        out[key] = obj["prediction"]
    if not out:
        raise PredictionsError(f"{path}: no predictions", fix="write one line per test example")
    return out


class MissingPrediction(LookupError):
    """An id the predictions file does not have (with ``allow_missing``): a failure, scored as
    a miss and counted in the record, never an answer."""


def read_lines(path: str | Path) -> list[str]:
    """Read a plain-text predictions file: one output per line (newlines only split lines)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return [line.rstrip("\n") for line in fh]
    except FileNotFoundError as exc:
        raise PredictionsError(f"{path}: no such predictions file", fix="check the path") from exc
    except UnicodeDecodeError as exc:
        raise PredictionsError(
            f"{path}: not UTF-8 (byte {exc.start})", fix="save it as UTF-8"
        ) from exc


def predictions_format(path: str | Path, fmt: str = "auto") -> str:
    """``jsonl`` or ``text``: as given, or by the file's extension when ``auto``."""
    if fmt != "auto":
        if fmt not in ("jsonl", "text"):
            raise PredictionsError(f"unknown predictions format '{fmt}'", fix="use jsonl or text")
        return fmt
    return "jsonl" if Path(path).suffix.lower() in (".jsonl", ".json") else "text"


class PredictionsAdapter(Adapter):
    """Serves the predictions saved in a file (``predictions:FILE[,format=jsonl|text]``)."""

    name = "predictions"
    cacheable: ClassVar[bool] = False

    class Params(Adapter.Params):
        """``format``: ``auto`` (by extension), ``jsonl`` or ``text``; ``allow_missing``: score
        an id the file does not have as a failure (a miss, as the official SQuAD v1.1 and
        CMRC2018 scripts do) instead of refusing the file."""

        format: str = "auto"
        allow_missing: bool = False

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        if not target:
            raise PredictionsError("predictions adapter needs a file: predictions:FILE")
        self.path = Path(target)
        self.format = predictions_format(self.path, self.params.format)
        self._lines: list[str] | None = None
        if self.format == "text":
            self._lines = read_lines(self.path)
            self._predictions: dict[str, Any] = {}
        else:
            self._predictions = read_predictions(self.path)
        self._missing: set[str] = set()
        self._family: Family | None = None
        self._spec: TaskSpec | None = None
        self._checked = False
        import hashlib

        self._hash = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    def bind(self, spec: TaskSpec, family: Family) -> None:
        """Tell the adapter which task its predictions belong to."""
        self._spec, self._family = spec, family

    def check_ids(self, ids: Sequence[str]) -> None:
        """Raise unless the file has exactly one prediction per id in ``ids`` (for a plain-text
        file: exactly one line per id, in order)."""
        if self._lines is not None:
            if len(self._lines) != len(ids):
                raise PredictionsError(
                    f"{self.path}: {len(self._lines)} lines, but the task's test split has "
                    f"{len(ids)} examples",
                    fix="write one output per line, in test-set order (check --limit)",
                )
            self._predictions = dict(zip(ids, self._lines, strict=True))
            self._checked = True
            return
        wanted = set(ids)
        missing = [i for i in ids if i not in self._predictions]
        extra = sorted(set(self._predictions) - wanted)
        if missing and self.params.allow_missing:
            self._missing = set(missing)
        elif missing:
            raise PredictionsError(
                f"{self.path}: {len(missing)} of {len(ids)} test examples have no prediction "
                f"(first: {', '.join(map(repr, missing[:5]))})",
                fix="write a prediction for every id of the test split "
                "(see samples.jsonl of a run), or pass --allow-missing to score them as misses",
            )
        if extra:
            raise PredictionsError(
                f"{self.path}: {len(extra)} ids are not in the task's test split "
                f"(first: {', '.join(map(repr, extra[:5]))})",
                fix="check that the file belongs to this task (and --limit)",
            )
        self._checked = True

    def fingerprint(self) -> str:
        """The SHA-256 (16 hex) of the file's bytes."""
        return self._hash

    def supports(self, family: str) -> bool:
        """Any family: the file decides."""
        return True

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        if self._family is None or self._spec is None:
            raise PredictionsError("predictions adapter used before bind()")
        out = []
        for req in requests:
            if req.id in self._missing:
                raise MissingPrediction(f"no prediction for id {req.id!r} in {self.path.name}")
            value = self._predictions[req.id]
            try:
                out.append(self._family.parse_prediction(value, self._spec))
            except (TypeError, ValueError) as exc:
                raise PredictionsError(
                    f"{self.path}: id {req.id!r}: prediction {str(value)[:80]!r} has the wrong "
                    f"shape for the {self._family.name} family ({str(exc).splitlines()[0]})",
                    fix="see the family's response type in the README",
                ) from exc
        return out
