"""In-context examples (exemplars) for prompted adapters: the ``fewshot:`` block of a task.

:func:`attach_shots` gives every test request of one exemplar draw its
:class:`~bench.families.base.Shot` s, chosen from the exemplar pool (the task's
``fewshot.split``, preprocessed like the test split). The shots travel inside the request, so
they are part of its content hash (the cache key) and of what :mod:`bench.adapters.prompting`
renders.

Selectors (``fewshot.selector``), each frozen: the same task, seed and pool give the same
exemplars on every machine, Python version, batch size and test order.

* ``first``: the pool's first ``k``, in pool order.
* ``random``: the pool ordered by the SHA-256 of ``[seed + draw, exemplar id]`` (JSON; ties,
  i.e. repeated ids, in pool order); every test example of a draw sees the first ``k`` of that
  order, so one draw is one exemplar set, and draw ``r`` is a different shuffle (seed ``+ r``).
  No random number generator is involved (no stream can change with a library version).
* ``fixed``: ``fewshot.ids``, in the order listed; ids past the ``k``-th stand in, in order,
  for one that equals the test example.
* ``bm25``: per test example, the ``k`` pool examples most similar to it by Okapi BM25
  (``rank_bm25``'s ``BM25Okapi``, k1 1.5, b 0.75, its IDF floor) over word tokens of the
  family's text fields: the ``*_tokens`` a ``zh_segment``-style step produced when there are
  any, else jieba words (:func:`bench.preprocess.segmenter.jieba_words`) for text with CJK
  characters and lowercased ``\\w+`` words otherwise; tokens without a letter or digit
  (punctuation) are dropped. Ties go to the earlier pool example; exemplars are shown most
  similar first. Draw ``r`` takes ranks ``r*k`` to ``r*k + k - 1`` (the next-most-similar
  window): still lexically close to the test example, disjoint from every other draw, and with
  nothing random in it (re-seeding a deterministic ranking would give the same set on every
  draw). The pool must then hold ``draws * k`` exemplars.
* ``balanced``: ``k`` per label (classification families only): within each label, the first
  ``k`` of the ``random`` order; the chosen exemplars are shown in that order too, so labels
  are interleaved rather than grouped.

An exemplar whose content hash (without shots) equals the test example's is never used; the
next one in the selector's order takes its place.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bench.errors import TaskSpecError, did_you_mean
from bench.families.base import Family, Request, Shot
from bench.spec import FewshotSpec, TaskSpec

__all__ = [
    "attach_shots",
    "bm25_rankings",
    "bm25_words",
    "check_fewshot",
    "fewshot_hash",
    "random_order",
    "request_words",
    "shot_of",
]

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_BLOCK = 512  # test examples scored against the pool at once (bounds memory: pool x block)


def _error(message: str, fix: str, *loc: str) -> TaskSpecError:
    exc = TaskSpecError(message, fix=fix)
    exc.loc = ("fewshot", *loc)  # type: ignore[attr-defined]
    return exc


def shot_of(family: Family, request: Request, reference: Any, spec: TaskSpec) -> Shot:
    """The :class:`Shot` of one pool example: its request (without shots) and the gold
    answer as ``spec``'s prompt shows it (:meth:`Family.answer_text`)."""
    return Shot(
        id=request.id,
        request=request.model_dump(mode="json", exclude={"shots"}),
        answer=family.answer_text(request, reference, spec),
    )


def check_fewshot(family: Family, spec: TaskSpec, fewshot: FewshotSpec) -> None:
    """Refuse a ``fewshot:`` block the family cannot honour (before any data is read).

    Raises:
        TaskSpecError: ``balanced`` on a family without labels.
    """
    if fewshot.selector == "balanced" and not family.labels(spec):
        raise _error(
            f"task {spec.name}: fewshot.selector 'balanced' takes k exemplars per label, and "
            f"the {family.name} family has no labels",
            "use selector random, first, fixed or bm25",
            "selector",
        )


def _bare_hash(request: Request) -> str:
    return (request.model_copy(update={"shots": ()}) if request.shots else request).content_hash()


def random_order(ids: Sequence[str], seed: int) -> list[int]:
    """Pool positions ordered by the SHA-256 hex digest of
    ``json.dumps([seed, id], ensure_ascii=False)`` in UTF-8 (the ``random`` selector's order;
    repeated ids keep their pool order).

    Example:
        >>> random_order(["a", "b", "c"], 1234) == random_order(["a", "b", "c"], 1234)
        True
    """

    def key(i: int) -> tuple[str, int]:
        blob = json.dumps([seed, ids[i]], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest(), i

    return sorted(range(len(ids)), key=key)


def bm25_words(text: str) -> list[str]:
    """The BM25 words of ``text``: jieba words when it has CJK characters, else ``\\w+``
    words, lowercased, without tokens that hold no letter or digit.

    Example:
        >>> bm25_words("The room, CLEAN!")
        ['the', 'room', 'clean']
    """
    if _CJK.search(text):
        from bench.preprocess.segmenter import jieba_words

        return _clean(jieba_words(text))
    return [w.lower() for w in _WORD.findall(text)]


def _clean(tokens: Iterable[str]) -> list[str]:
    return [t.lower() for t in tokens if any(c.isalnum() for c in t)]


def request_words(family: Family, request: Request) -> list[str]:
    """The BM25 words of ``request``'s text fields (``family.text_fields``): the tokens a
    tokenising step produced (``{field}_tokens``, or ``tokens`` for a family with one text
    field) when there are any, else :func:`bm25_words` of the field."""
    words: list[str] = []
    for field in family.text_fields:
        tokens = getattr(request, f"{field}_tokens", None)
        if tokens is None and len(family.text_fields) == 1:
            tokens = getattr(request, "tokens", None)
        if tokens is not None:
            words.extend(_clean(tokens))
            continue
        value = getattr(request, field, None)
        if isinstance(value, str):
            words.extend(bm25_words(value))
    return words


def bm25_rankings(
    pool_words: Sequence[Sequence[str]], queries: Sequence[Sequence[str]], depth: int
) -> np.ndarray:
    """For each query, the ``depth`` best pool positions by Okapi BM25, best first.

    The model is ``rank_bm25.BM25Okapi`` fitted on ``pool_words``; its per-term weights are
    laid out as one sparse pool × vocabulary matrix, so every query is scored against the whole
    pool with one sparse product (the sum ``BM25Okapi.get_scores`` computes, term by term).
    Ties go to the earlier pool position.

    Args:
        pool_words: Each pool document's words.
        queries: Each query's words (a word repeated counts again, as in ``get_scores``).
        depth: How many positions to return per query (at most the pool's size).

    Returns:
        An ``int64`` array of shape ``(len(queries), depth)``.
    """
    from rank_bm25 import BM25Okapi
    from scipy import sparse

    n = len(pool_words)
    depth = min(depth, n)
    out = np.empty((len(queries), depth), dtype=np.int64)
    if not any(pool_words):  # no words at all: every score is 0, pool order
        out[:] = np.arange(depth)
        return out
    bm25 = BM25Okapi([list(doc) for doc in pool_words])
    vocab = {word: j for j, word in enumerate(bm25.idf)}
    idf = np.array([bm25.idf[w] for w in vocab], dtype=np.float64)
    rows, cols, tfs = [], [], []
    for i, freqs in enumerate(bm25.doc_freqs):
        for word, tf in freqs.items():
            rows.append(i)
            cols.append(vocab[word])
            tfs.append(tf)
    tf_arr = np.array(tfs, dtype=np.float64)
    doc_len = np.array(bm25.doc_len, dtype=np.float64)[rows]
    norm = bm25.k1 * (1 - bm25.b + bm25.b * doc_len / bm25.avgdl)
    weights = idf[cols] * (tf_arr * (bm25.k1 + 1) / (tf_arr + norm))
    matrix = sparse.csr_matrix((weights, (rows, cols)), shape=(n, len(vocab)))
    for start in range(0, len(queries), _BLOCK):
        block = queries[start : start + _BLOCK]
        q_rows, q_cols, q_counts = [], [], []
        for j, query in enumerate(block):
            for word, count in Counter(w for w in query if w in vocab).items():
                q_rows.append(vocab[word])
                q_cols.append(j)
                q_counts.append(count)
        q = sparse.csr_matrix(
            (np.array(q_counts, dtype=np.float64), (q_rows, q_cols)), shape=(len(vocab), len(block))
        )
        scores = np.asarray((matrix @ q).todense())  # pool x block
        order = np.argsort(-scores, axis=0, kind="stable")[:depth]
        out[start : start + len(block)] = order.T
    return out


def _pick(order: Iterable[int], skip: set[int], k: int) -> list[int]:
    chosen = []
    for i in order:
        if i in skip:
            continue
        chosen.append(i)
        if len(chosen) == k:
            break
    return chosen


def attach_shots(
    family: Family,
    spec: TaskSpec,
    fewshot: FewshotSpec,
    draw: int,
    requests: Sequence[Request],
    pool: Sequence[tuple[Request, Any]],
) -> list[Request]:
    """``requests`` with the shots of draw ``draw`` attached (a new list, same order).

    Args:
        family: The task's family (renders answers).
        spec: The task bound to one prompt variant (its verbalisers render label answers).
        fewshot: The resolved ``fewshot:`` block (``k`` after ``--num-fewshot``).
        draw: The draw index (``random`` and ``balanced`` seed with ``fewshot.seed + draw``;
            ``bm25`` takes the ``draw``-th window of ``k`` ranks).
        requests: The test requests.
        pool: ``(request, reference)`` pairs of the exemplar split.

    Raises:
        TaskSpecError: The pool cannot give ``k`` exemplars (too small; a ``fixed`` id that
            is not in it; ``balanced`` on a family without labels).
    """
    check_fewshot(family, spec, fewshot)
    k = fewshot.k
    if k == 0 or not requests:
        return [r.model_copy(update={"shots": ()}) for r in requests]
    pool_ids = [q.id for q, _ in pool]
    by_hash: dict[str, set[int]] = {}
    for i, (q, _) in enumerate(pool):
        by_hash.setdefault(_bare_hash(q), set()).add(i)
    skips = [by_hash.get(_bare_hash(r), set()) for r in requests]
    where = f"split '{fewshot.split}'"

    def too_small(have: int, need: int, req: Request, what: str = "exemplars") -> TaskSpecError:
        return _error(
            f"task {spec.name}: fewshot.k is {k} (selector {fewshot.selector}, draw {draw}) "
            f"but {where} gives only {have} {what} for test example '{req.id}' (of {len(pool)}"
            f" pool examples, after leaving out those equal to the test example); {need} needed",
            f"lower fewshot.k (or --num-fewshot){' or fewshot.draws' if draw else ''}, or "
            "give the task a larger exemplar split",
            "k",
        )

    chosen: list[list[int]]
    selector = fewshot.selector
    if selector in ("first", "random", "fixed"):
        if selector == "first":
            order = list(range(len(pool)))
        elif selector == "random":
            order = random_order(pool_ids, fewshot.seed + draw)
        else:
            order = _fixed_order(spec, fewshot, pool_ids, where)
        chosen = [_pick(order, skip, k) for skip in skips]
    elif selector == "balanced":
        chosen = _balanced(family, spec, fewshot, draw, pool, skips, where)
    else:  # bm25
        need = (draw + 1) * k
        depth = need + max((len(s) for s in skips), default=0)
        pool_words = [request_words(family, q) for q, _ in pool]
        rankings = bm25_rankings(pool_words, [request_words(family, r) for r in requests], depth)
        chosen = []
        for ranking, skip, req in zip(rankings, skips, requests, strict=True):
            ranked = _pick(ranking.tolist(), skip, need)
            if len(ranked) < need:
                raise too_small(len(ranked), need, req)
            chosen.append(ranked[draw * k :])
    shots: dict[int, Shot] = {}
    out = []
    for req, picked in zip(requests, chosen, strict=True):
        if len(picked) < k:
            raise too_small(len(picked), k, req)
        for i in picked:
            if i not in shots:
                shots[i] = shot_of(family, pool[i][0], pool[i][1], spec)
        out.append(req.model_copy(update={"shots": tuple(shots[i] for i in picked)}))
    return out


def _fixed_order(
    spec: TaskSpec, fewshot: FewshotSpec, pool_ids: Sequence[str], where: str
) -> list[int]:
    index: dict[str, int] = {}
    for i, pid in enumerate(pool_ids):
        index.setdefault(pid, i)
    order = []
    for pos, wanted in enumerate(fewshot.ids or ()):
        if wanted not in index:
            raise _error(
                f"task {spec.name}: fewshot.ids [{pos}] is '{wanted}', which is not an example "
                f"id of {where}{did_you_mean(wanted, index)}",
                f"list ids of {where} (as the data's id field gives them)",
                "ids",
            )
        order.append(index[wanted])
    return order


def _balanced(
    family: Family,
    spec: TaskSpec,
    fewshot: FewshotSpec,
    draw: int,
    pool: Sequence[tuple[Request, Any]],
    skips: Sequence[set[int]],
    where: str,
) -> list[list[int]]:
    labels = family.labels(spec)
    order = random_order([q.id for q, _ in pool], fewshot.seed + draw)
    rank = {i: r for r, i in enumerate(order)}
    per_label: dict[str, list[int]] = {label: [] for label in labels}
    for i in order:
        label = str(pool[i][1])
        if label in per_label:
            per_label[label].append(i)
    chosen = []
    for skip in skips:
        picked: list[int] = []
        for label, members in per_label.items():
            got = _pick(members, skip, fewshot.k)
            if len(got) < fewshot.k:
                raise _error(
                    f"task {spec.name}: fewshot.selector 'balanced' takes k={fewshot.k} "
                    f"exemplars per label, but {where} has only {len(got)} usable examples "
                    f"labelled '{label}' (of {len(pool)} pool examples)",
                    "lower fewshot.k, or give the task a larger exemplar split",
                    "k",
                )
            picked.extend(got)
        chosen.append(sorted(picked, key=rank.__getitem__))
    return chosen


def fewshot_hash(requests: Sequence[Request] | Sequence[Sequence[Request]]) -> str | None:
    """SHA-256 (16 hex) of the exemplar ids of every request, in order; ``None`` when no
    request has shots.

    ``requests`` is one unit's requests or a sequence of every unit's requests (in
    :meth:`~bench.protocol.Protocol.units` order); the latter hashes like the units'
    requests concatenated.
    """
    from bench.identity import short_hash

    flat: list[Request] = []
    for item in requests:
        if isinstance(item, Request):
            flat.append(item)
        else:
            flat.extend(item)
    ids = [[s.id for s in r.shots] for r in flat]
    return short_hash(ids) if any(ids) else None
