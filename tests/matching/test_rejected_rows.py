"""Roster rows the ingest rejected (a 户编号 Excel destroyed) are people all the same: the matcher
sees them as candidates and rivals, never ties to them, and never lists them.

The case that made this (an independent district, a township's roster file with every 户编号
destroyed): a household-level 饮水/受灾/住房 row naming 王东辉 of 新庄村 without its 乡镇 was tied
to the 王东辉 who heads a household of 新庄村 in another township, because the right one's row had
been rejected; the wrong household was warned (5 such warnings of 114).
"""

from __future__ import annotations

from typing import Any

from pipelines.matching.labels import REASONS
from tests.matching.builders import make_id, member, record

HEAD = make_id("19661226", 13)  # 王东辉 of 木厂镇's 新庄村, a kept roster row
GHOST = make_id("19700315", 27)  # 王东辉 of 东桥镇's 新庄村, the row rejected


def _kept_head() -> dict[str, Any]:
    return member("H1|w", "王东辉", HEAD, "H1", township="木厂镇", village="新庄村", is_head=True)


def _rejected_head() -> dict[str, Any]:
    return member(
        "rejected|东桥镇.csv||95", "王东辉", GHOST, "rejected|东桥镇.csv||95",
        township="东桥镇", village="新庄村", is_head=True,
    )  # fmt: skip


def _household_row(**fields: Any) -> dict[str, Any]:
    return record("water|a.csv||24", "王东辉", village="新庄村", household_level=True, **fields)


def test_a_namesake_whose_row_was_rejected_keeps_the_record_untied(run) -> None:
    untouched = run([_kept_head()], [_household_row()])
    assert untouched.matches["member_key"].to_list() == ["H1|w"]  # what it did before

    result = run([_kept_head()], [_household_row()], rejected=[_rejected_head()])
    assert result.matches.is_empty()
    assert result.unresolved.select("status", "reason", "candidates").to_dicts() == [
        {"status": "ambiguous", "reason": REASONS["rejected_rival"], "candidates": ["H1|w"]}
    ]


def test_the_record_of_a_rejected_rows_person_is_not_tied_by_their_id(run) -> None:
    result = run([_kept_head()], [_household_row(id_number=GHOST)], rejected=[_rejected_head()])
    assert result.matches.is_empty()
    assert result.unresolved.select("status", "reason", "candidates").to_dicts() == [
        {"status": "unmatched", "reason": REASONS["roster_rejected"], "candidates": []}
    ]


def test_a_rejected_row_alone_is_never_a_tie_nor_a_listed_candidate(run) -> None:
    person = record(
        "civil_affairs|a.xls|变动名册|65", "王东辉", township="东桥镇", village="新庄村"
    )
    result = run([], [person], rejected=[_rejected_head()])
    assert result.matches.is_empty()
    assert result.unresolved.select("status", "reason", "candidates").to_dicts() == [
        {"status": "unmatched", "reason": REASONS["roster_rejected"], "candidates": []}
    ]


def test_a_record_the_kept_member_alone_fits_is_still_tied(run) -> None:
    # by ID, and by name in the kept member's own township: the rejected namesake is no rival
    by_id = _household_row(id_number=HEAD)
    by_place = record("water|a.csv||25", "王东辉", township="木厂镇", village="新庄村",
                      household_level=True)  # fmt: skip
    result = run([_kept_head()], [by_id, by_place], rejected=[_rejected_head()])
    assert result.unresolved.is_empty()
    assert result.matches["member_key"].to_list() == ["H1|w", "H1|w"]
