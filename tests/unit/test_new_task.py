"""``bench new-task``: a template shaped by --lang, --format, --labels and --from, the way from
it to a run (--tasks-dir named in the next step, in the "no task" error and as the suite in
``tasks list``), and the errors for choices a family cannot take."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from bench.errors import BenchError
from bench.registry import registry
from bench.spec import parse_task
from bench.templates import customise_template, match_fields, read_columns, task_template
from tests.unit.test_cli import assert_one_line_error, bench

SST2 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sst2-glue" / "SST-2"
HTL = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "chnsenticorp-htl"
    / "ChnSentiCorp_htl_all.csv"
)


def _customised(family: str, **kwargs: object) -> dict[str, object]:
    cls = registry.get("family", family)
    done = customise_template(task_template("t", family), cls, **kwargs)  # type: ignore[arg-type]
    parse_task(done.text, path=Path("t.yaml"))  # still validates
    loaded = yaml.safe_load(done.text)
    assert isinstance(loaded, dict)
    return loaded


def test_lang_format_and_labels_fill_the_template() -> None:
    task = _customised("sentiment", languages=["zh"], fmt="csv", labels=["负面", "正面"])
    assert task["languages"] == ["zh"]
    assert task["labels"] == ["负面", "正面"]
    source = task["source"]
    assert isinstance(source, dict)
    assert source["format"] == "csv"
    assert source["files"] == {"train": "train.csv", "test": "test.csv"}
    assert task["prompt"]["verbalizers"] == {"负面": "负面", "正面": "正面"}  # type: ignore[index]
    translation = _customised("translation", languages=["en", "zh"], fmt="tsv")
    assert translation["languages"] == ["en", "zh"]
    assert translation["source"]["files"] == {  # type: ignore[index]
        "train": "train.tsv",
        "test": "test.tsv",
    }
    folders = _customised("sentiment", fmt="text-files")
    assert folders["source"]["files"] == {"train": "train", "test": "test"}  # type: ignore[index]


def test_the_comments_of_the_template_stay() -> None:
    cls = registry.get("family", "sentiment")
    done = customise_template(task_template("t", "sentiment"), cls, languages=["zh"], fmt="tsv")
    assert "languages: [zh]              # the first language drives tokenisers" in done.text
    assert "# split name -> file (globs allowed)" in done.text
    assert "# label_map:" in done.text


def test_from_a_tsv_infers_format_fields_and_labels(tmp_path: Path) -> None:
    columns = read_columns(SST2 / "dev.tsv")
    assert columns.format == "tsv" and columns.columns == ("sentence", "label")
    cls = registry.get("family", "sentiment")
    done = customise_template(
        task_template("sst2", "sentiment"), cls, columns=columns, task_dir=tmp_path
    )
    task = yaml.safe_load(done.text)
    assert task["labels"] == ["0", "1"]
    assert task["source"]["format"] == "tsv"
    assert task["source"]["fields"] == {"text": "sentence", "label": "label"}
    assert task["source"]["files"] == {"test": "dev.tsv"}
    assert (tmp_path / task["source"]["location"] / "dev.tsv").resolve() == SST2 / "dev.tsv"
    assert done.notes == []


def test_field_matching_prefers_exact_names_then_synonyms_and_languages() -> None:
    assert match_fields(["text", "label"], ["Review", "Sentiment", "id"]) == {
        "text": "Review",
        "label": "Sentiment",
    }
    assert match_fields(["source", "references"], ["en", "zh"], ["zh", "en"]) == {
        "source": "zh",
        "references": "en",
    }
    # A column serves one field: 'document' is both a summarization and a QA synonym.
    assert match_fields(["document", "references"], ["document", "summary"]) == {
        "document": "document",
        "references": "summary",
    }


def test_a_field_no_column_matches_is_kept_and_named(tmp_path: Path) -> None:
    data = tmp_path / "q.jsonl"
    data.write_text(json.dumps({"q": "Who?", "passage": "Ann."}) + "\n", encoding="utf-8")
    cls = registry.get("family", "qa")
    done = customise_template(
        task_template("q", "qa"), cls, columns=read_columns(data), task_dir=tmp_path
    )
    task = yaml.safe_load(done.text)
    assert task["source"]["fields"] == {"question": "q", "context": "passage", "answers": "answers"}
    assert len(done.notes) == 1 and "answers" in done.notes[0] and "q, passage" in done.notes[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--family", "qa", "--labels", "a,b"], ["--labels", "qa family has no labels"]),
        (["--family", "word-similarity", "--format", "csv"], ["reads format word-pairs"]),
        (["--family", "qa", "--format", "text-files"], ["--format text-files"]),
        (["--family", "sentiment", "--from", "nope.csv"], ["nope.csv", "no such file"]),
        (["--family", "sentiment", "--from", "bad.jsonl"], ["bad.jsonl", "line 1"]),
        (["--family", "sentiment", "--from", "data.parquet"], ["data.parquet", ".parquet"]),
    ],
)
def test_choices_a_family_cannot_take_are_refused(
    args: list[str], needles: list[str], tmp_path: Path
) -> None:
    (tmp_path / "bad.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    env = {**os.environ, "COLUMNS": "200"}
    proc = _bench_in(tmp_path, "new-task", "t", *args, env=env)
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "tasks").exists()  # nothing written


def _bench_in(cwd: Path, *args: str, env: dict[str, str]) -> object:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return bench(*args, env=env)
    finally:
        os.chdir(old)


def test_from_file_to_a_run_through_tasks_dir(
    bench_home: Path, nltk_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hotel reviews in the ChnSentiCorp CSV: a train file beside the test file is found by its
    # name, the columns and labels come from the header and values, and the "next" command
    # (with its --tasks-dir) runs as printed.
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    lines = HTL.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    picked = body[:150] + body[-150:]  # both labels (the file is sorted by label)
    (data / "htl-train.csv").write_text("\n".join([header, *picked[::2]]) + "\n", "utf-8")
    (data / "htl-test.csv").write_text("\n".join([header, *picked[1::2]]) + "\n", "utf-8")
    env = {**os.environ, "NLTK_DATA": str(nltk_data), "COLUMNS": "200"}
    made = _bench_in(
        tmp_path, "new-task", "htl", "--family", "sentiment", "--lang", "zh",
        "--from", "data/htl-test.csv", "--dir", "mine", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr  # type: ignore[attr-defined]
    said = " ".join(made.stdout.split())  # type: ignore[attr-defined]
    assert "bench run -t htl --tasks-dir mine -m MODEL" in said
    task = yaml.safe_load((tmp_path / "mine" / "htl.yaml").read_text(encoding="utf-8"))
    assert task["languages"] == ["zh"] and task["labels"] == ["0", "1"]
    assert task["source"]["files"] == {"train": "htl-train.csv", "test": "htl-test.csv"}
    assert task["source"]["fields"] == {"text": "review", "label": "label"}

    # Without --tasks-dir the error says which folder holds the file.
    lost = _bench_in(tmp_path, "run", "-t", "htl", "-m", "baseline:majority", env=env)
    assert_one_line_error(lost, "htl", "mine/htl.yaml", "--tasks-dir mine")  # type: ignore[arg-type]

    ran = _bench_in(
        tmp_path, "run", "-t", "htl", "--tasks-dir", "mine", "-m", "baseline:majority",
        "--format", "json", env=env,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr  # type: ignore[attr-defined]
    (row,) = json.loads(ran.stdout)  # type: ignore[attr-defined]
    assert row["task"] == "htl" and row["n"] == 150 and row["value"] == pytest.approx(0.5)

    listed = _bench_in(tmp_path, "tasks", "list", "htl", "--tasks-dir", "mine", "--format",
                       "json", env=env)  # fmt: skip
    (entry,) = json.loads(listed.stdout)  # type: ignore[attr-defined]
    assert entry["suite"] == "mine" and entry["origin"] == "--tasks-dir"
    assert entry["n scored"] == "150"


def test_tasks_list_fits_80_columns_without_cutting_a_cell(bench_home: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("BENCH_TASKS_PATH", None)
    proc = bench("tasks", "list", "smoke", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80
    assert "…" not in proc.stdout
    text = " ".join(proc.stdout.split())
    assert "recommendation-synthetic recommendation en,zh source builtin n 500 users" in text
    assert lines[0] == "smoke"  # the suite heads its tasks


def test_read_columns_refuses_a_file_without_records(tmp_path: Path) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(BenchError, match="no header or record"):
        read_columns(empty)
