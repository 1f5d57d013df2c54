"""Cross-district ties of a month (no Dagster here): read every district's warehouse read-only,
write the city warehouse.

- A department record that stayed unmatched in its own district (status `unmatched`) but carries
  a valid ID (`valid`, `converted15`, `disability20`) of a member on another district's roster is
  routed to that district: one row of `cross_district_ties` under the member's district, naming
  the district the record came from (来源区县), its file, sheet and row.
- A person (valid ID) on the rosters of two districts is a finding for both: one row of
  `cross_district_roster_findings` per district and other household.

Townships never see another district's households: a routed record is stored under the member's
own district, household and township.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.city.districts import City, District
from pipelines.city.routing import routed_warnings
from pipelines.city.schema import CITY_TABLE, ensure_city_schema, read_city
from pipelines.schema import staged_table
from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import connect, open_warehouse

VALID_IDS = ("valid", "converted15", "disability20")
_VALID = ", ".join(f"'{s}'" for s in VALID_IDS)

ROSTER_COLUMNS = (
    "code", "district", "member_key", "household_id", "township", "village", "id_number", "name",
)  # fmt: skip
RECORD_COLUMNS = (
    "from_code", "from_district", "source", "record_key", "file", "sheet", "row_number",
    "id_number", "name",
)  # fmt: skip


@dataclass(frozen=True)
class CityTies:
    ties: pl.DataFrame  # rows of cross_district_ties
    roster_findings: pl.DataFrame  # rows of cross_district_roster_findings
    districts_read: list[str]  # codes whose warehouse had the month
    districts_missing: list[str]  # codes without a warehouse or without the month's roster


def _roster(con: duckdb.DuckDBPyConnection, district: District, month: str) -> pl.DataFrame:
    return con.sql(
        f"""SELECT ?::VARCHAR AS code, district, member_key, household_id, township, village,
                   id_number, name
            FROM roster_members
            WHERE district = ? AND month = ? AND id_number IS NOT NULL
              AND id_status IN ({_VALID})""",
        params=[district.code, district.name, month],
    ).pl()


def _unmatched(con: duckdb.DuckDBPyConnection, district: District, month: str) -> pl.DataFrame:
    parts = []
    for source in DEPARTMENT_KEYS:
        stg = staged_table(source).name
        parts.append(
            f"""SELECT u.source, u.record_key, s.file, s.sheet, s.row_number, s.id_number, s.name
                FROM unmatched_records u
                JOIN {stg} s ON s.district = u.district AND s.month = u.month
                            AND s.record_key = u.record_key
                WHERE u.district = $district AND u.month = $month AND u.source = '{source}'
                  AND u.status = 'unmatched' AND s.id_number IS NOT NULL
                  AND s.id_status IN ({_VALID})"""
        )
    frame = con.sql(
        " UNION ALL ".join(parts), params={"district": district.name, "month": month}
    ).pl()
    return frame.with_columns(
        from_code=pl.lit(district.code), from_district=pl.lit(district.name)
    ).select(RECORD_COLUMNS)


def _has_month(con: duckdb.DuckDBPyConnection, district: District, month: str) -> bool:
    found = con.sql(
        "SELECT count(*) FROM roster_members WHERE district = ? AND month = ?",
        params=[district.name, month],
    ).fetchall()
    return bool(found[0][0])


def read_districts(city: City, month: str) -> CityTies:
    """What every district's warehouse says about month `month`, tied across districts."""
    rosters, records, read, missing = [], [], [], []
    for district in city.districts:
        database = district.layout.database
        if not database.exists():
            missing.append(district.code)
            continue
        with open_warehouse(database, read_only=True) as con:
            if not _has_month(con, district, month):
                missing.append(district.code)
                continue
            rosters.append(_roster(con, district, month))
            records.append(_unmatched(con, district, month))
        read.append(district.code)
    roster = pl.concat(rosters) if rosters else _empty(ROSTER_COLUMNS)
    unmatched = pl.concat(records) if records else _empty(RECORD_COLUMNS)
    return CityTies(
        ties=_ties(roster, unmatched, month),
        roster_findings=_roster_findings(roster, month),
        districts_read=read,
        districts_missing=missing,
    )


def _empty(columns: tuple[str, ...]) -> pl.DataFrame:
    schema = {c: pl.String for c in columns}
    if "row_number" in schema:
        schema["row_number"] = pl.Int64
    return pl.DataFrame(schema=schema)


def _ties(roster: pl.DataFrame, unmatched: pl.DataFrame, month: str) -> pl.DataFrame:
    joined = unmatched.join(roster, on="id_number", how="inner", suffix="_member").filter(
        pl.col("code") != pl.col("from_code")
    )
    frame = joined.select(
        "district",
        pl.lit(month).alias("month"),
        pl.col("code").alias("district_code"),
        "member_key", "household_id", "township", "village", "source", "record_key",
        "from_district", "from_code", "file", "sheet",
        pl.col("row_number").cast(pl.Int64), "id_number", "name",
    )  # fmt: skip
    return _declared(frame, "cross_district_ties")


def _roster_findings(roster: pl.DataFrame, month: str) -> pl.DataFrame:
    other = roster.select(
        "id_number",
        pl.col("code").alias("other_code"),
        pl.col("district").alias("other_district"),
        pl.col("household_id").alias("other_household_id"),
        pl.col("township").alias("other_township"),
        pl.col("village").alias("other_village"),
    )
    frame = (
        roster.join(other, on="id_number", how="inner")
        .filter(pl.col("code") != pl.col("other_code"))
        .select(
            "district",
            pl.lit(month).alias("month"),
            pl.col("code").alias("district_code"),
            "member_key",
            "household_id",
            "township",
            "village",
            "id_number",
            "name",
            "other_district",
            "other_code",
            "other_household_id",
            "other_township",
            "other_village",
        )  # fmt: skip
    )
    return _declared(frame, "cross_district_roster_findings")


def _declared(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    columns = CITY_TABLE[table].column_names
    key = list(CITY_TABLE[table].key)
    return frame.select(columns).unique(subset=key, keep="first").sort(key)


def write_city(
    database: Path, month: str, ties: CityTies, warnings: pl.DataFrame | None = None
) -> None:
    """Replace the month's rows of the city tables (one transaction)."""
    tables = [
        ("cross_district_ties", ties.ties),
        ("cross_district_roster_findings", ties.roster_findings),
    ]
    if warnings is not None:
        tables.append(("cross_district_warnings", warnings))
    with connect(database) as con:
        ensure_city_schema(con)
        con.execute("BEGIN TRANSACTION")
        for table, frame in tables:
            con.execute(f"DELETE FROM {table} WHERE month = ?", [month])
            columns = ", ".join(f'"{c}"' for c in CITY_TABLE[table].column_names)
            con.register("city_rows", frame)
            con.execute(f"INSERT INTO {table} SELECT {columns} FROM city_rows")
            con.unregister("city_rows")
        con.execute("COMMIT")


def tie_city_month(city: City, month: str) -> tuple[CityTies, pl.DataFrame]:
    """The city asset's work: read the districts, evaluate each receiving district's rules over
    the records routed to it (pipelines/city/routing.py), write the city warehouse."""
    ties = read_districts(city, month)
    warnings = routed_warnings(city, month, ties.ties)
    write_city(city.database, month, ties, warnings)
    return ties, warnings


def city_summary(city: City, month: str) -> str:
    """Per district: records routed to it from other districts, and roster members also on
    another district's roster (counts only: no names or IDs on the terminal)."""
    ties = read_city(city.database, "cross_district_ties", month)
    findings = read_city(city.database, "cross_district_roster_findings", month)
    warnings = read_city(city.database, "cross_district_warnings", month)
    lines = [f"跨区县比对 {month}（城市仓库 {city.database}）："]
    for district in city.districts:
        routed = ties.filter(pl.col("district") == district.name)
        sent = ties.filter(pl.col("from_district") == district.name).height
        twice = findings.filter(pl.col("district") == district.name)["member_key"].n_unique()
        lines.append(
            f"  {district.code} {district.name}：他区转来 {routed.height} 条"
            f"（本区规则预警 {warnings.filter(pl.col('district') == district.name).height} 条，"
            f"列入下月清单），转往他区 {sent} 条，同时在他区花名册上的成员 {twice} 人"
        )
    return "\n".join(lines)
