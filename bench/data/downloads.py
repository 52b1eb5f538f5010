"""Remote sources: files downloaded from a base URL or out of an archive, hub datasets and
sacrebleu's test sets.

A downloaded file is only trusted when its SHA-256 is pinned in the task (or the archive it
comes from has a pinned MD5). Every network failure becomes a :class:`~bench.errors.DataError`
that names the URL and offers ``--data NAME=PATH`` (a local copy of the original release).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from bench.data.fingerprint import verify_sha256
from bench.data.readers import check_aligned, datasets_module, first_line, read_lines
from bench.errors import DataError, did_you_mean
from bench.identity import file_digest
from bench.spec import SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["download", "from_archive", "load_hub", "load_sacrebleu"]


def _url(source: SourceSpec, name: str) -> str:
    return (source.location or "").rstrip("/") + "/" + name


def _download(spec: TaskSpec, source: SourceSpec, name: str, *, local: str) -> Path:
    """Download ``name`` below ``source.location`` through ``datasets`` (cached by it).

    Raises:
        DataError: The download failed; the fix names ``--data NAME=<local>``.
    """
    from datasets import DownloadManager

    url = _url(source, name)
    try:
        return Path(DownloadManager().download(url))
    except Exception as exc:  # the download manager raises many network error types
        raise DataError(
            f"task '{spec.name}': cannot download {url}: {first_line(exc)}",
            fix=f"check the network, or pass a local copy with --data {spec.name}={local}",
        ) from exc


def download(spec: TaskSpec, source: SourceSpec, name: str) -> Path:
    """Download ``source.location/name`` (cached by ``datasets``) and check its pinned SHA-256.

    Raises:
        DataError: The download failed, or the file is not pinned or differs from its pin.
    """
    path = _download(spec, source, name, local="PATH")
    verify_sha256(spec, source, None, path, key=name)
    return path


def from_archive(spec: TaskSpec, source: SourceSpec, member: str) -> Path:
    """Download ``source.archive`` once, extract it, and return ``member`` (hash-checked).

    Raises:
        DataError: The download failed, the archive's MD5 or the member's SHA-256 differs from
            its pin, the archive is not a zip file or lacks ``member``.
    """
    url = _url(source, str(source.archive))
    archive = _download(spec, source, str(source.archive), local="DIR")
    if source.archive_md5:
        actual = file_digest(archive, "md5")
        if actual != source.archive_md5:
            raise DataError(
                f"task '{spec.name}': {url} has MD5 {actual}, expected {source.archive_md5}",
                fix="the archive differs from the release the task pins",
            )
    target = archive.parent / (archive.name + ".extracted")
    if not target.is_dir():
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        except zipfile.BadZipFile as exc:
            raise DataError(
                f"task '{spec.name}': {url} is not a zip archive", fix="check source.archive"
            ) from exc
    path = target / member
    if not path.is_file():
        raise DataError(
            f"task '{spec.name}': {url} has no member {member}",
            fix="check source.files against the archive's contents",
        )
    if member not in source.sha256 and not source.archive_md5:
        raise DataError(
            f"task '{spec.name}': archive member {member} has no pinned SHA-256",
            fix=f"add source.sha256.{member}",
        )
    verify_sha256(spec, source, target, path, key=member)
    return path


def load_hub(spec: TaskSpec, source: SourceSpec, base: str) -> tuple[Dataset, str, str]:
    """Split ``base`` of a hub dataset (at ``source.revision``), its origin and format name.

    Raises:
        DataError: The dataset, configuration, split or revision cannot be loaded.
    """
    datasets = datasets_module()
    origin = f"hub:{source.location}" + (f"/{source.name}" if source.name else "") + f"[{base}]"
    if source.revision:
        origin += f"@{source.revision}"
    try:
        ds = datasets.load_dataset(
            source.location, source.name, split=base, revision=source.revision
        )
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as exc:
        raise DataError(
            f"task '{spec.name}': cannot load {origin}: {first_line(exc)}",
            fix="check the network, or pass a local copy of the original release with "
            f"--data {spec.name}=PATH",
        ) from exc
    return ds, origin, "hub"


def load_sacrebleu(spec: TaskSpec, source: SourceSpec) -> tuple[Dataset, str, str]:
    """A test set through sacrebleu's downloader: one column per field sacrebleu knows.

    Raises:
        DataError: An unknown test set or language pair, or a failed download.
    """
    from sacrebleu.dataset import DATASETS

    testset, langpair = str(source.testset), str(source.langpair)
    if testset not in DATASETS:
        raise DataError(
            f"task '{spec.name}': sacrebleu knows no test set '{testset}'"
            f"{did_you_mean(testset, DATASETS)}",
            fix="see `sacrebleu --list`",
        )
    dataset = DATASETS[testset]
    if langpair not in dataset.langpairs:
        raise DataError(
            f"task '{spec.name}': sacrebleu test set '{testset}' has no language pair "
            f"'{langpair}'{did_you_mean(langpair, dataset.langpairs)}",
            fix=f"use one of: {', '.join(sorted(dataset.langpairs))}",
        )
    origin = f"sacrebleu:{testset}/{langpair}"
    try:
        files = dataset.get_files(langpair)
        names = dataset.fieldnames(langpair)
    except (Exception, SystemExit) as exc:  # sacrebleu raises (or exits) on download errors
        raise DataError(
            f"task '{spec.name}': cannot fetch {origin}: {first_line(exc)}",
            fix="check the network, or pass a local copy of the organisers' plain-text "
            f"release with --data {spec.name}=DIR",
        ) from exc
    columns = {name: read_lines(Path(f)) for name, f in zip(names, files, strict=True)}
    check_aligned(columns, dict(zip(names, files, strict=True)))
    return datasets_module().Dataset.from_dict(columns), origin, "aligned-text"
