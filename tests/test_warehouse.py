"""The warehouse: idempotent partition writes to declared tables, one writer process at a time."""

from __future__ import annotations

import subprocess
import sys
import time

import polars as pl
import pytest

from pipelines.warehouse import (
    connect,
    deferring_checkpoints,
    memory_warehouse,
    open_warehouse,
    replace_partition,
)


def _status(source: str, files: int) -> pl.DataFrame:
    return pl.DataFrame({"source": [source], "received": [True], "files": [files]})


def test_replace_partition_replaces_its_month_and_scope_only():
    con = memory_warehouse()
    for month in ("2026-09", "2026-10"):
        for source in ("hrss", "water"):
            frame = _status(source, 1)
            by_source = ("source = ?", [source])
            replace_partition(con, "source_status", frame, district="d", month=month, extra_where=by_source)  # fmt: skip
    replace_partition(
        con, "source_status", _status("hrss", 2), district="d", month="2026-10",
        extra_where=("source = ?", ["hrss"]),
    )  # fmt: skip
    replace_partition(con, "source_status", _status("hrss", 3), district="e", month="2026-10")
    rows = con.sql(
        "SELECT district, month, source, files FROM source_status ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("d", "2026-09", "hrss", 1), ("d", "2026-09", "water", 1),
        ("d", "2026-10", "hrss", 2), ("d", "2026-10", "water", 1),
        ("e", "2026-10", "hrss", 3),
    ]  # fmt: skip


def test_a_writer_opens_the_declared_warehouse(tmp_path):
    database = tmp_path / "warehouse" / "fangfan.duckdb"
    with open_warehouse(database) as con:
        assert con.execute("SELECT count(*) FROM listings").fetchone() == (0,)
    with open_warehouse(database, read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] >= 1


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep({seconds})"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_waits_for_the_lock_and_says_so_once(tmp_path, caplog):
    """A holder outside the run queue (an analyst's open DuckDB session) had been waited for
    without a word (an independent fault probe: 40 s of silence)."""
    import duckdb

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 2)
    start = time.monotonic()
    with caplog.at_level("WARNING", logger="pipelines.warehouse"), connect(path, wait=30) as con:
        assert con.sql("SELECT 1").fetchall() == [(1,)]
    assert time.monotonic() - start >= 0.5  # it did wait for the other process
    said = [r.getMessage() for r in caplog.records if r.name == "pipelines.warehouse"]
    # who holds it, as the team can look it up (indep35: a `fangfan run` waiting for the city
    # services' run of its district said only "another process")
    assert len(said) == 1 and f"正被进程 {holder.pid}：程序 python" in said[0]
    assert "30 秒" in said[0]
    holder.wait()


def test_the_holder_is_told_by_what_it_is():
    from pipelines.warehouse import holder

    assert holder("Conflicting lock is held in /usr/bin/x (PID 999999999).") == (
        "进程 999999999：另一个程序（如打开着仓库的 DuckDB）"
    )
    assert holder("Could not set lock") == "另一个进程（另一个运行，或打开着仓库的程序）"


def test_a_lock_that_never_frees_fails_clearly(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 5)
    with pytest.raises(RuntimeError, match="另一个进程"), connect(path, wait=0.5):
        pass
    holder.kill()


def test_duckdb_memory_is_bounded_and_configurable(tmp_path, monkeypatch):
    # a 1M-member month stays under 3 GiB only if DuckDB's share is bounded (docs/SCALE.md)
    def limit() -> float:
        with open_warehouse(tmp_path / "w.duckdb") as con:
            return con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]

    monkeypatch.delenv("FANGFAN_DUCKDB_MEMORY", raising=False)
    default = limit()
    monkeypatch.setenv("FANGFAN_DUCKDB_MEMORY", "3GB")
    configured = limit()
    assert default.endswith("GiB") and float(default.split()[0]) < 2
    assert configured != default and float(configured.split()[0]) > 2.5


def test_writers_closing_while_checkpoints_are_deferred_leave_their_rows_in_the_log(tmp_path):
    database = tmp_path / "warehouse" / "fangfan.duckdb"
    wal = database.with_name(database.name + ".wal")
    with open_warehouse(database):
        pass
    assert not wal.exists()
    with deferring_checkpoints():
        for month in ("2026-01", "2026-02"):
            with open_warehouse(database) as con:
                replace_partition(
                    con, "source_status", _status("hrss", 1), district="d", month=month
                )
            assert wal.exists()  # not checkpointed into the file
        with open_warehouse(database, read_only=True) as con:  # the log is read by every reader
            assert con.execute("SELECT count(*) FROM source_status").fetchone() == (2,)
    with open_warehouse(database) as con:  # the first writer after the block checkpoints
        replace_partition(con, "source_status", _status("water", 1), district="d", month="2026-03")
    assert not wal.exists()
    with open_warehouse(database, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM source_status").fetchone() == (3,)


def test_a_warehouse_this_process_may_not_write_is_not_called_damaged(tmp_path, monkeypatch):
    """A read-only warehouse file (or warehouse/) is healthy: its message says so, not "damaged"
    with the advice to move it away (an independent fault probe, indep31). DuckDB's refusal is
    given as DuckDB words it (a test run as root could not make a file it may not write)."""
    import duckdb

    import pipelines.warehouse as warehouse

    path = tmp_path / "fangfan.duckdb"

    def refused(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Permission denied')

    monkeypatch.setattr(warehouse.duckdb, "connect", refused)
    with (
        pytest.raises(RuntimeError, match="没有读写权限") as raised,
        warehouse.connect(path, wait=5),
    ):
        pass
    assert "损坏" not in str(raised.value) and "另一个进程" not in str(raised.value)


def test_a_warehouse_cut_short_is_said_to_be_damaged_not_locked(tmp_path):
    """A warehouse file truncated between months (a crash, a copy that stopped) had been
    reported as "used by another process … still locked after 600 s" at once (an independent
    fault probe): the team waited for a writer that did not exist."""
    import duckdb

    from pipelines.warehouse import connect

    path = tmp_path / "fangfan.duckdb"
    with connect(path) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(100000)")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with (
        pytest.raises(RuntimeError, match="无法打开：文件不完整或已损坏") as raised,
        connect(path, wait=30),
    ):
        pass
    assert "另一个进程" not in str(raised.value)
    assert isinstance(raised.value.__cause__, duckdb.Error)
