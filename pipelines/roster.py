"""Roster members and households of one month, joined to the grid ledger for routing."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.staging import copy_month
from pipelines.warehouse import read_frame, replace_partition

HEAD_RELATIONS = ("户主", "本人")


@dataclass(frozen=True)
class RosterTables:
    members: pl.DataFrame
    households: pl.DataFrame
    findings: pl.DataFrame  # data-quality findings: kind, household_id, member_key, detail
    # the month whose keyed members were reused (its roster and grid had the same fingerprints),
    # None when they were built now
    reused_from: str | None = None


def _key(column: str) -> pl.Expr:
    """Join key for place and grid names: whitespace and full-width spaces ignored."""
    return pl.col(column).fill_null("").str.replace_all(r"[\s\u3000]+", "")


def _finding(rows: pl.DataFrame, kind: str, detail: str) -> pl.DataFrame:
    """Data-quality findings: what, for which household and member (never the person's data)."""
    return rows.select(
        pl.lit(kind).alias("kind"), "household_id", "member_key", pl.lit(detail).alias("detail")
    )


# what a household has once, read from its members: the value most of them give
HOUSEHOLD_PLACE = ("township", "village", "group", "grid", "household_type")


def _most_common_places(ordered: pl.DataFrame, heads: pl.DataFrame) -> pl.DataFrame:
    """Each HOUSEHOLD_PLACE column of `heads` (the households' least value, `_max_<c>` their
    greatest) made the value most of the household's members give (blank ones aside); between
    values given equally often, the one of the member listed first (the head first). Where all
    members agree that is the one value they give, so it is counted only where they differ."""
    differ = pl.any_horizontal(pl.col(c) != pl.col(f"_max_{c}") for c in HOUSEHOLD_PLACE)
    mixed = heads.filter(differ.fill_null(False))["household_id"].implode()
    heads = heads.drop(f"_max_{c}" for c in HOUSEHOLD_PLACE)
    members = ordered.filter(pl.col("household_id").is_in(mixed)).with_row_index("_position")
    if members.is_empty():
        return heads
    for column in HOUSEHOLD_PLACE:
        chosen = (
            members.filter(pl.col(column).is_not_null())
            .group_by("household_id", column)
            .agg(pl.len().alias("_n"), pl.col("_position").min())
            .sort(["household_id", "_n", "_position"], descending=[False, True, False])
            .unique("household_id", keep="first")
            .select("household_id", pl.col(column).alias("_chosen"))
        )
        heads = (
            heads.join(chosen, on="household_id", how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("household_id").is_in(mixed))
                .then(pl.col("_chosen"))
                .otherwise(pl.col(column))
                .alias(column)
            )
            .drop("_chosen")
        )
    return heads


def build_roster(staged_roster: pl.DataFrame, grid: pl.DataFrame) -> RosterTables:
    """Members keyed by household + ID (or name), households with their 网格员, and findings."""
    members = staged_roster.with_columns(
        (pl.col("household_id") + "|" + pl.coalesce("id_number", "name")).alias("member_key"),
        pl.coalesce("birth_date", "id_birth").alias("birth_date"),
        (
            pl.col("relation").is_in(HEAD_RELATIONS)
            | (pl.col("relation").is_null() & (pl.col("name") == pl.col("head_name")))
        )
        .fill_null(False)
        .alias("is_head"),
    ).sort("record_key")
    duplicate_rows = members.filter(pl.col("member_key").is_duplicated())
    members = members.unique("member_key", keep="first", maintain_order=True)
    findings = [
        _finding(
            duplicate_rows.unique("member_key"),
            "同户重复成员",
            "同一户内证件号码（或无证件时姓名）重复，仅保留第一行",
        )
    ]
    duplicate_ids = members.filter(
        pl.col("id_number").is_not_null() & pl.col("id_number").is_duplicated()
    )
    findings.append(
        _finding(duplicate_ids, "花名册证件号码重复", "同一证件号码出现在花名册多行，未自动处理")
    )
    # members in record order within a household, its head first
    ordered = members.sort(
        ["household_id", "is_head"], descending=[False, True], maintain_order=True
    )
    heads = (
        ordered.group_by("household_id", maintain_order=True)
        .agg(
            pl.col("member_key").first().alias("head_member_key"),
            pl.col("name").filter(pl.col("is_head")).first().alias("head_from_relation"),
            pl.col("head_name").drop_nulls().first().alias("head_name"),
            *(pl.col(c).min().alias(c) for c in HOUSEHOLD_PLACE),
            *(pl.col(c).max().alias(f"_max_{c}") for c in HOUSEHOLD_PLACE),
            pl.len().alias("members"),
        )
        .with_columns(pl.coalesce("head_name", "head_from_relation").alias("head_name"))
        .drop("head_from_relation")
    )
    heads = _most_common_places(ordered, heads)
    ledger = (
        grid.with_columns(
            _key("township").alias("_t"), _key("village").alias("_v"), _key("grid").alias("_g")
        )
        .unique(["_t", "_v", "_g"], keep="first", maintain_order=True)
        .select("_t", "_v", "_g", "worker_name", "worker_phone")
    )
    households = (
        heads.with_columns(
            _key("township").alias("_t"), _key("village").alias("_v"), _key("grid").alias("_g")
        )
        .join(ledger, on=["_t", "_v", "_g"], how="left")
        .drop("_t", "_v", "_g")
    )
    ungridded = households.filter(
        pl.col("worker_name").is_null() & pl.col("worker_phone").is_null()
    ).rename({"head_member_key": "member_key"})
    findings.append(
        _finding(
            ungridded,
            "农户无网格台账",
            "花名册的乡镇+村+网格在网格台账中找不到，预警无法派给网格员",
        )
    )
    members = (
        members.join(
            households.select("household_id", pl.col("household_type").alias("hh_type")),
            on="household_id",
            how="left",
        )
        .with_columns(pl.coalesce("household_type", "hh_type").alias("household_type"))
        .drop("hh_type")
    )
    return RosterTables(members, households, pl.concat(findings, how="vertical_relaxed"))


ROSTER_TABLES = ("roster_members", "households", "roster_findings")


def snapshot_fingerprints(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> tuple[str | None, str | None]:
    """The fingerprints of M's staged roster and grid snapshots (None: not fingerprinted)."""
    found = dict(
        con.execute(
            "SELECT source, fingerprint FROM source_status WHERE district = ? AND month = ?"
            " AND source IN ('roster', 'grid')",
            [district, month],
        ).fetchall()
    )
    return found.get("roster"), found.get("grid")


def reusable_build(
    con: duckdb.DuckDBPyConnection, district: str, month: str, roster_fp: str, grid_fp: str
) -> str | None:
    """A month whose roster tables were built from snapshots with these fingerprints (M first)."""
    rows = con.execute(
        "SELECT month FROM roster_builds WHERE district = ? AND roster_fingerprint = ?"
        " AND grid_fingerprint = ? ORDER BY month = ? DESC, month DESC LIMIT 1",
        [district, roster_fp, grid_fp, month],
    ).fetchall()
    return rows[0][0] if rows else None


def _read_tables(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[pl.DataFrame]:
    return [
        read_frame(
            con,
            f"SELECT * EXCLUDE (district, month) FROM {table} WHERE district = ? AND month = ?",
            [district, month],
        )
        for table in ROSTER_TABLES
    ]


def _record_build(
    con: duckdb.DuckDBPyConnection,
    district: str,
    month: str,
    fingerprints: tuple[str | None, str | None],
    members: int,
) -> None:
    build = pl.DataFrame(
        {
            "roster_fingerprint": [fingerprints[0]],
            "grid_fingerprint": [fingerprints[1]],
            "members": [members],
        },
        schema={
            "roster_fingerprint": pl.String,
            "grid_fingerprint": pl.String,
            "members": pl.Int64,
        },
    )
    replace_partition(con, "roster_builds", build, district=district, month=month)


def write_roster(
    con: duckdb.DuckDBPyConnection, district: str, month: str, *, reuse: bool = True
) -> RosterTables:
    """The month's staged roster and grid ledger into roster_members, households and
    roster_findings. When a month's tables were built from a roster and a grid with the same
    fingerprints as M's, they are copied from it (or left as they are, when that month is M)
    instead of being keyed again (`reuse` False: always build)."""
    fingerprints = snapshot_fingerprints(con, district, month)
    found = None
    if reuse and all(fingerprints):
        found = reusable_build(con, district, month, *fingerprints)
    if found is not None:
        if found != month:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in ROSTER_TABLES:
                    copy_month(con, table, district=district, source_month=found, month=month)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        members, households, findings = _read_tables(con, district, month)
        _record_build(con, district, month, fingerprints, members.height)
        return RosterTables(members, households, findings, reused_from=found)
    params = [district, month]
    con.execute("DELETE FROM roster_builds WHERE district = ? AND month = ?", params)
    staged = read_frame(con, "SELECT * FROM stg_roster WHERE district = ? AND month = ?", params)
    grid = read_frame(con, "SELECT * FROM stg_grid WHERE district = ? AND month = ?", params)
    tables = build_roster(staged.drop("district", "month"), grid.drop("district", "month"))
    replace_partition(con, "roster_members", tables.members, district=district, month=month)
    replace_partition(con, "households", tables.households, district=district, month=month)
    replace_partition(con, "roster_findings", tables.findings, district=district, month=month)
    _record_build(con, district, month, fingerprints, tables.members.height)
    return tables
