"""Benchmark: the LLM judge's throughput through the fixture OpenAI-compatible server.

The smoke translation task's requests are repeated (each copy's output perturbed, so every
segment is distinct) up to N segments (2,000 at full scale, 300 reduced;
``BENCH_JUDGE_SEGMENTS`` overrides) and judged with ``gemba-da`` by the fixture server on
127.0.0.1, which answers at once (``85``), four requests in flight (the fixture's listen
backlog is 5: more connections at once get resets, retried after a backoff). Three timings:

* the judge: :func:`~bench.metrics.base.score_task` with ``judge``, no segment cache;
* the adapter alone: the judge's own bound ``openai:`` adapter's ``predict`` on the same
  rendered prompts (HTTP, JSON, asyncio; what any client pays);
* a re-score from the segment cache (SQLite): no request sent.

It prints judged segments/s and bench's overhead per judgement (judge − adapter, over the
judgements), and asserts only that every segment was judged and the cache sent nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cache import PredictionCache
from bench.families.generation import TextResponse
from bench.families.judge import JudgeRequest
from bench.families.prompts import render_template
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.judge import Judge
from bench.metrics.model_based import segments
from tests.fixtures.openai_server import OpenAIServer
from tests.perf.conftest import Scale
from tests.perf.workloads import best_of, perturb, smoke_examples


def _context(n: int, cache: PredictionCache | None = None) -> ScoringContext:
    spec, requests, references = smoke_examples("translation-zh-en", n)
    m = len(set(r.id for r in requests))
    return ScoringContext(
        spec=spec,
        requests=requests,
        references=references,
        responses=[TextResponse(text=perturb(r[0], i // m)) for i, r in enumerate(references)],
        bootstrap=BootstrapConfig(resamples=0),
        segment_cache=cache,
    )


def test_judge_throughput(scale: Scale, tmp_path: Path) -> None:
    n = scale.pick(2000, 100, "BENCH_JUDGE_SEGMENTS")
    with OpenAIServer() as server:
        server.faults.script = {"Score:": ["85"]}
        model = f"openai:judge,base_url={server.base_url},concurrency=4"
        metric = Judge(model=model, template="gemba-da")
        ctx = _context(n)
        distinct = len({s.key() for s in segments(ctx)})
        adapter = metric.adapter()
        template = metric.judge_template.aspects[0][1]
        requests = [  # the prompts the judge sends, as it renders them
            JudgeRequest(
                id=str(i),
                language="en",
                prompt=render_template(template, metric._values(s, ctx), where="perf"),
            )
            for i, s in enumerate(dict.fromkeys(segments(ctx)))
        ]

        def judge() -> Any:
            fresh = _context(n)
            got = score_task(fresh, [Judge(model=model, template="gemba-da")])[0]
            assert got["judge"].n == n and got["judge"].value == 85

        def direct() -> Any:
            answers = adapter.predict(requests)
            assert all(getattr(a, "text", None) == "85" for a in answers)

        t_judge, t_direct = best_of(2, judge, direct)
        cache = PredictionCache(tmp_path / "cache.sqlite")
        score_task(_context(n, cache), [Judge(model=model, template="gemba-da")])
        sent = server.faults.requests
        cached_ctx = _context(n, cache)
        (t_cached,) = best_of(
            2, lambda: score_task(_context(n, cache), [Judge(model=model, template="gemba-da")])
        )
        score_task(cached_ctx, [Judge(model=model, template="gemba-da")])
        assert server.faults.requests == sent
        assert cached_ctx.segment_counts["judge"]["computed"] == 0
    overhead_ms = (t_judge - t_direct) / distinct * 1000
    print(
        f"\njudge ({scale.name}): {n} segments ({distinct} distinct), gemba-da, 1 repeat, "
        f"fixture server, concurrency 4\n"
        f"  judge:          {t_judge:.3f} s  {n / t_judge:,.0f} segments/s\n"
        f"  adapter alone:  {t_direct:.3f} s  {distinct / t_direct:,.0f} judgements/s\n"
        f"  bench overhead: {overhead_ms:.3f} ms per judgement "
        f"(render, requests, parse, cache writes off)\n"
        f"  cached re-score: {t_cached:.3f} s  {n / t_cached:,.0f} segments/s (no request)"
    )
