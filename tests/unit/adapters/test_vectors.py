"""The ``vectors:`` model and the vectorised answers of :class:`VectorModel`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench.adapters.vectors as vectors_module
from bench.adapters.base import make_adapter
from bench.adapters.vector_files import Word2VecSettings, train_word2vec
from bench.adapters.vectors import VectorsAdapter, Vocabulary, solve_analogies
from bench.errors import BenchError, DataError
from bench.families.wordvec import (
    WordAnalogyRequest,
    WordAnalogyResponse,
    WordSimilarityRequest,
    WordSimilarityResponse,
)

datapath = pytest.importorskip("gensim.test.utils").datapath

_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


def _pair(w1: str, w2: str, **kw: Any) -> WordSimilarityRequest:
    return WordSimilarityRequest(id=f"{w1}-{w2}", language="en", word1=w1, word2=w2, **kw)


def _question(a: str, b: str, c: str, d: str, **kw: Any) -> WordAnalogyRequest:
    return WordAnalogyRequest(
        id=f"{a}{b}{c}", language="en", a=a, b=b, c=c, d=d, category="x", **kw
    )


def _write_vectors(path: Path, rows: dict[str, list[float]]) -> Path:
    dim = len(next(iter(rows.values())))
    lines = [f"{len(rows)} {dim}"] + [f"{w} " + " ".join(map(str, v)) for w, v in rows.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_fingerprint_is_the_files_content_not_its_path(tmp_path: Path) -> None:
    first = tmp_path / "a.vec"
    shutil.copy(datapath("lee_fasttext.vec"), first)
    moved = tmp_path / "elsewhere" / "b.vec"
    moved.parent.mkdir()
    shutil.copy(first, moved)
    a, b = VectorsAdapter(str(first)), VectorsAdapter(str(moved))
    assert a.fingerprint() == b.fingerprint()
    data = bytearray(moved.read_bytes())
    data[-3] = ord("9") if data[-3] != ord("9") else ord("8")  # one digit of the last vector
    moved.write_bytes(bytes(data))
    assert VectorsAdapter(str(moved)).fingerprint() != a.fingerprint()
    assert VectorsAdapter(str(first), format="word2vec").fingerprint() == a.fingerprint()


def test_spec_formats_and_info() -> None:
    glove = make_adapter(f"vectors:{datapath('test_glove.txt')}")
    assert isinstance(glove, VectorsAdapter)
    assert glove.vector_format() == "glove"
    info = glove.info()
    assert info["dim"] == 50 and info["vocabulary"] == 76 and info["source"]["format"] == "glove"
    assert glove.supports("word-similarity") and glove.supports("word-analogy")
    assert not glove.supports("sentiment")


def test_case_folding_keeps_the_first_variant_and_restrict_vocab_cuts(tmp_path: Path) -> None:
    path = _write_vectors(
        tmp_path / "v.vec",
        {"Paris": [1.0, 0.0], "paris": [0.0, 1.0], "rome": [1.0, 1.0], "far": [1.0, -1.0]},
    )
    model = VectorsAdapter(str(path))
    out = model.predict(
        [
            _pair("PARIS", "rome"),  # folded: the first variant, 'Paris'
            _pair("paris", "rome", case_insensitive=False),  # the lower-case row itself
            _pair("paris", "far", restrict_vocab=3),  # 'far' is the 4th word: outside
            _question("paris", "rome", "far", "nowhere"),  # d outside: out of vocabulary
        ]
    )
    assert isinstance(out[0], WordSimilarityResponse) and isinstance(out[1], WordSimilarityResponse)
    assert out[0].similarity == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    assert out[1].similarity == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    assert isinstance(out[2], WordSimilarityResponse) and out[2].similarity is None
    assert out[3] == WordAnalogyResponse(cosadd=None, cosmul=None)
    vocab = Vocabulary.build(["Paris", "paris", "rome"], None, True)
    assert vocab.index == {"PARIS": 0, "ROME": 2} and vocab.folded_row.tolist() == [0, 0, 2]


def test_analogies_are_solved_in_batches_not_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((400, 16)).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    vocab = Vocabulary.build([f"w{i}" for i in range(400)], None, False)
    questions = rng.integers(0, 400, size=(1000, 3))
    calls: list[int] = []
    real = vectors_module._top_candidates

    def counting(scores: np.ndarray, k: int) -> np.ndarray:
        calls.append(scores.shape[0])
        return real(scores, k)

    monkeypatch.setattr(vectors_module, "_top_candidates", counting)
    monkeypatch.setattr(vectors_module, "NEAR_TIE", 0.0)  # no re-scoring: count the batch path
    add, mul = solve_analogies(vectors, norms, vocab, questions)
    # One batch: one ranking of all 1000 questions per objective.
    assert len(calls) == 2 and set(calls) == {1000}
    calls.clear()
    small = solve_analogies(vectors, norms, vocab, questions, batch_cells=400 * 4 * 100)
    assert len(calls) == 20  # ten batches of 100
    assert np.array_equal(small[0], add) and np.array_equal(small[1], mul)
    # Answers are never a question word of their own question.
    assert not (add[:, None] == questions).any() and not (mul[:, None] == questions).any()


def test_predict_keeps_order_across_families_and_settings() -> None:
    model = make_adapter(f"vectors:{datapath('lee_fasttext.vec')}")
    requests = [
        _pair("government", "minister"),
        _question("man", "king", "woman", "queen"),
        _pair("government", "minister", case_insensitive=False),
        _pair("zyzzyva", "minister"),
    ]
    out = model.predict(requests)
    assert [type(r).__name__ for r in out] == [
        "WordSimilarityResponse",
        "WordAnalogyResponse",
        "WordSimilarityResponse",
        "WordSimilarityResponse",
    ]
    kv = model.keyed_vectors()  # type: ignore[attr-defined]
    assert out[2].similarity == float(kv.similarity("government", "minister"))  # type: ignore[union-attr]
    assert out[3].similarity is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content,needles",
    [
        ("", ["is empty"]),
        ("3 4\na 1 2 3 4\nb 1 2 3\nc 1 2 3 4\n", ["line 3", "'b' has 3 numbers, expected 4"]),
        ("2 2\na 1 2\nb 1 x\n", ["line 3", "'x' is not a number"]),
    ],
    ids=["empty", "short-row", "not-a-number"],
)
def test_bad_vector_files_name_the_file_and_line(
    tmp_path: Path, content: str, needles: list[str]
) -> None:
    path = tmp_path / "bad.vec"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        VectorsAdapter(str(path)).keyed_vectors()
    message = str(info.value)
    assert "bad.vec" in message and all(n in message for n in needles), message
    assert info.value.fix


def test_a_missing_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        VectorsAdapter(str(tmp_path / "nope.vec")).fingerprint()


# --------------------------------------------------------------------------- the CLI


def _one_line_error(capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> None:
    """``bench ARGS`` in this process exits 2 with one ``error:`` line holding ``needles``."""
    from bench.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    stderr = capsys.readouterr().err
    assert info.value.code == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert all(n in errors[0] for n in needles), errors[0]


@pytest.mark.slow
def test_cli_runs_smoke_and_standard_tasks_and_compares_two_vector_sets(
    bench_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gensim.utils import simple_preprocess

    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    with open(datapath("lee_background.cor"), encoding="utf-8") as fh:
        sentences = [simple_preprocess(line) for line in fh]
    trained = train_word2vec(sentences, Word2VecSettings(dim=16, epochs=3, seed=2))
    second = tmp_path / "lee-w2v.txt"
    trained.save_word2vec_format(str(second))
    first = datapath("lee_fasttext.vec")
    tasks = ["-t", "wordsim-en", "-t", "analogy-en", "-t", "wordsim353"]
    data = ["--data", f"wordsim353={datapath('wordsim353.tsv')}"]
    for spec in (f"vectors:{first},name=fasttext", f"vectors:{second},name=w2v"):
        proc = bench("run", "-m", spec, *tasks, *data)
        assert proc.returncode == 0, proc.stderr[-3000:]
    records = {
        (p.parent.parent.name.split("-")[0], p.parent.name): json.loads(p.read_text("utf-8"))
        for p in (bench_home / "results").rglob("record.json")
    }
    assert len(records) == 6
    spearman = records[("fasttext", "wordsim353")]["metrics"]["spearman"]
    assert spearman["ci_low"] <= spearman["value"] <= spearman["ci_high"]
    assert records[("w2v", "analogy-en")]["metrics"]["analogy_coverage"]["value"] > 0
    proc = bench("compare", "fasttext", "w2v")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "williams" in proc.stdout and "spearman" in proc.stdout
    assert "mcnemar" in proc.stdout and "analogy_3cosadd" in proc.stdout


@pytest.mark.parametrize(
    "task,content,needles",
    [
        ("wordsim-en", "# c\ncat\tdog\t5.0\ncar\tbus\tabc\n", ["line 3", "'abc', not a number"]),
        ("analogy-en", "a b c d\n: s\nx y z w\n", ["line 1", "before any ': category' line"]),
    ],
    ids=["bad-score", "no-section"],
)
def test_cli_bad_data_files_exit_2_naming_file_and_line(
    bench_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    task: str,
    content: str,
    needles: list[str],
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    model = f"vectors:{datapath('lee_fasttext.vec')}"
    args = ["run", "-m", model, "-t", task, "--data", f"{task}={path}"]
    _one_line_error(capsys, args, str(path), *needles)


def test_cli_bad_vector_files_exit_2(
    bench_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.vec"
    empty.write_text("", encoding="utf-8")
    short = tmp_path / "short.vec"
    short.write_text("2 3\na 1 2 3\nb 1 2\n", encoding="utf-8")
    _one_line_error(capsys, ["run", "-m", f"vectors:{empty}", "-t", "wordsim-en"], "empty.vec")
    args = ["run", "-m", f"vectors:{short}", "-t", "wordsim-en"]
    _one_line_error(capsys, args, "short.vec", "line 3", "has 2 numbers, expected 3")


def test_vectors_that_cover_no_word_of_a_task_skip_that_pair_only(
    bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # English vectors on a Chinese task: nothing to correlate, so that pair is reported as
    # skipped with the reason; the English task is still scored and recorded.
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    spec = f"vectors:{datapath('lee_fasttext.vec')},name=lee"
    proc = bench("run", "-m", spec, "-t", "wordsim-zh", "-t", "wordsim-en")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    out = " ".join((proc.stdout + proc.stderr).split())
    assert "lee: wordsim-zh (not scored:" in out
    assert "only 0 of 50 pairs inside the vocabulary" in out
    records = sorted(p.parent.name for p in (bench_home / "results").rglob("record.json"))
    assert records == ["wordsim-en"]


def test_an_analogy_task_with_no_question_in_the_vocabulary_is_unscored_not_nan(
    bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    spec = f"vectors:{datapath('lee_fasttext.vec')},name=lee"
    proc = bench("run", "-m", spec, "-t", "analogy-zh")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = " ".join((proc.stdout + proc.stderr).split())
    assert "lee: analogy-zh (not scored:" in out
    assert "none of the 80 questions has all four words inside the vocabulary" in out
    assert not list((bench_home / "results").rglob("record.json"))
