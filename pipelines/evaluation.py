"""The month's rule evaluation written to the warehouse: warnings, provenance, what could not be decided."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.rules.evaluate import RuleRun, evaluate_rules
from pipelines.warehouse import replace_partition


def received_sources(con: duckdb.DuckDBPyConnection, district: str, month: str) -> set[str]:
    rows = con.execute(
        "SELECT source FROM source_status WHERE district = ? AND month = ? AND received",
        [district, month],
    ).fetchall()
    return {r[0] for r in rows}


def provenance(warnings: pl.DataFrame) -> pl.DataFrame:
    """One row per (warning, department record): source, file, sheet, row number."""
    parts = (
        warnings.select("warning_id", "record_keys")
        .explode("record_keys")
        .drop_nulls("record_keys")
        .rename({"record_keys": "record_key"})
    )
    split = pl.col("record_key").str.split("|")
    return parts.with_columns(
        split.list.get(0).alias("source"),
        split.list.get(1).alias("file"),
        split.list.get(2).alias("sheet"),
        split.list.get(3).cast(pl.Int64, strict=False).alias("row_number"),
    )


def not_evaluated_frame(result: RuleRun) -> pl.DataFrame:
    """Rules not evaluated this month and why (named sources and files), for run output and summary."""
    return pl.DataFrame(
        {"rule": list(result.not_evaluated), "reason": list(result.not_evaluated.values())},
        schema={"rule": pl.String, "reason": pl.String},
    )


def evaluate_month(
    con: duckdb.DuckDBPyConnection, district: str, month: str, config: dict
) -> RuleRun:
    """Every rule over the month's sources that were received; warnings, warning_records,
    rule_undecided and rules_not_evaluated written."""
    received = received_sources(con, district, month)
    result = evaluate_rules(con, district=district, month=month, config=config, received=received)
    for table, frame in (
        ("warnings", result.warnings),
        ("warning_records", provenance(result.warnings)),
        ("rule_undecided", result.undecided),
        ("rules_not_evaluated", not_evaluated_frame(result)),
    ):
        replace_partition(con, table, frame, district=district, month=month)
    return result
