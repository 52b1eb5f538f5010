"""Every hash bench computes: one short-hash helper and the identities built from it.

An identity is a short hex digest of everything that could change a number: file contents (never
paths), code versions, the versions of libraries and data packages a step or metric depends on,
the protocol, and the schema version of cached answers. Every cache key, fingerprint and
comparability key in bench is built with the helpers here, so two places never hash the same
thing two different ways.

Example:
    >>> short_hash({"b": 1, "a": [1, 2]}) == short_hash({"a": [1, 2], "b": 1})
    True
    >>> len(short_hash("x"))
    16
    >>> combine("abc", None, "def") == combine("abc", "", "def")
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "SHORT",
    "bytes_hash",
    "canonical_json",
    "combine",
    "file_digest",
    "full_hash",
    "library_version",
    "library_versions",
    "short_hash",
]

SHORT = 16
"""Hex digits of a short identity (64 bits: no accidental collision among a run's records)."""


def canonical_json(obj: Any) -> bytes:
    """``obj`` as canonical JSON bytes: sorted keys, UTF-8, no ASCII escaping; values JSON does
    not know (paths, dates) are written with ``str``."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode(
        "utf-8", "surrogatepass"
    )


def full_hash(obj: Any) -> str:
    """SHA-256 (64 hex) of ``obj``'s canonical JSON (a ``bytes`` value is hashed as it is)."""
    blob = obj if isinstance(obj, bytes | bytearray | memoryview) else canonical_json(obj)
    return hashlib.sha256(blob).hexdigest()


def short_hash(obj: Any, *, length: int = SHORT) -> str:
    """The first ``length`` hex digits of :func:`full_hash` of ``obj``."""
    return full_hash(obj)[:length]


def bytes_hash(data: bytes, *, length: int | None = SHORT) -> str:
    """SHA-256 of raw bytes (``length=None``: all 64 hex digits)."""
    hexed = hashlib.sha256(data).hexdigest()
    return hexed if length is None else hexed[:length]


def combine(*parts: str | None, length: int = SHORT) -> str:
    """One identity from several: the short SHA-256 of the parts joined by ``|`` (``None`` and
    ``""`` are the same part)."""
    return bytes_hash("|".join(p or "" for p in parts).encode(), length=length)


def file_digest(path: str | Path, algorithm: str = "sha256", *, length: int | None = None) -> str:
    """The digest of a file's contents, read in blocks (:func:`hashlib.file_digest`).

    Args:
        path: The file.
        algorithm: A :mod:`hashlib` algorithm name (``sha256``, ``md5``).
        length: Keep only the first ``length`` hex digits (``None``: all).
    """
    with open(path, "rb") as fh:
        hexed = hashlib.file_digest(fh, algorithm).hexdigest()
    return hexed if length is None else hexed[:length]


@cache
@cache
def library_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (``None`` when it is not installed); read
    once per process (each lookup parses the package's metadata)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def library_versions(distributions: Iterable[str]) -> dict[str, str | None]:
    """``{distribution: version}`` for each name, sorted by name."""
    return {d: library_version(d) for d in sorted(set(distributions))}
