"""WMT21 news: bench's BLEU, chrF and TER equal the ``sacrebleu`` command line's, signatures too.

The organisers' plain-text release of newstest2021 lives in
``../shared/data/wmt21-newstest2021`` (``sources/``, ``references/``). For each pair a
hypothesis file is built by a deterministic perturbation of reference A (every 7th word — every
7th character in Chinese — dropped; in every 5th line, a few neighbouring words swapped), so it
differs from every reference, and one line is a failed example (an empty line in the file,
``None`` for bench). The real ``sacrebleu`` console script of this environment scores the file
against the reference files; bench scores the same outputs through the metric classes with
real ``TranslationRequest`` s and per-example reference tuples, and the two agree to the 4
decimals the command line prints, with identical sacrebleu signatures.

zh-en has one reference; en-zh and en-de have two (A and B; A and C), both passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sacrebleu.metrics.ter import TER as SacreTER

from bench.families.generation import TextResponse
from bench.families.translation import TranslationRequest
from bench.metrics.base import BootstrapConfig, MetricValue, ScoringContext, score_task
from bench.metrics.mt import BLEU, CHRF, TER
from bench.spec import parse_task

# ~35 s: sacrebleu's TER (here and in the command line) dominates on 2,000 English segments.
pytestmark = pytest.mark.slow

WMT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wmt21-newstest2021"
SACREBLEU = Path(sys.executable).parent / "sacrebleu"
# SACREBLEU_FORMAT in the environment would override --format.
CLI_ENV = {k: v for k, v in os.environ.items() if k != "SACREBLEU_FORMAT"}
FAILED_LINE = 10  # this example's adapter "failed": None for bench, an empty line for the CLI

_TASK = """\
name: wmt21-{src}-{tgt}
version: 1
family: translation
languages: [{src}, {tgt}]
description: WMT21 news test set, {src}-{tgt} (golden test).
source:
  kind: sacrebleu
  testset: wmt21
  langpair: {src}-{tgt}
  splits: {{test: test}}
metrics: [bleu, chrf, ter]
primary_metric: bleu
"""


@dataclass(frozen=True)
class Pair:
    src: str
    tgt: str
    refs: tuple[str, ...]  # reference letters; the hypothesis perturbs the first

    @property
    def langpair(self) -> str:
        return f"{self.src}-{self.tgt}"

    def ref_path(self, letter: str) -> Path:
        return WMT / "references" / f"newstest2021.{self.langpair}.ref.{letter}.{self.tgt}"

    def src_path(self) -> Path:
        return WMT / "sources" / f"newstest2021.{self.langpair}.src.{self.src}"


PAIRS = {
    "zh-en": Pair("zh", "en", ("A",)),
    "en-zh": Pair("en", "zh", ("A", "B")),
    "en-de": Pair("en", "de", ("A", "C")),
}


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def perturb(line: str, lineno: int, *, chinese: bool) -> str:
    """Drop every 7th unit (word; character in Chinese); swap some neighbours every 5th line."""
    units = [c for c in line if not c.isspace()] if chinese else line.split()
    units = [u for i, u in enumerate(units) if i % 7 != 6]
    if lineno % 5 == 0:
        for k in range(1, len(units) - 1, 6):
            units[k], units[k + 1] = units[k + 1], units[k]
    return ("" if chinese else " ").join(units)


@dataclass
class Setup:
    pair: Pair
    hyp_file: Path
    ref_files: list[Path]
    ctx: ScoringContext


def build(pair: Pair, tmp: Path) -> Setup:
    sources = read_lines(pair.src_path())
    streams = [read_lines(pair.ref_path(letter)) for letter in pair.refs]
    assert all(len(s) == len(sources) for s in streams)
    hyps: list[str | None] = [
        perturb(ref, i, chinese=pair.tgt == "zh") for i, ref in enumerate(streams[0])
    ]
    hyps[FAILED_LINE] = None
    for stream in streams:  # realistic: close to the references, equal to none of them
        assert sum(h == r for h, r in zip(hyps, stream, strict=True)) < len(hyps) // 10
    hyp_file = tmp / f"hyp.{pair.langpair}.{pair.tgt}"
    hyp_file.write_text("\n".join("" if h is None else h for h in hyps) + "\n", encoding="utf-8")

    spec = parse_task(_TASK.format(src=pair.src, tgt=pair.tgt))
    requests = [
        TranslationRequest(
            id=f"{pair.langpair}-{i}",
            language=pair.tgt,
            source=src,
            source_language=pair.src,
            target_language=pair.tgt,
        )
        for i, src in enumerate(sources)
    ]
    ctx = ScoringContext(
        spec=spec,
        requests=requests,
        references=list(zip(*streams, strict=True)),
        responses=[None if h is None else TextResponse(text=h) for h in hyps],
        bootstrap=BootstrapConfig(resamples=1000),
    )
    return Setup(pair, hyp_file, [pair.ref_path(letter) for letter in pair.refs], ctx)


def start_cli(setup: Setup, *args: str) -> subprocess.Popen[str]:
    """Start the ``sacrebleu`` console script on the hypothesis file (``--format json``)."""
    assert SACREBLEU.is_file(), f"the sacrebleu console script is missing at {SACREBLEU}"
    cmd = [str(SACREBLEU), *map(str, setup.ref_files), "-i", str(setup.hyp_file)]
    cmd += ["-w", "4", "--format", "json", *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLI_ENV
    )


def results(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """The JSON results of a started command line, one dict per metric."""
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    out = json.loads(stdout)
    return out if isinstance(out, list) else [out]


def cli(setup: Setup, *args: str) -> list[dict[str, Any]]:
    """Run the ``sacrebleu`` console script on the hypothesis file; its JSON results."""
    return results(start_cli(setup, *args))


def cli_scores(setup: Setup, *args: str) -> list[float]:
    """The same, with ``-b``: the bare scores, one line per metric."""
    cmd = [str(SACREBLEU), *map(str, setup.ref_files), "-i", str(setup.hyp_file)]
    cmd += ["-w", "4", "-b", "--format", "text", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, env=CLI_ENV)
    return [float(line) for line in done.stdout.split()]


def four(value: float) -> float:
    """A value as the command line prints it with ``-w 4``."""
    return float(f"{value:.4f}")


def sacre_signature(value: MetricValue) -> str:
    """The sacrebleu part of a bench signature (between the metric name and ``boot:``)."""
    _, _, rest = value.signature.partition("|")
    return rest.split("|boot:")[0]


@pytest.fixture(scope="module")
def setups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Setup]:
    assert WMT.is_dir(), f"expected the WMT21 test sets at {WMT}"
    tmp = tmp_path_factory.mktemp("wmt21")
    return {name: build(pair, tmp) for name, pair in PAIRS.items()}


# The flags that make the command line compute what bench's defaults compute for each pair.
CLI_FLAGS = {
    "zh-en": ["--chrf-word-order", "0"],
    # bench's TER normalises and splits CJK characters for Chinese targets (tercom would take
    # an unspaced sentence for one word): the command line does so with these two flags.
    "en-zh": ["-tok", "zh", "--chrf-word-order", "0", "--ter-normalized", "--ter-asian-support"],
    "en-de": ["--chrf-word-order", "0"],
}


_SCORED: dict[str, Any] = {}

TER_LINES = {"en-zh": 300}
"""Pairs whose TER is compared on their first lines only: tercom's shift search over the
characters of 1,002 Chinese sentences takes minutes on each side; BLEU and chrF are compared on
the whole test set."""


def head(setup: Setup, n: int, tmp: Path) -> Setup:
    """The first ``n`` lines of a setup, with its own hypothesis and reference files."""
    hyp_file = tmp / f"head{n}.{setup.hyp_file.name}"
    hyp_file.write_text(
        "".join(f"{line}\n" for line in read_lines(setup.hyp_file)[:n]), encoding="utf-8"
    )
    ref_files = []
    for path in setup.ref_files:
        ref_files.append(tmp / f"head{n}.{path.name}")
        ref_files[-1].write_text(
            "".join(f"{line}\n" for line in read_lines(path)[:n]), encoding="utf-8"
        )
    ctx = setup.ctx
    part = ScoringContext(
        spec=ctx.spec,
        requests=list(ctx.requests[:n]),
        references=list(ctx.references[:n]),
        responses=list(ctx.responses[:n]),
        bootstrap=ctx.bootstrap,
    )
    return Setup(setup.pair, hyp_file, ref_files, part)


def scored(name: str, setup: Setup) -> Any:
    """bench's BLEU, chrF and TER on a pair (TER on the first :data:`TER_LINES` lines where
    the pair has an entry), computed once per module: several tests read them."""
    if name not in _SCORED:
        metrics = [BLEU(), CHRF()] if name in TER_LINES else [BLEU(), CHRF(), TER()]
        _SCORED[name] = score_task(setup.ctx, metrics)
    return _SCORED[name]


@pytest.mark.parametrize("name", list(PAIRS))
def test_bench_equals_sacrebleu_cli(setups: dict[str, Setup], name: str, tmp_path: Path) -> None:
    setup = setups[name]
    ter_setup = head(setup, TER_LINES[name], tmp_path) if name in TER_LINES else setup
    # The command line runs in its own process while bench scores (TER is slow in both).
    if ter_setup is setup:
        procs = [start_cli(setup, "-m", "bleu", "chrf", "ter", *CLI_FLAGS[name])]
    else:
        procs = [
            start_cli(setup, "-m", "bleu", "chrf", *CLI_FLAGS[name]),
            start_cli(ter_setup, "-m", "ter", *CLI_FLAGS[name]),
        ]
    got, _, rows = scored(name, setup)
    if ter_setup is not setup:
        ter_got, _, ter_rows = score_task(ter_setup.ctx, [TER()])
        got = {**got, **ter_got}
        rows = [{**row, **ter_row} for row, ter_row in zip(rows, ter_rows, strict=False)]
    ref = {r["name"]: r for proc in procs for r in results(proc)}
    nrefs = len(setup.pair.refs)
    for bench_name, cli_name in (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER")):
        value = got[bench_name]
        scored_on = ter_setup if bench_name == "ter" else setup
        assert value.n == len(scored_on.ctx.references)
        assert four(value.value) == ref[cli_name]["score"], (name, bench_name)
        assert sacre_signature(value) == ref[cli_name]["signature"], (name, bench_name)
        assert f"nrefs:{nrefs}|" in value.signature
        assert value.signature.endswith("|boot:1000|conf:0.95|seed:12345")
        assert value.ci_low is not None and value.ci_high is not None
        assert value.ci_low <= value.value <= value.ci_high
    # Realistic numbers: far from both the floor and a copy of a reference.
    assert 20 < got["bleu"].value < 90 and 40 < got["chrf"].value < 95
    assert 5 < got["ter"].value < 60
    # The failed line scores as an empty hypothesis, sentence by sentence too.
    assert rows[FAILED_LINE]["sentence_bleu"] == 0.0
    assert rows[FAILED_LINE]["sentence_chrf"] == 0.0
    # TER takes the fewest edits (the shortest reference) over the average reference length.
    refs = list(setup.ctx.references[FAILED_LINE])
    zh = setup.pair.tgt == "zh"
    ter = SacreTER(normalized=zh, asian_support=zh).sentence_score("", refs).score
    assert rows[FAILED_LINE]["sentence_ter"] == ter
    assert (ter == 100.0) if nrefs == 1 else (0 < ter <= 100.0)


def test_en_zh_bare_scores(setups: dict[str, Setup]) -> None:
    """``sacrebleu REF_A REF_B -i HYP -m bleu chrf -b -w 4 -tok zh``: the bare numbers (TER's
    equality with the command line is :func:`test_bench_equals_sacrebleu_cli`'s)."""
    setup = setups["en-zh"]
    got, _, _ = scored("en-zh", setup)
    bare = cli_scores(setup, "-m", "bleu", "chrf", *CLI_FLAGS["en-zh"])
    assert bare == [four(got[k].value) for k in ("bleu", "chrf")]


def test_en_zh_target_language_is_cli_langpair(setups: dict[str, Setup], tmp_path: Path) -> None:
    """``-l en-zh`` picks ``tok:zh`` as bench does (bench's TER on it has CJK support)."""
    setup = setups["en-zh"]
    got, _, _ = scored("en-zh", setup)
    ref = {r["name"]: r for r in cli(setup, "-l", "en-zh", "-m", "bleu")}
    assert four(got["bleu"].value) == ref["BLEU"]["score"]
    assert sacre_signature(got["bleu"]) == ref["BLEU"]["signature"]
    assert "|tok:zh|" in ref["BLEU"]["signature"]
    # -l en-zh picks BLEU's tokenizer only; TER's CJK options are flags on the command line
    # (CLI_FLAGS), which bench's default for a Chinese target turns on.
    (ter,) = TER().score(head(setup, 20, tmp_path).ctx)
    assert "|norm:yes|" in ter.signature and "|asian:yes|" in ter.signature


def test_en_zh_13a_differs(setups: dict[str, Setup]) -> None:
    """Forcing ``13a`` on Chinese reproduces the CLI's ``-tok 13a`` — and a much lower BLEU."""
    setup = setups["en-zh"]
    (zh,) = BLEU().score(setup.ctx)
    (v13a,) = BLEU(tokenize="13a").score(setup.ctx)
    ref = cli(setup, "-tok", "13a", "-m", "bleu")[0]
    assert four(v13a.value) == ref["score"]
    assert sacre_signature(v13a) == ref["signature"]
    assert v13a.value < zh.value / 2


def test_en_de_chrf_plus_plus(setups: dict[str, Setup]) -> None:
    setup = setups["en-de"]
    proc = start_cli(setup, "-m", "chrf", "--chrf-word-order", "2")
    (value,) = CHRF(word_order=2).score(setup.ctx)
    ref = results(proc)[0]
    assert ref["name"] == "chrF2++"
    assert four(value.value) == ref["score"]
    assert sacre_signature(value) == ref["signature"]
