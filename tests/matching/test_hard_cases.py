"""Issue 7 E, the matcher's hard cases: a near name under the right ID (judged against its
rivals), mistyped IDs whose damage reaches the area code or the birth date, and the record's
own or surviving birth date with the township."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.matching.labels import METHODS, REASONS
from tests.matching.builders import (
    birth_of,
    ingested,
    make_id,
    member,
    record,
    substitute,
    tie,
    transpose,
    unresolved,
)

FATHER = make_id("19700101", 11)
MOTHER = make_id("19720304", 22)
SON = make_id("19980505", 31)
DAUGHTER = make_id("20010707", 42)
STRANGER = make_id("19660606", 77)


def _family() -> list[dict]:
    """刘建国 (head), 王秀英, 刘明 and 刘芳 in household H1 of 三十铺镇 北山村."""
    return [
        member("H1|f", "刘建国", FATHER, "H1", is_head=True, birth_date=birth_of(FATHER)),
        member("H1|m", "王秀英", MOTHER, "H1", relation="配偶"),
        member("H1|s", "刘明", SON, "H1", relation="子女"),
        member("H1|d", "刘芳", DAUGHTER, "H1", relation="子女"),
    ]


# --- 1. the ID's holder under a name one character off, dropped or misheard ----------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("王秀", "id_near_dropped"),  # a character dropped
        ("王秀英英", "id_near_dropped"),  # one added
        ("王季英", "id_near"),  # one character other (形近字)
    ],
)
def test_holder_tied_under_a_near_name_when_nobody_fits_better(run, name, method) -> None:
    result = run(_family(), [record("r", name, MOTHER, village="北山村")])
    assert tie(result, "r") | {} == tie(result, "r") | {
        "member_key": "H1|m",
        "tier": 1,
        "method": METHODS[method].label,
        "confidence": METHODS[method].confidence,
    }


def test_two_character_name_one_character_off_is_tied_to_the_holder(run) -> None:
    # 刘明 written 刘鸣 is a homophone (tier 1 already), 刘敏 an accent (in/ing); 刘亮 is one
    # character other.
    result = run(_family(), [record("r", "刘亮", SON)])
    assert tie(result, "r")["member_key"] == "H1|s"
    assert tie(result, "r")["method"] == METHODS["id_near_short"].label


def test_accent_confusion_under_the_right_id_is_tied(run) -> None:
    roster = [member("H1|f", "王建林", FATHER, "H1", is_head=True)]
    result = run(roster, [record("r", "王建玲", FATHER)])
    assert tie(result, "r")["method"] == METHODS["id_dialect"].label


def test_near_name_ties_rank_below_an_exact_name(run) -> None:
    for method in ("id_near", "id_near_short", "id_near_dropped", "id_dialect"):
        assert METHODS[method].confidence < METHODS["id"].confidence
        assert METHODS[method].tier == 1


def test_villager_carrying_the_written_name_keeps_it_a_conflict(run) -> None:
    # 王秀 under 王秀英's number, and the village has a 王秀: either could be meant.
    roster = [*_family(), member("H2|w", "王秀", STRANGER, "H2", village="北山村")]
    row = unresolved(run(roster, [record("r", "王秀", MOTHER, village="北山村")]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["id_name_conflict"]
    assert sorted(row["candidates"]) == ["H1|m", "H2|w"]


def test_villager_with_a_homophone_of_the_written_name_is_a_rival_too(run) -> None:
    roster = [*_family(), member("H2|w", "汪秀", STRANGER, "H2", village="北山村")]
    assert tie(run(roster, [record("r", "王秀", MOTHER, village="北山村")]), "r") is None


def test_sibling_in_another_household_of_the_village_stays_ambiguous(run) -> None:
    # Brothers 刘建国 and 刘建军 (辈分字) head two households of one village: 刘建军's record
    # under 刘建国's number is a conflict, as it always was — not a near-name tie.
    roster = [*_family(), member("H2|b", "刘建军", STRANGER, "H2", is_head=True)]
    row = unresolved(run(roster, [record("r", "刘建军", FATHER, village="北山村")]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["id_name_conflict"]
    assert sorted(row["candidates"]) == ["H1|f", "H2|b"]


def test_sibling_in_the_household_is_tied_by_the_family_tier(run) -> None:
    roster = [*_family(), member("H1|b", "刘建军", None, "H1", relation="兄弟姐妹")]
    result = run(roster, [record("r", "刘建军", FATHER)])
    assert tie(result, "r")["member_key"] == "H1|b"
    assert tie(result, "r")["tier"] == 3


def test_a_namesake_in_another_village_is_no_rival(run) -> None:
    roster = [*_family(), member("H2|w", "王秀", STRANGER, "H2", village="南山村")]
    result = run(roster, [record("r", "王秀", MOTHER, village="北山村")])
    assert tie(result, "r")["member_key"] == "H1|m"


def test_a_rival_born_on_another_day_than_the_record_says_is_no_rival(run) -> None:
    roster = [
        *_family(),
        member("H2|w", "王秀", STRANGER, "H2", birth_date=birth_of(STRANGER)),
    ]
    rec = record("r", "王秀", MOTHER, village="北山村", birth_date=birth_of(MOTHER))
    assert tie(run(roster, [rec]), "r")["member_key"] == "H1|m"


def test_holder_born_on_another_day_than_the_record_says_is_not_tied(run) -> None:
    rec = record("r", "王季英", MOTHER, birth_date=dt.date(1990, 1, 1))
    assert tie(run(_family(), [rec]), "r") is None


def test_names_two_edits_apart_or_cut_to_one_character_stay_conflicts(run) -> None:
    result = run(_family(), [record("a", "刘国强", SON), record("b", "王", MOTHER)])
    assert unresolved(result, "a")["reason"] == REASONS["id_name_conflict"]
    assert unresolved(result, "b")["reason"] == REASONS["id_name_conflict"]


def test_near_name_tie_honours_a_negative_pair(run) -> None:
    result = run(_family(), [record("r", "王秀", MOTHER)], [("medical_claims", "r", "H1|m")])
    assert tie(result, "r") is None


def test_repair_with_a_near_name_is_judged_against_rivals_too(run) -> None:
    mistyped = substitute(MOTHER, 16, "9" if MOTHER[16] != "9" else "8")
    alone = run(_family(), [record("r", "王季英", mistyped, village="北山村")])
    assert tie(alone, "r")["method"] == METHODS["repair_near"].label
    # a 王季英 in the village (no ID, no birth date on the roster) explains the name better
    roster = [*_family(), member("H2|w", "王季英", None, "H2")]
    rivalled = run(roster, [record("r", "王季英", mistyped, village="北山村")])
    assert (tie(rivalled, "r") or {}).get("member_key") != "H1|m"
    # one born on another day than the repaired ID says is no rival
    roster = [*_family(), member("H2|w", "王季英", STRANGER, "H2")]
    result = run(roster, [record("r", "王季英", mistyped, village="北山村")])
    assert tie(result, "r")["member_key"] == "H1|m"


# --- 2. transposed and mistyped IDs: repaired wherever the swap is; the area they damage ---


@pytest.mark.parametrize("position", [p for p in range(17) if FATHER[p] != FATHER[p + 1]])
def test_every_adjacent_transposition_is_repaired(run, position: int) -> None:
    # Swaps across the area code and the birth date (position 5), inside the year (6, 7) or
    # the month and day give a date the ingest refuses (bad_date): repaired all the same.
    rec = ingested("r", "刘建国", transpose(FATHER, position))
    result = run(_family(), [rec])
    assert tie(result, "r")["member_key"] == "H1|f"
    assert tie(result, "r")["tier"] == 2


def test_swap_across_the_area_and_the_birth_date_is_a_bad_date_repaired(run) -> None:
    swapped = transpose(FATHER, 5)  # 341502|1970… → 341501|2970…
    rec = ingested("r", "刘建国", swapped)
    assert rec["id_status"] == "bad_date" and rec["id_area"] == "341501"
    assert tie(run(_family(), [rec]), "r")["method"] == METHODS["repair"].label


def test_check_x_swapped_into_the_body_is_repaired(run) -> None:
    with_x = make_id("19650312", 1)
    assert with_x.endswith("X")
    roster = [member("H3|a", "张兰", with_x, "H3", is_head=True)]
    rec = ingested("r", "张兰", transpose(with_x, 16))
    assert rec["id_status"] == "invalid"
    assert tie(run(roster, [rec]), "r")["tier"] == 2


def test_transposed_id_of_someone_else_is_not_repaired_to_them(run) -> None:
    result = run(_family(), [ingested("r", "赵六", transpose(FATHER, 5))])
    assert tie(result, "r") is None
    assert unresolved(result, "r")["reason"] == REASONS["bad_id"]


def test_damaged_area_code_does_not_filter_the_name_tiers(run) -> None:
    # The ingest without the kept 18 characters: no repair, only the name tiers. The area the
    # swap left (341501) is not the member's (341502); it must not rule him out.
    swapped = transpose(FATHER, 5)
    rec = record("r", "刘建国", None, id_status="bad_date", id_area=swapped[:6], village="北山村")
    result = run(_family(), [rec])
    assert tie(result, "r")["member_key"] == "H1|f"
    assert tie(result, "r")["tier"] == 5


def test_mistyped_id_area_far_from_the_members_still_rules_him_out(run) -> None:
    # bad checksum with area 320324: more than one typo from 341502, someone else's area.
    far = substitute(make_id("19700101", 11, area="320324"), 16, "5")
    rec = record("r", "刘建国", far, village="北山村")
    assert rec["id_status"] == "bad_checksum"
    assert tie(run(_family(), [rec]), "r") is None


def test_area_of_an_id_excel_rounded_is_still_a_filter(run) -> None:
    rec = record("r", "刘建国", None, id_status="destroyed", id_area="341501", village="北山村")
    assert tie(run(_family(), [rec]), "r") is None


def test_the_certain_digits_of_an_id_shown_as_342401e17_tell_two_namesakes_apart(run) -> None:
    # Two 周红梅 in one village, one born here (341502…), one married in from 342401: a claim
    # whose ID Excel shows as 3.42401E+17 keeps 34240 for certain, which no 341502 ID begins with
    local = make_id("19710901", 61)
    married_in = make_id("19840704", 62, area="342401")
    roster = [
        member("H1|z", "周红梅", local, "H1", village="周集村"),
        member("H2|z", "周红梅", married_in, "H2", village="周集村"),
    ]
    rec = ingested("r", "周红梅", "3.42401E+17", village="周集村")
    assert rec["id_area"] is None and rec["id_prefix"] == "34240"
    assert tie(run(roster, [rec]), "r")["member_key"] == "H2|z"
    # the local one's ID as Excel shows it (3.41502E+17) rules out no one born in 341502: both
    # namesakes could be her, so nothing is tied
    both = [*roster, member("H3|z", "周红梅", make_id("19900101", 63), "H3", village="周集村")]
    assert tie(run(both, [ingested("s", "周红梅", "3.41502E+17", village="周集村")]), "s") is None


# --- 3. birth dates: the record's own, or what survives of its ID, with the township -------


def test_name_birth_and_township_from_a_destroyed_id(run) -> None:
    rec = record(
        "r", "刘建国", None, id_status="destroyed", id_birth=birth_of(FATHER),
        id_area="341502", township="三十铺镇",
    )  # fmt: skip
    result = run(_family(), [rec])
    assert tie(result, "r")["tier"] == 4
    assert tie(result, "r")["method"] == METHODS["name_birth_town"].label


def test_records_own_birth_date_ties_a_member_without_id(run) -> None:
    roster = [member("H1|c", "刘小明", None, "H1", birth_date=dt.date(2015, 6, 1))]
    rec = record("r", "刘小明", None, birth_date=dt.date(2015, 6, 1), township="三十铺")
    assert tie(run(roster, [rec]), "r")["method"] == METHODS["name_birth_town"].label


def test_records_own_birth_date_outranks_the_village_namesake(run) -> None:
    roster = [
        member("H1|c", "刘小明", None, "H1", birth_date=dt.date(2015, 6, 1)),
        member("H2|c", "刘小明", None, "H2", birth_date=dt.date(1960, 2, 2)),
    ]
    rec = record("r", "刘小明", None, birth_date=dt.date(1960, 2, 2), village="北山村")
    assert tie(run(roster, [rec]), "r")["member_key"] == "H2|c"


def test_records_own_birth_date_contradicting_the_member_is_not_tied(run) -> None:
    roster = [member("H1|c", "刘小明", None, "H1", birth_date=dt.date(2015, 6, 1))]
    rec = record("r", "刘小明", None, birth_date=dt.date(2016, 6, 1), township="三十铺镇")
    assert tie(run(roster, [rec]), "r") is None
