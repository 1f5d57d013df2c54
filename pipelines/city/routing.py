"""Routed records into the receiving district's rules and its next list (no Dagster here).

In the city (month M): for each district T that records of other districts were routed to, the
rules of T (its own rules.toml) are evaluated over those records alone, tied to T's members by
their ID (tier 1), in a scratch in-memory warehouse holding T's roster and households of M and
the routed staged rows copied from the sending districts' warehouses. Absence rules are left out
(a handful of routed rows says nothing about who is missing). Each warning's evidence names the
sending district (来源区县), and its provenance names the sending district's file
(`<来源区县>/<file>`). They are stored in the city warehouse (`cross_district_warnings`).

In district T (month M+1): its `warnings` step adds the city's warnings of M routed to T after
its own evaluation (a warning of the same rule and subject that T raised itself wins), so they
reach T's listing and the township list of the member's own household, and carry on like any
other warning.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.city.districts import City
from pipelines.city.schema import CITY_TABLE, read_city
from pipelines.evaluation import ROUTED_METHOD, provenance
from pipelines.rules.catalogue import RULES_BY_CODE
from pipelines.rules.evaluate import evaluate_rules
from pipelines.rules.settings import load_rule_config
from pipelines.schema import TABLE, staged_table
from pipelines.warehouse import memory_warehouse, open_warehouse

WARNING_COLUMNS = TABLE["warnings"].column_names  # district, month, warning_id, …, record_keys


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    con.register("_rows", frame)
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _rows")
    con.unregister("_rows")


def _copy(src: duckdb.DuckDBPyConnection, con, table: str, district: str, month: str) -> None:
    frame = src.sql(
        f"SELECT * FROM {table} WHERE district = ? AND month = ?", params=[district, month]
    ).pl()
    _insert(con, table, frame)


def routed_warnings(city: City, month: str, ties: pl.DataFrame) -> pl.DataFrame:
    """The warnings T's rules raise over the records routed to T in `month` (every T)."""
    frames = []
    for target in city.districts:
        mine = ties.filter(pl.col("district_code") == target.code)
        if mine.is_empty():
            continue
        con = memory_warehouse()
        try:
            with open_warehouse(target.layout.database, read_only=True) as src:
                for table in ("roster_members", "households"):
                    _copy(src, con, table, target.name, month)
            sources: set[str] = set()
            for (from_code, source), group in mine.group_by(
                ["from_code", "source"], maintain_order=True
            ):
                sender = city.district(from_code)
                sources.add(source)
                _route(con, sender.layout.database, sender.name, target.name, month, source, group)
            result = evaluate_rules(
                con, district=target.name, month=month,
                config=load_rule_config(target.layout), received=sources,
            )  # fmt: skip
        finally:
            con.close()
        found = result.warnings.filter(
            ~pl.col("rule").map_elements(
                lambda r: RULES_BY_CODE[r].absence, return_dtype=pl.Boolean
            )
        )
        if found.is_empty():
            continue
        senders = (
            found.select("warning_id", "record_keys")
            .explode("record_keys")
            .with_columns(
                pl.col("record_keys")
                .str.split("|")
                .list.get(1)
                .str.split("/")
                .list.first()
                .alias("s")
            )
            .group_by("warning_id")
            .agg(pl.col("s").unique().sort().str.join("、").alias("senders"))
        )
        found = found.join(senders, on="warning_id", how="left").with_columns(
            pl.concat_str(
                pl.col("evidence"), pl.lit("（来源区县："), "senders", pl.lit("）")
            ).alias("evidence"),
            pl.lit(target.name).alias("district"),
            pl.lit(month).alias("month"),
            pl.lit(target.code).alias("district_code"),
        )
        frames.append(found.select(*WARNING_COLUMNS, "district_code"))
    if not frames:
        return pl.DataFrame(schema=_schema())
    return pl.concat(frames, how="vertical_relaxed").sort("district", "warning_id")


def _schema() -> dict:
    types = {"VARCHAR": pl.String, "DOUBLE": pl.Float64, "VARCHAR[]": pl.List(pl.String)}
    return {c.name: types[c.type] for c in CITY_TABLE["cross_district_warnings"].columns}


def _route(
    con: duckdb.DuckDBPyConnection,
    sender_database: Path,
    sender: str,
    target: str,
    month: str,
    source: str,
    ties: pl.DataFrame,
) -> None:
    """The routed rows of one source, staged under the target district and tied by their ID."""
    table = staged_table(source).name
    with open_warehouse(sender_database, read_only=True) as src:
        src.register("_keys", ties.select("record_key"))
        rows = src.sql(
            f"SELECT * FROM {table} WHERE district = ? AND month = ? "
            "AND record_key IN (SELECT record_key FROM _keys)",
            params=[sender, month],
        ).pl()
    file = pl.concat_str(pl.lit(f"{sender}/"), pl.col("file"))
    routed = rows.with_columns(
        pl.lit(target).alias("district"),
        file.alias("file"),
        pl.concat_str(
            pl.col("source"), pl.lit("|"), file, pl.lit("|"), pl.col("sheet").fill_null(""),
            pl.lit("|"), pl.col("row_number").cast(pl.String),
        ).alias("record_key"),
        pl.col("record_key").alias("_original"),
    )  # fmt: skip
    _insert(con, table, routed.drop("_original"))
    matches = routed.select("record_key", "_original").join(
        ties.select(pl.col("record_key").alias("_original"), "member_key", "household_id"),
        on="_original",
    )
    _insert(
        con,
        "record_matches",
        matches.select(
            pl.lit(target).alias("district"),
            pl.lit(month).alias("month"),
            "member_key",
            "household_id",
            pl.lit(1, dtype=pl.Int8).alias("tier"),
            pl.lit(ROUTED_METHOD).alias("method"),
            pl.lit(1.0).alias("confidence"),
            "record_key",
            pl.lit(source).alias("source"),
        ),
    )


def add_routed_warnings(
    con: duckdb.DuckDBPyConnection, city_database: Path, district: str, month: str, before: str
) -> int:
    """After district `district` evaluated `month`: add the city's warnings of `before` routed
    to it (skipping a rule and subject it raised itself); returns how many were added. Those an
    earlier run added are taken out first: a month whose evaluation was reused still has them."""
    con.execute(
        "DELETE FROM warning_records WHERE district = $d AND month = $m AND warning_id IN"
        " (SELECT warning_id FROM warnings WHERE district = $d AND month = $m AND method = $r)",
        {"d": district, "m": month, "r": ROUTED_METHOD},
    )
    con.execute(
        "DELETE FROM warnings WHERE district = ? AND month = ? AND method = ?",
        [district, month, ROUTED_METHOD],
    )
    routed = read_city(city_database, "cross_district_warnings", before, district)
    if routed.is_empty():
        return 0
    own = con.sql(
        "SELECT warning_id, rule, household_id, member_key FROM warnings "
        "WHERE district = ? AND month = ?",
        params=[district, month],
    ).pl()
    fresh = routed.join(own.select("warning_id"), on="warning_id", how="anti").join(
        own.select("rule", "household_id", "member_key"),
        on=["rule", "household_id", "member_key"],
        how="anti",
        nulls_equal=True,
    )
    if fresh.is_empty():
        return 0
    frame = fresh.with_columns(pl.lit(month).alias("month")).select(WARNING_COLUMNS)
    _insert(con, "warnings", frame)
    records = provenance(frame).with_columns(
        pl.lit(district).alias("district"), pl.lit(month).alias("month")
    )
    _insert(con, "warning_records", records)
    return frame.height
