"""Samples for the recommendation catalog: interaction logs and item tables in each release's
own file layout (GroupLens CSVs with headers, the Amazon Reviews 2023 rating-only benchmark
file, Yelp's one-object-per-line JSON).

Tasks with sampled candidates draw 100 negatives per user, so their catalogues hold more than
100 items beyond any user's own (the item table counts towards the catalogue).
"""

from __future__ import annotations

import csv
import io
import json
from itertools import product

from tests.conformance.samples import FilesSample

_ADJ = ["Silent", "Crimson", "Broken", "Golden", "Hidden", "Last", "Frozen", "Wild", "Distant",
        "Burning", "Velvet", "Hollow", "Midnight"]  # fmt: skip
_NOUN = ["Harbor", "Orchard", "Signal", "Kingdom", "Lantern", "River", "Garden", "Machine",
         "Summer", "Witness"]  # fmt: skip
_GENRES = ["Drama", "Comedy", "Thriller", "Sci-Fi", "Romance", "Animation|Children", "Crime",
           "Documentary", "Horror", "Adventure|Fantasy"]  # fmt: skip

# 130 invented titles: "The Silent Harbor", ...
_TITLES = [f"The {a} {n}" for a, n in product(_ADJ, _NOUN)]


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _movies() -> str:
    """A GroupLens movies.csv: movieId,title,genres (titles with a year; some quoted)."""
    rows: list[list[object]] = []
    for i, title in enumerate(_TITLES, start=1):
        name = f"{title}, Part {i % 3 + 1}" if i % 11 == 0 else title  # a comma: quoted
        rows.append([i, f"{name} ({1970 + i % 50})", _GENRES[i % len(_GENRES)]])
    return _csv(["movieId", "title", "genres"], rows)


# (userId, [(movieId, rating), ...]) oldest first; timestamps are seconds, a day apart.
_VIEWERS = [
    (1, [(3, 4.0), (17, 3.5), (42, 5.0), (8, 4.5), (99, 4.0)]),
    (2, [(12, 2.0), (3, 4.0), (77, 3.0), (120, 5.0)]),
    (3, [(5, 5.0), (64, 4.5), (31, 3.0)]),
    (4, [(88, 1.5), (101, 4.0), (17, 4.0), (55, 3.5), (2, 5.0), (130, 4.5)]),
    (5, [(40, 3.0), (9, 4.0)]),
]


def _movielens_ratings() -> str:
    """A GroupLens ratings.csv (userId,movieId,rating,timestamp), sorted by user then movie as
    GroupLens sorts it, so the file order is not the time order."""
    rows: list[list[object]] = []
    for user, seen in _VIEWERS:
        for day, (movie, rating) in enumerate(seen):
            rows.append([user, movie, rating, 1_420_070_400 + 86_400 * (day * 7 + user)])
    rows.sort(key=lambda r: (r[0], r[1]))
    return _csv(["userId", "movieId", "rating", "timestamp"], rows)


def _movielens() -> FilesSample:
    return FilesSample(
        files={"ratings.csv": _movielens_ratings(), "movies.csv": _movies()},
        model="baseline:most-popular",
        n_test=len(_VIEWERS),
    )


def _asin(i: int) -> str:
    return f"B0{i:08d}"[:10]


def _amazon() -> FilesSample:
    """5core/rating_only/Video_Games.csv: user_id,parent_asin,rating,timestamp (ms); each
    user's reviews in time order, as the publisher writes them."""
    users = ["AGKASBHYZPGTEPO6LWZPVJWB2BVA", "AHQM576POEVX4CX32CAHXP6W5FTA",
             "AG5NWLRXCIF27NJEUGBI2J6LEPIQ", "AEBDAWIHYMSYGWPGYUCDP3K3BROQ",
             "AFXF3EGQTQDXMRLDWFU7UBFQZB7Q"]  # fmt: skip
    rows: list[list[object]] = []
    for u, user in enumerate(users):
        for k in range(28):  # 28 items each, 140 in all: over 100 left to sample from
            item = _asin(1000 + u * 28 + k)
            rating = float(1 + (u + k) % 5)
            rows.append([user, item, rating, 1_452_647_382_000 + u * 1_000 + k * 3_600_000])
    return FilesSample(
        files={
            "5core/rating_only/Video_Games.csv": _csv(
                ["user_id", "parent_asin", "rating", "timestamp"], rows
            )
        },
        model="baseline:most-popular",
        n_test=len(users),
    )


_CITIES = ["Philadelphia", "Tampa", "Tucson", "Nashville", "Reno", "Boise"]
_KINDS = ["Restaurants, Pizza", "Coffee & Tea, Cafes", "Nightlife, Bars", None,
          "Beauty & Spas, Nail Salons", "Restaurants, Mexican", "Books, Mags"]  # fmt: skip


def _business_id(i: int) -> str:
    return f"bz{i:04d}Xq7hLm2Pw9sKdT0"[:22]


def _yelp() -> FilesSample:
    """yelp_academic_dataset_business.json and _review.json: one JSON object per line."""
    businesses = []
    for i, title in enumerate(_TITLES[:115]):
        businesses.append(
            {
                "business_id": _business_id(i),
                "name": title.replace("The ", "") + (" Diner" if i % 2 else " Studio"),
                "address": f"{100 + i} Market St",
                "city": _CITIES[i % len(_CITIES)],
                "state": "PA",
                "postal_code": f"19{i:03d}",
                "latitude": 39.95 + i / 1000,
                "longitude": -75.16 - i / 1000,
                "stars": 3.5 + (i % 3) / 2,
                "review_count": 5 + i,
                "is_open": i % 4 != 0,
                "attributes": None if i % 5 == 0 else {"WiFi": "u'free'", "OutdoorSeating": "True"},
                "categories": _KINDS[i % len(_KINDS)],
                "hours": None if i % 6 == 0 else {"Monday": "8:0-18:0", "Tuesday": "8:0-18:0"},
            }
        )
    people = [
        ("mh_-eMZ6K5RLWhZyISBhwA", [3, 17, 42, 8]),
        ("OyoGAe7OKpv6SyGZT5g77Q", [12, 3, 77]),
        ("8g_iMtfSiwikVnbP2etR0A", [5, 64, 31, 90, 7]),
        ("_7bHUi9Uuf5__HHc_Q8guQ", [88, 101]),
    ]
    texts = ["Friendly staff and quick service.", "Would come back for the coffee alone.",
             "Too loud on a Friday night.", "Great value, small portions.",
             "The best slice in the neighborhood."]  # fmt: skip
    reviews = []
    n = 0
    for p, (user, visits) in enumerate(people):
        for day, b in enumerate(visits):
            n += 1
            reviews.append(
                {
                    "review_id": f"rv{n:04d}KbLq2Zx8WmPd0a"[:22],
                    "user_id": user,
                    "business_id": _business_id(b),
                    "stars": float(1 + (b + p) % 5),
                    "useful": day % 3,
                    "funny": 0,
                    "cool": day % 2,
                    "text": texts[(b + day) % len(texts)],
                    "date": f"2018-{1 + day * 2:02d}-{10 + p:02d} {9 + p}:{15 + day:02d}:11",
                }
            )
    lines = "".join(json.dumps(r) + "\n" for r in reversed(reviews))  # not in time order
    return FilesSample(
        files={
            "yelp_academic_dataset_review.json": lines,
            "yelp_academic_dataset_business.json": "".join(
                json.dumps(b) + "\n" for b in businesses
            ),
        },
        model="baseline:most-popular",
        n_test=len(people),
    )


SAMPLES = {
    "movielens-20m": _movielens(),
    "movielens-25m": _movielens(),
    "movielens-latest-small": _movielens(),
    "amazon-reviews-2023-video-games": _amazon(),
    "yelp": _yelp(),
}
