"""Asset-check logic: schema failures counted, row accounting, tie-rate drop and reject rate."""

from __future__ import annotations

import polars as pl

from pipelines.checks.ingest import row_accounting_check, schema_check
from pipelines.checks.matching import reject_rate_check, tie_rate_check
from pipelines.checks.schemas import schema_failures
from pipelines.sources import SOURCES


def test_tie_rate_drop_over_five_points_warns_and_names_the_source():
    previous = pl.DataFrame({"source": ["hrss", "housing"], "tie_rate": [0.98, 0.90]})
    current = pl.DataFrame({"source": ["hrss", "housing"], "tie_rate": [0.92, 0.86]})
    result = tie_rate_check(current, previous)
    assert not result.passed
    assert "hrss 匹配率下降(百分点)" in result.metadata
    assert "housing 匹配率下降(百分点)" not in result.metadata  # 4 points: within tolerance
    assert tie_rate_check(current, current).passed


def test_reject_rate_limit_is_two_percent():
    frame = pl.DataFrame(
        {"source": ["a", "b"], "rows_read": [1000, 1000], "rows_rejected": [20, 21]}
    )
    result = reject_rate_check(frame)
    assert not result.passed
    assert list(k for k in result.metadata if "退回率" in k) == ["b 退回率"]


def test_row_accounting_fails_on_unbalanced_or_failed_files():
    files = pl.DataFrame(
        {
            "status": ["ok", "ok"],
            "rows_read": [10, 5],
            "rows_kept": [9, 5],
            "rows_rejected": [1, 0],
        }
    )
    assert row_accounting_check(files).passed
    assert not row_accounting_check(files.with_columns(pl.Series("rows_kept", [8, 5]))).passed
    assert not row_accounting_check(
        files.with_columns(pl.Series("status", ["ok", "failed"]))
    ).passed


def test_schema_check_counts_failures_by_column_and_check():
    source = SOURCES["housing"]
    good = pl.DataFrame(
        {
            "record_key": ["k1", "k2"],
            "file": ["f.csv", "f.csv"],
            "row_number": [2, 3],
            "id_status": ["valid", "missing"],
            "id_number": ["34150219800101001X", None],
            "grade": ["C", "A"],
            "name": ["甲", None],
        }
    )

    def check(frame: pl.DataFrame):
        return schema_check(schema_failures(source, frame), frame.height)

    assert check(good).passed and check(good).metadata["rows_checked"].value == 2
    bad = good.with_columns(pl.Series("grade", ["E", "A"]), pl.Series("id_number", ["12345", None]))
    result = check(bad)
    assert not result.passed
    assert any(k.startswith("grade") for k in result.metadata)
    assert any(k.startswith("id_number") for k in result.metadata)
    assert not check(good.drop("name")).passed  # staged rows always carry a name column
