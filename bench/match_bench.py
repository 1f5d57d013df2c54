"""Matcher benchmark: a synthetic district with known truth, our tiered matcher against Splink 5.

Run `python bench/match_bench.py --members 1000000`. The data comes from `build_district`
(a stand-in until the project's generator can produce the same truth); each matcher runs in
its own process so that its wall time and peak RSS are its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opencc
import polars as pl
from pypinyin import Style, lazy_pinyin

# --- the synthetic district -------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤储葛童"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
MALE_GIVEN = (
    "伟强军磊洋勇杰涛明超华平刚建国志文斌辉鹏林波宇浩俊峰海东成庆生福贵荣祥德胜全发春山根龙云飞"
    "亮晓新兵永学义金宝才长忠良正家传开友元光启中兴安顺利清松柏青中玉树田德仁礼信广"
)
FEMALE_GIVEN = (
    "秀英兰芳丽红梅霞玲琴娟燕萍华敏静桂珍凤玉琳婷雪莉娜慧彩菊翠云艳春花香月娥凤仙荣素琼菲"
    "晶洁瑶欣怡佳悦雯倩婉莹颖丹妮蓉薇蕾琪璐萱淑惠贞兰玲"
)
MINORITY_PARTS = ("买买提", "艾力", "阿不都", "热合曼", "吐尔逊", "古丽", "阿依", "努尔", "帕提", "艾买提")  # fmt: skip
DOT_VARIANTS = ("•", ".", "・", "")
TOWNSHIPS = (
    "三十铺镇", "东桥镇", "木厂镇", "毛坦厂镇", "张店镇", "孙岗镇", "东河口镇", "双河镇", "施桥镇",
    "椿树镇", "横塘岗乡", "翁墩乡", "中店乡", "先生店乡", "城北乡", "马头镇", "淠东乡",
)  # fmt: skip
VILLAGE_CHARS = (
    "王张李刘陈杨黄吴周徐孙马朱胡郭何高林罗东南西北大小新老上下前后山河湖桥塘岗冲湾圩店集庄"
)
DISTRICT_AREA = "341502"
LEGACY_AREAS = ("342401", "342422")
OTHER_AREAS = ("341521", "341522", "341523", "341524", "341525", "340104", "342426")
OUTSIDE_AREAS = ("340104", "320324", "410102", "341203", "341702")

# department sources: (name, weight, household_level, share carrying 乡镇+村, share carrying
# 乡镇 only (per-township files without a 村 column), share with their own birth date)
SOURCES = (
    ("medical_claims", 38, False, 0.05, 0.5, 0.0),
    ("medical_enrollment", 22, False, 0.05, 0.5, 0.0),
    ("civil_affairs", 6, False, 0.6, 0.2, 0.0),
    ("education", 7, False, 0.5, 0.2, 0.8),
    ("public_security", 2, False, 0.3, 0.0, 0.6),
    ("disability", 3, False, 0.5, 0.0, 0.5),
    ("hrss", 3, False, 0.4, 0.0, 0.0),
    ("vehicles", 3, False, 0.05, 0.0, 0.0),
    ("property", 1, False, 0.05, 0.0, 0.0),
    ("market", 1, False, 0.05, 0.0, 0.0),
    ("petition", 1, False, 0.5, 0.0, 0.0),
    ("public_servants", 1, False, 0.05, 0.0, 0.0),
    ("housing", 5, True, 0.97, 0.0, 0.0),
    ("emergency", 3, True, 0.97, 0.0, 0.0),
    ("water", 4, True, 0.97, 0.0, 0.0),
)

# ID messes on records that carry an ID (the rest: none); household-level records leave the ID
# blank far more often (HOUSEHOLD_ID_BLANK).
ID_MESSES = (
    ("typo", 0.020),
    ("transposition", 0.010),
    ("family_id", 0.015),
    ("legacy15", 0.015),
    ("lower_x", 0.003),
    ("fullwidth", 0.005),
    ("destroyed", 0.015),
    ("missing", 0.030),
    ("invalid", 0.003),
)
HOUSEHOLD_ID_BLANK = 0.6
NAME_MESSES = (
    ("homophone", 0.020),
    ("traditional", 0.010),
    ("spaces", 0.010),
    ("one_char", 0.005),
    ("dropped_char", 0.003),  # 王秀英 written 王秀 or 王英
)
OUTSIDE_ROSTER = 0.04
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.frombuffer(b"10X98765432", dtype=np.uint8)


@dataclass
class District:
    """Roster, department records and the truth behind every record.

    `roster` has the matcher's roster columns plus `birth` (true birth date), `true_id` and
    `roster_mess`; `records` has the matcher's record columns; `truth` has `record_key`,
    `true_member` (member_key, null for someone not in the roster), `true_household`,
    `true_name`, `id_mess`, `name_mess`, `roster_mess` and, optionally, `recoverable`.
    Another generator plugs in by building these three frames (see `build_district`).
    """

    roster: pl.DataFrame
    records: pl.DataFrame
    truth: pl.DataFrame


def _zipf(rng: np.random.Generator, n_items: int, size: int, skew: float = 1.0) -> np.ndarray:
    weights = 1.0 / (np.arange(n_items) + 3.0) ** skew
    return rng.choice(n_items, size=size, p=weights / weights.sum())


def _with_check(bodies: list[str]) -> list[str]:
    digits = np.array(bodies, dtype="S17").view(np.uint8).reshape(-1, 17).astype(np.int64) - 48
    checks = CHECK_CHARS[(digits @ WEIGHTS) % 11].tobytes().decode()
    return [b + c for b, c in zip(bodies, checks, strict=True)]


def _check_ok(id_number: str) -> bool:
    body = np.frombuffer(id_number[:17].encode(), dtype=np.uint8).astype(np.int64) - 48
    return chr(CHECK_CHARS[int(body @ WEIGHTS) % 11]) == id_number[17]


def _homophone_table() -> dict[str, list[str]]:
    # Every GB2312 character grouped by toneless pinyin: a clerk typing by ear picks another
    # character of the same group.
    chars = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    groups: dict[str, list[str]] = {}
    for char in chars:
        groups.setdefault(lazy_pinyin(char, style=Style.NORMAL)[0], []).append(char)
    return {c: [o for o in groups[lazy_pinyin(c, style=Style.NORMAL)[0]] if o != c] for c in chars}


def _names(
    rng: np.random.Generator, surnames: np.ndarray, male: np.ndarray, generation: np.ndarray
) -> list[str]:
    """Given names by sex, two characters for most; `generation` (>= 0) shares a first
    character among siblings, as 辈分字 do."""
    n = len(surnames)
    length = np.where(rng.random(n) < 0.8, 2, 1)
    male_pick = _zipf(rng, len(MALE_GIVEN), (n, 2), 0.9)
    female_pick = _zipf(rng, len(FEMALE_GIVEN), (n, 2), 0.9)
    out = []
    for i in range(n):
        pool, pick = (MALE_GIVEN, male_pick[i]) if male[i] else (FEMALE_GIVEN, female_pick[i])
        first = pool[pick[0]] if generation[i] < 0 else MALE_GIVEN[generation[i]]
        given = first + pool[pick[1]] if length[i] == 2 else pool[pick[1]]
        out.append(surnames[i] + given)
    return out


def build_district(n_members: int, n_records: int, seed: int = 7) -> District:
    """A district roster of about `n_members` people and `n_records` department records, with
    the messes of real extracts at a few percent each and the truth for every record."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5, 6, 7], size=n_members // 3 + 10,
                       p=[0.12, 0.25, 0.22, 0.2, 0.12, 0.06, 0.03])  # fmt: skip
    sizes = sizes[np.cumsum(sizes) <= n_members]
    n_households = len(sizes)
    n_villages = max(12, n_members // 3500)
    village_town = rng.choice(len(TOWNSHIPS), size=n_villages)
    village_names = []
    for v in range(n_villages):
        # Two villages of the same name in different townships happen: they must not mix.
        pair = (
            VILLAGE_CHARS[rng.integers(len(VILLAGE_CHARS))]
            + VILLAGE_CHARS[rng.integers(len(VILLAGE_CHARS))]
        )
        village_names.append(pair + "村" if v % 40 else "新华村")
    household_village = _zipf(rng, n_villages, n_households, 0.3)

    member_household = np.repeat(np.arange(n_households), sizes)
    position = np.arange(len(member_household)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n = len(member_household)
    size_of = sizes[member_household]
    is_parent = (size_of >= 5) & (position == size_of - 1) & (rng.random(n) < 0.6)
    role = np.where(position == 0, 0, np.where(position == 1, 1, 2))
    role = np.where(is_parent, 3, role)  # 0 head, 1 spouse, 2 child, 3 parent of head

    head_male = rng.random(n_households) < 0.9
    head_year = rng.integers(1945, 1996, n_households)
    year = head_year[member_household].copy()
    male = head_male[member_household].copy()
    spouse = role == 1
    year[spouse] += rng.integers(-4, 5, spouse.sum())
    male[spouse] = ~male[spouse]
    child = role == 2
    year[child] += rng.integers(22, 38, child.sum())
    male[child] = rng.random(child.sum()) < 0.52
    parent = role == 3
    year[parent] -= rng.integers(22, 34, parent.sum())
    male[parent] = rng.random(parent.sum()) < 0.4
    year = np.minimum(year, 2024)
    birth = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + rng.integers(
        0, 365, n
    ).astype("timedelta64[D]")

    surname_pick = _zipf(rng, len(SURNAMES), n_households + n, 1.1)
    family_surname = np.array([SURNAMES[i] for i in surname_pick[:n_households]], dtype=object)
    own_surname = np.array([SURNAMES[i] for i in surname_pick[n_households:]], dtype=object)
    compound = rng.random(n_households) < 0.002
    family_surname[compound] = rng.choice(COMPOUND_SURNAMES, compound.sum())
    surname = family_surname[member_household]
    marries_in = spouse | (parent & ~male)
    surname[marries_in] = own_surname[marries_in]
    generation_char = np.where(rng.random(n_households) < 0.5,
                               rng.integers(0, len(MALE_GIVEN), n_households), -1)  # fmt: skip
    generation = np.where(child, generation_char[member_household], -1)
    names = _names(rng, surname, male, generation)
    minority = rng.random(n) < 0.001
    for i in np.flatnonzero(minority):
        parts = rng.choice(MINORITY_PARTS, 2, replace=False)
        names[i] = f"{parts[0]}·{parts[1]}"

    area = np.full(n, DISTRICT_AREA, dtype=object)
    legacy = (year < 1990) & (rng.random(n) < 0.4)
    area[legacy] = rng.choice(LEGACY_AREAS, legacy.sum())
    moved_in = marries_in & (rng.random(n) < 0.25)
    area[moved_in] = rng.choice(OTHER_AREAS, moved_in.sum())
    birth_text = pl.Series(birth).dt.strftime("%Y%m%d").to_list()
    sequence = rng.integers(0, 500, n) * 2 + male.astype(int)
    ids = _with_check(
        [f"{a}{b}{s:03d}" for a, b, s in zip(area, birth_text, sequence, strict=True)]
    )
    seen: set[str] = set()
    for i, id_number in enumerate(ids):  # people of one area and birthday get distinct numbers
        while id_number in seen:
            sequence[i] = (sequence[i] + 2) % 1000
            id_number = _with_check([f"{area[i]}{birth_text[i]}{sequence[i]:03d}"])[0]
        ids[i] = id_number
        seen.add(id_number)

    household_ids = np.array([f"H{h:07d}" for h in range(n_households)], dtype=object)
    roster = pl.DataFrame(
        {
            "household_id": household_ids[member_household],
            "name": names,
            "id_number": ids,
            "birth": birth,
            "village_index": household_village[member_household],
            "relation": np.array(["户主", "配偶", "子女", "父母"])[role],
            "is_head": role == 0,
            "male": male,
        }
    ).with_columns(pl.col("birth").cast(pl.Date))
    roster = roster.with_columns(
        pl.Series("id_status", ["valid"] * n),
        pl.Series("true_id", ids),
        pl.Series("roster_mess", ["none"] * n),
    )
    roster = _roster_messes(roster, rng)
    village_index = roster["village_index"].to_numpy()
    roster = roster.with_columns(
        township=pl.Series(np.array(TOWNSHIPS)[village_town][village_index]),
        village=pl.Series(np.array(village_names)[village_index]),
        birth_known=pl.Series(rng.random(roster.height) < 0.7),
    )
    roster = roster.with_columns(
        member_key=pl.col("household_id") + "|" + pl.coalesce("id_number", "name"),
        birth_date=pl.when(pl.col("birth_known") | pl.col("id_number").is_null())
        .then(pl.col("birth"))
        .otherwise(None),
    )
    # Two rows of one household under one ID (or, without an ID, one name) would share a key.
    roster = roster.with_columns(
        member_key=pl.when(pl.col("member_key").is_duplicated())
        .then(pl.col("member_key") + "#" + pl.int_range(pl.len()).cast(pl.String))
        .otherwise(pl.col("member_key"))
    )
    records, truth = _records(roster, n_records, village_town, village_names, rng)
    return District(
        roster=roster.select(
            "member_key",
            "household_id",
            "name",
            "id_number",
            "id_status",
            "birth_date",
            "township",
            "village",
            "relation",
            "is_head",
            "true_id",
            "roster_mess",
            "birth",
        ),  # fmt: skip
        records=records,
        truth=truth,
    )


def _roster_messes(roster: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Roster data-quality problems: members without ID, one person in two households, two
    people under one ID, a mistyped roster ID, extra namesakes within a village."""
    n = roster.height
    rows = roster.to_dicts()
    draw = rng.random(n)
    extra = []
    for i in np.flatnonzero(draw < 0.005):
        if rows[i]["relation"] == "子女":
            rows[i].update(id_number=None, id_status="missing", roster_mess="no_id")
    for i in np.flatnonzero((draw >= 0.005) & (draw < 0.0055)):
        copy = dict(rows[i])
        copy.update(household_id=rows[int(rng.integers(n))]["household_id"], is_head=False,
                    relation="其他", roster_mess="two_households")  # fmt: skip
        rows[i]["roster_mess"] = "two_households"
        extra.append(copy)
    for i in np.flatnonzero((draw >= 0.0055) & (draw < 0.006)):
        other = int(rng.integers(n))
        if rows[other]["id_number"]:
            rows[i].update(id_number=rows[other]["id_number"], roster_mess="shares_id")
    for i in np.flatnonzero((draw >= 0.006) & (draw < 0.0065)):
        if rows[i]["id_number"]:
            rows[i].update(id_number=_typo(rows[i]["id_number"], rng), roster_mess="roster_typo")
            rows[i]["id_status"] = "valid" if _check_ok(rows[i]["id_number"]) else "bad_checksum"
    by_village: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_village.setdefault(row["village_index"], []).append(i)
    for i in np.flatnonzero((draw >= 0.0065) & (draw < 0.0095)):
        neighbours = by_village[rows[i]["village_index"]]
        other = neighbours[int(rng.integers(len(neighbours)))]
        if other != i and rows[other]["male"] == rows[i]["male"]:
            rows[i].update(name=rows[other]["name"], roster_mess="namesake")
    return pl.DataFrame(rows + extra, schema=roster.schema)


def _typo(id_number: str, rng: np.random.Generator) -> str:
    position = int(rng.integers(18))
    digits = [d for d in "0123456789" if d != id_number[position]]
    return id_number[:position] + digits[int(rng.integers(len(digits)))] + id_number[position + 1 :]


def _transpose(id_number: str, rng: np.random.Generator) -> str:
    for _ in range(20):
        i = int(rng.integers(17))
        if id_number[i] != id_number[i + 1]:
            return id_number[:i] + id_number[i + 1] + id_number[i] + id_number[i + 2 :]
    return _typo(id_number, rng)


def _records(
    roster: pl.DataFrame,
    n_records: int,
    village_town: np.ndarray,
    village_names: list[str],
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    s2t = opencc.OpenCC("s2t")
    homophones = _homophone_table()
    members = roster.filter(pl.col("roster_mess") != "two_households").to_dicts()
    households: dict[str, list[int]] = {}
    for i, m in enumerate(members):
        households.setdefault(m["household_id"], []).append(i)
    heads = [i for i, m in enumerate(members) if m["is_head"]]
    taken = set(roster["true_id"]) | set(roster["id_number"].drop_nulls())
    source_weights = np.array([s[1] for s in SOURCES], dtype=float)
    source_pick = rng.choice(len(SOURCES), n_records, p=source_weights / source_weights.sum())
    id_mess_names = [m for m, _ in ID_MESSES] + ["none"]
    id_mess_p = [p for _, p in ID_MESSES]
    id_mess_pick = rng.choice(len(id_mess_names), n_records, p=id_mess_p + [1 - sum(id_mess_p)])
    name_mess_names = [m for m, _ in NAME_MESSES] + ["none"]
    name_mess_p = [p for _, p in NAME_MESSES]
    name_mess_pick = rng.choice(
        len(name_mess_names), n_records, p=name_mess_p + [1 - sum(name_mess_p)]
    )
    uniform = rng.random((n_records, 6))
    out, truth = [], []
    for k in range(n_records):
        source, _, household_level, located_share, town_share, birth_share = SOURCES[source_pick[k]]
        u = uniform[k]
        outside = u[0] < OUTSIDE_ROSTER
        if outside:
            person = _outsider(rng, village_town, village_names, members, taken)
        elif household_level:
            head = members[heads[int(rng.integers(len(heads)))]]
            family = households[head["household_id"]]
            named = head
            if u[1] < 0.05 and len(family) > 1:  # the department lists the spouse as 户主
                named = members[family[1]]
            person = named
        else:
            person = members[int(rng.integers(len(members)))]
        id_number, id_mess = person["true_id"], id_mess_names[id_mess_pick[k]]
        if household_level and u[2] < HOUSEHOLD_ID_BLANK:
            id_mess = "missing"
        if id_mess in ("family_id", "legacy15") and (outside or household_level):
            id_mess = "none"
        record = {
            "record_key": f"{source}|bench.xlsx||{k + 2}",
            "source": source,
            "id_number": id_number,
            "id_status": "valid",
            "id_birth": person["birth"],
            "id_area": id_number[:6],
            "birth_date": person["birth"] if u[3] < birth_share else None,
            "township": None,
            "village": None,
            "household_level": household_level,
        }
        if id_mess == "typo":
            record["id_number"] = _typo(id_number, rng)
        elif id_mess == "transposition":
            record["id_number"] = _transpose(id_number, rng)
        elif id_mess == "family_id":
            family = [
                i for i in households[person["household_id"]] if members[i]["true_id"] != id_number
            ]
            if family:
                relative = members[family[int(rng.integers(len(family)))]]
                record.update(id_number=relative["true_id"], id_birth=relative["birth"],
                              id_area=relative["true_id"][:6])  # fmt: skip
            else:
                id_mess = "none"
        elif id_mess == "legacy15":
            if person["birth"].year < 2000:
                record["id_status"] = "converted15"
            else:
                id_mess = "none"
        elif id_mess == "destroyed":
            record.update(id_number=None, id_status="destroyed",
                          id_birth=person["birth"] if u[4] < 0.6 else None)  # fmt: skip
        elif id_mess in ("missing", "invalid"):
            record.update(id_number=None, id_status=id_mess, id_birth=None, id_area=None)
        if u[5] < located_share:
            town, village = person["township"], person["village"]
            if rng.random() < 0.1:  # 三十铺 for 三十铺镇, 北山 for 北山村
                town, village = town[:-1], village[:-1]
            record.update(township=town, village=village)
        elif u[5] < located_share + town_share:
            record["township"] = person["township"]
        name, name_mess = person["name"], name_mess_names[name_mess_pick[k]]
        record["name"], name_mess = _name_mess(name, name_mess, rng, s2t, homophones)
        if "·" in name and rng.random() < 0.5:
            record["name"] = record["name"].replace("·", DOT_VARIANTS[int(rng.integers(4))])
            name_mess = "minority_dot" if name_mess == "none" else name_mess
        out.append(record)
        truth.append(
            {
                "record_key": record["record_key"],
                "true_member": None if outside else person["member_key"],
                "true_household": None if outside else person["household_id"],
                "roster_mess": None if outside else person["roster_mess"],
                "true_name": name,
                "id_mess": "outside_roster" if outside else id_mess,
                "name_mess": name_mess,
            }
        )
    schema = {
        "record_key": pl.String, "source": pl.String, "name": pl.String, "id_number": pl.String,
        "id_status": pl.String, "id_birth": pl.Date, "id_area": pl.String, "birth_date": pl.Date,
        "township": pl.String, "village": pl.String, "household_level": pl.Boolean,
    }  # fmt: skip
    truth_frame = pl.DataFrame(truth)
    mistyped = truth_frame["id_mess"].is_in(["typo", "transposition"])
    return _as_ingested(pl.DataFrame(out, schema=schema), mistyped), truth_frame


def _as_ingested(records: pl.DataFrame, mistyped: pl.Series) -> pl.DataFrame:
    """A mistyped ID's status, birth date and area as the ingest reads them from its digits
    (a swap across the area code and the birth date damages both), with its 18 characters kept
    for repair as the match input keeps them (`keep_mistyped_ids`): bad dates and an X swapped
    into the body included."""
    from pipelines.matching.ids import BAD_DATE, INVALID, normalise_ids

    written = records["id_number"].filter(mistyped)
    read = normalise_ids(written)
    kept = pl.when(
        read["id_status"].is_in([BAD_DATE, INVALID]) & written.str.contains(r"^[0-9X]{18}$")
    ).then(written)
    read = read.with_columns(id_number=pl.coalesce("id_number", kept))
    positions = mistyped.arg_true()
    return records.with_columns(
        records[column].scatter(positions, read[column]) for column in read.columns
    )


def _outsider(
    rng: np.random.Generator,
    village_town: np.ndarray,
    village_names: list[str],
    members: list[dict],
    taken: set[str],
) -> dict:
    """Someone who is not in the roster: an urban resident, a migrant, a neighbour county's."""
    template = members[int(rng.integers(len(members)))]
    name = SURNAMES[int(_zipf(rng, len(SURNAMES), 1, 1.1)[0])] + template["name"][-2:]
    year = int(rng.integers(1945, 2010))
    birth = np.datetime64(f"{year}-01-01") + np.timedelta64(int(rng.integers(365)), "D")
    area = DISTRICT_AREA if rng.random() < 0.6 else OUTSIDE_AREAS[int(rng.integers(5))]
    while True:  # ID numbers are unique nationally: an outsider never holds a member's
        body = f"{area}{birth.astype(object):%Y%m%d}{int(rng.integers(1000)):03d}"
        if _with_check([body])[0] not in taken:
            break
    village = int(rng.integers(len(village_names)))
    return {
        "name": name,
        "true_id": _with_check([body])[0],
        "birth": birth.astype(object),
        "township": TOWNSHIPS[village_town[village]],
        "village": village_names[village],
        "household_id": None,
        "member_key": None,
    }


def _name_mess(
    name: str,
    mess: str,
    rng: np.random.Generator,
    s2t: opencc.OpenCC,
    homophones: dict[str, list[str]],
) -> tuple[str, str]:
    if mess == "homophone":
        positions = [i for i in range(1, len(name)) if homophones.get(name[i])]
        if positions:
            i = positions[int(rng.integers(len(positions)))]
            options = homophones[name[i]]
            return name[:i] + options[int(rng.integers(len(options)))] + name[i + 1 :], mess
    elif mess == "traditional":
        converted = s2t.convert(name)
        if converted != name:
            return converted, mess
    elif mess == "spaces" and len(name) >= 2:
        i = int(rng.integers(1, len(name)))
        return name[:i] + " " + name[i:], mess
    elif mess == "dropped_char" and len(name) >= 3 and "·" not in name:
        i = int(rng.integers(1, len(name)))
        return name[:i] + name[i + 1 :], mess
    elif mess == "one_char" and len(name) >= 2 and "·" not in name:
        i = int(rng.integers(1, len(name)))
        pool = MALE_GIVEN + FEMALE_GIVEN
        replacement = pool[int(rng.integers(len(pool)))]
        if replacement != name[i]:
            return name[:i] + replacement + name[i + 1 :], mess
    return name, "none"


# --- truth: which records an oracle could tie ---------------------------------------------


def recoverable(district: District) -> pl.DataFrame:
    """Flag the records the data allows to tie to exactly one member (recall's denominator).

    With an ID: the person's own ID (even mistyped) identifies them unless the roster holds it
    twice under the same name; a relative's ID identifies them when nobody else in that
    household has their name. Without an ID: the true name must be unique in the village (or,
    without a village, among members with that birth date); household-level records need a
    unique household. Without a village, a township (per-township files) bounds the search the
    same way. A household-level record whose named 户主 is the only 户主 among the namesakes is
    recoverable too. A name one character off (or one dropped) under the person's own ID is
    recoverable unless another member of the household, or of the record's village, carries the
    name as written: then it is an ID/name conflict by design.
    """
    from pipelines.matching.names import name_keys

    roster = district.roster
    keys = name_keys(
        pl.concat([roster["name"], district.truth["true_name"], district.records["name"]])
    )
    nk = dict(zip(keys["name"], keys["name_key"], strict=True))
    r = roster.with_columns(nk=pl.col("name").replace_strict(nk, default=None))
    id_name_count = r.group_by("id_number", "nk").len("id_name_n")
    household_name_count = r.group_by("household_id", "nk").len("household_name_n")

    def namesakes(keys: list[str], prefix: str) -> pl.DataFrame:
        return r.group_by(*keys, "nk").agg(
            pl.len().alias(f"{prefix}_n"),
            pl.col("household_id").n_unique().alias(f"{prefix}_households"),
            pl.col("is_head").sum().alias(f"{prefix}_heads"),
        )

    t = district.truth.join(
        roster.select(
            pl.col("member_key").alias("true_member"),
            "id_number",
            "township",
            "village",
            "birth",
            pl.col("is_head").alias("true_is_head"),
        ),
        on="true_member",
        how="left",
    ).with_columns(nk=pl.col("true_name").replace_strict(nk, default=None))
    t = t.join(district.records.select("record_key", pl.col("village").alias("record_village"),
                                       pl.col("township").alias("record_township"),
                                       pl.col("birth_date"), pl.col("id_birth"),
                                       pl.col("household_level"),
                                       record_nk=pl.col("name").replace_strict(nk, default=None)),
               on="record_key")  # fmt: skip
    # someone else in the household or the village carrying the name as the record writes it
    household_rival = household_name_count.rename({"household_name_n": "household_rival_n"})
    village_rival = r.group_by("township", "village", "nk").len("village_rival_n")
    t = t.join(household_rival, left_on=["true_household", "record_nk"],
               right_on=["household_id", "nk"], how="left").join(
        village_rival, left_on=["township", "village", "record_nk"],
        right_on=["township", "village", "nk"], how="left")  # fmt: skip
    t = (
        t.join(id_name_count, on=["id_number", "nk"], how="left")
        .join(
            household_name_count,
            left_on=["true_household", "nk"],
            right_on=["household_id", "nk"],
            how="left",
        )  # fmt: skip
        .join(namesakes(["township", "village"], "village"), on=["township", "village", "nk"],
              how="left")
        .join(namesakes(["township"], "town"), on=["township", "nk"], how="left")
        .join(namesakes(["birth"], "birth"), on=["birth", "nk"], how="left")
    )  # fmt: skip

    def unique(prefix: str) -> pl.Expr:
        household = pl.col("household_level") & (
            (pl.col(f"{prefix}_households") == 1)
            | ((pl.col(f"{prefix}_heads") == 1) & pl.col("true_is_head"))
        )
        return (pl.col(f"{prefix}_n") == 1) | household

    with_id = ~pl.col("id_mess").is_in(["destroyed", "missing", "invalid", "outside_roster"])
    by_place = (pl.col("record_village").is_not_null() & unique("village")) | (
        pl.col("record_village").is_null()
        & pl.col("record_township").is_not_null()
        & unique("town")
    )
    by_birth = pl.coalesce("birth_date", "id_birth").is_not_null() & unique("birth")
    garbled = pl.col("name_mess").is_in(["one_char", "dropped_char"])
    rival = (pl.col("household_rival_n").fill_null(0) > 0) | (
        pl.col("record_village").is_not_null() & (pl.col("village_rival_n").fill_null(0) > 0)
    )
    own_id = with_id & (pl.col("id_mess") != "family_id")
    flag = (
        pl.when(pl.col("id_mess") == "outside_roster").then(False)
        # the roster lists this person under someone else's number
        .when(own_id & (pl.col("roster_mess") == "shares_id")).then(False)
        .when(own_id & garbled & rival).then(False)
        .when(own_id).then(pl.col("id_name_n").fill_null(1) == 1)
        .when(pl.col("id_mess") == "family_id")
        .then((pl.col("household_name_n") == 1) & ~garbled)
        .otherwise(by_place | by_birth)
    )  # fmt: skip
    expected_tier = (
        pl.when(pl.col("id_mess").is_in(["typo", "transposition"])).then(2)
        .when(pl.col("id_mess") == "family_id").then(3)
        .when(with_id).then(1)
        .when(by_birth).then(4)
        .otherwise(5)
    )  # fmt: skip
    # A generator that knows better (the project's own) may ship its own flag.
    if "recoverable" in t.columns:
        flag = pl.col("recoverable")
    return t.select(
        "record_key",
        "true_member",
        "true_household",
        "id_mess",
        "name_mess",
        recoverable=flag.fill_null(False),
        expected_tier=expected_tier,
    )


# --- evaluation -------------------------------------------------------------------------


def evaluate(ties: pl.DataFrame, truth: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Per record: tied or not, and whether the tie is right (the true member, or for a
    household-level record any member of the true household)."""
    return (
        truth.join(ties.select("record_key", "member_key", "household_id", "tier"), on="record_key", how="left")
        .join(records.select("record_key", "household_level"), on="record_key")
        .with_columns(
            tied=pl.col("member_key").is_not_null(),
            correct=pl.when(pl.col("household_level"))
            .then(pl.col("household_id") == pl.col("true_household"))
            .otherwise(pl.col("member_key") == pl.col("true_member"))
            .fill_null(False),
        )
    )  # fmt: skip


def _prf(scored: pl.DataFrame) -> dict[str, float]:
    ties = scored["tied"].sum()
    correct = scored["correct"].sum()
    recoverable_n = scored["recoverable"].sum()
    recovered = scored.filter(pl.col("recoverable"))["correct"].sum()
    precision = correct / ties if ties else float("nan")
    recall = recovered / recoverable_n if recoverable_n else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if ties and recoverable_n else float("nan")
    return {"ties": ties, "correct": correct, "precision": precision, "recall": recall, "f1": f1}


def report(scored: pl.DataFrame, label: str) -> dict[str, float]:
    overall = _prf(scored)
    print(f"\n== {label}: overall over {scored.height:,} records ==")
    print(
        f"ties {overall['ties']:,}  wrong {overall['ties'] - overall['correct']:,}  "
        f"precision {overall['precision']:.5f}  recall {overall['recall']:.5f} "
        f"(of {scored['recoverable'].sum():,} recoverable)  F1 {overall['f1']:.5f}"
    )
    if scored["tier"].is_not_null().any():
        print("tier  ties      wrong  precision  recall(expected tier)  F1")
        for tier in range(1, 6):
            tied = scored.filter(pl.col("tier") == tier)
            expected = scored.filter((pl.col("expected_tier") == tier) & pl.col("recoverable"))
            precision = tied["correct"].mean() if tied.height else float("nan")
            recall = expected["correct"].mean() if expected.height else float("nan")
            f1 = (
                2 * precision * recall / (precision + recall)
                if tied.height and expected.height
                else float("nan")
            )
            print(f"{tier:>4}  {tied.height:>8,}  {tied.height - tied['correct'].sum():>5,}  "
                  f"{precision:>9.5f}  {recall:>21.5f}  {f1:.5f}")  # fmt: skip
        confident = scored.filter(pl.col("tier") <= 3)
        print(f"confident tiers 1–3: precision {confident['correct'].mean():.5f}")
    by_mess = (
        scored.group_by("id_mess", "name_mess")
        .agg(
            records=pl.len(),
            recoverable=pl.col("recoverable").sum(),
            recovered=(pl.col("recoverable") & pl.col("correct")).sum(),
            wrong=(pl.col("tied") & ~pl.col("correct")).sum(),
        )
        .with_columns(recall=pl.col("recovered") / pl.col("recoverable"))
        .sort("records", descending=True)
    )
    with pl.Config(tbl_rows=60, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(by_mess)
    return overall


def calibration(matches: pl.DataFrame, scored: pl.DataFrame) -> None:
    """Per method (suffixes for household-level and conflict records pooled): ties,
    precision, a Laplace-smoothed estimate, and the confidence labels.py gives it now."""
    from pipelines.matching.labels import CONFLICT_SUFFIX, HOUSEHOLD_SUFFIX, METHODS

    base = pl.col("method").str.replace(HOUSEHOLD_SUFFIX, "", literal=True)
    table = (
        matches.join(scored.select("record_key", "correct"), on="record_key")
        .with_columns(
            conflict=base.str.contains(CONFLICT_SUFFIX, literal=True),
            label=base.str.replace(CONFLICT_SUFFIX, "", literal=True),
        )  # fmt: skip
        .group_by("label", "conflict")
        .agg(ties=pl.len(), wrong=(~pl.col("correct")).sum(), precision=pl.col("correct").mean())
        .with_columns(
            smoothed=((pl.col("ties") - pl.col("wrong") + 1) / (pl.col("ties") + 2)),
            current=pl.col("label").replace_strict(
                {m.label: m.confidence for m in METHODS.values()}, default=None
            ),
        )
        .sort("ties", descending=True)
    )
    with pl.Config(tbl_rows=60, tbl_hide_dataframe_shape=True, fmt_str_lengths=30,
                   tbl_hide_column_data_types=True, float_precision=5):  # fmt: skip
        print(table)


# --- workers (one process each: their own wall time and peak RSS) ---------------------------


def _peak_rss_mib() -> float:
    """Peak RSS of this process. getrusage's ru_maxrss survives exec on Linux, so a worker
    started by the (large) parent would report the parent's peak: read VmHWM instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    # Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _load(data: Path):  # noqa: ANN202 - duckdb connection
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE roster_members AS SELECT * EXCLUDE (true_id, roster_mess, birth) "
                f"FROM read_parquet('{data / 'roster.parquet'}')")  # fmt: skip
    con.execute(
        f"CREATE TABLE match_input AS SELECT * FROM read_parquet('{data / 'records.parquet'}')"
    )
    con.execute(
        "CREATE TABLE negative_pairs (source VARCHAR, record_key VARCHAR, member_key VARCHAR)"
    )
    return con


def worker_ours(data: Path) -> dict[str, float]:
    """Our matcher: `wall` until the outcome is in Python as frames (as Splink's is below);
    `in_duckdb` until it is in DuckDB tables, where the pipeline writes it from."""
    from pipelines.matching.matcher import match_records_into, outcome_frames

    con = _load(data)
    rss_loaded = _peak_rss_mib()
    _reset_peak_rss()
    into = ("bench_ties", "bench_unresolved")
    start = time.perf_counter()
    match_records_into(con, into)
    in_duckdb = time.perf_counter() - start
    result = outcome_frames(con, into)
    wall = time.perf_counter() - start
    rss = _peak_rss_mib()
    result.matches.write_parquet(data / "ours_matches.parquet")
    result.unresolved.write_parquet(data / "ours_unresolved.parquet")
    return {"wall": wall, "in_duckdb": in_duckdb, "rss_mib": rss, "rss_after_load_mib": rss_loaded}


def worker_splink(data: Path) -> dict[str, float]:
    """Splink 5, DuckDB backend: blocking on ID prefix, birth date and name; EM-trained;
    threshold 0.9; each record tied to its best pair above the threshold when no other pair
    has the same score."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from pipelines.matching.names import name_keys

    con = _load(data)
    _reset_peak_rss()
    start = time.perf_counter()
    names = con.sql("SELECT DISTINCT name FROM (SELECT name FROM match_input UNION ALL "
                    "SELECT name FROM roster_members) WHERE name IS NOT NULL").pl()  # fmt: skip
    keys = name_keys(names["name"])
    con.register("name_keys_frame", keys)
    common = """
        k.name_key AS name_key, k.pinyin_key AS pinyin_key,
        regexp_replace({town}, '(镇|乡|街道)$', '') AS township,
        regexp_replace({village}, '村$', '') AS village
    """
    con.execute(f"""
        CREATE TABLE splink_records AS
        SELECT s.record_key AS unique_id, s.id_number,
               substr(coalesce(s.id_number, ''), 1, 14) AS id_prefix,
               coalesce(s.birth_date, s.id_birth) AS birth,
               {common.format(town="s.township", village="s.village")}
        FROM match_input s LEFT JOIN name_keys_frame k USING (name)
    """)
    con.execute(f"""
        CREATE TABLE splink_roster AS
        SELECT s.member_key AS unique_id, s.id_number,
               substr(coalesce(s.id_number, ''), 1, 14) AS id_prefix,
               coalesce(s.birth_date, try_strptime(substr(s.id_number, 7, 8), '%Y%m%d')::DATE) AS birth,
               {common.format(town="s.township", village="s.village")}
        FROM roster_members s LEFT JOIN name_keys_frame k USING (name)
    """)
    con.execute("UPDATE splink_records SET id_prefix = NULL WHERE id_prefix = ''")
    con.execute("UPDATE splink_roster SET id_prefix = NULL WHERE id_prefix = ''")
    db_api = DuckDBAPI(connection=con)
    left = db_api.register("splink_records")
    right = db_api.register("splink_roster")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("id_number", [1]),
            cl.CustomComparison(
                output_column_name="name",
                comparison_levels=[
                    {"sql_condition": "name_key_l IS NULL OR name_key_r IS NULL", "is_null_level": True},
                    {"sql_condition": "name_key_l = name_key_r", "label_for_charts": "exact"},
                    {"sql_condition": "pinyin_key_l = pinyin_key_r", "label_for_charts": "pinyin"},
                    {"sql_condition": "levenshtein(name_key_l, name_key_r) <= 1", "label_for_charts": "one edit"},
                    {"sql_condition": "ELSE", "label_for_charts": "else"},
                ],
            ),
            cl.ExactMatch("birth"),
            cl.ExactMatch("township"),
            cl.ExactMatch("village"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_prefix"),
            block_on("name_key", "birth"),
            block_on("pinyin_key", "village"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )  # fmt: skip
    linker = Linker([left, right], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_number", "name_key")], recall=0.9
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_number"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name_key", "birth")
    )
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.9)
    table = predictions.physical_name
    # The same rule as ours: a tie only when one member alone has the top score.
    best = con.sql(f"""
        WITH scored AS (
            SELECT unique_id_l, unique_id_r, match_probability,
                   max(match_probability) OVER (PARTITION BY unique_id_l) AS top
            FROM {table}
        )
        SELECT unique_id_l AS record_key, any_value(unique_id_r) AS member_key
        FROM scored WHERE match_probability = top
        GROUP BY unique_id_l HAVING count(*) = 1
    """).pl()
    done = time.perf_counter()
    best.write_parquet(data / "splink_matches.parquet")
    return {
        "wall": done - start,
        "train": trained - start,
        "predict": done - trained,
        "rss_mib": _peak_rss_mib(),
    }


def _spawn(kind: str, data: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument(
        "--records", type=int, help="department records (default: as many as members)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--data", type=Path, help="reuse or keep the generated data here")
    parser.add_argument("--worker", choices=["ours", "splink"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run = worker_ours if args.worker == "ours" else worker_splink
        print(json.dumps(run(args.data)))
        return

    data = args.data or Path(tempfile.mkdtemp(prefix="match_bench_"))
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "truth.parquet").exists():
        start = time.perf_counter()
        district = build_district(args.members, args.records or args.members, args.seed)
        district.roster.write_parquet(data / "roster.parquet")
        district.records.write_parquet(data / "records.parquet")
        district.truth.write_parquet(data / "truth.parquet")
        print(f"built {district.roster.height:,} members, {district.records.height:,} records "
              f"in {time.perf_counter() - start:.1f} s  ({data})")  # fmt: skip
    district = District(
        roster=pl.read_parquet(data / "roster.parquet"),
        records=pl.read_parquet(data / "records.parquet"),
        truth=pl.read_parquet(data / "truth.parquet"),
    )
    truth = recoverable(district)
    n = district.records.height

    ours = _spawn("ours", data)
    matches = pl.read_parquet(data / "ours_matches.parquet")
    scored = evaluate(matches, truth, district.records)
    print(f"\nours: {n:,} records × {district.roster.height:,} members on {os.cpu_count()} cores: "
          f"{ours['wall']:.2f} s wall to frames ({ours['in_duckdb']:.2f} s to DuckDB tables), "
          f"{n / ours['wall']:,.0f} records/s, "
          f"peak RSS while matching {ours['rss_mib']:,.0f} MiB (tables loaded: {ours['rss_after_load_mib']:,.0f} MiB)")  # fmt: skip
    ours_prf = report(scored, "ours")
    unresolved = pl.read_parquet(data / "ours_unresolved.parquet")
    print(unresolved.group_by("status", "reason").len().sort("len", descending=True))
    calibration(matches, scored)

    if args.no_splink:
        return
    splink = _spawn("splink", data)
    splink_ties = (
        pl.read_parquet(data / "splink_matches.parquet")
        .join(district.roster.select("member_key", "household_id"), on="member_key", how="left")
        .with_columns(tier=pl.lit(None, dtype=pl.Int8))
    )
    print(f"\nsplink: {splink['wall']:.2f} s wall (training {splink['train']:.2f} s, "
          f"prediction {splink['predict']:.2f} s), peak RSS {splink['rss_mib']:,.0f} MiB")  # fmt: skip
    splink_prf = report(evaluate(splink_ties, truth, district.records), "splink")
    print("\n== ours vs splink ==")
    print(f"speed: {splink['wall'] / ours['wall']:.1f}× faster than splink's train+predict, "
          f"{splink['predict'] / ours['wall']:.1f}× faster than its prediction alone")  # fmt: skip
    print(f"F1: ours {ours_prf['f1']:.5f} vs splink {splink_prf['f1']:.5f} "
          f"(precision {ours_prf['precision']:.5f} vs {splink_prf['precision']:.5f}, "
          f"recall {ours_prf['recall']:.5f} vs {splink_prf['recall']:.5f})")  # fmt: skip
    print(f"peak RSS: ours {ours['rss_mib']:,.0f} MiB vs splink {splink['rss_mib']:,.0f} MiB")


if __name__ == "__main__":
    main()
