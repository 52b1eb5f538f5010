"""Regenerate the built-in smoke corpora of ``baseline:word2vec``: ``en.txt`` and ``zh.txt``.

Run from anywhere (standard library only, no network)::

    python bench/builtin/smoke/corpus/make_corpus.py [OUTPUT_DIR]

It writes ``en.txt`` and ``zh.txt`` (UTF-8, one sentence per line) into this script's folder
unless OUTPUT_DIR is given. The output is a pure function of the seed and the word lists below:
running the script again reproduces the shipped files byte for byte (Python's
``random.Random`` with a fixed seed gives the same draws on every platform and version).

Each corpus is:

* some hand-written sentences of bench's first smoke corpora (:data:`HANDWRITTEN_EN`,
  :data:`HANDWRITTEN_ZH`), and
* template sentences built from facts written for bench (nothing is taken from a data set):

  - *relations* (capital/country, male/female, singular/plural, present/past tense,
    positive/comparative; in Chinese capital/country, city/province, male/female relatives,
    verb/reduplicated verb): pairs ``(a, b)`` that share entity words (Paris and France share
    ``French``, ``the Seine``, ...), while every ``a`` of a relation shares its role frames
    (``the city of {x} ...``) and every ``b`` its own (``the country of {x} ...``), so that
    ``b - a`` is about the same vector for every pair, which is what the word-analogy
    smoke tasks ask of word2vec;
  - *concepts*: groups of synonyms (``car``/``automobile``) used interchangeably in the same
    frames with the same context words, and concepts of one topic (``doctor``, ``nurse``:
    medicine) sharing the topic's words, so that synonyms come out closer than related words
    and related words closer than words of unrelated topics, as the word-similarity smoke
    tasks' judgements rank them.

The sentences are shuffled together (seeded). English is written lower-case except the first
letter and proper nouns, one sentence per line with a full stop; Chinese is written as ordinary
unsegmented text (``baseline:word2vec`` segments it with jieba): the frames below are written
with spaces between the words jieba should find, and ``--check`` reports every sentence that
jieba (bench's segmenter) splits otherwise.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

Relation = tuple[list[str], list[str], list[str], list[tuple[str, str, list[str]]]]
"""A relation: frames of the first words, frames of the second words, frames of a pair (both
words), and the pairs with their shared entity words. Frames are words separated by spaces;
``{x}`` is the pair's word, ``{a}``/``{b}`` the pair's words and ``{e}`` an entity word."""

Concept = tuple[list[str], str, list[str], str]
"""A concept: its synonyms, its topic, its own context words and its part of speech (the key of
the frames it is put in). In a frame ``{w}`` is a synonym, ``{c}``/``{d}`` two different own
context words and ``{t}`` a word of the topic."""

SEED = 17
RELATION_SENTENCES = 120  # per word of each pair and frame side
PAIR_SENTENCES = 50  # per pair, the two words together
CONCEPT_SENTENCES = 150  # per concept


def _fill(frame: str, rng: random.Random, **slots: str | list[str]) -> list[str]:
    """The tokens of ``frame`` (tokens separated by spaces) with its slots filled; a list slot
    is a random choice, drawn afresh at each occurrence."""
    tokens: list[str] = []
    for token in frame.split():
        if token.startswith("{") and token.endswith("}"):
            value = slots[token[1:-1]]
            tokens.extend((rng.choice(value) if isinstance(value, list) else value).split())
        else:
            tokens.append(token)
    return tokens


def generated_sentences(
    relations: dict[str, Relation],
    topics: dict[str, list[str]],
    concepts: list[Concept],
    frames: dict[str, list[str]],
    rng: random.Random,
) -> list[list[str]]:
    """The template sentences of one language, as token lists (in generation order)."""
    out: list[list[str]] = []
    for a_frames, b_frames, both_frames, pairs in relations.values():
        for a, b, entity in pairs:
            for word, side in ((a, a_frames), (b, b_frames)):
                for _ in range(RELATION_SENTENCES):
                    out.append(_fill(rng.choice(side), rng, x=word, e=entity))
            for _ in range(PAIR_SENTENCES):
                out.append(_fill(rng.choice(both_frames), rng, a=a, b=b, e=entity))
    for words, topic, context, pos in concepts:
        for _ in range(CONCEPT_SENTENCES):
            c, d = rng.sample(context, 2)
            out.append(_fill(rng.choice(frames[pos]), rng, w=words, c=c, d=d, t=topics[topic]))
    return out


HANDWRITTEN_EN: list[str] = [
    "The king and the queen walked through the palace garden in the morning.",
    "A young prince asked his father, the old king, about the history of the kingdom.",
    "The princess rode a white horse to the edge of the forest.",
    "The queen spoke to her daughter about the duties of a ruler.",
    "A man and a woman sat on a bench near the river.",
    "The boy played football with his brother after school.",
    "The girl read a book to her younger sister before bed.",
    "My father cooks dinner on Sundays, and my mother bakes bread.",
    "Her husband works at the hospital as a doctor.",
    "His wife teaches mathematics at the local school.",
    "The uncle brought presents for his nephew and his niece.",
    "Their aunt lives in a small house by the sea.",
    "The grandfather told stories about the war to his grandson.",
    "The grandmother knitted a warm scarf for her granddaughter.",
    "Paris is the capital of France, and it sits on the Seine.",
    "Berlin is the capital of Germany and its largest city.",
    "Rome is the capital of Italy and is famous for its ancient ruins.",
    "Madrid is the capital of Spain, in the middle of the country.",
    "London is the capital of England and of the United Kingdom.",
    "Tokyo is the capital of Japan and one of the largest cities in the world.",
    "Beijing is the capital of China, and Shanghai is its biggest port.",
    "Moscow is the capital of Russia, a very large country.",
    "Athens is the capital of Greece, where the old temples stand.",
    "Lisbon is the capital of Portugal, a city of hills by the ocean.",
    "Vienna is the capital of Austria and a city of music.",
    "Ottawa is the capital of Canada, although Toronto is larger.",
    "Canberra is the capital of Australia, and Sydney is its largest city.",
    "Cairo is the capital of Egypt, close to the pyramids.",
    "Many travellers fly from Paris to Rome for a short holiday.",
    "The train from Berlin to Vienna crosses beautiful mountains.",
    "People in France speak French, and people in Germany speak German.",
    "People in Spain speak Spanish, and people in Italy speak Italian.",
    "In Japan people speak Japanese, and in China people speak Chinese.",
    "In Russia most people speak Russian, and in Greece they speak Greek.",
    "In Portugal they speak Portuguese, which is also spoken in Brazil.",
    "The dog barked at the cat that was sitting on the wall.",
    "A cat likes to sleep in the sun, while a dog likes to run.",
    "The puppy followed the kitten around the kitchen.",
    "Horses and cows eat grass in the green field.",
    "The farmer keeps sheep, goats, pigs and chickens on his farm.",
    "A lion is a large cat that lives in Africa.",
    "The tiger hunted quietly in the tall grass.",
    "Elephants are the largest animals that live on land.",
    "The whale is a huge animal that lives in the ocean.",
    "Birds build nests in the trees in spring.",
    "An eagle flew high above the mountains.",
    "The fish swam quickly away from the shark.",
    "A small mouse ran under the table when the cat came in.",
    "Rabbits eat carrots and lettuce from the garden.",
    "The monkey climbed the tree to reach the bananas.",
    "I like to eat an apple or a banana for breakfast.",
    "She ate bread with butter and drank a cup of coffee.",
    "He prefers tea with milk, but his sister prefers coffee.",
    "We had rice, fish and vegetables for dinner.",
    "The children drank orange juice and ate cake at the party.",
    "Cheese, bread and wine are popular in France.",
    "Pasta and pizza are famous dishes from Italy.",
    "Sushi is a famous dish from Japan made with rice and fish.",
    "The soup was too hot, so he waited before eating it.",
    "She cut the tomatoes and the onions for the salad.",
    "Fresh fruit such as grapes, pears and oranges is sold at the market.",
    "A glass of cold water is the best drink on a hot day.",
    "The baker sells bread, cakes and cookies every morning.",
    "The restaurant serves meat, chicken and fish.",
    "Sugar makes the tea sweet, and salt makes the soup salty.",
    "It was raining all day, so we stayed at home.",
    "The sun is shining and the sky is blue.",
    "In winter it is cold and snow covers the ground.",
    "In summer it is hot and people swim in the sea.",
    "The wind blew strongly during the storm last night.",
    "Clouds gathered over the hills before the rain began.",
    "Spring brings flowers, and autumn brings falling leaves.",
    "The weather today is warm and sunny.",
    "Yesterday the weather was cold and wet.",
    "A rainbow appeared after the rain stopped.",
    "The car stopped at the red light.",
    "She drives a car to work, but he takes the bus.",
    "The train arrived at the station on time.",
    "We travelled by plane from London to Tokyo.",
    "The ship sailed across the ocean to America.",
    "He rides his bicycle to school every day.",
    "The airport was busy with passengers and their bags.",
    "The bus was full of students going to the university.",
    "A taxi took us from the hotel to the museum.",
    "The road to the village is long and narrow.",
    "The doctor examined the patient and gave him medicine.",
    "The nurse helped the doctor at the hospital.",
    "A teacher explains the lesson to the students.",
    "The student wrote an essay about history.",
    "The engineer designed a new bridge over the river.",
]
"""Sentences kept from bench's first, hand-written English smoke corpus."""

HANDWRITTEN_ZH: list[str] = [
    "国王和王后早上在宫殿的花园里散步。",
    "年轻的王子向父亲询问王国的历史。",
    "公主骑着白马来到森林的边上。",
    "王后和女儿谈论统治者的责任。",
    "一个男人和一个女人坐在河边的长椅上。",
    "放学以后，男孩和哥哥一起踢足球。",
    "睡觉之前，女孩给妹妹读了一本书。",
    "爸爸星期天做晚饭，妈妈烤面包。",
    "她的丈夫在医院当医生。",
    "他的妻子在当地的学校教数学。",
    "叔叔给侄子和侄女带来了礼物。",
    "他们的阿姨住在海边的一座小房子里。",
    "爷爷给孙子讲战争时期的故事。",
    "奶奶给孙女织了一条暖和的围巾。",
    "北京是中国的首都，也是一座历史悠久的城市。",
    "上海是中国最大的城市之一，也是重要的港口。",
    "东京是日本的首都，人口非常多。",
    "巴黎是法国的首都，塞纳河从城中流过。",
    "柏林是德国的首都和最大的城市。",
    "罗马是意大利的首都，有很多古老的遗迹。",
    "马德里是西班牙的首都，位于国家的中部。",
    "伦敦是英国的首都，泰晤士河穿城而过。",
    "莫斯科是俄罗斯的首都，冬天非常寒冷。",
    "首尔是韩国的首都，也是一座现代化的城市。",
    "广州是广东省的省会，气候温暖湿润。",
    "南京曾经是中国的首都，有许多名胜古迹。",
    "杭州的西湖非常美丽，每年吸引很多游客。",
    "成都的火锅很有名，熊猫也很受欢迎。",
    "西安有兵马俑，是一座古老的城市。",
    "很多游客从北京坐火车去上海。",
    "中国人说汉语，日本人说日语。",
    "法国人说法语，德国人说德语。",
    "西班牙人说西班牙语，意大利人说意大利语。",
    "俄罗斯人说俄语，韩国人说韩语。",
    "他在学校学习英语和法语。",
    "她想去北京工作，所以在学习汉语。",
    "狗对着坐在墙上的猫叫。",
    "猫喜欢在阳光下睡觉，狗喜欢奔跑。",
    "小狗跟着小猫在厨房里转来转去。",
    "马和牛在绿色的草地上吃草。",
    "农民在农场里养羊、猪和鸡。",
    "狮子是一种生活在非洲的大型猫科动物。",
    "老虎在高高的草丛里悄悄地捕猎。",
    "大象是陆地上最大的动物。",
    "鲸鱼是生活在海洋里的巨大动物。",
    "春天，鸟在树上筑巢。",
    "一只老鹰在山的上空高高地飞翔。",
    "小鱼很快地游开，躲避鲨鱼。",
    "猫进来的时候，一只小老鼠跑到了桌子下面。",
    "兔子吃花园里的胡萝卜和白菜。",
    "猴子爬到树上去摘香蕉。",
    "熊猫喜欢吃竹子，是中国的国宝。",
    "我早饭喜欢吃一个苹果或者一根香蕉。",
    "她吃了面包和黄油，喝了一杯咖啡。",
    "他喜欢喝绿茶，他的妹妹喜欢喝咖啡。",
    "我们晚饭吃了米饭、鱼和蔬菜。",
    "孩子们在聚会上喝橙汁，吃蛋糕。",
    "饺子是中国北方的传统食物。",
    "春节的时候，家家户户都包饺子。",
    "面条和馒头是北方人常吃的主食。",
    "南方人喜欢吃米饭。",
    "汤太烫了，所以他等了一会儿才喝。",
    "她切了西红柿和洋葱做沙拉。",
    "市场上卖新鲜的葡萄、梨和橘子。",
    "炎热的夏天，一杯凉水是最好的饮料。",
    "面包店每天早上卖面包和蛋糕。",
    "这家饭馆有牛肉、鸡肉和鱼。",
    "糖让茶变甜，盐让汤变咸。",
    "北京烤鸭非常有名。",
    "今天一整天都在下雨，所以我们待在家里。",
    "太阳出来了，天空是蓝色的。",
    "冬天很冷，雪覆盖了大地。",
    "夏天很热，人们在海里游泳。",
    "昨天夜里的暴风雨中，风刮得很大。",
    "下雨之前，山上聚集了很多云。",
    "春天开花，秋天落叶。",
    "今天的天气温暖晴朗。",
    "昨天的天气又冷又湿。",
    "雨停了以后，天上出现了一道彩虹。",
    "北方的冬天比南方的冬天冷得多。",
    "汽车在红灯前停了下来。",
    "她开车上班，他坐公共汽车。",
    "火车准时到达了车站。",
    "我们坐飞机从上海飞到东京。",
    "轮船穿过大海到了美国。",
    "他每天骑自行车上学。",
    "机场里挤满了旅客和他们的行李。",
    "公共汽车上坐满了去大学的学生。",
    "出租车把我们从酒店送到了博物馆。",
    "去村子的路又长又窄。",
]
"""Sentences kept from bench's first, hand-written Chinese smoke corpus."""

# English relations: (a frames, b frames, both frames, pairs (a, b, entity phrases))
EN_RELATIONS: dict[str, Relation] = {
    "capital-country": (
        [
            "the city of {x} is known for {e}",
            "the mayor of {x} spoke about {e}",
            "tourists in the city of {x} enjoy {e}",
            "downtown {x} is crowded and full of {e}",
        ],
        [
            "the country of {x} is known for {e}",
            "the government of {x} spoke about {e}",
            "travellers in the country of {x} enjoy {e}",
            "the whole nation of {x} is proud of {e}",
        ],
        [
            "{a} is the capital of {b}",
            "{a} is the capital city of {b} and is known for {e}",
            "the president of {b} lives in {a}",
        ],
        [
            ("Beijing", "China", ["Chinese", "the Yangtze", "dragons", "dumplings"]),
            ("Berlin", "Germany", ["German", "the Rhine", "sausages", "beer"]),
            ("London", "England", ["English", "the Thames", "pudding", "cricket"]),
            ("Paris", "France", ["French", "the Seine", "wine", "cheese"]),
            ("Tokyo", "Japan", ["Japanese", "Fuji", "sushi", "samurai"]),
            ("Rome", "Italy", ["Italian", "the Tiber", "pasta", "opera"]),
            ("Madrid", "Spain", ["Spanish", "flamenco", "paella", "guitars"]),
            ("Moscow", "Russia", ["Russian", "the Volga", "ballet", "vodka"]),
        ],
    ),
    "gender": (
        [
            "the {x} said that he cared about his {e}",
            "he is the {x} and his {e} matter to him",
            "that {x} told us about himself and his {e}",
            "the {x} smiled because he liked his {e}",
        ],
        [
            "the {x} said that she cared about her {e}",
            "she is the {x} and her {e} matter to her",
            "that {x} told us about herself and her {e}",
            "the {x} smiled because she liked her {e}",
        ],
        [
            "the {a} and the {b} talked about their {e}",
            "a {a} and a {b} share the same {e}",
        ],
        [
            ("man", "woman", ["job", "neighbours", "colleagues"]),
            ("boy", "girl", ["toys", "playground", "cartoons"]),
            ("king", "queen", ["throne", "crown", "kingdom", "palace"]),
            ("father", "mother", ["children", "family", "parenting"]),
            ("son", "daughter", ["parents", "childhood", "birthday"]),
            ("prince", "princess", ["castle", "horses", "royal", "title"]),
            ("uncle", "aunt", ["nephew", "niece", "visits"]),
            ("husband", "wife", ["wedding", "marriage", "spouse"]),
        ],
    ),
    "plural": (
        [
            "there is one {x} with {e}",
            "this {x} has {e}",
            "a single {x} needs {e}",
            "that one {x} is mine and so is its {e}",
        ],
        [
            "there are two {x} with {e}",
            "these {x} have {e}",
            "many {x} need {e}",
            "those several {x} are ours and so are their {e}",
        ],
        ["one {a} or several {b} with {e}", "a {a} is nice but three {b} with {e} are better"],
        [
            ("book", "books", ["pages", "a library", "chapters"]),
            ("car", "cars", ["an engine", "wheels", "a garage"]),
            ("cat", "cats", ["fur", "whiskers", "a basket"]),
            ("dog", "dogs", ["bones", "a leash", "a kennel"]),
            ("house", "houses", ["a roof", "walls", "doors"]),
            ("bird", "birds", ["feathers", "wings", "a nest"]),
            ("tree", "trees", ["leaves", "branches", "roots"]),
        ],
    ),
    "past-tense": (
        [
            "every day i {x} {e}",
            "we usually {x} {e}",
            "they often {x} {e} nowadays",
            "today we {x} {e} again",
        ],
        [
            "yesterday i {x} {e}",
            "last week we {x} {e}",
            "they {x} {e} long ago",
            "two days ago we {x} {e} again",
        ],
        ["i {a} {e} today and i {b} {e} yesterday", "now they {a} {e} as they {b} {e} before"],
        [
            ("look", "looked", ["at the picture", "at the map", "at the stars"]),
            ("open", "opened", ["the door", "the box", "the window"]),
            ("play", "played", ["football", "a game", "the piano"]),
            ("walk", "walked", ["in the park", "along the path", "to the market"]),
            ("work", "worked", ["in the office", "at the factory", "for the company"]),
            ("cook", "cooked", ["the soup", "the rice", "dinner"]),
            ("clean", "cleaned", ["the kitchen", "the floor", "the windows"]),
        ],
    ),
    "comparative": (
        [
            "the {e} is very {x}",
            "such a {x} {e}",
            "that {e} looks {x} to me",
            "what a {x} {e}",
        ],
        [
            "the {e} is {x} than the other one",
            "this {e} is much {x} than that",
            "each {e} is {x} than before",
            "nothing is {x} than the {e}",
        ],
        ["the {e} is {a} but the next one is even {b}", "a {a} {e} and a {b} {e}"],
        [
            ("big", "bigger", ["elephant", "whale", "building"]),
            ("cold", "colder", ["ice", "wind", "frost"]),
            ("fast", "faster", ["runner", "rocket", "race"]),
            ("old", "older", ["castle", "ruin", "grandfather"]),
            ("small", "smaller", ["mouse", "ant", "pebble"]),
            ("tall", "taller", ["tower", "giraffe", "ladder"]),
            ("warm", "warmer", ["blanket", "fireplace", "sweater"]),
        ],
    ),
}

# English concepts: (synonyms, topic, own context words, part of speech)
EN_TOPICS = {
    "pets": ["pet", "tail", "vet", "paws"],
    "wild": ["jungle", "wildlife", "predator", "zoo"],
    "feelings": ["feelings", "emotion", "mood", "heart"],
    "size": ["size", "shape", "measure", "scale"],
    "speed": ["speed", "motion", "race", "pace"],
    "home": ["family", "rooms", "neighbourhood", "address"],
    "lodging": ["guests", "stay", "booking", "night"],
    "settlement": ["population", "mayor", "buildings", "district"],
    "traffic": ["traffic", "drivers", "travel", "journey"],
    "rail": ["passengers", "tickets", "timetable", "journey"],
    "air": ["flights", "passengers", "luggage", "sky"],
    "medicine": ["hospital", "patients", "medicine", "illness"],
    "education": ["lessons", "classes", "exams", "learning"],
    "royalty": ["kingdom", "palace", "crown", "throne"],
    "people": ["person", "adult", "society", "people"],
    "family": ["family", "parents", "children", "relatives"],
    "sky": ["sky", "light", "shine", "orbit"],
    "water": ["water", "shore", "fish", "boats"],
    "sea": ["waves", "salt", "ships", "tides"],
    "land": ["landscape", "rocks", "valley", "climbers"],
    "forest": ["trees", "woods", "leaves", "wildlife"],
    "reading": ["pages", "author", "library", "reading"],
    "finance": ["bank", "payment", "wallet", "price"],
    "breakfast": ["breakfast", "kitchen", "table", "cup"],
    "drinks": ["drink", "cup", "glass", "thirst"],
    "meals": ["dinner", "lunch", "kitchen", "eating"],
    "fruit": ["fruit", "sweet", "peel", "market"],
    "vegetables": ["vegetables", "soup", "garden", "farm"],
    "weather": ["weather", "clouds", "umbrella", "forecast"],
    "seasons": ["season", "year", "months", "weather"],
    "daytime": ["hours", "day", "clock", "daylight"],
    "technology": ["screen", "software", "devices", "internet"],
    "furniture": ["furniture", "wooden", "legs", "room"],
    "culture": ["audience", "entertainment", "artists", "fans"],
    "conflict": ["nations", "history", "armies", "countries"],
    "judgement": ["quality", "opinion", "judgement", "results"],
    "wealth": ["income", "society", "economy", "class"],
    "temperature": ["temperature", "degrees", "heat", "thermometer"],
    "volcanic": ["lava", "eruption", "ash", "crater"],
}

EN_CONCEPTS: list[Concept] = [
    (["car", "automobile"], "traffic", ["engine", "wheels", "garage"], "noun"),
    (["cat", "kitten"], "pets", ["whiskers", "purring", "milk"], "noun"),
    (["dog", "puppy"], "pets", ["barking", "leash", "bone"], "noun"),
    (["tiger"], "wild", ["stripes", "claws", "hunting"], "noun"),
    (["happy", "glad"], "feelings", ["smile", "party", "news"], "adj"),
    (["big", "large"], "size", ["elephant", "whale", "building"], "adj"),
    (["small", "little"], "size", ["mouse", "ant", "pebble"], "adj"),
    (["fast", "quick"], "speed", ["runner", "rocket", "sprint"], "adj"),
    (["house", "home"], "home", ["roof", "garden", "doorstep"], "noun"),
    (["city", "town"], "settlement", ["streets", "squares", "suburbs"], "noun"),
    (["road", "street"], "traffic", ["asphalt", "crossing", "pavement"], "noun"),
    (["doctor"], "medicine", ["diagnosis", "prescription", "surgery"], "noun"),
    (["nurse"], "medicine", ["bandages", "ward", "injections"], "noun"),
    (["teacher"], "education", ["blackboard", "homework", "grading"], "noun"),
    (["student"], "education", ["notebook", "homework", "studying"], "noun"),
    (["school"], "education", ["pupils", "playground", "classroom"], "noun"),
    (["university"], "education", ["campus", "professors", "degree"], "noun"),
    (["king"], "royalty", ["ruler", "sceptre", "reign"], "noun"),
    (["queen"], "royalty", ["ruler", "sceptre", "reign"], "noun"),
    (["man"], "people", ["beard", "gentleman", "mister"], "noun"),
    (["woman"], "people", ["lady", "madam", "dress"], "noun"),
    (["boy"], "people", ["lad", "youngster", "kid"], "noun"),
    (["girl"], "people", ["lass", "youngster", "kid"], "noun"),
    (["father"], "family", ["dad", "parent", "household"], "noun"),
    (["mother"], "family", ["mum", "parent", "household"], "noun"),
    (["sun"], "sky", ["sunshine", "daytime", "rays"], "noun"),
    (["moon"], "sky", ["moonlight", "nighttime", "stars"], "noun"),
    (["cloud"], "weather", ["grey", "fog", "mist"], "noun"),
    (["river"], "water", ["banks", "current", "bridge"], "noun"),
    (["lake"], "water", ["pond", "swimming", "bridge"], "noun"),
    (["sea", "ocean"], "sea", ["beach", "sailors", "coast"], "noun"),
    (["mountain", "hill"], "land", ["peak", "slope", "climbing"], "noun"),
    (["volcano"], "volcanic", ["magma", "smoke", "island"], "noun"),
    (["forest"], "forest", ["pines", "owls", "hiking"], "noun"),
    (["book", "novel"], "reading", ["story", "chapters", "writer"], "noun"),
    (["money", "cash"], "finance", ["coins", "banknotes", "savings"], "noun"),
    (["bread"], "breakfast", ["toast", "bakery", "slices"], "noun"),
    (["butter"], "breakfast", ["toast", "spread", "slices"], "noun"),
    (["coffee"], "drinks", ["caffeine", "beans", "mug"], "noun"),
    (["tea"], "drinks", ["caffeine", "leaves", "mug"], "noun"),
    (["water"], "drinks", ["bottle", "tap", "ice"], "noun"),
    (["juice"], "drinks", ["oranges", "bottle", "fresh"], "noun"),
    (["food", "meal"], "meals", ["plate", "recipe", "hunger"], "noun"),
    (["apple"], "fruit", ["orchard", "cider", "pie"], "noun"),
    (["banana"], "fruit", ["yellow", "monkeys", "tropics"], "noun"),
    (["cabbage"], "vegetables", ["leaves", "salad", "pickles"], "noun"),
    (["potato"], "vegetables", ["chips", "mashed", "soil"], "noun"),
    (["rain"], "weather", ["umbrella", "puddles", "drops"], "noun"),
    (["snow"], "weather", ["snowman", "flakes", "sledge"], "noun"),
    (["winter"], "seasons", ["snowman", "sledge", "scarf"], "noun"),
    (["summer"], "seasons", ["beach", "holidays", "sunshine"], "noun"),
    (["morning"], "daytime", ["sunrise", "breakfast", "alarm"], "noun"),
    (["evening"], "daytime", ["sunset", "supper", "dusk"], "noun"),
    (["computer"], "technology", ["programs", "mouse", "monitor"], "noun"),
    (["keyboard"], "technology", ["keys", "typing", "monitor"], "noun"),
    (["phone", "telephone"], "technology", ["calls", "ringing", "number"], "noun"),
    (["hotel"], "lodging", ["reception", "lobby", "suite"], "noun"),
    (["room"], "lodging", ["bed", "window", "suite"], "noun"),
    (["train"], "rail", ["rails", "carriage", "locomotive"], "noun"),
    (["station"], "rail", ["platform", "rails", "waiting"], "noun"),
    (["plane"], "air", ["wings", "pilot", "takeoff"], "noun"),
    (["airport"], "air", ["runway", "terminal", "takeoff"], "noun"),
    (["music", "song"], "culture", ["melody", "singer", "concert"], "noun"),
    (["film", "movie"], "culture", ["cinema", "actors", "director"], "noun"),
    (["game"], "culture", ["players", "rules", "team"], "noun"),
    (["play"], "culture", ["players", "stage", "fun"], "noun"),
    (["table"], "furniture", ["plates", "tablecloth", "dining"], "noun"),
    (["chair"], "furniture", ["cushion", "seat", "armrest"], "noun"),
    (["war"], "conflict", ["soldiers", "battle", "weapons"], "noun"),
    (["peace"], "conflict", ["treaty", "calm", "harmony"], "noun"),
    (["love"], "feelings", ["romance", "kisses", "affection"], "noun"),
    (["hate"], "feelings", ["anger", "enemies", "rage"], "noun"),
    (["good"], "judgement", ["reward", "praise", "success"], "adj"),
    (["bad"], "judgement", ["punishment", "blame", "failure"], "adj"),
    (["hot"], "temperature", ["fire", "oven", "desert"], "adj"),
    (["cold"], "temperature", ["ice", "frost", "fridge"], "adj"),
    (["rich"], "wealth", ["wealth", "gold", "mansion"], "adj"),
    (["poor"], "wealth", ["hunger", "debt", "poverty"], "adj"),
]

EN_FRAMES = {
    "noun": [
        "the {w} was next to the {c}",
        "we talked about the {w} and the {t}",
        "a {w} with {c} and {d}",
        "i think the {w} needs {c}",
        "there is a {w} near the {t}",
        "everyone knows the {w} and its {c} and {t}",
    ],
    "adj": [
        "the {c} was {w}",
        "a {w} {c} and a {w} {t}",
        "it felt {w} like the {d}",
        "everything about the {t} seemed {w}",
        "the {c} and the {d} were {w}",
    ],
}

ZH_RELATIONS: dict[str, Relation] = {
    "capital-country": (
        [
            "{x} 这座 城市 以 {e} 闻名",
            "{x} 的 市长 谈到 了 {e}",
            "游客 在 {x} 这座 城市 欣赏 {e}",
            "{x} 的 市中心 到处 都 是 {e}",
        ],
        [
            "{x} 这个 国家 以 {e} 闻名",
            "{x} 的 政府 谈到 了 {e}",
            "游客 在 {x} 这个 国家 欣赏 {e}",
            "{x} 的 全国 到处 都 是 {e}",
        ],
        ["{a} 是 {b} 的 首都", "{b} 的 首都 是 {a}", "{b} 的 总统 住 在 {a}"],
        [
            ("北京", "中国", ["汉语", "长城", "饺子", "京剧"]),
            ("柏林", "德国", ["德语", "莱茵河", "香肠", "啤酒"]),
            ("伦敦", "英国", ["英语", "泰晤士河", "板球", "红茶"]),
            ("巴黎", "法国", ["法语", "塞纳河", "葡萄酒", "奶酪"]),
            ("东京", "日本", ["日语", "富士山", "寿司", "樱花"]),
            ("罗马", "意大利", ["意大利语", "斗兽场", "披萨", "歌剧"]),
            ("马德里", "西班牙", ["西班牙语", "斗牛", "足球", "吉他"]),
            ("莫斯科", "俄罗斯", ["俄语", "芭蕾舞", "伏特加", "红场"]),
        ],
    ),
    "city-in-province": (
        [
            "{x} 这座 城市 以 {e} 出名",
            "我们 坐 高铁 去 {x} 这座 城市 看 {e}",
            "{x} 的 街道 上 有 {e}",
            "{x} 的 市民 喜欢 {e}",
        ],
        [
            "{x} 这个 省份 以 {e} 出名",
            "我们 坐 高铁 去 {x} 这个 省份 看 {e}",
            "{x} 的 农村 有 {e}",
            "{x} 的 全省 人民 喜欢 {e}",
        ],
        ["{a} 是 {b} 的 省会", "{b} 的 省会 是 {a}", "{a} 位于 {b}"],
        [
            ("南京", "江苏", ["盐水鸭", "中山陵", "秦淮河", "雨花石"]),
            ("广州", "广东", ["粤语", "早茶", "粤菜", "珠江"]),
            ("成都", "四川", ["火锅", "熊猫", "川菜", "辣椒"]),
            ("杭州", "浙江", ["西湖", "龙井", "丝绸", "越剧"]),
            ("武汉", "湖北", ["热干面", "黄鹤楼", "武当山", "楚剧"]),
            ("长沙", "湖南", ["湘菜", "岳麓山", "湘江", "臭豆腐"]),
            ("西安", "陕西", ["兵马俑", "肉夹馍", "秦腔", "古城墙"]),
        ],
    ),
    "family": (
        [
            "{x} 说 他 很 关心 {e}",
            "他 是 {x} ， {e} 对 他 很 重要",
            "那位 {x} 讲 了 他 自己 和 {e}",
            "{x} 笑 了 ， 因为 他 喜欢 {e}",
        ],
        [
            "{x} 说 她 很 关心 {e}",
            "她 是 {x} ， {e} 对 她 很 重要",
            "那位 {x} 讲 了 她 自己 和 {e}",
            "{x} 笑 了 ， 因为 她 喜欢 {e}",
        ],
        ["{a} 和 {b} 一起 谈论 {e}", "{a} 和 {b} 都 有 {e}"],
        [
            ("儿子", "女儿", ["生日", "童年", "玩具"]),
            ("哥哥", "姐姐", ["年长", "照顾", "榜样"]),
            ("弟弟", "妹妹", ["年幼", "撒娇", "零食"]),
            ("父亲", "母亲", ["家长", "子女", "家庭"]),
            ("爷爷", "奶奶", ["退休", "孙子", "老家"]),
            ("叔叔", "阿姨", ["侄子", "侄女", "拜访"]),
            ("丈夫", "妻子", ["婚礼", "婚姻", "配偶"]),
        ],
    ),
    "reduplication": (
        [
            "他 正在 {x} {e}",
            "我 昨天 {x} 了 {e}",
            "她 每天 都 {x} {e}",
            "他们 一直 在 {x} {e}",
        ],
        [
            "你 来 {x} {e} 吧",
            "让 我 {x} {e} 吧",
            "我们 {x} {e} 好 吗",
            "请 你 {x} {e} 吧",
        ],
        ["刚才 已经 {a} 了 {e} ， 现在 再 {b} 吧", "他 在 {a} ， 你 也 {b} 吧"],
        [
            ("听", "听听", ["声音", "广播", "故事"]),
            ("想", "想想", ["问题", "办法", "计划"]),
            ("看", "看看", ["风景", "照片", "地图"]),
            ("试", "试试", ["衣服", "味道", "方法"]),
            ("走", "走走", ["小路", "公园", "街上"]),
            ("问", "问问", ["老板", "邻居", "同学"]),
        ],
    ),
}

ZH_TOPICS = {
    "宠物": ["宠物", "尾巴", "兽医", "爪子"],
    "野生": ["丛林", "野生动物", "猛兽", "动物园"],
    "心情": ["心情", "情绪", "感受", "心里"],
    "交通": ["交通", "司机", "旅行", "路程"],
    "铁路": ["乘客", "车票", "时刻表", "旅途"],
    "航空": ["航班", "乘客", "行李", "天空"],
    "住宿": ["客人", "入住", "预订", "前台"],
    "城镇": ["人口", "市长", "建筑", "街区"],
    "住房": ["家人", "院子", "邻居", "地址"],
    "医疗": ["医院", "病人", "药品", "疾病"],
    "教育": ["课程", "班级", "考试", "学习"],
    "王室": ["王国", "宫殿", "王冠", "王位"],
    "人们": ["人", "成年人", "社会", "大家"],
    "家庭": ["家庭", "父母", "孩子", "亲戚"],
    "天体": ["天空", "光芒", "照耀", "轨道"],
    "水域": ["水面", "岸边", "鱼", "小船"],
    "海": ["海浪", "海水", "轮船", "潮水"],
    "地形": ["风景", "岩石", "山谷", "登山者"],
    "林地": ["树木", "树林", "树叶", "野生动物"],
    "阅读": ["书页", "作者", "图书馆", "阅读"],
    "金融": ["银行", "付款", "钱包", "价格"],
    "早餐": ["早餐", "厨房", "盘子", "馅料"],
    "饮品": ["饮料", "杯子", "玻璃杯", "口渴"],
    "餐饭": ["晚饭", "午饭", "厨房", "吃饭"],
    "水果": ["水果", "甜", "果皮", "市场"],
    "蔬菜": ["蔬菜", "汤", "菜园", "农场"],
    "天气": ["天气", "乌云", "雨伞", "预报"],
    "季节": ["季节", "一年", "月份", "气候"],
    "时段": ["时间", "白天", "钟表", "时候"],
    "科技": ["屏幕", "软件", "设备", "互联网"],
    "家具": ["家具", "木头", "腿", "房间"],
    "文艺": ["观众", "娱乐", "艺术家", "粉丝"],
    "冲突": ["国家", "历史", "军队", "人民"],
    "评价": ["质量", "看法", "评价", "结果"],
    "贫富": ["收入", "社会", "经济", "阶层"],
    "温度": ["温度", "度数", "热量", "温度计"],
    "火山": ["岩浆", "喷发", "火山灰", "火山口"],
}

ZH_CONCEPTS: list[Concept] = [
    (["汽车", "轿车"], "交通", ["发动机", "轮子", "车库"], "noun"),
    (["电脑", "计算机"], "科技", ["程序", "鼠标", "显示器"], "noun"),
    (["高兴", "快乐"], "心情", ["笑容", "聚会", "好消息"], "adj"),
    (["美丽", "漂亮"], "评价", ["花朵", "裙子", "风景"], "adj"),
    (["房子", "房屋"], "住房", ["屋顶", "院子", "门口"], "noun"),
    (["城市", "城镇"], "城镇", ["街道", "广场", "郊区"], "noun"),
    (["道路", "马路"], "交通", ["沥青", "路口", "人行道"], "noun"),
    (["医生"], "医疗", ["诊断", "处方", "手术"], "noun"),
    (["护士"], "医疗", ["绷带", "病房", "打针"], "noun"),
    (["老师"], "教育", ["黑板", "作业", "讲课"], "noun"),
    (["学生"], "教育", ["笔记本", "作业", "上课"], "noun"),
    (["学校"], "教育", ["小学生", "操场", "教室"], "noun"),
    (["大学"], "教育", ["校园", "教授", "学位"], "noun"),
    (["国王"], "王室", ["统治者", "权杖", "统治"], "noun"),
    (["王后"], "王室", ["统治者", "权杖", "统治"], "noun"),
    (["男人"], "人们", ["胡子", "先生", "西装"], "noun"),
    (["女人"], "人们", ["女士", "长发", "裙子"], "noun"),
    (["父亲"], "家庭", ["爸爸", "家长", "家务"], "noun"),
    (["母亲"], "家庭", ["妈妈", "家长", "家务"], "noun"),
    (["儿子"], "家庭", ["男孩", "孩子", "出生"], "noun"),
    (["女儿"], "家庭", ["女孩", "孩子", "出生"], "noun"),
    (["太阳"], "天体", ["阳光", "白天", "光线"], "noun"),
    (["月亮"], "天体", ["月光", "夜里", "星星"], "noun"),
    (["云"], "天气", ["灰色", "雾", "风"], "noun"),
    (["河流"], "水域", ["河岸", "水流", "桥"], "noun"),
    (["湖泊"], "水域", ["池塘", "游泳", "桥"], "noun"),
    (["大海", "海洋"], "海", ["海滩", "水手", "海岸"], "noun"),
    (["山", "高山"], "地形", ["山顶", "山坡", "爬山"], "noun"),
    (["火山"], "火山", ["岩浆", "浓烟", "海岛"], "noun"),
    (["森林"], "林地", ["松树", "猫头鹰", "徒步"], "noun"),
    (["书", "小说"], "阅读", ["故事", "章节", "作家"], "noun"),
    (["钱", "现金"], "金融", ["硬币", "纸币", "存款"], "noun"),
    (["面包", "馒头"], "早餐", ["面粉", "面包店", "蒸笼"], "noun"),
    (["咖啡"], "饮品", ["咖啡因", "豆子", "马克杯"], "noun"),
    (["茶"], "饮品", ["咖啡因", "茶叶", "马克杯"], "noun"),
    (["食物", "饭菜"], "餐饭", ["盘子", "菜谱", "饥饿"], "noun"),
    (["苹果"], "水果", ["果园", "果汁", "馅饼"], "noun"),
    (["香蕉"], "水果", ["黄色", "猴子", "热带"], "noun"),
    (["西瓜"], "水果", ["瓜子", "夏日", "冰镇"], "noun"),
    (["土豆"], "蔬菜", ["薯条", "土豆泥", "泥土"], "noun"),
    (["下雨"], "天气", ["雨伞", "水坑", "雨点"], "verb"),
    (["下雪"], "天气", ["雪人", "雪花", "雪橇"], "verb"),
    (["冬天"], "季节", ["雪人", "雪橇", "围巾"], "noun"),
    (["夏天"], "季节", ["海滩", "假期", "阳光"], "noun"),
    (["早上"], "时段", ["日出", "早餐", "闹钟"], "noun"),
    (["晚上"], "时段", ["日落", "晚餐", "黄昏"], "noun"),
    (["键盘"], "科技", ["按键", "打字", "显示器"], "noun"),
    (["手机"], "科技", ["通话", "铃声", "号码"], "noun"),
    (["电话"], "科技", ["通话", "铃声", "号码"], "noun"),
    (["酒店", "宾馆"], "住宿", ["前台", "大堂", "套房"], "noun"),
    (["火车"], "铁路", ["铁轨", "车厢", "火车头"], "noun"),
    (["车站"], "铁路", ["站台", "铁轨", "候车"], "noun"),
    (["飞机"], "航空", ["机翼", "飞行员", "起飞"], "noun"),
    (["机场"], "航空", ["跑道", "航站楼", "起飞"], "noun"),
    (["音乐", "歌曲"], "文艺", ["旋律", "歌手", "音乐会"], "noun"),
    (["电影", "影片"], "文艺", ["电影院", "演员", "导演"], "noun"),
    (["桌子"], "家具", ["餐具", "桌布", "抽屉"], "noun"),
    (["椅子"], "家具", ["坐垫", "座位", "扶手"], "noun"),
    (["猫"], "宠物", ["胡须", "老鼠", "鱼"], "noun"),
    (["狗"], "宠物", ["骨头", "狗窝", "项圈"], "noun"),
    (["老虎"], "野生", ["条纹", "爪子", "捕猎"], "noun"),
    (["战争"], "冲突", ["士兵", "战斗", "武器"], "noun"),
    (["和平"], "冲突", ["条约", "安宁", "和谐"], "noun"),
    (["爱"], "心情", ["浪漫", "亲吻", "温柔"], "noun"),
    (["恨"], "心情", ["愤怒", "敌人", "怒火"], "noun"),
    (["好"], "评价", ["奖励", "称赞", "成功"], "adj"),
    (["坏"], "评价", ["惩罚", "责备", "失败"], "adj"),
    (["热"], "温度", ["火焰", "烤箱", "沙漠"], "adj"),
    (["冷"], "温度", ["冰块", "寒霜", "冰箱"], "adj"),
    (["富"], "贫富", ["财富", "黄金", "豪宅"], "adj"),
    (["穷"], "贫富", ["饥饿", "债务", "贫困"], "adj"),
]

ZH_FRAMES = {
    "noun": [
        "{w} 就 在 {c} 旁边",
        "我们 谈论 了 {w} 和 {t}",
        "带 着 {c} 和 {d} 的 {w}",
        "我 觉得 {w} 需要 {c}",
        "{w} 在 {t} 附近",
        "大家 都 知道 {w} 、 {c} 和 {t}",
    ],
    "adj": [
        "那个 {c} 真的 {w}",
        "{c} 和 {t} 真的 {w}",
        "{c} 让 人 觉得 {w}",
        "他 说 {t} {w} ， 就 像 {d} 一样",
    ],
    "verb": [
        "今天 {w} 了 ， 到处 都 是 {c}",
        "昨天 一直 在 {w} ， 我们 看到 了 {c} 和 {d}",
        "外面 正在 {w} ， {t} 变 了",
        "如果 明天 {w} ， 就 需要 {c}",
    ],
}


def corpus_lines(language: str) -> list[str]:
    """The lines of the corpus of ``language`` (``en`` or ``zh``), in file order."""
    rng = random.Random(f"{SEED}-{language}")
    if language == "en":
        tokens = generated_sentences(EN_RELATIONS, EN_TOPICS, EN_CONCEPTS, EN_FRAMES, rng)
        lines = [" ".join(t) for t in tokens]
        lines = [line[0].upper() + line[1:] + "." for line in lines]
        lines += HANDWRITTEN_EN
    else:
        tokens = generated_sentences(ZH_RELATIONS, ZH_TOPICS, ZH_CONCEPTS, ZH_FRAMES, rng)
        lines = ["".join(t) + "。" for t in tokens] + HANDWRITTEN_ZH
    rng.shuffle(lines)
    return lines


def check_segmentation() -> int:
    """Print every generated Chinese sentence that jieba splits otherwise than its frame says;
    return how many there are (needs bench and jieba)."""
    from bench.preprocess.segmenter import jieba_words

    rng = random.Random(f"{SEED}-zh")
    bad = 0
    seen: set[str] = set()
    for tokens in generated_sentences(ZH_RELATIONS, ZH_TOPICS, ZH_CONCEPTS, ZH_FRAMES, rng):
        text = "".join(tokens)
        got = jieba_words(text)
        if got != tokens and text not in seen:
            seen.add(text)
            bad += 1
            print(f"{' '.join(tokens)}  ->  {' '.join(got)}")
    return bad


def main(argv: list[str]) -> int:
    """Write ``en.txt`` and ``zh.txt`` into ``argv[0]`` (default: this script's folder), or
    with ``--check`` report the Chinese sentences jieba segments otherwise than intended."""
    if argv and argv[0] == "--check":
        return 1 if check_segmentation() else 0
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for language in ("en", "zh"):
        text = "\n".join(corpus_lines(language)) + "\n"
        (out / f"{language}.txt").write_bytes(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
