"""Start-up cost (issue 18): what ``import bench`` and ``bench --help`` import, and the task
catalog's cached test counts (``bench tasks list`` reads task files, not data sets)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("datasets", "torch", "nltk", "jieba", "sklearn", "pandas", "transformers")


def _run(code: str) -> tuple[str, list[str]]:
    """What running ``code`` in a fresh interpreter prints, and the heavy top-level modules
    it loaded."""
    probe = (
        f"{code}\nimport sys, json\n"
        f"print('@@' + json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out, _, mods = proc.stdout.rpartition("@@")
    return out, list(json.loads(mods))


def _imported(code: str) -> list[str]:
    return _run(code)[1]


def test_import_bench_loads_no_heavy_library() -> None:
    assert _imported("import bench") == []


def test_bench_help_loads_no_heavy_library() -> None:
    code = textwrap.dedent(
        """
        import sys
        from bench.cli import app
        sys.argv = ["bench", "--help"]
        try:
            app()
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    assert _imported(code) == []


def _list_code(tasks_dir: Path) -> str:
    return textwrap.dedent(
        f"""
        import sys
        from bench.cli import app
        sys.argv = ["bench", "tasks", "list", "--tasks-dir", {str(tasks_dir)!r}]
        try:
            app()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        """
    )


def _write_task(folder: Path, n: int) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    rows = [
        {"id": f"r{i}", "text": f"review {i}", "label": "positive" if i % 2 else "negative"}
        for i in range(n)
    ]
    (folder / "data" / "test.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    task = folder / "counted-task.yaml"
    task.write_text(
        textwrap.dedent(
            """
            name: counted-task
            version: 1
            family: sentiment
            languages: [en]
            description: A local task for the count cache test.
            license: CC0-1.0
            labels: [negative, positive]
            source:
              kind: local
              location: data
              format: jsonl
              files: {test: test.jsonl}
              splits: {test: test}
              fields: {id: id, text: text, label: label}
            metrics: [accuracy]
            primary_metric: accuracy
            """
        ),
        encoding="utf-8",
    )
    return task


NUMERIC = ("numpy", "scipy")

_IMPORTERS = textwrap.dedent(
    """
    import sys

    IMPORTERS = {}

    class _Who:
        # Notes the module whose import statement first asks for numpy or scipy.
        def find_spec(self, name, path=None, target=None):
            if name in ("numpy", "scipy") and name not in IMPORTERS:
                frame = sys._getframe(1)
                while frame is not None and frame.f_globals.get("__name__", "").startswith(
                    ("importlib", "_frozen_importlib")
                ):
                    frame = frame.f_back
                IMPORTERS[name] = frame.f_globals.get("__name__", "?") if frame else "?"
            return None

    sys.meta_path.insert(0, _Who())
    """
)


def test_warm_tasks_list_imports_no_numpy_or_scipy(
    tmp_path: Path, bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm listing reads task files and checks their names against the registry's name
    table: no metric implementation, so neither numpy nor scipy, is imported by bench.

    An installed plugin's modules are imported to check the names they register (the example
    plugin's metric module imports numpy itself); those imports are not bench's."""
    monkeypatch.setenv("COLUMNS", "250")
    tasks = tmp_path / "tasks"
    _write_task(tasks, 5)
    code = (
        _IMPORTERS
        + _list_code(tasks)
        + textwrap.dedent(
            """
        import json
        print("@@@" + json.dumps(IMPORTERS))
        """
        )
    )
    _run(code)  # cold: counts the test examples once
    out, _ = _run(code)
    importers = json.loads(out.rpartition("@@@")[2])
    by_bench = {m: who for m, who in importers.items() if who.partition(".")[0] == "bench"}
    assert by_bench == {}, by_bench
    assert set(importers) <= set(NUMERIC)
    assert all(who != "?" for who in importers.values()), importers


def _n_scored(output: str, name: str) -> str:
    """The ``n scored`` cell of task ``name`` in a ``tasks list`` table (wide or grouped by
    suite: the cells after the name are family, languages, source, n scored, ...)."""
    line = next(line for line in output.splitlines() if f" {name} " in line)
    cells = [cell for cell in re.split(r"\s{2,}", line.strip()) if cell]
    return cells[cells.index(name) + 4].removeprefix("n ")  # stacked: "n 7"


@pytest.mark.parametrize("n", [7])
def test_tasks_list_counts_are_cached_by_data_stamp(
    tmp_path: Path, bench_home: Path, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    tasks = tmp_path / "tasks"
    _write_task(tasks, n)

    def listing() -> tuple[str, list[str]]:
        return _run(_list_code(tasks))

    cold, cold_mods = listing()
    assert "datasets" in cold_mods  # the first listing loads the data to count it
    assert _n_scored(cold, "counted-task") == str(n)
    assert (bench_home / "task-counts.json").is_file()

    warm, warm_mods = listing()
    assert warm == cold  # the same table
    assert "datasets" not in warm_mods and "pandas" not in warm_mods

    # The data changes: its stamp (size, time) changes, so the count is computed again.
    _write_task(tasks, n + 3)
    changed, _ = listing()
    assert _n_scored(changed, "counted-task") == str(n + 3)

    # A damaged count file is ignored, not fatal.
    (bench_home / "task-counts.json").write_text("{not json", encoding="utf-8")
    again, _ = listing()
    assert _n_scored(again, "counted-task") == str(n + 3)
