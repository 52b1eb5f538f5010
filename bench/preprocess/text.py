"""Language-neutral text steps: Unicode and width normalisation, case, HTML, whitespace, length.

Every step here is pure Python (no data resources) and deterministic; the ones whose output
follows the Unicode database (normalisation, case, width, whitespace) or Python's HTML parser
name its version in their dependencies. Text steps return their
fields rewritten; :class:`Truncate` cuts either the text (``max_chars``) or the token columns a
tokenising step wrote (``max_tokens``).
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any, ClassVar, Final

from pydantic import Field, model_validator

from bench.errors import TaskSpecError
from bench.preprocess.base import Batch, Step, TextStep, View, pos_column, tokens_column

__all__ = [
    "CJK_PUNCTUATION_KEPT",
    "CollapseWhitespace",
    "FullwidthToHalfwidth",
    "Lowercase",
    "StripHTML",
    "Truncate",
    "UnicodeNFKC",
    "require_column",
]

CJK_PUNCTUATION_KEPT: Final = "，！？：；（）"
"""Full-width forms that are the standard punctuation of Chinese text (GB/T 15834).

:class:`FullwidthToHalfwidth` leaves them alone even with ``punctuation=True``, as it leaves
``。``, ``、`` and the other CJK punctuation outside the full-width block: they are Chinese
punctuation, not full-width variants of ASCII punctuation.
"""

_FULLWIDTH_OFFSET: Final = 0xFEE0
_PYTHON: Final = "{}.{}".format(*sys.version_info[:2])


def _unicode() -> dict[str, Any]:
    """The Unicode database version: what normalisation, case mapping and ``str.split`` use."""
    return {"unicode": unicodedata.unidata_version}  # U+FF01..U+FF5E minus this is U+0021..U+007E


def _width_table(punctuation: bool) -> dict[int, int]:
    table = {0x3000: 0x20}  # IDEOGRAPHIC SPACE -> SPACE
    for code in range(0xFF01, 0xFF5F):
        char = chr(code)
        if char.isalnum() or (punctuation and char not in CJK_PUNCTUATION_KEPT):
            table[code] = code - _FULLWIDTH_OFFSET
    return table


_WIDTH_TABLES: Final = {flag: _width_table(flag) for flag in (False, True)}


def require_column(batch: Batch, column: str, step: str) -> list[Any]:
    """Return ``batch[column]``, or fail naming the step that needs it and the fix.

    Args:
        batch: The batch of rows, ``{column: [values]}``.
        column: The column the step reads, such as ``text_tokens``.
        step: The registry name of the step, for the message.

    Raises:
        TaskSpecError: The column is absent: a tokenising step must come earlier.

    Example:
        >>> require_column({"text_tokens": [["a"]]}, "text_tokens", "truncate")
        [['a']]
    """
    try:
        return batch[column]
    except KeyError:
        raise TaskSpecError(
            f"preprocessing step '{step}' reads column '{column}', which no earlier step wrote",
            fix="put a tokenising step (zh_segment, zh_pos or en_tokenize) for that field "
            f"before '{step}' in the task's preprocess list",
        ) from None


class UnicodeNFKC(TextStep):
    """Normalise text to Unicode NFKC (compatibility composition).

    Folds compatibility characters to their plain forms: full-width Latin letters and digits,
    ligatures, circled numbers, squared abbreviations, and full-width ASCII punctuation (``，``
    becomes ``,``; ``。`` has no compatibility form and stays). NFKC is idempotent.

    Example:
        >>> UnicodeNFKC().transform("ＡＢＣ１２３ ﬁ ①")
        'ABC123 fi 1'
    """

    name: ClassVar[str] = "unicode_nfkc"
    default_view: ClassVar[View] = "metric"  # an LLM reads the original form

    def data_dependencies(self) -> dict[str, Any]:
        return _unicode()

    def transform(self, text: str) -> str:
        return unicodedata.normalize("NFKC", text)


class FullwidthToHalfwidth(TextStep):
    """Map full-width ASCII variants (U+FF01–U+FF5E) and U+3000 to their ASCII forms.

    Letters, digits and the ideographic space are always converted. Full-width ASCII
    punctuation and symbols (``＂＃＄％＆＇＊＋－．／＜＝＞＠［＼］＾＿｀｛｜｝～``) are converted
    when ``punctuation`` is true. Chinese punctuation is never touched: neither the marks
    outside the block (``。、“”《》``) nor the full-width forms that are Chinese text's own
    punctuation, listed in :data:`CJK_PUNCTUATION_KEPT` (``，！？：；（）``). Unlike NFKC, nothing
    else (ligatures, circled numbers, half-width katakana) changes.

    Attributes:
        punctuation: Also convert full-width ASCII punctuation and symbols.

    Example:
        >>> FullwidthToHalfwidth().transform("ＧＰＴ－４　得分：９５％，很好。")
        'GPT-4 得分：95%，很好。'
        >>> FullwidthToHalfwidth(punctuation=False).transform("ＧＰＴ－４")
        'GPT－4'
    """

    name: ClassVar[str] = "fullwidth_to_halfwidth"
    default_view: ClassVar[View] = "metric"  # an LLM reads the original form

    def data_dependencies(self) -> dict[str, Any]:
        return _unicode()

    punctuation: bool = True

    def transform(self, text: str) -> str:
        return text.translate(_WIDTH_TABLES[self.punctuation])


class Lowercase(TextStep):
    """Lower-case text with :meth:`str.lower` (full Unicode case mapping; CJK is unaffected).

    Example:
        >>> Lowercase().transform("Hello ÀÉ World 你好")
        'hello àé world 你好'
    """

    name: ClassVar[str] = "lowercase"
    default_view: ClassVar[View] = "metric"  # an LLM reads the original form

    def data_dependencies(self) -> dict[str, Any]:
        return _unicode()

    def transform(self, text: str) -> str:
        return text.lower()


_BLOCK_TAGS: Final = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_SKIPPED_TAGS: Final = frozenset({"script", "style", "template", "noscript"})


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; entities are unescaped by ``convert_charrefs``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pending_break = False

    def _break(self) -> None:
        # A block boundary separates words ("<p>a</p><p>b</p>" is "a\nb", not "ab"), but only
        # between pieces of text, so a fragment does not gain leading or trailing newlines.
        self._pending_break = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
            self._pending_break = False
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self._skip_depth or not data:
            return
        if self._pending_break and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")
        self._pending_break = False
        self.parts.append(data)


class StripHTML(TextStep):
    """Remove HTML markup, keeping the text with its entities unescaped.

    Uses the standard library's :class:`html.parser.HTMLParser`, which tolerates broken markup
    and treats a bare ``<`` that opens no tag (``a < b``) as text. ``<br>`` becomes a newline,
    block elements (``p``, ``div``, ``li``, ``tr``, headings …) are separated by one, and the
    content of ``script``, ``style``, ``template`` and ``noscript`` is dropped, as are comments.
    Whitespace is otherwise kept; follow with ``collapse_whitespace`` to normalise it.

    Example:
        >>> StripHTML().transform("<p>Fish &amp; chips</p><p>A&lt;B<br/>5&nbsp;€</p>")
        'Fish & chips\\nA<B\\n5\\xa0€'
    """

    name: ClassVar[str] = "strip_html"

    def data_dependencies(self) -> dict[str, Any]:
        # html.parser and html.unescape (its entity table) come with Python.
        return {**_unicode(), "python": _PYTHON}

    def transform(self, text: str) -> str:
        if "<" not in text and "&" not in text:
            return text
        parser = _TextExtractor()
        parser.feed(text)
        parser.close()
        return "".join(parser.parts)


class CollapseWhitespace(TextStep):
    """Replace every run of whitespace with one space and strip both ends.

    Whitespace is what :meth:`str.split` splits on: ASCII whitespace, NBSP, the ideographic
    space U+3000 and the other Unicode spaces, and line and paragraph separators.

    Example:
        >>> CollapseWhitespace().transform("  a\\t b\\n\\n c\\u3000d  ")
        'a b c d'
    """

    name: ClassVar[str] = "collapse_whitespace"

    def data_dependencies(self) -> dict[str, Any]:
        return _unicode()

    def transform(self, text: str) -> str:
        return " ".join(text.split())


class Truncate(Step):
    """Cut each text to at most ``max_chars`` code points, or its tokens to ``max_tokens``.

    Exactly one limit is given. ``max_tokens`` cuts the ``<field>_tokens`` column (and the
    aligned ``<field>_pos`` column when there is one), so a tokenising step must come earlier;
    the text itself is left whole. ``max_chars`` cuts the text by Unicode code points.

    Attributes:
        max_tokens: Keep at most this many tokens.
        max_chars: Keep at most this many characters (code points) of the text.

    Example:
        >>> Truncate(max_chars=4).apply({"text": ["北京欢迎你"]}, ["text"])
        {'text': ['北京欢迎']}
        >>> Truncate(max_tokens=2).apply({"text_tokens": [["a", "b", "c"]]}, ["text"])
        {'text_tokens': [['a', 'b']]}
    """

    name: ClassVar[str] = "truncate"

    max_tokens: int | None = Field(default=None, ge=1)
    max_chars: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _exactly_one_limit(self) -> Truncate:
        if (self.max_tokens is None) == (self.max_chars is None):
            raise ValueError("give exactly one of max_tokens and max_chars")
        return self

    # Only the token limit reads tokens, so this is per instance; read on the class it is a
    # (truthy) property, the conservative answer.
    @property
    def needs_tokens(self) -> bool:  # type: ignore[override]
        """Whether a tokenising step must run first: true for ``max_tokens`` only."""
        return self.max_tokens is not None

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        limit = self.max_tokens
        if limit is None:  # then max_chars is set: the validator demands exactly one
            return {
                f: [None if t is None else t[: self.max_chars] for t in batch[f]] for f in fields
            }
        out: Batch = {}
        for f in fields:
            out[tokens_column(f)] = [
                list(toks[:limit]) for toks in require_column(batch, tokens_column(f), self.name)
            ]
            if pos_column(f) in batch:
                out[pos_column(f)] = [list(tags[:limit]) for tags in batch[pos_column(f)]]
        return out
