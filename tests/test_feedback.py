"""Returned verification results: verdict spelling, unknown ids, wrong township, latest answer wins."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.feedback import (
    REJECT_OTHER_TOWNSHIP,
    REJECT_UNKNOWN_ID,
    REJECT_UNKNOWN_VERDICT,
    effective_verdicts,
    file_townships,
    normalise_verdict,
    resolve_answers,
)
from pipelines.warehouse import memory_warehouse, replace_partition


@pytest.mark.parametrize(
    ("typed", "verdict"),
    [
        ("属实-已纳入监测", "属实-已纳入监测"),
        (" 属实－已纳入监测 ", "属实-已纳入监测"),  # full-width dash and stray spaces
        ("属实—已落实帮扶", "属实-已落实帮扶"),
        ("属实 已落实帮扶", "属实-已落实帮扶"),
        ("属实_无需纳入", "属实-无需纳入"),
        ("不属实。", "不属实"),
        ("属实（已纳入监测）", "属实-已纳入监测"),
        ("属实【已落实帮扶】", "属实-已落实帮扶"),
        ("非本人", "非本人"),
        ("", None),
        (None, None),
        ("属实", "属实"),  # not one of the five: comes back unchanged, to be rejected
        ("查无此人", "查无此人"),
        # a verdict with the clerk's note after it, as a person reads it (both had been refused
        # and the warning listed again as 待核实, with no word to the township)
        ("不属实（已核实）", "不属实"),
        ("不属实(经入户核实)", "不属实"),
        ("非本人【同名同姓】", "非本人"),
        ("属实-已纳入监测（已走访）", "属实-已纳入监测"),
        ("属实（已核实）", "属实(已核实)"),  # 属实 alone is none of the five
        ("不属实（属实-无需纳入）", "不属实(属实-无需纳入)"),  # reads two ways
        # a verdict and the clerk's sentence after it (indep32)
        ("属实-无需纳入，家属已外出务工", "属实-无需纳入"),
        ("不属实；该户已于9月搬离", "不属实"),
        ("非本人: 同名同姓", "非本人"),
        ("属实-已落实帮扶。已办理临时救助", "属实-已落实帮扶"),
        ("不属实，非本人", "不属实,非本人"),  # the sentence names another verdict: two ways
        ("非本人，经核实属实", "非本人,经核实属实"),
        ("属实，家属已外出务工", "属实,家属已外出务工"),  # 属实 alone is none of the five
    ],
)
def test_verdict_spellings(typed, verdict):
    assert normalise_verdict(typed) == verdict


def test_the_townships_a_files_name_names():
    towns = ["东桥镇", "东桥", "木厂镇", "三十铺镇"]
    assert file_townships("东桥镇_王岗村核实.xlsx", towns) == ["东桥镇"]
    assert file_townships("东桥镇三十铺镇_10月核实结果.xlsx", towns) == ["东桥镇", "三十铺镇"]
    assert file_townships("returned.csv", towns) == []


def _rows(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"record_key": pl.String, "file": pl.String, "sheet": pl.String,
                "row_number": pl.Int64, "warning_id": pl.String, "township": pl.String,
                "verdict": pl.String, "verification_note": pl.String, "verifier": pl.String,
                "verified_date": pl.Date},
        orient="row",
    )  # fmt: skip


LISTED = pl.DataFrame(
    {"warning_id": ["ZJ01-A", "YB01-B", "GA02-C"], "township": ["东桥镇", "东桥镇", "木厂镇"]}
)


def test_resolution_rejects_unknown_ids_verdicts_and_other_townships():
    rows = _rows(
        [
            ("k2", "东桥镇.csv", None, 2, "zj01-a ", "东桥镇", "属实－已纳入监测", None, "甲", date(2026, 11, 5)),
            ("k3", "东桥镇.csv", None, 3, "YB01-B", "东桥镇", "", None, None, None),
            ("k4", "东桥镇.csv", None, 4, "XX99-Z", "东桥镇", "不属实", None, None, None),
            ("k5", "东桥镇.csv", None, 5, "YB01-B", "东桥镇", "部分属实", None, None, None),
            ("k6", "东桥镇.csv", None, 6, "GA02-C", "木厂镇", "不属实", None, None, None),
        ]
    )  # fmt: skip
    answers, rejects = resolve_answers(rows, LISTED)
    assert answers.select("warning_id", "verdict").rows() == [("ZJ01-A", "属实-已纳入监测")]
    reasons = dict(zip(rejects["row_number"], rejects["reason"], strict=True))
    assert reasons == {4: REJECT_UNKNOWN_ID, 5: REJECT_UNKNOWN_VERDICT, 6: REJECT_OTHER_TOWNSHIP}
    assert all("甲" not in r for r in reasons.values())


def test_a_return_the_district_put_together_is_each_townships_answer():
    """Two townships' answers pasted into one workbook by the district (an independent probe,
    indep32, saw the rows of the township not first in its name refused as another township's).
    A file named for both speaks for both; a file named for none speaks, row by row, for the 乡镇
    each row gives (the file's usual one where a row's is blank); a file named for one township
    still does not answer another's warning."""
    rows = _rows(
        [
            ("k1", "东桥镇木厂镇_10月核实结果.xlsx", None, 2, "ZJ01-A", "东桥镇", "不属实", None, None, None),
            ("k2", "东桥镇木厂镇_10月核实结果.xlsx", None, 3, "GA02-C", "木厂镇", "不属实", None, None, None),
            ("k3", "10月核实结果汇总.xlsx", None, 2, "YB01-B", "东桥镇", "不属实", None, None, None),
            ("k4", "10月核实结果汇总.xlsx", None, 3, "GA02-C", "木厂镇", "不属实", None, None, None),
            ("k5", "10月核实结果汇总.xlsx", None, 4, "ZJ01-A", " ", "不属实", None, None, None),
            ("k6", "10月核实结果汇总.xlsx", None, 5, "ZJ01-A", "东桥镇", "不属实", None, None, None),
            ("k7", "东桥镇.xlsx", None, 2, "GA02-C", "木厂镇", "不属实", None, None, None),
        ]
    )  # fmt: skip
    answers, rejects = resolve_answers(rows, LISTED)
    assert sorted(answers["record_key"]) == ["k1", "k2", "k3", "k4", "k5", "k6"]
    assert dict(zip(answers["record_key"], answers["file_township"], strict=True))["k1"] == (
        "东桥镇、木厂镇"
    )
    assert dict(zip(rejects["record_key"], rejects["reason"], strict=True)) == {
        "k7": REJECT_OTHER_TOWNSHIP
    }


def test_latest_verification_date_wins_and_all_answers_are_kept():
    con = memory_warehouse()
    answers = pl.DataFrame(
        {
            "warning_id": ["W1", "W1", "W2"],
            "verdict": ["不属实", "属实-已落实帮扶", "非本人"],
            "verified_date": [date(2026, 11, 20), date(2026, 11, 10), None],
            "file": ["a.csv", "b.csv", "a.csv"],
            "row_number": [2, 2, 3],
        }
    )
    replace_partition(con, "feedback_answers", answers, district="d", month="2026-11")
    later = pl.DataFrame(
        {"warning_id": ["W2"], "verdict": ["属实-无需纳入"], "verified_date": [date(2026, 12, 1)],
         "file": ["c.csv"], "row_number": [2]}
    )  # fmt: skip
    replace_partition(con, "feedback_answers", later, district="d", month="2026-12")
    november = dict(effective_verdicts(con, "d", "2026-11").select("warning_id", "verdict").rows())
    assert november == {"W1": "不属实", "W2": "非本人"}
    december = dict(effective_verdicts(con, "d", "2026-12").select("warning_id", "verdict").rows())
    assert december == {"W1": "不属实", "W2": "属实-无需纳入"}
    assert con.sql("SELECT count(*) FROM feedback_answers").fetchall()[0][0] == 4


def test_answers_that_disagree_on_one_day_are_not_taken_and_a_note_without_verdict_is_reported():
    from pipelines.feedback import REJECT_CONFLICT, REJECT_NO_VERDICT

    rows = _rows(
        [
            # a partial return and the complete one, both dated 11/3, disagree: neither is a guess
            ("k2", "东桥镇.csv", None, 2, "ZJ01-A", "东桥镇", "不属实", None, None, date(2026, 11, 3)),
            ("k3", "东桥镇（第一批）.csv", None, 2, "ZJ01-A", "东桥镇", "属实-无需纳入", None, None, date(2026, 11, 3)),
            # dated apart: the later stands; the same answer twice is no conflict
            ("k4", "东桥镇.csv", None, 3, "YB01-B", "东桥镇", "不属实", None, None, date(2026, 11, 5)),
            ("k5", "东桥镇（第一批）.csv", None, 3, "YB01-B", "东桥镇", "属实-无需纳入", None, None, date(2026, 11, 1)),
            ("k6", "木厂镇.csv", None, 2, "GA02-C", "木厂镇", "非本人", None, None, None),
            ("k7", "木厂镇（第一批）.csv", None, 2, "GA02-C", "木厂镇", "非本人", None, None, None),
            # the answer typed into 核实说明 only
            ("k8", "木厂镇.csv", None, 3, "GA02-C", "木厂镇", None, "经入户核实不属实", "乙", None),
            ("k9", "木厂镇.csv", None, 4, "GA02-C", "木厂镇", " ", None, None, None),
        ]
    )  # fmt: skip
    answers, rejects = resolve_answers(rows, LISTED)
    assert sorted(answers.select("warning_id", "verdict").rows()) == [
        ("GA02-C", "非本人"), ("GA02-C", "非本人"), ("YB01-B", "不属实"), ("YB01-B", "属实-无需纳入"),
    ]  # fmt: skip
    reasons = dict(zip(rejects["record_key"], rejects["reason"], strict=True))
    assert reasons == {"k2": REJECT_CONFLICT, "k3": REJECT_CONFLICT, "k8": REJECT_NO_VERDICT}


def test_a_second_sheet_of_returned_answers_is_not_read_silently(tmp_path):
    import openpyxl

    from pipelines.ingest.stage import stage_source
    from pipelines.sources import FEEDBACK

    head = ["预警编号", "乡镇", "核实结果", "核实说明", "核实人", "核实日期"]
    book = openpyxl.Workbook()
    book.active.title = "东桥镇"
    book.active.append(head)
    book.active.append(["ZJ01-A", "东桥镇", "不属实", "", "甲", "2026/11/3"])
    other = book.create_sheet("先生店镇")
    other.append(head)
    other.append(["GA02-D", "先生店镇", "非本人", "", "乙", "2026/11/3"])
    book.save(tmp_path / "反馈汇总.xlsx")
    staged = stage_source(FEEDBACK, tmp_path, "2026-11")
    file = staged.files.row(0, named=True)
    assert file["status"] != "ok" and "先生店镇（1 行）" in file["message"]


def test_a_warning_that_moved_with_its_household_is_answered_by_the_township_it_went_to():
    """A household with an open warning moved from 东桥镇 to 施桥镇 and the warning went with it:
    施桥镇, which received it, answers it (its answer had been refused as another township's, the
    warning listed again as 逾期); 东桥镇, which had it before the move, may answer it too; a
    township it never went to may not. A blank row is not an answer yet, whoever's warning it is
    (a moved warning's blank row had been reported to the district as refused)."""
    listed = pl.DataFrame(
        {"warning_id": ["RS01-M", "RS01-M", "GA02-C"], "township": ["东桥镇", "施桥镇", "木厂镇"]}
    )
    rows = _rows(
        [
            ("k2", "施桥镇.csv", None, 2, "RS01-M", "施桥镇", "属实-无需纳入", None, "甲", date(2026, 10, 5)),
            ("k3", "东桥镇.csv", None, 2, "RS01-M", "东桥镇", "属实-无需纳入", None, "乙", date(2026, 10, 5)),
            ("k4", "木厂镇.csv", None, 2, "RS01-M", "木厂镇", "不属实", None, None, None),
            ("k5", "施桥镇.csv", None, 3, "GA02-C", "木厂镇", None, None, None, None),
            ("k6", "施桥镇.csv", None, 4, "XX99-Z", "施桥镇", "", None, None, None),
            # a file naming no township, its 乡镇 column cleared: not another township's
            ("k7", "核实结果.csv", None, 2, "GA02-C", None, "不属实", None, None, None),
        ]
    )  # fmt: skip
    answers, rejects = resolve_answers(rows, listed)
    assert sorted(answers["record_key"]) == ["k2", "k3", "k7"]
    assert dict(zip(rejects["record_key"], rejects["reason"], strict=True)) == {
        "k4": REJECT_OTHER_TOWNSHIP
    }


def test_every_township_a_warning_was_listed_to_is_its_own_and_its_member_the_latest():
    from pipelines.feedback import listed_before

    con = memory_warehouse()
    for month, township, member in (
        ("2026-07", "东桥镇", "H1|a"),
        ("2026-08", "施桥镇", "H9|a"),  # the household moved, the warning went with it
        ("2026-09", "施桥镇", "H9|a"),
    ):
        listing = pl.DataFrame(
            {"warning_id": ["RS01-M"], "township": [township], "member_key": [member]}
        )
        replace_partition(con, "listings", listing, district="d", month=month)
    listed = listed_before(con, "d", "2026-10")
    assert listed.rows() == [("RS01-M", "东桥镇", "H9|a"), ("RS01-M", "施桥镇", "H9|a")]
    assert listed_before(con, "d", "2026-08").rows() == [("RS01-M", "东桥镇", "H1|a")]
