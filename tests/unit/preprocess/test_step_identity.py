"""A step's identity covers the libraries and data it depends on, and keys its cached output.

Upgrading jieba, editing a jieba dictionary in place or installing other NLTK data must change
the step's identity and the ``datasets`` fingerprint of its output, so ``apply_steps`` computes
the rows again instead of loading a stale cache file. The datasets here live on disk, so
``Dataset.map`` really caches (an in-memory dataset never would).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nltk
import pytest
from datasets import Dataset, load_from_disk

from bench.families.sentiment import SentimentFamily
from bench.preprocess import apply_steps, map_fingerprint, steps_identity
from bench.preprocess.en import EnSentences, EnTokenize
from bench.preprocess.resources import jieba_status, nltk_identity, opencc_identity
from bench.preprocess.segmenter import jieba_tokenizer
from bench.preprocess.stopwords import RemoveStopwords
from bench.preprocess.text import Lowercase, StripHTML, Truncate
from bench.preprocess.zh import TraditionalToSimplified, ZhSegment

SHARED_NLTK = Path(__file__).parents[3].parent / "shared" / "nltk_data"
LI_XIAOFU = "李小福是创新办主任也是云计算方面的专家"


def _on_disk(tmp_path: Path, texts: list[str]) -> Dataset:
    rows = {"id": [str(i) for i in range(len(texts))], "text": texts, "label": ["pos"] * len(texts)}
    Dataset.from_dict(rows).save_to_disk(str(tmp_path / "ds"))
    ds = load_from_disk(str(tmp_path / "ds"))
    assert ds.cache_files, "an on-disk dataset, so that map caches its results"
    return ds


def _cache_file(ds: Dataset) -> str:
    return str(ds.cache_files[0]["filename"])


def test_zh_segment_identity_names_jieba_version_and_dictionary() -> None:
    status = jieba_status()
    depends = ZhSegment().identity()["depends"]
    assert depends == {"jieba": status.version, "dict": status.checksum}


def test_a_jieba_upgrade_changes_identity_and_recomputes_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jieba

    ds = _on_disk(tmp_path, [LI_XIAOFU, "我来到北京清华大学"])
    family, step = SentimentFamily(), ZhSegment()
    first = apply_steps(ds, [step], family)
    again = apply_steps(ds, [step], family)
    assert _cache_file(again) == _cache_file(first)  # the same jieba: the cached file is reused

    before_identity, before_fp = step.identity(), map_fingerprint(ds._fingerprint, step, ["text"])
    before_steps = steps_identity([step])
    monkeypatch.setattr(jieba, "__version__", "0.43.0")  # what an upgraded jieba reports
    assert step.identity()["depends"]["jieba"] == "0.43.0"
    assert step.identity() != before_identity
    assert map_fingerprint(ds._fingerprint, step, ["text"]) != before_fp
    assert steps_identity([step]) != before_steps
    upgraded = apply_steps(ds, [step], family)
    assert _cache_file(upgraded) != _cache_file(first)  # computed again, into a new file
    assert Path(_cache_file(first)).is_file() and Path(_cache_file(upgraded)).is_file()
    assert upgraded["text_tokens"] == first["text_tokens"]  # (the same jieba underneath)


def test_an_edited_user_dictionary_recomputes_the_rows(tmp_path: Path) -> None:
    ds = _on_disk(tmp_path, [LI_XIAOFU])
    user_dict = tmp_path / "user.dict"
    user_dict.write_text("创新办 3\n", encoding="utf-8")
    family, step = SentimentFamily(), ZhSegment(user_dict=str(user_dict))
    first = apply_steps(ds, [step], family)["text_tokens"][0]
    assert "创新办" in first and "云计算" not in first

    # Same params (the same path), other content: without the content hash in the identity,
    # datasets would hand back the rows cut with the old dictionary.
    user_dict.write_text("云计算 5\n", encoding="utf-8")
    second = apply_steps(ds, [step], family)["text_tokens"][0]
    assert "云计算" in second and "创新办" not in second


def test_two_copies_of_a_dictionary_share_identity_and_tokenizer(tmp_path: Path) -> None:
    a, b = tmp_path / "a.dict", tmp_path / "b.dict"
    a.write_text("创新办 3\n", encoding="utf-8")
    shutil.copy(a, b)
    assert ZhSegment(user_dict=str(a)).dependencies() == ZhSegment(user_dict=str(b)).dependencies()
    assert jieba_tokenizer(None, a) is jieba_tokenizer(None, b)
    assert jieba_tokenizer(None, a) is not jieba_tokenizer()


def _use_nltk(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(nltk.data, "path", [str(folder)])
    monkeypatch.setenv("NLTK_DATA", str(folder))


def _punkt_copy(root: Path) -> Path:
    target = root / "tokenizers" / "punkt_tab" / "english"
    shutil.copytree(SHARED_NLTK / "tokenizers" / "punkt_tab" / "english", target)
    return target


def test_other_nltk_data_changes_the_identity_of_an_nltk_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    _punkt_copy(here)
    punkt_there = _punkt_copy(there)
    step = EnSentences()

    _use_nltk(monkeypatch, here)
    at_here = step.identity()
    assert at_here["depends"]["nltk"] == nltk.__version__
    assert len(at_here["depends"]["punkt_tab"]) == 16
    _use_nltk(monkeypatch, there)
    assert step.identity() == at_here  # the same data in another folder: the same identity

    abbrevs = punkt_there / "abbrev_types.txt"
    abbrevs.write_text(abbrevs.read_text(encoding="utf-8") + "smith\n", encoding="utf-8")
    changed = step.identity()
    assert changed != at_here
    assert EnTokenize(sentence_split=True).identity() != EnTokenize().identity()

    # And the rows follow: the rows are split again with the changed model.
    ds = _on_disk(tmp_path, ["He met Mr. Smith. Then he left."])
    fp_changed = map_fingerprint(ds._fingerprint, step, ["text"])
    _use_nltk(monkeypatch, here)
    assert map_fingerprint(ds._fingerprint, step, ["text"]) != fp_changed

    empty = tmp_path / "empty"
    empty.mkdir()
    _use_nltk(monkeypatch, empty)
    assert step.identity()["depends"]["punkt_tab"] is None  # absent: no hash, and no error


def test_zipped_nltk_data_is_hashed_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        (root / "corpora").mkdir(parents=True)
        shutil.copy(SHARED_NLTK / "corpora" / "stopwords.zip", root / "corpora" / "stopwords.zip")
    step = RemoveStopwords(language="en")
    _use_nltk(monkeypatch, one)
    first = step.identity()["depends"]["stopwords"]
    assert first == nltk_identity("corpora/stopwords/english") and first is not None
    _use_nltk(monkeypatch, two)
    assert step.identity()["depends"]["stopwords"] == first

    # Another English list in the second copy: another identity.
    archive = two / "corpora" / "stopwords.zip"
    with zipfile.ZipFile(SHARED_NLTK / "corpora" / "stopwords.zip") as src:
        members = {n: src.read(n) for n in src.namelist()}
    english = next(n for n in members if n.endswith("stopwords/english"))
    members[english] += b"moreover\n"
    with zipfile.ZipFile(archive, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    assert step.identity()["depends"]["stopwords"] != first
    assert "stopwords" not in RemoveStopwords(language="zh").identity()["depends"]


def test_opencc_identity_names_version_config_and_data() -> None:
    t2s, tw2sp = TraditionalToSimplified(), TraditionalToSimplified(config="tw2sp")
    assert t2s.dependencies() == opencc_identity("t2s")
    assert t2s.dependencies()["opencc"] and t2s.dependencies()["opencc_data"]
    assert t2s.dependencies()["opencc_data"] != tw2sp.dependencies()["opencc_data"]


def test_steps_without_data_declare_what_they_do_depend_on() -> None:
    assert "depends" not in Truncate(max_chars=3).identity()
    assert Lowercase().dependencies()["unicode"]
    assert set(StripHTML().dependencies()) == {"unicode", "python"}
