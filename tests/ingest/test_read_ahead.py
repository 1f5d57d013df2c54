"""The year's earlier claims months read ahead (`fangfan run` catching them up, one run per month):
each month is read once, on the read-ahead thread, and written exactly as it would be read by its
own run; a folder changed after it was read ahead is read again; months the runs skip hold nothing
up; a read that failed ahead is read by the run, which meets the error itself."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import staging
from pipelines.config import DataDir
from pipelines.generate import generate
from pipelines.ingest.history import CLAIMS
from pipelines.sources import SOURCES
from pipelines.staging import (
    ACCOUNTING_TABLES,
    AHEAD_THREAD,
    folder_fingerprint,
    ingest_source,
    reading_ahead,
)
from pipelines.warehouse import memory_warehouse

MONTH = "2026-10"
EARLIER = ["2026-01", "2026-02", "2026-03"]
DISTRICT = "d"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    root = tmp_path_factory.mktemp("ahead") / "district"
    generate(root, [MONTH], members=800, seed=11, messy=True)
    return DataDir(root)


@pytest.fixture
def reads(monkeypatch) -> list[tuple[str, str]]:
    """(month, thread name) of every folder staged, as each is done."""
    seen: list[tuple[str, str]] = []
    original = staging.stage_month

    def stage_month(layout, source, month):
        staged = original(layout, source, month)
        name = threading.current_thread().name
        seen.append((month, AHEAD_THREAD if name.startswith(AHEAD_THREAD) else name))
        return staged

    monkeypatch.setattr(staging, "stage_month", stage_month)
    return seen


def _ingest(con: duckdb.DuckDBPyConnection, layout: DataDir, month: str) -> None:
    ingest_source(con, layout, SOURCES[CLAIMS], district=DISTRICT, month=month, reuse=False)


def _written(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, pl.DataFrame]:
    where = "district = ? AND month = ?"
    return {
        table: con.sql(
            f"SELECT * FROM {table} WHERE {where} ORDER BY ALL", params=[DISTRICT, month]
        ).pl()
        for table in (f"stg_{CLAIMS}", *ACCOUNTING_TABLES)
    }


def _plan(months: list[str]) -> list:
    return [(SOURCES[CLAIMS], month) for month in months]


def _equal(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for table in a:
        assert a[table].equals(b[table]), table


def test_each_month_is_read_once_ahead_and_written_as_its_own_run_would(layout, reads):
    plain = memory_warehouse()
    for month in EARLIER:
        _ingest(plain, layout, month)
    assert [m for m, _ in reads] == EARLIER and AHEAD_THREAD not in {t for _, t in reads}
    reads.clear()

    ahead = memory_warehouse()
    with reading_ahead(layout, _plan(EARLIER)):
        for month in EARLIER:
            _ingest(ahead, layout, month)
    assert sorted(reads) == [(month, AHEAD_THREAD) for month in EARLIER]
    for month in EARLIER:
        written = _written(ahead, month)
        assert written[f"stg_{CLAIMS}"].height > 100
        _equal(written, _written(plain, month))


def test_a_folder_changed_after_it_was_read_ahead_is_read_again(layout, reads, tmp_path):
    # a copy of the district whose first month's claims lose their last file once read ahead
    root = tmp_path / "district"
    (root / "raw").mkdir(parents=True)
    for month in EARLIER[:2]:
        (root / "raw" / month).symlink_to(layout.raw / month)
    first = root / "raw" / EARLIER[0]
    first.unlink()
    (first / CLAIMS).mkdir(parents=True)
    files = sorted((layout.raw / EARLIER[0] / CLAIMS).iterdir())
    for path in files:
        (first / CLAIMS / path.name).write_bytes(path.read_bytes())
    copy = DataDir(root)

    con = memory_warehouse()
    with reading_ahead(copy, _plan(EARLIER[:2])):
        _wait_for_read(reads, EARLIER[0])
        (first / CLAIMS / files[-1].name).unlink()
        _ingest(con, copy, EARLIER[0])
        _ingest(con, copy, EARLIER[1])
    assert sorted(reads) == sorted([(EARLIER[0], AHEAD_THREAD), (EARLIER[0], "MainThread"),
                                    (EARLIER[1], AHEAD_THREAD)])  # fmt: skip
    staged_files = con.sql(
        "SELECT DISTINCT file FROM ingest_files WHERE month = ?", params=[EARLIER[0]]
    ).fetchall()
    assert files[-1].name not in {Path(f).name for (f,) in staged_files}
    assert len(staged_files) == len(files) - 1


def _wait_for_read(reads: list[tuple[str, str]], month: str) -> None:
    for _ in range(400):
        if (month, AHEAD_THREAD) in reads:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{month} was not read ahead")


def test_months_the_runs_skip_hold_nothing_up(layout, reads):
    con = memory_warehouse()
    done = threading.Event()
    first, second, third = EARLIER

    def run() -> None:
        with reading_ahead(layout, _plan(EARLIER), ahead=1):
            _wait_for_read(reads, first)  # read ahead, then never asked for
            _ingest(con, layout, second)
            # asking for the second let go of the first: the third is read ahead meanwhile
            _wait_for_read(reads, third)
            _ingest(con, layout, third)
        done.set()

    worker = threading.Thread(target=run, name="runs", daemon=True)
    worker.start()
    worker.join(120)
    assert done.is_set(), "reading ahead held up the months asked for"
    assert sorted(reads) == sorted([(first, AHEAD_THREAD), (second, "runs"),
                                    (third, AHEAD_THREAD)])  # fmt: skip
    for month in (second, third):
        assert _written(con, month)[f"stg_{CLAIMS}"].height > 100


def test_a_read_that_failed_ahead_is_read_by_the_run(layout, reads, monkeypatch):
    original = staging.read_staged

    def read_staged(layout, source, month, fingerprint):
        if threading.current_thread().name.startswith(AHEAD_THREAD):
            raise OSError("disk went away")
        return original(layout, source, month, fingerprint)

    monkeypatch.setattr(staging, "read_staged", read_staged)
    plain, ahead = memory_warehouse(), memory_warehouse()
    _ingest(plain, layout, EARLIER[0])
    with reading_ahead(layout, _plan(EARLIER[:1])):
        _ingest(ahead, layout, EARLIER[0])
    _equal(_written(ahead, EARLIER[0]), _written(plain, EARLIER[0]))


def test_the_months_roster_is_read_ahead_unless_staged_and_a_month_lets_go_of_earlier_ones_only(
    layout, monkeypatch
):
    # fangfan run catching up: the claims months, then M's roster and grid. Taking M's roster
    # must not let go of M's grid (the month's ingest asks for both); a snapshot whose
    # fingerprint the warehouse holds is not read ahead (the run reuses it)
    seen: list[tuple[str, str, bool]] = []
    original = staging.stage_month

    def stage_month(layout, source, month):
        seen.append((source.key, month, threading.current_thread().name.startswith(AHEAD_THREAD)))
        return original(layout, source, month)

    monkeypatch.setattr(staging, "stage_month", stage_month)
    roster, grid = SOURCES["roster"], SOURCES["grid"]
    held = frozenset({(grid.key, folder_fingerprint(layout.source_folder(MONTH, grid.key)))})
    plan = [*_plan(EARLIER[:1]), (roster, MONTH), (grid, MONTH)]
    con = memory_warehouse()
    with reading_ahead(layout, plan, staged=held):
        _ingest(con, layout, EARLIER[0])
        for _ in range(400):  # both snapshots done ahead (the grid found staged, not read)
            if ("roster", MONTH, True) in seen:
                break
            threading.Event().wait(0.05)
        staged = [
            ingest_source(con, layout, source, district=DISTRICT, month=MONTH, reuse=False)
            for source in (grid, roster)  # the grid first: taking it keeps the roster
        ]
    assert sorted(seen) == sorted([
        (CLAIMS, EARLIER[0], True), ("roster", MONTH, True), ("grid", MONTH, False)
    ])  # fmt: skip
    assert [s.staged.records.height > 0 for s in staged] == [True, True]
