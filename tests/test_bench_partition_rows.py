"""Rows per declared table of one district and month, for the assets' metadata."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.schema import partition_rows
from pipelines.warehouse import memory_warehouse, replace_partition


def test_rows_of_one_partition_per_table():
    con = memory_warehouse()
    frame = pl.DataFrame({"kind": ["a", "b"], "household_id": ["h1", "h2"]})
    replace_partition(con, "roster_findings", frame, district="d", month="2026-10")
    replace_partition(con, "roster_findings", frame.head(1), district="d", month="2026-09")
    replace_partition(con, "roster_findings", frame, district="e", month="2026-10")
    assert partition_rows(con, ["roster_findings", "households"], "d", "2026-10") == {
        "roster_findings": 2,
        "households": 0,
    }
    with pytest.raises(ValueError, match="not a declared partitioned table"):
        partition_rows(con, ["export_log"], "d", "2026-10")
