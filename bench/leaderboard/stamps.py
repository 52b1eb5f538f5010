"""Which published leaderboards are up to date, so that ``bench run --publish`` can skip a
rebuild that would write the same files again.

A leaderboard is a pure function of its inputs: the records (each identified by its
``run_id``, which changes whenever a pair is scored again) and the folders they were read
from, the title, the formats, the label language, the command named in every footer and
bench's version. :func:`publish_stamp` hashes them. :class:`PublishStamps` keeps, in
``BENCH_HOME/published.json``, each destination folder's stamp with the SHA-256 of every file
written there and the warnings the build printed. A destination is up to date when its stamp
is the same and every file is still there with the same content; anything else (a file edited
or deleted by hand, another record, another title) is rebuilt. A state file that cannot be
read or written is ignored: the leaderboard is then rebuilt each time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.identity import file_digest, short_hash

__all__ = ["PublishStamps", "publish_stamp"]


def publish_stamp(
    runs: Sequence[Any],
    *,
    title: str,
    formats: Sequence[str],
    lang: str,
    command: str,
    dates: bool = False,
) -> str:
    """The identity of everything a leaderboard is built from (see the module docstring).

    ``runs`` are records or ``(record, run folder)`` pairs, as :func:`build_leaderboard`
    takes them.
    """
    from bench import __version__

    items = []
    for run in runs:
        record, folder = run if isinstance(run, tuple) else (run, None)
        items.append([record.run_id, str(Path(folder).resolve()) if folder else None])
    return short_hash(
        {
            "bench": __version__,
            "runs": sorted(items, key=lambda i: (i[0], i[1] or "")),
            "title": title,
            "formats": list(formats),
            "lang": lang,
            "command": command,
            **({"dates": True} if dates else {}),
        }
    )


class PublishStamps:
    """The stamps of the leaderboards published from this ``BENCH_HOME`` (one JSON file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        self.entries: dict[str, Any] = loaded if isinstance(loaded, dict) else {}

    @staticmethod
    def _key(dest: Path) -> str:
        return str(Path(dest).resolve())

    def current(self, dest: Path, stamp: str) -> list[str] | None:
        """The warnings of the build that wrote ``dest`` when it is up to date for ``stamp``;
        ``None`` when it must be built (another stamp, a file missing or changed)."""
        entry = self.entries.get(self._key(dest))
        if not isinstance(entry, dict) or entry.get("stamp") != stamp:
            return None
        files = entry.get("files")
        if not isinstance(files, dict) or not files:
            return None
        for name, digest in files.items():
            try:
                if file_digest(Path(dest) / name) != digest:
                    return None
            except OSError:
                return None
        warnings = entry.get("warnings")
        return [str(w) for w in warnings] if isinstance(warnings, list) else []

    def remember(
        self, dest: Path, stamp: str, paths: Sequence[Path], warnings: Sequence[str]
    ) -> None:
        """Keep ``dest``'s stamp, the content hash of each written file and the warnings."""
        self.entries[self._key(dest)] = {
            "stamp": stamp,
            "files": {Path(p).name: file_digest(p) for p in paths},
            "warnings": list(warnings),
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: the next run rebuilds
