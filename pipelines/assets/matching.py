"""Matching layer: every department record of the month tied to one roster member, or listed."""

import dagster as dg
import duckdb
import polars as pl

from pipelines.assets.common import warehouse_asset
from pipelines.checks.matching import match_check_specs, reject_rate_check, tie_rate_check
from pipelines.feedback import IDENTITY_SQL
from pipelines.matching.ids import clean_id_expr
from pipelines.matching.matcher import match_records
from pipelines.matching.places import canonical_places
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_SOURCES
from pipelines.warehouse import replace_partition, scalar, table_exists


def _record_select(source_key: str, household_level: bool, columns: set[str]) -> str:
    # record keys repeat across months (same file name, same row): the matcher's key carries the
    # month, so several months can be matched in one pass. `columns`: the staged table's.
    # The record's own birth date where the department's file has one (a source that declares
    # birth_date / 出生日期); without it the matcher reads what survives of the ID (id_birth).
    birth_date = "birth_date::DATE" if "birth_date" in columns else "CAST(NULL AS DATE)"
    id_raw = "id_raw::VARCHAR" if "id_raw" in columns else "CAST(NULL AS VARCHAR)"
    return f"""
        SELECT month || '#' || record_key AS record_key, record_key AS source_record_key, month,
               '{source_key}' AS source, name, id_number, id_status, id_birth, id_area,
               {birth_date} AS birth_date, township, village,
               {str(household_level).lower()} AS household_level, {id_raw} AS id_raw
        FROM stg_{source_key} WHERE district = $district AND list_contains($months, month)
    """


def _staged_columns(con: duckdb.DuckDBPyConnection, source_key: str) -> set[str]:
    return set(con.sql(f"SELECT * FROM stg_{source_key} LIMIT 0").columns)


def keep_mistyped_ids(con: duckdb.DuckDBPyConnection) -> None:
    """An ID cell of 18 digits (or X) that the ingest cannot use because its birth date is not
    a date or an X sits in its body — a mistyped digit, two digits swapped across the area code
    and the birth date, the check X swapped inward — keeps those 18 characters in match_input
    (as a bad checksum's do), so that the matcher's repair tier can find the ID they are one
    typo from. Its status stays what the ingest said: the matcher never treats it as usable.
    """
    rows = con.sql(
        "SELECT record_key, id_raw FROM match_input "
        "WHERE id_number IS NULL AND id_status IN ('bad_date', 'invalid') AND id_raw IS NOT NULL"
    ).pl()
    kept = rows.select("record_key", id_number=clean_id_expr("id_raw")).filter(
        pl.col("id_number").str.contains(r"^[0-9X]{18}$")
    )
    if kept.is_empty():
        return
    con.register("_kept_ids", kept)
    try:
        con.execute(
            """UPDATE match_input SET id_number = k.id_number FROM _kept_ids k
               WHERE match_input.record_key = k.record_key"""
        )
    finally:
        con.unregister("_kept_ids")


def prepare_match_views(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    roster_month: str,
    sources: list[str],
) -> None:
    """Temp views the pure matcher reads: match_input, roster_input, negative_input."""
    by_key = {s.key: s for s in DEPARTMENT_SOURCES}
    selects = [
        _record_select(key, by_key[key].household_level, _staged_columns(con, key))
        for key in sources
    ]
    # no department sent anything: an empty input of the same shape
    union = " UNION ALL ".join(selects) or (
        "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS source_record_key, "
        "NULL::VARCHAR AS month, NULL::VARCHAR AS source, NULL::VARCHAR AS name, "
        "NULL::VARCHAR AS id_number, NULL::VARCHAR AS id_status, NULL::DATE AS id_birth, "
        "NULL::VARCHAR AS id_area, NULL::DATE AS birth_date, NULL::VARCHAR AS township, "
        "NULL::VARCHAR AS village, NULL::BOOLEAN AS household_level, NULL::VARCHAR AS id_raw "
        "WHERE $district IS NULL AND $months IS NULL"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE match_input AS {union}",
        {"district": district, "months": months},
    )
    params = {"district": district, "month": max(months)}
    con.execute(
        """CREATE OR REPLACE TEMP TABLE roster_input AS
           SELECT member_key, household_id, name, id_number, id_status, birth_date, township,
                  village, relation, is_head
           FROM roster_members WHERE district = $district AND month = $month""",
        {"district": district, "month": roster_month},
    )
    # 非本人 verdicts up to this month forbid their record identities being tied to that member
    if table_exists(con, "negative_pairs"):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE negative_input AS
                SELECT DISTINCT i.source, i.record_key, n.member_key
                FROM match_input i
                JOIN negative_pairs n
                  ON n.district = $district AND n.month <= $month
                 AND n.identity_key = {IDENTITY_SQL.format(s="i")}""",
            params,
        )
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE negative_input "
            "(source VARCHAR, record_key VARCHAR, member_key VARCHAR)"
        )
    # after the 非本人 identities, which are those of the staged rows
    keep_mistyped_ids(con)
    con.execute("ALTER TABLE match_input DROP COLUMN id_raw")
    canonicalise_places(con)


def canonicalise_places(con: duckdb.DuckDBPyConnection) -> None:
    """Department 乡镇/村 spellings mapped onto the roster's names (only distinct pairs travel)."""
    pairs = con.sql("SELECT DISTINCT township, village FROM match_input").pl()
    roster_places = con.sql("SELECT DISTINCT township, village FROM roster_input").pl()
    mapped = canonical_places(pairs, roster_places)
    place_map = (
        pairs.select(pl.col("township").alias("t0"), pl.col("village").alias("v0"))
        .with_columns(mapped["township"], mapped["village"])
        .filter(
            (pl.col("t0").ne_missing(pl.col("township")))
            | (pl.col("v0").ne_missing(pl.col("village")))
        )
    )
    if place_map.is_empty():
        return
    con.register("_place_map", place_map)
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE match_input AS
               SELECT m.* REPLACE (coalesce(p.township, m.township) AS township,
                                   coalesce(p.village, m.village) AS village)
               FROM match_input m
               LEFT JOIN _place_map p
                 ON m.township IS NOT DISTINCT FROM p.t0 AND m.village IS NOT DISTINCT FROM p.v0"""
        )
    finally:
        con.unregister("_place_map")


def run_matching(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    roster_month: str,
    sources: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match the records of `sources` in `months` against one roster; frames carry `month`."""
    prepare_match_views(
        con, district=district, months=months, roster_month=roster_month, sources=sources
    )
    result = match_records(con, "match_input", "roster_input", "negative_input")
    origin = con.sql("SELECT record_key, source_record_key, source, month FROM match_input").pl()

    def back(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.join(origin, on="record_key", how="left")
            .drop("record_key")
            .rename({"source_record_key": "record_key"})
        )

    return back(result.matches), back(result.unresolved)


def _staged_sources(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    return [
        s.key
        for s in DEPARTMENT_SOURCES
        if table_exists(con, f"stg_{s.key}")
        and scalar(
            con,
            f"SELECT count(*) FROM stg_{s.key} WHERE district = ? AND month = ?",
            [district, month],
        )
    ]


BATCH_RECORDS = 1_000_000


def _batches(con: duckdb.DuckDBPyConnection, district: str, months: list[str]) -> list[list[str]]:
    """Consecutive months grouped so that each group holds about BATCH_RECORDS claims."""
    if not months:
        return []
    sizes = dict(
        con.execute(
            "SELECT month, count(*) FROM stg_medical_claims"
            " WHERE district = ? AND list_contains(?, month) GROUP BY month",
            [district, months],
        ).fetchall()
    )
    batches: list[list[str]] = [[]]
    filled = 0
    for month in months:
        if batches[-1] and filled + sizes.get(month, 0) > BATCH_RECORDS:
            batches.append([])
            filled = 0
        batches[-1].append(month)
        filled += sizes.get(month, 0)
    return batches


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


@warehouse_asset(
    group="matching",
    kinds={"duckdb", "polars"},
    deps=["roster_members", "verification_feedback", *(s.key for s in DEPARTMENT_SOURCES)],
)
def member_matches(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> dg.MaterializeResult:
    """部门记录与花名册成员的匹配：逐层（证件号码、纠错、姓名+出生日期、姓名+村），不确定的进入待确认清单。"""
    month, district = context.partition_key, fangfan.district_key
    with fangfan.warehouse() as con:
        sources = _staged_sources(con, district, month)
        matches, unresolved = run_matching(
            con, district=district, months=[month], roster_month=month, sources=sources
        )
        matches, unresolved = matches.drop("month"), unresolved.drop("month")
        replace_partition(con, "record_matches", matches, district=district, month=month)
        replace_partition(con, "unmatched_records", unresolved, district=district, month=month)
        earlier = _earlier_claim_months(con, district, month)
        # earlier claims are tied against this month's roster (the one the YB01 sum is for), in
        # passes of about a month's volume so memory stays that of one month
        for batch in _batches(con, district, earlier):
            m, u = run_matching(
                con, district=district, months=batch, roster_month=month,
                sources=["medical_claims"],
            )  # fmt: skip
            where = ("source = ?", ["medical_claims"])
            for earlier_month in batch:
                for table, frame in (("record_matches", m), ("unmatched_records", u)):
                    part = frame.filter(pl.col("month") == earlier_month).drop("month")
                    replace_partition(
                        con, table, part, district=district, month=earlier_month, extra_where=where
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


def quality_by_source(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per source: records, ties, ambiguous, unmatched, ID repairs, rejects; and unresolved reasons."""
    params = {"d": district, "m": month}
    per_source = con.sql(
        """
        WITH recs AS (
            SELECT source, count(*) AS tied, count(*) FILTER (WHERE tier = 2) AS id_repairs
            FROM record_matches WHERE district = $d AND month = $m GROUP BY source
        ), unres AS (
            SELECT source, count(*) FILTER (WHERE status = 'ambiguous') AS ambiguous,
                   count(*) FILTER (WHERE status = 'unmatched') AS unmatched
            FROM unmatched_records WHERE district = $d AND month = $m GROUP BY source
        ), files AS (
            -- a file delivered twice is counted once: its rows are neither read nor rejected here
            SELECT source, sum(rows_kept + rows_rejected) AS rows_read,
                   sum(rows_rejected) AS rows_rejected
            FROM ingest_files WHERE district = $d AND month = $m GROUP BY source
        )
        SELECT f.source, coalesce(r.tied, 0) + coalesce(u.ambiguous, 0) + coalesce(u.unmatched, 0)
                   AS records,
               coalesce(r.tied, 0) AS tied, coalesce(u.ambiguous, 0) AS ambiguous,
               coalesce(u.unmatched, 0) AS unmatched, coalesce(r.id_repairs, 0) AS id_repairs,
               f.rows_read, f.rows_rejected
        FROM files f LEFT JOIN recs r USING (source) LEFT JOIN unres u USING (source)
        WHERE f.source NOT IN ('roster', 'grid')
        ORDER BY f.source
        """,
        params=params,
    ).pl()
    per_source = per_source.with_columns(
        pl.when(pl.col("records") > 0)
        .then(pl.col("tied") / pl.col("records"))
        .otherwise(None)
        .alias("tie_rate")
    )
    reasons = con.sql(
        """SELECT source, status, reason, count(*) AS records FROM unmatched_records
           WHERE district = $d AND month = $m GROUP BY ALL ORDER BY source, records DESC, status, reason""",
        params=params,
    ).pl()
    return per_source, reasons


def previous_quality(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    if not table_exists(con, "match_quality"):
        return pl.DataFrame(schema={"source": pl.String, "tie_rate": pl.Float64})
    return con.sql(
        """SELECT source, tie_rate FROM match_quality
           WHERE district = $d AND month = (
               SELECT max(month) FROM match_quality WHERE district = $d AND month < $m)""",
        params={"d": district, "m": month},
    ).pl()


@warehouse_asset(
    group="matching",
    kinds={"duckdb"},
    deps=["member_matches"],
    check_specs=match_check_specs(dg.AssetKey("match_quality")),
)
def match_quality(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> dg.MaterializeResult:
    """匹配质量：每个来源的记录数、匹配、待确认、未匹配（按原因）、证件号码纠错数与退回率。"""
    month, district = context.partition_key, fangfan.district_key
    with fangfan.warehouse() as con:
        per_source, reasons = quality_by_source(con, district, month)
        previous = previous_quality(con, district, month)
        replace_partition(con, "match_quality", per_source, district=district, month=month)
        replace_partition(con, "match_quality_reasons", reasons, district=district, month=month)
    metadata: dict = {}
    for row in per_source.iter_rows(named=True):
        rate = row["tie_rate"]
        metadata[f"{row['source']} 匹配率"] = round(rate, 4) if rate is not None else "无记录"
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            tie_rate_check(per_source.drop_nulls("tie_rate"), previous),
            reject_rate_check(per_source),
        ],
    )
