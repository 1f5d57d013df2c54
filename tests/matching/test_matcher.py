"""The tiered matcher: every tier and every mess of real extracts, each with the near-miss that must not tie."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.matching.labels import CONFLICT_SUFFIX, HOUSEHOLD_SUFFIX, METHODS, REASONS
from pipelines.matching.matcher import MATCH_SCHEMA, UNRESOLVED_SCHEMA, match_records
from pipelines.matching.repair import checksum_neighbours
from tests.matching.builders import (
    RECORD_SCHEMA,
    ROSTER_SCHEMA,
    birth_of,
    check_char,
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


def _family(**overrides: str) -> list[dict]:
    """刘强 (head), 王秀英, 刘明 and 刘芳 in household H1 of 北山村."""
    names = {"father": "刘强", "mother": "王秀英", "son": "刘明", "daughter": "刘芳"} | overrides
    return [
        member("H1|f", names["father"], FATHER, "H1", is_head=True),
        member("H1|m", names["mother"], MOTHER, "H1", relation="配偶"),
        member("H1|s", names["son"], SON, "H1", relation="子女"),
        member("H1|d", names["daughter"], DAUGHTER, "H1", relation="子女"),
    ]


def _typo(id_number: str, position: int) -> str:
    digit = "7" if id_number[position] != "7" else "8"
    return substitute(id_number, position, digit)


# --- tier 1: the ID's holder, name agreeing ------------------------------------------------


def test_exact_id_and_name(run) -> None:
    result = run(_family(), [record("r", "刘强", FATHER)])
    assert tie(result, "r") | {} == {
        "record_key": "r",
        "member_key": "H1|f",
        "household_id": "H1",
        "tier": 1,
        "method": "证件号码一致",
        "confidence": METHODS["id"].confidence,
    }


@pytest.mark.parametrize("name", ["劉強", "刘 强", " 刘强"])
def test_exact_id_with_traditional_or_spaced_name(run, name: str) -> None:
    assert tie(run(_family(), [record("r", name, FATHER)]), "r")["method"] == "证件号码一致"


def test_exact_id_with_minority_dot_variant(run) -> None:
    roster = [member("H9|a", "买买提·艾力", FATHER, "H9", is_head=True)]
    result = run(roster, [record("r1", "买买提•艾力", FATHER), record("r2", "买买提.艾力", FATHER)])
    assert tie(result, "r1")["member_key"] == tie(result, "r2")["member_key"] == "H9|a"


def test_exact_id_with_homophone_name(run) -> None:
    result = run(_family(mother="王秀英"), [record("r", "王秀瑛", MOTHER)])
    assert tie(result, "r")["member_key"] == "H1|m"
    assert tie(result, "r")["method"] == "证件号码一致+姓名同音"


def test_exact_id_legacy_15_digit_status(run) -> None:
    result = run(_family(), [record("r", "刘强", FATHER, id_status="converted15")])
    assert tie(result, "r")["member_key"] == "H1|f"


def test_exact_id_with_one_character_off_on_a_three_character_name(run) -> None:
    result = run(_family(father="刘建国"), [record("r", "刘建图", FATHER)])
    assert tie(result, "r")["method"] == "证件号码一致+姓名近似"
    assert tie(result, "r")["confidence"] < METHODS["id"].confidence


@pytest.mark.parametrize("rare", ["𠀾", "𪚥"])  # outside the BMP: four bytes, two UTF-16 units
def test_a_rare_character_counts_as_one_character_in_the_spelling(run, rare: str) -> None:
    # 生僻字 in names are written outside the Basic Multilingual Plane; the edit distance counts
    # characters, so 刘<rare>国 against 刘建国 is one character off, not several
    result = run(_family(father=f"刘{rare}国"), [record("r", "刘建国", FATHER)])
    assert tie(result, "r")["method"] == "证件号码一致+姓名近似"


def test_exact_id_with_a_different_two_character_name_is_a_conflict_not_a_tie(run) -> None:
    result = run(_family(), [record("r", "李四", FATHER)])
    assert tie(result, "r") is None
    row = unresolved(result, "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["id_name_conflict"]
    assert row["candidates"] == ["H1|f"]


def test_exact_id_without_a_name_is_never_tied_on_the_id_alone(run) -> None:
    result = run(_family(), [record("r", None, FATHER)])
    assert tie(result, "r") is None
    assert unresolved(result, "r")["candidates"] == ["H1|f"]


# --- duplicate IDs in the roster ----------------------------------------------------------


def test_duplicate_roster_id_with_the_same_name_is_ambiguous(run) -> None:
    roster = [
        member("H1|a", "刘强", FATHER, "H1", is_head=True),
        member("H2|a", "刘强", FATHER, "H2", village="南山村"),
    ]
    row = unresolved(run(roster, [record("r", "刘强", FATHER)]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["duplicate_id"]
    assert sorted(row["candidates"]) == ["H1|a", "H2|a"]


def test_duplicate_roster_id_with_different_names_lets_the_name_decide(run) -> None:
    roster = [
        member("H1|a", "刘强", FATHER, "H1", is_head=True),
        member("H2|a", "陈红", FATHER, "H2", village="南山村"),
    ]
    result = run(roster, [record("r1", "刘强", FATHER), record("r2", "陈红", FATHER)])
    assert tie(result, "r1")["member_key"] == "H1|a"
    assert tie(result, "r2")["member_key"] == "H2|a"


# --- tier 2: ID repair -------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 5, 9, 13, 16, 17])
def test_one_digit_typo_is_repaired_when_the_name_agrees(run, position: int) -> None:
    result = run(_family(), [record("r", "刘强", _typo(FATHER, position))])
    assert tie(result, "r")["member_key"] == "H1|f"
    assert tie(result, "r")["tier"] == 2
    assert tie(result, "r")["method"] == "证件号码纠错"


@pytest.mark.parametrize("position", [3, 8, 14, 16])
def test_adjacent_transposition_is_repaired(run, position: int) -> None:
    mistyped = transpose(FATHER, position)
    assert mistyped != FATHER
    assert tie(run(_family(), [record("r", "刘强", mistyped)]), "r")["tier"] == 2


def test_repair_accepts_a_homophone_name(run) -> None:
    result = run(_family(), [record("r", "刘铭", _typo(SON, 15))])
    assert tie(result, "r")["method"] == "证件号码纠错+姓名同音"


def test_one_digit_off_id_of_a_different_person_is_never_tied(run) -> None:
    # The ID is one digit from 刘强's, but the record is 张伟: the ID alone never ties.
    result = run(_family(), [record("r", "张伟", _typo(FATHER, 12))])
    assert tie(result, "r") is None
    assert unresolved(result, "r")["status"] == "unmatched"
    assert unresolved(result, "r")["reason"] == REASONS["bad_id"]


def test_typo_in_the_roster_is_repaired_from_the_record_side(run) -> None:
    roster = [
        member("H1|f", "刘强", _typo(FATHER, 10), "H1", is_head=True, id_status="bad_checksum")
    ]
    result = run(roster, [record("r", "刘强", FATHER)])
    assert tie(result, "r")["tier"] == 2


def test_typo_in_a_legacy_15_digit_number_is_repaired(run) -> None:
    legacy_typo = _typo(FATHER, 9)
    converted = legacy_typo[:17] + check_char(legacy_typo[:17])
    result = run(_family(), [record("r", "刘强", converted, id_status="converted15")])
    assert tie(result, "r")["member_key"] == "H1|f"
    assert tie(result, "r")["tier"] == 2


def test_repair_with_two_agreeing_candidates_is_ambiguous(run) -> None:
    mistyped = _typo(FATHER, 12)
    neighbours = checksum_neighbours(pl.Series([0], dtype=pl.Int64), pl.Series([mistyped]))
    other = next(n for n in neighbours["neighbour"] if n != FATHER)
    roster = [
        member("H1|f", "刘强", FATHER, "H1", is_head=True),
        member("H2|f", "刘强", other, "H2", village="南山村", is_head=True),
    ]
    row = unresolved(run(roster, [record("r", "刘强", mistyped)]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["repair_multiple"]
    assert sorted(row["candidates"]) == ["H1|f", "H2|f"]


def test_exact_match_on_a_mistyped_id_outranks_repair(run) -> None:
    # The roster carries the same mistyped number: that exact match wins.
    mistyped = _typo(FATHER, 12)
    roster = [
        member("H1|f", "刘强", FATHER, "H1", is_head=True),
        member("H2|f", "刘强", mistyped, "H2", village="南山村", id_status="bad_checksum"),
    ]
    assert tie(run(roster, [record("r", "刘强", mistyped)]), "r")["member_key"] == "H2|f"


# --- tier 3: another household member's ID --------------------------------------------------


def test_childs_claim_under_the_parents_id(run) -> None:
    result = run(_family(), [record("r", "刘明", FATHER, source="education")])
    assert tie(result, "r")["member_key"] == "H1|s"
    assert tie(result, "r")["tier"] == 3
    assert tie(result, "r")["method"] == "同户成员证件号码+姓名"


def test_family_tier_checks_the_records_own_birth_date(run) -> None:
    good = record("r1", "刘明", FATHER, birth_date=birth_of(SON))
    wrong = record("r2", "刘明", FATHER, birth_date=dt.date(1999, 1, 1))
    result = run(_family(), [good, wrong])
    assert tie(result, "r1")["member_key"] == "H1|s"
    assert tie(result, "r2") is None
    assert unresolved(result, "r2")["reason"] == REASONS["id_name_conflict"]


def test_two_household_members_with_the_records_name_are_ambiguous(run) -> None:
    roster = [
        *_family(),
        member("H1|g", "刘明", None, "H1", relation="孙子女", birth_date=dt.date(2020, 1, 1)),
    ]
    row = unresolved(run(roster, [record("r", "刘明", FATHER)]), "r")
    assert row["status"] == "ambiguous"
    assert sorted(row["candidates"]) == ["H1|g", "H1|s"]


def test_sibling_one_character_apart_is_not_taken_for_the_id_holder(run) -> None:
    # 刘建军's claim under his brother 刘建国's number: the household has 刘建军, so the family
    # tier ties him, not the holder one character away.
    roster = [
        member("H1|a", "刘建国", FATHER, "H1", is_head=True),
        member("H1|b", "刘建军", SON, "H1"),
    ]
    assert tie(run(roster, [record("r", "刘建军", FATHER)]), "r")["member_key"] == "H1|b"


# --- ID/name conflicts: a slip of the hand is tied by name, a whole other ID is not ------------


def test_a_name_and_village_beside_another_members_whole_id_are_not_tied(run) -> None:
    """陈红 of 北山村 written beside 刘强's whole ID (a column slipped a row, an applicant's ID
    beside the beneficiary's name): the record is 刘强's or 陈红's, and neither is guessed; an
    independent matching probe had six such rows of an unemployment list tied to the names and
    warned (RS01), the ID holders missed."""
    roster = [*_family(), member("H2|x", "陈红", make_id("19800202", 55), "H2")]
    row = unresolved(
        run(roster, [record("r", "陈红", FATHER, township="三十铺镇", village="北山村")]), "r"
    )
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["id_name_conflict"]
    assert sorted(row["candidates"]) == ["H1|f", "H2|x"]


@pytest.mark.parametrize(
    "slip",
    [
        lambda own: own[:15] + own[16] + own[15] + own[17:],  # two digits of the sequence swapped
        lambda own: own[:14] + "9" + own[15:],  # one digit of the sequence (and the check) off
        lambda own: own[:10] + own[12:14] + own[10:12] + own[14:],  # month and day swapped
    ],
    ids=["sequence digits swapped", "a sequence digit", "month and day swapped"],
)
def test_an_id_one_slip_from_the_named_members_own_is_tied_by_name_worth_less(run, slip) -> None:
    """A mistyped ID that happens to be another member's valid ID: the name and 村 find the
    person whose own ID it is one slip from."""
    own = make_id("19800203", 56)
    other = slip(own)[:17] + check_char(slip(own)[:17])
    assert other != own
    roster = [
        member("H1|f", "刘强", other, "H1", is_head=True),
        member("H2|x", "陈红", own, "H2"),
    ]
    result = run(roster, [record("r", "陈红", other, township="三十铺镇", village="北山村")])
    assert tie(result, "r")["member_key"] == "H2|x"
    assert tie(result, "r")["method"].endswith(CONFLICT_SUFFIX)
    assert tie(result, "r")["confidence"] < METHODS["name_village"].confidence


def test_conflict_with_a_holder_one_character_away_is_not_tied_by_name(run) -> None:
    # 李勇's number under 李丽: a misspelt 李勇 or the village's real 李丽? Nobody is tied.
    roster = [
        member("H1|a", "李勇", FATHER, "H1", is_head=True),
        member("H2|b", "李丽", make_id("19630917", 98), "H2"),
    ]
    row = unresolved(run(roster, [record("r", "李丽", FATHER, village="北山村")]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["id_name_conflict"]
    assert sorted(row["candidates"]) == ["H1|a", "H2|b"]


def test_conflict_with_two_namesakes_lists_holder_and_both(run) -> None:
    roster = [
        *_family(),
        member("H2|x", "陈红", make_id("19800202", 55), "H2"),
        member("H3|x", "陈红", make_id("19850202", 66), "H3"),
    ]
    row = unresolved(run(roster, [record("r", "陈红", FATHER, village="北山村")]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["id_name_conflict"]
    assert sorted(row["candidates"]) == ["H1|f", "H2|x", "H3|x"]


# --- tier 4: name + birth date ----------------------------------------------------------


def test_destroyed_id_matched_by_name_and_surviving_birth_date(run) -> None:
    rec = record(
        "r", "刘强", None, id_status="destroyed", id_birth=birth_of(FATHER), id_area="341502"
    )
    result = run(_family(), [rec])
    assert tie(result, "r")["member_key"] == "H1|f"
    assert tie(result, "r")["tier"] == 4
    assert tie(result, "r")["method"] == "姓名+出生日期"


def test_destroyed_id_with_another_area_code_is_not_tied(run) -> None:
    rec = record(
        "r", "刘强", None, id_status="destroyed", id_birth=birth_of(FATHER), id_area="320324"
    )
    row = unresolved(run(_family(), [rec]), "r")
    assert row["status"] == "unmatched"
    assert row["reason"] == REASONS["destroyed"]


def test_destroyed_id_with_only_the_area_needs_a_village(run) -> None:
    rec = record("r", "刘强", None, id_status="destroyed", id_area="341502")
    assert unresolved(run(_family(), [rec]), "r")["status"] == "unmatched"
    located = record("r", "刘强", None, id_status="destroyed", id_area="341502", village="北山村")
    assert tie(run(_family(), [located]), "r")["method"] == "姓名+村"


def test_a_destroyed_ids_certain_digits_rule_out_a_namesake_born_otherwise(run) -> None:
    # 341502200711019759 rounded to …0711020000: the carry moved the day, so no birth date
    # survives, but 3415022007110 does: born in November 2007, not 1990 (found in a district
    # whose files LibreOffice had saved as workbooks)
    student = make_id("20071101", 975)
    namesake = make_id("19901030", 76)
    roster = [
        member("H1|s", "陈浩然", student, "H1", village="许冲村"),
        member("H2|n", "陈浩然", namesake, "H2", village="油坊村"),
    ]
    written = ingested("r", "陈浩然", student[:13] + "20000", township="三十铺镇")
    assert written["id_birth"] is None and written["id_prefix"] == student[:13]
    assert tie(run(roster, [written]), "r")["member_key"] == "H1|s"
    # what survives of the ID agrees with neither: nobody is taken for the record's holder
    other = ingested("r", "陈浩然", make_id("19850505", 11)[:14] + "0000", township="三十铺镇")
    assert unresolved(run(roster, [other]), "r")["status"] == "unmatched"


def test_name_birth_and_township(run) -> None:
    rec = record("r", "刘强", None, birth_date=birth_of(FATHER), township="三十铺")
    assert tie(run(_family(), [rec]), "r")["method"] == "姓名+出生日期+乡镇"


def test_same_name_and_birth_in_another_township_is_not_tied(run) -> None:
    rec = record("r", "刘强", None, birth_date=birth_of(FATHER), township="东桥镇")
    assert tie(run(_family(), [rec]), "r") is None


def test_valid_id_not_in_roster_matches_a_member_without_id(run) -> None:
    roster = [member("H1|c", "刘小明", None, "H1", birth_date=dt.date(2015, 6, 1))]
    own_id = make_id("20150601", 77)
    result = run(roster, [record("r", "刘小明", own_id)])
    assert tie(result, "r")["member_key"] == "H1|c"
    assert tie(result, "r")["tier"] == 4


def test_valid_id_not_in_roster_never_matches_a_member_holding_another_valid_id(run) -> None:
    # Same name and birth date, but the member's own (different) valid ID says it is someone else.
    stranger = make_id("19700101", 99)
    row = unresolved(run(_family(), [record("r", "刘强", stranger)]), "r")
    assert row["status"] == "unmatched"
    assert row["reason"] == REASONS["id_not_in_roster"]


def test_valid_looking_id_ending_000_may_be_rounded_by_excel(run) -> None:
    # 刘强's ID rounded to 15 significant digits, ending in 000, passing its checksum by chance.
    rounded = next(
        body + "0"
        for digit in "0123456789"
        if check_char(body := f"34150219700101{digit}00") == "0"
    )
    rec = record("r", "刘强", rounded, village="北山村")
    assert tie(run(_family(), [rec]), "r")["member_key"] == "H1|f"


def test_out_of_district_id(run) -> None:
    row = unresolved(
        run(_family(), [record("r", "赵六", make_id("19700101", 5, area="320324"))]), "r"
    )
    assert row["reason"] == REASONS["out_of_district"]


# --- tier 5: name + village ---------------------------------------------------------------


def test_missing_id_name_and_village(run) -> None:
    rec = record(
        "r", "王秀英", None, source="medical_claims", township="三十铺镇", village="北山村"
    )
    result = run(_family(), [rec])
    assert tie(result, "r")["member_key"] == "H1|m"
    assert tie(result, "r")["tier"] == 5
    assert tie(result, "r")["method"] == "姓名+村"


def test_village_and_township_suffixes_are_ignored(run) -> None:
    rec = record("r", "王秀英", None, township="三十铺", village="北山")
    assert tie(run(_family(), [rec]), "r")["member_key"] == "H1|m"


def test_same_name_in_another_village_is_not_tied(run) -> None:
    rec = record("r", "王秀英", None, township="三十铺镇", village="南山村")
    row = unresolved(run(_family(), [rec]), "r")
    assert row["status"] == "unmatched"
    assert row["reason"] == REASONS["no_id_name_not_found"]


def test_same_village_name_in_another_township_is_not_tied(run) -> None:
    rec = record("r", "王秀英", None, township="东桥镇", village="北山村")
    assert tie(run(_family(), [rec]), "r") is None


def test_two_namesakes_in_one_village_are_ambiguous(run) -> None:
    roster = [*_family(), member("H2|w", "王秀英", make_id("19500101", 88), "H2")]
    row = unresolved(run(roster, [record("r", "王秀英", None, village="北山村")]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["same_name"]
    assert sorted(row["candidates"]) == ["H1|m", "H2|w"]


def test_namesakes_told_apart_by_birth_date(run) -> None:
    roster = [*_family(), member("H2|w", "王秀英", make_id("19500101", 88), "H2")]
    rec = record("r", "王秀英", None, village="北山村", birth_date=birth_of(MOTHER))
    assert tie(run(roster, [rec]), "r")["member_key"] == "H1|m"


@pytest.mark.parametrize(
    ("name", "method"),
    [("王秀瑛", "姓名同音+村"), ("王秀英", "姓名+村"), ("王 秀英", "姓名+村")],
)
def test_no_id_homophone_and_spaced_names(run, name: str, method: str) -> None:
    assert tie(run(_family(), [record("r", name, None, village="北山村")]), "r")["method"] == method


def test_no_id_traditional_name(run) -> None:
    roster = [member("H1|f", "刘建华", FATHER, "H1", is_head=True)]
    assert (
        tie(run(roster, [record("r", "劉建華", None, village="北山村")]), "r")["method"]
        == "姓名+村"
    )


def test_no_id_name_that_opencc_folds_into_another_character(run) -> None:
    # OpenCC turns 周乾 into 周干 (gan): the pinyin keys differ, the name keys do not.
    roster = [member("H1|a", "周乾", FATHER, "H1", is_head=True)]
    assert (
        tie(run(roster, [record("r", "周干", None, village="北山村")]), "r")["method"] == "姓名+村"
    )


def test_no_id_accent_confusion_needs_a_birth_date(run) -> None:
    # 王建玲 for 王建林 (in/ing): with the village alone it is listed for a person to decide.
    roster = [member("H1|f", "王建林", FATHER, "H1", is_head=True)]
    alone = unresolved(run(roster, [record("r", "王建玲", None, village="北山村")]), "r")
    assert alone["reason"] == REASONS["near_name_only"]
    assert alone["candidates"] == ["H1|f"]
    dated = record("r", "王建玲", None, village="北山村", birth_date=birth_of(FATHER))
    assert tie(run(roster, [dated]), "r")["method"] == "姓名近音+出生日期+村"


def test_exact_name_outranks_a_homophone_namesake(run) -> None:
    roster = [*_family(), member("H2|x", "刘铭", make_id("19990101", 12), "H2")]
    assert (
        tie(run(roster, [record("r", "刘明", None, village="北山村")]), "r")["member_key"] == "H1|s"
    )


def test_one_character_off_without_birth_date_is_listed_not_tied(run) -> None:
    roster = [member("H1|f", "刘建国", FATHER, "H1", is_head=True)]
    row = unresolved(run(roster, [record("r", "刘建图", None, village="北山村")]), "r")
    assert row["status"] == "ambiguous"
    assert row["reason"] == REASONS["near_name_only"]
    assert row["candidates"] == ["H1|f"]


def test_one_character_off_with_birth_date_is_tied(run) -> None:
    roster = [member("H1|f", "刘建国", FATHER, "H1", is_head=True)]
    rec = record("r", "刘建图", None, village="北山村", birth_date=birth_of(FATHER))
    assert tie(run(roster, [rec]), "r")["method"] == "姓名近似+出生日期+村"


def test_one_character_off_on_a_two_character_name_is_not_a_candidate(run) -> None:
    row = unresolved(run(_family(), [record("r", "刘国", None, village="北山村")]), "r")
    assert row["status"] == "unmatched"


def test_name_and_township_alone(run) -> None:
    # A per-township file without 村: a name unique in the township is enough.
    rec = record("r", "王秀英", None, township="三十铺镇")
    assert tie(run(_family(), [rec]), "r")["method"] == "姓名+乡镇"
    roster = [*_family(), member("H2|w", "王秀英", make_id("19500101", 88), "H2", village="南山村")]
    row = unresolved(run(roster, [rec]), "r")
    assert row["status"] == "ambiguous"
    assert sorted(row["candidates"]) == ["H1|m", "H2|w"]


def test_name_and_township_alone_ties_only_the_same_name(run) -> None:
    roster = [member("H1|f", "王建林", FATHER, "H1", is_head=True)]
    records = [
        record("homophone", "王建琳", None, township="三十铺镇"),
        record("accent", "王建玲", None, township="三十铺镇"),
        record("one_char", "王建材", None, township="三十铺镇"),
    ]
    result = run(roster, records)
    assert result.matches.height == 0
    assert unresolved(result, "homophone")["reason"] == REASONS["near_name_only"]
    assert unresolved(result, "homophone")["candidates"] == ["H1|f"]


def test_no_id_no_place_no_birth(run) -> None:
    row = unresolved(run(_family(), [record("r", "刘强", None)]), "r")
    assert row["reason"] == REASONS["no_id_no_place"]


# --- household-level records ---------------------------------------------------------------


def test_household_record_by_head_name(run) -> None:
    rec = record("r", "刘强", None, source="housing", village="北山村", household_level=True)
    result = run(_family(), [rec])
    assert tie(result, "r")["household_id"] == "H1"
    assert tie(result, "r")["method"] == "姓名+村" + HOUSEHOLD_SUFFIX


def test_household_record_two_namesakes_in_one_household_tie_the_household(run) -> None:
    roster = [*_family(father="王强"), member("H1|g", "王强", None, "H1", relation="父母")]
    rec = record("r", "王强", None, source="water", village="北山村", household_level=True)
    result = run(roster, [rec])
    assert tie(result, "r")["member_key"] == "H1|f"  # the head among them


def test_household_record_namesakes_in_two_households_are_ambiguous(run) -> None:
    roster = [*_family(), member("H2|x", "刘强", make_id("19600101", 13), "H2", is_head=True)]
    rec = record("r", "刘强", None, source="emergency", village="北山村", household_level=True)
    assert unresolved(run(roster, [rec]), "r")["status"] == "ambiguous"


def test_household_record_does_not_guess_the_namesake_who_is_head(run) -> None:
    # Of two 刘强 in the village only one heads a household in the roster; but a department's
    # 户主 may be another member (the spouse, an adult child), so H2's son may be meant as well:
    # listed with both, never guessed (contract §3).
    roster = [*_family(), member("H2|x", "刘强", make_id("19900101", 13), "H2", relation="子女")]
    rec = record("r", "刘强", None, source="housing", village="北山村", household_level=True)
    listed = unresolved(run(roster, [rec]), "r")
    assert listed["status"] == "ambiguous" and len(listed["candidates"]) == 2
    person = record("p", "刘强", None, village="北山村")
    assert unresolved(run(roster, [person]), "p")["status"] == "ambiguous"


def test_household_record_with_the_heads_id(run) -> None:
    rec = record("r", "刘强", FATHER, source="housing", village="北山村", household_level=True)
    assert tie(run(_family(), [rec]), "r")["method"] == "证件号码一致" + HOUSEHOLD_SUFFIX


# --- negative pairs -----------------------------------------------------------------------


def test_negative_pair_blocks_the_exact_id_tie(run) -> None:
    result = run(
        _family(), [record("r", "刘强", FATHER)], negatives=[("medical_claims", "r", "H1|f")]
    )
    assert tie(result, "r") is None


def test_negative_pair_leaves_another_unique_candidate(run) -> None:
    roster = [*_family(), member("H2|w", "王秀英", make_id("19500101", 88), "H2")]
    rec = record("r", "王秀英", None, village="北山村")
    result = run(roster, [rec], negatives=[("medical_claims", "r", "H1|m")])
    assert tie(result, "r")["member_key"] == "H2|w"


def test_negative_pair_honoured_by_repair_and_family_tiers(run) -> None:
    records = [record("r1", "刘强", _typo(FATHER, 11)), record("r2", "刘明", FATHER)]
    negatives = [("medical_claims", "r1", "H1|f"), ("medical_claims", "r2", "H1|s")]
    result = run(_family(), records, negatives=negatives)
    assert tie(result, "r1") is None
    assert tie(result, "r2") is None


def test_negative_pair_of_another_source_does_not_apply(run) -> None:
    result = run(_family(), [record("r", "刘强", FATHER)], negatives=[("education", "r", "H1|f")])
    assert tie(result, "r")["member_key"] == "H1|f"


# --- interface ----------------------------------------------------------------------------


def test_output_schemas_and_every_record_once(run) -> None:
    records = [
        record("a", "刘强", FATHER),
        record("b", "赵六", None),
        record("c", "王秀英", None, village="北山村"),
    ]
    result = run(_family(), records)
    assert dict(result.matches.schema) == MATCH_SCHEMA
    assert dict(result.unresolved.schema) == UNRESOLVED_SCHEMA
    assert result.matches.height + result.unresolved.height == 3


def test_without_negatives_table_and_temp_tables_cleaned_up() -> None:
    con = duckdb.connect()
    con.register("members", pl.DataFrame(_family()))
    con.execute("CREATE TABLE roster_members AS SELECT * FROM members")
    con.execute(
        "CREATE TABLE match_input AS SELECT 'r' AS record_key, 'medical_claims' AS source, "
        "'刘强' AS name, ? AS id_number, 'valid' AS id_status, NULL::DATE AS id_birth, "
        "'341502' AS id_area, NULL::DATE AS birth_date, NULL AS township, NULL AS village, "
        "false AS household_level",
        [FATHER],
    )
    before = set(con.sql("SELECT table_name FROM duckdb_tables()").pl()["table_name"])
    result = match_records(con, negatives=None)
    assert result.matches["member_key"].to_list() == ["H1|f"]
    assert set(con.sql("SELECT table_name FROM duckdb_tables()").pl()["table_name"]) == before


def test_table_names_are_checked() -> None:
    with pytest.raises(ValueError, match="not a table name"):
        match_records(duckdb.connect(), records="x; DROP TABLE y")


def test_empty_inputs(run) -> None:
    assert run(_family(), []).matches.height == 0
    result = run([], [record("r", "刘强", FATHER), record("s", "王秀英", None, village="北山村")])
    assert result.matches.height == 0
    assert unresolved(result, "r")["status"] == "unmatched"


# --- the shortcuts: what the search need not look at (the `run` fixture checks each case the
# long way too) ------------------------------------------------------------------------------


def test_the_search_skips_records_settled_by_their_id_and_pairs_no_line_can_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settled: the ID's one holder under the same name. Not settled: a birth date that
    contradicts hers, an ID two members hold, a holder ruled out (非本人), no name. Pruned: in the
    name pass, a namesake whose usable ID is not the record's trusted one."""
    from pipelines.matching import matcher

    twin = make_id("19900101", 55)
    roster = [
        *_family(),
        member("H2|a", "陈静", twin, "H2", is_head=True),
        member("H3|a", "陈静", twin, "H3", is_head=True),  # the roster's duplicate ID
        member("H4|a", "刘强", make_id("19700101", 66), "H4", is_head=True),  # a namesake
    ]
    records = [
        record("plain", "刘强", FATHER),
        record("other_birth", "王秀英", MOTHER, birth_date=dt.date(1972, 3, 5)),
        record("two_holders", "陈静", twin),
        record("ruled_out", "刘明", SON),
        record("nameless", None, DAUGHTER),
        record("outsider", "刘强", make_id("19700101", 77), village="北山村"),
    ]
    seen: dict[str, object] = {}
    settle, find = matcher.settle, matcher.find_pairs

    def settling(ws) -> None:
        settle(ws)
        seen["settled"] = ws.con.sql(
            "SELECT r.record_key FROM ff_settled JOIN ff_records r USING (r_id)"
        ).fetchall()

    def finding(ws, pass_, after, searched) -> int:
        found = find(ws, pass_, after, searched)
        seen.setdefault("pairs", []).extend(
            ws.con.sql(
                "SELECT p.pass::VARCHAR, r.record_key, m.member_key FROM ff_candidate_pairs p "
                "JOIN ff_records r USING (r_id) JOIN ff_members m USING (m_id)"
            ).fetchall()
        )
        return found

    monkeypatch.setattr(matcher, "settle", settling)
    monkeypatch.setattr(matcher, "find_pairs", finding)
    con = duckdb.connect()
    con.register("r", pl.DataFrame(roster, schema=ROSTER_SCHEMA))
    con.register("d", pl.DataFrame(records, schema=RECORD_SCHEMA))
    con.execute("CREATE TABLE roster_members AS SELECT * FROM r")
    con.execute("CREATE TABLE match_input AS SELECT * FROM d")
    con.execute(
        "CREATE TABLE negative_pairs AS SELECT 'medical_claims' AS source, 'ruled_out' AS "
        "record_key, 'H1|s' AS member_key"
    )
    result = match_records(con)
    assert seen["settled"] == [("plain",)]
    assert tie(result, "plain")["member_key"] == "H1|f"
    assert {p[1] for p in seen["pairs"]} >= {"other_birth", "two_holders", "nameless"}
    assert "plain" not in {p[1] for p in seen["pairs"]}
    # the outsider's trusted ID is not the namesake's: no pair, and unmatched as before
    assert ("name", "outsider", "H4|a") not in seen["pairs"]
    assert ("name", "outsider", "H1|f") not in seen["pairs"]
    assert unresolved(result, "outsider")["reason"] == REASONS["id_not_in_roster"]


def test_the_settling_line_is_the_strongest_ungated_one_and_reads_what_settle_computes() -> None:
    """settle stands for the search only while its line is the scoring table's strongest, alone
    at its rank, ungated, and reads no feature but the ID, the name and the birth date."""
    from pipelines.matching.decision import SETTLING
    from pipelines.matching.scoring import SCORES

    assert SETTLING.after is None and SETTLING.method is not None
    assert min(s.rank for s in SCORES) == SETTLING.rank
    assert [s for s in SCORES if s.rank == SETTLING.rank] == [SETTLING]
    assert set(SETTLING.levels) <= {"id", "name", "birth"}
