"""Where a predictions file's answers and run record are, and the model name it defaults to.

A predictions file is a JSONL file, or a run's ``samples.jsonl`` (given as the file or as its
run folder) with the run's ``record.json`` beside it. These helpers are shared by the
``predictions`` adapter (:mod:`bench.adapters.predictions`), model specs
(:func:`bench.adapters.base.parse_model_spec`) and ``bench score``, and import nothing but
:mod:`bench.errors`, so none of them imports another back.

Example:
    >>> default_name("runs/my-model.jsonl")
    'my-model'
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.errors import PredictionsError, ResultsError

__all__ = [
    "RECORD_FILE",
    "RESCORED_SUFFIX",
    "SAMPLES_FILE",
    "check_not_overwriting",
    "default_name",
    "resolve_predictions_path",
]

SAMPLES_FILE = "samples.jsonl"
RECORD_FILE = "record.json"
RESCORED_SUFFIX = "-rescored"


def resolve_predictions_path(path: str | Path) -> tuple[Path, Path | None]:
    """The file to read and the run record beside it (if any).

    A folder is read as a run folder: its ``samples.jsonl`` (and ``record.json``).

    Raises:
        PredictionsError: A folder without ``samples.jsonl``.
    """
    path = Path(path)
    if path.is_dir():
        samples = path / SAMPLES_FILE
        if not samples.is_file():
            raise PredictionsError(
                f"{path}: a folder, but not a run folder (no {SAMPLES_FILE})",
                fix="pass a predictions file, or a results folder RESULTS/MODEL/TASK of a run",
            )
        path = samples
    record = path.with_name(RECORD_FILE)
    is_run = path.name == SAMPLES_FILE and record.is_file()
    return path, record if is_run else None


def default_name(path: str | Path) -> str:
    """The display name of a predictions file's model when no ``name`` is given.

    The file's stem; for a run's ``samples.jsonl`` (or its folder) with its ``record.json``
    beside it, the original model's name plus ``-rescored``. Never raises: an unreadable
    record leaves the stem.
    """
    try:
        file, record = resolve_predictions_path(path)
    except PredictionsError:
        return Path(path).stem or "predictions"
    if record is not None:
        try:
            name = json.loads(record.read_text(encoding="utf-8"))["model"]["name"]
        except (OSError, ValueError, KeyError, TypeError):
            name = None
        if isinstance(name, str) and name:
            return name + RESCORED_SUFFIX
    return file.stem or "predictions"


def check_not_overwriting(predictions: str | Path, out_folder: Path) -> None:
    """Refuse to write a record into the run folder the predictions are read from.

    Raises:
        ResultsError: ``out_folder`` is the folder of the predictions' ``samples.jsonl``.
    """
    try:
        file, record = resolve_predictions_path(predictions)
    except PredictionsError:
        return
    if record is not None and file.parent.resolve() == Path(out_folder).resolve():
        raise ResultsError(
            f"scoring {file} would overwrite the run record beside it ({record})",
            fix="pass another --name (the default adds -rescored) or --results folder",
        )
