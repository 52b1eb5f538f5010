"""Leaderboards built from run records alone: tables (pandas) and their renderings."""

from bench.leaderboard.build import Leaderboard, build_leaderboard
from bench.leaderboard.render import write_leaderboard

__all__ = ["Leaderboard", "build_leaderboard", "write_leaderboard"]
