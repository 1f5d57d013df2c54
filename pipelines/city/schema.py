"""The city warehouse (`<root>/warehouse/city.duckdb`), declared with the district warehouse's
Table/Column types: written by the city asset `cross_district_ties` (one month at a time,
"delete this month, insert"), read by the districts and the city summary."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.schema import TABLE, Column, Table
from pipelines.warehouse import connect


def _columns(spec: str) -> tuple[Column, ...]:
    return tuple(Column(*part.strip().split(" ", 1)) for part in spec.split(","))


CITY_TABLES: tuple[Table, ...] = (
    Table(
        "cross_district_ties",
        "department records of a district (来源区县) tied to nobody there whose valid ID is a "
        "member's on another district's roster: routed to that district",
        _columns(
            "district VARCHAR, month VARCHAR, district_code VARCHAR, member_key VARCHAR, "
            "household_id VARCHAR, township VARCHAR, village VARCHAR, source VARCHAR, "
            "record_key VARCHAR, from_district VARCHAR, from_code VARCHAR, file VARCHAR, "
            "sheet VARCHAR, row_number BIGINT, id_number VARCHAR, name VARCHAR"
        ),
        key=("district", "month", "from_district", "source", "record_key"),
        written_by="cross_district_ties",
    ),
    Table(
        "cross_district_roster_findings",
        "a person (valid ID) on the rosters of two districts: a data-quality finding for both",
        _columns(
            "district VARCHAR, month VARCHAR, district_code VARCHAR, member_key VARCHAR, "
            "household_id VARCHAR, township VARCHAR, village VARCHAR, id_number VARCHAR, "
            "name VARCHAR, other_district VARCHAR, other_code VARCHAR, "
            "other_household_id VARCHAR, other_township VARCHAR, other_village VARCHAR"
        ),
        key=("district", "month", "member_key", "other_district", "other_household_id"),
        written_by="cross_district_ties",
    ),
    Table(
        "cross_district_warnings",
        "warnings the receiving district's rules raise over the records routed to it (evidence "
        "naming 来源区县); the district adds them to its next month's warnings",
        (*TABLE["warnings"].columns, Column("district_code", "VARCHAR")),
        key=("district", "month", "warning_id"),
        written_by="cross_district_ties",
    ),
)
CITY_TABLE = {table.name: table for table in CITY_TABLES}


def ensure_city_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the declared city tables; a table whose columns differ is refused, never altered."""
    for table in CITY_TABLES:
        con.execute(table.ddl().replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
        found = con.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            params=[table.name],
        ).fetchall()
        declared = [(c.name, c.type) for c in table.columns]
        if found != declared:
            raise RuntimeError(
                f"城市仓库表 {table.name} 的列与声明不同：{found} ≠ {declared}（请删除城市仓库后重跑）"
            )


def read_city(database: Path, table: str, month: str, district: str | None = None) -> pl.DataFrame:
    """A month's rows of a city table (a district's only, by name, when `district` is given)."""
    if table not in {t.name for t in CITY_TABLES}:
        raise KeyError(table)
    if not database.exists():
        return pl.DataFrame(schema={c.name: pl.String for c in CITY_TABLE[table].columns})
    query = f"SELECT * FROM {table} WHERE month = $month"
    params: dict = {"month": month}
    if district is not None:
        query += " AND district = $district"
        params["district"] = district
    with connect(database, read_only=True) as con:
        return con.sql(query + " ORDER BY ALL", params=params).pl()
