"""The matcher's input built from staged tables: several months in one pass, empty months."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.assets.matching import run_matching
from pipelines.warehouse import replace_partition
from tests.conftest import make_id


def _roster(con, id_number: str) -> None:
    member = pl.DataFrame(
        {
            "member_key": [f"H1|{id_number}"], "household_id": ["H1"], "name": ["张三"],
            "id_number": [id_number], "id_status": ["valid"], "birth_date": [date(1980, 1, 1)],
            "township": ["东桥镇"], "village": ["王岗村"], "relation": ["户主"], "is_head": [True],
        }
    )  # fmt: skip
    replace_partition(con, "roster_members", member, district="d", month="2026-10")


def test_same_record_key_in_two_months_is_matched_once_per_month():
    con = duckdb.connect()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    claim = pl.DataFrame(
        {
            "record_key": ["medical_claims|a.csv||2"], "name": ["张三"], "id_number": [id_number],
            "id_status": ["valid"], "id_birth": [date(1980, 1, 1)], "id_area": ["341502"],
            "township": ["东桥"], "village": ["王岗"],
        }
    )  # fmt: skip
    for month in ("2026-08", "2026-09"):
        replace_partition(con, "stg_medical_claims", claim, district="d", month=month)
    matches, unresolved = run_matching(
        con, district="d", months=["2026-08", "2026-09"], roster_month="2026-10",
        sources=["medical_claims"],
    )  # fmt: skip
    assert unresolved.is_empty()
    assert sorted(matches.select("month", "record_key", "member_key").rows()) == [
        ("2026-08", "medical_claims|a.csv||2", f"H1|{id_number}"),
        ("2026-09", "medical_claims|a.csv||2", f"H1|{id_number}"),
    ]


def test_a_month_without_department_data_matches_nothing():
    con = duckdb.connect()
    _roster(con, make_id(date(1980, 1, 1)))
    matches, unresolved = run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=[]
    )
    assert matches.is_empty() and unresolved.is_empty()


def test_earlier_months_are_batched_by_volume(monkeypatch):
    from pipelines.assets import matching

    con = duckdb.connect()
    frame = pl.DataFrame({"record_key": [f"k{i}" for i in range(5)]})
    for month, rows in (("2026-01", 3), ("2026-02", 2), ("2026-03", 4), ("2026-04", 1)):
        replace_partition(con, "stg_medical_claims", frame.head(rows), district="d", month=month)
    monkeypatch.setattr(matching, "BATCH_RECORDS", 5)
    batches = matching._batches(con, "d", ["2026-01", "2026-02", "2026-03", "2026-04"])
    assert batches == [["2026-01", "2026-02"], ["2026-03", "2026-04"]]
    assert matching._batches(con, "d", []) == []
