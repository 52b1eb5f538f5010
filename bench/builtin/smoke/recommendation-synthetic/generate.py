"""Regenerate the ``recommendation-synthetic`` smoke data: ``interactions.csv`` and ``items.csv``.

Run from anywhere (numpy is the only dependency)::

    python bench/builtin/smoke/recommendation-synthetic/generate.py [OUTPUT_DIR]

It writes into this script's folder unless OUTPUT_DIR is given. The output is a pure function
of the seed below: running the script again reproduces the shipped files byte for byte.

The model:

* 500 users and 300 items, each with an 8-dimensional latent vector drawn from N(0, 1/8).
* Item popularity follows Zipf's law: the items are put in a random order and the item at
  popularity rank ``r`` gets the bias ``-0.9 * ln(r)``.
* A user's affinity for an item is ``logit = 5 * <user, item> + bias``. Each user
  interacts with ``15 + floor(105 * v^2)`` items (``v`` uniform in [0, 1), so 15 to 119
  items, most users light), drawn without repeats from ``softmax(logit)`` by the Gumbel-top-k
  trick (the top-k of ``logit + Gumbel noise`` is a draw of k items without replacement).
* The chosen items are then put in a random order in time, so the last interaction of a user
  is an ordinary draw from the user's taste (not the least liked of the user's items, as the
  order of the sequential draw would make it). Each user starts at a random second of 2021 and
  waits 1 minute to 3 days between interactions: timestamps (Unix seconds, UTC) strictly
  increase per user.
* The rating is ``3 + round(1.2 * z + 0.6 * noise)`` clipped to 1..5, where ``z`` is the
  standardised ``<user, item>`` and the noise standard normal.
* Every item has a distinct English title and a distinct Chinese title, composed from the word
  lists below (``The Silent Harbor`` / ``寂静的港湾``), and one to three genres: the genre of its
  largest latent coordinate plus those of its other coordinates above 0.45, so genres carry the
  item's taste and a content-based model has something to learn.

Ids are zero-padded strings, ``u001``-``u500`` and ``i001``-``i300``, so their string order (the
order bench's baselines break ties in) is their numeric order.

To keep the output identical across machines, every quantity that decides a choice (an item
drawn, a rating) is rounded to a fixed grid before it is compared, so the last-bit differences
of ``exp``/``log`` between CPU instruction sets cannot change a single byte.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

SEED = 20240601
N_USERS = 500
N_ITEMS = 300
DIM = 8
ZIPF_EXPONENT = 0.9
AFFINITY_SCALE = 5.0
MIN_ITEMS = 15
EXTRA_ITEMS = 105
START = 1609459200  # 2021-01-01T00:00:00Z
YEAR = 365 * 86400
MIN_GAP, MAX_GAP = 60, 3 * 86400
GRID = 1_000_000  # decisions are taken on values rounded to 1e-6

ADJECTIVES = [
    ("Silent", "寂静"),
    ("Golden", "金色"),
    ("Lost", "失落"),
    ("Hidden", "隐秘"),
    ("Last", "最后"),
    ("Distant", "遥远"),
    ("Broken", "破碎"),
    ("Bright", "明亮"),
    ("Wild", "狂野"),
    ("Endless", "无尽"),
    ("Forgotten", "被遗忘"),
    ("Crimson", "深红"),
    ("Frozen", "冰封"),
    ("Gentle", "温柔"),
    ("Burning", "燃烧"),
    ("Little", "小小"),
    ("Midnight", "午夜"),
    ("Eternal", "永恒"),
    ("Restless", "不安"),
    ("Wandering", "流浪"),
]
NOUNS = [
    ("Harbor", "港湾"),
    ("River", "河流"),
    ("Garden", "花园"),
    ("Mountain", "山峰"),
    ("Letter", "信"),
    ("Journey", "旅程"),
    ("City", "城市"),
    ("Night", "夜晚"),
    ("Promise", "承诺"),
    ("Secret", "秘密"),
    ("Road", "道路"),
    ("Island", "岛屿"),
    ("Star", "星辰"),
    ("Winter", "冬天"),
    ("Summer", "夏天"),
    ("Dream", "梦"),
    ("Song", "歌"),
    ("House", "房子"),
    ("Forest", "森林"),
    ("Bridge", "桥"),
]
# One genre per latent dimension.
GENRES = ["Drama", "Comedy", "Romance", "Thriller", "Action", "Documentary", "Animation", "Sci-Fi"]
GENRE_THRESHOLD = 0.45


def _grid(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to the decision grid, as integers."""
    return np.rint(x * GRID).astype(np.int64)


def generate() -> tuple[list[list[str]], list[list[str]]]:
    """The rows of ``interactions.csv`` and ``items.csv`` (headers included)."""
    rng = np.random.default_rng(SEED)
    users = rng.standard_normal((N_USERS, DIM)) / np.sqrt(DIM)
    items = rng.standard_normal((N_ITEMS, DIM)) / np.sqrt(DIM)
    popularity_rank = rng.permutation(N_ITEMS) + 1
    bias = -ZIPF_EXPONENT * np.log(popularity_rank)
    # Elementwise products summed over the (short) last axis: no BLAS, so no
    # machine-dependent summation order.
    affinity = (users[:, None, :] * items[None, :, :]).sum(axis=2)
    logits = AFFINITY_SCALE * affinity + bias
    z = (affinity - affinity.mean()) / affinity.std()

    sizes = MIN_ITEMS + np.floor(EXTRA_ITEMS * rng.random(N_USERS) ** 2).astype(np.int64)
    interactions = [["user_id", "item_id", "timestamp", "rating"]]
    for u in range(N_USERS):
        gumbel = -np.log(-np.log(rng.random(N_ITEMS)))
        keys = _grid(logits[u] + gumbel)
        chosen = np.argsort(-keys, kind="stable")[: sizes[u]]
        chosen = chosen[rng.permutation(len(chosen))]  # time order, independent of taste
        start = START + int(rng.integers(0, YEAR))
        gaps = rng.integers(MIN_GAP, MAX_GAP + 1, size=len(chosen))
        times = start + np.cumsum(gaps) - gaps[0]
        noise = rng.standard_normal(len(chosen))
        raw = _grid(1.2 * z[u, chosen] + 0.6 * noise)
        ratings = np.clip(3 + (raw + GRID // 2) // GRID, 1, 5)  # round half up on the grid
        for item, t, r in zip(chosen, times, ratings, strict=True):
            interactions.append([f"u{u + 1:03d}", f"i{item + 1:03d}", str(int(t)), str(int(r))])

    pairs = [(a, n) for a in range(len(ADJECTIVES)) for n in range(len(NOUNS))]
    picked = rng.choice(len(pairs), size=N_ITEMS, replace=False)
    item_rows = [["item_id", "title", "title_zh", "genres"]]
    for i in range(N_ITEMS):
        a, n = pairs[picked[i]]
        title = f"The {ADJECTIVES[a][0]} {NOUNS[n][0]}"
        title_zh = f"{ADJECTIVES[a][1]}的{NOUNS[n][1]}"
        coords = _grid(items[i])
        by_strength = [int(d) for d in np.argsort(-coords, kind="stable")]
        strong = [d for d in by_strength if coords[d] > GENRE_THRESHOLD * GRID]
        dims = sorted(strong[:3] or by_strength[:1])
        genres = "|".join(GENRES[d] for d in dims)
        item_rows.append([f"i{i + 1:03d}", title, title_zh, genres])
    return interactions, item_rows


def write(folder: Path) -> None:
    """Write ``interactions.csv`` and ``items.csv`` (UTF-8, ``\\n`` line ends) into ``folder``."""
    interactions, items = generate()
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("interactions.csv", interactions), ("items.csv", items)):
        with (folder / name).open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
