"""``hf:PATH,task=embed``: static word vectors of a tiny seeded BERT, checked against the
embedding rows and forward passes computed directly with torch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gensim.test.utils import datapath

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from bench.adapters.base import make_adapter  # noqa: E402
from bench.adapters.hf import HFAdapter  # noqa: E402
from bench.adapters.hf_embed import HFEmbedAdapter  # noqa: E402
from bench.errors import ModelSpecError  # noqa: E402
from tests.fixtures.tiny_models import tiny_bert  # noqa: E402

# "zzyzx" is no word of the tiny vocabulary: it splits into z ##z ##y ##z ##x.
LONG_WORD = "zzyzx"


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny") / "bert", seed=0)


@pytest.fixture(scope="module")
def direct(bert: Path) -> tuple[object, object]:
    tokenizer = transformers.AutoTokenizer.from_pretrained(bert)
    model = transformers.AutoModel.from_pretrained(bert, dtype=torch.float32).eval()
    return tokenizer, model


@pytest.fixture(scope="module")
def by_input(bert: Path) -> HFEmbedAdapter:
    adapter = make_adapter(f"hf:{bert},task=embed,device=cpu,threads=1")
    assert isinstance(adapter, HFEmbedAdapter)
    return adapter


def test_task_embed_builds_the_vector_model_and_other_tasks_do_not(bert: Path) -> None:
    assert type(make_adapter(f"hf:{bert},task=embed")) is HFEmbedAdapter
    assert type(make_adapter(f"hf:{bert},task=classifier")) is HFAdapter
    assert make_adapter(f"hf:{bert},task=embed").supports("word-analogy")
    with pytest.raises(ModelSpecError, match="unknown parameter"):
        make_adapter(f"hf:{bert},task=embed,max_new_tokens=3")


def test_input_mode_is_the_mean_of_the_sub_token_embedding_rows(
    by_input: HFEmbedAdapter, direct: tuple
) -> None:
    tokenizer, model = direct
    table = model.get_input_embeddings().weight.detach()
    kv = by_input.keyed_vectors()
    paris = tokenizer.convert_tokens_to_ids("city")
    assert np.array_equal(kv["city"], table[paris].numpy())
    pieces = tokenizer(LONG_WORD, add_special_tokens=False)["input_ids"]
    assert len(pieces) == 5 and LONG_WORD not in kv.key_to_index
    extended = by_input.with_words([LONG_WORD])
    expected = table[pieces].mean(dim=0).numpy()
    np.testing.assert_allclose(extended[LONG_WORD], expected, rtol=0, atol=1e-7)
    # the vocabulary comes first, unchanged, and the request's word after it
    assert extended.index_to_key[:-1] == kv.index_to_key
    assert extended.index_to_key[-1] == LONG_WORD
    assert np.array_equal(extended.vectors[:-1], kv.vectors)


def test_vocabulary_is_the_whole_word_entries_in_token_id_order(
    by_input: HFEmbedAdapter, direct: tuple
) -> None:
    tokenizer, _ = direct
    kv = by_input.keyed_vectors()
    keys = kv.index_to_key
    assert {"city", "movie", "我", "a", "7"} <= set(keys)
    assert not {"##s", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "!", "，"} & set(keys)
    ids = [tokenizer.convert_tokens_to_ids(k) for k in keys]
    assert ids == sorted(ids)
    for key in keys[::500]:
        assert tokenizer(key, add_special_tokens=False)["input_ids"] == [
            tokenizer.convert_tokens_to_ids(key)
        ]
    # every entry that is neither special, a ## piece nor punctuation is a word, except the
    # upper-case letters: this tokenizer lower-cases, so "A" is read as the entry "a"
    expected = [
        t
        for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
        if not t.startswith("##") and t not in tokenizer.all_special_tokens
        if any(c.isalnum() for c in t) and t == t.lower()
    ]
    assert keys == expected
    assert "A" in tokenizer.get_vocab() and "A" not in kv.key_to_index


@pytest.mark.parametrize("layer", [1, -1, 0])
def test_layer_mode_is_the_mean_of_the_layers_states_of_the_word_alone(
    bert: Path, direct: tuple, layer: int
) -> None:
    tokenizer, model = direct
    adapter = make_adapter(f"hf:{bert},task=embed,layer={layer},device=cpu,threads=1")
    assert isinstance(adapter, HFEmbedAdapter)
    vectors = adapter.word_vectors(["city", LONG_WORD, "北京"])
    for word, vector in vectors.items():
        inputs = tokenizer(word, return_tensors="pt")  # [CLS] pieces [SEP]
        with torch.no_grad():
            states = model(**inputs, output_hidden_states=True).hidden_states[layer]
        expected = states[0, 1:-1].mean(dim=0).numpy()
        np.testing.assert_allclose(vector, expected, rtol=0, atol=1e-5)


def test_layer_mode_vocabulary_and_gensim_evaluation(bert: Path, by_input: HFEmbedAdapter) -> None:
    adapter = make_adapter(f"hf:{bert},task=embed,layer=2,device=cpu,threads=1")
    kv = adapter.keyed_vectors()
    assert kv.index_to_key == by_input.keyed_vectors().index_to_key
    assert not np.allclose(kv["city"], by_input.keyed_vectors()["city"])
    _, spearman, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert 0 <= oov < 100 and np.isfinite(spearman.statistic)
    info = adapter.info()
    assert info["mode"] == "layer" and info["layer"] == 2 and info["vocabulary"] == len(kv)


def test_fingerprint_is_weights_content_mode_and_layer(bert: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(bert, tmp_path / "elsewhere")
    other = tiny_bert(tmp_path / "seed1", seed=1)

    def fp(folder: Path, extra: str = "") -> str:
        return make_adapter(f"hf:{folder},task=embed{extra}").fingerprint()

    base = fp(bert)
    assert fp(copy) == base  # content, not path
    assert fp(bert, ",batch_size=7,device=cpu,threads=1") == base
    changed = [fp(other), fp(bert, ",layer=1"), fp(bert, ",layer=2")]
    assert base not in changed and len(set(changed)) == 3


def test_never_downloads_and_checks_the_layer(bert: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelSpecError, match="neither a local folder nor in the Hugging Face"):
        make_adapter("hf:no-such-org/no-such-model,task=embed").fingerprint()
    with pytest.raises(ModelSpecError, match=r"layer=3 is out of range.*0 = embeddings, 2 = last"):
        make_adapter(f"hf:{bert},task=embed,layer=3").keyed_vectors()
    with pytest.raises(ModelSpecError, match="needs a local folder"):
        HFEmbedAdapter(None, task="embed")


def test_each_request_sees_the_vocabulary_and_its_own_words_only(
    by_input: HFEmbedAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from bench.adapters import vectors

    def seen(self: HFEmbedAdapter, requests: list) -> list:
        # what the base's predict would search: the vectors keyed_vectors() serves
        return [tuple(self.keyed_vectors().index_to_key) for _ in requests]

    monkeypatch.setattr(vectors.VectorModel, "predict", seen)
    base = tuple(by_input.keyed_vectors().index_to_key)
    ask = [
        SimpleNamespace(word1="city", word2="movie", case_insensitive=False),
        SimpleNamespace(word1=LONG_WORD, word2="city", case_insensitive=False),
        SimpleNamespace(a="xqxq", b="city", c=LONG_WORD, case_insensitive=False),
        SimpleNamespace(word1="City", word2="movie", case_insensitive=True),  # folded: found
        SimpleNamespace(word1="City", word2="movie", case_insensitive=False),
    ]
    answers = by_input.predict(ask)  # type: ignore[arg-type]
    assert answers[0] == base and answers[3] == base
    assert answers[1] == (*base, LONG_WORD)
    assert answers[2] == (*base, "xqxq", LONG_WORD)  # sorted, after the vocabulary
    assert answers[4] == (*base, "City")
    # alone, each request is answered against the same vectors as in the batch
    assert [by_input.predict([q])[0] for q in ask] == answers  # type: ignore[list-item]
    assert by_input.keyed_vectors().index_to_key == list(base)


def test_real_predict_answers_a_requests_own_words_whatever_came_before(
    by_input: HFEmbedAdapter,
) -> None:
    # Through VectorModel's real predict: a request answered first primes the vocabulary of
    # the whole-word vectors; a later request's own word (appended vectors) must still be
    # found, and an analogy over the appended vectors must be solved (their norms filled).
    from bench.families.wordvec import WordAnalogyRequest, WordSimilarityRequest

    def pair(w1: str, w2: str) -> WordSimilarityRequest:
        return WordSimilarityRequest(
            id=w1, language="en", word1=w1, word2=w2, case_insensitive=False, restrict_vocab=None
        )

    first = by_input.predict([pair("city", "movie")])[0]
    assert first.similarity is not None  # type: ignore[union-attr]
    got = by_input.predict([pair(LONG_WORD, "city")])[0]
    extended = by_input.with_words([LONG_WORD])
    u, v = extended[LONG_WORD], extended["city"]
    expected = float(np.dot(u / np.linalg.norm(u), v / np.linalg.norm(v)))
    assert got.similarity == pytest.approx(expected, abs=1e-6)  # type: ignore[union-attr]
    question = WordAnalogyRequest(
        id="q", language="en", a=LONG_WORD, b="city", c="movie", d="city", category="x",
        case_insensitive=False, restrict_vocab=None,
    )  # fmt: skip
    answer = by_input.predict([question])[0]
    assert answer.cosadd not in (None, "", LONG_WORD, "city", "movie")  # type: ignore[union-attr]
