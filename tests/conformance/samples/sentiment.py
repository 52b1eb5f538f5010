"""Samples for the sentiment tasks of the standard catalog: English review and tweet sets on
the Hub (rows with each repository's real column names and types) and the Chinese
ChineseNlpCorpus CSV files (label,review) as their releases lay them out."""

from __future__ import annotations

import csv
import io

from tests.conformance.samples import FilesSample, HubSample


def _csv(header: list[str], rows: list[tuple[object, ...]]) -> str:
    """A CSV file as pandas writes the ChineseNlpCorpus files: a header row, then the rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


# --------------------------------------------------------------------------- English, binary

_YELP_TRAIN = [
    ("The staff were friendly and the tacos came out fast and hot. Will be back.", 1),
    ("Waited forty minutes for a cold burger and nobody apologized.", 0),
    ("Best brunch spot in the neighborhood, the pancakes are fluffy and huge.", 1),
    ("The room smelled of smoke and the front desk ignored our complaint.", 0),
    ("Great haircut, she listened to exactly what I wanted.", 1),
    ("Overpriced, bland pasta and a waiter who rolled his eyes at us.", 0),
]
_YELP_TEST = [
    ("Lovely patio, good coffee and the pastries were still warm.", 1),
    ("They charged my card twice and the manager hung up on me.", 0),
    ("Solid sushi for the price and the rolls were generous.", 1),
    ("Dirty tables, sticky floors and the fries tasted old.", 0),
]

_AMAZON_TRAIN = [
    ("Works great", "Charges my phone quickly and the cable feels sturdy.", 1),
    ("Broke in a week", "The hinge snapped after a few days of normal use.", 0),
    ("A gripping read", "I could not put this novel down, the ending surprised me.", 1),
    ("Waste of money", "The blender leaks from the base and is very loud.", 0),
    ("Perfect fit", "These running shoes are light and comfortable from day one.", 1),
    ("Not as described", "The color is nothing like the photo and the fabric is thin.", 0),
]
_AMAZON_TEST = [
    ("Happy with it", "The headphones sound clear and the battery lasts all day.", 1),
    ("Stopped working", "The remote died after two weeks and support never answered.", 0),
    ("Great value", "Sharp knives that hold their edge, well worth the price.", 1),
]

_RT_TRAIN = [
    ("a warm , funny and beautifully acted comedy .", 1),
    ("the script is lazy and the jokes land with a thud .", 0),
    ("an engrossing thriller that keeps you guessing until the end .", 1),
    ("tedious , overlong and oddly joyless .", 0),
    ("a small gem with a big heart .", 1),
    ("even the talented cast cannot save this muddled mess .", 0),
]
_RT_TEST = [
    ("smart , touching and never sentimental .", 1),
    ("a dull retread of better films .", 0),
    ("the visuals are stunning and the story moves briskly .", 1),
    ("by the hour mark i had stopped caring about anyone on screen .", 0),
]

# --------------------------------------------------------------------------- English, multiclass

_SST5_NAMES = ["very negative", "negative", "neutral", "positive", "very positive"]
_SST5_TRAIN = [
    ("An utterly miserable experience from start to finish .", 0),
    ("The pacing drags and the dialogue is flat .", 1),
    ("It is a film about a family that moves to the coast .", 2),
    ("A likable cast makes the familiar story work .", 3),
    ("A dazzling , deeply moving triumph .", 4),
    ("Worst sequel in years , a total embarrassment .", 0),
    ("The middle section loses its way .", 1),
    ("The movie runs just under two hours .", 2),
    ("Charming and often quite funny .", 3),
    ("One of the finest performances of the decade .", 4),
]
_SST5_TEST = [
    ("A hateful , incoherent waste of everyone 's time .", 0),
    ("The plot twists feel forced .", 1),
    ("The story is set in a small town in Ohio .", 2),
    ("A pleasant diversion with a few good laughs .", 3),
    ("Breathtaking , a masterpiece in every frame .", 4),
]

_TWEET_TRAIN = [
    ("@user so proud of the team tonight, what a comeback!! ", 2),
    ("My flight got cancelled again. Third time this month. ", 0),
    ("The new season of the show starts on Friday at 9 ", 1),
    ("@user thank you so much for the birthday wishes ", 2),
    ("Traffic on the bridge is a nightmare this morning ", 0),
    ("Apple will announce the new phones on Tuesday ", 1),
]
_TWEET_TEST = [
    ("Can't wait to see @user live in concert tomorrow!! ", 2),
    ("Worst customer service ever, still waiting for a refund ", 0),
    ("The debate is scheduled for Thursday night ", 1),
    ("Just finished my first marathon, feeling amazing ", 2),
]

_YELP_FULL_TRAIN = [
    ("Rude staff, raw chicken and a bill that was wrong. Never again.", 0),
    ("Food was lukewarm and the service slow, but the drinks were fine.", 1),
    ("Average pizza, nothing special, decent prices.", 2),
    ("Good ramen and quick service, the broth could be a bit richer.", 3),
    ("Absolutely perfect dinner, every dish was outstanding.", 4),
    ("They lost our reservation and were rude about it.", 0),
    ("Too salty and overpriced for what you get.", 1),
    ("It is okay for a quick lunch if you are nearby.", 2),
    ("Friendly owner and tasty dumplings, I will come back.", 3),
    ("The best bakery in town, hands down. Five stars.", 4),
]
_YELP_FULL_TEST = [
    ("Found a hair in my soup and the manager shrugged.", 0),
    ("The steak was overcooked and the sides were bland.", 1),
    ("Decent coffee, the seating is cramped.", 2),
    ("Nice atmosphere and good cocktails, a little pricey.", 3),
    ("Incredible tasting menu and the kindest staff.", 4),
]

# --------------------------------------------------------------------------- Chinese, CSV

_WAIMAI = [
    (1, "送餐很快，饭菜还是热的，味道不错"),
    (0, "等了一个半小时才送到，菜都凉了"),
    (1, "分量很足，价格实惠，下次还点"),
    (0, "米饭太硬了，汤洒了一半"),
    (1, "骑手态度很好，包装也很用心"),
    (0, "少送了一份饮料，打电话也没人管"),
    (1, "鸡腿饭很香，酱汁特别入味"),
    (0, "太咸了，根本吃不下去"),
    (1, "一如既往的好吃，五星好评"),
    (0, "订单显示已送达，其实根本没收到"),
    (1, "面条劲道，牛肉给得很多"),
    (0, "菜里有头发，恶心"),
    (1, "准时送达，还送了小菜"),
    (0, "口味一般，而且很油腻"),
    (1, "包子皮薄馅大，家里人都爱吃"),
    (0, "配送员把餐放在楼下就走了"),
    (1, "水果很新鲜，切得也很整齐"),
    (0, "价格比店里贵不少，不划算"),
    (1, "麻辣烫味道正宗，汤底很香"),
    (0, "送错了地址，还要我自己去拿"),
]

_SHOPPING = [
    ("书籍", 1, "印刷清晰，纸张很好，内容也很实用"),
    ("手机", 0, "用了三天就开始发烫，电池掉电很快"),
    ("水果", 1, "苹果又脆又甜，个头也大"),
    ("衣服", 0, "尺码偏小，而且掉色严重"),
    ("洗发水", 1, "味道清香，洗完头发很顺"),
    ("平板", 0, "屏幕有坏点，客服一直推脱"),
    ("酒店", 1, "房间干净，早餐丰富，离地铁很近"),
    ("计算机", 0, "散热很差，风扇噪音太大"),
    ("蒙牛", 1, "牛奶口感醇厚，孩子很喜欢喝"),
    ("热水器", 0, "安装师傅乱收费，热水也不稳定"),
    ("书籍", 0, "书页有破损，还缺了几页"),
    ("手机", 1, "拍照效果很好，运行也流畅"),
    ("水果", 0, "橙子一半都烂了，太失望"),
    ("衣服", 1, "面料舒服，做工精细，很合身"),
    ("洗发水", 0, "用完头皮很痒，不敢再用"),
    ("平板", 1, "看视频很清楚，续航也不错"),
    ("酒店", 0, "隔音太差，半夜被吵醒好几次"),
    ("计算机", 1, "开机速度快，键盘手感很好"),
    ("蒙牛", 0, "收到时包装已经胀袋了"),
    ("热水器", 1, "加热很快，操作也简单"),
]

_WEIBO = [
    (1, "今天终于见到偶像了[哈哈][爱你]"),
    (0, "又加班到半夜，累死了[泪]"),
    (1, "周末和朋友去爬山，风景太美了[太开心]"),
    (0, "手机被偷了，心情糟透了[抓狂]"),
    (1, "收到了妈妈寄来的包裹，好感动[心]"),
    (0, "下雨天堵车堵了两个小时[衰]"),
    (1, "考试顺利通过，感谢大家的鼓励[鼓掌]"),
    (0, "排了一上午的队还是没挂上号[怒]"),
    (1, "新年快乐！祝大家万事如意[嘻嘻]"),
    (0, "航班又延误了，什么时候才能到家[泪]"),
    (1, "小猫今天学会了开门，太聪明了[哈哈]"),
    (0, "快递丢了，客服只会说抱歉[怒]"),
    (1, "第一次做蛋糕就成功了[得意地笑]"),
    (0, "感冒发烧，一个人在宿舍好难受[生病]"),
    (1, "球队赢了！今晚不睡了[威武]"),
    (0, "房租又涨了，真的撑不下去了[失望]"),
    (1, "阳光正好，适合出去走走[太阳]"),
    (0, "电脑突然蓝屏，文件全没了[抓狂]"),
    (1, "收到录取通知书啦[太开心][太开心]"),
    (0, "被朋友放鸽子了，一个人吃饭[委屈]"),
]


# tfidf-logreg's default solver (liblinear) refuses three or more labels with scikit-learn
# >= 1.8, so the multiclass samples run it with lbfgs.
_MULTICLASS = "baseline:tfidf-logreg,solver=lbfgs"


SAMPLES = {
    # fancyzhx/yelp_polarity (plain_text): text (string), label (ClassLabel '1', '2').
    "yelp-polarity": HubSample(
        splits={
            "train": [{"text": t, "label": y} for t, y in _YELP_TRAIN],
            "test": [{"text": t, "label": y} for t, y in _YELP_TEST],
        },
        model="baseline:tfidf-logreg",
        n_test=4,
    ),
    # Yelp/yelp_review_full (yelp_review_full): label (ClassLabel '1 star'..'5 stars'), text.
    "yelp-review-full": HubSample(
        splits={
            "train": [{"label": y, "text": t} for t, y in _YELP_FULL_TRAIN],
            "test": [{"label": y, "text": t} for t, y in _YELP_FULL_TEST],
        },
        model=_MULTICLASS,
        n_test=5,
    ),
    # fancyzhx/amazon_polarity (amazon_polarity): label (ClassLabel), title, content.
    "amazon-polarity": HubSample(
        splits={
            "train": [{"label": y, "title": a, "content": b} for a, b, y in _AMAZON_TRAIN],
            "test": [{"label": y, "title": a, "content": b} for a, b, y in _AMAZON_TEST],
        },
        model="baseline:majority",
        n_test=3,
    ),
    # cornell-movie-review-data/rotten_tomatoes: text (string), label (ClassLabel neg, pos).
    "rotten-tomatoes": HubSample(
        splits={
            "train": [{"text": t, "label": y} for t, y in _RT_TRAIN],
            "validation": [{"text": t, "label": y} for t, y in _RT_TEST[:2]],
            "test": [{"text": t, "label": y} for t, y in _RT_TEST],
        },
        model="baseline:tfidf-logreg",
        n_test=4,
    ),
    # SetFit/sst5: text (string), label (int64), label_text (string).
    "sst5": HubSample(
        splits={
            "train": [
                {"text": t, "label": y, "label_text": _SST5_NAMES[y]} for t, y in _SST5_TRAIN
            ],
            "validation": [
                {"text": t, "label": y, "label_text": _SST5_NAMES[y]} for t, y in _SST5_TEST[:2]
            ],
            "test": [{"text": t, "label": y, "label_text": _SST5_NAMES[y]} for t, y in _SST5_TEST],
        },
        model=_MULTICLASS,
        n_test=5,
    ),
    # cardiffnlp/tweet_eval (sentiment): text (string), label (ClassLabel negative, neutral,
    # positive).
    "tweeteval-sentiment": HubSample(
        splits={
            "train": [{"text": t, "label": y} for t, y in _TWEET_TRAIN],
            "validation": [{"text": t, "label": y} for t, y in _TWEET_TEST[:2]],
            "test": [{"text": t, "label": y} for t, y in _TWEET_TEST],
        },
        model=_MULTICLASS,
        n_test=4,
    ),
    # ChineseNlpCorpus waimai_10k.csv: label,review; 20 rows, seeded 80/20 -> 4 scored.
    "waimai-10k": FilesSample(
        files={"waimai_10k.csv": _csv(["label", "review"], _WAIMAI)},
        model="baseline:tfidf-logreg",
        n_test=4,
    ),
    # online_shopping_10_cats.csv (inside the zip): cat,label,review; one empty review dropped.
    "online-shopping-10-cats": FilesSample(
        files={
            "online_shopping_10_cats.csv": _csv(
                ["cat", "label", "review"], [*_SHOPPING, ("书籍", 1, "")]
            )
        },
        model="baseline:majority",
        n_test=4,
    ),
    # weibo_senti_100k.csv: label,review; 20 rows, seeded 80/20 -> 4 scored.
    "weibo-senti-100k": FilesSample(
        files={"weibo_senti_100k.csv": _csv(["label", "review"], _WEIBO)},
        model="baseline:tfidf-logreg",
        n_test=4,
    ),
}
