"""Data resources the preprocessing steps use, and how to tell whether they are installed.

NLTK data packages (``punkt_tab``, ``stopwords``, the perceptron tagger …) are looked up with
``nltk.data.find`` on ``nltk.data.path`` (which starts with the folders in ``NLTK_DATA``). Every
NLTK step goes through :func:`require_nltk`, so a missing package always fails the same way:
with a :class:`~bench.errors.MissingResource` naming the package, the step, the folders searched
and the download command. ``bench doctor`` lists the same facts with :func:`nltk_resources`,
:func:`jieba_status` and :func:`opencc_status`.

The identities of the steps that use these resources are built here too: :func:`nltk_identity`
hashes the content of the NLTK data a step reads (folder or zip entry, wherever it was found),
:func:`opencc_identity` names OpenCC's version and hashes a conversion's configuration and
dictionaries, and :func:`jieba_status` hashes jieba's dictionary.

Nothing heavy is imported at module import time; ``nltk``, ``jieba`` and ``opencc`` are imported
inside the functions that need them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.errors import MissingDependency, MissingResource
from bench.identity import bytes_hash, combine, file_digest, library_version

__all__ = [
    "NLTK_PACKAGES",
    "OPENCC_CONFIGS",
    "NltkPackage",
    "ResourceStatus",
    "check_nltk",
    "file_sha256_16",
    "jieba_status",
    "nltk_find",
    "nltk_identity",
    "nltk_location",
    "nltk_resources",
    "nltk_search_path",
    "opencc_identity",
    "opencc_status",
    "require_nltk",
    "require_opencc",
]


@dataclass(frozen=True)
class NltkPackage:
    """An NLTK data package bench can use.

    Attributes:
        name: The package name the NLTK downloader knows, such as ``punkt_tab``.
        resource: The resource path probed with ``nltk.data.find`` to tell it is installed.
        used_by: What in bench needs it (step names, with the params that make them need it).
        without: What happens without it (what falls back, and how a signature shows it), for
            ``bench doctor``; empty where the steps that need it simply refuse to run.
    """

    name: str
    resource: str
    used_by: tuple[str, ...]
    without: str = ""

    @property
    def install(self) -> str:
        """The command that installs the package."""
        return f"python -m nltk.downloader {self.name}"


NLTK_PACKAGES: Final[tuple[NltkPackage, ...]] = (
    NltkPackage(
        "punkt_tab",
        "tokenizers/punkt_tab/english/",
        ("en_sentences", "en_tokenize (sentence_split: true)", "rougeLsum (splitter: auto)"),
        "rougeLsum splits English sentences by rule (split:rule in its signature) and "
        "en_sentences refuses to run",
    ),
    NltkPackage("stopwords", "corpora/stopwords/english", ("remove_stopwords (language: en)",)),
    NltkPackage(
        "averaged_perceptron_tagger_eng", "taggers/averaged_perceptron_tagger_eng/", ("en_pos",)
    ),
    NltkPackage(
        "universal_tagset", "taggers/universal_tagset/en-ptb.map", ("en_pos (tagset: universal)",)
    ),
    NltkPackage("movie_reviews", "corpora/movie_reviews/", ("movie_reviews data source",)),
)
"""Every NLTK data package bench can use, in the order ``bench doctor`` lists them."""

OPENCC_CONFIGS: Final[tuple[str, ...]] = ("t2s", "tw2s", "hk2s", "tw2sp")
"""The OpenCC conversions the ``traditional_to_simplified`` step offers."""


@dataclass(frozen=True)
class ResourceStatus:
    """Whether one resource is usable, where it was found, and how to install it.

    Attributes:
        name: The resource: an NLTK package name, ``jieba`` or ``opencc``.
        present: True when the resource is installed and usable.
        path: Where it was found (a folder, a file, or ``archive.zip/entry``); None if absent.
        download: The exact command that installs (or repairs) it.
        detail: One line for a report: where it is and what version when present, why not
            when absent.
        kind: ``"nltk"`` for NLTK data packages, ``"python"`` for Python packages with data.
        used_by: What in bench needs it.
        version: The package version, where there is one.
        checksum: A short content hash of the resource's data (jieba: its dictionary), where
            results depend on that data.
    """

    name: str
    present: bool
    path: str | None
    download: str
    detail: str
    kind: str = "nltk"
    used_by: tuple[str, ...] = ()
    version: str | None = None
    checksum: str | None = None


def nltk_location(pointer: Any) -> str:
    """Where an ``nltk.data.find`` result points: a folder or file, or ``archive.zip/entry``."""
    zipfile = getattr(pointer, "zipfile", None)
    if zipfile is not None:
        return f"{zipfile.filename}/{pointer.entry}"
    return str(getattr(pointer, "path", pointer))


def _nltk_default_path() -> list[str] | None:
    """``nltk.data.path`` as NLTK builds it when first imported, on POSIX (``None`` on Windows,
    or when ``nltk`` is imported already: then its own list, which a caller may have edited,
    is the truth)."""
    if "nltk" in sys.modules or os.name == "nt":
        return None
    path = [os.path.expanduser(d) for d in os.environ.get("NLTK_DATA", "").split(os.pathsep) if d]
    if "APPENGINE_RUNTIME" not in os.environ and os.path.expanduser("~/") != "~/":
        path.append(os.path.expanduser("~/nltk_data"))
    prefix = sys.prefix
    path += [
        os.path.join(prefix, "nltk_data"),
        os.path.join(prefix, "share", "nltk_data"),
        os.path.join(prefix, "lib", "nltk_data"),
        "/usr/share/nltk_data",
        "/usr/local/share/nltk_data",
        "/usr/lib/nltk_data",
        "/usr/local/lib/nltk_data",
    ]
    return path


_ASK_NLTK: Final = object()
"""What :func:`_fs_find` returns when only NLTK itself can tell."""

_MAX_ZIP_FALLBACK_DEPTH: Final = 8
"""How many components of a resource path ``nltk.data.find`` tries as ``p.zip/p``."""


def _private(path: str) -> bool:
    """NLTK's test of a data folder or file it will read (POSIX): owned by this user or root,
    with no group or world write bit. NLTK refuses, with a warning, any other."""
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid not in (os.geteuid(), 0):
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _all_private(root: str, found: str) -> bool:
    """Every folder from ``root`` down to ``found``, ``found`` itself and, for a folder,
    every entry under it, pass :func:`_private` (what NLTK checks before it returns a hit)."""
    rel = os.path.relpath(found, root)
    cur = root
    if not _private(cur):
        return False
    for part in rel.split(os.sep):
        if part in ("", os.curdir):
            continue
        if part == os.pardir:
            return False
        cur = os.path.join(cur, part)
        if not _private(cur):
            return False
    if os.path.isdir(found):
        for folder, dirs, files in os.walk(found):
            if not all(_private(os.path.join(folder, n)) for n in (*dirs, *files)):
                return False
    return True


def _zip_has(archive: str, entry: str) -> bool:
    """Whether the zip ``archive`` holds ``entry`` (a folder entry: any member under it), as
    NLTK's ``ZipFilePathPointer`` decides."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    entry = entry.lstrip("/")
    return entry in names or (entry.endswith("/") and any(n.startswith(entry) for n in names))


def _hub_has_nltk_data() -> bool:
    """Whether the Hugging Face cache holds a dataset of ``nltk-data-hub``, which NLTK serves
    a missing corpus from (only then is a miss in the data folders not the last word)."""
    root = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"),
        "hub",
    )
    try:
        return any(n.startswith("datasets--nltk-data-hub--") for n in os.listdir(root))
    except OSError:
        return False


def _fs_find(resource_path: str, roots: list[str]) -> object:
    """``nltk.data.find``'s search of its data folders, done on the file system: a plain file
    or folder in each root in order, then each path component ``p`` read as the zip package
    ``p.zip/p`` (how the downloader installs packages), component by component.

    Returns the location (as :func:`nltk_location` writes it), ``None`` when the resource is
    in none of them, or :data:`_ASK_NLTK` when NLTK's own rules could decide otherwise: a
    root that is itself a zip file, a hit in a folder or file NLTK would refuse as writable
    by others, a resource path naming a zip, or a miss that NLTK may serve from the Hugging
    Face cache.
    """
    name = os.path.normpath(resource_path).replace(os.sep, "/")
    if resource_path.endswith("/"):
        name += "/"
    if ".zip" in name or name.startswith(("/", "..")):
        return _ASK_NLTK
    usable = []
    for root in roots:
        if os.path.isfile(root):
            return _ASK_NLTK  # a zip file in the path: NLTK looks inside it first
        if os.path.isdir(root):
            usable.append(root)
    parts = name.split("/")
    for root in usable:
        candidate = os.path.join(root, *parts)
        if os.path.exists(candidate):
            return os.path.abspath(candidate) if _all_private(root, candidate) else _ASK_NLTK
    for i in range(min(len(parts), _MAX_ZIP_FALLBACK_DEPTH)):
        if not parts[i]:
            continue
        archive_rel = "/".join([*parts[:i], parts[i] + ".zip"])
        entry = "/".join(parts[i:])
        for root in usable:
            archive = os.path.join(root, *archive_rel.split("/"))
            if os.path.isfile(archive) and _zip_has(archive, entry):
                if not _all_private(root, archive):
                    return _ASK_NLTK
                return f"{os.path.abspath(archive)}/{entry}"
    return _ASK_NLTK if _hub_has_nltk_data() else None


def nltk_search_path() -> list[str]:
    """The folders NLTK searches for data, in order: ``nltk.data.path`` (without importing
    NLTK when it is not imported yet: then the list NLTK would build from ``NLTK_DATA``, the
    home folder and the interpreter's prefix)."""
    default = _nltk_default_path()
    if default is not None:
        return default
    import nltk

    return [str(p) for p in nltk.data.path]


def nltk_find(resource_path: str) -> str | None:
    """Where ``nltk.data.find(resource_path)`` finds a resource (:func:`nltk_location` of its
    pointer), or ``None`` when it is not installed — without importing NLTK (about 2.5 s)
    in the usual cases: a plain file or folder, or a zipped package as the downloader
    installs it, in one of NLTK's search folders, or in none of them.

    ``nltk.data.find`` looks for plain files and folders in every folder of its path, in
    order, before it looks into zip files; :func:`_fs_find` repeats that search. Anything it
    cannot settle (NLTK already imported, Windows, a folder NLTK would refuse, a zip file in
    the path) is asked of NLTK itself.

    Example:
        >>> nltk_find("corpora/no-such-resource") is None  # doctest: +SKIP
        True
    """
    default = _nltk_default_path()
    if default is not None:
        found = _fs_find(resource_path, default)
        if found is not _ASK_NLTK:
            return found  # type: ignore[return-value]
    import nltk

    try:
        return nltk_location(nltk.data.find(resource_path))
    except LookupError:
        return None


def _searched() -> str:
    return ", ".join(nltk_search_path()) or "(nltk.data.path is empty)"


def require_nltk(resource_path: str, package: str, used_by: str) -> Any:
    """Find an NLTK data resource, or raise a :class:`MissingResource` that says how to get it.

    Args:
        resource_path: The resource path within NLTK data, such as
            ``"tokenizers/punkt_tab/english/"`` (a trailing slash finds a folder, also inside a
            zipped package).
        package: The NLTK data package that holds it, such as ``"punkt_tab"``.
        used_by: The registry name of the step that needs it, for the message.

    Returns:
        The path pointer ``nltk.data.find`` returned (a file system or a zip entry pointer).

    Raises:
        MissingResource: The resource is not in any folder of ``nltk.data.path``.

    Example:
        >>> require_nltk("tokenizers/punkt_tab/english/", "punkt_tab", "en_sentences")
        ... # doctest: +SKIP
        FileSystemPathPointer('/usr/share/nltk_data/tokenizers/punkt_tab/english')
    """
    import nltk

    try:
        return nltk.data.find(resource_path)
    except LookupError:
        raise MissingResource(
            f"NLTK data package '{package}' (needed by step '{used_by}') is not installed; "
            f"searched: {_searched()}",
            fix=f"run `python -m nltk.downloader {package}` or set NLTK_DATA to a folder that "
            "has it",
        ) from None


def check_nltk(resource_path: str, package: str, used_by: str) -> None:
    """:func:`require_nltk` for a check alone: NLTK is imported only when the resource is not
    a plain file or folder of its default path (:func:`nltk_find`)."""
    if nltk_find(resource_path) is None:
        require_nltk(resource_path, package, used_by)


def nltk_resources() -> list[ResourceStatus]:
    """Report every NLTK data package bench can use: present or not, and where.

    Returns:
        One :class:`ResourceStatus` per entry of :data:`NLTK_PACKAGES`, in that order.

    Example:
        >>> [s.name for s in nltk_resources()][:2]
        ['punkt_tab', 'stopwords']
    """
    statuses = []
    for pkg in NLTK_PACKAGES:
        path = nltk_find(pkg.resource)
        statuses.append(
            ResourceStatus(
                name=pkg.name,
                present=path is not None,
                path=path,
                download=pkg.install,
                detail=path if path is not None else f"not found; searched: {_searched()}",
                used_by=pkg.used_by,
            )
        )
    return statuses


@functools.lru_cache(maxsize=256)
def _sha256_16(path: str, mtime_ns: int, size: int) -> str:
    return file_digest(path, length=16)


def file_sha256_16(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a file (cached per path, mtime and size)."""
    st = path.stat()
    return _sha256_16(str(path), st.st_mtime_ns, st.st_size)


def _folder_hash(folder: Path) -> str:
    """One hash of every file under ``folder``: relative paths and contents, sorted."""
    parts = [
        f"{p.relative_to(folder).as_posix()}:{file_sha256_16(p)}"
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    return combine(*parts)


@functools.lru_cache(maxsize=64)
def _zip_entry_hash(archive: str, mtime_ns: int, size: int, entry: str) -> str:
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        names = sorted(
            n for n in zf.namelist() if n == entry or n.startswith(entry.rstrip("/") + "/")
        )
        return combine(*(f"{n}:{bytes_hash(zf.read(n))}" for n in names if not n.endswith("/")))


def nltk_identity(resource_path: str) -> str | None:
    """A content hash (16 hex) of the NLTK data a step reads, wherever ``nltk.data.find``
    finds it (``None`` when it is not installed).

    A folder is hashed file by file (relative paths and contents), a file by its content, a
    zip entry (NLTK reads zipped packages in place) by the content of its members. Two
    machines with the same data get the same hash whatever the folder, and data changed in
    place changes it.

    Args:
        resource_path: As for :func:`require_nltk`, e.g. ``"tokenizers/punkt_tab/english/"``.

    Example:
        >>> len(nltk_identity("corpora/stopwords/english") or "")  # doctest: +SKIP
        16
    """
    found = nltk_find(resource_path)
    if found is None:
        return None
    path = Path(found)
    if not path.exists():  # archive.zip/entry: NLTK reads the zipped package in place
        import nltk

        pointer = nltk.data.find(resource_path)
        zipped = pointer.zipfile
        archive = Path(zipped.filename)
        st = archive.stat()
        return _zip_entry_hash(str(archive), st.st_mtime_ns, st.st_size, str(pointer.entry))
    return _folder_hash(path) if path.is_dir() else file_sha256_16(path)


def jieba_status() -> ResourceStatus:
    """Report jieba: its version, its main dictionary and the dictionary's hash.

    Segmentation depends on the dictionary, so ``checksum`` (the first 16 hex digits of the
    SHA-256 of jieba's ``dict.txt``) belongs in any signature of segmented results.

    Example:
        >>> status = jieba_status()
        >>> status.present, len(status.checksum or "")
        (True, 16)
    """
    download = "pip install --force-reinstall 'jieba>=0.42'"
    used_by = ("zh_segment", "zh_pos")
    try:
        import jieba
    except ImportError as exc:
        return ResourceStatus(
            "jieba", False, None, download, f"cannot import jieba: {exc}", "python", used_by
        )
    version = getattr(jieba, "__version__", None)
    dict_path = Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME
    if not dict_path.is_file():
        return ResourceStatus(
            "jieba",
            False,
            None,
            download,
            f"jieba {version}: its dictionary {dict_path} is missing",
            "python",
            used_by,
            version,
        )
    checksum = file_sha256_16(dict_path)
    return ResourceStatus(
        "jieba",
        True,
        str(dict_path),
        download,
        f"jieba {version}, dictionary {dict_path} (sha256 {checksum})",
        "python",
        used_by,
        version,
        checksum,
    )


def require_opencc(used_by: str = "traditional_to_simplified") -> Any:
    """Return the ``opencc.OpenCC`` class, or raise if the opencc package is absent or broken.

    Args:
        used_by: The step that needs it, for the message.

    Raises:
        MissingDependency: ``opencc`` cannot be imported, or imports without ``OpenCC`` (an
            install that lost its ``opencc/__init__.py`` imports as an empty namespace package).

    Example:
        >>> require_opencc()("t2s").convert("漢字")
        '汉字'
    """
    fix = "reinstall it: pip install --force-reinstall 'opencc>=1.1.6'"
    try:
        import opencc
    except ImportError as exc:
        raise MissingDependency(
            f"the 'opencc' package (needed by step '{used_by}') cannot be imported: {exc}",
            fix=fix,
        ) from None
    cls = getattr(opencc, "OpenCC", None)
    if cls is None:
        where = ", ".join(getattr(opencc, "__path__", [])) or "?"
        raise MissingDependency(
            f"the 'opencc' package (needed by step '{used_by}') is broken: it has no OpenCC "
            f"class (is {where}/__init__.py missing?)",
            fix=fix,
        )
    return cls


def opencc_status() -> ResourceStatus:
    """Report opencc: whether it imports and every conversion bench offers loads.

    Example:
        >>> opencc_status().name
        'opencc'
    """
    download = "pip install --force-reinstall 'opencc>=1.1.6'"
    used_by = ("traditional_to_simplified",)
    version = library_version("opencc")
    try:
        cls = require_opencc()
    except MissingDependency as exc:
        return ResourceStatus(
            "opencc", False, None, download, exc.message, "python", used_by, version
        )
    import opencc

    path = ", ".join(getattr(opencc, "__path__", [])) or None
    failed = []
    for config in OPENCC_CONFIGS:
        try:
            cls(config)
        except Exception as exc:  # the C extension raises RuntimeError; report, don't crash
            failed.append(f"{config}: {exc}")
    detail = (
        f"opencc {version}: cannot load " + "; ".join(failed)
        if failed
        else f"opencc {version}, conversions {', '.join(OPENCC_CONFIGS)} load"
    )
    return ResourceStatus("opencc", not failed, path, download, detail, "python", used_by, version)


def _opencc_files(config: Path, seen: set[Path]) -> list[Path]:
    """``config`` and every file it names (dictionaries, nested configs), each once."""
    if config in seen or not config.is_file():
        return []
    seen.add(config)
    found = [config]
    if config.suffix != ".json":
        return found
    try:
        tree = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return found
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name = node.get("file")
            if isinstance(name, str):
                found += _opencc_files(config.parent / name, seen)
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
    return found


def opencc_identity(config: str) -> dict[str, str | None]:
    """What an OpenCC conversion's output depends on: OpenCC's version, the conversion, and a
    hash (16 hex) of its configuration file and every dictionary it names (``None`` when the
    files are not where the ``opencc`` package keeps them).

    Example:
        >>> sorted(opencc_identity("t2s"))
        ['opencc', 'opencc_config', 'opencc_data']
    """
    data: str | None = None
    try:
        import opencc

        roots = [Path(p) for p in getattr(opencc, "__path__", [])]
    except ImportError:
        roots = []
    for root in roots:
        files = _opencc_files(root / "clib" / "share" / "opencc" / f"{config}.json", set())
        if files:
            data = combine(*(f"{p.name}:{file_sha256_16(p)}" for p in sorted(files)))
            break
    return {"opencc": library_version("opencc"), "opencc_config": config, "opencc_data": data}
