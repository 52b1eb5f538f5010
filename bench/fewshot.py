"""In-context examples (exemplars) for prompted adapters: the ``fewshot:`` block of a task.

:func:`attach_shots` gives every test request of one exemplar draw its
:class:`~bench.families.base.Shot` s, chosen from the exemplar pool (the task's
``fewshot.split``, preprocessed like the test split). The shots travel inside the request, so
they are part of its content hash (the cache key) and of what :mod:`bench.adapters.prompting`
renders.

Selectors (``fewshot.selector``): ``first``, ``random``, ``fixed``, ``bm25``, ``balanced`` (see
:class:`~bench.spec.FewshotSpec`). An exemplar whose content hash equals the test request's
is never used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.families.base import Family, Request, Shot
from bench.spec import FewshotSpec, TaskSpec

__all__ = ["attach_shots", "fewshot_hash", "shot_of"]


def shot_of(family: Family, request: Request, reference: Any, spec: TaskSpec) -> Shot:
    """The :class:`Shot` of one pool example: its request (without shots) and the gold
    answer as ``spec``'s prompt shows it (:meth:`Family.answer_text`)."""
    return Shot(
        id=request.id,
        request=request.model_dump(mode="json", exclude={"shots"}),
        answer=family.answer_text(request, reference, spec),
    )


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
        draw: The draw index (``random`` and ``balanced`` seed with ``fewshot.seed + draw``).
        requests: The test requests.
        pool: ``(request, reference)`` pairs of the exemplar split.

    Raises:
        TaskSpecError: The pool cannot give ``k`` exemplars (too small; a ``fixed`` id that
            is not in it; ``balanced`` on a family without labels).
    """
    test_hashes = [r.content_hash() for r in requests]
    pool_hashes = [q.content_hash() for q, _ in pool]
    shots = [shot_of(family, q, ref, spec) for q, ref in pool]
    out = []
    for req, own in zip(requests, test_hashes, strict=True):
        chosen = [s for s, h in zip(shots, pool_hashes, strict=True) if h != own][: fewshot.k]
        out.append(req.model_copy(update={"shots": tuple(chosen)}))
    return out


def fewshot_hash(requests: Sequence[Request]) -> str | None:
    """SHA-256 (16 hex) of every request's exemplar ids, in order; ``None`` when no request
    has shots."""
    from bench.identity import short_hash

    ids = [[s.id for s in r.shots] for r in requests]
    return short_hash(ids) if any(ids) else None
