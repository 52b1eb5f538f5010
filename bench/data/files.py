"""Where a source's files are: shipped with bench, on disk, or downloaded; each one checked
against the SHA-256 the task pins for it.

Both a split's files and a side table's file (e.g. a recommendation item table) are found here,
so the two are located, pinned and downloaded the same way.
"""

from __future__ import annotations

import glob
from pathlib import Path

from bench.data.downloads import download, from_archive
from bench.data.fingerprint import verify_sha256
from bench.errors import DataError
from bench.spec import SourceSpec, TaskSpec

__all__ = ["BUILTIN_ROOT", "base_dir", "describe", "fetch"]

BUILTIN_ROOT = Path(__file__).parent.parent / "builtin"
"""Where the files of ``builtin`` sources (the smoke suite's data) are shipped."""


def base_dir(spec: TaskSpec, source: SourceSpec) -> Path:
    """The folder a ``builtin`` or ``local`` source's file names are relative to."""
    location = source.location or ""
    if source.kind == "builtin":
        return BUILTIN_ROOT / location
    path = Path(location).expanduser()
    if not path.is_absolute() and spec.path is not None:
        path = spec.path.parent / path
    return path


def fetch(
    spec: TaskSpec,
    source: SourceSpec,
    names: str | list[str],
    fmt: str,
    *,
    key: str = "source.files",
) -> list[Path]:
    """The files that ``names`` (file names or globs of ``source``) stand for, in order.

    Args:
        spec: The task (for messages and the folder of its file).
        source: The source, after ``--data`` overrides.
        names: One name or glob, or a list of them.
        fmt: The format (``text-files`` reads every ``*.txt`` under a named folder).
        key: The task key that named the files, for the fix of a "no file" error.

    Raises:
        DataError: A name matches no file, a download fails, or a file differs from its pin.
    """
    patterns = [names] if isinstance(names, str) else list(names)
    if source.kind == "url" and source.archive:
        return [from_archive(spec, source, p) for p in patterns]
    if source.kind == "url":
        return [download(spec, source, p) for p in patterns]
    root = base_dir(spec, source)
    paths: list[Path] = []
    for pattern in patterns:
        target = root / pattern
        if fmt == "text-files" and target.is_dir():
            matched = sorted(glob.glob(str(target / "**" / "*.txt"), recursive=True))
        else:
            matched = sorted(glob.glob(str(target), recursive=True))
        if not matched:
            raise DataError(
                f"task '{spec.name}': no file matches {target}",
                fix=f"check source.location and {key} (or the --data path)",
            )
        paths += [Path(p) for p in matched]
    for path in paths:
        verify_sha256(spec, source, root, path)
    return paths


def describe(paths: list[Path]) -> str:
    """How messages and records name a split's files (the first three, and how many more)."""
    more = f" (+{len(paths) - 3} files)" if len(paths) > 3 else ""
    return ", ".join(str(p) for p in paths[:3]) + more
