"""Match quality per source: ties, ambiguous, unmatched (by reason), ID repairs, rejects."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.warehouse import replace_partition


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
            SELECT source, sum(rows_kept + rows_rejected)::BIGINT AS rows_read,
                   sum(rows_rejected)::BIGINT AS rows_rejected
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
    """Per source, the tie rate of the latest earlier month that has one."""
    return con.sql(
        """SELECT source, tie_rate FROM match_quality
           WHERE district = $d AND month = (
               SELECT max(month) FROM match_quality WHERE district = $d AND month < $m)""",
        params={"d": district, "m": month},
    ).pl()


def write_quality(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The month's quality per source and the previous month's tie rates (for the checks);
    match_quality and match_quality_reasons written."""
    per_source, reasons = quality_by_source(con, district, month)
    previous = previous_quality(con, district, month)
    replace_partition(con, "match_quality", per_source, district=district, month=month)
    replace_partition(con, "match_quality_reasons", reasons, district=district, month=month)
    return per_source, previous
