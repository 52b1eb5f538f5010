"""Leaderboards built from run records alone: tables (pandas) and their renderings.

``build_leaderboard`` reads records (and the samples beside them, for the tie test);
``write_leaderboard`` writes README.md, leaderboard.csv, leaderboard.json (+ its JSON Schema),
leaderboard.tex and index.html; ``diff_documents`` compares two published versions.
"""

from bench.leaderboard.build import Leaderboard, build_leaderboard
from bench.leaderboard.diff import diff_documents, load_document, render_diff
from bench.leaderboard.render import FORMATS, document, write_leaderboard

__all__ = [
    "FORMATS",
    "Leaderboard",
    "build_leaderboard",
    "diff_documents",
    "document",
    "load_document",
    "render_diff",
    "write_leaderboard",
]
