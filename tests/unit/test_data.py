"""bench.data with real files: builtin, local (every format), hub layouts, splits, checks."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
import yaml

from bench.catalog import find_task
from bench.data import dataset_fingerprint, load_split, load_table, parse_split, resolve_source
from bench.errors import DataError
from bench.families.base import Family, Request, get_family
from bench.spec import TaskSpec, load_task

REPO = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((REPO / "tasks" / "smoke" / "sentiment-en.yaml").read_text("utf-8"))
SENTIMENT = get_family("sentiment")
LABELS = ("negative", "positive")


def make_task(
    root: Path, source: dict[str, Any], name: str = "local-task", **extra: Any
) -> TaskSpec:
    """Write a sentiment task file with ``source`` into ``root`` and load it."""
    data = {**BASE, "name": name, "source": source, "preprocess": [], **extra}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_task(path)


def local(files: Mapping[str, Any], fmt: str = "jsonl", **more: Any) -> dict[str, Any]:
    source: dict[str, Any] = {"kind": "local", "location": "data", "format": fmt}
    source["files"] = dict(files)
    source["splits"] = more.pop("splits", {role: role for role in files})
    source.update(more)
    return source


def rows(n: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i:03d}", "text": f"review number {i}", "label": LABELS[i % 2]}
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def load(spec: TaskSpec, role: str = "test", **kw: Any) -> Any:
    return load_split(spec, SENTIMENT, role, **kw)


def data_error(spec: TaskSpec, role: str = "test", **kw: Any) -> str:
    with pytest.raises(DataError) as info:
        load(spec, role, **kw)
    return str(info.value)


# --------------------------------------------------------------------------- builtin


@pytest.mark.parametrize("name", ["sentiment-en", "sentiment-zh"])
def test_builtin_smoke_tasks_load_balanced(name: str) -> None:
    spec = find_task(name)
    train, test = load(spec, "train"), load(spec, "test")
    assert (len(train.dataset), len(test.dataset)) == (320, 160)
    assert Counter(train.dataset["label"]) == {"negative": 160, "positive": 160}
    assert Counter(test.dataset["label"]) == {"negative": 80, "positive": 80}
    assert set(train.dataset.column_names) == {"id", "text", "label"}
    assert not set(train.dataset["id"]) & set(test.dataset["id"])
    assert train.fingerprint != test.fingerprint
    assert train.dropped == 0
    assert f"smoke/{name}/train.jsonl" in train.origin
    assert all(t.strip() for t in test.dataset["text"])
    assert len(load(spec, "test", limit=7).dataset) == 7


# --------------------------------------------------------------------------- local formats


def test_jsonl_with_field_mapping_and_label_map(tmp_path: Path) -> None:
    records = [
        {"uid": i, "body": f"text {i}", "stars": 5 if i % 3 else 1, "extra": "x"} for i in range(9)
    ]
    write_jsonl(tmp_path / "data" / "test.jsonl", records)
    spec = make_task(
        tmp_path,
        local(
            {"test": "test.jsonl"},
            fields={"id": "uid", "text": "body", "label": "stars"},
            label_map={1: "negative", 5: "positive"},
        ),
    )
    ds = load(spec).dataset
    assert set(ds.column_names) == {"id", "text", "label"}
    assert ds["id"] == [str(i) for i in range(9)]  # ids become strings
    assert ds["text"][4] == "text 4"
    assert ds["label"][:4] == ["negative", "positive", "positive", "negative"]


def test_json_array(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.json").write_text(json.dumps(rows(4)), encoding="utf-8")
    ds = load(make_task(tmp_path, local({"test": "test.json"}, "json"))).dataset
    assert ds["id"] == ["r000", "r001", "r002", "r003"]
    assert ds["label"] == ["negative", "positive", "negative", "positive"]


def test_csv_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with (tmp_path / "data" / "test.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "review"])
        writer.writerows([[1, "很好, 干净"], [0, 'said "never again"'], [1, "ok\nfine"]])
    spec = make_task(
        tmp_path,
        local(
            {"test": "test.csv"},
            "csv",
            fields={"text": "review", "label": "label"},
            label_map={0: "negative", 1: "positive"},
        ),
    )
    ds = load(spec).dataset
    assert ds["text"] == ["很好, 干净", 'said "never again"', "ok\nfine"]
    assert ds["label"] == ["positive", "negative", "positive"]
    assert ds["id"] == ["test-0", "test-1", "test-2"]  # row ids when the data has none
    # GLUE-style TSV: bare quotes inside the text are kept as they are.
    (tmp_path / "data" / "dev.tsv").write_text(
        'sentence\tlabel\nit \'s a " charming " film . \t1\nbad .\t0\n', encoding="utf-8"
    )
    spec = make_task(
        tmp_path,
        local(
            {"dev": "dev.tsv"},
            "tsv",
            splits={"test": "dev"},
            fields={"text": "sentence"},
            label_map={0: "negative", 1: "positive"},
        ),
        name="tsv-task",
    )
    ds = load(spec).dataset
    assert ds["text"] == ['it \'s a " charming " film . ', "bad ."]
    assert ds["label"] == ["positive", "negative"]


def test_parquet(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    frame = pd.DataFrame({"idx": [7, 8, 9], "sentence": ["a", "b", "c"], "y": [0, 1, 0]})
    frame.to_parquet(tmp_path / "data" / "test.parquet")
    spec = make_task(
        tmp_path,
        local(
            {"test": "test.parquet"},
            "parquet",
            fields={"id": "idx", "text": "sentence", "label": "y"},
            label_map={0: "negative", 1: "positive"},
        ),
    )
    ds = load(spec).dataset
    assert ds["id"] == ["7", "8", "9"]
    assert ds["label"] == ["negative", "positive", "negative"]


class _TextOnly(Family):
    """A family whose rows need only ``text`` (the data layer is family-agnostic)."""

    name: ClassVar[str] = "text-only"
    request_type = Request
    response_type = Request  # type: ignore[assignment]
    required_fields: ClassVar[tuple[str, ...]] = ("text",)
    text_fields: ClassVar[tuple[str, ...]] = ("text",)
    default_metrics: ClassVar[tuple[str, ...]] = ()

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        return None if isinstance(row.get("text"), str) else "field 'text' is missing"

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> Any:
        raise NotImplementedError

    def sample_input(self, request: Request) -> Any:
        raise NotImplementedError

    def sample_prediction(self, response: Any) -> Any:
        raise NotImplementedError


def test_plain_text_one_example_per_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "src.txt").write_text("第一句。\nsecond line\nthird\n", encoding="utf-8")
    spec = make_task(tmp_path, local({"test": "src.txt"}, "text"))
    ds = load_split(spec, _TextOnly(), "test").dataset
    assert ds["text"] == ["第一句。", "second line", "third"]
    assert ds["id"] == ["test-0", "test-1", "test-2"]
    # A sentiment task cannot get labels from plain lines: the missing column is named.
    message = data_error(spec)
    assert "field 'label' maps to column 'label', which the data does not have" in message
    assert "src.txt" in message and "columns: text" in message


def test_text_files_one_example_per_file(tmp_path: Path) -> None:
    for label, stems in {"pos": ["0_10", "1_8"], "neg": ["0_2"]}.items():
        folder = tmp_path / "data" / "test" / label
        folder.mkdir(parents=True)
        for stem in stems:
            (folder / f"{stem}.txt").write_text(f"{label} review {stem}<br />", encoding="utf-8")
    (tmp_path / "data" / "test" / "pos" / "notes.md").write_text("not a review")
    spec = make_task(
        tmp_path,
        local(
            {"test": ["test/pos", "test/neg"]},
            "text-files",
            label_map={"pos": "positive", "neg": "negative"},
        ),
    )
    ds = load(spec).dataset
    assert sorted(zip(ds["id"], ds["label"], strict=True)) == [
        ("neg/0_2", "negative"),
        ("pos/0_10", "positive"),
        ("pos/1_8", "positive"),
    ]
    assert "pos review 1_8<br />" in ds["text"]


def test_relative_location_is_relative_to_the_task_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_jsonl(tmp_path / "tasks" / "data" / "test.jsonl", rows(3))
    spec = make_task(tmp_path / "tasks", local({"test": "test.jsonl"}))
    monkeypatch.chdir(tmp_path)
    assert len(load(spec).dataset) == 3


def test_globs_and_several_files_per_split(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "part-0.jsonl", rows(3))
    write_jsonl(tmp_path / "data" / "part-1.jsonl", rows(2, start=3))
    spec = make_task(tmp_path, local({"test": "part-*.jsonl"}))
    loaded = load(spec)
    assert loaded.dataset["id"] == ["r000", "r001", "r002", "r003", "r004"]
    assert "part-0.jsonl" in loaded.origin and "part-1.jsonl" in loaded.origin


# --------------------------------------------------------------------------- split slicing


def test_parse_split() -> None:
    assert parse_split("train") == ("train", None, None)
    assert parse_split("train[:80%]") == ("train", "", "80%")
    assert parse_split("all[10:-5]") == ("all", "10", "-5")
    with pytest.raises(DataError, match="not a split expression"):
        parse_split("train[80%]")


@pytest.fixture()
def hundred(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "data" / "all.jsonl", rows(100))
    return tmp_path


def _ids(spec: TaskSpec, role: str) -> list[str]:
    return load(spec, role).dataset["id"]


@pytest.mark.parametrize(
    ("train", "test", "train_ids", "test_ids"),
    [
        ("all[:80%]", "all[80%:]", range(0, 80), range(80, 100)),
        ("all[:75]", "all[75:]", range(0, 75), range(75, 100)),
        ("all[10:30]", "all[-10:]", range(10, 30), range(90, 100)),
        ("all[:-10]", "all[-10:-5]", range(0, 90), range(90, 95)),
        ("all[33%:66%]", "all", range(33, 66), range(0, 100)),
    ],
)
def test_slices_without_shuffle_keep_file_order(
    hundred: Path, train: str, test: str, train_ids: range, test_ids: range
) -> None:
    spec = make_task(hundred, local({"all": "all.jsonl"}, splits={"train": train, "test": test}))
    assert _ids(spec, "train") == [f"r{i:03d}" for i in train_ids]
    assert _ids(spec, "test") == [f"r{i:03d}" for i in test_ids]


def test_seeded_shuffle_gives_a_disjoint_covering_reproducible_split(hundred: Path) -> None:
    source = local({"all": "all.jsonl"}, splits={"train": "all[:80%]", "test": "all[80%:]"})
    spec = make_task(hundred, {**source, "shuffle_seed": 13})
    train, test = _ids(spec, "train"), _ids(spec, "test")
    assert (len(train), len(test)) == (80, 20)
    assert not set(train) & set(test)
    assert set(train) | set(test) == {f"r{i:03d}" for i in range(100)}
    assert train != sorted(train)  # shuffled
    assert _ids(spec, "train") == train  # the same seed, the same split
    other = make_task(hundred, {**source, "shuffle_seed": 14}, name="other-seed")
    assert _ids(other, "test") != test


def test_an_empty_slice_is_an_error(hundred: Path) -> None:
    spec = make_task(hundred, local({"all": "all.jsonl"}, splits={"test": "all[100%:]"}))
    message = data_error(spec)
    assert "task 'local-task': split 'test' (all[100%:])" in message and "is empty" in message


def test_unknown_split_file_key_and_missing_role(hundred: Path) -> None:
    spec = make_task(hundred, local({"all": "all.jsonl"}, splits={"test": "al[:10]"}))
    assert "split 'al' names no file (did you mean 'all'?)" in data_error(spec)
    spec = make_task(hundred, local({"all": "all.jsonl"}, splits={"test": "all"}), name="t2")
    assert "task 't2' has no 'train' split" in data_error(spec, "train")


# --------------------------------------------------------------------------- file problems


def test_missing_file(tmp_path: Path) -> None:
    spec = make_task(tmp_path, local({"test": "nope.jsonl"}))
    message = data_error(spec)
    assert f"no file matches {tmp_path / 'data' / 'nope.jsonl'}" in message


def test_non_utf8_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "test.csv"
    path.parent.mkdir()
    text = "label,review\n1,房间干净\n0,服务很差\n"
    path.write_bytes(text.encode("gb18030"))
    spec = make_task(tmp_path, local({"test": "test.csv"}, "csv", fields={"text": "review"}))
    message = data_error(spec)
    assert f"{path}: line 2: not UTF-8" in message
    assert "iconv -f GB18030 -t UTF-8" in message


def test_non_utf8_deep_in_a_jsonl_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data" / "test.jsonl", rows(50))
    with path.open("ab") as fh:
        fh.write('{"id": "x", "text": "很好", "label": "positive"}\n'.encode("gb18030"))
    message = data_error(make_task(tmp_path, local({"test": "test.jsonl"})))
    assert f"{path}: line 51: not UTF-8" in message


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("test.jsonl", "", "jsonl"),
        ("test.jsonl", "\n\n", "jsonl"),
        ("test.csv", "text,label\n", "csv"),
    ],
)
def test_empty_dataset(tmp_path: Path, name: str, content: str, fmt: str) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / name).write_text(content, encoding="utf-8")
    message = data_error(make_task(tmp_path, local({"test": name}, fmt)))
    assert str(tmp_path / "data" / name) in message and "no examples" in message


def test_invalid_json_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.jsonl").write_text('{"text": "a", "label": \n', encoding="utf-8")
    message = data_error(make_task(tmp_path, local({"test": "test.jsonl"})))
    assert "cannot read" in message and "test.jsonl as jsonl" in message


# --------------------------------------------------------------------------- row problems


def test_missing_column_has_did_you_mean(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "test.jsonl", [{"reveiw": "a", "label": "positive"}])
    spec = make_task(tmp_path, local({"test": "test.jsonl"}, fields={"text": "review"}))
    message = data_error(spec)
    assert "field 'text' maps to column 'review', which the data does not have" in message
    assert "(did you mean 'reveiw'?)" in message
    assert "source.fields.text" in message


def test_mapping_a_field_the_family_does_not_use(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "test.jsonl", rows(2))
    spec = make_task(tmp_path, local({"test": "test.jsonl"}, fields={"txt": "text"}))
    assert "source.fields names 'txt', which the sentiment family does not use" in data_error(spec)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"text": None}, "field 'text' is missing"),
        ({"label": None}, "field 'label' is missing"),
        ({"label": "neutral"}, "field 'label' is 'neutral', not one of the task's labels"),
    ],
)
def test_a_bad_row_is_named_by_row_line_id_and_field(
    tmp_path: Path, bad: dict[str, Any], expected: str
) -> None:
    records = rows(10)
    records[6].update(bad)
    path = write_jsonl(tmp_path / "data" / "test.jsonl", records)
    message = data_error(make_task(tmp_path, local({"test": "test.jsonl"})))
    assert f"{path}: row 6 (line 7) (id 'r006'): {expected}" in message, message


def test_a_missing_csv_cell_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "test.csv"
    path.parent.mkdir()
    path.write_text("label,review\n1,good\n0,bad\n1,\n", encoding="utf-8")
    spec = make_task(
        tmp_path,
        local(
            {"test": "test.csv"},
            "csv",
            fields={"text": "review"},
            label_map={0: "negative", 1: "positive"},
        ),
    )
    message = data_error(spec)
    assert f"{path}: row 2 (line 4, after the header) (id 'test-2'): field 'text'" in message


def test_unmapped_raw_label(tmp_path: Path) -> None:
    records = [{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c", "label": 2}]
    path = write_jsonl(tmp_path / "data" / "test.jsonl", records)
    spec = make_task(
        tmp_path, local({"test": "test.jsonl"}, label_map={0: "negative", 1: "positive"})
    )
    message = data_error(spec)
    assert f"{path}: row 2 (line 3): field 'label' is '2', which source.label_map" in message


def test_duplicate_ids(tmp_path: Path) -> None:
    records = rows(6)
    records[4]["id"] = "r001"
    path = write_jsonl(tmp_path / "data" / "test.jsonl", records)
    message = data_error(make_task(tmp_path, local({"test": "test.jsonl"})))
    assert f"{path}: row 4 (line 5): id 'r001' repeats row 1" in message


def test_repeated_id_before_a_bad_row_is_named_first(tmp_path: Path) -> None:
    records = rows(8)
    records[3]["id"] = "r000"
    records[6]["label"] = "maybe"
    path = write_jsonl(tmp_path / "data" / "test.jsonl", records)
    message = data_error(make_task(tmp_path, local({"test": "test.jsonl"})))
    assert f"{path}: row 3 (line 4): id 'r000' repeats row 0" in message


def test_bad_row_before_a_repeated_id_is_named_first(tmp_path: Path) -> None:
    records = rows(8)
    records[2]["label"] = "maybe"
    records[5]["id"] = "r000"
    path = write_jsonl(tmp_path / "data" / "test.jsonl", records)
    message = data_error(make_task(tmp_path, local({"test": "test.jsonl"})))
    assert f"{path}: row 2 (line 3)" in message and "repeats" not in message


def test_ids_whose_hashes_clash_are_not_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.data.checks

    monkeypatch.setattr(bench.data.checks, "id_key", lambda rid: 7)  # every id hashes alike
    write_jsonl(tmp_path / "data" / "test.jsonl", rows(5))
    spec = make_task(tmp_path, local({"test": "test.jsonl"}))
    assert len(load(spec, "test").dataset) == 5
    records = rows(5)
    records[4]["id"] = "r002"
    path = write_jsonl(tmp_path / "data2" / "test.jsonl", records)
    spec = make_task(tmp_path, local({"test": "test.jsonl"}, location="data2"))
    assert f"{path}: row 4 (line 5): id 'r002' repeats row 2" in data_error(spec)


def test_drop_empty(tmp_path: Path) -> None:
    records = rows(10)
    records[2]["text"] = "   "
    records[7]["text"] = None
    write_jsonl(tmp_path / "data" / "all.jsonl", records)
    source = local({"all": "all.jsonl"}, splits={"test": "all"})
    message = data_error(make_task(tmp_path, source, name="strict"))
    assert "row 7 (line 8)" in message and "field 'text' is missing" in message
    spec = make_task(tmp_path, {**source, "drop_empty": ["text"]})
    loaded = load(spec)
    assert loaded.dropped == 2
    assert loaded.dataset["id"] == [f"r{i:03d}" for i in range(10) if i not in (2, 7)]


def test_sha256_pins_the_files(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data" / "test.jsonl", rows(4))
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    source = local({"test": "test.jsonl"})
    assert len(load(make_task(tmp_path, {**source, "sha256": {"test.jsonl": good}})).dataset) == 4
    message = data_error(make_task(tmp_path, {**source, "sha256": {"test.jsonl": "0" * 64}}))
    assert f"{path} has SHA-256 {good}, expected {'0' * 64}" in message


def test_url_source_downloads_are_pinned(tmp_path: Path) -> None:
    # A file:// base URL goes through the same download manager as https:// does.
    train = write_jsonl(tmp_path / "data" / "train.jsonl", rows(4))
    test = write_jsonl(tmp_path / "data" / "test.jsonl", rows(3, start=4))
    pins = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (train, test)}
    source = {
        **local({"train": "train.jsonl", "test": "test.jsonl"}),
        "kind": "url",
        "location": (tmp_path / "data").as_uri(),
    }
    spec = make_task(tmp_path, {**source, "sha256": pins})
    assert load(spec).dataset["id"] == ["r004", "r005", "r006"]
    bad = make_task(tmp_path, {**source, "sha256": {**pins, "test.jsonl": "f" * 64}}, name="bad")
    assert f"expected {'f' * 64}" in data_error(bad)
    # A downloaded file without a pin is refused, not silently trusted.
    partial = make_task(tmp_path, {**source, "sha256": {"train.jsonl": pins["train.jsonl"]}})
    assert len(load(partial, "train").dataset) == 4
    assert "test.jsonl has no SHA-256 in source.sha256" in data_error(partial)


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_stable_and_follows_the_content(tmp_path: Path) -> None:
    records = rows(20)
    path = write_jsonl(tmp_path / "data" / "test.jsonl", records)
    spec = make_task(tmp_path, local({"test": "test.jsonl"}))
    first = load(spec)
    assert load(spec).fingerprint == first.fingerprint
    assert dataset_fingerprint(first.dataset) == first.fingerprint
    assert len(first.fingerprint) == 16
    records[13]["text"] += "!"
    write_jsonl(path.with_name("changed.jsonl"), records)
    path.with_name("changed.jsonl").replace(path)
    assert load(spec).fingerprint != first.fingerprint
    records[13]["text"] = records[13]["text"][:-1]
    write_jsonl(path, records)
    assert load(spec).fingerprint == first.fingerprint
    assert load(spec, limit=19).fingerprint != first.fingerprint


# --------------------------------------------------------------------------- hub layouts


def _hub_task(root: Path, location: Path, **source: Any) -> TaskSpec:
    src = {
        "kind": "hub",
        "location": str(location),
        "splits": {"train": "train", "test": "validation"},
        "fields": {"id": "idx", "text": "sentence", "label": "label"},
        "label_map": {0: "negative", 1: "positive"},
        **source,
    }
    return make_task(root, src, name="hub-task")


def test_hub_parquet_shards_layout(tmp_path: Path) -> None:
    repo = tmp_path / "stanfordnlp--sst2"
    (repo / "data").mkdir(parents=True)
    train = pd.DataFrame({"idx": [0, 1, 2], "sentence": ["a", "b", "c"], "label": [0, 1, 1]})
    train.to_parquet(repo / "data" / "train-00000-of-00001.parquet")
    dev = pd.DataFrame({"idx": [0, 1], "sentence": ["good .", "bad ."], "label": [1, 0]})
    dev.to_parquet(repo / "data" / "validation-00000-of-00001.parquet")
    spec = _hub_task(tmp_path, repo)
    test = load(spec, "test")
    assert test.dataset["text"] == ["good .", "bad ."]
    assert test.dataset["label"] == ["positive", "negative"]
    assert test.origin == f"hub:{repo}[validation]"
    assert load(spec, "train").dataset["id"] == ["0", "1", "2"]


def test_hub_readme_configs_layout(tmp_path: Path) -> None:
    repo = tmp_path / "stanfordnlp--imdb"
    (repo / "plain_text").mkdir(parents=True)
    (repo / "README.md").write_text(
        "---\n"
        "configs:\n"
        "- config_name: plain_text\n"
        "  data_files:\n"
        "  - split: train\n"
        "    path: plain_text/train-*.parquet\n"
        "  - split: test\n"
        "    path: plain_text/test-*.parquet\n"
        "  default: true\n"
        "---\n"
        "# IMDB (local copy in the hub's layout)\n",
        encoding="utf-8",
    )
    pd.DataFrame({"text": ["great", "awful", "fine"], "label": [1, 0, 1]}).to_parquet(
        repo / "plain_text" / "train-00000-of-00001.parquet"
    )
    pd.DataFrame({"text": ["loved it", "hated it"], "label": [1, 0]}).to_parquet(
        repo / "plain_text" / "test-00000-of-00001.parquet"
    )
    fields = {"text": "text", "label": "label"}
    splits = {"train": "train", "test": "test[:50%]"}
    spec = _hub_task(tmp_path, repo, name="plain_text", fields=fields, splits=splits)
    test = load(spec, "test")
    assert test.dataset["text"] == ["loved it"]
    assert test.origin == f"hub:{repo}/plain_text[test]"
    spec = _hub_task(tmp_path, repo, name="plain_txt", fields=fields, splits=splits)
    message = data_error(spec)
    assert "cannot load" in message and "plain_txt" in message
    assert "--data hub-task=PATH" in message


def test_hub_unreachable_is_a_data_error(tmp_path: Path) -> None:
    spec = _hub_task(tmp_path, tmp_path / "no-such-repo")
    message = data_error(spec)
    assert f"task 'hub-task': cannot load hub:{tmp_path / 'no-such-repo'}[validation]" in message


# --------------------------------------------------------------------------- --data overrides


def _tsv(path: Path, pairs: list[tuple[str, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in pairs), encoding="utf-8"
    )


def test_data_override_with_a_folder(tmp_path: Path) -> None:
    copy = tmp_path / "SST-2"
    _tsv(copy / "train.tsv", [("a", 0), ("b", 1), ("c", 1)])
    _tsv(copy / "dev.tsv", [("good .", 1), ("bad .", 0)])
    spec = find_task("sst2")
    source = resolve_source(spec, copy)
    assert source.kind == "local" and source.format == "tsv"
    assert Path(source.location) == copy.resolve()
    assert source.splits == {"train": "train", "test": "dev"}
    assert resolve_source(spec, None) is spec.source
    test = load(spec, "test", data_override=copy)
    assert test.dataset["text"] == ["good .", "bad ."]
    assert test.dataset["label"] == ["positive", "negative"]
    assert test.dataset["id"] == ["dev-0", "dev-1"]
    assert len(load(spec, "train", data_override=copy).dataset) == 3


def test_data_override_with_a_file(tmp_path: Path) -> None:
    lines = ["label,review"] + [f"{i % 2},评论{i}" for i in range(20)] + ["1,"]
    copy = tmp_path / "my-copy.csv"
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = find_task("chnsenticorp")
    source = resolve_source(spec, copy)
    assert source.files == {"all": "my-copy.csv"}
    assert Path(source.location) == tmp_path.resolve()
    # The pinned hash of the release follows the file, whatever its name: a changed copy fails.
    assert list(source.sha256) == ["my-copy.csv"]
    message = data_error(spec, data_override=copy)
    assert "has SHA-256" in message and "expected 1d414b9c" in message


def test_data_override_errors(tmp_path: Path) -> None:
    spec = find_task("sst2")
    with pytest.raises(DataError, match="no such file or folder"):
        resolve_source(spec, tmp_path / "missing")
    one = tmp_path / "dev.tsv"
    _tsv(one, [("a", 0)])
    with pytest.raises(DataError, match="has several files"):
        resolve_source(spec, one)
    hub_only = _hub_task(tmp_path, tmp_path)
    with pytest.raises(DataError, match="does not declare the layout of its original release"):
        resolve_source(hub_only, tmp_path)


# --------------------------------------------------------------------------- content identity


def _rewrite_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) in ``path`` and restore its mtime, as ``cp -p``
    or unpacking an archive over a file does: only the content tells the two versions apart."""
    assert len(old) == len(new)
    before = path.stat()
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def _squad_doc(answer: str) -> dict[str, Any]:
    context = "The Loire is the longest river in France, flowing 1,006 km to the Atlantic."
    return {
        "version": "1.1",
        "data": [
            {
                "title": "Loire",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "How long is the Loire?",
                                "answers": [{"text": answer, "answer_start": context.find("1")}],
                            },
                            {
                                "id": "q2",
                                "question": "Where does the Loire flow to?",
                                "answers": [{"text": "the Atlantic", "answer_start": 61}],
                            },
                        ],
                    }
                ],
            }
        ],
    }


def test_a_squad_file_edited_in_place_is_read_again(tmp_path: Path) -> None:
    qa = yaml.safe_load((REPO / "tasks" / "smoke" / "qa-en.yaml").read_text("utf-8"))
    path = tmp_path / "data" / "dev.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_squad_doc("1,006 km")), encoding="utf-8")
    source = {"kind": "local", "location": "data", "format": "squad"}
    source |= {"files": {"dev": "dev.json"}, "splits": {"test": "dev"}}
    data = {**qa, "name": "squad-local", "source": source}
    (tmp_path / "squad-local.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    spec = load_task(tmp_path / "squad-local.yaml")
    family = get_family("qa")
    first = load_split(spec, family, "test")
    assert first.dataset["answers"][0] == ["1,006 km"]
    _rewrite_in_place(path, b'"1,006 km"', b'"1,060 km"')
    second = load_split(spec, family, "test")
    assert second.dataset["answers"][0] == ["1,060 km"]
    assert second.dataset["answers"][1] == first.dataset["answers"][1]
    assert second.fingerprint != first.fingerprint
    # The datasets cache itself is keyed by content: the edited file is a new cache entry.
    assert second.dataset._fingerprint != first.dataset._fingerprint


def _write_table(path: Path, fmt: str, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pd.DataFrame(records).to_parquet(path, index=False)
    else:
        pd.DataFrame(records).to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",")


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_a_table_file_edited_in_place_is_read_again(tmp_path: Path, fmt: str) -> None:
    records = rows(6)
    records[3]["text"] = "review number three is good"
    path = tmp_path / "data" / f"test.{fmt}"
    _write_table(path, fmt, records)
    spec = make_task(tmp_path, local({"test": path.name}, fmt))
    first = load(spec)
    assert first.dataset["text"][3] == "review number three is good"
    if fmt == "parquet":
        # Parquet may compress a value anywhere: rewrite the file whole, then restore its
        # size-independent identity (mtime) so only the content differs.
        before = path.stat()
        records[3]["text"] = "review number three is bad!"
        _write_table(path, fmt, records)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    else:
        _rewrite_in_place(path, b"three is good", b"three is bad!")
    second = load(spec)
    assert second.dataset["text"][3] == "review number three is bad!"
    assert second.dataset["text"][:3] == first.dataset["text"][:3]
    assert second.fingerprint != first.fingerprint


def test_the_same_content_at_another_path_has_the_same_fingerprint(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a" / "test.jsonl", rows(4))
    write_jsonl(tmp_path / "b" / "test.jsonl", rows(4))
    one = load(make_task(tmp_path, local({"test": "test.jsonl"}, location="a"), name="one"))
    two = load(make_task(tmp_path, local({"test": "test.jsonl"}, location="b"), name="two"))
    assert one.fingerprint == two.fingerprint


# --------------------------------------------------------------------------- side tables


def _recommendation_task(root: Path) -> TaskSpec:
    """A local copy of the synthetic recommendation smoke task (interactions and item table)."""
    builtin = REPO / "bench" / "builtin" / "smoke" / "recommendation-synthetic"
    data = root / "data"
    data.mkdir()
    for name in ("interactions.csv", "items.csv"):
        (data / name).write_bytes((builtin / name).read_bytes())
    task = yaml.safe_load((REPO / "tasks" / "smoke" / "recommendation-synthetic.yaml").read_text())
    task["name"] = "rec-local"
    task["source"] |= {"kind": "local", "location": "data"}
    (root / "rec-local.yaml").write_text(yaml.safe_dump(task, allow_unicode=True), "utf-8")
    return load_task(root / "rec-local.yaml")


def test_the_item_table_is_part_of_the_dataset_and_train_fingerprints(tmp_path: Path) -> None:
    spec = _recommendation_task(tmp_path)
    family = get_family("recommendation")
    before = family.prepare(spec, data_override=None, limit=None)
    log_before = load_split(spec, family, "test").fingerprint
    items = tmp_path / "data" / "items.csv"
    _rewrite_in_place(items, b"i002,The Endless Island", b"i002,The Endless Inland")
    after = family.prepare(spec, data_override=None, limit=None)
    # The interactions, the protocol and the candidates are the same...
    assert load_split(spec, family, "test").fingerprint == log_before
    assert after.info == before.info
    assert [r.history for r in after.requests] == [r.history for r in before.requests]
    assert list(after.references) == list(before.references)

    # ... but what a model is shown (the titles) changed, so both fingerprints change.
    def titles_of_i002(requests: Any) -> set[str]:
        return {
            title
            for r in requests
            for item, title in zip(r.history, r.history_titles, strict=True)
            if item == "i002"
        }

    assert titles_of_i002(before.requests) == {"The Endless Island"}
    assert titles_of_i002(after.requests) == {"The Endless Inland"}
    assert after.fingerprint != before.fingerprint
    assert after.train_fingerprint != before.train_fingerprint
    assert before.load_train is not None and after.load_train is not None
    assert titles_of_i002(r for r, _ in after.load_train()) == {"The Endless Inland"}


def test_an_item_table_is_fingerprinted_by_content(tmp_path: Path) -> None:
    spec = _recommendation_task(tmp_path)
    opts = get_family("recommendation").options(spec)
    assert opts.items is not None
    table = load_table(spec, opts.items)
    assert list(table.frame.columns) == ["item_id", "title", "title_zh", "genres"]
    assert table.origin == str(tmp_path / "data" / "items.csv")
    _rewrite_in_place(tmp_path / "data" / "items.csv", "明亮的桥".encode(), "明亮的河".encode())
    edited = load_table(spec, opts.items)
    assert edited.frame["title_zh"][0] == "明亮的河"
    assert edited.fingerprint != table.fingerprint
