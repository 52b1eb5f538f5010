"""Remote sources: files downloaded from a base URL or out of an archive, hub datasets and
sacrebleu's test sets.

Files are downloaded with the standard library's HTTP client (no extra dependency: ``datasets``
would need ``aiohttp`` through ``fsspec``), streamed into bench's download folder
(:func:`download_dir`) and renamed into place only once complete and matching their pin, so
an interrupted or corrupt download never stands in for the file. A downloaded file is only
trusted when its SHA-256 is pinned in the task (or the archive it comes from has a pinned MD5).
Every failure becomes a :class:`~bench.errors.DataError` that names the URL and the real cause
(HTTP status, connection error, checksum mismatch with both hashes, a body shorter than its
``Content-Length``) and offers ``--data NAME=PATH`` (a local copy of the original release).

Hub datasets are loaded by ``datasets``; the Hub is probed once (:func:`check_hub`) so an
offline machine fails in about a second instead of after the hub client's retries.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from bench.data.fingerprint import verify_sha256
from bench.data.readers import check_aligned, datasets_module, first_line, read_lines
from bench.errors import DataError, did_you_mean
from bench.identity import file_digest, short_hash
from bench.spec import SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "HUB_PROBE_TIMEOUT",
    "READ_TIMEOUT",
    "check_hub",
    "download",
    "download_dir",
    "fetch_url",
    "from_archive",
    "load_hub",
    "load_sacrebleu",
]

READ_TIMEOUT = 60.0
"""Seconds a download may wait for the server to connect or to send the next bytes."""

HUB_PROBE_TIMEOUT = 1.5
"""Seconds the Hub has to answer one request before it is taken to be unreachable."""

_CHUNK = 1 << 20
_HASH_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


def download_dir() -> Path:
    """Where downloads are kept: ``$BENCH_HOME/downloads`` (``.bench/downloads`` by default),
    beside the results and the prediction cache."""
    return Path(os.environ.get("BENCH_HOME", ".bench")) / "downloads"


def _url(source: SourceSpec, name: str) -> str:
    return (source.location or "").rstrip("/") + "/" + name


def fetch_url(
    url: str,
    target: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    task: str = "",
    local: str = "PATH",
) -> Path:
    """Download ``url`` to ``target`` (streamed; renamed into place when complete and checked).

    A ``target`` that already exists is a finished download: it is returned as it is when it
    still matches its pins, and downloaded again when it does not (a damaged or edited copy).

    Args:
        url: An ``http://`` or ``https://`` URL.
        target: The file to create.
        sha256: The pinned SHA-256 of the body, checked before the file is kept.
        md5: The pinned MD5 of the body (archives pinned as their publisher pins them).
        task: The task, for messages.
        local: What ``--data TASK=...`` takes in the fix (``PATH`` or ``DIR``).

    Raises:
        DataError: The server answered with an error status, could not be reached, sent fewer
            bytes than its ``Content-Length``, or sent a body that differs from its pin.
    """
    if target.is_file():
        if _matches(target, sha256, md5):
            return target
        target.unlink()  # damaged or edited since it was checked: download it again
    who = f"task '{task}': " if task else ""
    fix = (
        "check the network and the task's source.location, or pass a local copy with "
        f"--data {task or 'TASK'}={local}"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(
        url, headers={"User-Agent": "bench", "Accept-Encoding": "identity"}
    )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
        received = 0
        try:
            with (
                os.fdopen(fd, "wb") as fh,
                urllib.request.urlopen(request, timeout=READ_TIMEOUT) as resp,
            ):
                length = resp.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                try:
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        fh.write(chunk)
                        received += len(chunk)
                        for d in digests.values():
                            d.update(chunk)
                except http.client.IncompleteRead as exc:
                    received += len(exc.partial)
                    expected = expected or received + (exc.expected or 0)
        except urllib.error.HTTPError as exc:
            raise DataError(
                f"{who}cannot download {url}: HTTP {exc.code} {exc.reason}", fix=fix
            ) from exc
        except urllib.error.URLError as exc:
            raise DataError(
                f"{who}cannot download {url}: cannot connect ({_reason(exc.reason)})", fix=fix
            ) from exc
        except TimeoutError as exc:
            raise DataError(
                f"{who}cannot download {url}: no answer within {READ_TIMEOUT:g} s", fix=fix
            ) from exc
        except (http.client.HTTPException, ConnectionError) as exc:
            raise DataError(f"{who}cannot download {url}: {first_line(exc)}", fix=fix) from exc
        if expected is not None and received != expected:
            raise DataError(
                f"{who}download of {url} is truncated: {received} of {expected} bytes "
                "(Content-Length) arrived",
                fix="try again; " + fix,
            )
        for name, pinned in (("sha256", sha256), ("md5", md5)):
            actual = digests[name].hexdigest()
            if pinned is not None and actual != pinned.lower():
                raise DataError(
                    f"{who}{url} has {_HASH_NAMES[name]} {actual}, expected {pinned}",
                    fix="the file differs from the release the task pins; check source.location "
                    "(or use the original file with --data)",
                )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _matches(path: Path, sha256: str | None, md5: str | None) -> bool:
    """Whether ``path`` still has the digests it was pinned to (what is not pinned matches)."""
    pins = (("sha256", sha256), ("md5", md5))
    return all(p is None or file_digest(path, name) == p.lower() for name, p in pins)


def _reason(reason: object) -> str:
    if isinstance(reason, BaseException):
        return first_line(reason)
    return str(reason)


def _target(source: SourceSpec, name: str) -> Path:
    """The download folder's file for ``source.location/name`` (one folder per URL)."""
    url = _url(source, name)
    return download_dir() / short_hash(url) / Path(name).name


def _download(
    spec: TaskSpec,
    source: SourceSpec,
    name: str,
    *,
    local: str,
    sha256: str | None = None,
    md5: str | None = None,
) -> Path:
    return fetch_url(
        _url(source, name),
        _target(source, name),
        sha256=sha256,
        md5=md5,
        task=spec.name,
        local=local,
    )


def download(spec: TaskSpec, source: SourceSpec, name: str) -> Path:
    """Download ``source.location/name`` (kept in :func:`download_dir`) and check its pin.

    Raises:
        DataError: The download failed, or the file is not pinned or differs from its pin.
    """
    pinned = source.sha256.get(name) or source.sha256.get(Path(name).name)
    if pinned is None:
        pins = ", ".join(sorted(source.sha256)) or "nothing"
        raise DataError(
            f"task '{spec.name}': {name} has no SHA-256 in source.sha256 (it pins {pins})",
            fix="pin every downloaded file in source.sha256",
        )
    path = _download(spec, source, name, local="PATH", sha256=pinned)
    verify_sha256(spec, source, None, path, key=name)
    return path


def from_archive(spec: TaskSpec, source: SourceSpec, member: str) -> Path:
    """Download ``source.archive`` once, extract it, and return ``member`` (hash-checked).

    The archive is extracted into a temporary folder renamed into place when complete, so an
    interrupted extraction is never taken for a finished one.

    Raises:
        DataError: The download failed, the archive's MD5 or the member's SHA-256 differs from
            its pin, the archive is not a zip file or lacks ``member``.
    """
    url = _url(source, str(source.archive))
    archive = _download(spec, source, str(source.archive), local="DIR", md5=source.archive_md5)
    target = archive.parent / (archive.name + ".extracted")
    if not target.is_dir():
        scratch = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", dir=archive.parent))
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(scratch)
            os.replace(scratch, target)
        except zipfile.BadZipFile as exc:
            raise DataError(
                f"task '{spec.name}': {url} is not a zip archive", fix="check source.archive"
            ) from exc
        except OSError:
            if not target.is_dir():  # another process may have finished first
                raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
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


# --------------------------------------------------------------------------- the hub


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def hub_endpoint() -> str:
    """The Hub's address: ``HF_ENDPOINT``, else ``https://huggingface.co``."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


_probed: dict[str, str | None] = {}
_probe_lock = threading.Lock()


def _probe(endpoint: str, timeout: float) -> str | None:
    """``None`` when ``endpoint`` answers an HTTP request within ``timeout`` seconds, else why
    not. Any HTTP answer counts, an error status included: the server is there."""
    outcome: list[str | None] = []

    def ask() -> None:
        request = urllib.request.Request(endpoint + "/api/datasets?limit=1", method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)
        except urllib.error.URLError as exc:
            outcome.append(_reason(exc.reason))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            outcome.append(first_line(exc))

    # A thread bounds the whole probe, name resolution included (socket timeouts do not).
    worker = threading.Thread(target=ask, name="bench-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def check_hub(spec: TaskSpec, origin: str) -> None:
    """Fail fast when the Hub cannot be reached (probed once per process and endpoint).

    Skipped when ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` is set: ``datasets`` then reads
    only its cache, which needs no network.

    Raises:
        DataError: The Hub did not answer within :data:`HUB_PROBE_TIMEOUT` seconds.
    """
    if _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("HF_DATASETS_OFFLINE")):
        return
    endpoint = hub_endpoint()
    with _probe_lock:
        if endpoint not in _probed:
            _probed[endpoint] = _probe(endpoint, HUB_PROBE_TIMEOUT)
        problem = _probed[endpoint]
    if problem is not None:
        raise DataError(
            f"task '{spec.name}': cannot load {origin}: the Hub at {endpoint} cannot be "
            f"reached ({problem})",
            fix="check the network (or HF_ENDPOINT), set HF_HUB_OFFLINE=1 to read datasets' "
            f"cache, or pass a local copy of the original release with --data {spec.name}=PATH",
        )


def load_hub(spec: TaskSpec, source: SourceSpec, base: str) -> tuple[Dataset, str, str]:
    """Split ``base`` of a hub dataset (at ``source.revision``), its origin and format name.

    Raises:
        DataError: The dataset, configuration, split or revision cannot be loaded.
    """
    origin = f"hub:{source.location}" + (f"/{source.name}" if source.name else "") + f"[{base}]"
    if source.revision:
        origin += f"@{source.revision}"
    if not Path(str(source.location)).expanduser().exists():  # a local copy needs no Hub
        check_hub(spec, origin)
    datasets = datasets_module()
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
