"""Recommendation: rank candidate items for a user, given the user's history.

A request carries the user id, the user's training history (item ids, oldest first, with their
titles) and the candidate item ids to rank; the response ranks the candidates (best first),
optionally with scores. The reference of a request is the tuple of the user's held-out items.

Requests are not built row by row: the family's :meth:`RecommendationFamily.prepare` reads the
interaction log, applies the task's protocol (leave-last-out by time per user, or a global
temporal split), and freezes the candidates (full ranking, or sampled negatives drawn once with
a seed and hashed into the record).

What a language model is shown (``options.shown``, :class:`ShownItems`): the user's most recent
``history`` items and ``candidates`` of the frozen candidates, each as its *item text* (the
``item_text`` template over the item table's fields: title, genres, ...; the id where the task
has no item table), never as bare ids. The shown candidates are in a seeded shuffle per user
(``order: shuffled``, the default; ``frozen`` keeps the candidate set's order). When fewer are
shown than the candidate set holds, the shown ones are the first of that seeded order (chosen
without looking at the held-out items) and every candidate not shown ranks after the shown ones,
in the candidate set's order: the metrics always rank the whole frozen set, so a held-out item
that was not shown is a miss at every cut-off up to the number shown.

Prompt fields (jinja2, see :mod:`bench.families.prompts`): ``{{ user }}``, ``{{ history }}``
(the shown history's item texts, oldest first, a list), ``{{ history_ids }}`` (their ids),
``{{ candidates }}`` (the shown candidates' item texts, in shown order, a list),
``{{ numbered_candidates }}`` (the same texts numbered from 1, ``"1. The Bright Bridge"``,
a list: templates read no attributes, so ``loop.index`` is not available),
``{{ candidate_ids }}`` (their ids), ``{{ history_titles }}`` (every history title, one per
line, the id where the title is unknown) and ``{{ language }}``.

Answers (the bound spec's ``scoring.mode``; the family's default is ``loglik``):

* ``loglik``: :meth:`~RecommendationFamily.answer_choices` gives each shown candidate's text,
  scored as a continuation of the one prompt; the candidates rank by descending score.
* ``generate``: the model answers with a ranking (a numbered list of titles or ids, or titles
  in a sentence); :func:`parse_ranking` reads it back to item ids (see there). An answer that
  names no candidate is a counted failure (cause ``unparsable``); list entries naming no
  candidate and candidates named twice are counted in the response (``parse``). Candidates the
  answer does not name rank after the named ones, in the shown order.

Options: :class:`RecommendationOptions`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from bench.errors import DataError, TaskSpecError
from bench.families.base import Failure, Family, Prepared, Request, Response
from bench.families.prompts import PromptValue, check_template, render_template
from bench.identity import SHORT, bytes_hash, combine, short_hash
from bench.spec import TaskSpec

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_PROMPT",
    "FUZZY_CUTOFF",
    "ItemTable",
    "ParseNote",
    "RankingResponse",
    "RecommendationFamily",
    "RecommendationOptions",
    "RecommendationRequest",
    "ShownItems",
    "item_text_template",
    "normalize_title",
    "parse_ranking",
    "ranked_ids",
]


class RecommendationRequest(Request):
    """Rank ``candidates`` for ``user``.

    Attributes:
        user: The user id.
        history: The user's training interactions, item ids oldest first.
        history_titles: The titles of ``history`` (same order; "" where unknown).
        candidates: The item ids to rank (the held-out items are among them).
        history_texts: The item texts of the history a language model is shown (its most
            recent ``options.shown.history`` items, oldest first); empty: every history item,
            by its title or id.
        shown: The candidate ids a language model is shown, in the order shown; empty: every
            candidate, in ``candidates`` order.
        shown_texts: The item texts of ``shown`` (same order); empty: the ids themselves.
        next_text: For a train request used as an in-context example: the text of its last
            training item, which is the example's answer (``history_texts`` then shows the
            history before it); empty otherwise.
    """

    family: ClassVar[str] = "recommendation"
    user: str
    history: tuple[str, ...]
    history_titles: tuple[str, ...] = ()
    candidates: tuple[str, ...]
    history_texts: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()
    shown_texts: tuple[str, ...] = ()
    next_text: str = ""

    @model_serializer(mode="wrap")
    def _drop_empty_views(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Requests built without a language-model view (in code, by older task files) dump
        # and hash as they did before the view existed.
        data = handler(self)
        if isinstance(data, dict):
            for key in ("history_texts", "shown", "shown_texts", "next_text"):
                if key in data and not data[key]:
                    del data[key]
        return data

    def shown_items(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(ids, texts)`` of the candidates a language model is shown, in shown order."""
        if self.shown:
            return self.shown, self.shown_texts or self.shown
        return self.candidates, self.candidates

    def shown_history(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(ids, texts)`` of the history a language model is shown, oldest first."""
        if self.history_texts or self.next_text:
            n = len(self.history_texts)
            end = len(self.history) - (1 if self.next_text else 0)
            return self.history[end - n : end], self.history_texts
        titles = [
            (self.history_titles[i] if i < len(self.history_titles) else "") or item
            for i, item in enumerate(self.history)
        ]
        return self.history, tuple(titles)


class ParseNote(BaseModel):
    """How a generated ranking was read back (see :func:`parse_ranking`).

    Attributes:
        named: Candidates the answer named (the head of ``ranked``).
        unknown: List entries (numbered or bulleted lines) that named no candidate.
        repeated: Mentions of a candidate already named.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    named: int
    unknown: int = 0
    repeated: int = 0


class RankingResponse(Response):
    """Candidates ranked best first, and optionally their scores (same order).

    Items missing from ``ranked`` are ranked after every listed item (a miss for every cut-off
    they would have reached); ids that are not candidates are ignored by the metrics.
    """

    family: ClassVar[str] = "recommendation"
    ranked: tuple[str, ...]
    scores: tuple[float, ...] | None = None
    parse: ParseNote | None = None

    @model_serializer(mode="wrap")
    def _drop_empty_transcript(self, handler: SerializerFunctionWrapHandler) -> Any:
        # As Response's: an unset transcript or parse note is not dumped, so baselines'
        # cached answers and samples are unchanged.
        data = handler(self)
        if isinstance(data, dict):
            for key in ("transcript", "parse"):
                if data.get(key, 0) is None:
                    del data[key]
        return data

    @field_validator("ranked")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            seen: set[str] = set()
            for item in value:
                if item in seen:
                    raise ValueError(f"ranked lists item {item!r} twice")
                seen.add(item)
        return value

    def model_post_init(self, __context: Any) -> None:
        if self.scores is not None and len(self.scores) != len(self.ranked):
            raise ValueError(
                f"scores has {len(self.scores)} values for {len(self.ranked)} ranked items"
            )


def ranked_ids(items: Sequence[Any]) -> tuple[str, ...]:
    """The item ids of a ranking read from JSON: strings as they are, integers as their
    decimal string.

    Raises:
        ValueError: An item that is not an id (``null``, a boolean, a float, a list, an object),
            named with its 1-based position.

    Example:
        >>> ranked_ids(["i1", 7])
        ('i1', '7')
    """
    out = []
    for rank, item in enumerate(items, start=1):
        if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
            out.append(str(item))
            continue
        shown = json.dumps(item, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        kind = "null" if item is None else type(item).__name__
        raise ValueError(
            f"ranked item {rank} is {shown} ({kind}), not an item id (a string or an integer)"
        )
    return tuple(out)


class ItemTable(BaseModel):
    """Where the item metadata (titles, genres) lives: a file of the task's source.

    ``file`` is a key of ``source.files`` (or a file name relative to the source folder);
    ``fields`` maps ``item`` and ``title`` (and optionally ``genres``, ``year``, ...) to
    columns. ``flags`` builds a field from 0/1 columns: ``{genres: [Action, Comedy, ...]}``
    makes ``genres`` the names of the columns that are 1, joined with ``", "`` (MovieLens
    flags each genre in its own column). Every field but ``item`` is an item-text field
    (``options.shown.item_text``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    format: Literal["csv", "tsv", "jsonl", "json", "parquet"] = "csv"
    delimiter: str | None = None
    encoding: str = "utf-8"
    columns: list[str] | None = None
    fields: dict[str, str] = Field(default_factory=lambda: {"item": "item_id", "title": "title"})
    flags: dict[str, list[str]] = Field(default_factory=dict)

    def text_fields(self) -> list[str]:
        """The fields an item text may use: every field but ``item``, then the flag fields."""
        return [f for f in self.fields if f != "item"] + [f for f in self.flags if f != "item"]


class ShownItems(BaseModel):
    """What a language model is shown of each user (``options.shown``).

    Attributes:
        history: The number of most recent history items shown (``null``: all of them).
        candidates: The number of candidates shown (``null``: all). Fewer than the candidate
            set: the first of the seeded order are shown, and the rest rank after them in the
            candidate set's order (see the module docstring).
        order: ``shuffled`` (a seeded shuffle per user; the default) or ``frozen`` (the
            candidate set's own order: the catalogue's for ``full``).
        seed: Seed of the shuffle (recorded in the record's ``task.protocol``).
        item_text: The jinja2 template of an item's text over the item table's fields
            (``{{ title }} ({{ genres }})``); ``null``: the title (``title_field``). A task
            without an item table shows ids.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    history: int | None = Field(default=20, ge=1)
    candidates: int | None = Field(default=None, ge=1)
    order: Literal["shuffled", "frozen"] = "shuffled"
    seed: int = 0
    item_text: str | None = None


class RecommendationOptions(BaseModel):
    """The evaluation protocol of a recommendation task (``options:`` in the task file).

    Attributes:
        protocol: ``leave-last-out`` (each user's last interaction by time is the test item;
            ties in time keep the file order) or ``temporal`` (one global cut: interactions
            after the ``1 - test_fraction`` quantile of timestamps are test items, for users
            who have training history).
        test_fraction: The temporal protocol's share of the timeline held out.
        candidates: ``full`` (every catalogue item the user has not interacted with in
            training) or ``sampled`` (the test items plus ``negatives`` items the user never
            interacted with, drawn once with ``seed`` and frozen).
        negatives: Number of sampled negatives per user.
        seed: Seed of the negative sampling and of the candidate order.
        min_rating: Drop interactions rated below this (before splitting).
        items: The item metadata table (titles shown to generic adapters).
        title_field: Which ``items.fields`` entry is the title (``title``, or e.g. ``title_zh``).
        shown: What a language model is shown: :class:`ShownItems`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["leave-last-out", "temporal"] = "leave-last-out"
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    candidates: Literal["full", "sampled"] = "full"
    negatives: int = Field(default=100, ge=1)
    seed: int = 0
    min_rating: float | None = None
    items: ItemTable | None = None
    title_field: str = "title"
    shown: ShownItems = Field(default_factory=ShownItems)


_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: recommendation
languages: [en]              # the language of the item titles
description: >-
  One paragraph: the interaction log, the items, where they come from and their licence.
source:
  kind: local
  location: data/{name}
  format: csv
  files: {all: interactions.csv, items: items.csv}
  splits: {test: all}        # the whole log; the protocol below makes train and test
  fields: {user: user_id, item: item_id, timestamp: timestamp, rating: rating}
options:
  protocol: leave-last-out   # or temporal (with test_fraction: 0.2)
  candidates: full           # or sampled (with negatives: 100, seed: 0), frozen and hashed
  # min_rating: 4            # drop interactions rated below this
  items:
    file: items
    format: csv
    fields: {item: item_id, title: title}
  # shown:                   # what a language model is shown (each item by its text)
  #   history: 20            # the most recent items of the user's history
  #   candidates: null       # all candidates; N shows N, the rest rank after them
  #   order: shuffled        # seeded per user (seed: 0), recorded in the record
  #   item_text: "{{ title }}"
preprocess: []
metrics:
  - hit_rate: {k: [10]}
  - ndcg: {k: [10]}
  - mrr
primary_metric: ndcg@10
"""

# Item ids in a ranking answer: runs of characters other than separators and brackets.
_ID_TOKEN = re.compile(r"[^\s,;，、；\[\]()<>{}\"'`]+")
# A list entry's marker: "1.", "2)", "(3)", "#4", "-", "*", "•".
_MARKER = re.compile(r"^\s*(?:\(?\d{1,4}[.):、\]]|#\d{1,4}[.:]?|[-*•·])\s*")
# "Shawshank Redemption, The (1994)": MovieLens moves a leading article to the end.
_ARTICLE = re.compile(
    r"^(?P<body>.+?), (?P<article>the|a|an|les|la|le|il|el|das|der|die)(?P<tail>\s*\(.*\))?$",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"[;|；、，]|,\s+")
FUZZY_CUTOFF = 0.8
"""The least :class:`difflib.SequenceMatcher` ratio at which an answer's entry is read as the
closest candidate text (after :func:`normalize_title`)."""


def normalize_title(text: str) -> str:
    """``text`` folded for matching: NFKC, a trailing article moved to the front
    (``"Shawshank Redemption, The (1994)"`` → ``"the shawshank redemption 1994"``), case
    folded, punctuation dropped, whitespace collapsed.

    Example:
        >>> normalize_title("Shawshank Redemption, The (1994)")
        'the shawshank redemption 1994'
        >>> normalize_title("  THE  Shawshank  Redemption!")
        'the shawshank redemption'
    """
    text = unicodedata.normalize("NFKC", text).strip()
    found = _ARTICLE.match(text)
    if found:
        text = f"{found['article']} {found['body']}{found['tail'] or ''}"
    text = text.casefold()
    text = "".join(ch if ch.isalnum() else " " for ch in text)
    return " ".join(text.split())


def _at_word(haystack: str, needle: str, start: int) -> bool:
    end = start + len(needle)
    before = start == 0 or haystack[start - 1] == " "
    return before and (end == len(haystack) or haystack[end] == " ")


class _Matcher:
    """Candidate ids by their normalised texts (and ids), for :func:`parse_ranking`."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        self.by_text: dict[str, str | None] = {}
        for item, text in zip(ids, texts, strict=True):
            key = normalize_title(text)
            if key:  # two candidates with one text: neither is named by it
                self.by_text[key] = None if self.by_text.get(key, item) != item else item
        self.ids = {item: item for item in ids}
        self.by_id_key = {normalize_title(item): item for item in ids}
        self.keys = [k for k, v in self.by_text.items() if v is not None]

    def exact(self, entry: str) -> str | None:
        """The candidate whose id or normalised text ``entry`` is."""
        raw = entry.strip().strip("\"'`“”‘’「」《》*").strip()
        if raw in self.ids:
            return raw
        key = normalize_title(raw)
        if key in self.by_text:
            return self.by_text[key]
        return self.by_id_key.get(key) if key else None

    def one(self, entry: str) -> str | None:
        """The one candidate ``entry`` names: exact text or id, a candidate's text followed
        by more, a unique prefix, or the closest text above :data:`FUZZY_CUTOFF`."""
        found = self.exact(entry)
        if found is not None:
            return found
        key = normalize_title(entry)
        if not key:
            return None
        # The entry is a candidate's text followed by more ("Toy Story (1995) - a classic"):
        # the longest such text; or the start of exactly one candidate's text ("Toy Story").
        longer = [k for k in self.keys if key.startswith(k) and _at_word(key, k, 0)]
        if longer:
            return self.by_text[max(longer, key=len)]
        if len(key) >= 3:
            prefixed = [k for k in self.keys if k.startswith(key) and _at_word(k, key, 0)]
            if len(prefixed) == 1:
                return self.by_text[prefixed[0]]
        close = difflib.get_close_matches(key, self.keys, n=2, cutoff=FUZZY_CUTOFF)
        if len(close) == 1:
            return self.by_text[close[0]]
        if len(close) == 2:
            ratios = [difflib.SequenceMatcher(None, key, c).ratio() for c in close]
            if ratios[0] > ratios[1]:
                return self.by_text[close[0]]
        return None

    def mentions(self, line: str) -> list[str]:
        """Every candidate whose text (or non-numeric id) appears in ``line`` as whole words,
        in the order they appear (the longest at one position)."""
        key = normalize_title(line)
        found: list[tuple[int, int, str]] = []
        for text in self.keys:
            if len(text) < 3:
                continue
            at = key.find(text)
            while at != -1:
                if _at_word(key, text, at):
                    found.append((at, -len(text), self.by_text[text] or ""))
                    break
                at = key.find(text, at + 1)
        for token in _ID_TOKEN.finditer(line):
            item = token.group(0).strip(".:!?。：")
            if item in self.ids and not item.isdigit():
                # where the id sits in the normalised line (ids fold like texts)
                before = normalize_title(line[: token.start()])
                found.append((len(before) + (1 if before else 0), 0, item))
        return [item for _, _, item in sorted(found)]


def parse_ranking(
    text: str, ids: Sequence[str], texts: Sequence[str]
) -> tuple[tuple[str, ...], ParseNote]:
    """Read a generated ranking back to candidate ids.

    Line by line (list markers such as ``1.``, ``2)``, ``-`` removed): an exact item text or id
    (after :func:`normalize_title`); else, when the line mentions two or more candidates, each
    in the order mentioned (``"i3, then i1"``); else a unique prefix (``Toy Story`` for
    ``Toy Story (1995)``) or a candidate's text followed by more; else the closest text by
    :mod:`difflib` above :data:`FUZZY_CUTOFF`; else one mentioned candidate; else the line's
    parts split at ``;``, ``|`` and ``", "``, each matched the same way. A list entry
    (numbered or bulleted) that names no candidate counts as ``unknown``; a candidate named
    again counts as ``repeated`` (its first place stands). Plain lines that name nothing
    (a preamble) are ignored.

    Args:
        text: The model's answer.
        ids: The candidates shown, in shown order.
        texts: Their item texts (same order).

    Returns:
        The named ids in the order named, and the :class:`ParseNote` of the reading.

    Example:
        >>> ranked, note = parse_ranking(
        ...     "1. toy story\n2. Heat (1995)\n3. Casablanca\n4. Toy Story (1995)",
        ...     ["1", "6", "9"], ["Toy Story (1995)", "Heat (1995)", "Babe (1995)"])
        >>> ranked, note.unknown, note.repeated
        (('1', '6'), 1, 1)
    """
    matcher = _Matcher(ids, texts)
    named: dict[str, None] = {}
    unknown = repeated = 0
    for line in text.splitlines():
        whole = matcher.exact(line)  # "2001: A Space Odyssey" starts like a list marker
        marker = None if whole is not None else _MARKER.match(line)
        entry = line[marker.end() :] if marker else line
        if not entry.strip():
            continue
        exact = whole if whole is not None else matcher.exact(entry)
        found: list[str] = [] if exact is None else [exact]
        if not found:
            mentioned = matcher.mentions(entry)
            near = matcher.one(entry) if len(set(mentioned)) < 2 else None
            if len(set(mentioned)) >= 2 or (near is None and mentioned):
                found = mentioned
            elif near is not None:
                found = [near]
            else:
                parts = [matcher.one(part) for part in _SPLIT.split(entry)]
                found = [p for p in parts if p is not None]
        if not found:
            unknown += 1 if marker else 0
            continue
        for item in found:
            if item in named:
                repeated += 1
            else:
                named[item] = None
    ranked = tuple(named)
    return ranked, ParseNote(named=len(ranked), unknown=unknown, repeated=repeated)


DEFAULT_PROMPT = (
    "A user interacted with these items, oldest first:\n"
    "{% for item in history %}- {{ item }}\n{% endfor %}\n"
    "Candidates:\n{% for item in numbered_candidates %}{{ item }}\n{% endfor %}\n"
    "Rank the candidates from most to least likely to be the user's next item, one per line, "
    "best first.\nAnswer:"
)
"""The recommendation family's prompt for a task without one: it ends where the best
candidate's text follows, so it serves ``loglik`` (each candidate's text scored as that
continuation) and ``generate`` (a ranked list) alike."""


def _rec(request: Request) -> RecommendationRequest:
    if not isinstance(request, RecommendationRequest):
        raise TypeError(f"expected a recommendation request, got {type(request).__name__}")
    return request


def _complete(request: RecommendationRequest, named: Sequence[str]) -> tuple[str, ...]:
    """``named``, then the other shown candidates in shown order, then the candidates not
    shown in the candidate set's order."""
    out = dict.fromkeys(named)
    out.update(dict.fromkeys(request.shown_items()[0]))
    out.update(dict.fromkeys(request.candidates))
    return tuple(out)


def _shown_order(candidates: tuple[str, ...], view: ShownItems, user: str) -> tuple[str, ...]:
    """The candidates shown to a language model for ``user``, in the order shown.

    The order is a shuffle seeded by ``(view.seed, user)`` alone (the same on every machine,
    for any ``--limit``); with ``view.candidates`` below the candidate count the shown ones
    are the first of that order (kept in it, or put back in the candidate set's order for
    ``order: frozen``). The held-out items play no part in the choice.
    """
    n = len(candidates) if view.candidates is None else min(view.candidates, len(candidates))
    if view.order == "frozen" and n == len(candidates):
        return candidates
    order = list(candidates)
    random.Random(f"{view.seed}:{user}").shuffle(order)
    chosen = order[:n]
    if view.order == "frozen":
        keep = set(chosen)
        return tuple(i for i in candidates if i in keep)
    return tuple(chosen)


def _history_texts(
    history: tuple[str, ...], view: ShownItems, texts: Mapping[str, str]
) -> tuple[str, ...]:
    """The item texts of the most recent ``view.history`` items of ``history``."""
    recent = history if view.history is None else history[-view.history :]
    return tuple(texts.get(i) or i for i in recent)


def _item_texts(
    spec: TaskSpec, opts: RecommendationOptions, table: ItemTable, frame: Any
) -> dict[str, str]:
    """Each item's text: ``item_text`` rendered over its row's fields (flag fields joined)."""
    template = item_text_template(opts)
    where = f"task '{spec.name}': options.shown.item_text"
    item_col = table.fields.get("item", "item_id")
    columns: dict[str, list[Any]] = {
        name: frame[col].tolist() for name, col in table.fields.items() if name != "item"
    }
    flags = {
        name: [(col, frame[col].tolist()) for col in cols] for name, cols in table.flags.items()
    }
    missing = [c for cols in table.flags.values() for c in cols if c not in frame.columns]
    if missing:
        raise DataError(
            f"task '{spec.name}': options.items.flags names column(s) {missing} that the item "
            f"table lacks (it has {', '.join(map(str, frame.columns))})",
            fix="name the item table's 0/1 columns (options.items.columns for header-less files)",
        )
    out: dict[str, str] = {}
    for row, item in enumerate(frame[item_col].tolist()):
        values: dict[str, PromptValue] = {name: _plain(col[row]) for name, col in columns.items()}
        for name, cols in flags.items():
            values[name] = ", ".join(str(c) for c, col in cols if _flag(col[row]))
        out[str(item)] = " ".join(render_template(template, values, where=where).split())
    return out


def _plain(value: Any) -> str:
    """A table cell as text (missing: empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _flag(value: Any) -> bool:
    """A 0/1 flag cell is set."""
    return _plain(value).strip() not in ("", "0", "0.0", "false", "False")


def item_text_template(opts: RecommendationOptions) -> str:
    """The item-text template of ``opts``: ``shown.item_text``, else the title field."""
    return opts.shown.item_text or "{{ " + opts.title_field + " }}"


class RecommendationFamily(Family):
    """Rows are interactions (``user``, ``item``, ``timestamp``, optional ``rating``); requests
    are built per user by :meth:`prepare` under the task's protocol."""

    name: ClassVar[str] = "recommendation"
    request_type = RecommendationRequest
    response_type = RankingResponse
    required_fields: ClassVar[tuple[str, ...]] = ("user", "item", "timestamp")
    scored_unit: ClassVar[str] = "users"
    optional_fields: ClassVar[tuple[str, ...]] = ("id", "rating")
    text_fields: ClassVar[tuple[str, ...]] = ()
    default_metrics: ClassVar[tuple[str, ...]] = ("hit_rate", "ndcg", "mrr")
    Options: ClassVar[type[BaseModel]] = RecommendationOptions
    default_scoring: ClassVar[Literal["loglik", "generate"]] = "loglik"
    default_prompt: ClassVar[str | None] = DEFAULT_PROMPT
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "user": "u1",
        "history": ["The Bright Bridge", "The Endless Island"],
        "history_ids": ["i1", "i2"],
        "history_titles": "The Bright Bridge\nThe Endless Island",
        "candidates": ["The Silent Winter", "The Forgotten Secret"],
        "numbered_candidates": ["1. The Silent Winter", "2. The Forgotten Secret"],
        "candidate_ids": ["i3", "i4"],
        "language": "en",
    }
    choices_share_prompt: ClassVar[bool] = True
    title: ClassVar[Mapping[str, str]] = {"en": "recommendation", "zh": "推荐"}
    new_task_template: ClassVar[str | None] = _TEMPLATE

    @classmethod
    def options(cls, spec: TaskSpec) -> RecommendationOptions:
        """The task's validated options (see :meth:`Family.options`)."""
        opts = super().options(spec)
        if not isinstance(opts, RecommendationOptions):  # a subclass replaced Options
            raise TypeError(f"expected RecommendationOptions, got {type(opts).__name__}")
        return opts

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        """No preprocessing; ``options.shown.item_text`` names only the item table's fields."""
        if spec.preprocess:
            exc = TaskSpecError("recommendation tasks take no preprocessing steps")
            exc.loc = ("preprocess",)  # type: ignore[attr-defined]
            raise exc
        opts = cls.options(spec)
        if opts.items is None:
            if opts.shown.item_text is not None:
                exc = TaskSpecError(
                    f"task '{spec.name}': options.shown.item_text needs an item table",
                    fix="add options.items (the item table) or remove options.shown.item_text",
                )
                exc.loc = ("options", "shown", "item_text")  # type: ignore[attr-defined]
                raise exc
            return
        fields = opts.items.text_fields()
        try:
            check_template(
                item_text_template(opts),
                {f: "x" for f in fields},
                where=f"task '{spec.name}': options.shown.item_text",
                family=cls.name,
            )
        except TaskSpecError as bad:
            bad.loc = ("options", "shown", "item_text")  # type: ignore[attr-defined]
            raise

    def has_train(self, spec: TaskSpec) -> bool:
        return True  # the protocol always leaves training history

    @classmethod
    def exemplar_roles(cls, spec: TaskSpec) -> set[str]:
        """``train``: the protocol's training histories (each answered by its next item)."""
        return {"train"}

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        for field in ("user", "item"):
            if row.get(field) is None:
                return f"field '{field}' is missing"
        ts = row.get("timestamp")
        if ts is None or (isinstance(ts, float) and math.isnan(ts)):
            return "field 'timestamp' is missing"
        return None

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        raise TypeError("recommendation requests are built per user by prepare()")

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "user", None)

    def sample_prediction(self, response: Response | None) -> Any:
        ranked = getattr(response, "ranked", None)
        return None if ranked is None else list(ranked[:20])

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``user``, ``history`` (shown item texts), ``history_ids``, ``history_titles``,
        ``candidates`` (shown item texts, shown order), ``numbered_candidates``,
        ``candidate_ids``, ``language``."""
        req = _rec(request)
        history_ids, history_texts = req.shown_history()
        shown_ids, shown_texts = req.shown_items()
        titles = [
            (req.history_titles[i] if i < len(req.history_titles) else "") or item
            for i, item in enumerate(req.history)
        ]
        return {
            "user": req.user,
            "history": list(history_texts),
            "history_ids": list(history_ids),
            "history_titles": "\n".join(titles),
            "candidates": list(shown_texts),
            "numbered_candidates": [f"{i}. {t}" for i, t in enumerate(shown_texts, start=1)],
            "candidate_ids": list(shown_ids),
            "language": req.language,
        }

    def answer_text(self, request: Request, reference: Any, spec: TaskSpec | None) -> str:
        """An exemplar's answer: the item text of its first held-out item (its id where the
        task has no item table, or the item is not among the shown candidates); for a train
        example (no reference), the text of its last training item (``next_text``)."""
        req = _rec(request)
        targets = tuple(reference or ())
        if not targets and req.next_text:
            return req.next_text
        if not targets:
            raise TypeError(f"user {req.user!r} has no held-out item to show as an answer")
        ids, texts = req.shown_items()
        return dict(zip(ids, texts, strict=True)).get(targets[0], targets[0])

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The shown candidates in the order ``text`` names them (see :func:`parse_ranking`),
        then the unnamed shown ones in shown order, then those not shown.

        Returns:
            A :class:`RankingResponse` with its :class:`ParseNote`, or a :class:`Failure`
            (cause ``unparsable``) when ``text`` names no candidate at all.
        """
        req = _rec(request)
        ids, texts = req.shown_items()
        named, note = parse_ranking(text, ids, texts)
        if not named:
            shown = " ".join(text.split())
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            failure = Failure(
                cause="unparsable", message=f"the answer names no candidate: {shown!r}"
            )
            return failure  # type: ignore[return-value]  # stages count it (see Failure)
        return RankingResponse(ranked=_complete(req, named), parse=note)

    def answer_choices(self, request: Request, spec: TaskSpec | None) -> tuple[str, ...] | None:
        """The shown candidates' item texts, in shown order (``None`` when the spec's
        ``scoring.mode`` is ``generate``: the model answers with a ranking)."""
        if spec is not None and spec.scoring is not None and spec.scoring.mode == "generate":
            return None
        return _rec(request).shown_items()[1]

    def from_choice_scores(
        self, request: Request, spec: TaskSpec | None, scores: Sequence[float]
    ) -> Response:
        """The shown candidates by descending score (the earlier shown on ties), then those
        not shown, in the candidate set's order (then ``scores`` is ``None``)."""
        req = _rec(request)
        ids = req.shown_items()[0]
        if len(scores) != len(ids):
            raise ValueError(f"{len(scores)} scores for {len(ids)} shown candidates")
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        ranked = tuple(ids[i] for i in order)
        full = _complete(req, ranked)
        kept = tuple(float(scores[i]) for i in order) if len(full) == len(ranked) else None
        return RankingResponse(ranked=full, scores=kept)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """A predictions file gives the ranked ids as a list, or ``{"ranked": [...]}``.

        An id is a string or a JSON integer (``5`` is the item ``"5"``, as ids read from a
        CSV log are); anything else — ``null``, a boolean, a float, a list or an object — is
        not an item id and is refused, as an id listed twice is.

        Raises:
            ValueError: Naming the first item that is not an id, and its position.
        """
        if isinstance(value, list):
            return RankingResponse(ranked=ranked_ids(value))
        if isinstance(value, Mapping) and isinstance(value.get("ranked"), list):
            value = {**value, "ranked": ranked_ids(value["ranked"])}
        return super().parse_prediction(value, spec)

    def prepare(
        self, spec: TaskSpec, *, data_override: str | Path | None, limit: int | None
    ) -> Prepared:
        """Read the log, split it by the protocol, freeze the candidates, build requests."""
        import numpy as np

        from bench.data import load_split, load_table

        opts = self.options(spec)
        log = load_split(spec, self, "test", data_override=data_override)
        frame = log.dataset.to_pandas()
        frame["user"] = frame["user"].astype(str)
        frame["item"] = frame["item"].astype(str)
        frame["_order"] = range(len(frame))
        dropped = 0
        if opts.min_rating is not None:
            if "rating" not in frame:
                raise TaskSpecError(
                    f"task '{spec.name}': options.min_rating needs a rating column",
                    fix="map source.fields.rating",
                )
            keep = frame["rating"].astype(float) >= opts.min_rating
            dropped = int((~keep).sum())
            frame = frame[keep]
        titles: dict[str, str] = {}
        texts: dict[str, str] = {}
        # The item table's content (titles etc.) is part of the data: of both fingerprints.
        items_fingerprint: str | None = None
        if opts.items is not None:
            items = load_table(spec, opts.items, data_override=data_override)
            table, items_fingerprint = items.frame, items.fingerprint
            item_col = opts.items.fields.get("item", "item_id")
            title_col = opts.items.fields.get(opts.title_field, opts.title_field)
            for item, title in zip(table[item_col], table[title_col], strict=True):
                titles[str(item)] = "" if title is None else str(title)
            texts = _item_texts(spec, opts, opts.items, table)
            unknown = frame[~frame["item"].isin(titles.keys())]
            if len(unknown):
                from bench.data import row_name

                first = unknown.iloc[0]
                fmt = spec.source.format or ""
                raise DataError(
                    f"{log.origin}: {row_name(fmt, int(first['_order']))}: field 'item' is "
                    f"{first['item']!r}, which the item table (options.items.file "
                    f"{opts.items.file!r}) does not list; {len(unknown)} interaction(s) name "
                    f"{unknown['item'].nunique()} unknown item id(s)",
                    fix="add the items to the item table or remove those interactions",
                )
        frame = frame.sort_values(["timestamp", "_order"], kind="stable")
        catalogue = sorted(set(frame["item"]) | set(titles))
        if opts.protocol == "leave-last-out":
            last = frame.groupby("user", sort=False).tail(1)
            test_mask = frame.index.isin(last.index)
        else:
            cut = frame["timestamp"].quantile(1 - opts.test_fraction)
            test_mask = (frame["timestamp"] > cut).to_numpy()
        train = frame[~test_mask]
        test = frame[test_mask]
        histories = {u: tuple(g["item"]) for u, g in train.groupby("user", sort=True)}
        held_out = {u: tuple(dict.fromkeys(g["item"])) for u, g in test.groupby("user", sort=True)}
        users = sorted(u for u in held_out if histories.get(u))
        excluded = sorted(set(frame["user"]) - set(users))
        if limit is not None:
            users = users[:limit]
        everything = {u: set(g["item"]) for u, g in frame.groupby("user", sort=False)}
        rng = np.random.default_rng(opts.seed)
        requests: list[Request] = []
        references: list[Any] = []
        digest = hashlib.sha256()
        shown_digest = hashlib.sha256()
        view = opts.shown
        catalogue_arr = np.asarray(catalogue)
        for user in users:
            seen = set(histories[user])
            targets = tuple(i for i in held_out[user] if i not in seen)
            if not targets:
                excluded.append(user)
                continue
            if opts.candidates == "full":
                candidates = tuple(i for i in catalogue if i not in seen)
            else:
                pool = catalogue_arr[~np.isin(catalogue_arr, list(everything[user]))]
                if len(pool) < opts.negatives:
                    raise TaskSpecError(
                        f"task '{spec.name}': user {user} has only {len(pool)} items to sample "
                        f"{opts.negatives} negatives from",
                        fix="lower options.negatives",
                    )
                negatives = rng.choice(pool, size=opts.negatives, replace=False)
                mixed = np.asarray([*targets, *negatives.tolist()])
                candidates = tuple(mixed[rng.permutation(len(mixed))].tolist())
            digest.update(json.dumps([user, candidates]).encode())
            shown = _shown_order(candidates, view, user)
            shown_digest.update(json.dumps([user, shown]).encode())
            requests.append(
                RecommendationRequest(
                    id=user,
                    language=spec.language,
                    user=user,
                    history=histories[user],
                    history_titles=tuple(titles.get(i, "") for i in histories[user]),
                    candidates=candidates,
                    history_texts=_history_texts(histories[user], view, texts),
                    shown=shown,
                    shown_texts=tuple(texts.get(i, i) for i in shown),
                )
            )
            references.append(targets)
        if not requests:
            raise DataError(
                f"task '{spec.name}': no user has both training history and a test item",
                fix="check the interaction log and the protocol",
            )
        candidates_hash = digest.hexdigest()[:SHORT]
        train_users = sorted(histories)
        train_blob = json.dumps([[u, histories[u]] for u in train_users]).encode()

        def load_train() -> list[tuple[Request, Any]]:
            return [
                (
                    RecommendationRequest(
                        id=u,
                        language=spec.language,
                        user=u,
                        history=histories[u],
                        history_titles=tuple(titles.get(i, "") for i in histories[u]),
                        candidates=(),
                        # as an in-context example: the history before its last item, which
                        # is the answer (trainable adapters read ``history``, all of it)
                        history_texts=_history_texts(histories[u][:-1], view, texts),
                        next_text=texts.get(histories[u][-1]) or histories[u][-1],
                    ),
                    (),
                )
                for u in train_users
            ]

        info = {
            "protocol": opts.protocol,
            "candidates": opts.candidates,
            "negatives": opts.negatives if opts.candidates == "sampled" else None,
            "seed": opts.seed if opts.candidates == "sampled" else None,
            "min_rating": opts.min_rating,
            "candidates_sha256": candidates_hash,
            "users_evaluated": len(requests),
            "users_excluded": len(set(excluded)),
            "catalogue_items": len(catalogue),
        }
        # What a language model is shown (recorded; only prompted adapters read it, so it
        # stays out of the scored data's fingerprint: the prompt is in theirs).
        shown_info = {
            "shown_history": view.history,
            "shown_candidates": view.candidates,
            "shown_order": view.order,
            "shown_seed": view.seed if view.order == "shuffled" or view.candidates else None,
            "item_text": item_text_template(opts) if opts.items is not None else None,
            "shown_sha256": shown_digest.hexdigest()[:SHORT],
        }
        fingerprint = short_hash([log.fingerprint, items_fingerprint, info])
        info = {**info, **shown_info}
        return Prepared(
            requests=requests,
            references=references,
            fingerprint=fingerprint,
            origin=log.origin,
            dropped=dropped,
            train_fingerprint=combine(bytes_hash(train_blob), items_fingerprint),
            load_train=load_train,
            info=info,
        )
