"""Data sources → ``datasets.Dataset``, with field mapping, seeded splits and fingerprints.

Sources (``source.kind`` in a task file):

* ``builtin`` — files shipped inside the package (``bench/builtin/<location>``), the smoke suite;
* ``local`` — JSON, JSONL, CSV, TSV, Parquet, plain-text files (one example per line) or folders
  of text files (``text-files``: one example per file, the label is the parent folder's name);
* ``hub`` — ``datasets.load_dataset(location, name, split=..., revision=...)``;
* ``url`` — files downloaded from a base URL and checked against their pinned SHA-256.

``--data NAME=PATH`` replaces a task's source by a local copy of its original release (the
layout in ``source.original``), which is how people evaluate behind a firewall.

Every split is reduced to the family's canonical columns (``id`` plus the family's fields),
checked row by row (the first bad row is named with its file, row and field), and fingerprinted
by content.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import DataError, did_you_mean
from bench.families.base import Family
from bench.spec import OriginalRelease, SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "BUILTIN_ROOT",
    "LoadedSplit",
    "dataset_fingerprint",
    "load_split",
    "parse_split",
    "resolve_source",
    "row_name",
]

BUILTIN_ROOT = Path(__file__).parent / "builtin"
_SPLIT_RE = re.compile(r"^(?P<base>[A-Za-z0-9_.-]+)(?:\[(?P<start>-?\d*%?):(?P<stop>-?\d*%?)\])?$")
_ROW = "__row__"


@dataclass(frozen=True)
class LoadedSplit:
    """One role's examples (``train`` / ``validation`` / ``test``) and where they came from.

    Attributes:
        dataset: Canonical columns: ``id`` and the family's fields.
        fingerprint: SHA-256 (16 hex) of the rows' content.
        origin: Human-readable description of the files or hub split read.
        dropped: Rows dropped by ``source.drop_empty`` before splitting.
    """

    dataset: Dataset
    fingerprint: str
    origin: str
    dropped: int = 0


def parse_split(expr: str) -> tuple[str, str | None, str | None]:
    """Split ``"train[:80%]"`` into ``("train", "", "80%")``; no brackets gives ``None`` bounds."""
    m = _SPLIT_RE.match(expr)
    if not m:
        raise DataError(
            f"'{expr}' is not a split expression", fix="write e.g. train or train[:80%]"
        )
    return m["base"], m["start"], m["stop"]


def _bound(text: str | None, n: int, default: int) -> int:
    if text is None or text == "":
        return default
    # Percent bounds round to the nearest row, as datasets' ReadInstruction does by default.
    value = round(float(text[:-1]) * n / 100) if text.endswith("%") else int(text)
    if value < 0:
        value += n
    return max(0, min(n, value))


def resolve_source(spec: TaskSpec, data_override: str | Path | None) -> SourceSpec:
    """The source to read: the task's own, or a local copy of its original release."""
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
    files = dict(original.files)
    sha256 = dict(original.sha256)
    if path.is_file():
        # A single file stands for every split of a one-file release.
        if len({json.dumps(v) for v in files.values()}) != 1:
            raise DataError(
                f"--data {spec.name}={data_override}: the task's original release has several "
                f"files ({', '.join(sorted(files))}); pass the folder that holds them",
                fix="point --data at the folder",
            )
        # The release's pinned hash applies to the given file, whatever its name.
        (only,) = {json.dumps(v) for v in files.values()}
        release_file = json.loads(only)
        pinned = None
        if isinstance(release_file, str):
            pinned = sha256.get(release_file) or sha256.get(Path(release_file).name)
        if pinned is not None:
            sha256 = {path.name: pinned}
        files = {k: path.name for k in files}
        path = path.parent
    return SourceSpec(
        kind="local",
        location=str(path.resolve()),
        format=original.format,
        files=files,
        columns=original.columns,
        delimiter=original.delimiter,
        encoding=original.encoding,
        splits=original.splits or spec.source.splits,  # type: ignore[arg-type]
        fields=original.fields if original.fields is not None else spec.source.fields,
        label_map=original.label_map if original.label_map is not None else spec.source.label_map,
        shuffle_seed=spec.source.shuffle_seed,
        drop_empty=spec.source.drop_empty,
        sha256=sha256,
    )


def load_split(
    spec: TaskSpec,
    family: Family,
    role: str,
    *,
    data_override: str | Path | None = None,
    limit: int | None = None,
) -> LoadedSplit:
    """Load one role's split of ``spec``'s data as canonical columns.

    Args:
        spec: The task.
        family: The task's family (which fields rows need).
        role: ``train``, ``validation`` or ``test``.
        data_override: A local copy of the original release (``--data``).
        limit: Keep only the first ``limit`` examples (after slicing).

    Raises:
        DataError: Missing files, undecodable bytes, missing columns, bad rows, empty splits.
    """
    source = resolve_source(spec, data_override)
    expr = source.splits.get(role)  # type: ignore[call-overload]
    if expr is None:
        raise DataError(f"task '{spec.name}' has no '{role}' split", fix="add it to source.splits")
    base, start, stop = parse_split(expr)
    raw, origin, fmt = _load_raw(spec, source, base)
    if _ROW not in raw.column_names:
        raw = raw.add_column(_ROW, np.arange(len(raw), dtype=np.int64))
    ds = _canonical(raw, spec, source, family, origin, fmt, base)
    dropped = 0
    if source.drop_empty:
        fields = list(source.drop_empty)
        before = len(ds)
        ds = ds.filter(
            lambda batch: [
                all(not _is_blank(batch[f][j]) for f in fields) for j in range(len(batch["id"]))
            ],
            batched=True,
            new_fingerprint=_derive(ds._fingerprint, "drop_empty", fields),
        )
        dropped = before - len(ds)
    if source.shuffle_seed is not None:
        ds = ds.shuffle(seed=source.shuffle_seed)
    n = len(ds)
    lo, hi = _bound(start, n, 0), _bound(stop, n, n)
    if (lo, hi) != (0, n):
        # An empty range is selected as [] (datasets rejects range(n, n) as out of bounds).
        ds = ds.select(range(lo, hi) if hi > lo else [])
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    if len(ds) == 0:
        raise DataError(
            f"task '{spec.name}': split '{role}' ({expr}) of {origin} is empty",
            fix="check the files and the split expression",
        )
    _check_rows(ds, spec, source, family, origin, fmt)
    ds = ds.remove_columns([_ROW])
    return LoadedSplit(
        dataset=ds, fingerprint=dataset_fingerprint(ds), origin=origin, dropped=dropped
    )


def dataset_fingerprint(ds: Dataset) -> str:
    """SHA-256 (16 hex) of a dataset's rows (column names and values, in order)."""
    digest = hashlib.sha256(json.dumps(sorted(ds.column_names)).encode())
    for batch in ds.iter(batch_size=2048):
        digest.update(json.dumps(batch, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- raw loading


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _datasets() -> Any:
    """Import ``datasets`` quietly: bench renders its own progress."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def _base_dir(spec: TaskSpec, source: SourceSpec) -> Path:
    location = source.location or ""
    if source.kind == "builtin":
        return BUILTIN_ROOT / location
    path = Path(location).expanduser()
    if not path.is_absolute() and spec.path is not None:
        path = spec.path.parent / path
    return path


def _load_raw(spec: TaskSpec, source: SourceSpec, base: str) -> tuple[Dataset, str, str]:
    if source.kind == "hub":
        return _load_hub(spec, source, base)
    if source.kind == "sacrebleu":
        return _load_sacrebleu(spec, source)
    files = source.files or {}
    if base not in files:
        raise DataError(
            f"task '{spec.name}': split '{base}' names no file{did_you_mean(base, files)}",
            fix=f"use one of the file keys: {', '.join(sorted(files))}",
        )
    patterns = files[base]
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    fmt = source.format or "jsonl"
    if source.kind == "url" and source.archive:
        paths = [_from_archive(spec, source, p) for p in patterns]
    elif source.kind == "url":
        paths = [_download(spec, source, p) for p in patterns]
    else:
        root = _base_dir(spec, source)
        paths = []
        for pattern in patterns:
            target = root / pattern
            if fmt == "text-files":
                matched = (
                    sorted(glob.glob(str(target / "**" / "*.txt"), recursive=True))
                    if target.is_dir()
                    else sorted(glob.glob(str(target), recursive=True))
                )
            else:
                matched = sorted(glob.glob(str(target), recursive=True))
            if not matched:
                raise DataError(
                    f"task '{spec.name}': no file matches {target}",
                    fix="check source.location and source.files (or the --data path)",
                )
            paths += [Path(p) for p in matched]
        for path in paths:
            _verify_sha256(spec, source, root, path)
    if fmt != "parquet" and source.encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        for path in paths:
            _check_utf8(path)
    origin = ", ".join(str(p) for p in paths[:3]) + (
        f" (+{len(paths) - 3} files)" if len(paths) > 3 else ""
    )
    return _read_files(fmt, paths, origin, source.columns, source), origin, fmt


def _from_archive(spec: TaskSpec, source: SourceSpec, member: str) -> Path:
    """Download ``source.archive`` once, extract it, and return ``member`` (hash-checked)."""
    import zipfile

    from datasets import DownloadManager

    url = (source.location or "").rstrip("/") + "/" + str(source.archive)
    try:
        archive = Path(DownloadManager().download(url))
    except Exception as exc:  # the download manager raises many network error types
        raise DataError(
            f"task '{spec.name}': cannot download {url}: {_first_line(exc)}",
            fix=f"check the network, or pass a local copy with --data {spec.name}=DIR",
        ) from exc
    if source.archive_md5:
        digest = hashlib.md5(usedforsecurity=False)
        with archive.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != source.archive_md5:
            raise DataError(
                f"task '{spec.name}': {url} has MD5 {digest.hexdigest()}, expected "
                f"{source.archive_md5}",
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
    _verify_sha256(spec, source, target, path, key=member)
    return path


def _load_sacrebleu(spec: TaskSpec, source: SourceSpec) -> tuple[Dataset, str, str]:
    """A test set through sacrebleu's downloader: one column per field sacrebleu knows."""
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
            f"task '{spec.name}': cannot fetch {origin}: {_first_line(exc)}",
            fix="check the network, or pass a local copy of the organisers' plain-text "
            f"release with --data {spec.name}=DIR",
        ) from exc
    columns = {name: _read_lines(Path(f)) for name, f in zip(names, files, strict=True)}
    _check_aligned(columns, dict(zip(names, files, strict=True)))
    return _datasets().Dataset.from_dict(columns), origin, "aligned-text"


def _read_lines(path: Path) -> list[str]:
    # Split on newlines only (universal newlines), never on the other characters that
    # str.splitlines() treats as line breaks (U+2028, form feed...), which occur inside segments.
    with path.open(encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def _check_aligned(columns: dict[str, list[str]], files: Mapping[str, Any]) -> None:
    counts = {name: len(lines) for name, lines in columns.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{files[n]}: {c} lines" for n, c in counts.items())
        raise DataError(
            f"line-aligned files differ in length ({detail})",
            fix="every file of a line-aligned release has one line per segment",
        )


def _load_hub(spec: TaskSpec, source: SourceSpec, base: str) -> tuple[Dataset, str, str]:
    datasets = _datasets()

    origin = f"hub:{source.location}" + (f"/{source.name}" if source.name else "") + f"[{base}]"
    if source.revision:
        origin += f"@{source.revision}"
    try:
        ds = datasets.load_dataset(
            source.location, source.name, split=base, revision=source.revision
        )
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as exc:
        raise DataError(
            f"task '{spec.name}': cannot load {origin}: {_first_line(exc)}",
            fix="check the network, or pass a local copy of the original release with "
            f"--data {spec.name}=PATH",
        ) from exc
    return ds, origin, "hub"


def _download(spec: TaskSpec, source: SourceSpec, name: str) -> Path:
    from datasets import DownloadManager

    url = (source.location or "").rstrip("/") + "/" + name
    try:
        path = Path(DownloadManager().download(url))
    except Exception as exc:  # the download manager raises many network error types
        raise DataError(
            f"task '{spec.name}': cannot download {url}: {type(exc).__name__}",
            fix=f"check the network, or pass a local copy with --data {spec.name}=PATH",
        ) from exc
    _verify_sha256(spec, source, None, path, key=name)
    return path


def _verify_sha256(
    spec: TaskSpec, source: SourceSpec, root: Path | None, path: Path, key: str | None = None
) -> None:
    if not source.sha256:
        return
    if key is None and root is not None:
        try:
            key = path.relative_to(root).as_posix()
        except ValueError:
            key = path.name
    expected = source.sha256.get(key or path.name) or source.sha256.get(path.name)
    if expected is None:
        if source.kind == "url":  # a download is only trusted when it is pinned
            raise DataError(
                f"task '{spec.name}': {key or path.name} has no SHA-256 in source.sha256 "
                f"(it pins {', '.join(sorted(source.sha256))})",
                fix="pin every downloaded file in source.sha256",
            )
        return
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise DataError(
            f"task '{spec.name}': {path} has SHA-256 {digest.hexdigest()}, expected {expected}",
            fix="the file differs from the release the task pins; use the original file",
        )


def _check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                with path.open("rb") as again:
                    head = again.read(bad)
                line = head.count(b"\n") + 1
                raise DataError(
                    f"{path}: line {line}: not UTF-8 "
                    f"(byte 0x{chunk[exc.start]:02x} at offset {bad})",
                    fix="convert the file to UTF-8 (e.g. iconv -f GB18030 -t UTF-8)",
                ) from exc
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path}: ends inside a UTF-8 character", fix="convert the file to UTF-8"
            ) from exc


def _read_files(
    fmt: str,
    paths: list[Path],
    origin: str,
    columns: list[str] | None = None,
    source: SourceSpec | None = None,
) -> Dataset:
    datasets = _datasets()

    files = [str(p) for p in paths]
    if fmt not in ("text-files", "xsum") and all(_is_empty_file(p) for p in paths):
        raise DataError(f"{origin}: no examples (the file is empty)", fix="check the data files")
    # Header-less CSV/TSV: the task names the columns.
    header: dict[str, Any] = {"column_names": columns, "header": None} if columns else {}
    encoding = source.encoding if source else "utf-8"
    if encoding.lower() not in ("utf-8", "utf8"):
        header["encoding"] = encoding
    if source is not None and source.delimiter:
        header["sep"] = source.delimiter
        if len(source.delimiter) > 1:
            header["engine"] = "python"  # pandas' C parser takes one-character separators only
    try:
        if fmt in ("json", "jsonl"):
            return datasets.load_dataset("json", data_files=files, split="train")
        if fmt == "csv":
            return datasets.load_dataset("csv", data_files=files, split="train", **header)
        if fmt == "tsv":
            # quoting=3 (QUOTE_NONE): TSV releases (GLUE, CSL) use bare quotes inside text.
            header.setdefault("sep", "\t")
            return datasets.load_dataset(
                "csv", data_files=files, split="train", quoting=3, **header
            )
        if fmt == "aligned-text":
            if not columns or len(columns) != len(paths):
                raise DataError(
                    f"{origin}: an aligned-text split lists {len(paths)} files but "
                    f"{len(columns or [])} column names",
                    fix="give 'columns' one name per file, in the order of 'files'",
                )
            table = {name: _read_lines(p) for name, p in zip(columns, paths, strict=True)}
            _check_aligned(table, dict(zip(columns, paths, strict=True)))
            return datasets.Dataset.from_dict(table)
        if fmt == "parquet":
            return datasets.load_dataset("parquet", data_files=files, split="train")
        if fmt == "text":
            return datasets.load_dataset("text", data_files=files, split="train")
        if fmt in _GENERATED:
            # Formats bench parses itself; from_generator caches them like any other.
            generator, schema = _GENERATED[fmt]
            kinds = {
                "str": datasets.Value("string"),
                "strs": datasets.Sequence(datasets.Value("string")),
                "ints": datasets.Sequence(datasets.Value("int64")),
                "bool": datasets.Value("bool"),
            }
            return datasets.Dataset.from_generator(
                generator,
                gen_kwargs={"paths": files},
                features=datasets.Features({k: kinds[v] for k, v in schema.items()}),
            )
    except datasets.exceptions.DatasetGenerationError as exc:
        cause = exc.__cause__ or exc
        bad = _first_bad_json(fmt, paths) if fmt in ("json", "jsonl") else None
        raise DataError(
            f"cannot read {bad}" if bad else f"cannot read {origin} as {fmt}: {_first_line(cause)}",
            fix=f"check that the files are valid {fmt}",
        ) from exc
    except ValueError as exc:
        # datasets' way of saying that the files hold a header but no rows.
        if "corresponds to no data" not in str(exc):
            raise
        raise DataError(
            f"{origin}: no examples (no data rows)", fix="check the data files"
        ) from exc
    raise DataError(
        f"unknown format '{fmt}'", fix="use json, jsonl, csv, tsv, parquet, text or text-files"
    )


def _first_bad_json(fmt: str, paths: list[Path]) -> str | None:
    """Name the file, line and column of the first JSON error (pyarrow only says "row N")."""
    for path in paths:
        where = f"{path} as {fmt}"
        with path.open(encoding="utf-8") as fh:
            if fmt == "json":
                try:
                    json.load(fh)
                except json.JSONDecodeError as exc:
                    return (
                        f"{where}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
                    )
                continue
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    return f"{where}: line {lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
                if not isinstance(value, dict):
                    kind = type(value).__name__
                    return f"{where}: line {lineno}: a JSON {kind}, not an object (one per line)"
    return None


def _generated_formats() -> dict[str, tuple[Any, dict[str, str]]]:
    """Formats parsed by bench's own generators, with their columns' kinds."""
    return {
        "squad": (
            _squad_files,
            {
                "id": "str",
                "title": "str",
                "context": "str",
                "question": "str",
                "answers": "strs",
                "answer_starts": "ints",
                "is_impossible": "bool",
            },
        ),
        "xsum": (_xsum_files, {"id": "str", "url": "str", "summary": "str", "document": "str"}),
        "text-files": (_text_files, {"id": "str", "text": "str", "label": "str", "path": "str"}),
    }


def _is_empty_file(path: Path) -> bool:
    """Whether ``path`` holds nothing but whitespace (read only when it is small)."""
    size = path.stat().st_size
    if size == 0:
        return True
    return size < 4096 and not path.read_bytes().strip()


def _squad_files(paths: list[str]) -> Iterator[dict[str, Any]]:
    """SQuAD-format JSON (``data`` → ``paragraphs`` → ``qas``), one row per question."""
    for p in paths:
        path = Path(p)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            articles = doc["data"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(
                f"{path}: not SQuAD-format JSON ({type(exc).__name__}: {exc})",
                fix="expected {'data': [{'title', 'paragraphs': [{'context', 'qas'}]}]}",
            ) from exc
        for a, article in enumerate(articles):
            for q_para, para in enumerate(article.get("paragraphs", [])):
                for qa in para.get("qas", []):
                    answers = qa.get("answers", [])
                    if not isinstance(qa.get("id"), str) or not isinstance(answers, list):
                        raise DataError(
                            f"{path}: data[{a}].paragraphs[{q_para}]: a question without an "
                            "'id' string or an 'answers' list",
                            fix="check the file against the SQuAD format",
                        )
                    yield {
                        "id": qa["id"],
                        "title": article.get("title", ""),
                        "context": para["context"],
                        "question": qa["question"],
                        "answers": [x["text"] for x in answers],
                        "answer_starts": [int(x.get("answer_start", -1)) for x in answers],
                        "is_impossible": bool(qa.get("is_impossible", False)),
                    }


_XSUM_SECTION = re.compile(r"^\[XSUM\](URL|INTRODUCTION|RESTBODY)\[XSUM\]\s*$", re.MULTILINE)


def _xsum_files(paths: list[str]) -> Iterator[dict[str, str]]:
    """XSum extract files: ``[XSUM]URL[XSUM]``, ``[XSUM]INTRODUCTION[XSUM]`` (the reference
    summary) and ``[XSUM]RESTBODY[XSUM]`` (the document, one paragraph per line) sections."""
    for p in paths:
        path = Path(p)
        text = path.read_text(encoding="utf-8")
        parts = _XSUM_SECTION.split(text)
        sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        missing = [k for k in ("INTRODUCTION", "RESTBODY") if k not in sections]
        if missing:
            raise DataError(
                f"{path}: not an XSum extract file (no [XSUM]{missing[0]}[XSUM] section)",
                fix="point the task at the xsum-extracts folder",
            )
        yield {
            "id": path.stem,
            "url": sections.get("URL", ""),
            "summary": sections["INTRODUCTION"],
            "document": sections["RESTBODY"],
        }


def _text_files(paths: list[str]) -> Iterator[dict[str, str]]:
    for p in paths:
        path = Path(p)
        yield {
            "id": f"{path.parent.name}/{path.stem}",
            "text": path.read_text(encoding="utf-8"),
            "label": path.parent.name,
            "path": str(path),
        }


# --------------------------------------------------------------------------- canonical columns


def row_name(fmt: str, row: int) -> str:
    """How an error names data row ``row`` (0-based) of a ``fmt`` file: with its line number
    where the format has lines (``row 3 (line 5, after the header)`` for CSV)."""
    if fmt == "jsonl":
        return f"row {row} (line {row + 1})"
    if fmt in ("csv", "tsv"):
        return f"row {row} (line {row + 2}, after the header)"
    if fmt in ("text", "aligned-text"):
        return f"row {row} (line {row + 1})"
    return f"row {row}"


def _canonical(
    raw: Dataset,
    spec: TaskSpec,
    source: SourceSpec,
    family: Family,
    origin: str,
    fmt: str,
    base: str,
) -> Dataset:
    wanted = [
        *family.required_fields,
        *(f for f in family.optional_fields if f not in family.required_fields),
    ]
    columns = [c for c in raw.column_names if c != _ROW]
    mapping: dict[str, str | list[str]] = {}
    for field in wanted:
        target = source.fields.get(field, field)
        for column in [target] if isinstance(target, str) else target:
            if column in columns:
                continue
            if field in family.required_fields or field in source.fields:
                # A required field, or an optional one the task maps explicitly, must be there.
                hint = did_you_mean(column, columns)
                raise DataError(
                    f"{origin}: field '{field}' maps to column '{column}', which the data does "
                    f"not have{hint}; columns: {', '.join(columns)}",
                    fix=f"set source.fields.{field} to the column that holds it",
                )
            break
        else:
            mapping[field] = target
    for field in [*source.fields, *source.drop_empty]:
        if field not in wanted:
            raise DataError(
                f"task '{spec.name}': source.fields names '{field}', which the "
                f"{family.name} family "
                f"does not use{did_you_mean(field, wanted)}",
                fix=f"map only {', '.join(wanted)}",
            )
    keep = [c for t in mapping.values() for c in ([t] if isinstance(t, str) else t)]
    ds = raw.select_columns(list(dict.fromkeys([*keep, _ROW])))
    # Copy rather than rename: two fields may read the same column.
    label_map = source.label_map

    def project(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            f: batch[c]
            if isinstance(c, str)
            else [list(v) for v in zip(*(batch[x] for x in c), strict=True)]
            for f, c in mapping.items()
        }
        if "id" not in mapping:
            out["id"] = [f"{base}-{r}" for r in batch[_ROW]]
        else:
            out["id"] = [None if v is None else str(v) for v in out["id"]]
        if label_map is not None and "label" in out:
            out["label"] = [_map_label(v, label_map) for v in out["label"]]
        elif "label" in out:
            out["label"] = [None if _is_null(v) else str(v) for v in out["label"]]
        out[_ROW] = batch[_ROW]
        return out

    return ds.map(
        project,
        batched=True,
        remove_columns=ds.column_names,
        desc=f"{spec.name}: fields",
        new_fingerprint=_derive(ds._fingerprint, "fields", mapping, label_map, base),
    )


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_blank(value: Any) -> bool:
    return _is_null(value) or (isinstance(value, str) and not value.strip())


def _map_label(value: Any, label_map: Mapping[str, str]) -> Any:
    if _is_null(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    key = str(value)
    # An unmapped raw label is kept (marked) so that the row check can name it.
    return label_map.get(key, f"\x00unmapped:{key}")


def _derive(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _check_rows(
    ds: Dataset, spec: TaskSpec, source: SourceSpec, family: Family, origin: str, fmt: str
) -> None:
    # Repeated ids are found through an 8-byte hash per row (not a dict of every id, which
    # would grow with the test set); a repeated hash is then confirmed on the ids themselves,
    # so the error names the same rows a dict of ids would.
    keys = np.zeros(len(ds), dtype=np.uint64)
    label_map = source.label_map
    i = 0
    for batch in ds.iter(batch_size=4096):
        rows = batch[_ROW]
        for j in range(len(rows)):
            row = {k: v[j] for k, v in batch.items()}
            where = f"{origin}: {row_name(fmt, row[_ROW])}"
            label = row.get("label")
            problem = None
            if isinstance(label, str) and label.startswith("\x00unmapped:"):
                raw = label.removeprefix("\x00unmapped:")
                problem = DataError(
                    f"{where}: field 'label' is '{raw}', which source.label_map does not map "
                    f"(it maps {sorted((label_map or {}).keys())})",
                    fix="fix the row or add the value to label_map",
                )
            else:
                why = family.check_row(row, spec)
                if why:
                    problem = DataError(
                        f"{where} (id {row.get('id')!r}): {why}", fix="fix or remove the row"
                    )
                elif row["id"] is None:
                    problem = DataError(
                        f"{where}: field 'id' is missing", fix="give every row an id"
                    )
            if problem is not None:
                _check_repeats(ds, keys, i, origin, fmt)  # a repeat before this row comes first
                raise problem
            keys[i] = _id_key(row["id"])
            i += 1
    _check_repeats(ds, keys, i, origin, fmt)


def _id_key(rid: Any) -> int:
    blob = rid.encode("utf-8", "surrogatepass") if isinstance(rid, str) else repr(rid).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


def _check_repeats(ds: Dataset, keys: np.ndarray, stop: int, origin: str, fmt: str) -> None:
    """Raise for the first row before ``stop`` whose id repeats an earlier row's."""
    if stop < 2:
        return
    sorted_keys = np.sort(keys[:stop])
    clash = set(sorted_keys[1:][sorted_keys[1:] == sorted_keys[:-1]].tolist())
    if not clash:
        return
    seen: dict[Any, int] = {}
    i = 0
    for batch in ds.iter(batch_size=4096):
        for rid, row_no in zip(batch["id"], batch[_ROW], strict=True):
            if i >= stop:
                return
            i += 1
            if _id_key(rid) not in clash:
                continue
            if rid in seen:
                where = f"{origin}: {row_name(fmt, row_no)}"
                raise DataError(
                    f"{where}: id {rid!r} repeats row {seen[rid]}", fix="make ids unique"
                )
            seen[rid] = row_no


def load_table(spec: TaskSpec, table: Any, *, data_override: str | Path | None = None) -> Any:
    """Read a side table of a task (e.g. recommendation item metadata) as a pandas DataFrame.

    ``table`` has ``file`` (a key of ``source.files`` or a file name in the source folder),
    ``format``, ``delimiter``, ``encoding``, ``columns`` and ``fields`` (column names it needs).
    """
    source = resolve_source(spec, data_override)
    files = source.files or {}
    name = files.get(table.file, table.file)
    member = name if isinstance(name, str) else name[0]
    if source.kind == "url" and source.archive:
        path = _from_archive(spec, source, member)
    elif source.kind == "url":
        path = _download(spec, source, member)
    else:
        root = _base_dir(spec, source)
        path = root / member
        if not path.is_file():
            raise DataError(
                f"task '{spec.name}': no file {path} (options.items.file)",
                fix="check options.items.file and source.location (or the --data path)",
            )
        _verify_sha256(spec, source, root, path)
    side = SourceSpec(
        kind="local",
        location=str(path.parent),
        format=table.format,
        files={"t": path.name},
        columns=table.columns,
        delimiter=table.delimiter,
        encoding=table.encoding,
        splits={"test": "t"},
    )
    if table.encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        _check_utf8(path)
    frame = _read_files(table.format, [path], str(path), table.columns, side).to_pandas()
    missing = [c for c in table.fields.values() if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: no column {missing[0]!r}{did_you_mean(missing[0], list(frame.columns))}; "
            f"columns: {', '.join(map(str, frame.columns))}",
            fix="set options.items.fields (and options.items.columns for header-less files)",
        )
    return frame


_GENERATED = _generated_formats()
