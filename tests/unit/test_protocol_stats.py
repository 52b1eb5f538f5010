"""The statistics of multi-unit runs (prompt variants × exemplar draws × samples).

The two-level bootstrap of :mod:`bench.metrics.units` is cross-checked against a plain Python
double loop over the same seeded draws that recomputes every unit's metric with scikit-learn or
sacrebleu directly; ``pass@k`` against enumerating every k-subset of the samples.
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
import sacrebleu
from sklearn.metrics import f1_score

from bench.families.generation import TextResponse
from bench.families.qa import QARequest
from bench.families.sentiment import SentimentRequest, SentimentResponse
from bench.families.translation import TranslationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.resampling import percentile_ci
from bench.metrics.sampling import pass_at_k, pass_ks, sampling_metrics
from bench.metrics.units import UnitScores, aggregate, unit_draws
from bench.protocol import Unit
from bench.registry import registry
from bench.spec import TaskSpec, parse_task

LABELS = ["negative", "positive"]

_SENTIMENT = """\
name: stats-sentiment
version: 1
family: sentiment
languages: [en]
description: Carries labels and metrics for the multi-unit statistics tests.
labels: [negative, positive]
source:
  kind: builtin
  location: smoke/sentiment-en
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
metrics: [accuracy, macro_f1, confusion_matrix, ece]
primary_metric: accuracy
"""

_TRANSLATION = """\
name: stats-mt
version: 1
family: translation
languages: [de, en]
description: Carries the BLEU metric for the multi-unit statistics tests.
source:
  kind: local
  location: unused
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
metrics: [bleu]
primary_metric: bleu
"""

_QA = """\
name: stats-qa
version: 1
family: qa
languages: [en]
description: Carries the QA metrics for the multi-unit statistics tests.
source:
  kind: local
  location: unused
  format: json
  files: {test: dev.json}
  splits: {test: test}
metrics: [squad_em, squad_f1]
primary_metric: squad_em
"""


def build_metrics(task: TaskSpec) -> list:
    return [registry.get("metric", m.name)(**m.params) for m in task.metrics]


def unit_scores(task, metrics, requests, refs, responses, unit, boot) -> UnitScores:
    ctx = ScoringContext(task, requests, refs, responses, boot)
    values, _, per_example = score_task(ctx, metrics)
    segments = {}
    for metric in metrics:
        rows = metric.segment_statistics(ctx)
        if rows is not None:
            segments[metric.name] = rows
    return UnitScores(unit, values, per_example, segments, responses)


def sentiment_case(n: int, units: list[Unit], seed: int = 0):
    task = parse_task(_SENTIMENT)
    rng = np.random.default_rng(seed)
    gold = [LABELS[i] for i in rng.integers(0, 2, n)]
    requests = [
        SentimentRequest(id=f"s{i}", language="en", text=f"t{i}", labels=tuple(LABELS))
        for i in range(n)
    ]
    preds: dict[Unit, list[str | None]] = {}
    for k, unit in enumerate(units):
        # each unit right with its own probability, sometimes without an answer
        p = 0.55 + 0.1 * (k % 4)
        row: list[str | None] = []
        for g in gold:
            r = rng.random()
            row.append(None if r > 0.95 else g if r < p else LABELS[1 - LABELS.index(g)])
        preds[unit] = row
    return task, requests, gold, preds


def responses_of(preds: list[str | None]) -> list[SentimentResponse | None]:
    return [None if p is None else SentimentResponse(label=p) for p in preds]


def grid(variants=("a", "b"), draws=2, samples=1) -> list[Unit]:
    return [Unit(v, d, s) for v in variants for d in range(draws) for s in range(samples)]


# --------------------------------------------------------------------------- one unit


def test_one_unit_headline_is_the_single_run_exactly() -> None:
    boot = BootstrapConfig(resamples=200, seed=3)
    units = [Unit()]
    task, requests, gold, preds = sentiment_case(40, units)
    metrics = build_metrics(task)
    us = unit_scores(task, metrics, requests, gold, responses_of(preds[units[0]]), units[0], boot)
    headline, result = aggregate(
        task, metrics, requests, gold, [us], boot, identity={}, fewshot_hash=None
    )
    assert headline == us.values  # values, intervals, tables: byte for byte the single run
    assert headline["accuracy"].ci_low is not None
    assert result.spread == {} and result.sampling == {}


def test_one_unit_resampling_reproduces_the_corpus_and_mean_intervals() -> None:
    """The engine itself, on one unit, gives each metric's own single-run interval."""
    from bench.metrics.units import _view, unit_values

    boot = BootstrapConfig(resamples=300, seed=11)
    task = parse_task(_TRANSLATION)
    metrics = build_metrics(task)
    refs = [(f"the cat sat on mat number {i} today",) for i in range(20)]
    hyps = [f"the cat sat on the mat {i}" if i % 3 else f"a dog {i} today" for i in range(20)]
    requests = [
        TranslationRequest(
            id=str(i), language="en", source="x", source_language="de", target_language="en"
        )
        for i in range(20)
    ]
    us = unit_scores(
        task, metrics, requests, refs, [TextResponse(text=h) for h in hyps], Unit(), boot
    )
    bleu = us.values["bleu"]
    got = unit_values(
        metrics[0].paired("bleu"), [_view(us, requests, refs)], [bleu.value], boot, metric="bleu"
    )
    assert not isinstance(got, str)
    assert percentile_ci(got[:, 0], boot.confidence) == (bleu.ci_low, bleu.ci_high)

    qa = parse_task(_QA)
    qa_metrics = build_metrics(qa)
    golds = [(f"answer {i}",) for i in range(25)]
    answers = [f"answer {i}" if i % 2 else f"answer {i} extra words" for i in range(25)]
    qreq = [QARequest(id=f"q{i}", language="en", question="?", context="") for i in range(25)]
    uq = unit_scores(
        qa, qa_metrics, qreq, golds, [TextResponse(text=a) for a in answers], Unit(), boot
    )
    f1 = uq.values["squad_f1"]
    got = unit_values(qa_metrics[1].paired("squad_f1"), [_view(uq, qreq, golds)], [f1.value], boot)
    assert not isinstance(got, str)
    low, high = percentile_ci(got[:, 0], boot.confidence)
    assert low == pytest.approx(f1.ci_low, abs=1e-9) and high == pytest.approx(f1.ci_high, abs=1e-9)


# --------------------------------------------------------------------------- several units


def brute_force(units, draws, boot, n, unit_metric) -> tuple[float, float]:
    """The two-level bootstrap as a plain double loop: resample by resample, unit by unit."""
    indices = boot.resample_indices(n)
    vi, di, si = draws.indices
    by_key = {(u.variant, u.draw, u.sample): u for u in units}
    values = []
    for b in range(boot.resamples):
        idx = indices[b]
        chosen = [
            by_key[(draws.variants[v], draws.draws[d], draws.samples[s])]
            for v in vi[b]
            for d in di[b]
            for s in si[b]
        ]
        values.append(statistics.fmean(unit_metric(u, idx) for u in chosen))
    return percentile_ci(np.asarray(values), boot.confidence)


@pytest.mark.parametrize("samples", [1, 2])
def test_several_units_equal_a_brute_force_double_loop(samples: int) -> None:
    boot = BootstrapConfig(resamples=200, seed=5)
    units = grid(("plain", "polite", "terse"), draws=2, samples=samples)
    n = 30
    task, requests, gold, preds = sentiment_case(n, units, seed=1)
    metrics = build_metrics(task)
    scored = [
        unit_scores(task, metrics, requests, gold, responses_of(preds[u]), u, boot) for u in units
    ]
    headline, result = aggregate(
        task, metrics, requests, gold, scored, boot, identity={"x": 1}, fewshot_hash=None
    )
    draws = unit_draws(units, boot)
    g = np.array([LABELS.index(x) for x in gold])
    enc = {u: np.array([2 if p is None else LABELS.index(p) for p in preds[u]]) for u in units}

    def accuracy(u, idx):
        return float(np.mean(g[idx] == enc[u][idx]))

    def macro_f1(u, idx):
        gold_b, pred_b = g[idx], enc[u][idx]
        f1s = []
        for c in (0, 1):
            tp = int(np.sum((gold_b == c) & (pred_b == c)))
            wrong = int(np.sum((gold_b == c) != (pred_b == c)))
            f1s.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
        return statistics.fmean(f1s)

    idx0 = boot.resample_indices(n)[0]
    for u in units:  # the direct F1 is scikit-learn's
        assert macro_f1(u, idx0) == pytest.approx(
            f1_score(g[idx0], enc[u][idx0], labels=[0, 1], average="macro", zero_division=0)
        )

    for name, fn in (("accuracy", accuracy), ("macro_f1", macro_f1)):
        value = headline[name]
        assert value.value == pytest.approx(statistics.fmean(s.values[name].value for s in scored))
        low, high = brute_force(units, draws, boot, n, fn)
        assert value.ci_low == pytest.approx(low, abs=1e-12), name
        assert value.ci_high == pytest.approx(high, abs=1e-12), name
        # resampling the variants widens the interval beyond one unit's
        assert value.ci_high - value.ci_low > 0
    # the table is the sum of the units' tables; ECE has no two-level resampling
    total = sum(np.array(s.values["confusion_matrix"].value["matrix"]) for s in scored)
    assert headline["confusion_matrix"].value["matrix"] == total.tolist()
    assert headline["confusion_matrix"].n == n * len(units)
    assert "ece" not in headline or headline["ece"].ci_low is None
    if "ece" in headline:
        assert "two-level" in (headline["ece"].ci_reason or "")
    assert set(result.spread["accuracy"]) == (
        {"variants", "draws", "samples"} if samples > 1 else {"variants", "draws"}
    )


def test_bleu_over_units_equals_sacrebleu_in_a_double_loop() -> None:
    boot = BootstrapConfig(resamples=100, seed=9)
    task = parse_task(_TRANSLATION)
    metrics = build_metrics(task)
    n = 12
    refs = [(f"the cat number {i} sat on the red mat",) for i in range(n)]
    requests = [
        TranslationRequest(
            id=str(i), language="en", source="x", source_language="de", target_language="en"
        )
        for i in range(n)
    ]
    units = grid(("a", "b"), draws=2)
    hyps = {
        u: [f"the cat number {i} sat on {'a' if (i + k) % 3 else 'the red'} mat" for i in range(n)]
        for k, u in enumerate(units)
    }
    scored = [
        unit_scores(task, metrics, requests, refs, [TextResponse(text=h) for h in hyps[u]], u, boot)
        for u in units
    ]
    headline, _ = aggregate(
        task, metrics, requests, refs, scored, boot, identity={}, fewshot_hash=None
    )

    def bleu(u, idx):
        return sacrebleu.corpus_bleu([hyps[u][i] for i in idx], [[refs[i][0] for i in idx]]).score

    low, high = brute_force(units, unit_draws(units, boot), boot, n, bleu)
    assert headline["bleu"].ci_low == pytest.approx(low, abs=1e-9)
    assert headline["bleu"].ci_high == pytest.approx(high, abs=1e-9)


def test_too_few_examples_withhold_the_interval_with_a_reason() -> None:
    boot = BootstrapConfig(resamples=200, seed=5)
    units = grid(("a", "b"), draws=1)
    task, requests, gold, preds = sentiment_case(6, units)
    metrics = build_metrics(task)
    scored = [
        unit_scores(task, metrics, requests, gold, responses_of(preds[u]), u, boot) for u in units
    ]
    headline, _ = aggregate(
        task, metrics, requests, gold, scored, boot, identity={}, fewshot_hash=None
    )
    assert headline["accuracy"].ci_low is None
    assert "n=6 < 10" in (headline["accuracy"].ci_reason or "")


def test_no_resamples_no_intervals() -> None:
    boot = BootstrapConfig(resamples=0)
    units = grid(("a", "b"), draws=1)
    task, requests, gold, preds = sentiment_case(20, units)
    metrics = build_metrics(task)
    scored = [
        unit_scores(task, metrics, requests, gold, responses_of(preds[u]), u, boot) for u in units
    ]
    headline, _ = aggregate(
        task, metrics, requests, gold, scored, boot, identity={}, fewshot_hash=None
    )
    assert headline["accuracy"].ci_low is None and headline["accuracy"].ci_reason is None


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_pass_at_k_equals_enumerating_every_subset(n: int) -> None:
    for c in range(n + 1):
        outcomes = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            expected = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
            assert pass_at_k(n, c, k) == pytest.approx(
                1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12
            )


def test_pass_ks_are_powers_of_two_then_n() -> None:
    assert pass_ks(8) == [1, 2, 4, 8]
    assert pass_ks(5) == [1, 2, 4, 5]


def test_sampling_metrics_against_a_direct_computation() -> None:
    boot = BootstrapConfig(resamples=150, seed=2)
    s_count, n = 4, 24
    units = grid(("a", "b"), draws=1, samples=s_count)
    task, requests, gold, preds = sentiment_case(n, units, seed=4)
    metrics = build_metrics(task)
    scored = [
        unit_scores(task, metrics, requests, gold, responses_of(preds[u]), u, boot) for u in units
    ]
    out = sampling_metrics(task, metrics, gold, scored, boot)
    assert set(out) == {"mean@n", "pass@1", "pass@2", "pass@4", "majority@n"}

    def correct(u: Unit, i: int) -> int:
        return int(preds[u][i] == gold[i])

    def group_stats(variant, samples, idx):
        us = [Unit(variant, 0, s) for s in samples]
        mean = statistics.fmean(correct(u, i) for i in idx for u in us)
        passk = {
            k: statistics.fmean(pass_at_k(len(us), sum(correct(u, i) for u in us), k) for i in idx)
            for k in pass_ks(s_count)
        }
        maj = []
        for i in idx:
            votes: dict[str, int] = {}
            for u in us:  # sample order: the first answer given wins a tie
                if preds[u][i] is not None:
                    votes[preds[u][i]] = votes.get(preds[u][i], 0) + 1
            best = max(votes.values(), default=0)
            # a tie goes to the answer given first in the samples' own order (0, 1, ...)
            first = [preds[Unit(variant, 0, s)][i] for s in range(s_count)]
            tied = [a for a, c in votes.items() if c == best]
            winner = min(tied, key=first.index) if best else None
            maj.append(int(winner == gold[i]))
        return {
            "mean@n": mean,
            **{f"pass@{k}": v for k, v in passk.items()},
            "majority@n": statistics.fmean(maj),
        }

    full = [group_stats(v, list(range(s_count)), range(n)) for v in ("a", "b")]
    for name, value in out.items():
        assert value.value == pytest.approx(statistics.fmean(g[name] for g in full), abs=1e-12)
    assert out["pass@1"].value == pytest.approx(out["mean@n"].value, abs=1e-12)
    # the intervals: a double loop over resamples of examples × samples × variants
    draws = unit_draws(units, boot)
    idx_all = boot.resample_indices(n)
    per_b = {name: [] for name in out}
    for b in range(boot.resamples):
        stats = [
            group_stats(draws.variants[v], [int(s) for s in draws.indices[2][b]], idx_all[b])
            for v in draws.indices[0][b]
        ]
        for name in out:
            per_b[name].append(statistics.fmean(s[name] for s in stats))
    for name, value in out.items():
        low, high = percentile_ci(np.asarray(per_b[name]), boot.confidence)
        assert value.ci_low == pytest.approx(low, abs=1e-12), name
        assert value.ci_high == pytest.approx(high, abs=1e-12), name


def test_aggregate_puts_sampling_in_the_protocol_result() -> None:
    boot = BootstrapConfig(resamples=100, seed=2)
    units = grid(("default",), draws=1, samples=3)
    task, requests, gold, preds = sentiment_case(15, units, seed=8)
    metrics = build_metrics(task)
    scored = [
        unit_scores(task, metrics, requests, gold, responses_of(preds[u]), u, boot) for u in units
    ]
    headline, result = aggregate(
        task, metrics, requests, gold, scored, boot, identity={}, fewshot_hash=None
    )
    assert set(result.sampling) == {"mean@n", "pass@1", "pass@2", "pass@3", "majority@n"}
    assert result.sampling["mean@n"].value == pytest.approx(headline["accuracy"].value)


def test_qa_majority_votes_on_normalised_answers() -> None:
    boot = BootstrapConfig(resamples=0)
    qa = parse_task(_QA)
    metrics = build_metrics(qa)
    golds = [("Paris",), ("Berlin",)]
    qreq = [QARequest(id=f"q{i}", language="en", question="?", context="") for i in range(2)]
    answers = [["the Paris", "Rome"], ["Rome", "Berlin!"], ["paris.", "Rome"]]  # per sample
    units = [Unit("default", 0, s) for s in range(3)]
    scored = [
        unit_scores(qa, metrics, qreq, golds, [TextResponse(text=a) for a in answers[s]], u, boot)
        for s, u in enumerate(units)
    ]
    out = sampling_metrics(qa, metrics, golds, scored, boot)
    # q0: "paris" twice, "rome" once -> right; q1: "rome" twice -> wrong
    assert out["majority@n"].value == 0.5
    assert out["mean@n"].value == pytest.approx(3 / 6)
    assert out["pass@1"].value == pytest.approx(3 / 6)


# --------------------------------------------------------------------------- bench compare


def write_sentiment_run(
    folder,
    model: str,
    units: list[Unit],
    gold: list[str],
    preds: dict[Unit, list[str | None]],
    *,
    boot: BootstrapConfig | None = None,
    identity: dict | None = None,
    prompt_hash: str | None = None,
):
    """A real run folder (record.json + samples.jsonl) of a sentiment task scored unit by unit,
    as the runner writes it: one sample line per (unit, example) with ``unit`` when there are
    several units, and ``record.protocol`` from :func:`aggregate`."""
    import uuid

    from bench.records import (
        FailureCounts,
        ModelInfo,
        PredictionCounts,
        RunRecord,
        SampleLine,
        TaskInfo,
        Timings,
        write_run,
    )

    boot = boot or BootstrapConfig(resamples=200, seed=12345)
    task = parse_task(_SENTIMENT)
    metrics = build_metrics(task)
    n = len(gold)
    requests = [
        SentimentRequest(id=f"s{i}", language="en", text=f"t{i}", labels=tuple(LABELS))
        for i in range(n)
    ]
    scored = [
        unit_scores(task, metrics, requests, gold, responses_of(preds[u]), u, boot) for u in units
    ]
    headline, protocol = aggregate(
        task,
        metrics,
        requests,
        gold,
        scored,
        boot,
        identity=identity or {"variants": sorted({u.variant for u in units})},
        fewshot_hash=None,
    )
    run_id = uuid.uuid4().hex
    record = RunRecord(
        run_id=run_id,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:01Z",
        bench_version="test",
        task=TaskInfo(
            name=task.name,
            version=task.version,
            family="sentiment",
            languages=["en"],
            spec_hash="spec0",
            dataset_fingerprint="data0",
            dataset_origin="test",
            preprocess_hash="pre0",
            prompt_hash=prompt_hash,
            n_examples=n,
            labels=LABELS,
            metric_specs=[{"name": m.name, "params": {}} for m in task.metrics],
        ),
        model=ModelInfo(name=model, spec=f"test:{model}", adapter="test", fingerprint=model),
        primary_metric="accuracy",
        metrics=headline,
        bootstrap=boot.model_dump(),
        timings=Timings(),
        predictions=PredictionCounts(total=n, cached=0, computed=n, failed=0),
        failures=FailureCounts(),
        environment={},
        protocol=protocol if len(units) > 1 else None,
    )
    lines = [
        SampleLine(
            id=f"s{i}",
            response=None if r is None else r.model_dump(mode="json"),
            reference=gold[i],
            scores=dict(s.per_example[i]),
            run_id=run_id,
            unit=s.unit.key if len(units) > 1 else None,
        )
        for s in scored
        for i, r in enumerate(s.responses)
    ]
    write_run(folder, record, lines)
    return folder


def two_runs(tmp_path, units_a, units_b=None, n=40, seed=3):
    units_b = units_b or units_a
    everything = list(dict.fromkeys([*units_a, *units_b]))
    _, _, gold, preds_a = sentiment_case(n, everything, seed=seed)
    _, _, _, preds_b = sentiment_case(n, everything, seed=seed + 100)
    # sentiment_case draws new gold labels per seed: keep A's gold for both runs
    _, _, gold_b, _ = sentiment_case(n, everything, seed=seed + 100)
    flip = {
        u: [
            p if gb == ga else (None if p is None else LABELS[1 - LABELS.index(p)])
            for p, ga, gb in zip(preds_b[u], gold, gold_b, strict=True)
        ]
        for u in everything
    }
    a = write_sentiment_run(tmp_path / "a", "A", units_a, gold, preds_a)
    b = write_sentiment_run(tmp_path / "b", "B", units_b, gold, flip)
    return a, b, gold, preds_a, flip


def test_compare_pairs_multi_unit_runs_with_a_two_level_test(tmp_path) -> None:
    from bench.stats import compare_runs, load_run

    units = grid(("plain", "polite"), draws=2)
    a, b, gold, preds_a, preds_b = two_runs(tmp_path, units)
    out = compare_runs(a, b, ["accuracy", "macro_f1"], resamples=300, seed=4)
    boot = BootstrapConfig(resamples=300, seed=4)
    draws = unit_draws(units, boot)
    g = np.array([LABELS.index(x) for x in gold])

    def acc(preds):
        enc = {u: np.array([2 if p is None else LABELS.index(p) for p in preds[u]]) for u in units}
        return lambda u, idx: float(np.mean(g[idx] == enc[u][idx]))

    fa, fb = acc(preds_a), acc(preds_b)
    comp = out["accuracy"]
    assert comp.method == "two-level-paired-bootstrap"
    ra, rb = load_run(a).record, load_run(b).record
    assert comp.difference == pytest.approx(
        ra.metrics["accuracy"].value - rb.metrics["accuracy"].value, abs=1e-12
    )
    # the interval: a double loop, both runs on the same example and unit resamples
    low, high = brute_force(units, draws, boot, len(gold), lambda u, idx: fa(u, idx) - fb(u, idx))
    assert comp.ci_low == pytest.approx(low, abs=1e-12)
    assert comp.ci_high == pytest.approx(high, abs=1e-12)
    assert 0 < comp.p_value <= 1
    assert out["macro_f1"].method == "two-level-paired-bootstrap"


def test_a_multi_unit_run_against_itself_has_p_one(tmp_path) -> None:
    from bench.stats import compare_runs

    units = grid(("plain", "polite"), draws=1, samples=2)
    _, _, gold, preds = sentiment_case(30, units, seed=2)
    a = write_sentiment_run(tmp_path / "a", "A", units, gold, preds)
    b = write_sentiment_run(tmp_path / "b", "B", units, gold, preds)
    comp = compare_runs(a, b, ["accuracy"], resamples=200)["accuracy"]
    assert comp.p_value == 1.0 and comp.difference == 0.0


def test_runs_on_different_units_are_refused_naming_what_differs(tmp_path) -> None:
    from bench.stats import ComparisonError, compare_runs

    a, b, *_ = two_runs(tmp_path, grid(("plain", "polite"), draws=2), grid(("plain",), draws=2))
    with pytest.raises(ComparisonError) as err:
        compare_runs(a, b, ["accuracy"], resamples=200)
    assert "only 'A' has polite/d0/s0, polite/d1/s0" in str(err.value)
    assert "fewshot draws" in err.value.fix


def test_one_unit_against_multi_unit_is_refused(tmp_path) -> None:
    from bench.stats import ComparisonError, compare_runs

    a, b, *_ = two_runs(tmp_path, [Unit()], grid(("default",), draws=3))
    with pytest.raises(ComparisonError, match="different units"):
        compare_runs(a, b, ["accuracy"], resamples=200)


def test_one_unit_runs_compare_as_before(tmp_path) -> None:
    from bench.stats import compare_runs

    a, b, *_ = two_runs(tmp_path, [Unit()])
    comp = compare_runs(a, b, ["accuracy"], resamples=200)["accuracy"]
    assert comp.method.startswith("mcnemar")


def test_rouge_and_ranking_means_get_two_level_intervals() -> None:
    """Per-example means of other families: the interval equals a double loop over the
    per-example scores the samples store."""
    from tests.unit.metrics import test_ranking as ranking_tests
    from tests.unit.metrics.test_rouge import ALL, make_ctx

    boot = BootstrapConfig(resamples=120, seed=6)
    units = grid(("a", "b"), draws=1)
    n = 20
    refs = [(f"the quick brown fox {i} jumps over the lazy dog",) for i in range(n)]
    scored = []
    for k, u in enumerate(units):
        preds = [f"the {'quick' if (i + k) % 3 else 'slow'} fox {i} jumps" for i in range(n)]
        ctx = make_ctx(preds, refs, bootstrap=boot)
        values, _, per_example = score_task(ctx, ALL)
        scored.append(UnitScores(u, values, per_example, {}, ctx.responses))
    rng = np.random.default_rng(0)
    spec = ranking_tests.spec()
    rank_metrics = build_metrics(spec)
    cands = [list("abcdefgh")] * n
    gold = [[str(rng.choice(list("abcdefgh")))] for _ in range(n)]
    rank_scored = []
    for u in units:
        ranked = [list(rng.permutation(list("abcdefgh"))) for _ in range(n)]
        rctx = ranking_tests.make_ctx(cands, gold, ranked, bootstrap=boot)
        values, _, per_example = score_task(rctx, rank_metrics)
        rank_scored.append(UnitScores(u, values, per_example, {}, rctx.responses))
    draws = unit_draws(units, boot)
    for task_spec, metrics, reqs, references, us in (
        (ctx.spec, ALL, ctx.requests, refs, scored),
        (rctx.spec, rank_metrics, rctx.requests, rctx.references, rank_scored),
    ):
        headline, _ = aggregate(
            task_spec, metrics, reqs, references, us, boot, identity={}, fewshot_hash=None
        )
        by_unit = {s.unit: s for s in us}
        for name, value in headline.items():
            declared = next(m.paired(name) for m in metrics if m.paired(name) is not None)
            col = declared.column  # a PerExampleMean: the per-example score it averages

            def mean(u, idx, col=col, by_unit=by_unit):
                return statistics.fmean(by_unit[u].per_example[i][col] for i in idx)

            low, high = brute_force(units, draws, boot, n, mean)
            assert value.ci_low == pytest.approx(low, abs=1e-12), name
            assert value.ci_high == pytest.approx(high, abs=1e-12), name


def test_cli_compare_of_multi_unit_runs(tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys

    units = grid(("plain", "polite"), draws=1, samples=2)
    everything = list(units)
    _, _, gold, preds_a = sentiment_case(30, everything, seed=5)
    for model, preds in (("A", preds_a), ("B", {u: preds_a[u][::-1] for u in units})):
        write_sentiment_run(
            tmp_path / "results" / model / "stats-sentiment", model, units, gold, preds
        )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "compare",
            "--results",
            str(tmp_path / "results"),
            "--json",
            "--resamples",
            "200",
            "A",
            "B",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"accuracy", "macro_f1"}
    assert {entry["method"] for entry in data.values()} == {"two-level-paired-bootstrap"}
    for entry in data.values():
        assert entry["ci_low"] <= entry["difference"] <= entry["ci_high"]
