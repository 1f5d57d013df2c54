"""Jin'an district geography for synthetic data: townships, village names, groups and grids."""

from __future__ import annotations

import math
import random

from .common import chinese_number

# (statistical code, name, relative rural population)
TOWNSHIPS: tuple[tuple[str, str, float], ...] = (
    ("341502100", "木厂镇", 1.2),
    ("341502101", "马头镇", 1.0),
    ("341502102", "东桥镇", 1.5),
    ("341502103", "张店镇", 1.3),
    ("341502104", "毛坦厂镇", 1.1),
    ("341502105", "东河口镇", 1.0),
    ("341502106", "双河镇", 0.9),
    ("341502107", "施桥镇", 1.1),
    ("341502108", "孙岗镇", 1.2),
    ("341502109", "三十铺镇", 1.0),
    ("341502110", "椿树镇", 0.9),
    ("341502111", "城北镇", 0.8),
    ("341502112", "中店镇", 0.8),
    ("341502113", "先生店镇", 0.9),
    ("341502201", "翁墩乡", 0.7),
    ("341502202", "淠东乡", 0.7),
    ("341502204", "横塘岗乡", 0.8),
    ("341502003", "三里桥街道", 0.4),
    ("341502004", "望城街道", 0.5),
    ("341502005", "清水河街道", 0.4),
)

# village names seen in public gazetteers (historical; synthetic use only)
KNOWN_VILLAGES = {
    "东桥镇": "新街 兴和 马集 大岗 庙岗 六岗 河山 王岗 窑厂 老鸹 先锋 罗老 中果 潘店 增联 高桥 任郢 "
    "金桥 油坊 二道杠 街西 青峰 张巷 莲花 八里杠",
    "木厂镇": "双沟 桂花 新塘 姜圩 旗杆 吴大圩 孟岗 潘新 红郢 杨桥 兔岗 石闸 五里桥 新庄",
    "三十铺镇": "双墩 北山",
}
VILLAGE_SUFFIXES = "郢圩岗畈冲店集"
VILLAGE_PREFIXES = (
    "王", "张", "李", "刘", "陈", "杨", "汪", "许", "胡", "朱", "徐", "吴", "黄", "周", "孙", "马", "高", "方", "余",
    "程", "储", "戴", "姚", "彭", "童", "葛", "丁", "蒋", "潘", "桂花", "松林", "枣树", "柳树", "杏花", "石桥", "新", "老",
    "大", "小", "东", "西", "南", "北", "双", "三", "五", "七", "八", "九", "塘", "山", "河", "湾", "黄泥", "龙潭",
    "凤凰", "白果", "青山", "桃园", "油坊", "瓦房", "茶棚", "观音", "金鸡", "洪家", "汪家", "许家",
)  # fmt: skip


def short_name(township: str) -> str:
    """The name without its 镇/乡/街道 suffix, as clerks write it into a template blank."""
    for suffix in ("街道", "镇", "乡"):
        if township.endswith(suffix) and len(township) > len(suffix) + 1:
            return township[: -len(suffix)]
    return township


def villages_per_township(weight: float, members: int) -> int:
    """3 to 15 villages, more for bigger townships and bigger districts."""
    base = 3 + 7 * min(1.0, max(0.0, math.log10(max(members, 1000) / 1000) / 3))
    return max(3, min(15, round(base * weight)))


def village_names(township: str, count: int, rng: random.Random) -> list[str]:
    known = KNOWN_VILLAGES.get(township, "").split()
    rng.shuffle(known)
    names = [f"{n}村" for n in known[:count]]
    seen = set(names)
    while len(names) < count:
        name = f"{rng.choice(VILLAGE_PREFIXES)}{rng.choice(VILLAGE_SUFFIXES)}村"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def group_names(count: int, rng: random.Random) -> list[str]:
    """村民组 names: numbered (一组, 二组) in most villages, natural-village names in some."""
    if rng.random() < 0.7:
        return [f"{chinese_number(i)}组" for i in range(1, count + 1)]
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(VILLAGE_PREFIXES)}{rng.choice(VILLAGE_SUFFIXES)}组"
        if name not in names:
            names.append(name)
    return names


def grid_names(group: str, households: int) -> list[str]:
    """One grid per small group (`三组网格`); bigger groups split (`王岗组第一网格`, `第二网格`…)."""
    parts = max(1, math.ceil(households / 40))
    if parts == 1:
        return [f"{group}网格"]
    return [f"{group}第{chinese_number(i)}网格" for i in range(1, parts + 1)]
