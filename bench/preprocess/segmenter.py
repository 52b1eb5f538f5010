"""bench's one way to segment Chinese with jieba: private tokenizers, keyed by dictionary content.

jieba keeps its dictionary in a tokenizer object. The module-level functions (``jieba.cut``,
``jieba.lcut``, ``jieba.load_userdict``) share one global tokenizer, so a user dictionary loaded
by one task would leak into every other. Nothing in bench touches it: every caller (the
``zh_segment`` and ``zh_pos`` steps, Chinese ROUGE, the lexical and extractive baselines) asks
:func:`jieba_tokenizer` for a private ``jieba.Tokenizer``, built once per process for each
distinct (main dictionary, user dictionary) content and cached. Keyed by content, not path: an
edited dictionary gets a fresh tokenizer, and two copies of one file share one.

:func:`jieba_identity` is what every identity of segmented output includes: jieba's version,
the hash of the main dictionary in effect and of the user dictionary, if any.

Example:
    >>> jieba_words("我们 去公园")
    ['我们', '去', '公园']
    >>> jieba_tokenizer() is jieba_tokenizer()
    True
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import DataError, MissingDependency, MissingResource

__all__ = [
    "jieba_block_splitter",
    "jieba_identity",
    "jieba_pos_tokenizer",
    "jieba_tokenizer",
    "jieba_words",
    "read_dictionary",
    "stock_dictionary_present",
]

_Key = tuple[str | None, str | None]
_TOKENIZERS: dict[_Key, Any] = {}
_POS_TOKENIZERS: dict[_Key, Any] = {}
_LOCK = threading.RLock()
_ENTRY_FIX = "write one entry per line as `word [frequency] [tag]`, in UTF-8"


def read_dictionary(path: str | Path | None, what: str) -> tuple[Path | None, bytes | None]:
    """Read a jieba dictionary file, or fail naming who needs it and the fix.

    Args:
        path: The dictionary file (``None``: no dictionary, returns ``(None, None)``);
            ``~`` is expanded and a relative path resolves against the working directory.
        what: Who needs it, for messages: ``"jieba user dictionary '…' (needed by step
            'zh_segment')"`` reads well.

    Raises:
        MissingResource: The file does not exist or cannot be read.
    """
    if path is None:
        return None, None
    resolved = Path(path).expanduser()
    try:
        return resolved, resolved.read_bytes()
    except FileNotFoundError:
        raise MissingResource(
            f"{what} does not exist (looked for {resolved.resolve()})",
            fix="correct the path; a relative path is resolved against the working directory",
        ) from None
    except OSError as exc:
        raise MissingResource(
            f"{what} cannot be read: {exc.strerror or exc}", fix="make the file readable"
        ) from None


def _dictionary_key(path: str | Path | None, what: str) -> tuple[Path | None, str | None]:
    """The dictionary's path and content hash (cached per path, mtime and size, so a call per
    text costs one ``stat``), or fail as :func:`read_dictionary` does."""
    if path is None:
        return None, None
    from bench.preprocess.resources import file_sha256_16

    resolved = Path(path).expanduser()
    try:
        return resolved, file_sha256_16(resolved)
    except OSError:
        read_dictionary(resolved, what)  # raises the MissingResource that says why
        raise


def jieba_tokenizer(
    dictionary: str | Path | None = None,
    user_dict: str | Path | None = None,
    *,
    who: str = "jieba segmentation",
) -> Any:
    """The cached private ``jieba.Tokenizer`` for a main and a user dictionary.

    Args:
        dictionary: A main dictionary file that replaces jieba's stock ``dict.txt``
            (``None``: the stock one).
        user_dict: A user dictionary loaded on top (``word [freq] [tag]`` per line, UTF-8).
        who: What needs it (``"step 'zh_segment'"``), for error messages.

    Raises:
        MissingResource: A dictionary file does not exist or cannot be read.
        DataError: The user dictionary is not in jieba's format.
    """
    return _entry(dictionary, user_dict, who)[1]


def _entry(
    dictionary: str | Path | None, user_dict: str | Path | None, who: str
) -> tuple[_Key, Any]:
    """The cache key (the dictionaries' SHA-256) and the tokenizer for it."""
    main_what = f"jieba main dictionary '{dictionary}' (needed by {who})"
    user_what = f"jieba user dictionary '{user_dict}' (needed by {who})"
    main_path, main_key = _dictionary_key(dictionary, main_what)
    user_path, user_key = _dictionary_key(user_dict, user_what)
    # The stock dictionary is keyed by its hash too, so a jieba upgraded in place is reloaded.
    key = (main_key or _stock_checksum(), user_key)
    with _LOCK:
        tokenizer = _TOKENIZERS.get(key)
        if tokenizer is None:
            try:
                import jieba
            except ImportError as exc:
                raise MissingDependency(
                    f"jieba (needed by {who}) cannot be imported: {exc}",
                    fix="pip install --force-reinstall 'jieba>=0.42'",
                ) from None
            jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
            tokenizer = jieba.Tokenizer(str(main_path)) if main_path else jieba.Tokenizer()
            try:
                tokenizer.initialize()
            except ValueError as exc:
                raise DataError(
                    f"jieba main dictionary '{main_path}' (needed by {who}) is not valid: {exc}",
                    fix=_ENTRY_FIX,
                ) from None
            if user_path is not None:
                _, user_data = read_dictionary(user_path, user_what)
                buffer = io.BytesIO(user_data or b"")
                buffer.name = str(user_path)  # what jieba names in its errors
                try:
                    tokenizer.load_userdict(buffer)
                except ValueError as exc:
                    raise DataError(
                        f"jieba user dictionary '{user_path}' (needed by {who}) is not valid: "
                        f"{exc}",
                        fix=_ENTRY_FIX,
                    ) from None
            _TOKENIZERS[key] = tokenizer
    return key, tokenizer


@functools.cache
def _stock_path() -> Path | None:
    try:
        import jieba
    except ImportError:
        return None
    return Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME


def stock_dictionary_present() -> bool:
    """Whether jieba is installed with its stock dictionary (found and hashed, not loaded:
    loading it takes half a second). What a step that segments with the stock dictionary
    alone checks before a run."""
    return _stock_checksum() is not None


def _stock_checksum() -> str | None:
    from bench.preprocess.resources import file_sha256_16

    path = _stock_path()
    try:
        return None if path is None else file_sha256_16(path)
    except OSError:
        return None


def jieba_pos_tokenizer(
    dictionary: str | Path | None = None,
    user_dict: str | Path | None = None,
    *,
    who: str = "jieba POS tagging",
) -> Any:
    """The cached ``jieba.posseg.POSTokenizer`` wrapping :func:`jieba_tokenizer`'s tokenizer.

    The POS tokenizer takes the user words' tags (a user dictionary's third column) from the
    tokenizer it wraps. Arguments and errors as for :func:`jieba_tokenizer`.
    """
    key, tokenizer = _entry(dictionary, user_dict, who)
    with _LOCK:
        pos = _POS_TOKENIZERS.get(key)
        if pos is None:
            import jieba.posseg

            pos = jieba.posseg.POSTokenizer(tokenizer=tokenizer)
            _POS_TOKENIZERS[key] = pos
    return pos


def jieba_words(text: str) -> list[str]:
    """jieba's words of ``text`` (stock dictionary, HMM on), whitespace tokens dropped.

    Example:
        >>> jieba_words("我来到北京清华大学")
        ['我', '来到', '北京', '清华大学']
    """
    return [w for w in jieba_tokenizer().lcut(text) if w.strip()]


def jieba_block_splitter() -> Callable[[str], list[str]]:
    """The split that ``jieba.Tokenizer.cut`` starts with: runs of Han characters, ASCII letters,
    digits and ``+#&._%-`` (the blocks it segments), and what lies between (output character by
    character). jieba segments every block on its own, so the words of a text are the words of
    its blocks, end to end, with any dictionary: a caller may segment (and cache) block by block.
    The split leaves empty strings, which have no words.

    Example:
        >>> [b for b in jieba_block_splitter()("我来到北京，学习NLP。") if b]
        ['我来到北京', '，', '学习NLP', '。']
    """
    import jieba

    split: Callable[[str], list[str]] = jieba.re_han_default.split
    return split


def jieba_identity(
    dictionary: str | Path | None = None, user_dict: str | Path | None = None
) -> dict[str, str | None]:
    """What segmented output depends on: jieba's version and the hashes (SHA-256, 16 hex) of
    the main dictionary in effect and of the user dictionary.

    Never raises: jieba missing gives ``None`` for its version and stock dictionary, and a
    dictionary file that cannot be read gives ``None`` for its hash (the step's
    ``check_resources`` reports those before anything runs).

    Example:
        >>> sorted(jieba_identity())
        ['dict', 'jieba']
    """
    from bench.preprocess.resources import file_sha256_16, jieba_status

    def digest(path: str | Path) -> str | None:
        try:
            return file_sha256_16(Path(path).expanduser())
        except OSError:
            return None

    status = jieba_status()
    identity: dict[str, str | None] = {
        "jieba": status.version,
        "dict": digest(dictionary) if dictionary is not None else status.checksum,
    }
    if user_dict is not None:
        identity["user_dict"] = digest(user_dict)
    return identity
