"""A month's raw folder of one source into the warehouse: staged rows, rejects, files, status."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import polars as pl

from pipelines.checks.schemas import schema_failures, staged_schema
from pipelines.config import DataDir
from pipelines.feedback import ReturnedLists, listed_before, read_returned_lists
from pipelines.fingerprints import code_digest
from pipelines.ingest.grid import stage_grid
from pipelines.ingest.stage import StagedSource, source_files, stage_source
from pipelines.ingest.table import DESTROYED_CODE
from pipelines.matching.places import plain_places
from pipelines.schema import rollback
from pipelines.sources import FEEDBACK, GRID, ROSTER, Source
from pipelines.threads import each_as_read, map_in_threads
from pipelines.warehouse import read_frame, replace_partition, table_columns

SNAPSHOT_SOURCES = (ROSTER, GRID)
# the per-source accounting every staged source writes its own rows of
ACCOUNTING_TABLES = ("rejects", "ingest_files", "field_problems", "source_status")


class NothingToStage(ValueError):
    """A snapshot source (roster, grid) has no folder up to this month, or no usable row."""

    def __init__(self, source: Source, message: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class Staged:
    """One source staged for one month: where it was read from and what it gave."""

    source: Source
    staged: StagedSource
    folder: Path
    snapshot_month: str  # the month whose folder was read (a snapshot may be an earlier one)
    returned: ReturnedLists | None = None  # the feedback's checked answers
    # the folder's fingerprint (None: the feedback, or no folder), and the month whose staged rows
    # were reused because its folder had the same fingerprint (None: read and staged now)
    fingerprint: str | None = None
    reused_from: str | None = None
    # what the staged schema check found in the kept rows (checks.schemas.schema_failures; None:
    # the feedback, which has none), found as they were staged and kept in source_status, so that
    # a reuse does not read the rows back to check them again
    schema_failures: pl.DataFrame | None = None
    counted: int | None = None  # a reused source's kept rows: its records are not read back

    @property
    def kept(self) -> int:
        """Rows kept (staged) for the month."""
        return self.staged.records.height if self.counted is None else self.counted


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
            source,
            f"{source.title}：raw/ 下没有 {month} 或更早月份的 {source.key} 文件夹，无法运行",
        )
    folder, snapshot_month = found
    if source is GRID:
        staged = stage_grid(folder, month)
    else:
        staged = stage_source(ROSTER, folder, month)
        staged = replace(staged, records=plain_places(staged.records))
    if staged.records.height == 0:
        raise NothingToStage(source, f"{source.title}：{folder} 中没有可用的数据行" + _why(staged))
    return Staged(source, staged, folder, snapshot_month)


def _why(staged: StagedSource) -> str:
    """Why no row was kept, for the failure message: the rows rejected and the commonest reason
    (reasons name columns, never a cell's value)."""
    rejects = staged.rejects
    if rejects.height == 0:
        return "（见 rejects / ingest_files）"
    reason, count = (
        rejects.group_by("reason").len().sort(["len", "reason"], descending=[True, False]).row(0)
    )
    remedy = EXCEL_REMEDY if DESTROYED_CODE in reason else ""
    return (
        f"：{rejects.height} 行全部退回，最多的原因（{count} 行）：{reason}{remedy}"
        "（见 rejects / ingest_files）"
    )


# what to do when Excel (or WPS, LibreOffice) has turned a long code into a number: the digits
# are gone from the file, so only a new export, or the column kept as text, brings them back
EXCEL_REMEDY = (
    "。请从系统重新导出原文件直接报送；如需用 Excel/WPS 打开，先把编号、证件号码列设为「文本」"
    "格式再导入，不要另存为数字"
)


# the code that turns a snapshot into staged rows and keyed members: a change to it changes every
# fingerprint, so nothing staged or keyed by older code is reused
_FINGERPRINTED_CODE = (
    "ingest/*.py",
    "sources.py",
    "staging.py",
    "roster.py",
    "schema.py",
    "warehouse.py",
)


def code_fingerprint() -> bytes:
    return code_digest(_FINGERPRINTED_CODE)


def folder_fingerprint(folder: Path) -> str | None:
    """Content hash of a snapshot folder: every data file's name and bytes, and the code that
    stages and keys it. Same fingerprint, same staged rows (staging does not depend on the month).
    None when a file cannot be read (no permission, a vanished file): the folder is then read,
    never reused, and the reader names the file and why, while the rest of the month goes on."""
    digest = hashlib.sha256(code_fingerprint())  # sha256: twice blake2b's speed here (SHA-NI)
    try:
        for path in source_files(folder) if folder.is_dir() else []:
            name = path.relative_to(folder).as_posix().encode()
            digest.update(len(name).to_bytes(4, "little") + name)
            digest.update(path.stat().st_size.to_bytes(8, "little"))
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


# a staged snapshot a later run of the district reuses when the folder's fingerprint is its own
# (fingerprint_month); the same rows are what ReadAhead need not read (staged_fingerprints)
_REUSABLE = "district = ? AND records > 0"


def staged_fingerprints(
    con: duckdb.DuckDBPyConnection, district: str
) -> frozenset[tuple[str, str]]:
    """(source, fingerprint) of every staged snapshot of the district: what a run would reuse."""
    rows = con.execute(
        f"SELECT DISTINCT source, fingerprint FROM source_status WHERE {_REUSABLE}"
        " AND fingerprint IS NOT NULL AND list_contains(?, source)",
        [district, [s.key for s in SNAPSHOT_SOURCES]],
    ).fetchall()
    return frozenset(rows)


def fingerprint_month(
    con: duckdb.DuckDBPyConnection, district: str, month: str, source_key: str, fingerprint: str
) -> str | None:
    """A month whose staged snapshot of `source_key` has this fingerprint (M itself first, then
    the latest other), or None."""
    row = con.execute(
        f"SELECT month FROM source_status WHERE {_REUSABLE} AND source = ? AND fingerprint = ?"
        " ORDER BY month = ? DESC, month DESC LIMIT 1",
        [district, source_key, fingerprint, month],
    ).fetchall()
    return row[0][0] if row else None


def copy_month(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    district: str,
    source_month: str,
    month: str,
    where: tuple[str, list] | None = None,
) -> None:
    """Replace M's rows of a table by a copy of another month's (inside the caller's transaction)."""
    extra, params = (f" AND {where[0]}", where[1]) if where else ("", [])
    con.execute(
        f"DELETE FROM {table} WHERE district = ? AND month = ?{extra}", [district, month, *params]
    )
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT * REPLACE (? AS month) FROM {table}"
        f" WHERE district = ? AND month = ?{extra}",
        [month, district, source_month, *params],
    )


def _staged_from_warehouse(
    con: duckdb.DuckDBPyConnection, source: Source, district: str, month: str
) -> tuple[StagedSource, pl.DataFrame, int]:
    """What staging gave, read back from M's rows: rejects, files and field problems; of the
    records only their count and what the schema check found when they were staged (a reuse
    reports on no more). Rows staged before that was kept are read back and checked again."""

    def rows(
        table: str, by_source: bool, columns: str = "* EXCLUDE (district, month)"
    ) -> pl.DataFrame:
        where = " AND source = ?" if by_source else ""
        params = [district, month, source.key] if by_source else [district, month]
        return read_frame(
            con, f"SELECT {columns} FROM {table} WHERE district = ? AND month = ?{where}", params
        )

    [(kept, found)] = con.execute(
        "SELECT records, schema_failures FROM source_status"
        " WHERE district = ? AND month = ? AND source = ?",
        [district, month, source.key],
    ).fetchall()
    if found is not None:
        failures = pl.DataFrame(json.loads(found), schema=FAILURES_SCHEMA)
    else:
        table = f"stg_{source.key}"
        stored = set(table_columns(con, table))
        checked = [c for c in staged_schema(source).columns if c in stored]
        records = rows(table, False, ", ".join(f'"{c}"' for c in checked))
        failures, kept = _schema_findings(source, records), records.height
    staged = StagedSource(
        records=pl.DataFrame(),
        rejects=rows("rejects", True),
        files=rows("ingest_files", True),
        received=True,
        field_problems=rows("field_problems", True),
    )
    return staged, failures, kept


# schema_failures as kept in source_status (JSON rows)
FAILURES_SCHEMA = {"column": pl.String, "check": pl.String, "failures": pl.UInt32}


def _schema_findings(source: Source, records: pl.DataFrame) -> pl.DataFrame:
    """What the staged schema check finds in a source's kept rows (nothing when none were
    staged: a source not received has no columns to check)."""
    if not records.width:
        return pl.DataFrame(schema=FAILURES_SCHEMA)
    return schema_failures(source, records)


def reuse_snapshot(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    folder: Path,
    snapshot_month: str,
    *,
    district: str,
    month: str,
    fingerprint: str,
) -> Staged | None:
    """A source of M staged by copying the staged rows of a month whose folder (snapshot) had the
    same fingerprint (nothing to write when that month is M itself), or None when there is none."""
    found = fingerprint_month(con, district, month, source.key, fingerprint)
    if found is None:
        return None
    if found != month:
        by_source = ("source = ?", [source.key])
        con.execute("BEGIN TRANSACTION")
        try:
            copy_month(con, f"stg_{source.key}", district=district, source_month=found, month=month)
            for table in ACCOUNTING_TABLES:
                copy_month(
                    con, table, district=district, source_month=found, month=month, where=by_source
                )
            con.execute(
                "UPDATE source_status SET snapshot_month = ? WHERE district = ? AND month = ?"
                " AND source = ?",
                [snapshot_month, district, month, source.key],
            )
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
    staged, failures, kept = _staged_from_warehouse(con, source, district, month)
    return Staged(
        source, staged, folder, snapshot_month, fingerprint=fingerprint, reused_from=found,
        schema_failures=failures, counted=kept,
    )  # fmt: skip


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
    # the fingerprint goes last: rows half written by a stopped run are never taken for a folder's
    con.execute(
        "UPDATE source_status SET fingerprint = NULL WHERE district = ? AND month = ? AND source = ?",
        [district, month, key],
    )
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
            "fingerprint": [staged.fingerprint],
            "schema_failures": [
                None
                if staged.schema_failures is None
                else json.dumps(staged.schema_failures.to_dicts(), ensure_ascii=False)
            ],
        },
        schema_overrides={"fingerprint": pl.String, "schema_failures": pl.String},
    )
    replace_partition(
        con, "source_status", status, district=district, month=month, extra_where=by_source
    )


def _located(layout: DataDir, source: Source, month: str) -> tuple[Path, str] | None:
    """The folder a source of M is read from and its month (a snapshot's may be earlier)."""
    if source in SNAPSHOT_SOURCES:
        return latest_snapshot_folder(layout.raw, month, source.key)
    folder = layout.source_folder(month, source.key)
    return (folder, month) if folder.is_dir() else None


def _ingest_feedback(
    con: duckdb.DuckDBPyConnection, layout: DataDir, *, district: str, month: str
) -> Staged:
    """The townships' returned lists, checked against every warning listed before M; their
    answers go to feedback_answers."""
    folder = layout.source_folder(month, FEEDBACK.key)
    returned = read_returned_lists(folder, listed_before(con, district, month), month)
    replace_partition(con, "feedback_answers", returned.answers, district=district, month=month)
    staged = Staged(FEEDBACK, returned.staged, folder, month, returned)
    write_staged(con, staged, district=district, month=month)
    return staged


def read_staged(layout: DataDir, source: Source, month: str, fingerprint: str | None) -> Staged:
    """A source of M read and staged (not written), checked as it is staged: the schema finding
    is kept with the source."""
    staged = stage_month(layout, source, month)
    failures = _schema_findings(source, staged.staged.records)
    return replace(staged, fingerprint=fingerprint, schema_failures=failures)


AHEAD_THREAD = "fangfan-ahead"


class ReadAhead:
    """Sources of the months a process is about to run, read and staged ahead on background
    threads, in order (`fangfan run` catching up the year's earlier claims months, one run per
    month: while one run writes its month, the next months' folders are being read, so the two
    cores are both at work). ingest_sources takes a month's source from here when it would read
    it and the folder still has the fingerprint it was read with; anything else it reads itself,
    as without. At most `ahead` sources are read or wait to be taken at once, each on its own
    thread (two: 1.1 s less than one over the 1M bench's nine months, 0.1 GiB more held); taking
    one lets go of those planned for earlier months (runs go in the plan's order), and one not yet
    started is not waited for. A snapshot (roster, grid) whose fingerprint is among `staged` is
    not read: its run reuses the staged rows."""

    def __init__(
        self,
        layout: DataDir,
        plan: Sequence[tuple[Source, str]],
        ahead: int = 2,
        staged: frozenset[tuple[str, str]] = frozenset(),
    ):
        self._layout = layout
        self._ahead = ahead
        # (source key, fingerprint) the warehouse holds already: a run would reuse them, not read
        self._staged = staged
        # (source key, month, folder) → the staged source, in the plan's order
        self._planned: dict[tuple[str, str, Path], Future[Staged | None]] = {}
        for source, month in plan:
            self._planned[(source.key, month, layout.source_folder(month, source.key))] = Future()
        self._plan = list(plan)
        self._next = 0
        self._changed = threading.Condition()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._read_all, name=f"{AHEAD_THREAD}-{n}", daemon=True)
            for n in range(min(ahead, len(self._plan)))
        ]
        for thread in self._threads:
            thread.start()

    def _held(self) -> int:
        return sum(1 for future in self._planned.values() if future.running() or future.done())

    def _read_all(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopped or self._held() < self._ahead)
                if self._stopped or self._next == len(self._plan):
                    return
                source, month = self._plan[self._next]
                self._next += 1
                key = (source.key, month, self._layout.source_folder(month, source.key))
                future = self._planned.get(key)
                if future is None or not future.set_running_or_notify_cancel():
                    continue  # let go of, or taken as not started
            try:
                folder = key[2]
                fingerprint = folder_fingerprint(folder) if folder.is_dir() else None
                reused = (source.key, fingerprint) in self._staged
                future.set_result(
                    None if reused else read_staged(self._layout, source, month, fingerprint)
                )
            except BaseException as error:  # the run reads it itself, and meets the error there
                future.set_exception(error)
            with self._changed:
                self._changed.notify_all()

    def take(
        self, source: Source, at: tuple[Path, str] | None, month: str, fingerprint: str | None
    ) -> Staged | None:
        """M's `source` as read ahead from folder `at`, or None (not planned, not started, failed,
        or its folder changed since: then the caller reads it)."""
        if at is None:
            return None
        key = (source.key, month, at[0])
        with self._changed:
            if key not in self._planned:
                return None
            future = self._planned.pop(key)
            for earlier in [k for k in self._planned if k[1] < month]:
                self._planned.pop(earlier).cancel()
            future.cancel()  # one not yet started is read by its run, not waited for
            self._changed.notify_all()
        if future.cancelled():
            return None
        try:
            staged = future.result()
        except BaseException:
            return None
        return staged if staged is not None and staged.fingerprint == fingerprint else None

    def close(self) -> None:
        """Stop reading ahead (a read under way finishes first) and let go of what is held."""
        with self._changed:
            self._stopped = True
            for future in self._planned.values():
                future.cancel()
            self._planned.clear()
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()


class _NoReadAhead:
    def take(self, *args: object) -> None:
        return None


_READ_AHEAD: ReadAhead | _NoReadAhead = _NoReadAhead()


@contextmanager
def reading_ahead(
    layout: DataDir,
    plan: Sequence[tuple[Source, str]],
    ahead: int = 2,
    staged: frozenset[tuple[str, str]] = frozenset(),
) -> Iterator[ReadAhead]:
    """Within the block, `plan`'s sources of their months are read ahead (ReadAhead, `ahead` at a
    time, skipping the `staged` snapshots) for the ingest_sources calls of this process."""
    global _READ_AHEAD
    ahead = ReadAhead(layout, plan, ahead, staged)
    previous, _READ_AHEAD = _READ_AHEAD, ahead
    try:
        yield ahead
    finally:
        _READ_AHEAD = previous
        ahead.close()


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    layout: DataDir,
    source: Source,
    *,
    district: str,
    month: str,
    reuse: bool = True,
) -> Staged:
    """Stage one source of M and write it (ingest_sources for one source)."""
    return ingest_sources(con, layout, [source], district=district, month=month, reuse=reuse)[0]


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    layout: DataDir,
    sources: Sequence[Source],
    *,
    district: str,
    month: str,
    reuse: bool = True,
) -> list[Staged]:
    """Stage the sources of M and write them; returns them in the order given.

    A source folder (for the roster and grid, the snapshot folder used) whose fingerprint a
    staged month already has is copied from that month, not read again: a rerun of M reads no
    unchanged file twice, an unchanged roster is not read again next month (`reuse` False:
    always read). The folders to read are read side by side (pipelines.threads), each
    written on this connection as soon as it is staged, so at most two sources are held at once
    and DuckDB keeps its one writer. The feedback is read last: it is checked against what was
    listed before M."""
    done: dict[str, Staged] = {}
    plain = [source for source in sources if source is not FEEDBACK]
    found = {source.key: _located(layout, source, month) for source in plain}
    fingerprints = dict(
        zip(
            found,
            map_in_threads(
                lambda at: folder_fingerprint(at[0]) if at else None, list(found.values())
            ),
            strict=True,
        )
    )
    to_read = []
    for source in plain:
        at, fingerprint = found[source.key], fingerprints[source.key]
        reused = (
            reuse_snapshot(
                con, source, at[0], at[1], district=district, month=month, fingerprint=fingerprint
            )
            if reuse and at and fingerprint
            else None
        )
        if reused is not None:
            done[source.key] = reused
        else:
            to_read.append(source)

    def read(source: Source) -> Staged:
        fingerprint = fingerprints[source.key]
        ahead = _READ_AHEAD.take(source, found[source.key], month, fingerprint)
        return ahead or read_staged(layout, source, month, fingerprint)

    def write(source: Source, staged: Staged) -> None:
        write_staged(con, staged, district=district, month=month)
        done[source.key] = staged

    each_as_read(read, to_read, write)
    if FEEDBACK in sources:
        done[FEEDBACK.key] = _ingest_feedback(con, layout, district=district, month=month)
    return [done[source.key] for source in sources]
