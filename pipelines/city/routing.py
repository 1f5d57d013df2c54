"""Routed records into the receiving district's rules and its next list (no Dagster here).

In the city (month M): for each district T that records of other districts were routed to, the
rules of T (its own rules.toml) are evaluated over those records, tied to T's members by their ID
(tier 1), in a scratch in-memory warehouse holding T's roster and households of M and the routed
staged rows copied from the sending districts' warehouses. Absence rules are left out (a handful
of routed rows says nothing about who is missing). A rule that sums the household's year (YB01)
sums it whole: the scratch warehouse also holds, for the households routed rows concern, T's own
rows of that source for M's year with their ties and T's receipt of each month, and the rows
routed to them in the year's earlier months (the city warehouse's ties of those months): a
household that T's own claims already took past the threshold earlier is not warned again, and
one that T's own and the routed claims together take past it in M is. Only warnings that rest on
a routed row are kept (T's own rows alone are T's own evaluation's). Each warning's evidence names
the sending district (来源区县), and its provenance names the sending district's file
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
from pipelines.rules.catalogue import RULES
from pipelines.rules.evaluate import evaluate_rules
from pipelines.rules.settings import load_rule_config
from pipelines.rules.spec import ID_IN_MEMBER_KEY, YearToDateRule
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


# the sources a rule sums over the household's year from (YB01: medical_claims)
YEAR_SOURCES = frozenset(r.source for r in RULES if isinstance(r, YearToDateRule))
_YEAR_RULES = [r.code for r in RULES if isinstance(r, YearToDateRule)]


def routed_warnings(city: City, month: str, ties: pl.DataFrame) -> pl.DataFrame:
    """The warnings T's rules raise over the records routed to T in `month` (every T)."""
    frames = []
    # a year's sum also reads the rows routed to a district earlier in the year: a household
    # they took near the threshold may cross it with its own rows of M
    earlier_ties = _earlier_ties(city, month)
    for target in city.districts:
        mine = ties.filter(pl.col("district_code") == target.code)
        earlier = earlier_ties.filter(pl.col("district_code") == target.code)
        if mine.is_empty() and earlier.is_empty():
            continue
        routed = pl.concat([mine, earlier], how="vertical_relaxed")
        summed = routed.filter(pl.col("source").is_in(list(YEAR_SOURCES)))
        con = memory_warehouse()
        try:
            with open_warehouse(target.layout.database, read_only=True) as src:
                for table in ("roster_members", "households"):
                    _copy(src, con, table, target.name, month)
                for source in sorted(set(summed["source"])):
                    households = summed.filter(pl.col("source") == source)["household_id"]
                    _own_year(src, con, target.name, month, source, households.unique())
            keys: dict[str, str] = {}
            for (tie_month, from_code, source), group in routed.group_by(
                ["month", "from_code", "source"], maintain_order=True
            ):
                sender = city.district(from_code)
                staged = _route(
                    con, sender.layout.database, sender.name, target.name, tie_month, source, group
                )
                keys |= dict.fromkeys(staged, sender.name)
            result = evaluate_rules(
                con, district=target.name, month=month,
                config=load_rule_config(target.layout),
                received=set(mine["source"]) | set(summed["source"]),
            )  # fmt: skip
        finally:
            con.close()
        found = _resting_on_routed(result.warnings, keys, summed)
        if found.is_empty():
            continue
        found = found.join(_senders(found, keys, summed), on="warning_id", how="left").with_columns(
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


def _resting_on_routed(
    warnings: pl.DataFrame, keys: dict[str, str], summed: pl.DataFrame
) -> pl.DataFrame:
    """The warnings of a routed evaluation that rest on a routed row: one of their records is
    routed (`keys`), or (a year's sum) their household's year holds one (`summed`: the routed
    rows of YEAR_SOURCES). Absence rules are left out."""
    with_routed = (
        warnings.select("warning_id", "record_keys")
        .explode("record_keys")
        .filter(pl.col("record_keys").is_in(list(keys)))["warning_id"]
    )
    households = summed["household_id"]
    absence = [r.code for r in RULES if r.absence]
    return warnings.filter(
        ~pl.col("rule").is_in(absence)
        & (
            pl.col("warning_id").is_in(with_routed.implode())
            | (
                pl.col("rule").is_in(_YEAR_RULES)
                & pl.col("household_id").is_in(households.implode())
            )
        )
    )


def _senders(warnings: pl.DataFrame, keys: dict[str, str], summed: pl.DataFrame) -> pl.DataFrame:
    """Per warning, the sending districts (来源区县) of its routed records (`keys`: routed record
    key → sender); for a year's sum whose records of M are the district's own, the senders of the
    rows of the summed sources routed to its household this year (`summed`), not of another
    source's (a district that sent only the member's car sent nothing of the sum)."""
    by_record = (
        warnings.select("warning_id", "record_keys")
        .explode("record_keys")
        .join(
            pl.DataFrame(
                {"record_keys": list(keys), "s": list(keys.values())},
                schema={"record_keys": pl.String, "s": pl.String},
            ),
            on="record_keys",
        )
        .select("warning_id", "s")
    )
    by_household = (
        warnings.join(by_record, on="warning_id", how="anti")
        .select("warning_id", "household_id")
        .join(summed.select("household_id", pl.col("from_district").alias("s")), on="household_id")
        .select("warning_id", "s")
    )
    return (
        pl.concat([by_record, by_household])
        .group_by("warning_id")
        .agg(pl.col("s").unique().sort().str.join("、").alias("senders"))
    )


def _earlier_ties(city: City, month: str) -> pl.DataFrame:
    """The records of a source a rule sums the year of (YEAR_SOURCES) routed to any district in
    the months of M's year before M (the city warehouse's ties of those months)."""
    frames = [
        read_city(city.database, "cross_district_ties", f"{month[:4]}-{n:02d}")
        for n in range(1, int(month[5:]))
    ]
    frames = [f.filter(pl.col("source").is_in(list(YEAR_SOURCES))) for f in frames]
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return pl.DataFrame(schema=_schema("cross_district_ties"))
    return pl.concat(frames, how="vertical_relaxed").select(list(_schema("cross_district_ties")))


def _own_year(
    src: duckdb.DuckDBPyConnection,
    con: duckdb.DuckDBPyConnection,
    district: str,
    month: str,
    source: str,
    households: pl.Series,
) -> None:
    """District `district`'s own rows of `source` in M's year up to M tied to `households` (or to
    a member whose ID one of their members holds in M's roster: one who moved there since), with
    those ties and the district's receipt of the source each month, into the scratch warehouse."""
    table = staged_table(source).name
    params = {"d": district, "m": month, "y": f"{month[:4]}-01", "s": source}
    src.register("_households", households.to_frame("household_id"))
    try:
        ties = src.sql(
            f"""SELECT * FROM record_matches
                WHERE district = $d AND source = $s AND month BETWEEN $y AND $m
                  AND (household_id IN (SELECT household_id FROM _households)
                       OR regexp_extract(member_key, '{ID_IN_MEMBER_KEY}', 1) IN (
                           SELECT id_number FROM roster_members
                           WHERE district = $d AND month = $m AND id_number IS NOT NULL
                             AND household_id IN (SELECT household_id FROM _households)))""",
            params=params,
        ).pl()
        src.register("_ties", ties.select("month", "record_key"))
        rows = src.sql(
            f"""SELECT * FROM {table}
                WHERE district = $d AND month BETWEEN $y AND $m
                  AND (month, record_key) IN (SELECT (month, record_key) FROM _ties)""",
            params={k: v for k, v in params.items() if k != "s"},
        ).pl()
        received = src.sql(
            "SELECT * FROM source_status WHERE district = $d AND source = $s"
            " AND month BETWEEN $y AND $m",
            params=params,
        ).pl()
    finally:
        src.unregister("_households")
        src.unregister("_ties")
    _insert(con, table, rows)
    _insert(con, "record_matches", ties)
    _insert(con, "source_status", received)


_TYPES = {
    "VARCHAR": pl.String, "BIGINT": pl.Int64, "DOUBLE": pl.Float64, "VARCHAR[]": pl.List(pl.String)
}  # fmt: skip


def _schema(table: str = "cross_district_warnings") -> dict:
    """A city table's columns as polars types."""
    return {c.name: _TYPES[c.type] for c in CITY_TABLE[table].columns}


def _route(
    con: duckdb.DuckDBPyConnection,
    sender_database: Path,
    sender: str,
    target: str,
    month: str,
    source: str,
    ties: pl.DataFrame,
) -> set[str]:
    """The routed rows of one source and month, staged under the target district and tied by
    their ID; returns their record keys there."""
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
    return set(routed["record_key"])


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
