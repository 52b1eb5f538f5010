"""bench.stats: sacrebleu's paired tests reproduced, McNemar by hand, Holm, the CLI ``compare``.

Runs are real: the smoke tasks scored by built-in baselines through the runner, read back
from their folders. The corpus tests are checked against ``sacrebleu.significance.PairedTest``
on WMT21 newstest2021 (en-de, two human references: one is system A, a perturbation of it is
system B).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.metrics.base import BootstrapConfig
from bench.metrics.mt import corpus_stats
from bench.records import load_record
from bench.runner import RunConfig, run_pair
from bench.stats import (
    ComparisonError,
    MissingSamples,
    approximate_randomization,
    compare_results,
    compare_runs,
    holm,
    mcnemar,
    paired_bootstrap,
    paired_permutation,
    tied_with_best,
)

WMT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wmt21-newstest2021"
_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]

PAIRS = [
    ("baseline:majority", "sentiment-en"),
    ("baseline:tfidf-logreg", "sentiment-en"),
    ("baseline:copy", "translation-zh-en"),
    ("baseline:ibm1", "translation-zh-en"),
    ("baseline:lead-k", "summarization-en"),
    ("baseline:textrank", "summarization-en"),
    ("baseline:first-sentence", "qa-en"),
    ("baseline:sliding-window", "qa-en"),
    ("baseline:random", "recommendation-synthetic"),
    ("baseline:most-popular", "recommendation-synthetic"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten real runs of the smoke tasks (two baselines per task), 200 resamples."""
    import nltk

    from tests.conftest import NLTK_DATA

    root = tmp_path_factory.mktemp("results")
    config = RunConfig(results=root, bootstrap=BootstrapConfig(resamples=200))
    # NLTK's data for these runs only: later tests in this process run without it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLTK_DATA", str(NLTK_DATA))
        patch.setattr(nltk.data, "path", [str(NLTK_DATA), *nltk.data.path])
        for model, task in PAIRS:
            outcome = run_pair(parse_model_spec(model), find_task(task, []), config)
            assert outcome.status == "done", outcome.reason
    return root


def folder(results: Path, model: str, task: str) -> Path:
    return results / model.replace(":", "-") / task


# --------------------------------------------------------------------------- sacrebleu


def _wmt_systems(n: int) -> tuple[list[str], list[str], list[str]]:
    refs = WMT / "references"
    ref_a = (refs / "newstest2021.en-de.ref.A.de").read_text(encoding="utf-8").splitlines()[:n]
    ref_c = (refs / "newstest2021.en-de.ref.C.de").read_text(encoding="utf-8").splitlines()[:n]
    # System B: system A (reference C) with every third word dropped in every 12th line.
    sys_b = [
        " ".join(w for i, w in enumerate(line.split()) if i % 3 != 1) if k % 12 == 0 else line
        for k, line in enumerate(ref_c)
    ]
    return ref_a, ref_c, sys_b


@pytest.mark.slow
@pytest.mark.parametrize("test_type", ["bs", "ar"])
def test_corpus_tests_reproduce_sacrebleu_paired_test(test_type: str) -> None:
    from sacrebleu.metrics import BLEU, CHRF, TER
    from sacrebleu.significance import PairedTest

    n, samples = 120, 500
    ref, sys_a, sys_b = _wmt_systems(n)
    metrics = {"BLEU": BLEU(), "chrF2": CHRF(), "TER": TER()}
    _, scores = PairedTest(
        [("B", sys_b), ("A", sys_a)], metrics, [ref], test_type=test_type, n_samples=samples
    )()
    p_values = []
    for sacre_name, name in (("BLEU", "bleu"), ("chrF2", "chrf"), ("TER", "ter")):
        a = corpus_stats(name, sys_a, [(r,) for r in ref], language="de")
        b = corpus_stats(name, sys_b, [(r,) for r in ref], language="de")
        expected = scores[sacre_name][1]
        assert a.score() == pytest.approx(expected.score, abs=1e-9)
        if test_type == "bs":
            p, low, high = paired_bootstrap(
                b.resample_scores, a.resample_scores, b.score(), a.score(), n, resamples=samples
            )
            assert low <= b.score() - a.score() <= high
        else:
            p = approximate_randomization(
                b.matrix, a.matrix, a.vector_score, b.score(), a.score(), trials=samples
            )
        assert p == expected.p_value, (name, p, expected.p_value)
        p_values.append(p)
    # Not all at the floor 1/(samples+1): the systems are close enough to make p informative.
    assert max(p_values) > 0.01


def test_identical_corpus_systems_get_p_one() -> None:
    ref, sys_a, _ = _wmt_systems(40)
    a = corpus_stats("bleu", sys_a, [(r,) for r in ref], language="de")
    p, low, high = paired_bootstrap(
        a.resample_scores, a.resample_scores, a.score(), a.score(), 40, identical=True
    )
    assert (p, low, high) == (1.0, 0.0, 0.0)
    assert approximate_randomization(a.matrix, a.matrix, a.vector_score, 1.0, 1.0) == 1.0


# --------------------------------------------------------------------------- McNemar, Holm


def _outcomes(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = [1] * both + [1] * only_a + [0] * only_b + [0] * neither
    b = [1] * both + [0] * only_a + [1] * only_b + [0] * neither
    return np.array(a, bool), np.array(b, bool)


def test_mcnemar_exact_against_a_hand_computed_table() -> None:
    from scipy.stats import binomtest

    # A right / B wrong: 3; A wrong / B right: 9 (12 discordant < 25: exact).
    a, b = _outcomes(40, 3, 9, 8)
    p, method, detail = mcnemar(a, b)
    # Two-sided exact binomial: 2 · P(X ≤ 3), X ~ Bin(12, ½) = 2 · (1 + 12 + 66 + 220) / 4096.
    assert p == pytest.approx(2 * 299 / 4096, rel=1e-12)
    assert p == pytest.approx(binomtest(3, 12, 0.5).pvalue, rel=1e-12)
    assert (method, detail) == ("mcnemar-exact", "b=3, c=9")


def test_mcnemar_chi_square_with_continuity_correction() -> None:
    from scipy.stats import chi2

    a, b = _outcomes(50, 30, 12, 8)  # 42 discordant: χ² = (|30 − 12| − 1)² / 42
    p, method, _ = mcnemar(a, b)
    assert method == "mcnemar-chi2-cc"
    assert p == pytest.approx(float(chi2.sf(289 / 42, 1)), rel=1e-12)
    assert mcnemar(a, a) == (1.0, "mcnemar-exact", "b=0, c=0")


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → monotone: 0.03, 0.06, 0.06
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


def test_paired_permutation_exact_and_sampled() -> None:
    # d = 1, 2, 3: of the 8 sign vectors only ±(1 + 2 + 3) reach |6|
    assert paired_permutation(np.array([1.0, 2, 3]), np.zeros(3)) == (
        0.25,
        "paired-permutation-exact",
    )
    x = np.random.default_rng(0).random(200)
    p, method = paired_permutation(x + 0.5, x, resamples=999)
    assert method == "paired-permutation" and p == 1 / 1000
    assert paired_permutation(x, x) == (1.0, "paired-permutation-exact")


# --------------------------------------------------------------------------- runs


def test_compare_runs_picks_the_test_per_metric(results: Path) -> None:
    expectations = {
        ("baseline:majority", "baseline:tfidf-logreg", "sentiment-en"): {
            "accuracy": ("mcnemar-exact", "mcnemar-chi2-cc"),
            "macro_f1": ("paired-randomization",),
            "mcc": ("paired-randomization",),
        },
        ("baseline:copy", "baseline:ibm1", "translation-zh-en"): {
            "bleu": ("paired-bootstrap",),
            "ter": ("paired-bootstrap",),
        },
        ("baseline:lead-k", "baseline:textrank", "summarization-en"): {
            "rouge1": ("paired-permutation",),
        },
        ("baseline:first-sentence", "baseline:sliding-window", "qa-en"): {
            "squad_em": ("mcnemar-exact", "mcnemar-chi2-cc"),
            "squad_f1": ("paired-permutation",),
        },
        ("baseline:random", "baseline:most-popular", "recommendation-synthetic"): {
            "ndcg@10": ("paired-permutation",),
            "mrr": ("paired-permutation",),
        },
    }
    for (ma, mb, task), wanted in expectations.items():
        fa, fb = folder(results, ma, task), folder(results, mb, task)
        got = compare_runs(fa, fb, resamples=300)
        ra, rb = load_record(fa / "record.json"), load_record(fb / "record.json")
        for metric, methods in wanted.items():
            c = got[metric]
            assert c.method in methods, (task, metric, c.method)
            diff = ra.metrics[metric].value - rb.metrics[metric].value
            assert c.difference == pytest.approx(diff, abs=1e-9), (task, metric)
            assert c.ci_low <= c.difference <= c.ci_high, (task, metric)
            assert 0 < c.p_value <= 1
        assert "confusion_matrix" not in got and "coverage@10" not in got


def test_a_run_against_itself_has_p_one(results: Path, tmp_path: Path) -> None:
    for model, task in PAIRS[::2]:
        src = folder(results, model, task)
        twin = tmp_path / task
        shutil.copytree(src, twin)
        for name, c in compare_runs(src, twin, resamples=200).items():
            assert c.p_value == 1.0, (task, name, c)
            assert c.difference == 0.0 and c.ci_low == 0.0 and c.ci_high == 0.0


def test_ar_for_corpus_metrics(results: Path) -> None:
    fa = folder(results, "baseline:copy", "translation-zh-en")
    fb = folder(results, "baseline:ibm1", "translation-zh-en")
    got = compare_runs(fa, fb, ["bleu"], resamples=300, corpus_test="ar")
    assert got["bleu"].method == "approximate-randomization"


def test_ar_runs_sacrebleus_default_trials_whatever_the_resamples(results: Path) -> None:
    """sacrebleu's --paired-ar makes 10,000 trials (--paired-bs-n's 1,000 resamples are another
    setting): bench's default is the same, so its p-value is sacrebleu's, and ``resamples``
    (the difference's bootstrap) does not change it."""
    from bench.metrics.mt import BLEU, CorpusPaired
    from bench.stats import load_run

    fa = folder(results, "baseline:copy", "translation-zh-en")
    fb = folder(results, "baseline:ibm1", "translation-zh-en")
    got = compare_runs(fa, fb, ["bleu"], resamples=300, corpus_test="ar")["bleu"]
    assert got.detail == "10000 trials, as sacrebleu --paired-ar"
    pair = CorpusPaired(BLEU())
    sa, sb = pair.system(load_run(fa), "bleu"), pair.system(load_run(fb), "bleu")
    want = approximate_randomization(
        sa.matrix, sb.matrix, pair.score, sa.value, sb.value, trials=10000, seed=12345
    )
    assert got.p_value == want
    fewer = compare_runs(fa, fb, ["bleu"], corpus_test="ar", ar_trials=500)["bleu"]
    assert fewer.detail == "500 trials, as sacrebleu --paired-ar"
    assert fewer.p_value == approximate_randomization(
        sa.matrix, sb.matrix, pair.score, sa.value, sb.value, trials=500, seed=12345
    )


def test_refuses_runs_of_different_data_naming_both(results: Path, tmp_path: Path) -> None:
    fa = folder(results, "baseline:majority", "sentiment-en")
    other = tmp_path / "other"
    shutil.copytree(folder(results, "baseline:tfidf-logreg", "sentiment-en"), other)
    data = json.loads((other / "record.json").read_text(encoding="utf-8"))
    data["task"]["dataset_fingerprint"] = "0123456789abcdef"
    (other / "record.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ComparisonError) as info:
        compare_runs(fa, other)
    message = str(info.value)
    assert "dataset fingerprint" in message and "0123456789abcdef" in message
    assert "baseline:majority" in message and "baseline:tfidf-logreg" in message

    data["task"]["dataset_fingerprint"] = load_record(fa / "record.json").task.dataset_fingerprint
    data["metrics"]["accuracy"]["signature"] += "|extra:1"
    (other / "record.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ComparisonError, match="different signatures"):
        compare_runs(fa, other, ["accuracy"])


def test_missing_samples_is_a_bench_error(results: Path, tmp_path: Path) -> None:
    runs = {}
    for model in ("baseline:majority", "baseline:tfidf-logreg"):
        copy = tmp_path / model.replace(":", "-")
        shutil.copytree(folder(results, model, "sentiment-en"), copy)
        runs[model] = copy
    (runs["baseline:majority"] / "samples.jsonl").unlink()
    with pytest.raises(MissingSamples, match=r"samples\.jsonl"):
        tied_with_best(runs, "accuracy")


def test_tied_with_best(results: Path, tmp_path: Path) -> None:
    task = "summarization-en"
    runs = {m: folder(results, m, task) for m in ("baseline:lead-k", "baseline:textrank")}
    twin = tmp_path / "twin"
    shutil.copytree(runs["baseline:lead-k"], twin)
    runs["twin"] = twin
    values = {m: load_record(f / "record.json").metrics["rougeL"].value for m, f in runs.items()}
    best = max(values, key=lambda m: values[m])
    tied = tied_with_best(runs, "rougeL", resamples=500)
    assert tied[best] == 1.0
    # A copy of the best model is always tied with it (p = 1 before and after Holm).
    if best == "baseline:lead-k":
        assert tied["twin"] == 1.0
    for p in tied.values():
        assert p >= 0.05

    # Sentiment: the majority baseline is far behind the classifier.
    runs = {m: folder(results, m, "sentiment-en") for m, _ in PAIRS[:2]}
    assert tied_with_best(runs, "accuracy") == {"baseline:tfidf-logreg": 1.0}
    # TER: lower is better, so the best is the lowest.
    runs = {m: folder(results, m, "translation-zh-en") for m, _ in PAIRS[2:4]}
    ter = {m: load_record(f / "record.json").metrics["ter"].value for m, f in runs.items()}
    assert next(iter(tied_with_best(runs, "ter"))) == min(ter, key=lambda m: ter[m])


def test_compare_results_applies_holm_across_tasks(results: Path) -> None:
    got = compare_results(
        results, "baseline:majority", "baseline:tfidf-logreg", metrics=["accuracy", "mcc"]
    )
    assert list(got) == ["sentiment-en"]
    p = [got["sentiment-en"][m].p_value for m in ("accuracy", "mcc")]
    assert [got["sentiment-en"][m].p_holm for m in ("accuracy", "mcc")] == holm(p)
    with pytest.raises(ComparisonError, match="did you mean"):
        compare_results(results, "baseline:majorty", "baseline:tfidf-logreg")


# --------------------------------------------------------------------------- CLI


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_cli_compare_table_and_json(results: Path) -> None:
    args = ("compare", "--results", str(results), "--task", "qa-en")
    table = bench(*args, "baseline-first-sentence", "baseline-sliding-window")
    assert table.returncode == 0, table.stderr
    assert "squad_em" in table.stdout and "mcnemar" in table.stdout
    assert "Holm–Bonferroni over the 2 test(s)" in table.stdout

    proc = bench(
        *args, "--json", "--resamples", "300", "baseline:first-sentence", "baseline:sliding-window"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"squad_em", "squad_f1"}
    for entry in data.values():
        assert set(entry) == {"difference", "ci_low", "ci_high", "p_value", "method", "p_holm"}
        assert entry["ci_low"] <= entry["difference"] <= entry["ci_high"]
    assert data["squad_f1"]["method"] == "paired-permutation"
    p = [data[m]["p_value"] for m in ("squad_em", "squad_f1")]
    assert [data[m]["p_holm"] for m in ("squad_em", "squad_f1")] == pytest.approx(holm(p))

    bad = bench("compare", "--results", str(results), "baseline:majority", "baseline:copy")
    assert bad.returncode == 2
    assert "no task in common" in bad.stderr


def test_cli_records_schema() -> None:
    proc = bench("records", "schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    for key in ("metrics", "task", "model", "bootstrap", "seeds", "determinism", "environment"):
        assert key in schema["properties"], key
    task = schema["$defs"]["TaskInfo"]["properties"]
    for key in ("dataset_fingerprint", "preprocess_hash", "prompt_hash", "metric_specs"):
        assert key in task


def test_stored_segment_statistics_give_the_same_tests_as_retokenising(
    results: Path, tmp_path: Path
) -> None:
    """The runner stores sacrebleu's per-segment statistics in samples.jsonl; paired tests read
    them instead of re-tokenising, and must reach exactly the same numbers."""
    stored, stripped = {}, {}
    for model in ("baseline:copy", "baseline:ibm1"):
        src = folder(results, model, "translation-zh-en")
        rows = [json.loads(line) for line in (src / "samples.jsonl").read_text().splitlines()]
        assert all(set(r["segment_stats"]) == {"bleu", "chrf", "ter"} for r in rows)
        stored[model] = src
        bare = tmp_path / model.replace(":", "-")
        shutil.copytree(src, bare)
        text = "".join(
            json.dumps({k: v for k, v in r.items() if k != "segment_stats"}) + "\n" for r in rows
        )
        (bare / "samples.jsonl").write_text(text, encoding="utf-8")
        stripped[model] = bare
    a, b = "baseline:copy", "baseline:ibm1"
    for metric in ("bleu", "chrf", "ter"):
        fast = compare_runs(stored[a], stored[b], [metric], resamples=300)[metric]
        slow = compare_runs(stripped[a], stripped[b], [metric], resamples=300)[metric]
        assert fast == slow, metric
        assert tied_with_best(stored, metric) == tied_with_best(stripped, metric)
