"""One ranking rule everywhere (competition ranking, ``1, 1, 3``), and a main table that ranks
only models that have the same tasks (issue 19, items 8 and 9)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.leaderboard import build_leaderboard, document
from bench.leaderboard.html import render_html
from bench.leaderboard.ranking import competition_ranks
from bench.leaderboard.render import render_csv, render_latex, render_markdown
from bench.records import RunRecord, load_records

GOLDEN = Path(__file__).parents[1] / "golden" / "leaderboard" / "records"


@given(st.lists(st.integers(min_value=0, max_value=5), max_size=30))
def test_competition_ranks_are_one_plus_the_number_strictly_better(keys: list[int]) -> None:
    ranks = competition_ranks(keys)
    assert ranks == [1 + sum(k < key for k in keys) for key in keys]


def test_competition_ranks_examples() -> None:
    assert competition_ranks([0.5, 0.5, 0.7]) == [1, 1, 3]
    assert competition_ranks([]) == []
    assert competition_ranks([(1, 2.0), (0, 9.0), (1, 2.0), (1, 3.0)]) == [2, 1, 2, 4]


def _with_value(rec: RunRecord, value: float) -> RunRecord:
    metric = rec.metrics[rec.primary_metric].model_copy(update={"value": value})
    return rec.model_copy(update={"metrics": {**rec.metrics, rec.primary_metric: metric}})


def _tied_board():  # type: ignore[no-untyped-def]
    """Sentiment-en only: alpha and beta-7b with the same accuracy, three others below."""
    records = [r for r in load_records(GOLDEN) if r.task.name == "sentiment-en"]
    alpha = next(r for r in records if r.model.name == "alpha")
    value = alpha.metrics["accuracy"].value
    records = [_with_value(r, value) if r.model.name == "beta-7b" else r for r in records]
    return build_leaderboard(records)


def test_a_tie_has_one_rank_in_every_table_and_format() -> None:
    board = _tied_board()
    ranks = dict(zip(board.main.index, board.main["rank"], strict=True))
    assert ranks["alpha"] == ranks["beta-7b"] == 1
    assert sorted(ranks.values()) == [1, 1, 3, 4, 5]
    prim = board.long[board.long["primary"]].set_index("model")["rank"].to_dict()
    assert prim["alpha"] == prim["beta-7b"] == 1 and sorted(prim.values()) == [1, 1, 3, 4, 5]

    # Markdown: the main table and the per-task table say 1, 1, 3.
    md = render_markdown(board)
    main_rows = md[md.index("| # |") :].split("\n\n")[0].splitlines()
    assert [line.split("|")[1].strip() for line in main_rows] == [
        "#",
        "---:",
        "1",
        "1",
        "3",
        "4",
        "5",
    ]
    task_section = md[md.index("## sentiment-en") :]
    task_firsts = [ln.split("|")[1].strip() for ln in task_section.splitlines() if ln[:2] == "| "]
    assert task_firsts[2:7] == ["1", "1", "3", "4", "5"]
    # LaTeX main table: first column.
    tex = render_latex(board)
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert [ln.split(" & ")[0] for ln in body.strip().splitlines()] == ["1", "1", "3", "4", "5"]
    # JSON: rank per model, the same in the main view and in the per-task rows.
    doc = document(board, title="t", command="")
    assert [m.rank for m in doc.models] == [1, 1, 3, 4, 5]
    assert sorted(r.rank for r in doc.rows if r.primary) == [1, 1, 3, 4, 5]
    # CSV: the long rows carry the per-task ranks.
    lines = render_csv(board).splitlines()
    rank_col = lines[0].split(",").index("rank")
    prim_col = lines[0].split(",").index("primary")
    got = sorted(
        int(ln.split(",")[rank_col]) for ln in lines[1:] if ln.split(",")[prim_col] == "True"
    )
    assert got == [1, 1, 3, 4, 5]
    # HTML: the main table's # cells and the per-task rank cells.
    html = render_html(board)
    main = html[html.index('<table id="leaderboard">') : html.index("</table>")]
    assert re.findall(r'<td class="num pos"[^>]*>([^<]*)</td>', main) == ["1", "1", "3", "4", "5"]
    detail = html[html.index('<table class="detail">') :]
    detail = detail[: detail.index("</table>")]
    assert re.findall(r'<tr>\n<td class="num">(\d+)</td>', detail) == ["1", "1", "3", "4", "5"]


def test_only_models_with_every_task_are_ranked() -> None:
    board = build_leaderboard(GOLDEN)
    main = board.main
    # alpha alone has all four tasks; beta-7b (best mean over its three) is not ranked above it.
    assert next(iter(main.index)) == "alpha" and main.at["alpha", "rank"] == 1
    unranked = [m for m in main.index if m != "alpha"]
    assert main.loc[unranked, "rank"].isna().all()
    assert main.at["beta-7b", "covers"] == "qa, sentiment, translation"
    # listed by how much they have, most first
    assert list(main.loc[unranked, "tasks"]) == sorted(main.loc[unranked, "tasks"], reverse=True)

    md = render_markdown(board)
    assert "Ranked: the 1 model that has all 4 tasks. The other 4 are listed below" in md
    beta = next(ln for ln in md.splitlines() if ln.startswith("| — | beta-7b |"))
    assert beta.endswith("| 3/4 (qa, sentiment, translation) | — | — |")

    doc = document(board, title="t", command="")
    assert [(m.model, m.rank) for m in doc.models][:2] == [("alpha", 1), ("beta-7b", None)]
    assert doc.models[1].covers == "qa, sentiment, translation"
    # A family view ranks every model that has all of the family's tasks.
    sentiment = next(v for v in doc.views if v.key == "sentiment")
    assert [m.rank for m in sentiment.models] == [1, 2, 3, 4, 5]

    html = render_html(board)
    start = html.index('id="views-data">') + len('id="views-data">')
    views = json.loads(html[start : html.index("</script>", start)])
    assert views["|"]["models"]["alpha"][1] == "1"
    assert views["|"]["models"]["beta-7b"][1:4] == ["—", "3/4", "—"]
    assert views["|"]["models"]["beta-7b"][6] == "qa, sentiment, translation"
    assert 'title="qa, sentiment, translation">3/4</td>' in html
    assert views["sentiment|"]["models"]["beta-7b"][1] == "1"
    assert 'class="unranked"' in html


def test_no_model_with_every_task_ranks_none_and_points_at_the_families() -> None:
    records = [r for r in load_records(GOLDEN) if r.model.name != "alpha"]
    board = build_leaderboard(records)
    assert board.main["rank"].isna().all()
    md = render_markdown(board)
    assert "No model has all 4 tasks, so none is ranked here" in md
    assert "The family views below rank the models" in md
