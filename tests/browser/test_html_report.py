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
            page.locator("#leaderboard thead th:has(abbr[title='Mean (0–100)']) button").click()
            means = [_number(r["mean"]) for r in _rows(page)]
            ranked = [m for m in means if m is not None]  # unranked models show no mean
            assert ranked == sorted(ranked, reverse=True) and means[: len(ranked)] == ranked

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


SMOKE = Path(__file__).parents[2] / "leaderboards" / "smoke" / "index.html"
EXPECTED = Path(__file__).parent / "expected"

LAYOUT = """() => {
    const table = document.getElementById('leaderboard');
    const box = table.parentElement;
    const head = Array.from(table.tHead.rows[0].cells);
    const right = el => {
        const r = document.createRange();
        r.selectNodeContents(el);
        return r.getBoundingClientRect().right;
    };
    const left = el => {
        const r = document.createRange();
        r.selectNodeContents(el);
        return r.getBoundingClientRect().left;
    };
    const columns = head.map((th, i) => ({
        num: th.classList.contains('num'),
        visible: th.getBoundingClientRect().right <= window.innerWidth,
        head: th.classList.contains('num') ? right(th.querySelector('button')) :
            left(th.querySelector('button')),
        cells: Array.from(table.tBodies[0].rows).filter(r => r.offsetParent !== null)
            .map(r => r.cells[i]).filter(c => c.textContent.trim() !== '')
            .map(c => c.classList.contains('num') ? right(c) : left(c)),
    }));
    return {scroll: box.scrollWidth, client: box.clientWidth, columns: columns,
            sticky: getComputedStyle(table.tBodies[0].rows[0].cells[1]).position};
}"""


@pytest.mark.skipif(not SMOKE.is_file(), reason="no published smoke board")
def test_the_smoke_board_fits_1280_px_with_aligned_headers(tmp_path: Path) -> None:
    """The committed smoke board (13 tasks) at a 1,280 px window: the main table needs no
    horizontal scrolling, every column is on screen, numeric headers are right-aligned over
    their numbers (text ones left-aligned over their text), and the model column is sticky.
    The screenshot beside this test (``expected/smoke-1280.png``) shows what it looks like;
    ``BENCH_UPDATE_GOLDEN=1`` rewrites it."""
    import os

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(SMOKE.as_uri())
            page.wait_for_load_state("load")
            got = page.evaluate(LAYOUT)
            assert got["scroll"] <= got["client"], got["scroll"] - got["client"]
            assert got["sticky"] == "sticky"
            columns = got["columns"]
            assert len(columns) >= 5 + 9 and all(c["visible"] for c in columns)
            for i, col in enumerate(columns):
                assert col["cells"], i
                for edge in col["cells"]:
                    assert abs(edge - col["head"]) <= 1.5, (i, col)
            # Abbreviated headers keep the full name on hover.
            titles = page.evaluate(
                """() => Array.from(document.querySelectorAll('#leaderboard th[data-task]'))
                    .map(h => [h.dataset.task, h.querySelector('abbr').title])"""
            )
            assert all(task == title for task, title in titles)
            shot = tmp_path / "smoke-1280.png"
            page.screenshot(path=str(shot), full_page=False)
            if os.environ.get("BENCH_UPDATE_GOLDEN"):
                EXPECTED.mkdir(exist_ok=True)
                (EXPECTED / "smoke-1280.png").write_bytes(shot.read_bytes())
            expected = (EXPECTED / "smoke-1280.png").read_bytes()
            assert _png_size(expected)[0] == _png_size(shot.read_bytes())[0] == 1280
        finally:
            browser.close()


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_paging_through_the_worst_and_best_examples_of_a_model(
    report: tuple[Path, Any],
) -> None:
    """A task panel's worst/best browser: pages of examples ordered by per-example score."""
    from playwright.sync_api import sync_playwright

    path, _board = report
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            panel = page.locator("section.panel[data-task='sentiment-en'] details.browse")
            panel.locator("summary").click()
            panel.locator(".browse-model").select_option("beta-7b")

            def shown() -> list[tuple[str, float]]:
                got: list[list[Any]] = panel.evaluate(
                    """b => Array.from(b.querySelectorAll('.browse-list table'))
                        .map(t => [t.dataset.id, parseFloat(t.dataset.score)])"""
                )
                return [(str(i), float(v)) for i, v in got]

            seen: list[tuple[str, float]] = []
            for side in ("worst", "best"):
                panel.locator(f".browse-side[data-side='{side}']").click()
                pages: list[tuple[str, float]] = []
                while True:
                    items = shown()
                    assert 0 < len(items) <= 3
                    pages += items
                    if panel.locator(".browse-next").is_disabled():
                        break
                    panel.locator(".browse-next").click()
                scores = [v for _, v in pages]
                assert scores == sorted(scores, reverse=side == "best"), (side, scores)
                assert len(pages) == 12 and len({i for i, _ in pages}) == 12
                assert panel.locator(".browse-page").inner_text() == "Page 4 of 4"
                panel.locator(".browse-prev").click()
                assert panel.locator(".browse-page").inner_text() == "Page 3 of 4"
                seen.append(pages[0])
            # accuracy is 0/1 per example: the worst page shows misses, the best hits
            assert seen[0][1] == 0.0 and seen[1][1] == 1.0
            # the model with markup in its name is shown as text, its examples too
            panel.locator(".browse-model").select_option(SCRIPT)
            assert panel.locator(".browse-list table").count() == 3
            assert errors == []
        finally:
            browser.close()
