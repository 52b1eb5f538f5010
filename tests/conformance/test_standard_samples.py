"""Every standard task loads a sample of its data in the source's real format and runs a
baseline on it end to end (``tests/conformance/samples``).

The loaders are the real ones: ``datasets.load_dataset`` on a folder laid out as the task's Hub
repository (parquet files and the ``configs:`` card; only ``source.location`` is changed, to
that folder), ``--data NAME=DIR`` on the files of the original release, and sacrebleu's own
reader on its cache folder. The run goes through ``bench run`` with the sample's baseline and
must score exactly the sample's test examples.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.catalog import builtin_tasks_root, discover
from bench.cli import main
from tests.conformance.samples import ALL, FilesSample, HubSample, SacrebleuSample, Sample

STANDARD = builtin_tasks_root() / "standard"

COVERED_ELSEWHERE = {
    # Tasks of the first catalog, loaded from real data in tests/unit/test_real_data.py,
    # tests/golden/ and tests/unit/test_data_generation.py.
    "ca-translated", "ca8-morphological", "ca8-semantic", "chnsenticorp", "cmrc2018",
    "cnn-dailymail", "csl-title", "drcd", "google-analogy", "imdb", "movielens-100k",
    "movielens-1m", "simlex999", "sst2", "squad-v1.1", "squad-v2", "wmt21-en-de",
    "wmt21-en-zh", "wmt21-zh-en", "wordsim-297", "wordsim353", "xsum",
}  # fmt: skip


def _standard_names() -> list[str]:
    return sorted(p.stem for p in STANDARD.rglob("*.yaml"))


def test_every_standard_task_has_a_sample() -> None:
    names = set(_standard_names())
    missing = sorted(names - set(ALL) - COVERED_ELSEWHERE)
    assert not missing, f"standard tasks without a sample: {missing}"
    assert not sorted(set(ALL) - names), "samples for tasks that do not exist"


def _hub_repo(root: Path, sample: HubSample, config: str | None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = config or "default"
    lines = ["---", "configs:", f"- config_name: {folder}", "  data_files:"]
    for split, rows in sample.splits.items():
        table = pa.Table.from_pylist(rows)
        for column, type_text in sample.schema.items():
            index = table.schema.get_field_index(column)
            table = table.set_column(
                index, column, table.column(column).cast(_arrow_type(type_text))
            )
        path = root / folder / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        lines += [f"  - split: {split}", f"    path: {folder}/{split}-*"]
    (root / "README.md").write_text("\n".join([*lines, "---", ""]), encoding="utf-8")
    return root


def _arrow_type(text: str) -> Any:
    import pyarrow as pa

    simple = {
        "string": pa.string(), "large_string": pa.large_string(), "int64": pa.int64(),
        "int32": pa.int32(), "int8": pa.int8(), "float64": pa.float64(),
        "float32": pa.float32(), "bool": pa.bool_(),
        "list<string>": pa.list_(pa.string()), "list<int32>": pa.list_(pa.int32()),
        "list<int64>": pa.list_(pa.int64()),
        "struct<text: list<string>, answer_start: list<int32>>": pa.struct(
            [("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))]
        ),
    }  # fmt: skip
    return simple[text]


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["run", *args, "--format", "json", "--bootstrap", "0"])
    captured = capsys.readouterr()
    assert info.value.code in (0, None), captured.err[-3000:]
    rows: list[dict[str, Any]] = json.loads(captured.out)
    return rows


@pytest.mark.parametrize("name", sorted(ALL))
def test_the_sample_loads_and_a_baseline_runs(
    name: str,
    tmp_path: Path,
    bench_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    spec = discover()[name]
    sample: Sample = ALL[name]
    assert spec.path is not None
    if isinstance(sample, HubSample):
        assert spec.source.kind == "hub", f"{name}: a hub sample for a {spec.source.kind} task"
        repo = _hub_repo(tmp_path / "hub" / str(spec.source.location), sample, spec.source.name)
        task = yaml.safe_load(spec.path.read_text(encoding="utf-8"))
        task["source"]["location"] = str(repo)
        local = tmp_path / f"{name}.yaml"
        local.write_text(yaml.safe_dump(task, allow_unicode=True), encoding="utf-8")
        rows = _run(["-t", str(local), "-m", sample.model], capsys)
    elif isinstance(sample, FilesSample):
        assert spec.source.original_release() is not None, f"{name}: no original layout"
        release = _write(tmp_path / "release", sample.files)
        rows = _run(["-t", name, "--data", f"{name}={release}", "-m", sample.model], capsys)
    else:
        assert isinstance(sample, SacrebleuSample)
        assert spec.source.kind == "sacrebleu"
        from sacrebleu.dataset import DATASETS

        dataset = DATASETS[str(spec.source.testset)]
        cache = tmp_path / "sacrebleu"
        outdir = cache / dataset.name
        monkeypatch.setattr(dataset, "_outdir", str(outdir))
        monkeypatch.setattr(dataset, "_rawdir", str(outdir / "raw"))
        _write(cache, dict(sample.files))
        for url in dataset.data:  # the archives count as downloaded, as after a download
            marker = outdir / "raw" / dataset._get_tarball_filename(url)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("x", encoding="utf-8")
        rows = _run(["-t", name, "-m", sample.model], capsys)
    assert len(rows) == 1, rows
    (row,) = rows
    assert row["task"] == spec.name or row["task"] == name
    assert row["n"] == sample.n_test, row
    assert row["failed"] == 0
    assert isinstance(row["value"], int | float) and math.isfinite(row["value"])
