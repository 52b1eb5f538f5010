"""One jieba wrapper: every Chinese segmentation in bench goes through bench.preprocess.segmenter.

Its tokenizers are private (jieba's global one is never used, so a user dictionary loaded
into it changes nothing in bench), cached by dictionary content, and each caller (steps,
ROUGE, baselines) gets the same one for the same dictionaries.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jieba
import pytest

from bench.adapters.baselines import text_tokens
from bench.adapters.generation import jieba_words as generation_words
from bench.errors import DataError, MissingResource
from bench.families.sentiment import SentimentRequest
from bench.metrics.rouge import JiebaTokenizer
from bench.preprocess.segmenter import jieba_pos_tokenizer, jieba_tokenizer, jieba_words
from bench.preprocess.zh import ZhSegment

BENCH = Path(__file__).parents[3] / "bench"
LI_XIAOFU = "李小福是创新办主任也是云计算方面的专家"
ALLOWED = {"preprocess/segmenter.py", "preprocess/resources.py"}  # resources: jieba_status


def test_only_the_segmenter_touches_jieba() -> None:
    offenders = []
    for path in sorted(BENCH.rglob("*.py")):
        rel = path.relative_to(BENCH).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "jieba" or n.startswith("jieba.") for n in names) and rel not in ALLOWED:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == [], f"import jieba only in bench/preprocess/segmenter.py: {offenders}"


def test_every_caller_shares_one_private_tokenizer(tmp_path: Path) -> None:
    user = tmp_path / "user.dict"
    user.write_text("创新办 3\n云计算 5\n", encoding="utf-8")
    stock = jieba_tokenizer()
    assert stock is not jieba.dt  # never jieba's global tokenizer
    assert jieba_tokenizer(None, str(user)) is jieba_tokenizer(None, user)  # by content
    assert jieba_pos_tokenizer(None, user).tokenizer is jieba_tokenizer(None, user)
    assert generation_words is jieba_words


def test_a_global_user_dictionary_changes_nothing_in_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = SentimentRequest(id="1", text=LI_XIAOFU, language="zh", labels=["pos", "neg"])
    before = (text_tokens(request), jieba_words(LI_XIAOFU), ZhSegment().tokenize(LI_XIAOFU))
    rouge_before = JiebaTokenizer().tokenize(LI_XIAOFU)
    user = tmp_path / "global.dict"
    user.write_text("创新办 3\n云计算 5\n", encoding="utf-8")
    # Someone loads a user dictionary into jieba's global tokenizer (a fresh one, undone after).
    polluted = jieba.Tokenizer()
    polluted.load_userdict(str(user))
    for name in ("dt", "cut", "lcut"):  # jieba binds its module functions to ``dt``
        monkeypatch.setattr(jieba, name, polluted if name == "dt" else getattr(polluted, name))
    assert "创新办" in jieba.lcut(LI_XIAOFU)
    after = (text_tokens(request), jieba_words(LI_XIAOFU), ZhSegment().tokenize(LI_XIAOFU))
    assert after == before
    assert JiebaTokenizer().tokenize(LI_XIAOFU) == rouge_before
    assert "创新办" not in before[0]


def test_rouge_reads_a_user_dictionary_through_the_segmenter(tmp_path: Path) -> None:
    user = tmp_path / "user.dict"
    user.write_text("创新办 3\n", encoding="utf-8")
    assert "创新办" in JiebaTokenizer(user_dict=str(user)).tokenize(LI_XIAOFU)
    with pytest.raises(MissingResource, match=r"nope\.dict.*ROUGE"):
        JiebaTokenizer(user_dict=str(tmp_path / "nope.dict")).tokenize(LI_XIAOFU)
    bad = tmp_path / "gbk.dict"
    bad.write_bytes("创新办 3\n".encode("gbk"))
    with pytest.raises(DataError, match=r"gbk\.dict"):
        JiebaTokenizer(user_dict=str(bad)).tokenize(LI_XIAOFU)
