"""MovieLens-100K through the real task file (--data the original ml-100k folder).

Leave-last-out by time per user, full ranking: NDCG@10 orders random < most-popular < bpr-mf,
and the record states the protocol that produced the numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_plan

pytestmark = pytest.mark.slow

ML100K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "movielens-100k"


def test_ndcg_orders_the_baselines_and_the_record_names_the_protocol(tmp_path: Path) -> None:
    spec = find_task("movielens-100k")
    config = RunConfig(
        results=tmp_path / "results",
        bootstrap=BootstrapConfig(resamples=200),
        data={"movielens-100k": ML100K / "ml-100k"},
    )
    models = [
        parse_model_spec(f"baseline:{m}") for m in ("random", "most-popular", "item-knn", "bpr-mf")
    ]
    outcomes = run_plan(models, [spec], config)
    ndcg = {o.model: o.record.metrics["ndcg@10"].value for o in outcomes if o.record}
    print({k: round(v, 4) for k, v in ndcg.items()})
    assert ndcg["baseline:random"] < ndcg["baseline:most-popular"] < ndcg["baseline:bpr-mf"], ndcg
    record = outcomes[0].record
    assert record is not None and record.task.protocol is not None
    assert record.task.protocol["protocol"] == "leave-last-out"
    assert record.task.protocol["candidates"] == "full"
    assert record.task.protocol["users_evaluated"] == 943
    assert record.task.protocol["users_excluded"] == 0
    # Every model saw the same frozen candidates.
    hashes = {o.record.task.protocol["candidates_sha256"] for o in outcomes if o.record}
    assert len(hashes) == 1


def test_sampled_candidates_are_frozen_and_identical_for_every_model(tmp_path: Path) -> None:
    text = (
        (Path(find_task("movielens-100k").path or "").read_text(encoding="utf-8"))
        .replace("candidates: full", "candidates: sampled\n  negatives: 99\n  seed: 7")
        .replace("name: movielens-100k", "name: ml100k-sampled")
    )
    path = tmp_path / "ml100k-sampled.yaml"
    path.write_text(text, encoding="utf-8")
    spec = find_task(str(path))
    family = __import__("bench.families.base", fromlist=["get_family"]).get_family(spec.family)
    first = family.prepare(spec, data_override=ML100K / "ml-100k", limit=None)
    again = family.prepare(spec, data_override=ML100K / "ml-100k", limit=None)
    assert first.info["candidates_sha256"] == again.info["candidates_sha256"]
    assert [r.candidates for r in first.requests] == [r.candidates for r in again.requests]
    for request, targets in zip(first.requests, first.references, strict=True):
        assert len(request.candidates) == 100 and set(targets) <= set(request.candidates)
        assert not set(request.history) & set(request.candidates)
    assert first.info["candidates"] == "sampled" and first.info["negatives"] == 99
