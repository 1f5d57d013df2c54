"""Matching layer: every department record of the month tied to one roster member, or listed."""

from __future__ import annotations

import dagster as dg
import duckdb
import polars as pl

from pipelines.matching.matcher import match_records
from pipelines.partitions import monthly_partitions
from pipelines.resources import WRITER_POOL, FangfanResource
from pipelines.sources import DEPARTMENT_SOURCES
from pipelines.warehouse import replace_partition, scalar, table_exists

NEGATIVE_PAIRS_DDL = """
    CREATE TABLE IF NOT EXISTS negative_pairs (
        district VARCHAR, source VARCHAR, record_key VARCHAR, member_key VARCHAR,
        added_month VARCHAR, reason VARCHAR
    )
"""


def _record_select(source_key: str, household_level: bool) -> str:
    return f"""
        SELECT record_key, '{source_key}' AS source, name, id_number, id_status, id_birth, id_area,
               CAST(NULL AS DATE) AS birth_date, township, village,
               {str(household_level).lower()} AS household_level
        FROM stg_{source_key} WHERE district = $district AND month = $month
    """


def prepare_match_views(
    con: duckdb.DuckDBPyConnection, *, district: str, month: str, roster_month: str, sources: list[str]
) -> None:
    """Temp views the pure matcher reads: match_input, roster_input, negative_input."""
    by_key = {s.key: s for s in DEPARTMENT_SOURCES}
    selects = [_record_select(key, by_key[key].household_level) for key in sources]
    con.execute(NEGATIVE_PAIRS_DDL)
    params = {"district": district, "month": month}
    union = " UNION ALL ".join(selects)
    con.execute(f"CREATE OR REPLACE TEMP TABLE match_input AS {union}", params)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE roster_input AS
           SELECT member_key, household_id, name, id_number, id_status, birth_date, township,
                  village, relation, is_head
           FROM roster_members WHERE district = $district AND month = $month""",
        {"district": district, "month": roster_month},
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE negative_input AS
           SELECT source, record_key, member_key FROM negative_pairs WHERE district = $district""",
        {"district": district},
    )


def run_matching(
    con: duckdb.DuckDBPyConnection, *, district: str, month: str, roster_month: str, sources: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    prepare_match_views(con, district=district, month=month, roster_month=roster_month, sources=sources)
    result = match_records(con, "match_input", "roster_input", "negative_input")
    sources_of = con.sql("SELECT record_key, source FROM match_input").pl()
    matches = result.matches.join(sources_of, on="record_key", how="left")
    unresolved = result.unresolved.join(sources_of, on="record_key", how="left")
    return matches, unresolved


def _staged_sources(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    return [
        s.key
        for s in DEPARTMENT_SOURCES
        if table_exists(con, f"stg_{s.key}")
        and scalar(con, f"SELECT count(*) FROM stg_{s.key} WHERE district = ? AND month = ?", [district, month])
    ]


def _earlier_claim_months(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    """Months of this year whose claims are staged but not matched (ingested for YB01)."""
    if not table_exists(con, "stg_medical_claims"):
        return []
    matched = "SELECT DISTINCT month FROM record_matches WHERE district = $d AND source = 'medical_claims'"
    if not table_exists(con, "record_matches"):
        matched = "SELECT NULL AS month WHERE false"
    rows = con.execute(
        f"""SELECT DISTINCT month FROM stg_medical_claims
            WHERE district = $d AND month >= $y AND month < $m
              AND month NOT IN ({matched}) ORDER BY month""",
        {"d": district, "y": f"{month[:4]}-01", "m": month},
    ).fetchall()
    return [r[0] for r in rows]


@dg.asset(
    partitions_def=monthly_partitions,
    group_name="matching",
    kinds={"duckdb", "polars"},
    code_version="1",
    pool=WRITER_POOL,
    deps=["roster_members", *(s.key for s in DEPARTMENT_SOURCES)],
)
def member_matches(context: dg.AssetExecutionContext, fangfan: FangfanResource) -> dg.MaterializeResult:
    """部门记录与花名册成员的匹配：逐层（证件号码、纠错、姓名+出生日期、姓名+村），不确定的进入待确认清单。"""
    month, district = context.partition_key, fangfan.district_key
    with fangfan.warehouse() as con:
        sources = _staged_sources(con, district, month)
        matches, unresolved = run_matching(
            con, district=district, month=month, roster_month=month, sources=sources
        )
        replace_partition(con, "record_matches", matches, district=district, month=month)
        replace_partition(con, "unmatched_records", unresolved, district=district, month=month)
        earlier = _earlier_claim_months(con, district, month)
        for earlier_month in earlier:
            # earlier claims are tied against this month's roster: the one the YB01 sum is for
            m, u = run_matching(
                con, district=district, month=earlier_month, roster_month=month,
                sources=["medical_claims"],
            )  # fmt: skip
            where = ("source = ?", ["medical_claims"])
            replace_partition(con, "record_matches", m, district=district, month=earlier_month, extra_where=where)
            replace_partition(
                con, "unmatched_records", u, district=district, month=earlier_month, extra_where=where
            )
    total = matches.height + unresolved.height
    metadata: dict = {
        "records": total,
        "tied": matches.height,
        "tie_rate": round(matches.height / total, 4) if total else 0.0,
        "ambiguous": unresolved.filter(pl.col("status") == "ambiguous").height,
        "unmatched": unresolved.filter(pl.col("status") == "unmatched").height,
        "earlier_claim_months_matched": ", ".join(earlier) or "无",
    }
    for tier, n in matches.group_by("tier").len().sort("tier").iter_rows():
        metadata[f"tier · {tier}"] = int(n)
    return dg.MaterializeResult(metadata=metadata)
