"""Samples for the summarization tasks of the standard catalog: rows laid out as each task's
Hub repository serves them (its splits, column names and value types), written for these tests
(none is copied from the real data sets)."""

from __future__ import annotations

from tests.conformance.samples import HubSample

_LEAD = "baseline:lead-k"


def _samsum(rows: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"id": i, "dialogue": d, "summary": s} for i, d, s in rows]


def _pairs(rows: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"document": d, "summary": s} for d, s in rows]


def _xlsum(prefix: str, rows: list[tuple[str, str, str, str]]) -> list[dict[str, str]]:
    return [
        {"id": i, "url": f"{prefix}{i}", "title": t, "summary": s, "text": x} for i, t, s, x in rows
    ]


def _bills(rows: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"text": x, "summary": s, "title": t} for x, s, t in rows]


SAMPLES = {
    # Samsung/samsum, config samsum: id, dialogue, summary (all strings); turns end in \r\n.
    "samsum": HubSample(
        splits={
            "train": _samsum(
                [
                    (
                        "13728001",
                        "Tom: Are you coming to the gym tonight?\r\nAnna: Can't, I have to "
                        "finish the report.\r\nTom: Tomorrow then?\r\nAnna: Sure, 7 pm.",
                        "Anna can't go to the gym with Tom tonight, they will go tomorrow at 7 pm.",
                    ),
                    (
                        "13728002",
                        "Mia: I left my umbrella at your place.\r\nLeo: I saw it, I'll bring it "
                        "to work on Monday.\r\nMia: Thanks!",
                        "Leo will bring Mia's umbrella to work on Monday.",
                    ),
                ]
            ),
            "validation": _samsum(
                [
                    (
                        "13729101",
                        "Kate: Did you feed the cat?\r\nSam: Yes, twice.\r\nKate: No wonder "
                        "she's asleep.",
                        "Sam fed the cat twice.",
                    )
                ]
            ),
            "test": _samsum(
                [
                    (
                        "13730201",
                        "Olga: The train is delayed by an hour.\r\nPiotr: Again? I'll wait at "
                        "the cafe next to the station.\r\nOlga: OK, see you there.",
                        "Olga's train is an hour late, Piotr will wait for her at the station "
                        "cafe.",
                    ),
                    (
                        "13730202",
                        "Ben: Which pizza do you want?\r\nLucy: Margherita, no olives.\r\nBen: "
                        "Ordering now.\r\nLucy: Great, I'm starving.",
                        "Ben is ordering a margherita pizza without olives for Lucy.",
                    ),
                    (
                        "13730203",
                        "Jake: Can I borrow your drill this weekend?\r\nNina: Sure, but I need "
                        "it back by Sunday evening.\r\nJake: Deal.",
                        "Nina will lend Jake her drill for the weekend, he has to return it by "
                        "Sunday evening.",
                    ),
                ]
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
    # alexfabbri/multi_news: document (articles joined by "|||||"), summary.
    "multi-news": HubSample(
        splits={
            "train": _pairs(
                [
                    (
                        "The city council approved a new bike lane on Main Street on Tuesday.\n"
                        "Work starts in May. ||||| Cyclists welcomed the council's decision to "
                        "build a protected lane on Main Street, which had seen three crashes "
                        "this year.",
                        "The city council has approved a protected bike lane on Main Street, "
                        "with work due to begin in May.",
                    ),
                    (
                        "A storm knocked out power to 20,000 homes overnight. ||||| Utility "
                        "crews expect to restore electricity to most customers by Friday.",
                        "An overnight storm cut power to 20,000 homes; most should have it back "
                        "by Friday.",
                    ),
                ]
            ),
            "validation": _pairs(
                [
                    (
                        "The museum will reopen after a two-year renovation. ||||| Visitors can "
                        "book free tickets online from next week.",
                        "The museum reopens after two years of work, with free tickets online.",
                    )
                ]
            ),
            "test": _pairs(
                [
                    (
                        "Scientists found a new species of frog in the rainforest. The frog is "
                        "smaller than a coin. ||||| The tiny frog was discovered during a survey "
                        "of the region's streams, researchers said on Monday.",
                        "Researchers have discovered a new frog species, smaller than a coin, in "
                        "a rainforest survey.",
                    ),
                    (
                        "The airline cancelled 300 flights because of a strike by pilots. ||||| "
                        "Passengers were offered refunds or seats on later flights. The strike "
                        "is set to last two days.",
                        "A two-day pilots' strike led the airline to cancel 300 flights and "
                        "offer refunds.",
                    ),
                    (
                        "The school district will start classes an hour later next year. ||||| "
                        "Parents and doctors had asked for later start times so that teenagers "
                        "could get more sleep.",
                        "Classes in the district will start an hour later next year, after "
                        "requests from parents and doctors.",
                    ),
                ]
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
    # Harvard/gigaword: document (the article's first sentence), summary (its headline).
    "gigaword": HubSample(
        splits={
            "train": _pairs(
                [
                    (
                        "the government said on monday it would cut fuel taxes by ## percent "
                        "to ease the burden on drivers .",
                        "government to cut fuel taxes",
                    ),
                    (
                        "the national football team beat its rivals #-# in a friendly match on "
                        "saturday night .",
                        "national team wins friendly",
                    ),
                ]
            ),
            "validation": _pairs(
                [
                    (
                        "heavy rain caused flooding in the capital on wednesday , closing "
                        "several roads .",
                        "floods close roads in capital",
                    )
                ]
            ),
            "test": _pairs(
                [
                    (
                        "the central bank raised its key interest rate by a quarter point on "
                        "thursday , citing rising prices .",
                        "central bank raises interest rate",
                    ),
                    (
                        "thousands of workers marched through the city on sunday to demand "
                        "higher wages .",
                        "thousands march for higher wages",
                    ),
                    (
                        "the company said it would close two UNK factories and cut ### jobs "
                        "by the end of the year .",
                        "company to close two factories",
                    ),
                ]
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
    # csebuetnlp/xlsum, config english: id, url, title, summary, text.
    "xlsum-english": HubSample(
        splits={
            "train": _xlsum(
                "https://www.bbc.com/news/",
                [
                    (
                        "uk-10000001",
                        "Library opens late on weekdays",
                        "A town library is to stay open until 21:00 on weekdays.",
                        "The library said the longer hours would help students. It will hire "
                        "two more staff members.",
                    ),
                    (
                        "science-10000002",
                        "Rare bird seen on island",
                        "A rare seabird has been spotted on a Scottish island for the first "
                        "time in 50 years.",
                        "Bird watchers travelled to the island after the sighting was "
                        "reported. The bird was seen on the cliffs.",
                    ),
                ],
            ),
            "validation": _xlsum(
                "https://www.bbc.com/news/",
                [
                    (
                        "uk-10000003",
                        "Bridge closed for repairs",
                        "A bridge is to close for three months for repairs.",
                        "Drivers will be sent on a ten-mile detour. Buses will still run.",
                    )
                ],
            ),
            "test": _xlsum(
                "https://www.bbc.com/news/",
                [
                    (
                        "business-10000004",
                        "Bakery chain to open 50 shops",
                        "A bakery chain plans to open 50 new shops this year, creating 400 jobs.",
                        "The chain said demand had grown in smaller towns. Most of the new "
                        "shops will be in the north.",
                    ),
                    (
                        "health-10000005",
                        "Hospital trials robot porters",
                        "A hospital is testing robots that carry meals and medicine between wards.",
                        "The robots travel in the lifts on their own. Staff say they save "
                        "hours of walking each day.",
                    ),
                    (
                        "uk-10000006",
                        "Village wins best-kept award",
                        "A village has won a national award for the best-kept village for the "
                        "third year running.",
                        "Volunteers planted flowers and cleaned the paths every weekend. The "
                        "judges praised the village green.",
                    ),
                ],
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
    # csebuetnlp/xlsum, config chinese_simplified: id, url, title, summary, text.
    "xlsum-chinese-simplified": HubSample(
        splits={
            "train": _xlsum(
                "https://www.bbc.com/zhongwen/simp/",
                [
                    (
                        "world-20000001",
                        "城市开通首条无人驾驶地铁",
                        "该市首条无人驾驶地铁线路周一正式开通运营。",
                        "新线路全长二十公里，共设十五个车站。市民可以使用手机扫码乘车。",
                    ),
                    (
                        "science-20000002",
                        "科学家在深海发现新物种",
                        "科学家在太平洋深处发现了一种新的水母。",
                        "研究团队使用潜水器在四千米深的海底拍到了这种水母。它的身体几乎透明。",
                    ),
                ],
            ),
            "validation": _xlsum(
                "https://www.bbc.com/zhongwen/simp/",
                [
                    (
                        "chinese-news-20000003",
                        "暴雨导致航班取消",
                        "暴雨导致机场取消了上百个航班。",
                        "机场表示，旅客可以免费改签或退票。天气预计周末好转。",
                    )
                ],
            ),
            "test": _xlsum(
                "https://www.bbc.com/zhongwen/simp/",
                [
                    (
                        "business-20000004",
                        "电动汽车销量创新高",
                        "今年上半年电动汽车销量比去年同期增长了一半。",
                        "行业协会说，价格下降和充电站增加推动了销量增长。多家厂商计划扩大生产。",
                    ),
                    (
                        "world-20000005",
                        "博物馆归还文物",
                        "一家欧洲博物馆宣布将向原属国归还二十件文物。",
                        "这些文物在一百多年前被带到欧洲。博物馆说，归还工作将在明年完成。",
                    ),
                    (
                        "chinese-news-20000006",
                        "大学生志愿者走进乡村学校",
                        "数百名大学生利用暑假到乡村学校支教。",
                        "志愿者为孩子们开设了英语和美术课程。当地教师说，孩子们非常喜欢这些课。",
                    ),
                ],
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
    # csebuetnlp/xlsum, config chinese_traditional: id, url, title, summary, text.
    "xlsum-chinese-traditional": HubSample(
        splits={
            "train": _xlsum(
                "https://www.bbc.com/zhongwen/trad/",
                [
                    (
                        "world-30000001",
                        "城市開通首條無人駕駛地鐵",
                        "該市首條無人駕駛地鐵線路週一正式開通運營。",
                        "新線路全長二十公里，共設十五個車站。市民可以使用手機掃碼乘車。",
                    ),
                    (
                        "science-30000002",
                        "科學家在深海發現新物種",
                        "科學家在太平洋深處發現了一種新的水母。",
                        "研究團隊使用潛水器在四千米深的海底拍到了這種水母。它的身體幾乎透明。",
                    ),
                ],
            ),
            "validation": _xlsum(
                "https://www.bbc.com/zhongwen/trad/",
                [
                    (
                        "chinese-news-30000003",
                        "暴雨導致航班取消",
                        "暴雨導致機場取消了上百個航班。",
                        "機場表示，旅客可以免費改簽或退票。天氣預計週末好轉。",
                    )
                ],
            ),
            "test": _xlsum(
                "https://www.bbc.com/zhongwen/trad/",
                [
                    (
                        "business-30000004",
                        "電動汽車銷量創新高",
                        "今年上半年電動汽車銷量比去年同期增長了一半。",
                        "行業協會說，價格下降和充電站增加推動了銷量增長。多家廠商計劃擴大生產。",
                    ),
                    (
                        "world-30000005",
                        "博物館歸還文物",
                        "一家歐洲博物館宣佈將向原屬國歸還二十件文物。",
                        "這些文物在一百多年前被帶到歐洲。博物館說，歸還工作將在明年完成。",
                    ),
                    (
                        "chinese-news-30000006",
                        "大學生志願者走進鄉村學校",
                        "數百名大學生利用暑假到鄉村學校支教。",
                        "志願者為孩子們開設了英語和美術課程。當地教師說，孩子們非常喜歡這些課。",
                    ),
                ],
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
    # FiscalNote/billsum: text, summary, title; splits train, test, ca_test (not scored).
    "billsum": HubSample(
        splits={
            "train": _bills(
                [
                    (
                        "SECTION 1. SHORT TITLE. This Act may be cited as the Rural Broadband "
                        "Access Act. SEC. 2. GRANTS. The Secretary shall award grants to "
                        "States to extend broadband service to rural areas.",
                        "Rural Broadband Access Act - Directs the Secretary to award grants to "
                        "States to extend broadband service to rural areas.",
                        "To provide grants for rural broadband service.",
                    ),
                    (
                        "SECTION 1. SHORT TITLE. This Act may be cited as the School Meals "
                        "Improvement Act. SEC. 2. STANDARDS. The Secretary shall update "
                        "nutrition standards for school lunches every five years.",
                        "School Meals Improvement Act - Requires the Secretary to update "
                        "school lunch nutrition standards every five years.",
                        "To improve the nutrition standards of school meals.",
                    ),
                ]
            ),
            "test": _bills(
                [
                    (
                        "SECTION 1. SHORT TITLE. This Act may be cited as the Veterans Housing "
                        "Support Act. SEC. 2. ASSISTANCE. The Secretary of Veterans Affairs "
                        "shall provide rental assistance to veterans at risk of homelessness.",
                        "Veterans Housing Support Act - Requires the Secretary of Veterans "
                        "Affairs to provide rental assistance to veterans at risk of "
                        "homelessness.",
                        "To provide rental assistance to veterans.",
                    ),
                    (
                        "SECTION 1. SHORT TITLE. This Act may be cited as the Clean Harbors "
                        "Act. SEC. 2. PROGRAM. The Administrator shall establish a program to "
                        "remove debris and pollutants from harbors.",
                        "Clean Harbors Act - Directs the Administrator to establish a program "
                        "to remove debris and pollutants from harbors.",
                        "To establish a harbor cleanup program.",
                    ),
                    (
                        "SECTION 1. SHORT TITLE. This Act may be cited as the Small Business "
                        "Export Act. SEC. 2. LOANS. The Administrator shall make loans to "
                        "small businesses that begin exporting goods.",
                        "Small Business Export Act - Authorizes loans to small businesses that "
                        "begin exporting goods.",
                        "To support exports by small businesses.",
                    ),
                ]
            ),
            "ca_test": _bills(
                [
                    (
                        "The people of the State of California do enact as follows: SECTION 1. "
                        "The Department shall publish water use data each quarter.",
                        "This bill would require the Department to publish water use data "
                        "each quarter.",
                        "An act relating to water use reporting.",
                    )
                ]
            ),
        },
        model=_LEAD,
        n_test=3,
    ),
}
