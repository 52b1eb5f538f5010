"""index.html in a real headless Chromium: sorting, filtering and escaping, driven by clicks.

Uses Debian's chromium (installed by ``.ci/run``) through Playwright's driver (no browser
download). Skips only when no chromium binary exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.leaderboard import build_leaderboard, write_leaderboard
from bench.leaderboard.build import aggregate
from bench.leaderboard.render import fmt_mean

GOLDEN = Path(__file__).parents[1] / "golden" / "leaderboard" / "records"
SCRIPT = "<script>alert(1)</script>"
CHROMIUM = next(
    (p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).is_file()), None
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt install chromium)"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("report")
    board = build_leaderboard(GOLDEN)
    write_leaderboard(board, out, formats=["html"], title=f"escaping {SCRIPT}", command="bench")
    return out / "index.html", board


def _rows(page: Any) -> list[dict[str, Any]]:
    """Visible rows of the main table: model, position cell and every visible cell's text."""
    rows: list[dict[str, Any]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('#leaderboard tbody tr'))
            .filter(r => r.offsetParent !== null)
            .map(r => ({
                model: r.dataset.model,
                shown: r.querySelector('td.model').innerText,
                cells: Object.fromEntries(Array.from(r.querySelectorAll('td[data-task]'))
                    .map(c => [c.dataset.task, c.offsetParent === null ? null : c.innerText])),
                mean: r.querySelector('td.agg-mean').innerText,
                pos: r.querySelector('td.pos').innerText,
            }))"""
    )
    return rows


def _visible_tasks(page: Any) -> list[str]:
    tasks: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll('#leaderboard th[data-task]'))
            .filter(h => h.offsetParent !== null).map(h => h.dataset.task)"""
    )
    return tasks


def _number(text: str | None) -> float | None:
    if text is None or text.startswith("—"):
        return None
    return float(text.replace("†", "").replace("‡", "").split()[0])


def test_sorting_filtering_and_escaping_in_chromium(
    report: tuple[Path, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    path, board = report
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            dialogs: list[str] = []
            errors: list[str] = []
            requests: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")

            # Escaping: the model name and the title are text; no script of theirs ran.
            rows = _rows(page)
            assert [r["model"] for r in rows] == board.models
            script_row = next(r for r in rows if r["model"] == SCRIPT)
            assert script_row["shown"] == SCRIPT
            assert page.inner_text("h1") == f"escaping {SCRIPT}"
            assert page.title() == f"escaping {SCRIPT}"
            assert dialogs == [] and errors == []
            assert requests == [path.as_uri()]  # self-contained: nothing else is fetched

            # Sorting by clicking a task header: best first, then reversed; missing always last.
            header = page.locator("#leaderboard th[data-task='sentiment-en'] button")
            header.click()
            values = [_number(r["cells"]["sentiment-en"]) for r in _rows(page)]
            present = [v for v in values if v is not None]
            assert present == sorted(present, reverse=True) and len(present) == 5
            assert values[: len(present)] == present  # missing ones at the end
            assert page.get_attribute("#leaderboard th[data-task='sentiment-en']", "aria-sort") == (
                "descending"
            )
            header.click()
            values = [_number(r["cells"]["sentiment-en"]) for r in _rows(page)]
            present = [v for v in values if v is not None]
            assert present == sorted(present) and values[: len(present)] == present
            model_header = page.locator("#leaderboard thead th", has_text="Model").locator("button")
            model_header.click()
            ascending = [r["model"] for r in _rows(page)]
            assert ascending.index("alpha") < ascending.index("beta-7b")
            model_header.click()
            assert [r["model"] for r in _rows(page)] == ascending[::-1]
            page.locator("#leaderboard thead th", has_text="Mean (0–100)").locator("button").click()
            means = [_number(r["mean"]) for r in _rows(page)]
            assert means == sorted(means, reverse=True)  # type: ignore[type-var]

            # Filtering by family: one column, its models, that view's aggregates and panels.
            page.select_option("#filter-family", "sentiment")
            assert _visible_tasks(page) == ["sentiment-en"]
            view = aggregate(board.long, ["sentiment-en"])
            shown = {r["model"]: r["mean"] for r in _rows(page)}
            assert shown == {m: fmt_mean(v) for m, v in view["mean (0-100)"].items()}
            panels = page.evaluate(
                """() => Array.from(document.querySelectorAll('section.panel'))
                    .filter(p => p.offsetParent !== null).map(p => p.dataset.task)"""
            )
            assert panels == ["sentiment-en"]
            page.screenshot(path=str(tmp_path / "filtered.png"), full_page=False)

            # Family and language together: no such task, the table says so.
            page.select_option("#filter-lang", "zh")
            assert _visible_tasks(page) == [] and _rows(page) == []
            assert page.is_visible("#empty")

            # Language alone: Chinese tasks, with models lacking them hidden.
            page.select_option("#filter-family", "")
            assert _visible_tasks(page) == ["qa-zh"]
            rows = _rows(page)
            assert {r["model"] for r in rows} == {"alpha", "beta-7b", "模型-中"}
            assert [r["pos"] for r in rows] == ["1", "2", "3"]

            page.select_option("#filter-lang", "")
            assert len(_visible_tasks(page)) == len(board.tasks)
            shot = tmp_path / "index.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert dialogs == [] and errors == []
        finally:
            browser.close()
