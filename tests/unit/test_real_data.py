"""The real public copies in ../shared/data (and NLTK's movie_reviews) loaded through the task
files in tasks/standard with ``--data`` (``data_override``), as people behind a firewall do."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.catalog import find_task
from bench.data import load_split
from bench.errors import DataError
from bench.families.base import get_family
from bench.spec import load_task

SENTIMENT = get_family("sentiment")


def test_sst2_glue_dev(shared_data: Path) -> None:
    spec = find_task("sst2")
    copy = shared_data / "sst2-glue" / "SST-2"
    test = load_split(spec, SENTIMENT, "test", data_override=copy)
    ds = test.dataset
    assert len(ds) == 872
    assert Counter(ds["label"]) == {"positive": 444, "negative": 428}
    assert ds[0]["text"] == "it 's a charming and often affecting journey . "
    assert ds[0]["label"] == "positive"
    assert ds[1]["label"] == "negative"
    assert ds["id"][:2] == ["dev-0", "dev-1"]
    assert test.origin == str((copy / "dev.tsv").resolve())
    # The GLUE copy here has no train.tsv: that split is named, not silently empty.
    with pytest.raises(DataError, match=r"no file matches .*train\.tsv"):
        load_split(spec, SENTIMENT, "train", data_override=copy)
    again = load_split(spec, SENTIMENT, "test", data_override=copy)
    assert again.fingerprint == test.fingerprint


def test_imdb_aclimdb_test_subset(shared_data: Path) -> None:
    spec = find_task("imdb")
    copy = shared_data / "imdb-aclImdb-subset" / "aclImdb"
    ds = load_split(spec, SENTIMENT, "test", data_override=copy).dataset
    assert len(ds) == 1000
    assert Counter(ds["label"]) == {"positive": 500, "negative": 500}
    by_id = dict(zip(ds["id"], zip(ds["text"], ds["label"], strict=True), strict=True))
    assert len(by_id) == 1000
    text, label = by_id["pos/0_10"]
    assert label == "positive"
    assert text.startswith("I went and saw this movie last night")
    assert by_id["neg/0_2"][1] == "negative"
    assert sum("<br />" in t for t in ds["text"]) > 100  # raw release; preprocessing strips it


def test_chnsenticorp_seeded_split(shared_data: Path) -> None:
    spec = find_task("chnsenticorp")
    copy = shared_data / "chnsenticorp-htl"
    train = load_split(spec, SENTIMENT, "train", data_override=copy)
    test = load_split(spec, SENTIMENT, "test", data_override=copy)
    assert train.dropped == test.dropped == 1  # the one empty review
    n_train, n_test = len(train.dataset), len(test.dataset)
    assert n_train + n_test == 7765
    assert (n_train, n_test) == (6212, 1553)  # 80/20
    train_ids, test_ids = train.dataset["id"], test.dataset["id"]
    assert not set(train_ids) & set(test_ids)
    assert len(set(train_ids) | set(test_ids)) == 7765
    labels = Counter(train.dataset["label"]) + Counter(test.dataset["label"])
    assert labels == {"positive": 5322, "negative": 2443}  # the empty review was negative
    assert "all-0" in set(train_ids) | set(test_ids)
    assert "all-6374" not in set(train_ids) | set(test_ids)  # the empty row
    # Both labels in both splits, in roughly the file's proportion (about 69% positive).
    share = Counter(test.dataset["label"])["positive"] / n_test
    assert 0.64 < share < 0.74
    assert all(t.strip() for t in test.dataset["text"])
    # Seeded: a second load (from the file itself this time) is identical.
    again = load_split(spec, SENTIMENT, "test", data_override=copy / "ChnSentiCorp_htl_all.csv")
    assert again.dataset["id"] == test_ids
    assert again.fingerprint == test.fingerprint


@pytest.fixture(scope="module")
def movie_reviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nltk")
    archive = Path(__file__).resolve().parents[3] / "shared/nltk_data/corpora/movie_reviews.zip"
    assert archive.is_file(), f"expected NLTK's movie_reviews at {archive}"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root)
    return root


def test_nltk_movie_reviews_as_a_local_task(movie_reviews: Path) -> None:
    imdb = find_task("imdb")
    original = imdb.source.original
    assert original is not None
    task = {
        "name": "movie-reviews",
        "version": 1,
        "family": "sentiment",
        "languages": ["en"],
        "description": "NLTK movie_reviews (Pang and Lee 2004): 1000 positive, 1000 negative.",
        "labels": ["negative", "positive"],
        "source": {
            "kind": "local",
            "location": ".",
            "format": "text-files",
            "files": {"all": ["movie_reviews/pos", "movie_reviews/neg"]},
            "splits": {"train": "all[:80%]", "test": "all[80%:]"},
            "shuffle_seed": 13,
            # The same field mappings as the standard imdb task's original release.
            "fields": dict(original.fields or {}),
            "label_map": {"pos": "positive", "neg": "negative"},
        },
        "preprocess": [s.model_dump() for s in imdb.preprocess],
        "metrics": ["accuracy", "macro_f1"],
        "primary_metric": "accuracy",
    }
    path = movie_reviews / "movie-reviews.yaml"
    path.write_text(yaml.safe_dump(task, sort_keys=False), encoding="utf-8")
    spec = load_task(path)
    train = load_split(spec, SENTIMENT, "train").dataset
    test = load_split(spec, SENTIMENT, "test").dataset
    assert (len(train), len(test)) == (1600, 400)
    labels = Counter(train["label"]) + Counter(test["label"])
    assert labels == {"positive": 1000, "negative": 1000}
    ids = set(train["id"]) | set(test["id"])
    assert len(ids) == 2000 and not set(train["id"]) & set(test["id"])
    assert "pos/cv000_29590" in ids and "neg/cv000_29416" in ids
    assert all(len(t) > 100 for t in test["text"])
