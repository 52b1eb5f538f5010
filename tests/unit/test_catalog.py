"""bench.catalog: task roots, discovery and selectors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from bench.catalog import builtin_tasks_root, discover, find_task, select_tasks, task_roots
from bench.errors import TaskNotFound, TaskSpecError

REPO = Path(__file__).resolve().parents[2]
SMOKE_EN = REPO / "tasks" / "smoke" / "sentiment-en.yaml"
BUILTIN = {"sentiment-en", "sentiment-zh", "sst2", "imdb", "chnsenticorp"}


@pytest.fixture(autouse=True)
def _no_env_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    # Task folders of installed plugins (CI installs the example plugin) are not under test here.
    monkeypatch.setattr("bench.catalog.plugin_task_roots", lambda: [])


def add_task(root: Path, rel: str) -> Path:
    """Write a valid task file at ``root/rel`` (its name is the file stem)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = SMOKE_EN.read_text(encoding="utf-8").replace("name: sentiment-en", f"name: {path.stem}")
    path.write_text(text, encoding="utf-8")
    return path


def names(tasks: list) -> list[str]:
    return [t.name for t in tasks]


def test_builtin_root_is_the_checkout_tasks_folder() -> None:
    assert builtin_tasks_root() == REPO / "tasks"
    assert task_roots() == [REPO / "tasks"]


def test_discover_finds_the_builtin_tasks_with_their_suites() -> None:
    tasks = discover()
    assert set(tasks) >= BUILTIN
    assert tasks["sentiment-en"].suite == tasks["sentiment-zh"].suite == "smoke"
    assert {tasks[n].suite for n in ("sst2", "imdb", "chnsenticorp")} == {"standard"}
    assert tasks["sst2"].path == REPO / "tasks" / "standard" / "sst2.yaml"


SMOKE = [
    "analogy-en",
    "analogy-zh",
    "qa-en",
    "qa-zh",
    "recommendation-synthetic",
    "sentiment-en",
    "sentiment-zh",
    "summarization-en",
    "summarization-zh",
    "translation-en-zh",
    "translation-zh-en",
    "wordsim-en",
    "wordsim-zh",
]


def _files(folder: str = "*") -> dict[str, dict]:  # type: ignore[type-arg]
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((REPO / "tasks").glob(f"{folder}/*.yaml"))
    }


STANDARD = sorted(_files("standard"))
FAMILY = {
    family: sorted(n for n, d in _files().items() if d["family"] == family)
    for family in ("sentiment", "translation")
}
ZH_SUFFIX = sorted(n for n in _files() if n.endswith("-zh"))


def test_the_expected_lists_hold_what_they_should() -> None:
    # The lists below come from the task files; these are the tasks they must include.
    assert {"sst2", "imdb", "xsum", "wmt21-en-zh", "wmt24-en-zh", "xquad-zh"} <= set(STANDARD)
    assert {"sentiment-en", "sst2", "waimai-10k"} <= set(FAMILY["sentiment"])
    assert {"translation-zh-en", "wmt21-zh-en", "flores200-en-zh"} <= set(FAMILY["translation"])
    assert {"analogy-zh", "wmt21-en-zh", "xquad-zh"} <= set(ZH_SUFFIX)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("sst2", ["sst2"]),
        ("smoke", SMOKE),
        ("standard", STANDARD),
        ("sentiment", FAMILY["sentiment"]),
        ("translation", FAMILY["translation"]),
        ("sentiment-*", ["sentiment-en", "sentiment-zh"]),
        ("*-zh", ZH_SUFFIX),
        ("s?t2", ["sst2"]),
        ("sst2,smoke", ["sst2", *SMOKE]),
        (" imdb , sst2 ,", ["imdb", "sst2"]),
        ("sst2,standard,sst2", ["sst2", *(t for t in STANDARD if t != "sst2")]),
    ],
)
def test_selectors(selector: str, expected: list[str]) -> None:
    assert names(select_tasks(selector)) == expected


def test_all_selects_every_task_once() -> None:
    chosen = names(select_tasks("all"))
    assert sorted(chosen) == sorted(discover())
    assert len(chosen) == len(set(chosen))
    assert set(chosen) >= BUILTIN
    assert sorted(names(select_tasks("all,smoke"))) == sorted(chosen)


def test_a_task_file_path_is_a_selector(tmp_path: Path) -> None:
    path = add_task(tmp_path, "my-task.yaml")
    chosen = select_tasks(f"{path},sst2")
    assert names(chosen) == ["my-task", "sst2"]
    assert chosen[0].path == path
    assert find_task(str(path)).name == "my-task"


@pytest.mark.parametrize(
    ("selector", "suggestion"),
    [("smok", "smoke"), ("sst22", "sst2"), ("sentimen", "sentiment"), ("imbd", "imdb")],
)
def test_unknown_selector_has_did_you_mean(selector: str, suggestion: str) -> None:
    with pytest.raises(TaskNotFound) as info:
        select_tasks(f"sst2,{selector}")
    assert info.value.message == f"no task matches '{selector}' (did you mean '{suggestion}'?)"
    assert "bench tasks list" in (info.value.fix or "")


def test_unmatched_glob_and_unknown_task() -> None:
    with pytest.raises(TaskNotFound, match=r"no task matches 'nothing-\*'"):
        select_tasks("nothing-*")
    with pytest.raises(TaskNotFound) as info:
        find_task("chnsenticrop")
    assert info.value.message == "unknown task 'chnsenticrop' (did you mean 'chnsenticorp'?)"
    assert find_task("imdb").name == "imdb"


def test_duplicate_task_names_across_roots(tmp_path: Path) -> None:
    dup = add_task(tmp_path / "mine", "custom/sst2.yaml")
    with pytest.raises(TaskSpecError) as info:
        discover([tmp_path / "mine"])
    message = str(info.value)
    assert "task 'sst2'" in message
    assert str(dup) in message and str(REPO / "tasks" / "standard" / "sst2.yaml") in message


def test_duplicate_task_names_within_one_root(tmp_path: Path) -> None:
    add_task(tmp_path, "a/twin.yaml")
    add_task(tmp_path, "b/twin.yaml")
    with pytest.raises(TaskSpecError, match="task 'twin' is also defined in"):
        select_tasks("all", [tmp_path])


def test_bench_tasks_path_adds_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    add_task(one, "team/alpha.yaml")
    add_task(two, "beta.yaml")  # at the top of a user's root: the root's name is its suite
    missing = tmp_path / "missing"
    monkeypatch.setenv("BENCH_TASKS_PATH", os.pathsep.join([str(one), str(missing), str(two)]))
    assert task_roots() == [one, missing, two, REPO / "tasks"]
    tasks = discover()
    assert set(tasks) >= {"alpha", "beta", *BUILTIN}
    assert tasks["alpha"].suite == "team" and tasks["beta"].suite == "two"
    assert [t.name for t in select_tasks("two")] == ["beta"]
    assert names(select_tasks("team")) == ["alpha"]
    assert names(select_tasks("beta,alpha")) == ["beta", "alpha"]
    # Data paths of an environment root's task are resolved like any other task's.
    assert tasks["alpha"].path == one / "team" / "alpha.yaml"


def test_a_root_listed_twice_is_searched_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_task(tmp_path, "x/once.yaml")
    monkeypatch.setenv("BENCH_TASKS_PATH", str(tmp_path))
    assert task_roots([tmp_path]) == [tmp_path, REPO / "tasks"]
    assert "once" in discover([tmp_path])
    monkeypatch.setenv("BENCH_TASKS_PATH", str(REPO / "tasks"))
    assert set(discover()) >= BUILTIN


def test_an_invalid_file_in_a_root_fails_discovery(tmp_path: Path) -> None:
    bad = add_task(tmp_path, "x/broken.yaml")
    bad.write_text(bad.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    with pytest.raises(TaskSpecError) as info:
        select_tasks("sst2", [tmp_path])
    assert str(bad) in str(info.value) and "unknown key 'colour'" in str(info.value)
