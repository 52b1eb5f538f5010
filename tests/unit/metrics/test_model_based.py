"""The machinery every model-based metric shares (:mod:`bench.metrics.model_based`).

A small but real model-based metric (:class:`CharOverlap`: per segment, the share of the
hypothesis's characters found in the best reference, and a second output, the length ratio)
is scored on the smoke translation task, so the segment cache, batching with out-of-memory
halving, progress, failed segments, intervals and paired declarations are exercised on real
text without a model download. Out-of-memory comes from torch's own allocator, asked for more
memory than any machine has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.errors import BenchError, MissingDependency
from bench.families.generation import TextResponse
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.model_based import (
    ModelMetric,
    Segment,
    folder_sha256,
    local_model,
    run_batches,
    segments,
)
from bench.metrics.paired import PerExampleMean
from bench.stages import RunConfig, prepare


class CharOverlap(ModelMetric):
    """Share of the hypothesis's characters that occur in the best reference (and the
    hypothesis/reference length ratio); ``fail_on`` marks hypotheses it refuses to score,
    ``oom_above`` makes batches larger than that ask torch for an impossible allocation."""

    name: ClassVar[str] = "char_overlap"
    outputs: ClassVar[tuple[str, ...]] = ("overlap", "ratio")
    auto_batch_start: ClassVar[int] = 8
    calls: ClassVar[list[int]] = []

    fail_on: str | None = None
    oom_above: int | None = None
    salt: int = 0

    def identity(self, ctx: ScoringContext) -> dict[str, Any]:
        return {"salt": self.salt, "fail_on": self.fail_on}

    def signature_parts(self, ctx: ScoringContext) -> list[str]:
        return [f"salt:{self.salt}"]

    def compute(self, batch: Sequence[Segment], ctx: ScoringContext) -> list[Any]:
        if self.oom_above is not None and len(batch) > self.oom_above:
            torch.empty(10**14, dtype=torch.uint8)  # more than any machine: a real OOM
        type(self).calls.append(len(batch))
        out: list[dict[str, float] | None] = []
        for seg in batch:
            if self.fail_on is not None and self.fail_on in seg.hypothesis:
                out.append(None)
                continue
            best = max(
                (sum(c in ref for c in seg.hypothesis) / max(len(seg.hypothesis), 1), ref)
                for ref in seg.references
            )
            out.append({"overlap": best[0], "ratio": len(seg.hypothesis) / max(len(best[1]), 1)})
        return out


@pytest.fixture(scope="module")
def prepared() -> Any:
    task = find_task("translation-zh-en", []).bind_variant("default")
    return task, prepare(task, RunConfig(results=Path("unused")))


def _ctx(prepared: Any, responses: list[Any] | None = None, **kw: Any) -> ScoringContext:
    task, prep = prepared
    if responses is None:
        responses = [TextResponse(text=r[0]) for r in prep.references]  # perfect outputs
    return ScoringContext(task, prep.requests, prep.references, responses, **kw)


def _copy_outputs(prepared: Any) -> list[Any]:
    _, prep = prepared
    return [TextResponse(text=req.source) for req in prep.requests]


def test_segments_read_the_family_source_and_score_failures_as_empty(prepared: Any) -> None:
    _, prep = prepared
    responses: list[Any] = _copy_outputs(prepared)
    responses[0] = None
    segs = segments(_ctx(prepared, responses))
    assert segs[0].hypothesis == ""
    assert segs[1].source == prep.requests[1].source == segs[1].hypothesis
    assert segs[1].references == tuple(prep.references[1])
    assert len({s.key() for s in segs}) == len(segs)


def test_values_are_means_with_bootstrap_intervals(prepared: Any) -> None:
    ctx = _ctx(prepared, _copy_outputs(prepared), bootstrap=BootstrapConfig(resamples=200))
    values, skipped, per_example = score_task(ctx, [CharOverlap()])
    assert not skipped
    column = np.array([row["char_overlap"] for row in per_example])
    assert values["char_overlap"].value == pytest.approx(column.mean(), abs=1e-12)
    assert values["char_overlap"].n == ctx.n
    low, high = values["char_overlap"].ci_low, values["char_overlap"].ci_high
    assert low is not None and high is not None and low <= column.mean() <= high
    ratio = np.array([row["char_overlap/ratio"] for row in per_example])
    assert values["char_overlap/ratio"].value == pytest.approx(ratio.mean(), abs=1e-12)
    assert values["char_overlap"].signature.startswith("char_overlap|overlap|salt:0|boot:200")
    assert isinstance(CharOverlap().paired("char_overlap/ratio"), PerExampleMean)
    assert CharOverlap().paired("bleu") is None


def test_segment_cache_second_scoring_computes_nothing(prepared: Any, tmp_path: Path) -> None:
    with PredictionCache(tmp_path / "c.sqlite") as cache:
        CharOverlap.calls.clear()
        first = _ctx(prepared, _copy_outputs(prepared), segment_cache=cache)
        v1, _, _ = score_task(first, [CharOverlap()])
        n = first.n
        assert first.segment_counts["char_overlap"] == {
            "segments": n,
            "hits": 0,
            "computed": n,
            "failed": 0,
        }
        assert sum(CharOverlap.calls) == n
        CharOverlap.calls.clear()
        second = _ctx(prepared, _copy_outputs(prepared), segment_cache=cache)
        v2, _, _ = score_task(second, [CharOverlap()])
        assert CharOverlap.calls == []
        assert second.segment_counts["char_overlap"]["hits"] == n
        assert second.segment_counts["char_overlap"]["computed"] == 0
        assert v1 == v2
        # Another model whose outputs overlap: only the new segments are computed.
        mixed = _copy_outputs(prepared)
        mixed[0] = TextResponse(text="a different output")
        third = _ctx(prepared, mixed, segment_cache=cache)
        score_task(third, [CharOverlap()])
        assert CharOverlap.calls == [1]
        # Another metric identity (salt) shares nothing.
        CharOverlap.calls.clear()
        fourth = _ctx(prepared, _copy_outputs(prepared), segment_cache=cache)
        score_task(fourth, [CharOverlap(salt=1)])
        assert sum(CharOverlap.calls) == n


def test_batch_size_changes_no_cache_key(prepared: Any, tmp_path: Path) -> None:
    ctx = _ctx(prepared)
    assert CharOverlap(batch_size=2).fingerprint(ctx) == CharOverlap(batch_size=64).fingerprint(ctx)
    assert CharOverlap(device="cpu").fingerprint(ctx) == CharOverlap().fingerprint(ctx)
    assert CharOverlap(salt=3).fingerprint(ctx) != CharOverlap().fingerprint(ctx)


def test_auto_batch_size_halves_on_a_real_out_of_memory(prepared: Any) -> None:
    CharOverlap.calls.clear()
    ctx = _ctx(prepared, _copy_outputs(prepared))
    reference, _, _ = score_task(_ctx(prepared, _copy_outputs(prepared)), [CharOverlap()])
    CharOverlap.calls.clear()
    values, _, _ = score_task(ctx, [CharOverlap(oom_above=3)])
    assert max(CharOverlap.calls) == 2  # 8 → 4 → 2, then kept
    assert sum(CharOverlap.calls) == ctx.n
    assert values["char_overlap"].value == reference["char_overlap"].value


def test_fixed_batch_size_out_of_memory_is_a_clear_error(prepared: Any) -> None:
    ctx = _ctx(prepared, _copy_outputs(prepared))
    with pytest.raises(BenchError, match="out of memory") as info:
        score_task(ctx, [CharOverlap(batch_size=8, oom_above=3)])
    assert "batch_size" in (info.value.fix or "")


def test_failed_segments_are_left_out_and_counted_never_zero(prepared: Any) -> None:
    responses = _copy_outputs(prepared)
    responses[0] = TextResponse(text="UNSCORABLE")
    responses[1] = TextResponse(text="UNSCORABLE")
    ctx = _ctx(prepared, responses)
    values, _, per_example = score_task(ctx, [CharOverlap(fail_on="UNSCORABLE")])
    assert per_example[0]["char_overlap"] is None and per_example[1]["char_overlap"] is None
    kept = [row["char_overlap"] for row in per_example if row["char_overlap"] is not None]
    assert values["char_overlap"].n == ctx.n - 2
    assert values["char_overlap"].value == pytest.approx(math.fsum(kept) / len(kept), abs=1e-12)
    assert ctx.segment_counts["char_overlap"]["failed"] == 2


def test_progress_reports_segments(prepared: Any) -> None:
    seen: list[tuple[str, int, int]] = []
    ctx = _ctx(prepared, _copy_outputs(prepared), progress=lambda m, d, t: seen.append((m, d, t)))
    score_task(ctx, [CharOverlap(batch_size=2)])
    # score_task reports the metric's start and the end (0/1, 1/1) around its segments
    assert (seen[0], seen[-1]) == (("char_overlap", 0, 1), ("char_overlap", 1, 1))
    seen = seen[1:-1]
    assert seen[0] == ("char_overlap", 0, ctx.n)
    assert seen[-1] == ("char_overlap", ctx.n, ctx.n)
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)


def test_run_batches_keeps_order_and_refuses_wrong_lengths() -> None:
    assert run_batches(lambda b: [x + 1 for x in b], list(range(7)), 3) == list(range(1, 8))
    with pytest.raises(BenchError, match="2 score"):
        run_batches(lambda b: [0, 0], [1, 2, 3], 3)
    with pytest.raises(ValueError):  # other errors are bugs: they propagate unchanged
        run_batches(lambda b: [int("x")], [1], 1)


def test_local_model_hashes_a_folder_and_names_the_download(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    found = local_model(str(folder), metric="m")
    assert found.tag == f"local:tiny@sha256:{folder_sha256(folder)[:12]}"
    (folder / "config.json").write_text('{"a": 2}')
    assert local_model(str(folder), metric="m").identity != found.identity
    with pytest.raises(MissingDependency, match="no-such-org/no-such-model") as info:
        local_model("no-such-org/no-such-model", metric="m")
    assert "hf download no-such-org/no-such-model" in (info.value.fix or "")


def test_optional_metrics_leave_the_spec_hash_alone() -> None:
    from bench.spec import MetricSpec

    task = find_task("translation-zh-en", [])
    assert [m.name for m in task.optional_metrics][:3] == ["bertscore", "comet", "cometkiwi"]
    added = task.with_metrics([MetricSpec(name="bertscore", params={"model": "/m"})])
    assert [m.name for m in added.metrics][-1] == "bertscore"
    assert added.added_metrics == ("bertscore",)
    assert added.spec_hash() == task.spec_hash()
    assert added.bind_variant("default").added_metrics == ("bertscore",)
    assert added.metrics[-1].params == {"model": "/m"}


def test_a_metric_that_scores_no_segment_is_skipped_with_the_reason(prepared: Any) -> None:
    responses = [TextResponse(text="UNSCORABLE") for _ in _copy_outputs(prepared)]
    ctx = _ctx(prepared, responses)
    values, skipped, per_example = score_task(ctx, [CharOverlap(fail_on="UNSCORABLE")])
    assert "char_overlap" not in values and "char_overlap/ratio" not in values
    assert skipped["char_overlap"].startswith(f"no segment could be scored ({ctx.n} of {ctx.n}")
    assert "char_overlap" not in per_example[0]
    assert ctx.segment_counts["char_overlap"]["failed"] == ctx.n


def test_an_empty_model_name_is_refused_not_read_as_the_current_folder() -> None:
    with pytest.raises(BenchError, match="empty"):
        local_model("", metric="m")
    with pytest.raises(BenchError, match="empty"):
        local_model("  ", metric="m")
