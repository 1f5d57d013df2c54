"""A month's raw folder of one source into the warehouse: staged rows, rejects, files, status."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.config import DataDir
from pipelines.feedback import ReturnedLists, listed_before, read_returned_lists
from pipelines.ingest.grid import stage_grid
from pipelines.ingest.stage import StagedSource, stage_source
from pipelines.sources import FEEDBACK, GRID, ROSTER, Source
from pipelines.warehouse import replace_partition

SNAPSHOT_SOURCES = (ROSTER, GRID)
# the per-source accounting every staged source writes its own rows of
ACCOUNTING_TABLES = ("rejects", "ingest_files", "field_problems", "source_status")


class NothingToStage(ValueError):
    """A snapshot source (roster, grid) has no folder up to this month, or no usable row."""


@dataclass(frozen=True)
class Staged:
    """One source staged for one month: where it was read from and what it gave."""

    source: Source
    staged: StagedSource
    folder: Path
    snapshot_month: str  # the month whose folder was read (a snapshot may be an earlier one)
    returned: ReturnedLists | None = None  # the feedback's checked answers


def latest_snapshot_folder(raw: Path, month: str, source_key: str) -> tuple[Path, str] | None:
    """Roster and grid are snapshots: when M has none, the latest earlier month's stands in."""
    candidates = sorted(
        (
            p.parent.name
            for p in raw.glob(f"*/{source_key}")
            if p.is_dir() and p.parent.name <= month
        ),
        reverse=True,
    )
    return (raw / candidates[0] / source_key, candidates[0]) if candidates else None


def stage_snapshot(layout: DataDir, source: Source, month: str) -> Staged:
    """The roster or the grid ledger of M, or of the latest earlier month that has one."""
    found = latest_snapshot_folder(layout.raw, month, source.key)
    if found is None:
        raise NothingToStage(
            f"{source.title}：raw/ 下没有 {month} 或更早月份的 {source.key} 文件夹，无法运行"
        )
    folder, snapshot_month = found
    staged = stage_grid(folder, month) if source is GRID else stage_source(ROSTER, folder, month)
    if staged.records.height == 0:
        raise NothingToStage(
            f"{source.title}：{folder} 中没有可用的数据行（见 rejects / ingest_files）"
        )
    return Staged(source, staged, folder, snapshot_month)


def stage_month(layout: DataDir, source: Source, month: str) -> Staged:
    """raw/<M>/<source>/ staged (a missing folder is a source not received this month)."""
    if source in SNAPSHOT_SOURCES:
        return stage_snapshot(layout, source, month)
    folder = layout.source_folder(month, source.key)
    return Staged(source, stage_source(source, folder, month), folder, month)


def write_staged(
    con: duckdb.DuckDBPyConnection, staged: Staged, *, district: str, month: str
) -> None:
    """Replace this month's staged rows of a source, and its rows of rejects, file accounting,
    field problems and receipt status."""
    key, frames = staged.source.key, staged.staged
    by_source = ("source = ?", [key])
    replace_partition(con, f"stg_{key}", frames.records, district=district, month=month)
    for table, frame in (
        ("rejects", frames.rejects),
        ("ingest_files", frames.files),
        ("field_problems", frames.field_problems),
    ):
        replace_partition(con, table, frame, district=district, month=month, extra_where=by_source)
    status = pl.DataFrame(
        {
            "source": [key],
            "received": [frames.received],
            "snapshot_month": [staged.snapshot_month],
            "files": [frames.files.height],
            "records": [frames.records.height],
            "rejected": [frames.rejects.height],
            "field_problems": [frames.field_problems.height],
        }
    )
    replace_partition(
        con, "source_status", status, district=district, month=month, extra_where=by_source
    )


def ingest_source(
    con: duckdb.DuckDBPyConnection, layout: DataDir, source: Source, *, district: str, month: str
) -> Staged:
    """Stage one source of M and write it. The townships' returned lists are checked against
    every warning listed before M; their answers go to feedback_answers."""
    if source is FEEDBACK:
        folder = layout.source_folder(month, FEEDBACK.key)
        returned = read_returned_lists(folder, listed_before(con, district, month), month)
        replace_partition(con, "feedback_answers", returned.answers, district=district, month=month)
        staged = Staged(FEEDBACK, returned.staged, folder, month, returned)
    else:
        staged = stage_month(layout, source, month)
    write_staged(con, staged, district=district, month=month)
    return staged


def accounting_counts(con: duckdb.DuckDBPyConnection, district: str, month: str) -> dict[str, int]:
    """Rows of each accounting table for the month (what the ingest left there, all sources)."""
    return {
        table: con.execute(
            f"SELECT count(*) FROM {table} WHERE district = ? AND month = ?", [district, month]
        ).fetchone()[0]
        for table in ACCOUNTING_TABLES
    }
