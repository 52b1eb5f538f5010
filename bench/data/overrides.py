"""Source overrides: ``--data NAME=PATH`` replaces a task's source by a local copy of its
original release (the layout in ``source.original``), which is how people evaluate behind a
firewall."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from bench.errors import DataError, did_you_mean
from bench.identity import canonical_json
from bench.spec import OriginalRelease, SourceSpec, TaskSpec

__all__ = ["SOURCE_IDENTITY_FILE_LIMIT", "check_overrides", "resolve_source", "source_identity"]


def check_overrides(
    data: Mapping[str, str | Path], selected: Iterable[TaskSpec], known: Iterable[str] = ()
) -> None:
    """Refuse a ``--data NAME=PATH`` whose NAME is not one of the tasks that will run.

    An override for a misspelt or unselected task would otherwise be ignored, and the task's
    own data scored in its place: a silent wrong score.

    Args:
        data: ``{task name: path}`` as given with ``--data``.
        selected: The tasks that will run (or be scored, or shown).
        known: Every task name bench knows, for a did-you-mean beyond the selection.

    Raises:
        DataError: A name is not a selected task; the message names the tasks that are.
    """
    chosen = sorted({spec.name for spec in selected})
    everything = set(known)
    for name, path in data.items():
        if name in chosen:
            continue
        hint = did_you_mean(name, chosen) or (
            "" if name in everything else did_you_mean(name, everything)
        )
        shown = ", ".join(chosen[:10]) + (
            f" (+{len(chosen) - 10} more)" if len(chosen) > 10 else ""
        )
        what = "is not one of the tasks selected" if name in everything else "is not a task"
        raise DataError(
            f"--data {name}={path}: '{name}' {what}{hint}; selected: {shown or 'none'}",
            fix=f"select task '{name}' too, or write --data NAME=PATH with a selected task's name"
            if name in everything
            else "write --data NAME=PATH with a selected task's name",
        )


def resolve_source(spec: TaskSpec, data_override: str | Path | None) -> SourceSpec:
    """The source to read: the task's own, or a local copy of its original release.

    A folder stands for the release's folder; a single file stands for every split of a
    one-file release (and inherits that file's pinned hash, whatever its name).

    Raises:
        DataError: The task declares no original release, the path does not exist, or a single
            file is given for a release of several files.
    """
    if data_override is None:
        return spec.source
    original: OriginalRelease | None = spec.source.original_release()
    if original is None:
        raise DataError(
            f"task '{spec.name}' does not declare the layout of its original release",
            fix=f"add source.original to {spec.path or spec.name} or drop --data {spec.name}=...",
        )
    path = Path(data_override).expanduser()
    if not path.exists():
        raise DataError(
            f"--data {spec.name}={data_override}: no such file or folder", fix="check the path"
        )
    layout = original.layout()
    if path.is_file():
        layout["files"], layout["sha256"] = _one_file(spec, original, path, data_override)
        path = path.parent
    if original.label_map is None:
        layout["label_map"] = spec.source.label_map
    return SourceSpec(
        kind="local",
        location=str(path.resolve()),
        **layout,
        splits=original.splits or spec.source.splits,
        fields=original.fields if original.fields is not None else spec.source.fields,
        shuffle_seed=spec.source.shuffle_seed,
        drop_empty=spec.source.drop_empty,
    )


def _one_file(
    spec: TaskSpec, original: OriginalRelease, path: Path, given: str | Path
) -> tuple[dict[str, str], dict[str, str]]:
    """``files`` and ``sha256`` of a one-file release read from the single file ``path``."""
    distinct = {canonical_json(v) for v in original.files.values()}
    if len(distinct) != 1:
        raise DataError(
            f"--data {spec.name}={given}: the task's original release has several "
            f"files ({', '.join(sorted(original.files))}); pass the folder that holds them",
            fix="point --data at the folder",
        )
    release_file = next(iter(original.files.values()))
    sha256 = dict(original.sha256)
    if isinstance(release_file, str):
        # The release's pinned hash applies to the given file, whatever its name.
        pinned = sha256.get(release_file) or sha256.get(Path(release_file).name)
        if pinned is not None:
            sha256 = {path.name: pinned}
    return {k: path.name for k in original.files}, sha256


SOURCE_IDENTITY_FILE_LIMIT = 10_000
"""A local source folder with more files than this has no :func:`source_identity` (its pairs
are always scored again)."""

_COMMIT = re.compile(r"[0-9a-f]{40}")


def source_identity(spec: TaskSpec, data_override: str | Path | None = None) -> str | None:
    """The identity of the data a pair of ``spec`` would read, known *before* reading it: what
    lets ``bench run`` keep an up-to-date record without loading the data set again.

    * ``builtin`` and ``local`` sources (a ``--data`` copy included): the SHA-256 of every file
      under the source's folder (memoised per process on each file's full ``stat``), so an
      edited, added or removed file changes it;
    * ``url`` sources: their pinned SHA-256s (a download is only read when it matches them);
    * ``sacrebleu`` test sets: the test set, language pair and sacrebleu's version (its
      downloads are checked against the checksums it ships);
    * ``hub`` sources: the dataset, configuration and revision when the revision is a commit
      hash (40 hex digits); a branch or tag can move, so an unpinned hub source has none.

    ``None`` means the data cannot be identified without reading it: the pair is scored again.
    The task spec's own hash (splits, fields, preprocessing) is not part of this identity; the
    caller combines the two.
    """
    import glob

    from bench.data.files import base_dir
    from bench.data.fingerprint import file_sha256
    from bench.identity import short_hash

    try:
        source = resolve_source(spec, data_override)
    except DataError:
        return None  # the load will say what is wrong
    if source.kind in ("builtin", "local"):
        root = base_dir(spec, source)
        if not root.is_dir():
            return None
        files = []
        for i, name in enumerate(sorted(glob.glob(str(root / "**" / "*"), recursive=True))):
            if i >= SOURCE_IDENTITY_FILE_LIMIT:
                return None
            path = Path(name)
            if path.is_file():
                try:
                    files.append([path.relative_to(root).as_posix(), file_sha256(path)])
                except OSError:
                    return None
        return short_hash({"kind": source.kind, "files": files})
    if source.kind == "url":
        return short_hash({"kind": "url", "location": source.location, "sha256": source.sha256})
    if source.kind == "sacrebleu":
        from importlib import metadata

        try:
            version = metadata.version("sacrebleu")
        except metadata.PackageNotFoundError:
            return None
        parts = {"testset": source.testset, "langpair": source.langpair, "sacrebleu": version}
        return short_hash({"kind": "sacrebleu", **parts})
    if source.kind == "hub" and source.revision and _COMMIT.fullmatch(source.revision):
        return short_hash(
            {"kind": "hub", "id": source.location, "name": source.name, "rev": source.revision}
        )
    return None
