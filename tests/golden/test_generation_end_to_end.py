"""Issue 3, end to end: what a user runs, checked against the reference implementations.

* ``bench score`` on a plain-text hypothesis file (one output per line, WMT's convention) for
  the three WMT21 pairs, loaded with ``--data`` from the organisers' plain-text release, gives
  the BLEU / chrF / TER of the ``sacrebleu`` command line to 4 decimals, with its signature.
* ``baseline:lead-k`` (k=3) on the FRANK CNN/DailyMail subset and ``baseline:textrank`` on the
  XSum extracts: the ROUGE in the record equals rouge-score recomputed from samples.jsonl.
* Chinese ROUGE on CSL (``baseline:lead-k``, k=1) is > 0 and equals rouge-score with the same
  jieba tokenizer, while rouge-score's default tokenizer scores the same pairs 0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_pair

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
WMT = DATA / "wmt21-newstest2021"
ENV = {k: v for k, v in os.environ.items() if k != "SACREBLEU_FORMAT"}


def _lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def _perturb(line: str, i: int, chinese: bool) -> str:
    units = list(line) if chinese else line.split()
    kept = [u for j, u in enumerate(units) if j % 6 != 5]
    if i % 4 == 0 and len(kept) > 3:
        kept[1], kept[2] = kept[2], kept[1]
    return ("" if chinese else " ").join(kept)


@pytest.mark.parametrize(
    ("pair", "refs", "flags", "limit"),
    [
        ("zh-en", ["A"], [], None),
        # bench's TER on Chinese targets: normalised, with CJK support (the CLI's two flags).
        # TER with CJK support is slow (about a minute per 1,000 segments in each of bench and
        # the CLI), so this pair is scored on its first 300 segments (`--limit 300`).
        ("en-zh", ["A", "B"], ["-tok", "zh", "--ter-normalized", "--ter-asian-support"], 300),
        ("en-de", ["A", "C"], [], None),
    ],
)
def test_bench_score_plain_text_equals_the_sacrebleu_cli(
    pair: str, refs: list[str], flags: list[str], limit: int | None, tmp_path: Path
) -> None:
    tgt = pair.split("-")[1]
    ref_files = [WMT / "references" / f"newstest2021.{pair}.ref.{r}.{tgt}" for r in refs]
    if limit is not None:  # the command line reads the same first segments
        cut = []
        for path in ref_files:
            cut.append(tmp_path / path.name)
            cut[-1].write_text("".join(f"{line}\n" for line in _lines(path)[:limit]), "utf-8")
        ref_files = cut
    # A hypothesis that is no reference: reference A with words (characters) dropped and swapped.
    hyp = tmp_path / f"hyp.{pair}.{tgt}"
    hyp.write_text(
        "".join(
            _perturb(line, i, tgt == "zh") + "\n" for i, line in enumerate(_lines(ref_files[0]))
        ),
        encoding="utf-8",
    )
    env = {**ENV, "BENCH_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            str(BIN / "bench"),
            "score",
            "--task",
            f"wmt21-{pair}",
            "--data",
            f"wmt21-{pair}={WMT}",
            "--predictions",
            str(hyp),
            "--name",
            "perturbed",
            "--bootstrap",
            "200",
            *(["--limit", str(limit)] if limit is not None else []),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(
        (tmp_path / "home" / "results" / "perturbed" / f"wmt21-{pair}" / "record.json").read_text()
    )
    cli = subprocess.run(
        [
            str(BIN / "sacrebleu"),
            *map(str, ref_files),
            "-i",
            str(hyp),
            "-m",
            "bleu",
            "chrf",
            "ter",
            "-w",
            "4",
            "--format",
            "json",
            *flags,
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        check=True,
    )
    expected = {r["name"]: r for r in json.loads(cli.stdout)}
    for ours, theirs in (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER")):
        metric = record["metrics"][ours]
        assert round(metric["value"], 4) == expected[theirs]["score"], ours
        sacre_part = metric["signature"].partition("|")[2].split("|boot:")[0]
        assert sacre_part == expected[theirs]["signature"], ours
    assert record["metrics"]["bleu"]["n"] == len(_lines(ref_files[0]))
    assert f"nrefs:{len(refs)}" in record["metrics"]["bleu"]["signature"]


def _run(
    model: str, task_name: str, data: Path | None, tmp_path: Path, task_file: Path | None = None
):
    spec = find_task(str(task_file) if task_file else task_name)
    config = RunConfig(
        results=tmp_path / "results",
        bootstrap=BootstrapConfig(resamples=100),
        data={spec.name: data} if data else {},
    )
    outcome = run_pair(parse_model_spec(model), spec, config)
    assert outcome.status == "done" and outcome.record_path is not None
    samples = [
        json.loads(line)
        for line in (outcome.record_path.parent / "samples.jsonl").read_text("utf-8").splitlines()
    ]
    return outcome.record, samples


def _recompute(
    samples: list[dict], tokenizer=None, stemmer: bool = True, chinese: bool = False
) -> dict[str, float]:
    """Mean F1 of rouge-score called directly. English: rouge-score splits ROUGE-Lsum sentences
    itself (NLTK Punkt); Chinese: rouge-score has no Chinese splitter, so the sentences are
    given one per line, split at 。！？ (and a half-width full stop before Chinese text)."""
    from bench.preprocess.sentences import split_sentences

    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(
        types, use_stemmer=stemmer, split_summaries=not chinese, tokenizer=tokenizer
    )

    def lines(text: str) -> str:
        return "\n".join(split_sentences(text, "zh")) if chinese else text

    totals = dict.fromkeys(types, 0.0)
    for s in samples:
        scores = scorer.score_multi([lines(r) for r in s["reference"]], lines(s["prediction"]))
        for t in types:
            totals[t] += scores[t].fmeasure
    return {t: v / len(samples) for t, v in totals.items()}


@pytest.mark.usefixtures("nltk_data")  # Punkt for ROUGE-Lsum, in bench and in rouge-score
def test_lead3_on_the_frank_cnn_dailymail_subset(tmp_path: Path) -> None:
    path = DATA / "cnn-dailymail" / "frank-test-subset" / "cnndm_test_frank_subset.jsonl"
    task = tmp_path / "cnndm-frank.yaml"
    task.write_text(
        f"""name: cnndm-frank
version: 1
family: summarization
languages: [en]
description: The FRANK subset of the CNN/DailyMail test split (250 articles).
source:
  kind: local
  location: {path.parent}
  format: jsonl
  files: {{test: {path.name}}}
  splits: {{test: test}}
  fields: {{id: id, document: article, references: bart_reference}}
metrics: [rouge1, rouge2, rougeL, rougeLsum]
primary_metric: rougeL
""",
        encoding="utf-8",
    )
    record, samples = _run("baseline:lead-k,k=3", "cnndm-frank", None, tmp_path, task)
    assert len(samples) == 250
    expected = _recompute(samples)
    for name, value in expected.items():
        assert record.metrics[name].value == pytest.approx(value, abs=1e-12), name
    assert 0.2 < record.metrics["rouge1"].value < 0.6


@pytest.mark.usefixtures("nltk_data")
def test_textrank_on_xsum_extracts(tmp_path: Path) -> None:
    record, samples = _run(
        "baseline:textrank", "xsum", DATA / "xsum" / "xsum-extracts-test-subset", tmp_path
    )
    assert len(samples) == 321
    expected = _recompute(samples)
    for name, value in expected.items():
        assert record.metrics[name].value == pytest.approx(value, abs=1e-12), name
    assert record.metrics["rouge1"].value > 0.05


def test_chinese_rouge_on_csl_is_not_zero_and_matches_rouge_score(tmp_path: Path) -> None:
    from bench.metrics.rouge import JiebaTokenizer  # the tokenizer object bench passes

    record, samples = _run(
        "baseline:lead-k,k=1", "csl-title", DATA / "csl-title-summarization" / "ts", tmp_path
    )
    assert len(samples) == 1000
    ours = {t: record.metrics[t].value for t in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    assert all(v > 0.1 for v in ours.values()), ours
    expected = _recompute(samples, tokenizer=JiebaTokenizer(), stemmer=False, chinese=True)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
    # rouge-score's default tokenizer keeps only ASCII letters and digits: on the titles that
    # have none it scores exactly 0, and over all pairs far below bench's jieba ROUGE.
    default = _recompute(samples, tokenizer=None, stemmer=False, chinese=True)
    assert default["rouge1"] < 0.5 * ours["rouge1"]
    pure = [s for s in samples if not re.search(r"[A-Za-z0-9]", s["reference"][0])]
    assert len(pure) > 500
    assert _recompute(pure, tokenizer=None, stemmer=False, chinese=True)["rouge1"] == 0.0
    assert _recompute(pure, tokenizer=JiebaTokenizer(), stemmer=False, chinese=True)["rouge1"] > 0.1
