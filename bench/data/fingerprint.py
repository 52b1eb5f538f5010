"""Identities of data: file contents, pinned hashes, and the fingerprint of a split's rows.

A local file is identified by its content, never by its path or modification time: the
``datasets`` cache key of every file read (:func:`content_key`) and every fingerprint derived
from it change when a file is edited in place, even when its size and mtime stay the same.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import DataError
from bench.identity import SHORT, canonical_json, combine, file_digest, short_hash
from bench.spec import SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["content_key", "dataset_fingerprint", "derive", "file_sha256", "verify_sha256"]


def file_sha256(path: Path) -> str:
    """The SHA-256 (64 hex) of ``path``'s contents.

    Memoised on the file's full ``stat`` signature (device, inode, size, mtime and ctime in
    nanoseconds): an edit always changes the ctime, which no tool can set back, so a file
    rewritten in place with its old mtime restored is still read again.
    """
    st = os.stat(path)
    return _sha256_of(
        str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns
    )


@lru_cache(maxsize=4096)
def _sha256_of(path: str, *signature: int) -> str:
    return file_digest(path)


def content_key(paths: Sequence[Path], *parts: Any) -> str:
    """The content identity of a set of files (in order), with whatever else shapes what is read
    from them (format, columns, delimiter...): the ``datasets`` cache key of a read."""
    return combine(*(file_sha256(p) for p in paths), short_hash(parts))


def verify_sha256(
    spec: TaskSpec, source: SourceSpec, root: Path | None, path: Path, key: str | None = None
) -> None:
    """Check ``path`` against the SHA-256 that ``source.sha256`` pins for it.

    The pin is looked up by ``key``, else by the path relative to ``root``, else by file name.
    A file without a pin is accepted, except a download (``url`` source), which is only trusted
    when pinned.

    Raises:
        DataError: The file's hash differs from its pin, or a download has no pin.
    """
    if not source.sha256:
        return
    if key is None and root is not None:
        try:
            key = path.relative_to(root).as_posix()
        except ValueError:
            key = path.name
    expected = source.sha256.get(key or path.name) or source.sha256.get(path.name)
    if expected is None:
        if source.kind == "url":
            raise DataError(
                f"task '{spec.name}': {key or path.name} has no SHA-256 in source.sha256 "
                f"(it pins {', '.join(sorted(source.sha256))})",
                fix="pin every downloaded file in source.sha256",
            )
        return
    actual = file_sha256(path)
    if actual != expected:
        raise DataError(
            f"task '{spec.name}': {path} has SHA-256 {actual}, expected {expected}",
            fix="the file differs from the release the task pins; use the original file",
        )


def dataset_fingerprint(ds: Dataset) -> str:
    """SHA-256 (16 hex) of a dataset's rows (column names and values, in order).

    Hashed batch by batch (a split may not fit in memory as one JSON document).
    """
    digest = hashlib.sha256(canonical_json(sorted(ds.column_names)))
    for batch in ds.iter(batch_size=2048):
        digest.update(canonical_json(batch))
    return digest.hexdigest()[:SHORT]


def derive(*parts: Any) -> str:
    """A ``datasets`` fingerprint for a transformation: the short hash of its input's
    fingerprint and the transformation's parameters."""
    return short_hash(parts)
