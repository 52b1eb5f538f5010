"""Recommendation: rank candidate items for a user, given the user's history.

A request carries the user id, the user's training history (item ids, oldest first, with their
titles) and the candidate item ids to rank; the response ranks the candidates (best first),
optionally with scores. The reference of a request is the tuple of the user's held-out items.

Requests are not built row by row: the family's :meth:`RecommendationFamily.prepare` reads the
interaction log, applies the task's protocol (leave-last-out by time per user, or a global
temporal split), and freezes the candidates (full ranking, or sampled negatives drawn once with
a seed and hashed into the record).

Prompt fields (jinja2, see :mod:`bench.families.prompts`): ``{{ user }}``, ``{{ history }}``
(the item ids, oldest first, a list), ``{{ history_titles }}`` (one title per line, the item id
where the title is unknown), ``{{ candidates }}`` (the candidate ids joined with ``", "``),
``{{ candidate_ids }}`` (the same as a list) and ``{{ language }}``. A generated answer ranks
the candidate ids in the order it names them (other ids are ignored; candidates it leaves out
rank last). A language model that scores continuations instead is given every candidate id,
and ranks them by log-likelihood.

Options: :class:`RecommendationOptions`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.errors import DataError, TaskSpecError
from bench.families.base import Family, Prepared, Request, Response
from bench.families.prompts import PromptValue
from bench.identity import SHORT, bytes_hash, combine, short_hash
from bench.spec import TaskSpec

__all__ = [
    "ItemTable",
    "RankingResponse",
    "RecommendationFamily",
    "RecommendationOptions",
    "RecommendationRequest",
    "ranked_ids",
]


class RecommendationRequest(Request):
    """Rank ``candidates`` for ``user``.

    Attributes:
        user: The user id.
        history: The user's training interactions, item ids oldest first.
        history_titles: The titles of ``history`` (same order; "" where unknown).
        candidates: The item ids to rank (the held-out items are among them).
    """

    family: ClassVar[str] = "recommendation"
    user: str
    history: tuple[str, ...]
    history_titles: tuple[str, ...] = ()
    candidates: tuple[str, ...]


class RankingResponse(Response):
    """Candidates ranked best first, and optionally their scores (same order).

    Items missing from ``ranked`` are ranked after every listed item (a miss for every cut-off
    they would have reached); ids that are not candidates are ignored by the metrics.
    """

    family: ClassVar[str] = "recommendation"
    ranked: tuple[str, ...]
    scores: tuple[float, ...] | None = None

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
    ``fields`` maps ``item`` and ``title`` (and optionally ``genres``) to columns.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    format: Literal["csv", "tsv", "jsonl", "json", "parquet"] = "csv"
    delimiter: str | None = None
    encoding: str = "utf-8"
    columns: list[str] | None = None
    fields: dict[str, str] = Field(default_factory=lambda: {"item": "item_id", "title": "title"})


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
preprocess: []
metrics:
  - hit_rate: {k: [10]}
  - ndcg: {k: [10]}
  - mrr
primary_metric: ndcg@10
"""

# Item ids in a ranking answer: runs of characters other than separators and brackets.
_ID_TOKEN = re.compile(r"[^\s,;，、；\[\]()<>{}\"'`]+")


class RecommendationFamily(Family):
    """Rows are interactions (``user``, ``item``, ``timestamp``, optional ``rating``); requests
    are built per user by :meth:`prepare` under the task's protocol."""

    name: ClassVar[str] = "recommendation"
    request_type = RecommendationRequest
    response_type = RankingResponse
    required_fields: ClassVar[tuple[str, ...]] = ("user", "item", "timestamp")
    optional_fields: ClassVar[tuple[str, ...]] = ("id", "rating")
    text_fields: ClassVar[tuple[str, ...]] = ()
    default_metrics: ClassVar[tuple[str, ...]] = ("hit_rate", "ndcg", "mrr")
    Options: ClassVar[type[BaseModel]] = RecommendationOptions
    default_scoring: ClassVar[Literal["loglik", "generate"]] = "loglik"
    default_prompt: ClassVar[str | None] = (
        "A user interacted with these items, oldest first:\n{{ history_titles }}\n\n"
        "Rank these candidate item ids from most to least likely next: {{ candidates }}"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "user": "u1",
        "history": ["i1", "i2"],
        "history_titles": "The Bright Bridge\ni2",
        "candidates": "i3, i4",
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
        if spec.preprocess:
            exc = TaskSpecError("recommendation tasks take no preprocessing steps")
            exc.loc = ("preprocess",)  # type: ignore[attr-defined]
            raise exc

    def has_train(self, spec: TaskSpec) -> bool:
        return True  # the protocol always leaves training history

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
        """``user``, ``history``, ``history_titles``, ``candidates``, ``candidate_ids``,
        ``language``."""
        if not isinstance(request, RecommendationRequest):
            raise TypeError(f"expected a recommendation request, got {type(request).__name__}")
        history = request.history
        shown = [
            t or (history[i] if i < len(history) else "")
            for i, t in enumerate(request.history_titles)
        ]
        return {
            "user": request.user,
            "history": list(history),
            "history_titles": "\n".join(shown),
            "candidates": ", ".join(request.candidates),
            "candidate_ids": list(request.candidates),
            "language": request.language,
        }

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The candidate ids in the order ``text`` names them; other ids are ignored."""
        candidates = set(getattr(request, "candidates", ()))
        ranked: dict[str, None] = {}
        for token in _ID_TOKEN.findall(text):
            item = token.strip(".:!?。：")
            if item in candidates:
                ranked.setdefault(item, None)
        return RankingResponse(ranked=tuple(ranked))

    def answer_choices(self, request: Request, spec: TaskSpec | None) -> tuple[str, ...]:
        """Every candidate id."""
        return tuple(getattr(request, "candidates", ()))

    def from_choice_scores(
        self, request: Request, spec: TaskSpec | None, scores: Sequence[float]
    ) -> Response:
        """The candidates by descending log-likelihood (the earlier candidate on ties)."""
        candidates = tuple(getattr(request, "candidates", ()))
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        return RankingResponse(
            ranked=tuple(candidates[i] for i in order), scores=tuple(scores[i] for i in order)
        )

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
        # The item table's content (titles etc.) is part of the data: of both fingerprints.
        items_fingerprint: str | None = None
        if opts.items is not None:
            items = load_table(spec, opts.items, data_override=data_override)
            table, items_fingerprint = items.frame, items.fingerprint
            item_col = opts.items.fields.get("item", "item_id")
            title_col = opts.items.fields.get(opts.title_field, opts.title_field)
            for item, title in zip(table[item_col], table[title_col], strict=True):
                titles[str(item)] = "" if title is None else str(title)
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
            requests.append(
                RecommendationRequest(
                    id=user,
                    language=spec.language,
                    user=user,
                    history=histories[user],
                    history_titles=tuple(titles.get(i, "") for i in histories[user]),
                    candidates=candidates,
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
        fingerprint = short_hash([log.fingerprint, items_fingerprint, info])
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
