"""The DuckDB warehouse: connections and idempotent per-district, per-month table writes."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    # table names are code constants, never data; refuse anything else before it reaches SQL
    if not _IDENT.match(name):
        raise ValueError(f"not a table name: {name!r}")
    return name


LOCK_WAIT_SECONDS = 600.0


def _open(database: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """DuckDB lets one process write a file: another process (a UI run while the CLI runs) waits
    for the lock to free instead of failing at once, and says so clearly if it never does."""
    deadline = time.monotonic() + wait
    pause = 0.2
    while True:
        try:
            return duckdb.connect(str(database), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                raise RuntimeError(
                    f"仓库 {database} 正被另一个进程使用（DuckDB 同一时间只允许一个写入进程），"
                    f"等待 {wait:.0f} 秒后仍未释放"
                ) from error
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


@contextlib.contextmanager
def connect(
    database: Path, *, read_only: bool = False, wait: float = LOCK_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection; writers are serialised by the Dagster pool, readers open read-only."""
    if not read_only:
        database.parent.mkdir(parents=True, exist_ok=True)
    con = _open(database, read_only, wait)
    try:
        yield con
    finally:
        con.close()


def fetch_one(
    con: duckdb.DuckDBPyConnection, query: str, params: list | None = None
) -> tuple | None:
    """First row of a query, fully consumed (DuckDB 2.0 blocks a connection on a half-read result)."""
    rows = con.execute(query, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None):
    row = fetch_one(con, query, params)
    return row[0] if row else None


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        scalar(
            con,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
            [_ident(table)],
        )
    )


def _ensure_columns(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    existing = {
        row[0]: row[1]
        for row in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [table],
        ).fetchall()
    }
    con.register("_schema_probe", frame.head(0))
    try:
        types = {row[0]: row[1] for row in con.execute("DESCRIBE _schema_probe").fetchall()}
    finally:
        con.unregister("_schema_probe")
    for column, sql_type in types.items():
        if column not in existing:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')
        elif sql_type.startswith("DECIMAL") and existing[column] == "DOUBLE":
            # amounts are exact decimals now: a warehouse written before keeps no float column
            con.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {sql_type}')


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    district: str,
    month: str,
    extra_where: tuple[str, list] | None = None,
) -> int:
    """Delete this district+month's rows of `table`, insert `frame`, in one transaction."""
    table = _ident(table)
    frame = frame.with_columns(
        pl.lit(district).alias("district"), pl.lit(month).alias("month")
    ).select("district", "month", pl.exclude("district", "month"))
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_incoming", frame)
        if not table_exists(con, table):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM _incoming LIMIT 0")
        else:
            _ensure_columns(con, table, frame)
        where, params = "district = ? AND month = ?", [district, month]
        if extra_where:
            where += f" AND {extra_where[0]}"
            params += extra_where[1]
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        con.unregister("_incoming")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return frame.height


def read_frame(
    con: duckdb.DuckDBPyConnection, query: str, params: list | None = None
) -> pl.DataFrame:
    return con.sql(query, params=params or []).pl()
