"""The DuckDB warehouse: connections and idempotent per-district, per-month writes to declared tables."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from pipelines.schema import TABLE, ensure_schema, rollback

LOCK_WAIT_SECONDS = 600.0
# DuckDB's own memory (its cache of the file, temp tables, joins) per connection: beyond it DuckDB
# spills to <warehouse>.tmp. With the frames in Python beside it, a 1M-member month stays under
# 3 GiB (docs/SCALE.md). FANGFAN_DUCKDB_MEMORY overrides it (DuckDB's form: 4GB, 1500MB …).
MEMORY_ENV = "FANGFAN_DUCKDB_MEMORY"
DEFAULT_MEMORY = "1800MB"


def memory_limit() -> str:
    return os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY


# what the team reads when the warehouse file itself cannot be read (its notice says what to do:
# notices._DAMAGED); it had read "used by another process, still locked after 600 s"
WAREHOUSE_DAMAGED = "仓库文件 {database} 无法打开：文件不完整或已损坏"
# a warehouse this process may not write (the file or its folder read-only): nothing is wrong
# with it, and moving it away would lose the year's verification history (an independent fault
# probe, indep31, found it called damaged, with that advice)
WAREHOUSE_NOT_WRITABLE = "仓库文件 {database} 无法打开：没有读写权限（文件或所在文件夹不可写入）"


_FIRST_PAUSE = 0.2
_log = logging.getLogger(__name__)


def _open(database: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """DuckDB lets one process write a file: another process (a UI run while the CLI runs) waits
    for the lock to free instead of failing at once, and says so clearly if it never does."""
    deadline = time.monotonic() + wait
    pause = _FIRST_PAUSE
    while True:
        try:
            return duckdb.connect(
                str(database), read_only=read_only, config={"memory_limit": memory_limit()}
            )
        except duckdb.IOException as error:
            if "permission denied" in str(error).lower():
                raise RuntimeError(
                    f"{WAREHOUSE_NOT_WRITABLE.format(database=database)}（{error}）"
                ) from error
            if "lock" not in str(error).lower():
                # not another writer: the file itself (cut short, damaged, not a warehouse)
                raise RuntimeError(
                    f"{WAREHOUSE_DAMAGED.format(database=database)}（{error}）"
                ) from error
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"仓库 {database} 正被另一个进程使用（DuckDB 同一时间只允许一个写入进程），"
                    f"等待 {wait:.0f} 秒后仍未释放"
                ) from error
            if pause == _FIRST_PAUSE:
                # said once: a holder outside this Dagster instance (an analyst's open DuckDB
                # session, the city services' run of this district) is no run the run queue
                # can name, but DuckDB names its process
                _log.warning(
                    "仓库 %s 正被%s占用：最多等待 %.0f 秒", database, holder(str(error)), wait
                )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


_HOLDER_PID = re.compile(r"\(PID ([0-9]+)\)")


def holder(message: str) -> str:
    """Who holds the warehouse, from DuckDB's lock error ("Conflicting lock is held in … (PID
    n)"): the process and what it is (the city services' Celery worker running a district's
    month, a Dagster run, another fangfan, or the program's name), as the team can look it up.
    An independent probe of the city (indep35) found a waiting `fangfan run` saying only
    "another process"."""
    found = _HOLDER_PID.search(message)
    if found is None:
        return "另一个进程（另一个运行，或打开着仓库的程序）"
    pid = found[1]
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        words = [Path(a.decode(errors="replace")).name for a in arguments if a][:4]
    except OSError:
        words = []
    said = " ".join(words)
    if "celery" in said:
        what = "城市服务的 Celery 工作进程（正在运行该区县的月份）"
    elif "dagster" in said:
        what = "Dagster 的运行进程（界面或守护进程启动的运行）"
    elif "fangfan" in said:
        what = "另一个 fangfan 命令"
    else:
        what = f"程序 {words[0]}" if words else "另一个程序（如打开着仓库的 DuckDB）"
    return f"进程 {pid}：{what}"


# writers that leave their changes in the write-ahead log when they close (deferring_checkpoints)
_deferred = False


@contextlib.contextmanager
def deferring_checkpoints() -> Iterator[None]:
    """Within the block, a writer closing leaves its changes in the write-ahead log (durable, and
    read by every later connection) instead of checkpointing them into the file; the first writer
    to close after the block checkpoints them all. For runs made one after another by one process
    (`fangfan run` catching up the year's claims months): a checkpoint after an append costs about
    as much (0.6-0.8 s on the 1M bench) for one month's rows as for nine, so the nine are
    checkpointed once, by the month's own run."""
    global _deferred
    previous, _deferred = _deferred, True
    try:
        yield
    finally:
        _deferred = previous


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
        if _deferred and not read_only:
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.close()


@contextlib.contextmanager
def open_warehouse(
    database: Path, *, read_only: bool = False, wait: float = LOCK_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the declared warehouse: a writer first brings it to the declared schema
    (created whole when new, migrated when older: pipelines/schema.py)."""
    with connect(database, read_only=read_only, wait=wait) as con:
        if not read_only:
            ensure_schema(con)
        yield con


def memory_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding every declared table (tests, benchmarks)."""
    con = duckdb.connect()
    ensure_schema(con)
    return con


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
    """Whether `table` exists. Every declared table exists in a warehouse opened for writing
    (pipelines.schema.ensure_schema), so in a pipeline run this is always true for them: the
    modules that still ask (pipelines/rules/) can drop the question."""
    return bool(
        scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table])
    )


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    district: str,
    month: str,
    extra_where: tuple[str, list] | None = None,
) -> int:
    """Delete this district+month's rows of a declared table (narrowed by `extra_where`, e.g. one
    source's rows), insert `frame` by column name, in one transaction. Columns the frame lacks
    are null; a column the table does not have is an error (DuckDB's, naming it)."""
    declared = TABLE.get(table)
    if declared is None or declared.append_only:
        raise ValueError(f"not a declared partitioned table: {table!r}")
    frame = frame.with_columns(
        pl.lit(district).alias("district"), pl.lit(month).alias("month")
    ).select("district", "month", pl.exclude("district", "month"))
    where, params = "district = ? AND month = ?", [district, month]
    if extra_where:
        where += f" AND {extra_where[0]}"
        params += extra_where[1]
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_incoming", frame)
        con.execute(f"DELETE FROM {declared.name} WHERE {where}", params)
        con.execute(f"INSERT INTO {declared.name} BY NAME SELECT * FROM _incoming")
        con.unregister("_incoming")
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return frame.height


def built_from(
    con: duckdb.DuckDBPyConnection, memo: str, district: str, month: str, fingerprint: str | None
) -> bool:
    """The month's tables of a step were built from inputs with this fingerprint: its memo
    (match_builds, rule_builds) holds it for the month. False for a month without a memo, and
    for inputs that could not be fingerprinted (None)."""
    return fingerprint is not None and fingerprint == scalar(
        con,
        f"SELECT input_fingerprint FROM {memo} WHERE district = ? AND month = ?",
        [district, month],
    )


def forget_build(con: duckdb.DuckDBPyConnection, memo: str, district: str, month: str) -> None:
    """Delete the month's memo before its step writes: tables half written by a stopped run are
    then never taken for the ones the memo describes."""
    con.execute(f"DELETE FROM {memo} WHERE district = ? AND month = ?", [district, month])


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of a table (or view), in order."""
    return con.sql(f"SELECT * FROM {table} LIMIT 0").columns


def read_frame(
    con: duckdb.DuckDBPyConnection, query: str, params: list | None = None
) -> pl.DataFrame:
    return con.sql(query, params=params or []).pl()


def other_districts(con: duckdb.DuckDBPyConnection, district: str) -> list[str]:
    """The districts the warehouse holds months of, when it holds none of `district`'s (empty
    otherwise): a data directory renamed or moved (its name is the district's key when nothing
    else names it), whose run would start the district over under a new key."""
    if not table_exists(con, "source_status"):
        return []
    held = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT district FROM source_status ORDER BY district"
        ).fetchall()
    ]
    return [] if not held or district in held else held


def other_districts_message(database: Path, district: str, held: list[str]) -> str:
    """What a run says when the warehouse is another district's (other_districts)."""
    names = "、".join(f"「{d}」" for d in held)
    return (
        f"仓库 {database} 中只有区县{names}的数据，本次运行的区县却是「{district}」"
        "（没有设 FANGFAN_DISTRICT 和 rules.toml 的 [district] name 时取数据目录名）：数据目录可能改过名或搬过。"
        "按新区县运行会从头开始，把仍待核实、已核实的预警当作新增重新下发。"
        f'请在数据目录的 rules.toml 中写 [district] name = "{held[0]}"（或设 FANGFAN_DISTRICT）后再运行'
    )
