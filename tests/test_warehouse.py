"""The warehouse: idempotent partition writes, and one writer process at a time."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import polars as pl
import pytest

from pipelines.warehouse import connect, replace_partition


def test_replace_partition_is_idempotent_and_adds_new_columns():
    con = duckdb.connect()
    replace_partition(con, "t", pl.DataFrame({"a": [1, 2]}), district="d", month="2026-10")
    replace_partition(con, "t", pl.DataFrame({"a": [3], "b": ["x"]}), district="d", month="2026-10")
    replace_partition(con, "t", pl.DataFrame({"a": [4]}), district="d", month="2026-09")
    replace_partition(con, "t", pl.DataFrame({"a": [5]}), district="e", month="2026-10")
    rows = con.sql("SELECT district, month, a, b FROM t ORDER BY district, month").fetchall()
    assert rows == [("d", "2026-09", 4, None), ("d", "2026-10", 3, "x"), ("e", "2026-10", 5, None)]
    with pytest.raises(ValueError, match="not a table name"):
        replace_partition(con, "t; DROP TABLE t", pl.DataFrame({"a": [1]}), district="d", month="m")


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep({seconds})"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_waits_for_the_lock(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 2)
    start = time.monotonic()
    with connect(path, wait=30) as con:
        assert con.sql("SELECT 1").fetchall() == [(1,)]
    assert time.monotonic() - start >= 0.5  # it did wait for the other process
    holder.wait()


def test_a_lock_that_never_frees_fails_clearly(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 5)
    with pytest.raises(RuntimeError, match="另一个进程"), connect(path, wait=0.5):
        pass
    holder.kill()


def test_an_old_float_amount_column_becomes_exact():
    """A warehouse written when amounts were floats sums them exactly after the next write."""
    from decimal import Decimal

    con = duckdb.connect()
    con.execute("CREATE TABLE stg_x (district VARCHAR, month VARCHAR, self_paid DOUBLE)")
    con.execute("INSERT INTO stg_x VALUES ('d', '2026-09', 15927.21)")
    amounts = pl.Series("self_paid", ["2188.78", "1884.01"]).str.to_decimal(scale=4)
    frame = pl.DataFrame({"self_paid": amounts.cast(pl.Decimal(20, 4))})
    replace_partition(con, "stg_x", frame, district="d", month="2026-10")
    total = con.execute("SELECT sum(self_paid) FROM stg_x").fetchone()[0]
    assert total == Decimal("20000.0000")
