"""The enrollment list read as a person reads it: year forms, 无 as no, an ambiguous year kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.stage import stage_source
from pipelines.sources import SOURCES
from tests.ingest.builders import make_id, write_csv

ENROLLMENT = SOURCES["medical_enrollment"]
HEADER = ("序号", "姓名", "身份证号", "参保年度", "参保状态", "资助参保")


@pytest.mark.parametrize(
    ("year_cell", "year", "problem"),
    [
        ("2026", 2026, None),
        ("2026.0", 2026, None),  # Excel's float
        ("2026年度", 2026, None),
        (" ２０２６年 ", 2026, None),
        ("'2026", 2026, None),  # protected as text
        ("26", None, "参保年度"),  # which century? a field problem, never a guess
        ("2026-2027年度", None, "参保年度"),
    ],
)
def test_year_forms(tmp_path: Path, year_cell, year, problem) -> None:
    write_csv(
        tmp_path / "参保.csv",
        [HEADER, ("1", "张三", make_id(), year_cell, "正常参保", "无")],
    )
    staged = stage_source(ENROLLMENT, tmp_path, "2026-10")
    assert staged.rejects.is_empty()  # the person is readable: the row is kept
    row = staged.records.row(0, named=True)
    assert row["enroll_year"] == year and row["enroll_status"] == "正常参保"
    assert row["subsidized"] is False  # 无 in a 是/否 column is "no"
    problems = staged.field_problems
    if problem is None:
        assert problems.is_empty()
    else:
        assert problems["field"].to_list() == ["enroll_year"]
        assert problem in problems["reason"][0] and problems["raw_value"][0] == year_cell
