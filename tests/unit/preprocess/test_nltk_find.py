"""``nltk_find`` answers as ``nltk.data.find`` does, without importing NLTK.

Each case builds an NLTK data folder in the layouts the downloader writes (a plain folder, a
zipped package, a package NLTK refuses because others may write it, a missing one), then asks
the same resource paths twice in fresh interpreters: once before NLTK is imported (bench's
file-system search) and once after (NLTK itself). The answers must be the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.preprocess.resources import NLTK_PACKAGES

RESOURCES = [
    *(p.resource for p in NLTK_PACKAGES),
    "corpora/stopwords/",
    "corpora/stopwords",
    "tokenizers/punkt_tab/",
    "corpora/no-such-corpus/",
    "tokenizers/punkt_tab/english/no-such-file",
]

_ASK = """
import json, sys
first = sys.argv[1] == "nltk-first"
if first:
    import nltk
from bench.preprocess.resources import nltk_find
answers = {r: nltk_find(r) for r in json.loads(sys.argv[2])}
assert ("nltk" in sys.modules) or not first
print(json.dumps({"answers": answers, "imported": "nltk" in sys.modules}))
"""


def _answers(root: Path, home: Path, order: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NLTK", "HF_"))}
    env.update(NLTK_DATA=str(root), HOME=str(home), HF_HUB_CACHE=str(home / "hub"))
    done = subprocess.run(
        [sys.executable, "-c", _ASK, order, json.dumps(RESOURCES)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def _layout(root: Path, nltk_data: Path) -> None:
    shutil.copytree(nltk_data / "tokenizers" / "punkt_tab", root / "tokenizers" / "punkt_tab")
    (root / "corpora").mkdir(parents=True)
    shutil.copy(nltk_data / "corpora" / "stopwords.zip", root / "corpora")
    (root / "taggers").mkdir()
    shutil.copy(nltk_data / "taggers" / "universal_tagset.zip", root / "taggers")


@pytest.mark.parametrize("case", ["plain-and-zipped", "group-writable", "empty"])
def test_nltk_find_agrees_with_nltk_data_find(case: str, tmp_path: Path, nltk_data: Path) -> None:
    root, home = tmp_path / "nltk_data", tmp_path / "home"
    home.mkdir()
    root.mkdir()
    if case != "empty":
        _layout(root, nltk_data)
    if case == "group-writable":  # NLTK refuses data that another account could rewrite
        (root / "tokenizers" / "punkt_tab").chmod(0o775)
    ours = _answers(root, home, "bench-first")
    theirs = _answers(root, home, "nltk-first")
    assert ours["imported"] is (case == "group-writable")  # asked NLTK only where unsure
    assert theirs["imported"] is True
    assert ours["answers"] == theirs["answers"]
    found = ours["answers"]
    if case == "plain-and-zipped":
        assert (
            found["corpora/stopwords/english"]
            == str(root / "corpora" / "stopwords.zip") + "/stopwords/english"
        )
        assert found["tokenizers/punkt_tab/english/"] == str(
            root / "tokenizers" / "punkt_tab" / "english"
        )
    if case == "empty":
        assert set(found.values()) == {None}
