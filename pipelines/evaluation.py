"""The month's rule evaluation written to the warehouse: warnings, provenance, what could not be decided."""

from __future__ import annotations

import hashlib
import json

import duckdb
import polars as pl

from pipelines.fingerprints import code_digest
from pipelines.linkage import CLAIMS, match_fingerprint, staged_sources
from pipelines.rules.completeness import UNDECIDED_SCHEMA
from pipelines.rules.evaluate import WARNING_SCHEMA, RuleRun, evaluate_rules
from pipelines.warehouse import built_from, fetch_one, forget_build, read_frame, replace_partition

# the method of a warning another district's records raised (added after the month's own
# evaluation by pipelines.city.routing, and again by every run: never part of a reused result)
ROUTED_METHOD = "证件号码一致（跨区县转来）"
# the code a month's warnings depend on beyond what their inputs' fingerprints already cover
# (ingest and roster code: the staged fingerprints; matcher code: the ties' fingerprint)
_RULE_CODE = ("rules/*.py", "evaluation.py", "sources.py")
# what the month's evaluation writes
RULE_TABLES = ("warnings", "warning_records", "rule_undecided", "rules_not_evaluated")


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


def _table_digest(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: list
) -> tuple | None:
    """Row count and an order-free hash of the whole rows of `table` that `where` picks."""
    return fetch_one(
        con,
        f"SELECT count(*), coalesce(sum(hash(t) % 1000000007), 0) FROM {table} t WHERE {where}",
        params,
    )


def rules_fingerprint(
    con: duckdb.DuckDBPyConnection, district: str, month: str, config: dict
) -> str | None:
    """What M's evaluation is a function of:
    - M's ties, by their own fingerprint (the staged sources, the roster and grid, the 非本人 pairs,
      the matcher's code), and only when the ties in the warehouse were made from those inputs;
    - every source's status in the months of M's year up to M (received, fingerprints), and M's
      files, rejects and field problems (a gap or an unreadable field changes what is decided);
    - the year's earlier claims ties (YB01 sums the claims, whose staged rows the statuses'
      fingerprints cover);
    - the warnings of earlier months (their ids are carried forward);
    - the earlier months' roster builds (GA01 reads the latest earlier roster for a member the
      month's roster no longer has);
    - the townships' answers up to M (a death answered 不属实 lets the member's other rules
      speak again: rules/deaths.py);
    - the rule settings and the rules' code.
    None when the ties are not fingerprinted: the month is then evaluated."""
    ties = match_fingerprint(con, district, month, staged_sources(con, district, month))
    if not built_from(con, "match_builds", district, month, ties):
        return None
    year, this_month = f"{month[:4]}-01", [district, month]
    month_rows = "district = ? AND month = ?"
    earlier_claims = "district = ? AND source = ? AND month >= ? AND month < ?"
    digests = [
        _table_digest(con, "source_status", "district = ? AND month >= ? AND month <= ?",
                      [district, year, month]),
        *(_table_digest(con, table, month_rows, this_month)
          for table in ("ingest_files", "rejects", "field_problems")),
        *(_table_digest(con, table, earlier_claims, [district, CLAIMS, year, month])
          for table in ("record_matches", "unmatched_records")),
        _table_digest(con, "warnings", "district = ? AND month < ?", this_month),
        _table_digest(con, "roster_builds", "district = ? AND month < ?", this_month),
        _table_digest(con, "feedback_answers", "district = ? AND month <= ?", this_month),
    ]  # fmt: skip
    digest = hashlib.sha256(code_digest(_RULE_CODE))
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    digest.update(repr((ties, digests)).encode())
    return digest.hexdigest()


def _stored_run(con: duckdb.DuckDBPyConnection, district: str, month: str) -> RuleRun:
    """M's evaluation as the warehouse holds it (its own warnings: routed ones excluded)."""
    params = [district, month, ROUTED_METHOD]
    warnings = read_frame(
        con,
        f"SELECT {', '.join(WARNING_SCHEMA)} FROM warnings WHERE district = ? AND month = ?"
        " AND method IS DISTINCT FROM ? ORDER BY rule, warning_id",
        params,
    )
    undecided = read_frame(
        con,
        f"SELECT {', '.join(UNDECIDED_SCHEMA)} FROM rule_undecided"
        " WHERE district = ? AND month = ? ORDER BY ALL",
        params[:2],
    )
    not_evaluated = con.execute(
        "SELECT rule, reason FROM rules_not_evaluated WHERE district = ? AND month = ? ORDER BY rule",
        params[:2],
    ).fetchall()
    return RuleRun(
        warnings.cast(WARNING_SCHEMA),  # type: ignore[arg-type]
        dict(not_evaluated),
        undecided.cast(UNDECIDED_SCHEMA),  # type: ignore[arg-type]
        reused=True,
    )


def evaluate_month(
    con: duckdb.DuckDBPyConnection, district: str, month: str, config: dict, *, reuse: bool = True
) -> RuleRun:
    """Every rule over the month's sources that were received; warnings, warning_records,
    rule_undecided and rules_not_evaluated written. When M was evaluated before from the same
    inputs (rules_fingerprint), its tables stand and are read back (`reuse` False: always
    evaluate)."""
    fingerprint = rules_fingerprint(con, district, month, config)
    if reuse and built_from(con, "rule_builds", district, month, fingerprint):
        return _stored_run(con, district, month)
    # the month's tables are no one's until they are all written
    forget_build(con, "rule_builds", district, month)
    received = received_sources(con, district, month)
    result = evaluate_rules(con, district=district, month=month, config=config, received=received)
    frames = (result.warnings, provenance(result.warnings), result.undecided,
              not_evaluated_frame(result))  # fmt: skip
    for table, frame in zip(RULE_TABLES, frames, strict=True):
        replace_partition(con, table, frame, district=district, month=month)
    if fingerprint is not None:
        build = pl.DataFrame(
            {"input_fingerprint": [fingerprint]}, schema={"input_fingerprint": pl.String}
        )
        replace_partition(con, "rule_builds", build, district=district, month=month)
    return result
