"""Samples for tasks of the first catalog (also loaded from real data elsewhere): one per kind
of layout, so the sample machinery itself is checked on tasks whose loading is known to work."""

from __future__ import annotations

from tests.conformance.samples import FilesSample, HubSample, SacrebleuSample

_HELD_OUT = [
    ("a quiet , beautiful film about grief .", 1),
    ("nothing works here : not the jokes , not the story .", 0),
    ("sharp writing and a great cast .", 1),
]
_REVIEWS = [
    ("a moving , funny and tender film .", 1),
    ("the plot is a mess and the acting is worse .", 0),
    ("one of the best films of the year .", 1),
    ("dull , lifeless and far too long .", 0),
    ("a charming , warm story told with care .", 1),
    ("i wanted my two hours back .", 0),
]


def _xml(src: list[str], ref: list[str], sl: str, tl: str) -> str:
    from html import escape

    segs = "".join(f'<seg id="{i + 1}">{escape(s)}</seg>' for i, s in enumerate(src))
    refs = "".join(f'<seg id="{i + 1}">{escape(s)}</seg>' for i, s in enumerate(ref))
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<dataset id="newstest2021"><collection '
        f'id="general"><doc id="d1" origlang="{sl}"><src lang="{sl}"><p>{segs}</p></src>'
        f'<ref lang="{tl}" translator="A"><p>{refs}</p></ref></doc></collection></dataset>'
    )


SAMPLES = {
    # stanfordnlp/sst2: columns idx (int32), sentence (string), label (ClassLabel as int64).
    "sst2": HubSample(
        splits={
            "train": [{"idx": i, "sentence": t, "label": y} for i, (t, y) in enumerate(_REVIEWS)],
            "validation": [
                {"idx": i, "sentence": t, "label": y} for i, (t, y) in enumerate(_HELD_OUT)
            ],
        },
        schema={"idx": "int32"},
        model="baseline:tfidf-logreg",
        n_test=3,
    ),
    # aclImdb_v1: {train,test}/{pos,neg}/<id>_<rating>.txt
    "imdb": FilesSample(
        files={
            **{
                f"{split}/{'pos' if y else 'neg'}/{i}_{8 if y else 2}.txt": t
                for split, reviews in (("train", _REVIEWS), ("test", _HELD_OUT))
                for i, (t, y) in enumerate(reviews)
            },
        },
        model="baseline:majority",
        n_test=3,
    ),
    # sacrebleu's cache: wmt21/raw/test/newstest2021.zh-en.xml as the WMT21 archive holds it.
    "wmt21-zh-en": SacrebleuSample(
        files={
            "wmt21/raw/test/newstest2021.zh-en.xml": _xml(
                ["今天天气很好。", "我们明天见。", "这本书很有意思。"],
                ["The weather is nice today.", "See you tomorrow.", "This book is interesting."],
                "zh",
                "en",
            )
        },
        model="baseline:copy",
        n_test=3,
    ),
}
