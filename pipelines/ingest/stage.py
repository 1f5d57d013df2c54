"""Stage one source folder: read every file, find its tables and stage them (docs/DESIGN.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import polars as pl

from pipelines.ingest.headers import SCAN_ROWS, Header, find_header
from pipelines.ingest.readers import (
    CSV_SUFFIXES,
    EXCEL_SUFFIXES,
    Grid,
    UnreadableFile,
    Workbook,
    read_csv,
)
from pipelines.ingest.table import (
    FIELD_PROBLEM_SCHEMA,
    REJECT_SCHEMA,
    SheetFailure,
    Table,
    record_schema,
    stage_tables,
)
from pipelines.sources import GRID, Source, normalise_header

FILE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),
    "sheet": pl.String(),
    "status": pl.String(),
    "message": pl.String(),
    "rows_read": pl.Int64(),
    "rows_kept": pl.Int64(),
    "rows_rejected": pl.Int64(),
    "rows_skipped": pl.Int64(),
}
# files in a source folder that are not data
IGNORED_PREFIXES = (".", "~$")
IGNORED_NAMES = ("Thumbs.db", "desktop.ini")


@dataclass
class StagedSource:
    """The staged layer of one source for one month (docs/DESIGN.md, "Ingest output")."""

    records: pl.DataFrame
    rejects: pl.DataFrame
    files: pl.DataFrame
    received: bool = True  # False: the folder is missing or empty (未报送, not "no findings")
    # kept rows' unreadable fields (null in `records`): source, file, sheet, row, field, reason
    field_problems: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
    )


TableReader = Callable[[Source, Path, str], list[Table | SheetFailure]]


def stage_source(source: Source, folder: Path, month: str) -> StagedSource:
    """Stage every file of raw/<month>/<source>/ (month is the partition; rows carry no month)."""
    if source.key == GRID.key:
        # the ledger has its own layout (title-row 乡镇/村, ticks); grid.py builds on this module
        from pipelines.ingest.grid import stage_grid

        return stage_grid(folder, month)
    return stage_folder(source, folder, read_tables)


def stage_folder(
    source: Source,
    folder: Path,
    reader: TableReader,
    tick_fields: Sequence[str] = (),
) -> StagedSource:
    """Read every file of a folder with `reader` and stage all of its tables together."""
    schema = record_schema(source, tick_fields)
    files = source_files(folder) if folder.is_dir() else []
    if not files:
        return StagedSource(
            records=pl.DataFrame(schema=schema),
            rejects=pl.DataFrame(schema=REJECT_SCHEMA),
            files=pl.DataFrame(schema=FILE_SCHEMA),
            received=False,
        )
    # all tables of the source are typed together: one pass per column, not one per file
    outcomes: list[tuple[str, Table | SheetFailure | UnreadableFile]] = []
    for path in files:
        name = path.relative_to(folder).as_posix()
        try:
            outcomes.extend((name, table) for table in reader(source, path, name))
        except UnreadableFile as error:
            outcomes.append((name, error))
    tables = [outcome for _, outcome in outcomes if isinstance(outcome, Table)]
    records, rejects, field_problems, results = stage_tables(source, tables, tick_fields)
    counts = iter(results)
    file_rows = []
    for name, outcome in outcomes:
        if isinstance(outcome, Table):
            result = next(counts)
            sheet = outcome.grid.sheet
            file_rows.append(_file_row(source, name, sheet, "ok", outcome.message, result.counts))
        elif isinstance(outcome, SheetFailure):
            file_rows.append(_file_row(source, name, outcome.sheet, "failed", outcome.message))
        else:
            file_rows.append(_file_row(source, name, None, "failed", str(outcome)))
    return StagedSource(
        records=records,
        rejects=rejects,
        files=pl.DataFrame(file_rows, schema=FILE_SCHEMA),
        received=True,
        field_problems=field_problems,
    )


def source_files(folder: Path) -> list[Path]:
    """Data files of a source folder (subfolders included), skipping hidden and lock files."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.name.startswith(IGNORED_PREFIXES)
        and path.name not in IGNORED_NAMES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _file_row(
    source: Source,
    name: str,
    sheet: str | None,
    status: str,
    message: str | None,
    counts: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> dict[str, object]:
    read, kept, rejected, skipped = counts
    return {
        "source": source.key,
        "file": name,
        "sheet": sheet,
        "status": status,
        "message": message,
        "rows_read": read,
        "rows_kept": kept,
        "rows_rejected": rejected,
        "rows_skipped": skipped,
    }


# --- finding the tables of a file -------------------------------------------------------------


def read_tables(source: Source, path: Path, name: str) -> list[Table | SheetFailure]:
    """The tables of a department/roster file: a CSV, or the data sheet(s) of a workbook."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        grid = read_csv(path, name)
        return [Table(grid, require_header(source, grid))]
    if suffix in EXCEL_SUFFIXES:
        return _workbook_tables(source, Workbook(path, name))
    raise UnreadableFile(f"文件 {name} 的格式不受支持（只接受 .csv、.xlsx 或 .xls）")


def _named_for(source: Source, sheet: str) -> bool:
    """A sheet named for the data: its name and the source title share four characters or more."""
    key = normalise_header(sheet)
    if len(key) < 2:
        return False
    if key in source.title or source.title in key:
        return True
    match = SequenceMatcher(None, key, source.title).find_longest_match()
    return match.size >= 4


def _workbook_tables(source: Source, workbook: Workbook) -> list[Table | SheetFailure]:
    """Every sheet named for the data; else the first visible sheet with a header (a cover or
    instructions sheet in front gives way). Sheets left unread are named in the file's message."""
    named = [sheet for sheet in workbook.sheet_names if _named_for(source, sheet)]
    results: list[Table | SheetFailure] = []
    first_error: UnreadableFile | None = None
    for sheet in named or workbook.sheet_names:
        grid = workbook.read(sheet)
        if grid.hidden and not named:
            continue
        try:
            results.append(Table(grid, require_header(source, grid)))
        except UnreadableFile as error:
            first_error = first_error or error
            if named:
                results.append(SheetFailure(sheet, str(error)))
            continue
        if not named:
            break
    if not any(isinstance(result, Table) for result in results):
        raise first_error or UnreadableFile(f"文件 {workbook.name} 没有可读取的工作表")
    read = {result.grid.sheet if isinstance(result, Table) else result.sheet for result in results}
    # default-named sheets (Sheet2, Sheet3) are nearly always the empty ones Excel adds
    unread = [
        sheet
        for sheet in workbook.sheet_names
        if sheet not in read and not normalise_header(sheet).lower().startswith("sheet")
    ]
    if not unread:
        return results
    note = "另有工作表未读取：" + "、".join(unread)
    return [
        Table(result.grid, result.header, result.defaults, note)
        if isinstance(result, Table)
        else result
        for result in results
    ]


def _where(grid: Grid) -> str:
    return f"文件 {grid.file}" + (f" 的工作表 {grid.sheet}" if grid.sheet else "")


def require_header(source: Source, grid: Grid, optional: Iterable[str] = ()) -> Header:
    """The grid's header, or a failure naming the file and what is missing."""
    header = find_header(grid.cells, grid.cell_columns, source.fields)
    if header is None:
        raise UnreadableFile(
            f"{_where(grid)} 前 {SCAN_ROWS} 行中没有可识别的表头（{source.title}）"
        )
    if source.is_department and not ({"name", "id_number"} & header.fields.keys()):
        raise UnreadableFile(f"{_where(grid)} 没有姓名列或证件号码列，无法识别表头")
    skip = set(optional)
    missing = [
        f.headers[0]
        for f in source.fields
        if f.required and f.name not in header.fields and f.name not in skip
    ]
    if missing:
        raise UnreadableFile(f"{_where(grid)} 缺少必需列：{'、'.join(missing)}")
    return header
