"""Match methods (匹配方式) with their tiers and calibrated confidences, and reasons for unresolved records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """How a department record was tied to a roster member, as shown in 匹配方式."""

    tier: int
    label: str
    confidence: float


# Tiers: 1 exact ID, 2 repaired ID, 3 another household member's ID, 4 name + birth date,
# 5 name + village or township. Confidence = the share of right ties per method on
# bench/match_bench.py (1M members × 1M records, seed 7, household- and person-level pooled),
# Laplace-smoothed ((right + 1) / (ties + 2)), rounded down to 3 decimals, capped at 0.999.
# "prior": fewer than ~200 ties (or none) on the bench; the value is that of the closest
# measured method with less evidence (more evidence never lowers confidence), or lower when
# there is none. Re-run the bench when the data generator changes (its last table prints these
# estimates) and update the numbers here.
METHODS: dict[str, Method] = {
    "id": Method(1, "证件号码一致", 0.999),  # 786,393 ties, 18 wrong
    "id_homophone": Method(1, "证件号码一致+姓名同音", 0.999),  # 16,023 ties, 3 wrong
    # The holder under a near name, nobody in the household or the record's village carrying
    # the written name better (comparison.RivalLevel, scoring.SCORES). Measured on the bench
    # at 200k members × 4 seeds (7–10, after the rival rule; the 1M figures above predate
    # it); held at or below 0.998, under an exact name: someone not in the roster whose name
    # is one character off would look the same.
    "id_near": Method(1, "证件号码一致+姓名近似", 0.998),  # 王季英 for 王秀英: 2,573 ties, 2 wrong
    "id_near_dropped": Method(1, "证件号码一致+姓名缺字或多字", 0.998),  # 王秀: 1,440, none wrong
    "id_near_short": Method(1, "证件号码一致+姓名近似（二字）", 0.996),  # 王强/王伟: 599, 1 wrong
    "id_dialect": Method(1, "证件号码一致+姓名近音", 0.99),  # 王建玲/王建林: 6 ties; prior
    "repair": Method(2, "证件号码纠错", 0.999),  # 26,424 ties, none wrong
    "repair_homophone": Method(2, "证件号码纠错+姓名同音", 0.998),  # 539 ties, none wrong
    # 135 ties, 2 wrong; judged against rivals since (200k × 4 seeds: 144 ties, none wrong)
    "repair_near": Method(2, "证件号码纠错+姓名近似", 0.977),
    "family": Method(3, "同户成员证件号码+姓名", 0.999),  # 11,904 ties, 3 wrong
    "family_homophone": Method(3, "同户成员证件号码+姓名同音", 0.992),  # 254 ties, 1 wrong
    "name_birth_village": Method(4, "姓名+出生日期+村", 0.999),  # 3,145 ties, none wrong
    "name_birth_town": Method(4, "姓名+出生日期+乡镇", 0.999),  # 3,789 ties, none wrong
    "name_birth": Method(4, "姓名+出生日期", 0.999),  # 5,358 ties, none wrong
    "name_birth_village_homophone": Method(4, "姓名同音+出生日期+村", 0.992),  # 67; prior
    "name_birth_town_homophone": Method(4, "姓名同音+出生日期+乡镇", 0.992),  # 49; prior
    "name_birth_homophone": Method(4, "姓名同音+出生日期", 0.992),  # 126 ties, none wrong
    "name_birth_village_dialect": Method(4, "姓名近音+出生日期+村", 0.98),  # prior
    "name_birth_town_dialect": Method(4, "姓名近音+出生日期+乡镇", 0.98),  # prior
    "name_birth_dialect": Method(4, "姓名近音+出生日期", 0.97),  # prior
    "name_birth_village_near": Method(4, "姓名近似+出生日期+村", 0.9),  # 10 ties; prior
    "name_village": Method(5, "姓名+村", 0.998),  # 68,178 ties, 111 wrong
    "name_village_homophone": Method(5, "姓名同音+村", 0.968),  # 1,464 ties, 45 wrong
    "name_town": Method(5, "姓名+乡镇", 0.991),  # 7,785 ties, 64 wrong
}

# A name-based tie of a record whose ID belongs to someone else: the name tier found exactly
# one person, but the record itself is inconsistent, so it is worth less.
CONFLICT_SUFFIX = "（证件号码属他人）"
CONFLICT_FACTOR = 0.9
# Household-level records (housing, emergency, water) name the 户主 and are tied to the household.
HOUSEHOLD_SUFFIX = "（户级）"


REASONS: dict[str, str] = {
    "duplicate_id": "证件号码在花名册中对应多人（重复证件号码），无法唯一确定",
    "family_multiple": "证件号码所在户内有多名同名成员，无法唯一确定",
    "repair_multiple": "证件号码纠错后有多名候选人，无法唯一确定",
    "same_name": "按姓名匹配到多名候选人（同名），无法唯一确定",
    "near_name_only": "仅找到姓名同音、近音或相差一字的人，且无出生日期或村佐证，需人工确认",
    "id_name_conflict": "证件号码与姓名不符（证件号码属他人），无法唯一确定",
    "rejected_rival": "另有一名相符的人在花名册中的行被退回（未能读入），无法唯一确定",
    "roster_rejected": "与此记录相符的花名册行被退回（未能读入，如户编号被Excel破坏），无法匹配",
    "no_name_for_id": "缺少姓名，仅凭证件号码不予匹配",
    "no_name": "缺少姓名，无法匹配",
    "destroyed": "证件号码被Excel破坏（科学计数法或截断），按姓名+出生日期/村未找到此人",
    "out_of_district": "证件号码属地不在本区，花名册中未找到（区外人员）",
    "ruled_out": "乡镇已核实此记录「非本人」：不再与该花名册成员匹配，也未找到其他人",
    "id_not_in_roster": "证件号码不在花名册中，按姓名也未找到此人",
    # set by the linkage layer, which sees the earlier rosters (the matcher sees M's only)
    "left_roster": "证件号码不在本月花名册中，上月花名册有此人（本月已移除：死亡、迁出等），"
    "按姓名也未找到",
    "bad_id": "证件号码无效（校验位或日期错误），纠错和按姓名匹配均未找到此人",
    "no_id_no_place": "无可用证件号码，也无出生日期和乡镇村信息，无法匹配",
    "no_id_name_not_found": "无可用证件号码，按姓名+出生日期/村在花名册中未找到此人",
}

# the same, for a record listed with members of its name (decision._NAMESAKES_SHOWN): its ID
# rules them out, so it is unmatched, but not "not found by name"
_NAMESAKES = "；花名册中有同名成员（见候选人），但与记录的证件号码不符，请核对是否为同一人"
NAMESAKE_REASONS: dict[str, str] = {
    REASONS["out_of_district"]: "证件号码属地不在本区（区外人员）" + _NAMESAKES,
    REASONS["id_not_in_roster"]: "证件号码不在花名册中" + _NAMESAKES,
    REASONS["left_roster"]: "证件号码不在本月花名册中，上月花名册有此人（本月已移除：死亡、迁出等）"
    + _NAMESAKES,
    REASONS["bad_id"]: "证件号码无效（校验位或日期错误），纠错未找到此人" + _NAMESAKES,
}
