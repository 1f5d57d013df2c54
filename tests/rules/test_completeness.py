"""Absence is evidence only when the source is complete for the member; unreadable fields are 不可判断."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.rules.completeness import NOT_EVALUABLE, UNDECIDABLE
from pipelines.rules.evaluate import evaluate_rules
from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import memory_warehouse, replace_partition
from tests.conftest import DISTRICT, MONTH

ENROLLED = {"enroll_year": 2026, "enroll_status": "正常参保"}


def yb02(run) -> set[str]:
    return set(run.warnings.filter(pl.col("rule") == "YB02")["member_key"])


def undecided(run, kind: str = UNDECIDABLE) -> dict[str, set[str]]:
    """member_key -> the record keys that blocked the decision."""
    rows = run.undecided.filter(pl.col("kind") == kind)
    return {
        member: set(group["record_key"])
        for (member,), group in rows.partition_by("member_key", as_dict=True).items()
    }


@pytest.fixture
def family(world):
    """A 脱贫户 of two: one clearly enrolled, one the test decides about."""
    household = world.household("脱贫户", township="东桥镇", village="王岗村")
    enrolled = world.member(household, "张三")
    world.record("medical_enrollment", enrolled, **ENROLLED)
    subject = world.member(household, "张小红", relation="女")
    return world, subject


def test_a_member_missing_from_a_complete_list_is_warned(family, rule_config):
    world, subject = family
    run = world.run(rule_config)
    assert yb02(run) == {subject}
    assert run.undecided.filter(pl.col("rule") == "YB02").is_empty()


def test_a_member_of_an_untyped_household_missing_from_the_list_is_not_evaluable(
    family, rule_config
):
    """户类型 unreadable in the roster: whether YB02 (重点户 only) applies is unknown, so a member
    missing from a complete list is 不可判断 for the district (README), not passed over in
    silence; an independent probe found 魏磊 of a 脱贫户（监测户） household in no file. One who
    is on the list, and a 一般农户's member, say nothing."""
    world, subject = family
    untyped = world.household(None)
    absent = world.member(untyped, "魏磊")
    enrolled = world.member(untyped, "魏明")
    world.record("medical_enrollment", enrolled, **ENROLLED)
    world.member(world.household("一般农户"), "赵一")
    run = world.run(rule_config)
    assert yb02(run) == {subject}
    rows = run.undecided.filter(pl.col("rule") == "YB02")
    assert rows.select("kind", "member_key", "household_id", "source").rows() == [
        (NOT_EVALUABLE, absent, untyped, "medical_enrollment")
    ]
    assert "户类型" in rows["reason"][0]


def test_a_tied_row_with_an_unreadable_year_blocks_the_warning(family, rule_config):
    world, subject = family
    row = world.record("medical_enrollment", subject, enroll_year=None, enroll_status="正常参保")
    world.problem(row, "enroll_year", "二〇二六年度?")
    run = world.run(rule_config)
    assert subject not in yb02(run)
    assert undecided(run) == {subject: {row}}
    blocked = run.undecided.row(0, named=True)
    assert blocked["file"] == "medical_enrollment.csv" and blocked["row_number"] == 3
    assert blocked["source"] == "medical_enrollment" and "参保年度" in blocked["reason"]


def test_a_blank_year_on_a_readable_row_counts_as_this_years_list(family, rule_config):
    world, subject = family
    world.record("medical_enrollment", subject, enroll_year=None, enroll_status="正常参保")
    run = world.run(rule_config)
    assert subject not in yb02(run) and not undecided(run)


def test_a_tied_row_with_an_unreadable_status_blocks_the_warning(family, rule_config):
    world, subject = family
    row = world.record("medical_enrollment", subject, enroll_year=2026, enroll_status=None)
    world.problem(row, "enroll_status", "参保?")
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {row}}


def test_a_tied_row_saying_suspended_still_warns(family, rule_config):
    """…and the warning says how the member was found on the list (证件号码一致), not that they
    are missing from it (an independent district's check found the latter on every YB02)."""
    world, subject = family
    world.record("medical_enrollment", subject, enroll_year=2026, enroll_status="暂停")
    run = world.run(rule_config)
    assert subject in yb02(run)
    warning = run.warnings.filter(pl.col("rule") == "YB02").row(0, named=True)
    assert (warning["method"], warning["confidence"]) == ("证件号码一致", 1.0)
    assert "名册状态：暂停" in warning["evidence"]
    # missing from the list: the member of the roster, no department row
    world.records["medical_enrollment"].pop()
    world.matches.pop()
    warning = world.run(rule_config).warnings.filter(pl.col("rule") == "YB02").row(0, named=True)
    assert warning["method"] == "花名册成员（未见于部门名册）"


def test_an_unmatched_row_carrying_the_members_id_blocks(family, rule_config):
    world, subject = family
    id_number = next(m["id_number"] for m in world.members if m["member_key"] == subject)
    row = world.unmatched("medical_enrollment", name="张晓红", id_number=id_number, **ENROLLED)
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {row}}


def test_an_unmatched_row_with_what_survives_of_the_id_blocks(family, rule_config):
    world, subject = family
    member = next(m for m in world.members if m["member_key"] == subject)
    row = world.unmatched(
        "medical_enrollment",
        name=None,
        id_status="destroyed",
        id_area=member["id_number"][:6],
        id_birth=member["birth_date"],
        **ENROLLED,
    )
    run = world.run(rule_config)
    assert undecided(run) == {subject: {row}}


def test_a_row_whose_id_kept_its_certain_digits_but_no_birth_date_blocks(family, rule_config):
    # rounding carried into the birth date: it is gone, but area, year and month are certain
    world, subject = family
    member = next(m for m in world.members if m["member_key"] == subject)
    row = world.unmatched(
        "medical_enrollment", name=None, id_status="destroyed",
        id_area=member["id_number"][:6], id_prefix=member["id_number"][:13], **ENROLLED,
    )  # fmt: skip
    elsewhere = member["id_number"][:6] + (
        "1950" if member["id_number"][6:10] != "1950" else "1951"
    )
    world.unmatched(
        "medical_enrollment", name=None, id_status="destroyed", id_prefix=elsewhere + "0101",
        **ENROLLED,
    )  # fmt: skip
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {row}}


def test_an_unmatched_row_with_the_name_and_place_blocks_but_not_elsewhere(family, rule_config):
    world, subject = family
    here = world.unmatched(
        "medical_enrollment", name="张小红", township="东桥", village="王岗", **ENROLLED
    )
    world.unmatched(
        "medical_enrollment", name="张小红", township="东桥镇", village="李圩村", **ENROLLED
    )
    # the 李圩村 row is rather the 张小红 who lives there (a 一般农户: no absence rule for her)
    world.member(world.household("一般农户", township="东桥镇", village="李圩村"), "张小红")
    run = world.run(rule_config)
    # 东桥/王岗 is the department's spelling of the member's 东桥镇/王岗村
    assert undecided(run) == {subject: {here}}


def test_a_row_whose_place_names_no_roster_place_but_holds_the_members_blocks(family, rule_config):
    """A 乡镇 or 村 cell the roster's places cannot read (东桥镇王岗 in the 乡镇 cell, 东桥王岗 in the
    村 cell: township and village without their suffixes) is no evidence against the member's
    place when it holds its names: on a probe district whose place cells another hand rewrote,
    such rows raised false YB02 warnings. One holding another township's name does not block."""
    world, subject = family
    in_town = world.unmatched(
        "medical_enrollment", name="张小红", township="东桥镇王岗", village=None, **ENROLLED
    )
    run = world.run(rule_config)
    assert yb02(run) == set() and undecided(run) == {subject: {in_town}}

    row = next(r for r in world.records["medical_enrollment"] if r["record_key"] == in_town)
    row.update(township=None, village="东桥王岗")
    run = world.run(rule_config)
    assert yb02(run) == set() and undecided(run) == {subject: {in_town}}

    row.update(township="木厂镇王岗", village=None)
    run = world.run(rule_config)
    assert yb02(run) == {subject} and undecided(run) == {}


def test_a_place_cell_that_names_no_place_is_not_written(family, rule_config):
    """A 乡镇/村 cell without a Chinese character names no place: a formula's stored 0 (a
    workbook whose writer stored 0 for every result), a dash, a number. An independent probe's
    enrollment list so written (乡镇 and 村 copied from the row above by formula) raised 203
    false YB02: rows with the members' names were taken for people of a place "0"."""
    world, subject = family
    row = world.unmatched(
        "medical_enrollment", name="张小红", township="0", village="0", **ENROLLED
    )
    run = world.run(rule_config)
    assert yb02(run) == set() and undecided(run) == {subject: {row}}


def test_a_row_with_the_name_in_a_village_of_the_township_where_no_one_so_named_lives_blocks(
    family, rule_config
):
    """A household moved within its 乡镇 (易地搬迁, a new house in the next village): the
    enrollment list still writes the old 村. A row without a usable ID, with the member's name
    and 乡镇, in a 村 where no one of that name lives, may be theirs: on a probe district written
    from the contract it raised a false YB02 (the row was left ambiguous with a sound-alike
    candidate only). A row carrying another, valid ID is someone else's."""
    world, subject = family
    moved = world.unmatched(
        "medical_enrollment", name="张小红", township="东桥镇", village="桃园村", **ENROLLED
    )
    run = world.run(rule_config)
    assert yb02(run) == set() and undecided(run) == {subject: {moved}}
    assert "可能是迁居前的村" in run.undecided["reason"][0]

    row = next(r for r in world.records["medical_enrollment"] if r["record_key"] == moved)
    row.update(id_number="341502199001011234", id_status="valid")  # someone not in the roster
    run = world.run(rule_config)
    assert yb02(run) == {subject} and undecided(run) == {}


def test_an_unmatched_row_with_the_name_in_traditional_characters_blocks(family, rule_config):
    # 張小紅 is 张小红 as a person reads it (found re-saving a district through LibreOffice: a row
    # whose ID Excel destroyed kept only the name, written 劉睿 for the member 刘睿)
    world, subject = family
    row = world.unmatched(
        "medical_enrollment", name="張小紅", township="东桥镇", village="王岗村", **ENROLLED
    )
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {row}}


def test_a_row_without_any_id_whose_name_sounds_like_the_members_blocks(family, rule_config):
    """汪桂贞 for 汪桂珍: a misheard or mistyped name on a row left without an ID is unmatched (no
    ID or place agrees enough to tie it), and could be the member's. On the 5,000-member
    district (seed 7) with the enrollment list's ID and place headers unread, 6 of 9 YB02
    warnings were such members: false. A row whose ID is another's, or whose place is another,
    does not block; nor does a name that only looks alike."""
    world, subject = family
    here = world.unmatched("medical_enrollment", name="张晓红", township="东桥镇", **ENROLLED)
    nowhere = world.unmatched("medical_enrollment", name="张晓鸿", **ENROLLED)
    world.unmatched(
        "medical_enrollment", name="张晓红", township="东桥镇", village="李圩村", **ENROLLED
    )
    world.unmatched("medical_enrollment", name="张晓红", id_number="341502199001011234", **ENROLLED)
    world.unmatched("medical_enrollment", name="张小明", township="东桥镇", **ENROLLED)
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {here, nowhere}}


def test_an_ambiguous_row_with_the_name_and_place_blocks_though_not_a_candidate(
    family, rule_config
):
    # the matcher listed only near names as candidates (the row's destroyed ID disagreed with
    # the member's): a row with her name in her village may still be hers (contract §4)
    world, subject = family
    near = world.member(world.household("监测户", township="东桥镇", village="王岗村"), "张晓红")
    row = world.ambiguous(
        "medical_enrollment", [near], name="张小红", township="东桥镇", village="王岗村", **ENROLLED
    )
    run = world.run(rule_config)
    assert subject not in yb02(run)
    assert undecided(run) == {subject: {row}, near: {row}}


def test_an_ambiguous_row_with_what_survives_of_the_id_blocks(family, rule_config):
    world, subject = family
    member = next(m for m in world.members if m["member_key"] == subject)
    near = world.member(world.household("监测户"), "张晓红")
    row = world.ambiguous(
        "medical_enrollment", [near], name=None, id_status="destroyed",
        id_area=member["id_number"][:6], id_birth=member["birth_date"], **ENROLLED,
    )  # fmt: skip
    run = world.run(rule_config)
    assert undecided(run) == {subject: {row}, near: {row}}


def test_an_unmatched_row_saying_not_enrolled_does_not_block(family, rule_config):
    world, subject = family
    world.unmatched("medical_enrollment", name="张小红", enroll_year=2026, enroll_status="未参保")
    assert subject in yb02(world.run(rule_config))


def test_an_ambiguous_row_that_may_be_theirs_blocks(family, rule_config):
    world, subject = family
    other = world.member(world.household("监测户"), "张小红")
    row = world.ambiguous("medical_enrollment", [subject, other], **ENROLLED)
    run = world.run(rule_config)
    assert yb02(run) & {subject, other} == set()
    assert undecided(run) == {subject: {row}, other: {row}}


def test_a_rejected_row_holding_the_members_id_blocks(family, rule_config):
    world, subject = family
    id_number = next(m["id_number"] for m in world.members if m["member_key"] == subject)
    world.rejects.append(
        {"source": "medical_enrollment", "file": "参保.csv", "sheet": None, "row_number": 40,
         "field": "name,id_number", "reason": "姓名和证件号码都没有可用的值",
         "raw_values": f'{{"身份证号": "ID:{id_number}#"}}'}
    )  # fmt: skip
    run = world.run(rule_config)
    assert undecided(run) == {subject: {"medical_enrollment|参保.csv||40"}}


def test_a_rejected_row_without_name_and_id_saying_insured_blocks_in_its_place(family, rule_config):
    """indep19: `65,,,双河镇,柳塘村,城乡居民医保,2026,正常参保,否` was rejected (no name, no ID)
    and blocked nobody, while a nameless row whose ID Excel destroyed blocks its 乡镇/村: both
    could be any member there. One saying 暂停 is no one's enrolment, and a template's blank row
    (its village filled in, nothing else) is no one at all."""
    world, subject = family

    def rejected(row: int, village: str, status: str) -> str:
        world.rejects.append(
            {"source": "medical_enrollment", "file": "参保.csv", "sheet": None, "row_number": row,
             "field": "name,id_number", "reason": "姓名和证件号码都没有可用的值",
             "township": "东桥镇", "village": village,
             "raw_values": f'{{"乡镇": "东桥镇", "村": "{village}", "参保状态": "{status}"}}'}
        )  # fmt: skip
        return f"medical_enrollment|参保.csv||{row}"

    rejected(40, "李圩村", "正常参保")  # another village of the township
    rejected(41, "王岗村", " 暂停 ")
    rejected(43, "王岗村", "")  # a template's blank row: its village and nothing of anyone
    assert yb02(world.run(rule_config)) == {subject}
    here = rejected(42, "王岗村", "正常参保")
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {here}}


def test_a_nameless_row_with_a_mistyped_id_whose_area_and_birth_agree_blocks(family, rule_config):
    """A list whose name column was not read (headed 参保人员姓名): a row with a mistyped ID (bad
    checksum) has nothing but that ID, which was tied by its repair with the name before. Its
    area and birth date are the member's: it could be hers."""
    world, subject = family
    member = next(m for m in world.members if m["member_key"] == subject)
    typo = member["id_number"][:17] + ("0" if member["id_number"][17] != "0" else "1")
    row = world.unmatched(
        "medical_enrollment", name=None, id_number=typo, id_status="bad_checksum",
        id_area=member["id_number"][:6], id_birth=member["birth_date"], **ENROLLED,
    )  # fmt: skip
    world.unmatched(
        "medical_enrollment", name=None, id_number="341502195001010011", id_status="bad_checksum",
        id_area="341502", id_birth=date(1950, 1, 1), **ENROLLED,
    )  # fmt: skip
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {row}}


def test_a_nameless_row_whose_id_kept_nothing_blocks_in_its_place(family, rule_config):
    """3.41502E+17 and no name: nothing tells whose row it is but its 乡镇/村."""
    world, subject = family
    here = world.unmatched(
        "medical_enrollment", name=None, id_number=None, id_status="destroyed",
        township="东桥镇", village="王岗村", **ENROLLED,
    )  # fmt: skip
    world.unmatched(
        "medical_enrollment", name=None, id_number=None, id_status="destroyed",
        township="东桥镇", village="李圩村", **ENROLLED,
    )  # fmt: skip
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {here}}


def test_a_homophone_row_whose_id_kept_less_than_its_area_blocks_those_it_could_be(
    family, rule_config
):
    """张晓红 for 张小红, the ID shown as Excel shows it: 3.41502E+17 keeps only 34150 for certain
    (its sixth digit may be rounded), which the subject's ID begins with: she is undecided, as for
    a row whose ID kept nothing. 3.42401E+17 keeps 34240: it can be no one whose ID begins
    341502, and blocks no one here."""
    world, subject = family
    assert subject.split("|")[1].startswith("341502")  # member_key: household|ID
    world.unmatched(
        "medical_enrollment", name="张晓红", id_number=None, id_status="destroyed",
        id_prefix="34240", township="东桥镇", village="王岗村", **ENROLLED,
    )  # fmt: skip
    assert yb02(world.run(rule_config)) == {subject}
    here = world.unmatched(
        "medical_enrollment", name="张晓红", id_number=None, id_status="destroyed",
        id_prefix="34150", township="东桥镇", village="王岗村", **ENROLLED,
    )  # fmt: skip
    run = world.run(rule_config)
    assert subject not in yb02(run) and undecided(run) == {subject: {here}}


def test_a_township_the_list_says_nothing_of_is_no_evidence_of_absence(family, rule_config):
    """One township's enrollment file not delivered: the list has no row of any member there.
    On the 5,000-member district (seed 7) with 三十铺镇's file left out, YB02 gave 30 warnings,
    25 false (every monitored member of the township not otherwise enrolled). Its members are
    无法判断 for the district, the list named as what blocks; elsewhere the list still decides."""
    world, subject = family
    away = world.household("监测户", township="城北镇", village="高庄村")
    absent_there = world.member(away, "刘明")
    run = world.run(rule_config)
    assert yb02(run) == {subject}
    assert undecided(run) == {absent_there: {None}}
    row = run.undecided.filter(pl.col("member_key") == absent_there).row(0, named=True)
    assert row["source"] == "medical_enrollment" and "城北镇" in row["reason"]
    # one row of the list placed in 城北镇 (tied to someone else there): the list speaks of it
    neighbour = world.member(away, "刘亮", relation="子")
    world.record("medical_enrollment", neighbour, **ENROLLED)
    assert yb02(world.run(rule_config)) == {subject, absent_there}


def test_a_members_own_row_saying_not_insured_is_warned_however_thin_her_township(
    family, rule_config
):
    """A township sends only its 未参保人员名单 (an independent probe, indep19: 双河镇's list of
    3 rows where its share gave 27): the members it leaves out are 无法判断, but the ones it
    lists as 暂停 or 未参保 for the year are not absent from it, and are warned."""
    world, subject = family
    world.record("medical_enrollment", subject, **ENROLLED)
    listed = world.household("脱贫户", township="城北镇", village="高庄村")
    for n in range(30):
        world.record(
            "medical_enrollment", world.member(listed, f"王{n}", relation="子"), **ENROLLED
        )
    thin = world.household("监测户", township="双河镇", village="柳塘村")
    paused = world.member(thin, "姚秀怡")
    world.record("medical_enrollment", paused, enroll_year=2026, enroll_status="暂停")
    left_out = [world.member(thin, f"马{n}", relation="子") for n in range(15)]
    run = world.run(rule_config)
    assert yb02(run) == {paused}
    assert set(undecided(run)) == set(left_out)
    assert all("双河镇" in r for r in run.undecided["reason"])


def test_a_village_the_list_says_nothing_of_is_no_evidence_of_absence(family, rule_config):
    """The township's file without one village's rows: on the 5,000-member district (seed 7)
    with 北山村's 23 rows cut from 三十铺镇's file, YB02 gave 11 warnings, 6 false. A row of the
    township without its 村 does not speak of that village."""
    world, subject = family
    there = world.member(world.household("监测户", township="东桥镇", village="李圩村"), "赵六")
    world.unmatched("medical_enrollment", name="钱七", township="东桥镇", **ENROLLED)
    run = world.run(rule_config)
    assert yb02(run) == {subject}
    assert undecided(run) == {there: {None}}
    assert "东桥镇李圩村" in run.undecided["reason"][0]


def test_last_years_enrollment_list_is_no_evidence_of_absence(family, rule_config):
    """Every 参保年度 of a file 2025 in October 2026: last year's list sent again. By it every
    monitored member is "not enrolled this year": on the 5,000-member district (seed 7) so
    written, YB02 gave 517 warnings, 512 false, and the run said nothing. Such a list is no
    evidence (like an unreadable file): YB02 is not evaluated, the file named; a list with a
    few rows of another year is still judged."""
    world, subject = family
    household = world.household("监测户", township="东桥镇", village="王岗村")
    for name in ("李一", "李二", "李三", "李四", "李五"):
        member = world.member(household, name)
        world.record("medical_enrollment", member, enroll_year=2025, enroll_status="正常参保")
    run = world.run(rule_config)
    assert not yb02(run)
    reason = run.not_evaluated["YB02"]
    assert (
        "「参保年度」多不是本年度" in reason and "6 行中 5 行不是 2026 年（多为 2025 年）" in reason
    )
    assert "可能报送了往年的名单" in reason
    # the coming year's 征缴 list (from October, 2027's drive) is no evidence either, and is not
    # called last year's
    for row in world.records["medical_enrollment"]:
        if row["enroll_year"] == 2025:
            row["enroll_year"] = 2027
    reason = world.run(rule_config).not_evaluated["YB02"]
    assert "多为 2027 年" in reason and "下一年度" in reason and "往年" not in reason
    for name in ("李六", "李七", "李八", "李九", "李十"):  # now 6 of 11 rows this year's
        world.record("medical_enrollment", world.member(household, name), **ENROLLED)
    run = world.run(rule_config)
    assert "YB02" not in run.not_evaluated and subject in yb02(run)


def test_a_township_whose_rows_are_all_of_another_year_is_no_evidence_of_absence(
    family, rule_config
):
    """One township's part of the list is last year's sent again (an independent probe of the
    year's turn, indep36: 东桥镇's rows all 2026 in January 2027, the rest of the list 2027's):
    the list as a whole is this year's, so YB02 is judged, and 438 warnings went to 东桥镇, every
    monitored member there. A township the list speaks of only for another year says nothing of
    this one: its members are 无法判断 for the district, the reason naming the year."""
    world, subject = family
    household = world.household("脱贫户", township="东桥镇", village="王岗村")
    for n in range(8):
        world.record("medical_enrollment", world.member(household, f"李{n}"), **ENROLLED)
    away = world.household("监测户", township="城北镇", village="高庄村")
    stale = [world.member(away, name) for name in ("刘明", "刘亮", "刘强")]
    for member in stale:
        world.record("medical_enrollment", member, enroll_year=2025, enroll_status="正常参保")
    run = world.run(rule_config)
    assert "YB02" not in run.not_evaluated
    assert yb02(run) == {subject}
    assert set(undecided(run)) == set(stale)
    reasons = run.undecided.filter(pl.col("rule") == "YB02")["reason"].to_list()
    assert all("城北镇的记录都不是 2026 年度的" in r for r in reasons), reasons
    # one row of this year's placed there: the list speaks of 城北镇 again, and decides
    world.record("medical_enrollment", world.member(away, "刘一", relation="子"), **ENROLLED)
    assert yb02(world.run(rule_config)) == {subject, *stale}


def test_a_list_of_the_unenrolled_only_is_no_evidence_of_absence(rule_config, world):
    """医保 sent its exceptions (未参保, 暂停) for the 参保名册: by it, every monitored member
    not on it would be "not enrolled". On the 5,000-member district (seed 7) so sent (113 rows
    of 2,347), YB02 gave 412 warnings, 407 false. Most rows of a whole list are 正常参保: with
    fewer than half, YB02 is not evaluated; one 未参保 row among 正常参保 ones is judged."""
    household = world.household("脱贫户")
    enrolled = world.member(household, "张三")
    unenrolled = [world.member(household, name) for name in ("李一", "李二", "李三", "李四")]
    for member in unenrolled:
        world.record("medical_enrollment", member, enroll_year=2026, enroll_status="未参保")
    world.record("medical_enrollment", enrolled, **ENROLLED)
    run = world.run(rule_config)
    assert not yb02(run)
    assert "5 行中只有 1 行为正常参保" in run.not_evaluated["YB02"]
    for name in ("王一", "王二", "王三", "王四"):
        world.record("medical_enrollment", world.member(household, name), **ENROLLED)
    run = world.run(rule_config)
    assert "YB02" not in run.not_evaluated and yb02(run) == set(unenrolled)


@pytest.mark.parametrize(
    ("status", "files", "records", "says"),
    [
        (False, [], True, "未报送"),
        (True, [("参保名册.xlsx", "failed")], True, "读取失败或不完整（参保名册.xlsx）"),
        (True, [("参保名册.csv", "partial")], True, "读取失败或不完整（参保名册.csv）"),
        (True, [("参保名册.csv", "ok")], False, "无数据行"),
    ],
)
def test_an_incomplete_source_raises_no_absence_warning(
    family, rule_config, status, files, records, says
):
    world, subject = family
    if not records:
        world.records.pop("medical_enrollment")
        world.matches.clear()
    con = memory_warehouse()
    world.build(con)
    replace_partition(
        con,
        "source_status",
        pl.DataFrame({"source": list(DEPARTMENT_KEYS), "received": True}).with_columns(
            pl.when(pl.col("source") == "medical_enrollment")
            .then(pl.lit(status))
            .otherwise(pl.col("received"))
            .alias("received")
        ),
        district=DISTRICT,
        month=MONTH,
    )
    ingest_files = pl.DataFrame(
        [{"source": "medical_enrollment", "file": f, "status": st} for f, st in files],
        schema={"source": pl.String, "file": pl.String, "status": pl.String},
    )
    replace_partition(con, "ingest_files", ingest_files, district=DISTRICT, month=MONTH)
    run = evaluate_rules(
        con, district=DISTRICT, month=MONTH, config=rule_config, received=set(DEPARTMENT_KEYS)
    )
    assert "YB02" not in set(run.warnings["rule"])
    assert says in run.not_evaluated["YB02"]


def test_a_row_whose_needed_field_is_unreadable_is_not_evaluable(world, rule_config):
    household = world.household("脱贫户")
    pupil = world.member(household, "李小明", relation="子")
    row = world.record("education", pupil, stage="初中", school_status="在读", aided=None)
    world.problem(row, "aided", "已享受?")
    other = world.member(household, "李小华", relation="女")
    # an unreadable field that JY03 does not read leaves the row evaluable
    fine = world.record(
        "education", other, stage="小学", school_status="在读", aided=False, enrol_month=None
    )
    world.problem(fine, "enrol_month", "九月")
    run = world.run(rule_config)
    assert set(run.warnings.filter(pl.col("rule") == "JY03")["member_key"]) == {other}
    gaps = run.undecided.filter(pl.col("kind") == NOT_EVALUABLE)
    assert gaps.select("rule", "record_key").rows() == [("JY03", row)]
    assert "aided" in gaps["reason"][0]


def test_an_unreadable_date_that_decides_the_age_is_not_evaluable(world, rule_config):
    # RS01 asks for age 16–60 on 登记日期. A date LibreOffice wrote as 10/22/26 cannot be read
    # (which century?); a member turning 61 on 2026-10-08 was 60 or 61 that day: 不可判断, not a
    # warning computed for the 1st of the month
    household = world.household("一般农户")
    turning = world.member(household, "王五", birth=date(1965, 10, 8))
    row = world.record("hrss", turning, register_type="失业登记", register_date=None)
    world.problem(row, "register_date", "10/22/26")
    steady = world.member(household, "王六", relation="子", birth=date(1990, 3, 1))
    kept = world.record("hrss", steady, register_type="失业登记", register_date=None)
    world.problem(kept, "register_date", "10/22/26")
    run = world.run(rule_config)
    assert set(run.warnings.filter(pl.col("rule") == "RS01")["member_key"]) == {steady}
    gaps = run.undecided.filter(pl.col("kind") == NOT_EVALUABLE)
    assert gaps.select("rule", "record_key").rows() == [("RS01", row)]


def test_a_registration_whose_day_decides_the_age_is_not_evaluable_and_counted(world, rule_config):
    """A blank 登记日期 is any day of M, 2026-10 any day of October: for a member turning 61 on
    2026-10-20 either may be 60 or 61, so RS01 cannot decide. The row is 不可判断 and counted for
    the district (a blank date had made it vanish without a word); a member of 40 still fires."""
    household = world.household("一般农户")
    turning = world.member(household, "王五", birth=date(1965, 10, 20))
    month_only = world.record("hrss", turning, register_type="失业登记",
                              register_date=date(2026, 10, 1), register_date_month_only=True)  # fmt: skip
    also = world.member(household, "王七", relation="弟", birth=date(1965, 10, 20))
    blank = world.record("hrss", also, register_type="失业登记", register_date=None)
    forty = world.member(household, "王六", relation="子", birth=date(1986, 3, 1))
    world.record("hrss", forty, register_type="失业登记", register_date=date(2026, 10, 1),
                 register_date_month_only=True)  # fmt: skip
    # the day written: 60 on the 5th, decided as before
    dated = world.member(household, "王八", relation="兄", birth=date(1965, 10, 20))
    world.record("hrss", dated, register_type="失业登记", register_date=date(2026, 10, 5))

    run = world.run(rule_config)

    assert set(run.warnings.filter(pl.col("rule") == "RS01")["member_key"]) == {forty, dated}
    gaps = run.undecided.filter(pl.col("kind") == NOT_EVALUABLE).sort("record_key")
    assert gaps.select("rule", "record_key").rows() == [("RS01", month_only), ("RS01", blank)]
    assert gaps["reason"].to_list() == [
        "「登记日期」只写到月（2026年10月），登记时可能 60 岁也可能 61 岁：是否在 16–60 岁无法判断",
        "「登记日期」为空（按本月计），登记时可能 60 岁也可能 61 岁：是否在 16–60 岁无法判断",
    ]


def test_a_roster_birth_date_written_with_its_month_only_takes_its_day_from_the_id(
    world, rule_config
):
    """出生日期 1965-10 in the roster: the ID (born 1965-10-20) gives the day, so on 2026-10-05 the
    member is 60 (RS01 fires; the 1st had made them 61). Without an ID that agrees, they may be
    60 or 61 that day: 不可判断."""
    household = world.household("一般农户")
    written = {"birth_date": date(1965, 10, 1), "birth_date_month_only": True}
    agreeing = world.member(household, "赵一", birth=date(1965, 10, 20), **written,
                            id_birth=date(1965, 10, 20))  # fmt: skip
    world.record("hrss", agreeing, register_type="失业登记", register_date=date(2026, 10, 5))
    other = world.member(household, "赵二", relation="弟", birth=date(1965, 11, 3), **written,
                         id_birth=date(1965, 11, 3))  # fmt: skip
    row = world.record("hrss", other, register_type="失业登记", register_date=date(2026, 10, 5))

    run = world.run(rule_config)

    assert set(run.warnings.filter(pl.col("rule") == "RS01")["member_key"]) == {agreeing}
    gaps = run.undecided.filter(pl.col("kind") == NOT_EVALUABLE)
    assert gaps.select("rule", "record_key").rows() == [("RS01", row)]
    assert gaps["reason"][0] == (
        "2026年10月5日登记，花名册「出生日期」只写到月且证件号码补不出日，登记时可能 60 岁也可能 61 岁："
        "是否在 16–60 岁无法判断"
    )


def test_a_temporary_relief_row_whose_date_is_written_but_unreadable_is_not_evaluable(
    world, rule_config
):
    """MZ02 takes a 临时救助 row without a date as M's (the list is M's); one whose 变动日期 was
    written but reads two ways (5/10/2026: May or October) had been taken as M's too, the
    household told 本月获临时救助. It is 不可判断 now; a blank date still fires."""
    written = world.member(world.household("一般农户"), "王五")
    row = world.record("civil_affairs", written, assistance_type="临时救助", change_date=None)
    world.problem(row, "change_date", "5/10/2026")
    blank = world.member(world.household("一般农户"), "王六")
    world.record("civil_affairs", blank, assistance_type="临时救助", change_date=None)
    run = world.run(rule_config)
    assert set(run.warnings.filter(pl.col("rule") == "MZ02")["member_key"]) == {blank}
    gaps = run.undecided.filter(pl.col("kind") == NOT_EVALUABLE)
    assert gaps.select("rule", "record_key").rows() == [("MZ02", row)]


def test_a_precision_rule_needs_more_than_a_name_in_a_township(world, rule_config):
    household = world.household("脱贫户")
    owner = world.member(household, "周六")
    other = world.member(household, "周七", relation="子")
    by_name = world.record("vehicles", owner, vehicle_type="小型轿车")
    world.matches[-1].update(method="姓名+乡镇", confidence=0.991)
    world.record("vehicles", other, vehicle_type="小型轿车")  # tied by ID: listed
    dropout = world.record("education", other, stage="初中", school_status="辍学")
    world.matches[-1].update(method="姓名+乡镇", confidence=0.991)  # a 风险 rule still fires
    run = world.run(rule_config)
    assert set(run.warnings.filter(pl.col("rule") == "GA02")["member_key"]) == {other}
    assert dropout in set(run.warnings.filter(pl.col("rule") == "JY01")["record_keys"].explode())
    assert undecided(run) == {owner: {by_name}}
    assert "姓名+乡镇" in run.undecided["reason"][0]
    rule_config["ties"]["precision_min_confidence"] = 0.99
    assert owner in set(world.run(rule_config).warnings["member_key"])


def test_a_list_that_is_not_the_per_person_register_is_no_evidence_of_absence(rule_config, world):
    """医保 sends a list of 户 (each household's head, a 参保人数 beside), or a list without a
    readable 参保状态 (the 已参保 or the 未参保 list: it cannot tell which), for the 参保名册. By
    either, a monitored member missing from it is no evidence: on the 5,000-member district so
    sent, YB02 gave 355 warnings (351 false) and 193 (all false)."""
    spouses = []
    for n in range(20):
        household = world.household("脱贫户")
        head = world.member(household, f"张{n}甲")
        spouses.append(world.member(household, f"李{n}乙", relation="配偶"))
        world.record("medical_enrollment", head, **ENROLLED)
    run = world.run(rule_config)
    assert not yb02(run) and "以户为单位" in run.not_evaluated["YB02"]
    # the same households listed person by person, one spouse missing: she is warned
    for spouse in spouses[1:]:
        world.record("medical_enrollment", spouse, **ENROLLED)
    run = world.run(rule_config)
    assert "YB02" not in run.not_evaluated and yb02(run) == {spouses[0]}
    for row in world.records["medical_enrollment"]:
        row["enroll_status"] = None
    run = world.run(rule_config)
    assert not yb02(run) and "没有可读的「参保状态」" in run.not_evaluated["YB02"]


def test_an_enrollment_list_cut_at_the_sheet_limit_is_no_evidence_of_absence(family, rule_config):
    """A district-wide 参保名册 saved from .xls ends at row 65,536: the rest was cut. On the
    5,000-member district so sent (ID order), YB02 gave 43 warnings, 38 false."""
    world, subject = family
    world.records["medical_enrollment"][0]["record_key"] = (
        "medical_enrollment|名册.xlsx|Sheet1|65536"
    )
    world.matches[0]["record_key"] = "medical_enrollment|名册.xlsx|Sheet1|65536"
    run = world.run(rule_config)
    assert not yb02(run) and "名单被截断" in run.not_evaluated["YB02"]


def test_a_place_the_list_speaks_of_by_a_stray_row_only_is_no_evidence_of_absence(
    family, rule_config
):
    """Two villages cut from 施桥镇's enrollment file with one 一般农户 row of each left in, or a
    township's file not delivered while two of its people sit in another township's file: the
    list speaks of the place, yet not of its monitored members. On the 5,000-member district so
    sent, YB02 gave 34 and 14 warnings, 29 and 9 false. Fewer than a quarter of the place's
    monitored members listed of what the list's share gives, and too few to be chance: its
    members are 无法判断; a place with a fair share listed is still judged."""
    world, subject = family
    home = world.household("脱贫户", township="东桥镇", village="王岗村")
    for n in range(60):
        world.record("medical_enrollment", world.member(home, f"王{n}", relation="子"), **ENROLLED)

    def place(township: str, village: str, surname: str) -> list[str]:
        monitored = world.household("监测户", township=township, village=village)
        members = [world.member(monitored, f"{surname}{n}", relation="子") for n in range(10)]
        stray = world.member(world.household(township=township, village=village), f"{surname}甲")
        world.record("medical_enrollment", stray, **ENROLLED)
        return members

    in_village = place("东桥镇", "李圩村", "李")
    in_township = place("城北镇", "高庄村", "刘")
    run = world.run(rule_config)
    assert yb02(run) == {subject}
    assert set(undecided(run)) == set(in_village) | set(in_township)
    reasons = dict(run.undecided.select("member_key", "reason").iter_rows())
    assert (
        "东桥镇李圩村的重点户成员只有 0 人有记录（按全区比例应约 7 人）" in reasons[in_village[0]]
    )
    assert "城北镇的重点户成员只有 0 人有记录" in reasons[in_township[0]]
    assert "该乡镇的名单可能未报送或不完整" in reasons[in_township[0]]
    # three of the village's ten listed: a fair share (7 expected); the other seven are warned
    for member in in_village[:3]:
        world.record("medical_enrollment", member, **ENROLLED)
    run = world.run(rule_config)
    assert yb02(run) == {subject, *in_village[3:]}
    assert set(undecided(run)) == set(in_township)


def test_a_list_of_the_subsidised_only_is_no_evidence_of_absence(family, rule_config):
    """医保 sent its 资助参保人员名单 for the 参保名册: a monitored member paying their own
    contribution is missing from it. On the 5,000-member district so sent, YB02 gave 31
    warnings, 26 false. Every readable 资助参保 是, with people of 一般农户 on it: not evaluated.
    A list of the monitored households' members, all subsidised, is still evidence."""
    world, subject = family
    monitored = world.household("脱贫户")
    for n in range(20):
        world.record("medical_enrollment", world.member(monitored, f"赵{n}", relation="子"), subsidized=True,
                     **ENROLLED)  # fmt: skip
    for row in world.records["medical_enrollment"]:
        row["subsidized"] = True
    run = world.run(rule_config)
    assert "YB02" not in run.not_evaluated and yb02(run) == {subject}
    general = world.member(world.household("一般农户"), "钱一")
    world.record("medical_enrollment", general, subsidized=True, **ENROLLED)
    run = world.run(rule_config)
    assert not yb02(run) and "只有资助参保的人员" in run.not_evaluated["YB02"]
    assert "22 行都是资助参保" in run.not_evaluated["YB02"]
    # one of them pays for themself: a full list
    world.record("medical_enrollment", world.member(monitored, "赵自费"), subsidized=False,
                 **ENROLLED)  # fmt: skip
    run = world.run(rule_config)
    assert "YB02" not in run.not_evaluated and yb02(run) == {subject}
