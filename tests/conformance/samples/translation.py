"""Samples for the translation tasks of the standard catalog.

WMT21+ test sets are sacrebleu's raw XML (one file per language pair: ``<doc>``s holding the
``<src>``, one ``<ref>`` per translator and, in the ``*.all.xml`` releases, ``<hyp>``s); older
WMT and IWSLT test sets are the SGML-like files sacrebleu reads line by line (``<doc ...>`` and
``<seg id=...>`` lines, source and reference in separate files); FLORES-200 is the official
release's folder of one-sentence-per-line files (``dev/<lang>.dev``, ``devtest/<lang>.devtest``).
"""

from __future__ import annotations

from html import escape

from tests.conformance.samples import FilesSample, SacrebleuSample

Pair = tuple[str, str]

_ZH_EN: list[Pair] = [
    (
        "这家餐厅的外卖比平时晚到了半个小时。",
        "The takeaway from this restaurant arrived half an hour later than usual.",
    ),
    (
        "我已经联系客服，他们说会尽快处理退款。",
        "I have contacted customer service and they said they would process the refund soon.",
    ),
    (
        "今年春节期间，高铁客流量创下新高。",
        "High-speed rail passenger numbers hit a record during this year's Spring Festival.",
    ),
    (
        "这款耳机的降噪效果比上一代好很多。",
        "The noise cancelling on these earphones is much better than on the previous model.",
    ),
]
_EN_ZH: list[Pair] = [
    (
        "The museum will reopen to visitors next Monday after renovation.",
        "博物馆翻修后将于下周一重新对游客开放。",
    ),
    (
        "Please check that the order number on the receipt is correct.",
        "请核对收据上的订单号是否正确。",
    ),
    (
        "The city council approved a new plan for cycling lanes.",
        "市议会批准了一项新的自行车道规划。",
    ),
    ("Heavy rain is expected across the region over the weekend.", "预计周末该地区将普降大雨。"),
]
_EN_DE: list[Pair] = [
    (
        "The new bridge will be opened to traffic in the spring.",
        "Die neue Brücke wird im Frühjahr für den Verkehr freigegeben.",
    ),
    (
        "Several trains were cancelled because of the storm.",
        "Wegen des Sturms fielen mehrere Züge aus.",
    ),
    (
        "The company plans to hire two hundred engineers this year.",
        "Das Unternehmen will in diesem Jahr zweihundert Ingenieure einstellen.",
    ),
]
_EN_FR: list[Pair] = [
    (
        "The government announced new measures to support farmers.",
        "Le gouvernement a annoncé de nouvelles mesures pour soutenir les agriculteurs.",
    ),
    ("The match was postponed because of the snow.", "Le match a été reporté à cause de la neige."),
    (
        "Prices in the capital rose by three percent last year.",
        "Les prix dans la capitale ont augmenté de trois pour cent l'an dernier.",
    ),
]
_RO_EN: list[Pair] = [
    (
        "Guvernul a anunțat noi măsuri pentru sprijinirea fermierilor.",
        "The government announced new measures to support farmers.",
    ),
    ("Meciul a fost amânat din cauza zăpezii.", "The match was postponed because of the snow."),
    (
        "Prețurile din capitală au crescut cu trei la sută anul trecut.",
        "Prices in the capital rose by three percent last year.",
    ),
]
_TED_EN_ZH: list[Pair] = [
    ("So today I want to talk to you about curiosity.", "今天我想和大家谈谈好奇心。"),
    ("When I was a child, I wanted to be an astronaut.", "我小时候想成为一名宇航员。"),
    ("And that changed the way I think about cities.", "这改变了我对城市的看法。"),
]
_FLORES_DEV: list[Pair] = [
    ("The park is open every day from sunrise to sunset.", "这个公园每天从日出开放到日落。"),
    ("Many travellers prefer to visit the island in autumn.", "许多旅行者喜欢在秋天游览这座岛屿。"),
]
_FLORES_DEVTEST: list[Pair] = [
    (
        "Scientists say the new species was found in a remote valley.",
        "科学家说，这一新物种是在一个偏远的山谷中发现的。",
    ),
    (
        "The festival attracts thousands of visitors each summer.",
        "这个节日每年夏天都会吸引成千上万的游客。",
    ),
    ("Remember to carry enough water when hiking in the desert.", "在沙漠中徒步时记得带足够的水。"),
]


def _wmt_xml(
    testset: str, pairs: list[Pair], sl: str, tl: str, translators: list[str], domain: bool
) -> str:
    """A WMT21+ ``*.all.xml`` file: one document, a reference per translator, one system."""

    def segs(texts: list[str]) -> str:
        return "".join(f'<seg id="{i + 1}">{escape(t)}</seg>' for i, t in enumerate(texts))

    src = [s for s, _ in pairs]
    refs = "".join(
        f'<ref lang="{tl}" translator="{who}"><p>{segs([t for _, t in pairs])}</p></ref>'
        for who in translators
    )
    hyp = f'<hyp system="baseline" lang="{tl}"><p>{segs(src)}</p></hyp>'
    dom = ' domain="news"' if domain else ""
    return (
        f"<?xml version='1.0' encoding='utf-8'?>\n<dataset id=\"{testset}\">"
        f'<collection id="general"><doc origlang="{sl}" id="news_{sl}_1"{dom}>'
        f'<src lang="{sl}"><p>{segs(src)}</p></src>{refs}{hyp}</doc></collection></dataset>\n'
    )


def _sgm(setid: str, texts: list[str], lang: str, kind: str, origlang: str) -> str:
    """An SGML-like WMT / IWSLT file as sacrebleu reads it: one ``<doc>`` line, ``<seg>`` lines."""
    tag = "srcset" if kind == "src" else "refset"
    lines = [
        f'<{tag} setid="{setid}" srclang="any" trglang="{lang}">',
        f'<doc sysid="{kind}" docid="doc-1" genre="news" origlang="{origlang}">',
        *(f'<seg id="{i + 1}">{escape(t)}</seg>' for i, t in enumerate(texts)),
        "</doc>",
        f"</{tag}>",
    ]
    return "\n".join(lines) + "\n"


def _sgm_pair(root: str, setid: str, pairs: list[Pair], sl: str, tl: str) -> dict[str, str]:
    stem = f"{root}/{setid}-{sl}{tl}"
    return {
        f"{stem}-src.{sl}.sgm": _sgm(setid, [s for s, _ in pairs], sl, "src", sl),
        f"{stem}-ref.{tl}.sgm": _sgm(setid, [t for _, t in pairs], tl, "ref", sl),
    }


def _lines(texts: list[str]) -> str:
    return "".join(f"{t}\n" for t in texts)


def _flores() -> FilesSample:
    """The release folder holds both languages; each task picks its direction."""
    files: dict[str, str | bytes] = {}
    for split, pairs in (("dev", _FLORES_DEV), ("devtest", _FLORES_DEVTEST)):
        en, zh = [e for e, _ in pairs], [z for _, z in pairs]
        files[f"{split}/eng_Latn.{split}"] = _lines(en)
        files[f"{split}/zho_Hans.{split}"] = _lines(zh)
    return FilesSample(files=files, model="baseline:copy", n_test=len(_FLORES_DEVTEST))


_W22 = "wmt22/raw/wmt22-news-systems-1.1/xml"
_W23 = "wmt23/raw/wmt23-news-systems-v.0.1/xml"
_W24 = "wmt24/raw/xml"

SAMPLES = {
    # sacrebleu wmt22: wmt22-news-systems v1.1, xml/wmttest2022.<pair>.all.xml, refs A and B.
    "wmt22-zh-en": SacrebleuSample(
        files={
            f"{_W22}/wmttest2022.zh-en.all.xml": _wmt_xml(
                "wmttest2022", _ZH_EN, "zh", "en", ["A", "B"], domain=True
            )
        },
        model="baseline:copy",
        n_test=len(_ZH_EN),
    ),
    "wmt22-en-zh": SacrebleuSample(
        files={
            f"{_W22}/wmttest2022.en-zh.all.xml": _wmt_xml(
                "wmttest2022", _EN_ZH, "en", "zh", ["A", "B"], domain=True
            )
        },
        model="baseline:copy",
        n_test=len(_EN_ZH),
    ),
    # sacrebleu wmt23: wmt23-news-systems v.0.1, translator refA.
    "wmt23-zh-en": SacrebleuSample(
        files={
            f"{_W23}/wmttest2023.zh-en.all.xml": _wmt_xml(
                "wmttest2023", _ZH_EN[:3], "zh", "en", ["refA"], domain=True
            )
        },
        model="baseline:copy",
        n_test=3,
    ),
    "wmt23-en-zh": SacrebleuSample(
        files={
            f"{_W23}/wmttest2023.en-zh.all.xml": _wmt_xml(
                "wmttest2023", _EN_ZH[:3], "en", "zh", ["refA"], domain=True
            )
        },
        model="baseline:copy",
        n_test=3,
    ),
    # sacrebleu wmt24: data_onlyxml.tar.gz, xml/wmttest2024.<pair>.all.xml.
    "wmt24-en-zh": SacrebleuSample(
        files={
            f"{_W24}/wmttest2024.en-zh.all.xml": _wmt_xml(
                "wmttest2024", _EN_ZH, "en", "zh", ["refA"], domain=True
            )
        },
        model="baseline:copy",
        n_test=len(_EN_ZH),
    ),
    "wmt24-en-de": SacrebleuSample(
        files={
            f"{_W24}/wmttest2024.en-de.all.xml": _wmt_xml(
                "wmttest2024", _EN_DE, "en", "de", ["refA", "refB"], domain=True
            )
        },
        model="baseline:copy",
        n_test=len(_EN_DE),
    ),
    # sacrebleu wmt19: test.tgz, sgm/newstest2019-zhen-{src.zh,ref.en}.sgm.
    "wmt19-zh-en": SacrebleuSample(
        files=_sgm_pair("wmt19/raw/sgm", "newstest2019", _ZH_EN, "zh", "en"),
        model="baseline:copy",
        n_test=len(_ZH_EN),
    ),
    # sacrebleu wmt14/full: test-full.tgz; en-de and en-fr share the deen / fren files.
    "wmt14-en-de": SacrebleuSample(
        files={
            "wmt14/full/raw/test-full/newstest2014-deen-src.en.sgm": _sgm(
                "newstest2014", [s for s, _ in _EN_DE], "en", "src", "en"
            ),
            "wmt14/full/raw/test-full/newstest2014-deen-ref.de.sgm": _sgm(
                "newstest2014", [t for _, t in _EN_DE], "de", "ref", "en"
            ),
        },
        model="baseline:copy",
        n_test=len(_EN_DE),
    ),
    "wmt14-en-fr": SacrebleuSample(
        files={
            "wmt14/full/raw/test-full/newstest2014-fren-src.en.sgm": _sgm(
                "newstest2014", [s for s, _ in _EN_FR], "en", "src", "en"
            ),
            "wmt14/full/raw/test-full/newstest2014-fren-ref.fr.sgm": _sgm(
                "newstest2014", [t for _, t in _EN_FR], "fr", "ref", "en"
            ),
        },
        model="baseline:copy",
        n_test=len(_EN_FR),
    ),
    # sacrebleu wmt16: test.tgz, test/newstest2016-roen-{src.ro,ref.en}.sgm.
    "wmt16-ro-en": SacrebleuSample(
        files=_sgm_pair("wmt16/raw/test", "newstest2016", _RO_EN, "ro", "en"),
        model="baseline:copy",
        n_test=len(_RO_EN),
    ),
    # sacrebleu iwslt17: the en-zh source and the zh-en source (the en-zh reference).
    "iwslt17-en-zh": SacrebleuSample(
        files={
            "iwslt17/raw/en-zh/IWSLT17.TED.tst2017.en-zh.en.xml": _sgm(
                "IWSLT17.TED.tst2017", [s for s, _ in _TED_EN_ZH], "en", "src", "en"
            ),
            "iwslt17/raw/zh-en/IWSLT17.TED.tst2017.zh-en.zh.xml": _sgm(
                "IWSLT17.TED.tst2017", [t for _, t in _TED_EN_ZH], "zh", "src", "zh"
            ),
        },
        model="baseline:copy",
        n_test=len(_TED_EN_ZH),
    ),
    # flores200_dataset/: dev/<lang>.dev and devtest/<lang>.devtest, line-aligned.
    "flores200-en-zh": _flores(),
    "flores200-zh-en": _flores(),
}
