"""Synthetic Chinese names: Anhui surnames, era-typical given names, and how clerks mistype them."""

from __future__ import annotations

import random
from bisect import bisect
from functools import cache
from itertools import accumulate

import opencc

# common surnames in 六安 with rough relative weights; the weights make namesakes common
SURNAMES = (
    ("王", 9), ("张", 8), ("李", 7), ("刘", 6), ("陈", 6), ("杨", 5), ("汪", 4), ("许", 4),
    ("胡", 4), ("朱", 4), ("徐", 3), ("吴", 3), ("黄", 3), ("周", 3), ("孙", 2), ("马", 2),
    ("高", 2), ("方", 2), ("余", 2), ("程", 2), ("何", 2), ("赵", 2), ("储", 1), ("钱", 1),
    ("戴", 1), ("魏", 1), ("姚", 1), ("彭", 1), ("夏", 1), ("邓", 1), ("罗", 1), ("童", 1),
    ("葛", 1), ("丁", 1), ("蒋", 1), ("谢", 1), ("秦", 1), ("叶", 1), ("金", 1), ("潘", 1),
)  # fmt: skip

# given-name characters by sex and era (born before 1965, 1965-1989, 1990 and later)
GIVEN = {
    (True, 0): (
        "德才 家富 明华 开明 传宝 正发 德胜 永福 成林 长海 学文 树林 国强 建国 "
        "庆福 宝山 发明 兴旺 德富 友才 家宝 有财 国华 春生 玉林 生 福 宝 才"
    ),
    (False, 0): (
        "秀英 桂兰 玉兰 秀兰 桂英 凤英 玉梅 兰英 秀珍 桂芳 翠兰 秀云 玉珍 春兰 "
        "凤兰 秀芳 桂珍 玉英 翠英 莲英 英 兰 芳 珍 凤 翠 莲 香"
    ),
    (True, 1): (
        "建华 志强 海涛 晓东 国庆 文斌 建军 红兵 春雷 立新 明亮 俊峰 永刚 德明 "
        "家俊 成龙 伟 强 军 勇 刚 斌 涛 磊 明 辉 峰 杰 林 波"
    ),
    (False, 1): (
        "红梅 丽娟 海燕 春燕 晓红 秀梅 丽华 玉玲 春霞 小红 桂香 文静 丽 红 燕 "
        "芳 敏 静 娟 霞 萍 玲 琴 云 洁 慧 艳 莉"
    ),
    (True, 2): (
        "浩然 子轩 宇轩 俊杰 浩宇 梓豪 子豪 宇航 家豪 一鸣 泽宇 睿 鹏 飞 超 浩 "
        "俊 晨 凯 航 豪 磊 杰 博 文 成 志 宇"
    ),
    (False, 2): (
        "欣怡 子涵 雨涵 梓涵 诗涵 佳怡 思雨 欣妍 雨欣 可馨 梦瑶 婷 雪 慧 丹 "
        "晨 倩 瑶 琪 妍 雅 楠 娜 佳 欣 怡 萱 蓉"
    ),
}
GIVEN_POOLS = {key: tuple(text.split()) for key, text in GIVEN.items()}

MINORITY_NAMES = {
    True: ("艾力·买买提", "阿不都·热合曼", "买买提·吐尔逊", "努尔·艾买提"),
    False: ("阿依古丽·买买提", "热依拉·艾力", "古丽娜尔·吐尔逊", "帕提古丽·阿不都"),
}
MINORITY_DOTS = ("•", ".", "．", "・", "")

# characters that sound exactly alike (same toneless pinyin): what a clerk types by ear
HOMOPHONE_GROUPS = (
    "英瑛", "明铭鸣", "华桦骅", "芳方", "红虹鸿", "军君钧", "伟玮炜", "丽莉俐", "敏闵珉", "静靖婧", "涛韬", "辉晖", "峰锋丰", "杰洁捷",
    "玲铃羚", "兰岚", "梅玫", "霞侠", "燕艳雁", "萍平苹", "娟鹃", "勇永咏", "刚钢", "斌彬", "林琳霖", "波博", "强蔷", "国帼", "建健",
    "文雯", "东冬", "春椿", "秀琇", "桂贵", "珍贞", "云芸耘", "玉钰毓", "宇雨羽", "浩昊皓", "俊骏", "子梓紫", "涵晗", "欣馨", "怡宜仪",
    "轩萱宣", "佳嘉家", "晨辰宸", "鹏朋", "飞菲霏", "婷庭亭", "慧惠蕙", "成诚承", "志智", "荣蓉容", "庆青", "德得", "福富", "发法",
    "才财", "生升", "宝保", "凤奉", "翠萃", "琴勤", "香湘", "莲连", "磊垒", "超潮", "丹单", "娜纳", "倩茜", "瑶遥", "琪琦奇",
    "妍研", "雅亚", "航杭", "豪毫", "睿锐", "凯楷", "龙隆", "亮谅", "雷蕾", "新辛", "山珊", "兴星", "友有", "海亥", "立丽", "泽择",
)  # fmt: skip
HOMOPHONES: dict[str, tuple[str, ...]] = {
    ch: tuple(other for other in group if other != ch) for group in HOMOPHONE_GROUPS for ch in group
}

SURNAME_CHARS = tuple(s for s, _ in SURNAMES)
SURNAME_CUM = tuple(accumulate(w for _, w in SURNAMES))


def era_of(birth_year: int) -> int:
    return 0 if birth_year < 1965 else 1 if birth_year < 1990 else 2


def surname(rng: random.Random) -> str:
    return SURNAME_CHARS[bisect(SURNAME_CUM, rng.random() * SURNAME_CUM[-1])]


def given_name(rng: random.Random, male: bool, birth_year: int) -> str:
    pool = GIVEN_POOLS[(male, era_of(birth_year))]
    return pool[int(rng.random() * len(pool))]


def full_name(rng: random.Random, male: bool, birth_year: int) -> str:
    return surname(rng) + given_name(rng, male, birth_year)


def homophone(name: str, rng: random.Random) -> str | None:
    """Replace one given-name character by a same-sounding one; None when no character has one."""
    positions = [i for i in range(1, len(name)) if name[i] in HOMOPHONES]
    if not positions or "·" in name:
        return None
    pos = rng.choice(positions)
    return name[:pos] + rng.choice(HOMOPHONES[name[pos]]) + name[pos + 1 :]


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def traditional(name: str) -> str | None:
    converted = _converter().convert(name)
    return converted if converted != name else None


def spaced(name: str, rng: random.Random) -> str:
    if "·" in name:
        return name.replace("·", " · ")
    gap = rng.choice((" ", " ", "\u3000", "  "))
    return name[0] + gap + name[1:]


def minority_variant(name: str, rng: random.Random) -> str | None:
    return name.replace("·", rng.choice(MINORITY_DOTS)) if "·" in name else None
