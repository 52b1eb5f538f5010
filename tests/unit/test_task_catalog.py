"""Selecting tasks by suite-language, family, language and tag; the catalog documentation
(``docs/tasks.md`` and the README's table) generated from the task files and kept current;
licences and declared sizes where users see them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.catalog import builtin_tasks_root, discover, select_tasks
from bench.errors import BenchError, TaskNotFound
from bench.taskdocs import BEGIN, END, readme_table, short_licence, write_catalog
from tests.unit.test_cli import bench

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)


def _names(selector: str) -> set[str]:
    return {t.name for t in select_tasks(selector)}


def _ours() -> list:  # type: ignore[type-arg]
    root = builtin_tasks_root().resolve()
    return [t for t in discover().values() if t.path and t.path.resolve().is_relative_to(root)]


def test_suite_language_selects_the_suites_tasks_with_that_language() -> None:
    tasks = _ours()
    zh = {
        t.name
        for t in tasks
        if t.suite == "standard" and any(x.split("-")[0] == "zh" for x in t.languages)
    }
    assert _names("standard-zh") == zh
    assert {"drcd", "wmt21-en-zh", "wmt21-zh-en", "cmrc2018"} <= zh  # zh-Hant, either side
    assert "squad-v1.1" not in zh


def test_prefixed_kinds_pick_one_kind_only() -> None:
    tasks = list(discover().values())  # installed plugins' tasks too
    assert _names("family:qa") == {t.name for t in tasks if t.family == "qa"}
    assert _names("suite:smoke") == {t.name for t in tasks if t.suite == "smoke"}
    assert _names("tag:smoke") == {t.name for t in tasks if "smoke" in t.tags}
    assert _names("lang:zh-Hant") == {t.name for t in tasks if "zh-Hant" in t.languages}
    en = {t.name for t in tasks if any(x.split("-")[0] == "en" for x in t.languages)}
    assert _names("lang:en") == en
    # a union of parts, in order, each sorted by name
    chosen = [t.name for t in select_tasks("family:qa,lang:zh-Hant")]
    qa = sorted(_names("family:qa"))
    rest = sorted(_names("lang:zh-Hant") - set(qa))  # drcd is among the qa tasks already
    assert chosen == qa + rest


@pytest.mark.parametrize(
    ("selector", "needle"),
    [("famly:qa", "did you mean 'family:'"), ("standard-xx", "standard-xx"), ("tag:nope", "")],
)
def test_a_selector_that_picks_nothing_is_an_error(selector: str, needle: str) -> None:
    with pytest.raises(TaskNotFound) as info:
        select_tasks(selector)
    assert f"no task matches '{selector}'" in info.value.message
    assert needle in info.value.message
    assert "family:/lang:/suite:/tag:" in (info.value.fix or "")


def test_the_committed_catalog_is_current(bench_home: Path) -> None:
    # What CI checks: docs/tasks.md and the README's table are what the task files give.
    done = write_catalog(_ours(), REPO / "docs" / "tasks.md", REPO / "README.md", check=True)
    assert done.changed == (), "run `bench tasks catalog` and commit the result"


def test_the_catalog_names_every_task_with_its_size_licence_and_source(tmp_path: Path) -> None:
    tasks = _ours()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\nold table\n{END}\nafter\n", encoding="utf-8")
    page = tmp_path / "docs" / "tasks.md"
    done = write_catalog(tasks, page, readme, check=True)
    assert set(done.changed) == {page, readme} and not page.exists()  # --check writes nothing
    assert "old table" in readme.read_text(encoding="utf-8")
    write_catalog(tasks, page, readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n" + BEGIN + "\n| task |") and text.endswith(
        END + "\nafter\n"
    )
    rows = [x for x in text.splitlines() if x.startswith("| [`")]
    assert len(rows) == len(tasks)
    sst2 = next(x for x in rows if "[`sst2`]" in x)
    assert "hub `stanfordnlp/sst2`" in sst2 and "| 872 |" in sst2
    ml = next(x for x in rows if "[`movielens-1m`]" in x)
    assert "6,040 users" in ml and "GroupLens research licence" in ml
    body = page.read_text(encoding="utf-8")
    for t in tasks:
        assert f"\n## {t.name}\n" in body
    assert write_catalog(tasks, page, readme).changed == ()  # the same bytes again


def test_a_readme_without_the_markers_is_refused(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no table here\n", encoding="utf-8")
    with pytest.raises(BenchError, match="no generated task table"):
        write_catalog(_ours(), tmp_path / "tasks.md", readme)


def test_table_cells_are_escaped_and_licences_shortened() -> None:
    assert short_licence("MIT (the repo that distributes it); pairs from SemEval") == "MIT"
    assert short_licence(None) == "—"
    spec = discover()["sentiment-en"].model_copy(update={"license": "A | B"})
    row = readme_table([spec]).splitlines()[2]
    assert "A \\| B" in row


def test_tasks_list_shows_licences_declared_sizes_and_filters_by_tag(bench_home: Path) -> None:
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("BENCH_TASKS_PATH", None)
    listed = bench("tasks", "list", "standard", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["sst2"]["test size"] == 872 and rows["sst2"]["n scored"] is None
    assert rows["squad-v1.1"]["licence"] == "CC BY-SA 4.0"
    table = bench("tasks", "list", "standard", env=env)
    assert "872*" in table.stdout
    tagged = bench("tasks", "list", "all", "--tag", "smoke", "--format", "json", env=env)
    assert {r["suite"] for r in json.loads(tagged.stdout)} == {"smoke"}
    none = bench("tasks", "list", "standard", "--tag", "no-such-tag", env=env)
    assert none.returncode == 2 and "no-such-tag" in none.stderr


def test_tasks_show_states_the_licence_and_that_bench_ships_no_data(bench_home: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    shown = bench("tasks", "show", "squad-v1.1", "--examples", "1", env=env)
    first = " ".join(shown.stdout.split("name: squad-v1.1")[0].split())
    assert "licence CC BY-SA 4.0" in first
    assert "bench ships none of it" in first and "rajpurkar/squad" in first
    assert "--data squad-v1.1=PATH" in first
