"""Format readers: files on disk → a raw ``datasets.Dataset``.

Generic formats (``json``, ``jsonl``, ``csv``, ``tsv``, ``parquet``, ``text``) are read by
``datasets``' packaged loaders; line-aligned plain text (``aligned-text``, WMT's releases) is read
line by line; original-release layouts that no packaged loader knows (SQuAD JSON, XSum extract
files, folders of text files) are parsed by bench's own generators.

Every read is cached by ``datasets`` under a key built from the files' contents
(:func:`bench.data.fingerprint.content_key`), never from their paths or modification times
alone, so a file edited in place is read again.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.data.fingerprint import content_key
from bench.errors import DataError
from bench.spec import FileLayout

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "GENERATED",
    "WHITESPACE",
    "check_aligned",
    "check_utf8",
    "datasets_module",
    "first_line",
    "read_files",
    "read_lines",
]

# bench's format name → the packaged ``datasets`` loader that reads it.
_PACKAGED = {
    "json": "json",
    "jsonl": "json",
    "csv": "csv",
    "tsv": "csv",
    "parquet": "parquet",
    "text": "text",
}


def first_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (the rest of a library's message is noise)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def datasets_module() -> Any:
    """Import ``datasets`` quietly: bench renders its own progress."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def is_utf8(encoding: str) -> bool:
    """Whether ``encoding`` names UTF-8 (``utf-8``, ``UTF8``, ``utf_8``)."""
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


def read_files(fmt: str, paths: list[Path], origin: str, layout: FileLayout) -> Dataset:
    """Read ``paths`` (one split's files, in order) as format ``fmt``.

    Args:
        fmt: A format name of :data:`bench.spec.FORMATS`.
        paths: The files, already located and checked against their pins.
        origin: How errors name the files.
        layout: ``columns`` (header-less CSV/TSV and aligned-text), ``delimiter`` and
            ``encoding``.

    Raises:
        DataError: Bytes that are not UTF-8, empty files, unparsable files, an unknown format.
    """
    if fmt != "parquet" and is_utf8(layout.encoding):
        for path in paths:
            check_utf8(path)
    if fmt not in ("text-files", "xsum") and all(_is_empty_file(p) for p in paths):
        raise DataError(f"{origin}: no examples (the file is empty)", fix="check the data files")
    datasets = datasets_module()
    try:
        if fmt in _PACKAGED:
            return _read_packaged(fmt, paths, layout)
        if fmt == "aligned-text":
            return _read_aligned(paths, origin, layout.columns)
        if fmt in GENERATED:
            return _read_generated(fmt, paths, layout)
    except datasets.exceptions.DatasetGenerationError as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, DataError):
            raise cause from exc
        bad = _first_bad_json(fmt, paths) if fmt in ("json", "jsonl") else None
        raise DataError(
            f"cannot read {bad}" if bad else f"cannot read {origin} as {fmt}: {first_line(cause)}",
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


def _read_packaged(fmt: str, paths: list[Path], layout: FileLayout) -> Dataset:
    """A packaged ``datasets`` loader, its cache keyed by the files' contents.

    ``datasets`` keys local files by path and mtime only; the content key becomes the builder
    configuration's name, which is part of the cache folder, so a file rewritten in place (its
    mtime restored, as ``cp -p`` or an archive does) is not served from a stale cache.
    """
    options: dict[str, Any] = {}
    if layout.columns and fmt in ("csv", "tsv"):
        # Header-less CSV/TSV: the task names the columns.
        options |= {"column_names": layout.columns, "header": None}
    if fmt in ("csv", "tsv") and not is_utf8(layout.encoding):
        options["encoding"] = layout.encoding
    if fmt in ("csv", "tsv") and layout.delimiter:
        options["sep"] = layout.delimiter
        if len(layout.delimiter) > 1:
            options["engine"] = "python"  # pandas' C parser takes one-character separators only
    if fmt == "tsv":
        # quoting=3 (QUOTE_NONE): TSV releases (GLUE, CSL) use bare quotes inside text.
        options.setdefault("sep", "\t")
        options["quoting"] = 3
    return datasets_module().load_dataset(
        _PACKAGED[fmt],
        name="bench-" + content_key(paths, fmt, options),
        data_files=[str(p) for p in paths],
        split="train",
        **options,
    )


def _read_aligned(paths: list[Path], origin: str, columns: list[str] | None) -> Dataset:
    if not columns or len(columns) != len(paths):
        raise DataError(
            f"{origin}: an aligned-text split lists {len(paths)} files but "
            f"{len(columns or [])} column names",
            fix="give 'columns' one name per file, in the order of 'files'",
        )
    table = {name: read_lines(p) for name, p in zip(columns, paths, strict=True)}
    check_aligned(table, dict(zip(columns, paths, strict=True)))
    return datasets_module().Dataset.from_dict(table)


def _read_generated(fmt: str, paths: list[Path], layout: FileLayout) -> Dataset:
    """A format bench parses itself; ``from_generator`` caches it like any other.

    ``datasets`` keys a generator's cache by its code, features and arguments; the paths alone
    would let an edited file hit the old cache, so the files' content key is an argument too.
    ``word-pairs`` also takes the layout's ``delimiter``.
    """
    datasets = datasets_module()
    generator, schema = GENERATED[fmt]
    kinds = {
        "str": datasets.Value("string"),
        "strs": datasets.Sequence(datasets.Value("string")),
        "ints": datasets.Sequence(datasets.Value("int64")),
        "bool": datasets.Value("bool"),
        "float": datasets.Value("float64"),
        "int": datasets.Value("int64"),
    }
    gen_kwargs: dict[str, Any] = {"paths": [str(p) for p in paths], "content": content_key(paths)}
    if fmt == "word-pairs":
        gen_kwargs["delimiter"] = layout.delimiter
    return datasets.Dataset.from_generator(
        generator,
        gen_kwargs=gen_kwargs,
        features=datasets.Features({k: kinds[v] for k, v in schema.items()}),
    )


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, without their newlines.

    Splits on newlines only (universal newlines), never on the other characters that
    :meth:`str.splitlines` treats as line breaks (U+2028, form feed...), which occur inside
    segments.
    """
    with path.open(encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def check_aligned(columns: dict[str, list[str]], files: Mapping[str, Any]) -> None:
    """Raise unless every column of a line-aligned release has as many lines as the others."""
    counts = {name: len(lines) for name, lines in columns.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{files[n]}: {c} lines" for n, c in counts.items())
        raise DataError(
            f"line-aligned files differ in length ({detail})",
            fix="every file of a line-aligned release has one line per segment",
        )


def check_utf8(path: Path) -> None:
    """Raise naming the line and byte offset of the first byte sequence that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
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


def _is_empty_file(path: Path) -> bool:
    """Whether ``path`` holds nothing but whitespace (read only when it is small)."""
    size = path.stat().st_size
    if size == 0:
        return True
    return size < 4096 and not path.read_bytes().strip()


# --------------------------------------------------------------------------- original releases


def _squad_files(paths: list[str], content: str) -> Iterator[dict[str, Any]]:
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


def _xsum_files(paths: list[str], content: str) -> Iterator[dict[str, str]]:
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


def _text_files(paths: list[str], content: str) -> Iterator[dict[str, str]]:
    """One example per file; the label is the parent folder's name (IMDB's layout)."""
    for p in paths:
        path = Path(p)
        yield {
            "id": f"{path.parent.name}/{path.stem}",
            "text": path.read_text(encoding="utf-8"),
            "label": path.parent.name,
            "path": str(path),
        }


def _line_id(paths: list[str], path: str, line_no: int) -> str:
    """A row's id: its line number (``file:line`` when a split has several files)."""
    return str(line_no) if len(paths) == 1 else f"{Path(path).name}:{line_no}"


WHITESPACE = "whitespace"
"""The ``delimiter:`` of a ``word-pairs`` file whose fields are separated by any run of
whitespace (gensim's ``delimiter=None``)."""


def _word_pairs(
    paths: list[str], content: str, delimiter: str | None = None
) -> Iterator[dict[str, Any]]:
    """Word-similarity files as gensim's ``KeyedVectors.evaluate_word_pairs`` reads them.

    Lines starting with ``#`` and blank lines are skipped; every other line is
    ``word1<delimiter>word2<delimiter>score`` (``delimiter`` a tab by default; ``whitespace``
    splits on runs of whitespace). The words are kept exactly as split (gensim does not strip
    them). A line that does not split into three fields, or whose score is not a number, is
    yielded with ``score`` null, so the family's row check names its line (or the task's
    ``drop_empty: [score]`` drops and counts it, as gensim skips it).
    """
    sep = None if delimiter == WHITESPACE else (delimiter or "\t")
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            for line_no, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n")
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.split(sep)
                score: float | None = None
                if len(parts) == 3:
                    try:
                        score = float(parts[2])
                    except ValueError:
                        score = None
                word1 = parts[0] if parts else ""
                word2 = parts[1] if len(parts) >= 2 else None
                yield {
                    "id": _line_id(paths, p, line_no),
                    "word1": word1,
                    "word2": word2,
                    "score": score,
                    "raw_score": parts[2].strip() if len(parts) >= 3 else None,
                    "fields": len(parts),
                    "__row__": line_no - 1,
                }


def _analogies(paths: list[str], content: str) -> Iterator[dict[str, Any]]:
    """Analogy questions in the Google format, as gensim's ``evaluate_word_analogies`` reads
    them: a ``: category`` line opens each section (its name is the line without the leading
    ``:`` and spaces), then one ``a b c d`` question per line (split on whitespace). Blank lines
    are skipped; a line that is not four words is yielded with ``d`` null (the row check names
    it, or ``drop_empty: [d]`` drops and counts it, as gensim skips it).

    Raises:
        DataError: A question before the first ``: category`` line (gensim's "missing section
            header"), naming the file and the line.
    """
    for p in paths:
        category: str | None = None
        with open(p, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                if line.startswith(": "):
                    category = line.lstrip(": ").strip()
                    continue
                if not line.strip():
                    continue
                if category is None:
                    raise DataError(
                        f"{p}: line {line_no}: question {line.strip()!r} comes before any "
                        "': category' line",
                        fix="start the file (and every section) with a line such as "
                        "': capital-common-countries'",
                    )
                words = line.split()
                four = len(words) == 4
                yield {
                    "id": _line_id(paths, p, line_no),
                    "a": words[0] if four else " ".join(words),
                    "b": words[1] if four else None,
                    "c": words[2] if four else None,
                    "d": words[3] if four else None,
                    "category": category,
                    "__row__": line_no - 1,
                }


GENERATED: dict[str, tuple[Callable[..., Iterator[dict[str, Any]]], dict[str, str]]] = {
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
    "word-pairs": (
        _word_pairs,
        {
            "id": "str",
            "word1": "str",
            "word2": "str",
            "score": "float",
            "raw_score": "str",
            "fields": "int",
            "__row__": "int",
        },
    ),
    "analogy": (
        _analogies,
        {
            "id": "str",
            "a": "str",
            "b": "str",
            "c": "str",
            "d": "str",
            "category": "str",
            "__row__": "int",
        },
    ),
}
"""Formats parsed by bench's own generators, with their columns' kinds.

Each generator takes ``paths`` (the files) and ``content`` (their content key, which only keys
the ``datasets`` cache).
"""
