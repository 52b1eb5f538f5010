"""Samples for the extractive-QA tasks: XQuAD, MLQA, DuReader-robust and the MRQA 2019 subsets.

Rows are written for these tests, in each source's real layout: the SQuAD-style ``answers``
struct of google/xquad and google/xtreme (``{"text": [...], "answer_start": [...]}``), the
MRQA copies' ``answers`` list with ``key`` and ``labels`` (character spans), and DuReader-robust's
SQuAD-format train.json / dev.json.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conformance.samples import FilesSample, HubSample

_ANSWERS = "struct<text: list<string>, answer_start: list<int32>>"


def _squad_row(i: str, context: str, question: str, answer: str, **extra: Any) -> dict[str, Any]:
    start = context.index(answer)
    return {
        "id": i,
        **extra,
        "context": context,
        "question": question,
        "answers": {"text": [answer], "answer_start": [start]},
    }


_XQUAD_EN = [
    (
        "The Amazon River flows through Brazil, Peru and Colombia. It carries more water than "
        "any other river in the world.",
        [
            ("Which countries does the Amazon flow through?", "Brazil, Peru and Colombia"),
            ("What does the Amazon carry more of than any other river?", "water"),
        ],
    ),
    (
        "The printing press was developed by Johannes Gutenberg around 1440 in Mainz. It made "
        "books far cheaper to produce.",
        [
            ("Who developed the printing press?", "Johannes Gutenberg"),
            ("In which city was the printing press developed?", "Mainz"),
        ],
    ),
]

_XQUAD_ZH = [
    (
        "长江是中国最长的河流，全长约六千三百公里，流经十一个省级行政区，最后注入东海。",
        [("长江最后注入哪里？", "东海"), ("长江全长大约多少？", "六千三百公里")],
    ),
    (
        "活字印刷术由北宋的毕昇发明，他使用胶泥制成单个字模，排版后进行印刷。",
        [("活字印刷术是谁发明的？", "毕昇"), ("毕昇用什么材料制作字模？", "胶泥")],
    ),
]


def _rows(paragraphs: list[tuple[str, list[tuple[str, str]]]], prefix: str, **extra: Any) -> list:
    return [
        _squad_row(f"{prefix}{p}{q}", context, question, answer, **extra)
        for p, (context, qas) in enumerate(paragraphs)
        for q, (question, answer) in enumerate(qas)
    ]


_MLQA_EN_TEST = [
    (
        "Mount Kilimanjaro is a dormant volcano in Tanzania. Its highest peak, Uhuru, rises "
        "5,895 metres above sea level.",
        [
            ("In which country is Mount Kilimanjaro?", "Tanzania"),
            ("What is the name of its highest peak?", "Uhuru"),
        ],
    ),
    (
        "The Rosetta Stone was found in 1799 by French soldiers in the Nile Delta. It is now "
        "kept in the British Museum.",
        [
            ("When was the Rosetta Stone found?", "1799"),
            ("Where is the Rosetta Stone kept today?", "the British Museum"),
        ],
    ),
]
_MLQA_EN_DEV = [
    (
        "Penicillin was discovered by Alexander Fleming in 1928 at St Mary's Hospital in London.",
        [("Who discovered penicillin?", "Alexander Fleming")],
    ),
    (
        "The Great Barrier Reef lies off the coast of Queensland and is the largest coral reef "
        "system on Earth.",
        [("Off which coast does the Great Barrier Reef lie?", "Queensland")],
    ),
]
_MLQA_ZH_TEST = [
    (
        "敦煌莫高窟位于甘肃省敦煌市，始建于十六国时期，现存洞窟七百余个。",
        [("莫高窟位于哪个省？", "甘肃省"), ("莫高窟始建于什么时期？", "十六国时期")],
    ),
    (
        "都江堰是战国时期秦国蜀郡太守李冰主持修建的大型水利工程，至今仍在使用。",
        [("都江堰由谁主持修建？", "李冰"), ("都江堰属于哪一类工程？", "水利工程")],
    ),
]
_MLQA_ZH_DEV = [
    ("黄山位于安徽省南部，以奇松、怪石、云海和温泉闻名。", [("黄山位于哪个省？", "安徽省")]),
    ("《红楼梦》是清代作家曹雪芹创作的长篇小说。", [("《红楼梦》的作者是谁？", "曹雪芹")]),
]


def _dureader_file(paragraphs: list[tuple[str, str, list[tuple[str, str]]]], prefix: str) -> str:
    data = [
        {
            "title": title,
            "paragraphs": [
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"{prefix}{p}{q}",
                            "question": question,
                            "answers": [{"text": answer, "answer_start": context.index(answer)}],
                        }
                        for q, (question, answer) in enumerate(qas)
                    ],
                }
            ],
        }
        for p, (title, context, qas) in enumerate(paragraphs)
    ]
    return json.dumps({"data": data}, ensure_ascii=False)


_DUREADER_TRAIN = [
    (
        "",
        "迈克尔·乔丹在NBA一共打了15个赛季，期间两次退役又两次复出。",
        [("乔丹在NBA打了几个赛季", "15个赛季")],
    ),
    ("", "番茄原产于南美洲，明代传入中国，最初被当作观赏植物。", [("番茄原产于哪里", "南美洲")]),
]
_DUREADER_DEV = [
    (
        "",
        "成年人每天建议饮水约1500毫升到1700毫升，运动量大时应适当增加。",
        [("成年人每天喝多少水合适", "1500毫升到1700毫升")],
    ),
    (
        "",
        "高铁二等座可以免费携带20千克行李，儿童可携带10千克。",
        [("高铁二等座可以带多少行李", "20千克"), ("儿童乘坐高铁可以带多少行李", "10千克")],
    ),
    (
        "",
        "珠穆朗玛峰最新测定的高程为8848.86米，于2020年公布。",
        [("珠穆朗玛峰有多高", "8848.86米")],
    ),
]


def _mrqa_row(key: str, context: str, question: str, answer: str) -> dict[str, Any]:
    start = context.index(answer)
    return {
        "context": context,
        "question": question,
        "answers": [answer],
        "key": key,
        "labels": [{"end": [start + len(answer) - 1], "start": [start]}],
    }


_MRQA: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "newsqa": {
        "train": [
            (
                "MIAMI, Florida (CNN) -- A tropical storm dropped heavy rain on southern "
                "Florida on Tuesday, closing schools in three counties.",
                "How many counties closed schools?",
                "three",
            ),
            (
                "LONDON, England (CNN) -- The museum reopened on Monday after a two-year "
                "renovation that cost 40 million pounds.",
                "How long did the renovation take?",
                "two-year",
            ),
        ],
        "validation": [
            (
                "BEIJING, China (CNN) -- Officials said the new rail line will link the capital "
                "with Shanghai in under five hours.",
                "Which cities will the rail line link?",
                "the capital with Shanghai",
            ),
            (
                "PARIS, France (CNN) -- Striking workers blocked the port of Marseille for a third "
                "day, halting ferry services to Corsica.",
                "Which ferry services were halted?",
                "ferry services to Corsica",
            ),
            (
                "NAIROBI, Kenya (CNN) -- A drought has left an estimated 2 million people in "
                "need of food aid, the United Nations said.",
                "How many people need food aid?",
                "2 million people",
            ),
        ],
    },
    "triviaqa": {
        "train": [
            (
                "[DOC] [TLE] Mercury (planet) [PAR] Mercury is the smallest planet in the Solar "
                "System and the closest to the Sun.",
                "Which planet is closest to the Sun?",
                "Mercury",
            ),
            (
                "[DOC] [TLE] Hamlet [PAR] Hamlet is a tragedy written by William Shakespeare, set "
                "in Denmark.",
                "In which country is Shakespeare's Hamlet set?",
                "Denmark",
            ),
        ],
        "validation": [
            (
                "[DOC] [TLE] Mona Lisa [PAR] The Mona Lisa is a portrait by Leonardo da Vinci that "
                "hangs in the Louvre in Paris.",
                "Who painted the Mona Lisa?",
                "Leonardo da Vinci",
            ),
            (
                "[DOC] [TLE] Kangaroo [PAR] The kangaroo is a marsupial found only in Australia "
                "and nearby islands.",
                "On which continent are kangaroos found in the wild?",
                "Australia",
            ),
            (
                "[DOC] [TLE] Gold [PAR] Gold is a chemical element with the symbol Au and atomic "
                "number 79.",
                "What is the atomic number of gold?",
                "79",
            ),
        ],
    },
    "searchqa": {
        "train": [
            (
                "[DOC] [TLE] Volcano facts [PAR] Mount Vesuvius destroyed Pompeii in 79 AD. [DOC] "
                "[TLE] Pompeii [PAR] The Roman city was buried under ash.",
                "THIS VOLCANO BURIED POMPEII IN 79 A.D.",
                "Vesuvius",
            ),
            (
                "[DOC] [TLE] Composers [PAR] Ludwig van Beethoven wrote nine symphonies, the last "
                "with a choral finale.",
                "HE COMPOSED NINE SYMPHONIES, THE LAST WITH A CHORAL FINALE",
                "Beethoven",
            ),
        ],
        "validation": [
            (
                "[DOC] [TLE] Rivers of Egypt [PAR] The Nile flows north through Egypt into the "
                "Mediterranean Sea.",
                "THIS RIVER FLOWS NORTH THROUGH EGYPT",
                "Nile",
            ),
            (
                "[DOC] [TLE] Inventors [PAR] Alexander Graham Bell was awarded the first US patent "
                "for the telephone in 1876.",
                "IN 1876 HE GOT A PATENT FOR THE TELEPHONE",
                "Alexander Graham Bell",
            ),
            (
                "[DOC] [TLE] Presidents [PAR] Abraham Lincoln delivered the Gettysburg Address in "
                "November 1863.",
                "HE GAVE THE GETTYSBURG ADDRESS",
                "Abraham Lincoln",
            ),
        ],
    },
    "hotpotqa": {
        "train": [
            (
                "[PAR] [TLE] Arthur's Magazine [SEP] Arthur's Magazine was an American literary "
                "periodical first published in 1844. [PAR] [TLE] First for Women [SEP] First for "
                "Women is a woman's magazine started in 1989.",
                "Which magazine was started first, Arthur's Magazine or First for Women?",
                "Arthur's Magazine",
            ),
            (
                "[PAR] [TLE] Oberoi family [SEP] The Oberoi family is an Indian family famous for "
                "its hotels. [PAR] [TLE] The Oberoi Group [SEP] The Oberoi Group is a hotel "
                "company with its head office in Delhi.",
                "In which city is the head office of the Oberoi family's hotel company?",
                "Delhi",
            ),
        ],
        "validation": [
            (
                "[PAR] [TLE] Ed Wood (film) [SEP] Ed Wood is a 1994 film directed by Tim Burton. "
                "[PAR] [TLE] Tim Burton [SEP] Tim Burton is an American film director born in "
                "Burbank, California.",
                "Where was the director of the film Ed Wood born?",
                "Burbank, California",
            ),
            (
                "[PAR] [TLE] Scott Derrickson [SEP] Scott Derrickson is an American director. "
                "[PAR] [TLE] Ed Wood [SEP] Ed Wood was an American filmmaker.",
                "Were Scott Derrickson and Ed Wood of the same nationality?",
                "American",
            ),
            (
                "[PAR] [TLE] Lake Baikal [SEP] Lake Baikal is a rift lake in Siberia. [PAR] [TLE] "
                "Siberia [SEP] Siberia is a region of Russia east of the Ural Mountains.",
                "Which mountains lie west of the region that contains Lake Baikal?",
                "the Ural Mountains",
            ),
        ],
    },
    "naturalquestions": {
        "train": [
            (
                "<P> The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in "
                "Paris , completed in 1889 . </P>",
                "when was the eiffel tower finished",
                "1889",
            ),
            (
                "<P> The human heart has four chambers : two atria and two ventricles . </P>",
                "how many chambers does the human heart have",
                "four",
            ),
        ],
        "validation": [
            (
                "<P> The Pacific Ocean is the largest and deepest of Earth 's five oceanic "
                "divisions . </P>",
                "what is the largest ocean on earth",
                "The Pacific Ocean",
            ),
            (
                "<P> Harry Potter and the Philosopher 's Stone was first published in 1997 by "
                "Bloomsbury . </P>",
                "who published the first harry potter book",
                "Bloomsbury",
            ),
            (
                "<P> The speed of light in vacuum is 299,792,458 metres per second . </P>",
                "what is the speed of light in metres per second",
                "299,792,458",
            ),
        ],
    },
}


def _mrqa_sample(subset: str) -> HubSample:
    splits = {
        split: [
            _mrqa_row(f"{subset}-{split}-{i:03d}", context, question, answer)
            for i, (context, question, answer) in enumerate(rows)
        ]
        for split, rows in _MRQA[subset].items()
    }
    return HubSample(
        splits=splits,
        model="baseline:sliding-window",
        n_test=len(splits["validation"]),
    )


SAMPLES = {
    # google/xquad, configs xquad.en / xquad.zh: one validation split; id, context, question,
    # answers {text, answer_start}.
    "xquad-en": HubSample(
        splits={"validation": _rows(_XQUAD_EN, "xq-en-")},
        schema={"answers": _ANSWERS},
        model="baseline:sliding-window",
        n_test=4,
    ),
    "xquad-zh": HubSample(
        splits={"validation": _rows(_XQUAD_ZH, "xq-zh-")},
        schema={"answers": _ANSWERS},
        model="baseline:sliding-window",
        n_test=4,
    ),
    # google/xtreme, configs MLQA.en.en / MLQA.zh.zh: test and validation; id, title, context,
    # question, answers.
    "mlqa-en": HubSample(
        splits={
            "test": _rows(_MLQA_EN_TEST, "mlqa-en-t", title="Geography"),
            "validation": _rows(_MLQA_EN_DEV, "mlqa-en-d", title="Science"),
        },
        schema={"answers": _ANSWERS},
        model="baseline:sliding-window",
        n_test=4,
    ),
    "mlqa-zh": HubSample(
        splits={
            "test": _rows(_MLQA_ZH_TEST, "mlqa-zh-t", title="古迹"),
            "validation": _rows(_MLQA_ZH_DEV, "mlqa-zh-d", title="文化"),
        },
        schema={"answers": _ANSWERS},
        model="baseline:sliding-window",
        n_test=4,
    ),
    # dureader_robust-data/{train,dev}.json, SQuAD format.
    "dureader-robust": FilesSample(
        files={
            "train.json": _dureader_file(_DUREADER_TRAIN, "tr"),
            "dev.json": _dureader_file(_DUREADER_DEV, "dv"),
        },
        model="baseline:sliding-window",
        n_test=4,
    ),
    # lucadiliello/<subset>: data/{train,validation}-*.parquet; context, question,
    # answers (list of strings), key, labels (list of {start, end} character spans).
    **{f"mrqa-{subset}": _mrqa_sample(subset) for subset in _MRQA},
}
