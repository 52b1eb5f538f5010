"""Data sources and formats of the generation families (translation, summarization).

Real files from ../shared/data: WMT21's plain-text release (aligned-text), XSum's [XSUM]
extracts, CSL's header-less TSV, the FRANK CNN/DailyMail subset (JSONL); and sacrebleu's own
loader fed with a local copy of the test set in sacrebleu's cache layout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from bench.catalog import find_task
from bench.data import load_split
from bench.errors import DataError, PredictionsError
from bench.families.base import get_family
from bench.spec import parse_task

pytestmark = pytest.mark.usefixtures("shared_data")


def _load(name: str, data: Path | None, role: str = "test"):
    spec = find_task(name)
    return load_split(spec, get_family(spec.family), role, data_override=data)


def _lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def test_wmt21_plain_text_release_with_two_references(shared_data: Path) -> None:
    root = shared_data / "wmt21-newstest2021"
    split = _load("wmt21-en-zh", root)
    ds = split.dataset
    assert len(ds) == 1002
    src = _lines(root / "sources" / "newstest2021.en-zh.src.en")
    ref_a = _lines(root / "references" / "newstest2021.en-zh.ref.A.zh")
    ref_b = _lines(root / "references" / "newstest2021.en-zh.ref.B.zh")
    assert list(ds["source"]) == src
    assert [r[0] for r in list(ds["references"])] == ref_a
    assert [r[1] for r in list(ds["references"])] == ref_b
    assert split.fingerprint == _load("wmt21-en-zh", root).fingerprint


def test_wmt21_zh_en_and_en_de(shared_data: Path) -> None:
    root = shared_data / "wmt21-newstest2021"
    zh_en = _load("wmt21-zh-en", root).dataset
    assert len(zh_en) == 1948 and all(len(r) == 1 for r in zh_en["references"])
    en_de = _load("wmt21-en-de", root).dataset
    assert len(en_de) == 1002 and all(len(r) == 2 for r in en_de["references"])


def test_aligned_text_files_of_different_lengths_are_refused(tmp_path: Path) -> None:
    (tmp_path / "src.txt").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("A\nB\n", encoding="utf-8")
    spec = parse_task(
        """
name: t
version: 1
family: translation
languages: [en, de]
description: d
source:
  kind: local
  location: LOC
  format: aligned-text
  files: {test: [src.txt, ref.txt]}
  columns: [src, ref]
  splits: {test: test}
  fields: {source: src, references: [ref]}
metrics: [bleu]
primary_metric: bleu
""".replace("LOC", str(tmp_path)),
        check_names=False,
    )
    with pytest.raises(DataError) as info:
        load_split(spec, get_family("translation"), "test")
    assert "src.txt: 3 lines" in str(info.value) and "ref.txt: 2 lines" in str(info.value)


def test_a_segment_with_a_unicode_line_separator_stays_one_segment(tmp_path: Path) -> None:
    # str.splitlines() would split at U+2028; WMT files only break lines at \n.
    (tmp_path / "src.txt").write_text("one\u2028still one\ntwo\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("eins\nzwei\n", encoding="utf-8")
    spec = parse_task(
        f"""
name: t
version: 1
family: translation
languages: [en, de]
description: d
source:
  kind: local
  location: {tmp_path}
  format: aligned-text
  files: {{test: [src.txt, ref.txt]}}
  columns: [src, ref]
  splits: {{test: test}}
  fields: {{source: src, references: ref}}
metrics: [bleu]
primary_metric: bleu
""",
        check_names=False,
    )
    ds = load_split(spec, get_family("translation"), "test").dataset
    assert list(ds["source"]) == ["one\u2028still one", "two"]
    assert list(ds["references"]) == ["eins", "zwei"]  # one column: a string per row


def test_xsum_extract_files(shared_data: Path) -> None:
    folder = shared_data / "xsum" / "xsum-extracts-test-subset"
    ds = _load("xsum", folder).dataset
    assert len(ds) == 321
    row = ds.filter(lambda r: r["id"] == "10138849")[0]
    assert row["references"] == '"Maverick" is a word that seems to follow Craig Venter around.'
    assert row["document"].startswith("The biologist and entrepreneur turned the effort")
    assert "[XSUM]" not in row["document"]


def test_a_file_that_is_not_an_xsum_extract_is_named(tmp_path: Path) -> None:
    (tmp_path / "1.data").write_text("[XSUM]URL[XSUM]\nhttp://x\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        _load("xsum", tmp_path)
    assert "1.data" in str(info.value) and "INTRODUCTION" in str(info.value)


def test_csl_header_less_tsv(shared_data: Path) -> None:
    ds = _load("csl-title", shared_data / "csl-title-summarization" / "ts").dataset
    assert len(ds) == 1000
    first = (shared_data / "csl-title-summarization/ts/test.tsv").read_text("utf-8").split("\n")[0]
    prompt, abstract, title = first.split("\t")
    assert prompt == "to title"
    assert ds[0]["document"] == abstract and ds[0]["references"] == title


def test_csl_pinned_hash_is_checked(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "csl-title-summarization" / "ts"
    for name in ("dev.tsv", "test.tsv"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    with (tmp_path / "test.tsv").open("a", encoding="utf-8") as fh:
        fh.write("to title\tx\ty\n")
    with pytest.raises(DataError) as info:
        _load("csl-title", tmp_path)
    assert "test.tsv" in str(info.value) and "SHA-256" in str(info.value)


def test_frank_cnn_dailymail_subset_through_a_local_source(
    shared_data: Path, tmp_path: Path
) -> None:
    path = shared_data / "cnn-dailymail" / "frank-test-subset" / "cnndm_test_frank_subset.jsonl"
    task = tmp_path / "cnndm-frank.yaml"
    task.write_text(
        f"""
name: cnndm-frank
version: 1
family: summarization
languages: [en]
description: FRANK's CNN/DM test subset.
source:
  kind: local
  location: {path.parent}
  format: jsonl
  files: {{test: {path.name}}}
  splits: {{test: test}}
  fields: {{id: id, document: article, references: bart_reference}}
metrics: [rouge1, rougeL]
primary_metric: rougeL
""",
        encoding="utf-8",
    )
    spec = find_task(str(task))
    ds = load_split(spec, get_family("summarization"), "test").dataset
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(ds) == len(rows) == 250
    assert ds[0]["references"] == rows[0]["bart_reference"]
    request, refs = get_family("summarization").build(ds[0], spec)
    assert refs == (rows[0]["bart_reference"],) and request.document == rows[0]["article"]


def _wmt21_xml(src: list[str], refs: dict[str, list[str]], src_lang: str, tgt: str) -> str:
    segs = "".join(f'<seg id="{i + 1}">{escape(s)}</seg>' for i, s in enumerate(src))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<dataset id="newstest2021"><collection id="general">',
        f'<doc id="d1" origlang="{src_lang}"><src lang="{src_lang}"><p>{segs}</p></src>',
    ]
    for translator, lines in refs.items():
        ref_segs = "".join(f'<seg id="{i + 1}">{escape(s)}</seg>' for i, s in enumerate(lines))
        out.append(f'<ref lang="{tgt}" translator="{translator}"><p>{ref_segs}</p></ref>')
    out.append("</doc></collection></dataset>")
    return "".join(out)


def test_sacrebleu_source_reads_sacrebleus_own_cache(shared_data: Path, tmp_path: Path) -> None:
    """The real sacrebleu loader, fed with a local copy of the test set in its cache layout."""
    root = shared_data / "wmt21-newstest2021"
    src = _lines(root / "sources" / "newstest2021.en-zh.src.en")[:40]
    refs = {t: _lines(root / "references" / f"newstest2021.en-zh.ref.{t}.zh")[:40] for t in "AB"}
    cache = tmp_path / "sacrebleu"
    raw = cache / "wmt21" / "raw"
    (raw / "test").mkdir(parents=True)
    (raw / "test" / "newstest2021.en-zh.xml").write_text(
        _wmt21_xml(src, refs, "en", "zh"), encoding="utf-8"
    )
    script = """
import json, sys
from bench.catalog import find_task
from bench.data import load_split
from bench.families.base import get_family
from sacrebleu.dataset import DATASETS
import os
ds = DATASETS["wmt21"]
# A non-empty tarball marks the download as done, as after a real download.
for url in ds.data:
    p = os.path.join(ds._rawdir, ds._get_tarball_filename(url))
    open(p, "w").write("x")
spec = find_task("wmt21-en-zh")
split = load_split(spec, get_family("translation"), "test")
json.dump({"source": list(split.dataset["source"]), "references": list(split.dataset["references"]),
           "origin": split.origin}, sys.stdout, ensure_ascii=False)
"""
    env = {**os.environ, "SACREBLEU": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["origin"] == "sacrebleu:wmt21/en-zh"
    assert got["source"] == src
    assert got["references"] == [[a, b] for a, b in zip(refs["A"], refs["B"], strict=True)]


def test_sacrebleu_source_without_network_names_the_fix(tmp_path: Path) -> None:
    script = """
from bench.catalog import find_task
from bench.data import load_split
from bench.errors import DataError
from bench.families.base import get_family
import sacrebleu.dataset.base as base
import sacrebleu.utils as utils
def offline(*a, **k):
    raise OSError("network unreachable")
base.download_file = offline
spec = find_task("wmt21-zh-en")
try:
    load_split(spec, get_family("translation"), "test")
except DataError as exc:
    print(exc)
"""
    env = {**os.environ, "SACREBLEU": str(tmp_path / "empty")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "cannot fetch sacrebleu:wmt21/zh-en" in done.stdout
    assert "--data wmt21-zh-en=DIR" in done.stdout


def test_plain_text_predictions_must_have_one_line_per_example(tmp_path: Path) -> None:
    from bench.adapters.predictions import PredictionsAdapter

    hyp = tmp_path / "hyp.txt"
    hyp.write_text("a\nb\n", encoding="utf-8")
    adapter = PredictionsAdapter(str(hyp))
    assert adapter.format == "text"
    with pytest.raises(PredictionsError) as info:
        adapter.check_ids(["x", "y", "z"])
    assert "2 lines" in str(info.value) and "3 examples" in str(info.value)
    adapter.check_ids(["x", "y"])
