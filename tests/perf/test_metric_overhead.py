"""Benchmark: bench's metric stage against direct calls of the reference libraries, per family.

For each family the smoke task's real requests and references are repeated (each copy with its
own deterministic perturbation of the prediction) up to N examples (10,000 at full scale, 1,000
reduced; ``BENCH_PERF_EXAMPLES`` overrides), and the same predictions are scored twice:

* by bench: :func:`bench.metrics.base.score_task` with the task's metrics, no intervals;
* directly: sacrebleu's corpus BLEU/chrF/TER; rouge-score's ``RougeScorer`` in one loop;
  scikit-learn's ``accuracy_score`` / ``f1_score``; the SQuAD v1.1 EM/F1 definitions in one loop
  (with the official normalisation, :func:`bench.metrics.qa.squad_normalize`); ranx's
  ``evaluate`` (its numba kernels compiled by a warm-up first).

It prints both times and their ratio (bench / direct: the overhead of bench's metric stage,
per-example statistics included) and asserts only that the numbers agree. ROUGE is the
exception to "overhead": bench computes rouge-score's numbers itself, faster than the
rouge-score loop, so its ratio is well below 1 (``test_rouge_speed.py`` has the comparison).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bench.families.generation import TextResponse
from bench.families.recommendation import RankingResponse
from bench.families.sentiment import SentimentResponse
from bench.metrics.base import BootstrapConfig, Metric, ScoringContext, score_task
from bench.metrics.qa import squad_normalize
from bench.registry import registry
from tests.perf.workloads import perturb, smoke_examples

pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaTypeSafetyWarning")


def _metrics(spec: Any, names: list[str]) -> list[Metric]:
    return [
        registry.get("metric", m.name)(**m.params) for m in spec.metrics if m.name in set(names)
    ]


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _report(family: str, n: int, what: str, ours: float, theirs: float) -> None:
    print(
        f"\n{family}, {n} examples: bench {ours:.3f} s, {what} {theirs:.3f} s, "
        f"overhead x{ours / theirs:.2f}"
    )


def _bench(spec: Any, requests: list, references: list, responses: list, names: list[str]):
    # Warm-up on a few examples: imports and first-call set-up are not the metric stage's cost.
    none = BootstrapConfig(resamples=0)
    few = ScoringContext(spec, requests[:20], references[:20], responses[:20], none)
    score_task(few, _metrics(spec, names))
    ctx = ScoringContext(spec, requests, references, responses, none)
    seconds, (values, skipped, _) = _time(lambda: score_task(ctx, _metrics(spec, names)))
    assert not skipped, skipped
    return seconds, {k: v.value for k, v in values.items()}


def test_translation_bleu_chrf_ter_vs_sacrebleu(scale: Any) -> None:
    import sacrebleu

    n = scale.pick(10_000, 300, "BENCH_PERF_EXAMPLES")
    spec, requests, references = smoke_examples("translation-zh-en", n)
    m = len({r.id for r in requests})
    hyps = [perturb(refs[0], i // m) for i, refs in enumerate(references)]
    responses = [TextResponse(text=h) for h in hyps]
    ours_s, ours = _bench(spec, requests, references, responses, ["bleu", "chrf", "ter"])

    streams = [list(s) for s in zip(*references, strict=True)]

    def direct() -> dict[str, float]:
        return {
            "bleu": sacrebleu.corpus_bleu(hyps, streams).score,
            "chrf": sacrebleu.corpus_chrf(hyps, streams).score,
            "ter": sacrebleu.corpus_ter(hyps, streams).score,
        }

    theirs_s, theirs = _time(direct)
    _report("translation (BLEU, chrF, TER)", n, "sacrebleu corpus_*", ours_s, theirs_s)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


def test_summarization_rouge_vs_rouge_score(scale: Any, nltk_data: Any) -> None:
    """ROUGE-1/2/L/Lsum, as the task lists them, against rouge-score computing the same four
    (``split_summaries=True``: NLTK sentences for ROUGE-Lsum, as bench splits English)."""
    from rouge_score.rouge_scorer import RougeScorer

    n = scale.pick(10_000, 300, "BENCH_PERF_EXAMPLES")
    spec, requests, references = smoke_examples("summarization-en", n)
    m = len({r.id for r in requests})
    preds = [perturb(refs[0], 1 + i // m) for i, refs in enumerate(references)]
    responses = [TextResponse(text=p) for p in preds]
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert set(types) <= {m.name for m in spec.metrics}
    metrics = [registry.get("metric", t)(processes=1) for t in types]
    ctx = ScoringContext(spec, requests, references, responses, BootstrapConfig(resamples=0))
    ours_s, (values, _, _) = _time(lambda: score_task(ctx, metrics))

    scorer = RougeScorer(types, use_stemmer=True, split_summaries=True)

    def direct() -> list[dict[str, Any]]:
        return [scorer.score(refs[0], p) for p, refs in zip(preds, references, strict=True)]

    theirs_s, plain = _time(direct)
    _report("summarization (ROUGE-1/2/L/Lsum, 1 process)", n, "rouge-score loop", ours_s, theirs_s)
    for t in types:
        mean = float(np.mean([s[t].fmeasure for s in plain]))
        assert values[t].value == pytest.approx(mean, rel=1e-12), t


def test_sentiment_accuracy_macro_f1_vs_sklearn(scale: Any) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    n = scale.pick(10_000, 300, "BENCH_PERF_EXAMPLES")
    spec, requests, references = smoke_examples("sentiment-en", n)
    labels = list(requests[0].labels)
    rng = np.random.default_rng(3)
    flip = rng.random(n) < 0.3
    preds = [
        labels[(labels.index(ref) + 1) % len(labels)] if f else ref
        for ref, f in zip(references, flip, strict=True)
    ]
    responses = [SentimentResponse(label=p) for p in preds]
    ours_s, ours = _bench(spec, requests, references, responses, ["accuracy", "macro_f1"])

    def direct() -> dict[str, float]:
        return {
            "accuracy": float(accuracy_score(references, preds)),
            "macro_f1": float(f1_score(references, preds, average="macro", labels=labels)),
        }

    theirs_s, theirs = _time(direct)
    _report("sentiment (accuracy, macro-F1)", n, "scikit-learn", ours_s, theirs_s)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name


def _squad_direct(preds: list[str], golds: list[tuple[str, ...]]) -> dict[str, float]:
    """The SQuAD v1.1 definitions, as the official script loops over examples."""

    def f1(pred: str, gold: str) -> float:
        p, g = squad_normalize(pred).split(), squad_normalize(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(p), common / len(g)
        return 2 * precision * recall / (precision + recall)

    em = f1_total = 0.0
    for pred, answers in zip(preds, golds, strict=True):
        em += max(float(squad_normalize(pred) == squad_normalize(a)) for a in answers)
        f1_total += max(f1(pred, a) for a in answers)
    return {"squad_em": 100 * em / len(preds), "squad_f1": 100 * f1_total / len(preds)}


def test_qa_squad_em_f1_vs_the_official_definitions(scale: Any) -> None:
    n = scale.pick(10_000, 300, "BENCH_PERF_EXAMPLES")
    spec, requests, references = smoke_examples("qa-en", n)
    m = len({r.id for r in requests})
    preds = [perturb(refs[0], i // m) for i, refs in enumerate(references)]
    responses = [TextResponse(text=p) for p in preds]
    ours_s, ours = _bench(spec, requests, references, responses, ["squad_em", "squad_f1"])
    theirs_s, theirs = _time(lambda: _squad_direct(preds, references))
    _report("qa (SQuAD EM, F1)", n, "official definitions, one loop", ours_s, theirs_s)
    for name, value in theirs.items():  # both on the official scripts' 0-100 scale
        assert ours[name] == pytest.approx(value, abs=1e-9), name


def test_recommendation_ranking_vs_ranx(scale: Any) -> None:
    ranx = pytest.importorskip("ranx")
    n = scale.pick(10_000, 300, "BENCH_PERF_EXAMPLES")
    spec, requests, references = smoke_examples("recommendation-synthetic", n)
    rng = np.random.default_rng(5)
    responses, qrels, run = [], {}, {}
    for i, (req, ref) in enumerate(zip(requests, references, strict=True)):
        order = rng.permutation(len(req.candidates))
        ranked = tuple(req.candidates[j] for j in order)
        responses.append(RankingResponse(ranked=ranked))
        qrels[f"q{i}"] = {item: 1 for item in ref}
        run[f"q{i}"] = {item: float(len(ranked) - r) for r, item in enumerate(ranked)}
    names = ["ndcg@10", "hit_rate@10", "mrr", "map@10", "recall@10"]
    ours_s, ours = _bench(
        spec, requests, references, responses, ["ndcg", "hit_rate", "mrr", "map", "recall"]
    )
    few = list(qrels)[:100]  # compile ranx's kernels first (>= 10 queries keeps it threaded)
    ranx.evaluate(ranx.Qrels({q: qrels[q] for q in few}), ranx.Run({q: run[q] for q in few}), names)
    theirs_s, theirs = _time(lambda: ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), names))
    _report("recommendation (NDCG@10, HR@10, MRR, MAP@10, R@10)", n, "ranx", ours_s, theirs_s)
    for name in names:
        assert ours[name] == pytest.approx(float(theirs[name]), abs=1e-9), name
