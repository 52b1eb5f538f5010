"""Preprocessing steps on real English and Chinese text.

NLTK data comes from ``../shared/nltk_data`` beside the repository (see its SOURCES.md); tests
that must not see any NLTK data point NLTK at an empty folder instead. The English POS tagger
is not in the shared data, so one fixture trains NLTK's perceptron tagger on the shared Penn
Treebank sample and saves it in the ``averaged_perceptron_tagger_eng`` layout.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nltk
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bench.errors import DataError, MissingDependency, MissingResource, TaskSpecError
from bench.preprocess import zh as zh_module
from bench.preprocess.base import Step, TextStep
from bench.preprocess.en import EnPOS, EnSentences, EnTokenize
from bench.preprocess.resources import (
    NLTK_PACKAGES,
    jieba_status,
    nltk_resources,
    opencc_status,
    require_nltk,
)
from bench.preprocess.stopwords import RemoveStopwords, stopword_list
from bench.preprocess.text import (
    CJK_PUNCTUATION_KEPT,
    CollapseWhitespace,
    FullwidthToHalfwidth,
    Lowercase,
    StripHTML,
    Truncate,
    UnicodeNFKC,
)
from bench.preprocess.zh import TraditionalToSimplified, ZhPOS, ZhSegment
from bench.registry import registry

REPO = Path(__file__).parents[3]
SHARED_NLTK_DATA = REPO.parent / "shared" / "nltk_data"

OUR_STEPS = {
    "unicode_nfkc": UnicodeNFKC,
    "fullwidth_to_halfwidth": FullwidthToHalfwidth,
    "lowercase": Lowercase,
    "strip_html": StripHTML,
    "collapse_whitespace": CollapseWhitespace,
    "truncate": Truncate,
    "traditional_to_simplified": TraditionalToSimplified,
    "zh_segment": ZhSegment,
    "zh_pos": ZhPOS,
    "en_tokenize": EnTokenize,
    "en_sentences": EnSentences,
    "en_pos": EnPOS,
    "remove_stopwords": RemoveStopwords,
}

# The jieba README's example for user dictionaries.
LI_XIAOFU = "李小福是创新办主任也是云计算方面的专家"


def _use_nltk_data(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """Make ``folders`` the only places NLTK looks for data."""
    monkeypatch.setattr(nltk.data, "path", [str(f) for f in folders])
    monkeypatch.setenv("NLTK_DATA", os.pathsep.join(str(f) for f in folders))


@pytest.fixture
def shared_nltk(monkeypatch: pytest.MonkeyPatch) -> Path:
    if not SHARED_NLTK_DATA.is_dir():
        pytest.fail(f"the shared NLTK data folder {SHARED_NLTK_DATA} is missing")
    _use_nltk_data(monkeypatch, SHARED_NLTK_DATA)
    return SHARED_NLTK_DATA


@pytest.fixture
def no_nltk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    empty = tmp_path / "empty_nltk_data"
    empty.mkdir()
    _use_nltk_data(monkeypatch, empty)
    return empty


# --------------------------------------------------------------------------- registry, params


def test_registry_resolves_every_step_to_its_class() -> None:
    for name, cls in OUR_STEPS.items():
        assert registry.get("step", name) is cls
        assert cls.name == name
        assert issubclass(cls, Step)


@pytest.mark.parametrize("name", sorted(OUR_STEPS))
def test_unknown_param_is_rejected(name: str) -> None:
    cls = OUR_STEPS[name]
    required: dict[str, Any] = {
        "truncate": {"max_chars": 5},
        "remove_stopwords": {"language": "en"},
    }
    with pytest.raises(ValidationError, match="bogus"):
        cls(**required.get(name, {}), bogus=1)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ZhSegment, {"mode": "fast"}),
        (ZhSegment, {"hmm": "sometimes"}),
        (TraditionalToSimplified, {"config": "s2t"}),
        (EnPOS, {"tagset": "brown"}),
        (EnSentences, {"language": "../../etc"}),
        (RemoveStopwords, {}),
        (RemoveStopwords, {"language": "fr"}),
        (Truncate, {}),
        (Truncate, {"max_tokens": 3, "max_chars": 3}),
        (Truncate, {"max_chars": 0}),
        (FullwidthToHalfwidth, {"punctuation": "maybe"}),
    ],
)
def test_bad_param_values_are_rejected(cls: type[Step], params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        cls(**params)


def test_steps_are_frozen_and_identity_names_step_and_params() -> None:
    step = ZhSegment(mode="search")
    with pytest.raises(ValidationError):
        step.mode = "full"
    ident = step.identity()
    assert ident["step"] == "zh_segment"
    assert ident["params"]["mode"] == "search"
    assert TraditionalToSimplified(config="tw2s").identity()["params"]["config"] == "tw2s"


def test_importing_steps_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import bench.preprocess.text, bench.preprocess.zh, bench.preprocess.en\n"
        "import bench.preprocess.stopwords, bench.preprocess.resources\n"
        "heavy = ('torch', 'datasets', 'jieba', 'nltk', 'opencc')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- text steps


def test_nfkc_folds_fullwidth_and_compatibility_characters() -> None:
    step = UnicodeNFKC()
    assert step.transform("ＡＢＣ１２３") == "ABC123"
    assert step.transform("ﬁne ① ㍿ ｶﾀｶﾅ") == "fine 1 株式会社 カタカナ"
    # Full-width ASCII punctuation has a compatibility form; the ideographic full stop has none.
    assert step.transform("你好，世界。") == "你好,世界。"
    # Composition: e + combining acute is one code point after NFKC.
    assert step.transform("e\u0301") == "é"


def test_fullwidth_to_halfwidth_keeps_chinese_punctuation() -> None:
    step = FullwidthToHalfwidth()
    assert step.transform("ＧＰＴ－４　得分：９５％，很好。") == "GPT-4 得分：95%，很好。"
    assert step.transform("我们、他们，“你好”！（注）") == "我们、他们，“你好”！（注）"
    # Only the full-width block: ligatures, circled digits and half-width katakana stay.
    assert step.transform("ﬁ ① ｶﾅ") == "ﬁ ① ｶﾅ"
    assert FullwidthToHalfwidth(punctuation=False).transform("ＧＰＴ－４　＃１") == "GPT－4 ＃1"


def test_fullwidth_to_halfwidth_covers_the_whole_block() -> None:
    with_punct, without = FullwidthToHalfwidth(), FullwidthToHalfwidth(punctuation=False)
    for code in range(0xFF01, 0xFF5F):
        char, ascii_char = chr(code), chr(code - 0xFEE0)
        if char.isalnum():
            assert with_punct.transform(char) == without.transform(char) == ascii_char
        else:
            assert without.transform(char) == char
            expected = char if char in CJK_PUNCTUATION_KEPT else ascii_char
            assert with_punct.transform(char) == expected, hex(code)
    assert with_punct.transform("\u3000") == " "


def test_lowercase() -> None:
    assert Lowercase().transform("The ÀÉÎ Straße 北京 ΑΣ") == "the àéî straße 北京 ας"


def test_strip_html_removes_tags_and_unescapes_entities() -> None:
    html = (
        "<div class='review'><p>Fish &amp; chips</p><p>5 &lt; 6 &gt; 4<br>next&nbsp;line "
        "&#x4E2D;&#25991; &quot;ok&quot;</p><script>alert('x')</script><!-- note -->end</div>"
    )
    assert StripHTML().transform(html) == ('Fish & chips\n5 < 6 > 4\nnext\xa0line 中文 "ok"\nend')


def test_strip_html_keeps_plain_text_and_stray_brackets() -> None:
    step = StripHTML()
    assert step.transform("a < b and c > d") == "a < b and c > d"
    assert step.transform("AT&T &copy; 2024") == "AT&T © 2024"
    assert step.transform("第一行<br/>第二行") == "第一行\n第二行"
    assert step.transform("这部电影<b>很</b>好看") == "这部电影很好看"


def test_collapse_whitespace() -> None:
    assert CollapseWhitespace().transform("  a\t\tb \n\n c\u3000\u3000d\xa0 ") == "a b c d"


def test_text_steps_keep_missing_values() -> None:
    batch = {"text": ["Ａ  Ｂ", None]}
    assert CollapseWhitespace().apply(batch, ["text"]) == {"text": ["Ａ Ｂ", None]}


def test_truncate_by_chars_counts_code_points() -> None:
    step = Truncate(max_chars=4)
    out = step.apply({"text": ["北京欢迎你", "abc", "😀😀😀😀😀", None]}, ["text"])
    assert out == {"text": ["北京欢迎", "abc", "😀😀😀😀", None]}
    assert step.needs_tokens is False


def test_truncate_by_tokens_cuts_tokens_and_tags() -> None:
    step = Truncate(max_tokens=2)
    batch: dict[str, list[Any]] = {
        "text": ["我爱北京天安门"],
        "text_tokens": [["我", "爱", "北京", "天安门"]],
        "text_pos": [["r", "v", "ns", "ns"]],
    }
    assert step.apply(batch, ["text"]) == {
        "text_tokens": [["我", "爱"]],
        "text_pos": [["r", "v"]],
    }
    assert step.needs_tokens is True


def test_token_steps_without_tokens_say_which_step_is_missing() -> None:
    with pytest.raises(TaskSpecError, match="text_tokens"):
        Truncate(max_tokens=2).apply({"text": ["a b"]}, ["text"])
    with pytest.raises(TaskSpecError, match="tokenising step"):
        RemoveStopwords(language="zh").apply({"text": ["我的"]}, ["text"])


# --------------------------------------------------------------------------- Chinese


def test_t2s_converts_traditional_to_simplified() -> None:
    assert TraditionalToSimplified().transform("漢字與計算機") == "汉字与计算机"
    assert TraditionalToSimplified(config="tw2s").transform("臺灣") == "台湾"
    assert TraditionalToSimplified(config="hk2s").transform("香港電影") == "香港电影"
    # tw2sp also converts Taiwan phrases to mainland ones.
    assert TraditionalToSimplified(config="tw2sp").transform("滑鼠和軟體") == "鼠标和软件"
    # Simplified text passes through; missing values stay missing.
    out = TraditionalToSimplified().apply({"text": ["汉字 ABC", None]}, ["text"])
    assert out == {"text": ["汉字 ABC", None]}


@pytest.fixture
def fresh_converters() -> Iterator[None]:
    zh_module._converter.cache_clear()
    yield
    zh_module._converter.cache_clear()


@pytest.mark.usefixtures("fresh_converters")
def test_t2s_with_a_broken_opencc_install_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What an install that lost opencc/__init__.py looks like: a namespace package, no OpenCC.
    monkeypatch.setitem(sys.modules, "opencc", types.ModuleType("opencc"))
    with pytest.raises(MissingDependency, match="force-reinstall") as info:
        TraditionalToSimplified().check_resources()
    assert "traditional_to_simplified" in str(info.value)
    assert opencc_status().present is False


def test_zh_segment_accurate_mode() -> None:
    assert ZhSegment().tokenize("我来到北京清华大学") == ["我", "来到", "北京", "清华大学"]
    out = ZhSegment().apply({"text": ["我来到北京清华大学", None]}, ["text"])
    assert out == {"text_tokens": [["我", "来到", "北京", "清华大学"], []]}


def test_zh_segment_full_and_search_modes() -> None:
    assert ZhSegment(mode="full").tokenize("我来到北京清华大学") == [
        "我",
        "来到",
        "北京",
        "清华",
        "清华大学",
        "华大",
        "大学",
    ]
    search = ZhSegment(mode="search").tokenize("小明硕士毕业于中国科学院计算所")
    assert {"中国科学院", "科学院", "中国", "计算所"} <= set(search)


def test_zh_segment_hmm_finds_unknown_words() -> None:
    # 杭研 is not in jieba's dictionary; the HMM joins it.
    assert ZhSegment().tokenize("他来到了网易杭研大厦") == [
        "他",
        "来到",
        "了",
        "网易",
        "杭研",
        "大厦",
    ]
    assert "杭研" not in ZhSegment(hmm=False).tokenize("他来到了网易杭研大厦")


def test_zh_segment_drops_whitespace_tokens() -> None:
    tokens = ZhSegment().tokenize("我爱  北京\t天安门\u3000 hello  world\n")
    assert tokens == ["我", "爱", "北京", "天安门", "hello", "world"]


def test_zh_user_dictionary_changes_segmentation(tmp_path: Path) -> None:
    user_dict = tmp_path / "user.dict"
    user_dict.write_text("创新办 3 i\n云计算 5\n", encoding="utf-8")
    assert ZhSegment().tokenize(LI_XIAOFU)[:5] == ["李小福", "是", "创新", "办", "主任"]
    tokens = ZhSegment(user_dict=str(user_dict)).tokenize(LI_XIAOFU)
    assert tokens == ["李小福", "是", "创新办", "主任", "也", "是", "云计算", "方面", "的", "专家"]


def test_two_user_dictionaries_do_not_interfere(tmp_path: Path) -> None:
    import jieba

    dict_a, dict_b = tmp_path / "a.dict", tmp_path / "b.dict"
    dict_a.write_text("创新办 3 i\n", encoding="utf-8")
    dict_b.write_text("云计算 5\n", encoding="utf-8")
    seg_a, seg_b = ZhSegment(user_dict=str(dict_a)), ZhSegment(user_dict=str(dict_b))
    first_a = seg_a.tokenize(LI_XIAOFU)
    tokens_b = seg_b.tokenize(LI_XIAOFU)
    assert "创新办" in first_a and "云计算" not in first_a
    assert "云计算" in tokens_b and "创新办" not in tokens_b
    assert seg_a.tokenize(LI_XIAOFU) == first_a  # unchanged after b was loaded
    plain = ZhSegment().tokenize(LI_XIAOFU)
    assert "创新办" not in plain and "云计算" not in plain
    # jieba's global tokenizer is never touched.
    assert jieba.lcut(LI_XIAOFU) == plain


def test_an_edited_user_dictionary_is_reloaded(tmp_path: Path) -> None:
    user_dict = tmp_path / "user.dict"
    user_dict.write_text("创新办 3\n", encoding="utf-8")
    step = ZhSegment(user_dict=str(user_dict))
    before = step.identity()
    assert "创新办" in step.tokenize(LI_XIAOFU)
    user_dict.write_text("云计算 5\n", encoding="utf-8")
    tokens = step.tokenize(LI_XIAOFU)
    assert "云计算" in tokens and "创新办" not in tokens
    after = step.identity()
    assert before["depends"]["user_dict"] != after["depends"]["user_dict"]
    assert len(after["depends"]["user_dict"]) == 16


def test_missing_user_dictionary_is_a_missing_resource(tmp_path: Path) -> None:
    missing = tmp_path / "nope.dict"
    for step in (ZhSegment(user_dict=str(missing)), ZhPOS(user_dict=str(missing))):
        with pytest.raises(MissingResource, match=r"nope\.dict") as info:
            step.check_resources()
        assert step.name in str(info.value)
        with pytest.raises(MissingResource):
            step.apply({"text": ["我"]}, ["text"])


def test_user_dictionary_not_in_utf8_is_a_data_error(tmp_path: Path) -> None:
    user_dict = tmp_path / "gbk.dict"
    user_dict.write_bytes("创新办 3\n".encode("gbk"))
    with pytest.raises(DataError, match=r"gbk\.dict"):
        ZhSegment(user_dict=str(user_dict)).tokenize(LI_XIAOFU)


def test_zh_pos_writes_aligned_tokens_and_tags(tmp_path: Path) -> None:
    out = ZhPOS().apply({"text": ["我爱北京天安门", None]}, ["text"])
    assert out == {
        "text_tokens": [["我", "爱", "北京", "天安门"], []],
        "text_pos": [["r", "v", "ns", "ns"], []],
    }
    user_dict = tmp_path / "user.dict"
    user_dict.write_text("创新办 3 nt\n", encoding="utf-8")
    tokens, tags = ZhPOS(user_dict=str(user_dict)).tag(LI_XIAOFU)
    assert len(tokens) == len(tags)
    assert dict(zip(tokens, tags, strict=True))["创新办"] == "nt"
    assert dict(zip(tokens, tags, strict=True))["李小福"] == "nr"


def test_jieba_status_hashes_the_dictionary() -> None:
    import jieba

    status = jieba_status()
    assert status.present and status.version == jieba.__version__
    dict_path = Path(jieba.__file__).parent / "dict.txt"
    assert status.path == str(dict_path)
    assert status.checksum == hashlib.sha256(dict_path.read_bytes()).hexdigest()[:16]


def test_opencc_status_loads_every_conversion() -> None:
    status = opencc_status()
    assert status.present, status.detail
    assert "t2s" in status.detail and status.version


# --------------------------------------------------------------------------- English


@pytest.mark.usefixtures("no_nltk")
def test_en_tokenize_needs_no_nltk_data() -> None:
    step = EnTokenize()
    step.check_resources()
    assert step.tokenize("Don't panic, it's fine.") == [
        "Do",
        "n't",
        "panic",
        ",",
        "it",
        "'s",
        "fine",
        ".",
    ]
    out = step.apply({"text": ['She said "hi" (twice).', None]}, ["text"])
    assert out == {"text_tokens": [["She", "said", "``", "hi", "''", "(", "twice", ")", "."], []]}


def test_en_tokenize_with_sentence_split_needs_punkt(no_nltk: Path) -> None:
    with pytest.raises(MissingResource, match="punkt_tab") as info:
        EnTokenize(sentence_split=True).check_resources()
    assert "python -m nltk.downloader punkt_tab" in str(info.value)
    assert str(no_nltk) in str(info.value)


@pytest.mark.usefixtures("shared_nltk")
def test_en_tokenize_sentence_split_separates_inner_periods() -> None:
    text = "I met Dr. Smith. He left."
    assert EnTokenize().tokenize(text) == ["I", "met", "Dr.", "Smith.", "He", "left", "."]
    split = EnTokenize(sentence_split=True).tokenize(text)
    assert split == ["I", "met", "Dr.", "Smith", ".", "He", "left", "."]


@pytest.mark.usefixtures("shared_nltk")
def test_en_sentences_with_punkt() -> None:
    text = "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday. Was it late?"
    assert EnSentences().apply({"review": [text, None]}, ["review"]) == {
        "review_sentences": [
            ["Mr. Smith went to Washington.", "He arrived at 5 p.m. on Monday.", "Was it late?"],
            [],
        ]
    }


def test_en_sentences_without_punkt_says_how_to_install_it(no_nltk: Path) -> None:
    step = EnSentences()
    with pytest.raises(MissingResource) as info:
        step.check_resources()
    error = info.value
    assert error.message == (
        "NLTK data package 'punkt_tab' (needed by step 'en_sentences') is not installed; "
        f"searched: {no_nltk}"
    )
    assert error.fix == (
        "run `python -m nltk.downloader punkt_tab` or set NLTK_DATA to a folder that has it"
    )
    with pytest.raises(MissingResource, match="punkt_tab"):
        step.apply({"text": ["One. Two."]}, ["text"])


@pytest.mark.usefixtures("shared_nltk")
def test_en_pos_without_the_tagger_is_a_missing_resource() -> None:
    with pytest.raises(MissingResource, match="averaged_perceptron_tagger_eng") as info:
        EnPOS().check_resources()
    assert "python -m nltk.downloader averaged_perceptron_tagger_eng" in str(info.value)
    assert "'en_pos'" in str(info.value)
    with pytest.raises(MissingResource):
        EnPOS().apply({"text_tokens": [["A", "cat", "."]]}, ["text"])


def _treebank_sentences() -> list[list[tuple[str, str]]]:
    from nltk.corpus.reader import BracketParseCorpusReader

    root = nltk.data.find("corpora/treebank/combined/")
    reader = BracketParseCorpusReader(root, r"wsj_.*\.mrg")
    # Trace elements (-NONE-) are not words of the text.
    return [[(w, t) for w, t in sent if t != "-NONE-"] for sent in reader.tagged_sents()]


@pytest.fixture(scope="module")
def trained_tagger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A perceptron tagger trained on 300 treebank sentences, saved as NLTK would ship it."""
    from nltk.tag.perceptron import PerceptronTagger

    data = tmp_path_factory.mktemp("trained_nltk_data")
    (data / "taggers").mkdir(mode=0o700)  # NLTK refuses data folders others can write to
    with pytest.MonkeyPatch.context() as mp:
        # NLTK only writes inside its data path, so the target folder goes on it.
        _use_nltk_data(mp, data, SHARED_NLTK_DATA)
        sentences = _treebank_sentences()
        state = random.getstate()
        random.seed(0)  # training shuffles with the global generator
        try:
            tagger = PerceptronTagger(load=False)
            tagger.train(sentences[:300], nr_iter=5)
        finally:
            random.setstate(state)
        tagger.save_to_json(
            lang="eng", loc=str(data / "taggers" / "averaged_perceptron_tagger_eng")
        )
    yield data, (tagger, sentences[-200:])


def test_en_pos_tags_with_a_trained_tagger(
    monkeypatch: pytest.MonkeyPatch, trained_tagger: tuple[Path, Any]
) -> None:
    data, (tagger, held_out) = trained_tagger
    _use_nltk_data(monkeypatch, data, SHARED_NLTK_DATA)
    EnPOS().check_resources()
    tokens = EnTokenize().tokenize("The company said its profit rose in the third quarter.")
    out = EnPOS().apply({"text_tokens": [tokens, []]}, ["text"])
    tags = out["text_pos"][0]
    assert len(tags) == len(tokens) and out["text_pos"][1] == []
    assert tags[0] == "DT" and tags[tokens.index("the")] == "DT" and tags[-1] == "."
    # Words the model learned as unambiguous get exactly the tag it learned.
    for token, tag in zip(tokens, tags, strict=True):
        if token in tagger.tagdict:
            assert tag == tagger.tagdict[token]
    # A real tagger: well above chance on sentences it never saw.
    gold = [[tag for _, tag in sent] for sent in held_out]
    batch = {"text_tokens": [[word for word, _ in sent] for sent in held_out]}
    predicted = EnPOS().apply(batch, ["text"])["text_pos"]
    pairs = [
        (p, g)
        for p_sent, g_sent in zip(predicted, gold, strict=True)
        for p, g in zip(p_sent, g_sent, strict=True)
    ]
    assert sum(p == g for p, g in pairs) / len(pairs) > 0.8

    universal = EnPOS(tagset="universal").tag(tokens)
    assert universal[0] == "DET" and universal[-1] == "."
    assert set(universal) <= {
        "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", ".", "X",
    }  # fmt: skip


def test_en_pos_universal_needs_the_universal_tagset(
    monkeypatch: pytest.MonkeyPatch, trained_tagger: tuple[Path, Any]
) -> None:
    data, _ = trained_tagger
    _use_nltk_data(monkeypatch, data)  # the tagger, but not the shared universal_tagset
    EnPOS().check_resources()
    with pytest.raises(MissingResource, match="universal_tagset"):
        EnPOS(tagset="universal").check_resources()


def test_nltk_resources_report_what_is_installed(shared_nltk: Path) -> None:
    statuses = {s.name: s for s in nltk_resources()}
    assert list(statuses) == [p.name for p in NLTK_PACKAGES]
    for name in ("punkt_tab", "stopwords", "universal_tagset", "movie_reviews"):
        assert statuses[name].present, name
        assert str(shared_nltk) in (statuses[name].path or "")
    tagger = statuses["averaged_perceptron_tagger_eng"]
    assert not tagger.present and tagger.path is None
    assert tagger.download == "python -m nltk.downloader averaged_perceptron_tagger_eng"
    assert "en_pos" in tagger.used_by


@pytest.mark.usefixtures("no_nltk")
def test_require_nltk_error_names_package_step_and_command() -> None:
    with pytest.raises(MissingResource) as info:
        require_nltk("corpora/stopwords/english", "stopwords", "remove_stopwords")
    assert "'stopwords'" in info.value.message and "'remove_stopwords'" in info.value.message
    assert "python -m nltk.downloader stopwords" in (info.value.fix or "")


# --------------------------------------------------------------------------- stopwords


@pytest.mark.usefixtures("shared_nltk")
def test_remove_english_stopwords_keeps_tags_aligned() -> None:
    batch = {
        "text_tokens": [["The", "cat", "is", "on", "the", "mat", "."], []],
        "text_pos": [["DT", "NN", "VBZ", "IN", "DT", "NN", "."], []],
    }
    assert RemoveStopwords(language="en").apply(batch, ["text"]) == {
        "text_tokens": [["cat", "mat", "."], []],
        "text_pos": [["NN", "NN", "."], []],
    }
    exact = RemoveStopwords(language="en", case_sensitive=True).apply(batch, ["text"])
    assert exact["text_tokens"][0] == ["The", "cat", "mat", "."]
    extra = RemoveStopwords(language="en", extra=["Cat", "."]).apply(batch, ["text"])
    assert extra["text_tokens"][0] == ["mat"]
    assert len(stopword_list("en")) > 100


@pytest.mark.usefixtures("no_nltk")
def test_english_stopwords_need_the_nltk_package() -> None:
    with pytest.raises(MissingResource, match="'stopwords'"):
        RemoveStopwords(language="en").check_resources()
    # The Chinese list ships with bench: no NLTK data needed.
    RemoveStopwords(language="zh").check_resources()


def test_remove_chinese_stopwords_after_segmentation() -> None:
    texts = ["我的朋友在北京工作，他很喜欢这个城市。", "我不喜欢这部电影！"]
    tokens = ZhSegment().apply({"text": texts}, ["text"])
    out = RemoveStopwords(language="zh").apply(tokens, ["text"])
    # Negations are not stopwords: dropping 不 would flip a review's sentiment.
    assert out == {
        "text_tokens": [["朋友", "北京", "工作", "喜欢", "城市"], ["不", "喜欢", "这部", "电影"]]
    }


def test_chinese_stopword_list_is_clean() -> None:
    words = stopword_list("zh")
    assert 300 <= len(words) <= 700
    assert len(set(words)) == len(words)
    assert all(w == w.strip() and w and not any(c.isspace() for c in w) for w in words)
    assert {"的", "了", "是", "在", "我们", "，", "。", "、"} <= set(words)
    assert not {"不", "没", "没有", "别", "未", "无", "非"} & set(words)


# --------------------------------------------------------------------------- properties

IDEMPOTENT_STEPS = [
    UnicodeNFKC(),
    Lowercase(),
    CollapseWhitespace(),
    FullwidthToHalfwidth(),
    FullwidthToHalfwidth(punctuation=False),
]


def _registered_text_steps() -> list[TextStep]:
    steps = []
    for name in registry.names("step"):
        cls = registry.get("step", name)
        if isinstance(cls, type) and issubclass(cls, TextStep):
            try:
                steps.append(cls())
            except ValidationError:  # a step with required params: not testable blind
                continue
    return steps


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_idempotent_text_steps(text: str) -> None:
    for step in IDEMPOTENT_STEPS:
        once = step.transform(text)
        assert step.transform(once) == once, step.name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text() | st.from_regex(r"(<[a-z/!?][^>]{0,8}>?|&#?[a-z0-9]{0,6};?|[^<&]{0,5})*"))
def test_every_text_step_returns_text_and_never_raises(text: str) -> None:
    steps = _registered_text_steps()
    assert {type(s).name for s in steps} >= {
        "unicode_nfkc",
        "fullwidth_to_halfwidth",
        "lowercase",
        "strip_html",
        "collapse_whitespace",
        "traditional_to_simplified",
    }
    for step in steps:
        assert isinstance(step.transform(text), str), step.name
        assert step.apply({"t": [text, None]}, ["t"])["t"][1] is None


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_collapse_whitespace_keeps_the_words(text: str) -> None:
    out = CollapseWhitespace().transform(text)
    assert out.split() == text.split()
    assert "  " not in out and out == out.strip()


@settings(max_examples=200, deadline=None)
@given(text=st.text(), limit=st.integers(min_value=1, max_value=20))
def test_truncate_chars_is_a_prefix(text: str, limit: int) -> None:
    out = Truncate(max_chars=limit).apply({"t": [text]}, ["t"])["t"][0]
    assert text.startswith(out) and len(out) == min(len(text), limit)


_ZH_ALPHABET = (
    "我来到北京清华大学今天天气很好的了是在他们电影喜欢不，。！？、“”abcXY19 \t\n\u3000.-#%"
)


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=_ZH_ALPHABET, max_size=40))
def test_zh_segment_loses_no_characters(text: str) -> None:
    tokens = ZhSegment().tokenize(text)
    assert "".join(tokens) == "".join(text.split())
    assert all(t.strip() for t in tokens)
