"""Scoring saved model outputs: a file of predictions as an adapter.

Formats:

* ``jsonl`` (files ending in ``.jsonl`` or ``.json``): one object per example with the
  example's ``id`` and its ``prediction``, or — the official SQuAD / CMRC2018 prediction
  format — a single JSON object mapping each id to its prediction (``{"qid": "answer"}``).
  A prediction is, for sentiment, the label as a string (``null``: no answer, scored as a miss)
  or a response object (``{"label": ..., "probabilities": {...}}``); for translation,
  summarization and QA, the text or ``{"text": ...}``; for recommendation, the ranked item ids
  or ``{"ranked": [...]}``. Every test example must have exactly one prediction, and the file
  must name no other id. A prediction its family refuses for its example (a label outside the
  task's labels, probabilities keyed by anything else, not summing to 1 or missing the
  predicted label; a ranked item that is not an id) is an error naming the line, never a
  silent miss. A key given twice — an id of the ``{"qid": "answer"}`` map, or a key inside any
  object — is an error naming its lines, never last-one-wins; so is JSON nested deeper than
  :data:`MAX_DEPTH` levels.
* A run's own ``samples.jsonl`` (or the run folder that holds it): its lines also carry
  ``response`` — the exact response object the adapter returned, used in preference to the
  display ``prediction`` — and ``failure``, the cause of an example the adapter failed on.
  Such an example fails again with the same cause, so the failure accounting and every metric
  of the new record equal the original run's. Any JSONL line may give ``failure`` this way.
* ``text`` (any other file): plain text, one output per line in test-set order — the WMT
  convention for hypothesis files. The file must have exactly one line per test example.
  Lines end at LF (a CR LF line end, as Windows editors write, counts as one; a lone CR is
  part of its line, never a line break).

Every format: a UTF-8 byte-order mark at the start of the file is not part of the first
prediction; it is dropped, and the record's ``model.info`` says so (``"bom_stripped": true``).

The model's default display name is the file's stem; for a run's ``samples.jsonl`` (or its
folder) it is the original model's name with ``-rescored`` appended, so a rescored record never
lands on the record it reproduces.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from bench.adapters.base import Adapter
from bench.adapters.prediction_paths import (
    check_not_overwriting,
    default_name,
    resolve_predictions_path,
)
from bench.errors import PredictionsError
from bench.families.base import Failure, Family, Request, Response
from bench.identity import file_digest
from bench.records import jsonl_lines, load_record, read_samples
from bench.spec import TaskSpec

__all__ = [
    "MAX_DEPTH",
    "Entry",
    "PredictionsAdapter",
    "PredictionsFile",
    "check_not_overwriting",
    "default_name",
    "load_predictions",
    "read_predictions",
    "recorded_failure",
    "resolve_predictions_path",
]

_LINE_HELP = 'write one object per line: {"id": ..., "prediction": ...}'
_BOM = "\ufeff"

MAX_DEPTH = 64
"""The deepest JSON nesting a predictions file may use (a prediction needs three levels);
deeper is refused before it is parsed, so no file can exhaust Python's recursion limit."""

# A JSON string (skipped whole, escapes included) or a bracket: what nesting depth counts.
_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SPACE = re.compile(r"[ \t\n\r]*")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs)


def _too_deep(text: str) -> bool:
    """Whether ``text`` nests JSON arrays and objects deeper than :data:`MAX_DEPTH`."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _NESTING.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif bracket in "]}":
            depth -= 1
    return False


def _too_deep_error(where: str) -> PredictionsError:
    return PredictionsError(
        f"{where}: JSON nested deeper than {MAX_DEPTH} levels",
        fix="a prediction is a label, a text, a list of item ids or a flat response object: "
        "write it without the nesting",
    )


def _split_lines(text: str) -> list[str]:
    """``text`` split at LF only (a CR LF ends a line too; a lone CR, U+2028 and the other
    characters ``str.splitlines`` breaks at are content)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line end ends a line; it does not start an empty one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@dataclass(frozen=True)
class Entry:
    """One example's saved output.

    Attributes:
        value: The ``prediction`` value, or the ``response`` object when ``is_response``.
        is_response: ``value`` is a family response object (read exactly, no conversion).
        failure: The recorded cause when the example failed (``value`` is then unused).
        line: The 1-based line of the file it came from (``None`` for a whole-file JSON map).
    """

    value: Any
    is_response: bool = False
    failure: str | None = None
    line: int | None = None

    def where(self, path: Path, key: str) -> str:
        """``FILE: line N (id 'x')`` or ``FILE: id 'x'``."""
        return f"{path}: line {self.line} (id {key!r})" if self.line else f"{path}: id {key!r}"


@dataclass
class PredictionsFile:
    """A predictions file read into ``{id: Entry}``.

    Attributes:
        path: The file read (``samples.jsonl`` when a run folder was given).
        entries: One entry per id, in file order.
        record: The ``record.json`` beside a run's ``samples.jsonl``, when there is one.
        bom_stripped: The file began with a UTF-8 byte-order mark, which was dropped.
    """

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    record: Path | None = None
    bom_stripped: bool = False


def _read_text(path: Path) -> str:
    # Bytes decoded as they are: ``read_text`` would turn a lone CR into a line break.
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise PredictionsError(f"{path}: no such predictions file", fix="check the path") from exc
    except IsADirectoryError as exc:
        raise PredictionsError(f"{path}: a folder, not a file", fix="check the path") from exc
    except UnicodeDecodeError as exc:
        raise PredictionsError(
            f"{path}: not UTF-8 (byte {exc.start})", fix="save it as UTF-8"
        ) from exc


def load_predictions(path: str | Path) -> PredictionsFile:
    """Read a JSONL predictions file, a run's ``samples.jsonl`` / run folder, or a SQuAD-style
    ``{id: prediction}`` JSON object.

    Raises:
        PredictionsError: Unreadable file, invalid JSON, a line that is not an object with
            ``id`` and ``prediction`` (or ``response`` / ``failure``), a ``failure`` that is not
            a string, an id given twice, a key given twice in one object, or nesting deeper
            than :data:`MAX_DEPTH` — each named with its file and line.
    """
    path, record = resolve_predictions_path(path)
    text = _read_text(path)
    bom = text.startswith(_BOM)
    text = text[len(_BOM) :] if bom else text
    out = PredictionsFile(path=path, record=record, bom_stripped=bom)
    if record is not None:
        # A run's own samples: typed lines that must belong to the record beside them.
        for number, sample in enumerate(read_samples(path, load_record(record), text=text), 1):
            entry = _entry(sample.model_dump(exclude={"run_id"}), path, number, sample.id)
            if sample.id in out.entries:
                raise PredictionsError(
                    f"{path}: line {number}: id {sample.id!r} appears twice", fix="re-run the task"
                )
            out.entries[sample.id] = entry
        if not out.entries:
            raise PredictionsError(f"{path}: no predictions", fix="re-run the task")
        return out
    # The official SQuAD / CMRC2018 prediction format: one JSON object {question id: answer}.
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.rstrip():
        whole = _read_map(text, path)
        if whole is not None:
            if not whole:
                raise PredictionsError(f"{path}: no predictions", fix="map every question id")
            out.entries = whole
            return out
    for lineno, line in jsonl_lines(text):
        if not line.strip():
            continue
        obj = _parse_line(line, path, lineno)
        if not isinstance(obj, dict) or "id" not in obj:
            got = type(obj).__name__ if not isinstance(obj, dict) else "an object without 'id'"
            raise PredictionsError(
                f"{path}: line {lineno}: expected an object with 'id' and 'prediction', got {got}",
                fix=_LINE_HELP,
            )
        key = str(obj["id"])
        entry = _entry(obj, path, lineno, key)
        if key in out.entries:
            raise PredictionsError(
                f"{path}: line {lineno}: id {key!r} appears twice "
                f"(first on line {out.entries[key].line})",
                fix="keep one prediction per id",
            )
        out.entries[key] = entry
    if not out.entries:
        raise PredictionsError(f"{path}: no predictions", fix="write one line per test example")
    return out


def _parse_line(line: str, path: Path, lineno: int) -> Any:
    """One JSONL line: no key twice in any object, no nesting beyond :data:`MAX_DEPTH`."""
    if _too_deep(line):
        raise _too_deep_error(f"{path}: line {lineno}")
    try:
        return _DECODER.decode(line)
    except _DuplicateKey as exc:
        raise PredictionsError(
            f"{path}: line {lineno}: key {exc.key!r} appears twice in one object (JSON readers "
            "keep only the last)",
            fix="give each key once",
        ) from exc
    except json.JSONDecodeError as exc:
        raise PredictionsError(
            f"{path}: line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})",
            fix=_LINE_HELP,
        ) from exc
    except RecursionError as exc:  # below MAX_DEPTH this cannot happen; never a traceback
        raise _too_deep_error(f"{path}: line {lineno}") from exc


def _read_map(text: str, path: Path) -> dict[str, Entry] | None:
    """The entries of a whole-file ``{id: prediction}`` object, each with the line its id is
    on; ``None`` when ``text`` is not one JSON object of that kind (it is then read as JSONL,
    which names the line of any error).

    The object is read one member at a time (rather than by ``json.loads``, which keeps the
    last of two equal keys) so that an id given twice is refused, naming both lines.

    Raises:
        PredictionsError: An id given twice, a key given twice inside a prediction, nesting
            deeper than :data:`MAX_DEPTH`.
    """
    if _too_deep(text):
        raise _too_deep_error(str(path))
    entries: dict[str, Entry] = {}
    twice: tuple[str, int, int] | None = None
    key = ""
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    def skip(pos: int) -> int:
        found = _SPACE.match(text, pos)
        return found.end() if found else pos

    i = skip(0)
    if text[i : i + 1] != "{":
        return None
    i = skip(i + 1)
    if text[i : i + 1] == "}":
        return {} if not text[skip(i + 1) :] else None
    try:
        while True:
            if text[i : i + 1] != '"':
                return None
            at = line_at(i)
            key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            i = skip(i)
            if text[i : i + 1] != ":":
                return None
            value, i = _DECODER.raw_decode(text, skip(i + 1))
            if key in entries and twice is None:
                twice = (key, entries[key].line or 0, at)
            if key not in entries:
                entries[key] = Entry(value=value, line=at)
            i = skip(i)
            if text[i : i + 1] == ",":
                i = skip(i + 1)
                continue
            if text[i : i + 1] == "}" and not text[skip(i + 1) :]:
                break
            return None
    except _DuplicateKey as exc:
        raise PredictionsError(
            f"{path}: line {line_at(i)} (id {key!r}): key {exc.key!r} appears twice in one "
            "object (JSON readers keep only the last)",
            fix="give each key once",
        ) from exc
    except ValueError:  # invalid JSON: read as JSONL, which names the line
        return None
    # A single JSONL line that forgot its id is not an {id: answer} map.
    if "id" in entries or "prediction" in entries:
        return None
    if twice is not None:
        key, first, second = twice
        raise PredictionsError(
            f"{path}: id {key!r} appears twice (lines {first} and {second})",
            fix="keep one prediction per id",
        )
    return {str(k): e for k, e in entries.items()}


def _entry(obj: dict[str, Any], path: Path, lineno: int, key: str) -> Entry:
    failure = obj.get("failure")
    if failure is not None:
        if not isinstance(failure, str) or not failure:
            raise PredictionsError(
                f"{path}: line {lineno} (id {key!r}): 'failure' is {failure!r}, not the text of "
                "a cause",
                fix='write "failure": "<cause>" for an example the model failed on, or null',
            )
        return Entry(value=None, failure=failure, line=lineno)
    response = obj.get("response")
    if response is not None:
        if not isinstance(response, dict):
            raise PredictionsError(
                f"{path}: line {lineno} (id {key!r}): 'response' is a "
                f"{type(response).__name__}, not a response object",
                fix="give the family's response object (see samples.jsonl of a run), or use "
                "'prediction'",
            )
        return Entry(value=response, is_response=True, line=lineno)
    if "prediction" not in obj:
        raise PredictionsError(
            f"{path}: line {lineno}: expected an object with 'id' and 'prediction' "
            f"(id {key!r} has neither 'prediction', 'response' nor 'failure')",
            fix=_LINE_HELP,
        )
    return Entry(value=obj["prediction"], line=lineno)


def read_predictions(path: str | Path) -> dict[str, Any]:
    """Read a predictions file into ``{id: prediction}`` (response objects where the file has
    them; failed examples left out). See :func:`load_predictions` for the errors."""
    return {k: e.value for k, e in load_predictions(path).entries.items() if e.failure is None}


def read_lines(path: str | Path) -> tuple[list[str], bool]:
    """Read a plain-text predictions file: one output per line, and whether a UTF-8
    byte-order mark was dropped from the first.

    Only LF ends a line (CR LF counts as one line end; a lone CR is content).

    Raises:
        PredictionsError: The file is missing, a folder, or not UTF-8.
    """
    text = _read_text(Path(path))
    bom = text.startswith(_BOM)
    return _split_lines(text[len(_BOM) :] if bom else text), bom


def predictions_format(path: str | Path, fmt: str = "auto") -> str:
    """``jsonl`` or ``text``: as given, or by the file's extension when ``auto`` (a folder is a
    run folder, read as JSONL)."""
    if fmt != "auto":
        if fmt not in ("jsonl", "text"):
            raise PredictionsError(f"unknown predictions format '{fmt}'", fix="use jsonl or text")
        return fmt
    path = Path(path)
    if path.is_dir():
        return "jsonl"
    return "jsonl" if path.suffix.lower() in (".jsonl", ".json") else "text"


def recorded_failure(label: str) -> Failure:
    """The :class:`Failure` a predictions file records as ``"failure": "<label>"``.

    A label written by bench is ``"cause: message"`` (:attr:`Failure.label`); it is read back
    into the same cause and message, so the new record's ``failures.by_cause`` equals the
    original's. Any other text is the cause itself.

    Example:
        >>> recorded_failure("http: 503 after 3 retries").cause
        'http'
    """
    cause, sep, message = label.partition(": ")
    if sep and cause and " " not in cause:
        return Failure(cause=cause, message=message)
    return Failure(cause=label)


class PredictionsAdapter(Adapter):
    """Serves the predictions saved in a file (``predictions:FILE[,format=jsonl|text]``).

    ``FILE`` may also be a run folder (``RESULTS/MODEL/TASK``) or its ``samples.jsonl``: the
    run is then re-scored from the exact responses it recorded.
    """

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
            raise PredictionsError(
                "predictions adapter needs a file: predictions:FILE",
                fix="write e.g. predictions:outputs.jsonl",
            )
        self.format = predictions_format(target, self.params.format)
        self._lines: list[str] | None = None
        self.record: Path | None = None
        if self.format == "text":
            self.path = Path(target)
            self._lines, self._bom = read_lines(self.path)
            self._entries: dict[str, Entry] = {}
        else:
            loaded = load_predictions(target)
            self.path, self._entries, self.record = loaded.path, loaded.entries, loaded.record
            self._bom = loaded.bom_stripped
        self._missing: set[str] = set()
        self._family: Family | None = None
        self._spec: TaskSpec | None = None
        self._hash = file_digest(self.path, length=16)

    def _record_field(self, *keys: str) -> Any:
        if self.record is None:
            return None
        try:
            value: Any = json.loads(self.record.read_text(encoding="utf-8"))
            for k in keys:
                value = value[k]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return value

    def for_task(self, task: TaskSpec, family: Family) -> PredictionsAdapter:
        """A copy that knows which task its predictions belong to.

        Raises:
            PredictionsError: The file is a run's ``samples.jsonl`` whose record names
                another task.
        """
        recorded = self._record_field("task", "name")
        if recorded is not None and recorded != task.name:
            raise PredictionsError(
                f"{self.path} comes from a run of task '{recorded}' ({self.record}), not "
                f"'{task.name}'",
                fix=f"pass --task {recorded}",
            )
        bound = copy.copy(self)
        bound._spec, bound._family = task, family
        return bound

    def _limit_hint(self) -> str:
        n = self._record_field("task", "n_examples")
        if isinstance(n, int):
            return f"; the run that wrote it scored {n} examples: pass the --limit it ran with"
        return " (and --limit)"

    def check_ids(self, ids: Sequence[str]) -> None:
        """Raise unless the file has exactly one prediction per id in ``ids`` (for a plain-text
        file: exactly one line per id, in order)."""
        if self._lines is not None:
            if len(self._lines) != len(ids):
                raise PredictionsError(
                    f"{self.path}: {len(self._lines)} lines, but the task's test split has "
                    f"{len(ids)} examples",
                    fix="write one output per line, in test-set order (check --limit; a "
                    "trailing empty line counts as an output)",
                )
            self._entries = {
                i: Entry(value=text, line=n)
                for n, (i, text) in enumerate(zip(ids, self._lines, strict=True), start=1)
            }
            return
        wanted = set(ids)
        missing = [i for i in ids if i not in self._entries]
        extra = [k for k in self._entries if k not in wanted]
        if missing and self.params.allow_missing:
            self._missing = set(missing)
        elif missing:
            raise PredictionsError(
                f"{self.path}: {len(missing)} of {len(ids)} test examples have no prediction "
                f"(first: {', '.join(map(repr, missing[:5]))})",
                fix="write a prediction for every id of the test split (see samples.jsonl of "
                f"a run), or pass --allow-missing to score them as misses{self._limit_hint()}",
            )
        if extra:
            shown = ", ".join(
                repr(k) + (f" (line {self._entries[k].line})" if self._entries[k].line else "")
                for k in extra[:5]
            )
            raise PredictionsError(
                f"{self.path}: {len(extra)} {'id is' if len(extra) == 1 else 'ids are'} not in "
                f"the task's test split (first: {shown})",
                fix=f"check that the file belongs to this task{self._limit_hint()}",
            )

    def identity(self) -> dict[str, Any]:
        """The SHA-256 (16 hex) of the file's bytes: the file is the model."""
        return {"adapter": self.name, "file_sha256": self._hash}

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """The SHA-256 (16 hex) of the file's bytes."""
        return self._hash

    def supports(self, family: str) -> bool:
        """Any family: the file decides."""
        return True

    def info(self) -> dict[str, Any]:
        """The file read, its format, ``bom_stripped`` when a byte-order mark was dropped
        from its start and, for a re-scored run, the record it came from."""
        out: dict[str, Any] = {"file": self.path.name, "format": self.format}
        if self._bom:
            out["bom_stripped"] = True
        if self.record is not None:
            out["rescored_run"] = self._record_field("run_id")
            out["rescored_model"] = self._record_field("model", "name")
        return out

    def predict(self, requests: Sequence[Request]) -> list[Response | Failure]:
        """The saved response of each request; a :class:`Failure` for a recorded failure (the
        same cause again) and, with ``allow_missing``, for an id the file does not have."""
        if self._family is None or self._spec is None:
            raise PredictionsError(
                "predictions adapter used without its task",
                fix="call for_task(task, family) first (the runner does)",
            )
        out: list[Response | Failure] = []
        for req in requests:
            if req.id in self._missing:
                out.append(Failure(cause="missing", message=f"no prediction in {self.path.name}"))
                continue
            entry = self._entries[req.id]
            if entry.failure is not None:
                out.append(recorded_failure(entry.failure))
                continue
            what = "response" if entry.is_response else "prediction"
            try:
                if entry.is_response:
                    response = self._family.parse_response(entry.value)
                else:
                    response = self._family.parse_prediction(entry.value, self._spec)
            except (TypeError, ValueError) as exc:
                raise PredictionsError(
                    f"{entry.where(self.path, req.id)}: {what} {_shown(entry.value)} has the "
                    f"wrong shape for the {self._family.name} family ({_reason(exc)})",
                    fix="see the family's response type in the README (or samples.jsonl of a run)",
                ) from exc
            problem = self._family.check_response(response, req, self._spec)
            if problem is not None:
                labels = self._family.labels(self._spec)
                raise PredictionsError(
                    f"{entry.where(self.path, req.id)}: {what} {_shown(entry.value)}: {problem}",
                    fix="write one of the task's labels (null for no answer), with probabilities "
                    "over those labels only"
                    if labels
                    else f"write a prediction the {self._family.name} family can score for "
                    "this example",
                )
            out.append(response)
        return out


def _shown(value: Any) -> str:
    """A prediction as its message quotes it: short, on one line."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _reason(exc: Exception) -> str:
    """Why a value did not parse, in one line (each pydantic error as ``field: message``)."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:3]:
            loc = ".".join(str(x) for x in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}" if loc else msg)
        return "; ".join(parts)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
