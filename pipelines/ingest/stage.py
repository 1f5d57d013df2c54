"""Stage one source folder: read every file, find its tables and stage them (docs/DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import partial
from pathlib import Path

import polars as pl

from pipelines.ingest.headers import SCAN_ROWS, Header, find_header
from pipelines.ingest.readers import (
    CSV_SUFFIXES,
    EXCEL_SUFFIXES,
    CutLine,
    Grid,
    UnreadableFile,
    Workbook,
    read_single,
)
from pipelines.ingest.table import (
    DROPPED_COLUMNS,
    FIELD_PROBLEM_SCHEMA,
    NOTE_PATTERN,
    PROVENANCE_SCHEMA,
    REJECT_SCHEMA,
    TOTAL_PATTERN,
    SheetFailure,
    Table,
    record_schema,
    stage_tables,
)
from pipelines.sources import GRID, Source, normalise_header
from pipelines.threads import map_in_threads

FILE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),
    "sheet": pl.String(),
    # 'ok'; 'partial': cut short (its lines before the cut read), or a workbook with more of its
    # list on sheets not read; 'duplicate': read but not counted, another file of the folder
    # holds the same rows; 'failed': not read
    "status": pl.String(),
    "message": pl.String(),
    "rows_read": pl.Int64(),
    "rows_kept": pl.Int64(),
    "rows_rejected": pl.Int64(),
    "rows_skipped": pl.Int64(),
    # rows of a file delivered twice (status 'duplicate'): read = kept + rejected + duplicate
    "rows_duplicate": pl.Int64(),
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
        # the ledger has its own layout (title-row 乡镇/村, ticks): ingest/grid.py builds on this
        # module, and pipelines/staging.py hands the grid to it
        raise ValueError("the grid ledger is staged by pipelines.ingest.grid.stage_grid")
    return stage_folder(source, folder, partial(read_tables, month=month), month=month)


def stage_folder(
    source: Source,
    folder: Path,
    reader: TableReader,
    tick_fields: Sequence[str] = (),
    month: str | None = None,
) -> StagedSource:
    """Read every file of a folder with `reader` and stage all of its tables together (`month`:
    the staged month, which an event date's two-digit year is read against and which no date
    can be long after)."""
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
    def read(path: Path) -> list[tuple[str, Table | SheetFailure | UnreadableFile]]:
        name = path.relative_to(folder).as_posix()
        try:
            return [(name, table) for table in reader(source, path, name)]
        except UnreadableFile as error:
            return [(name, error)]
        except MemoryError:
            raise
        except Exception as error:  # a fault of ours, not the file's: the other files are read
            return [(name, UnreadableFile(program_fault(name, error)))]

    outcomes = [outcome for found in map_in_threads(read, files) for outcome in found]
    tables = [outcome for _, outcome in outcomes if isinstance(outcome, Table)]
    try:
        records, rejects, field_problems, results = stage_tables(source, tables, tick_fields, month)
    except MemoryError:
        raise
    except Exception as error:
        # a fault of ours while typing the tables: the source's files fail (the district is told
        # which, and absence rules take the source as no evidence), the month goes on
        outcomes = [
            (name, UnreadableFile(program_fault(name, error)) if isinstance(o, Table) else o)
            for name, o in outcomes
        ]
        records, rejects, field_problems, results = stage_tables(source, [], tick_fields)
    counts = iter(results)
    file_rows = []
    cut_rejects: list[dict[str, object]] = []
    for name, outcome in outcomes:
        if isinstance(outcome, Table):
            grid, table_counts = outcome.grid, next(counts).counts
            # a list whose name column was not read: none of its rows can be tied (an ID alone
            # is not enough), so it is no evidence of anyone's absence either
            nameless = source.is_department and outcome.header.column_of("name") is None
            status = "partial" if grid.truncated or outcome.incomplete or nameless else "ok"
            notes = [grid.message, outcome.message, _unread_identity_note(source, outcome)]
            if grid.cut_line is not None:
                table_counts, cut = _cut_line(source, outcome, grid.cut_line, table_counts)
                cut_rejects.extend(cut)
                where = f"第 {grid.cut_line.row_number} 行在截断处中断"
                notes.insert(
                    1, f"{where}，列为退回行" if cut else f"{where}（合计或备注行），未计入"
                )
            message = "；".join(filter(None, notes)) or None
            file_rows.append(_file_row(source, name, grid.sheet, status, message, table_counts))
        elif isinstance(outcome, SheetFailure):
            file_rows.append(_file_row(source, name, outcome.sheet, "failed", outcome.message))
        else:
            file_rows.append(_file_row(source, name, None, "failed", str(outcome)))
    if cut_rejects:
        rejects = pl.concat([rejects, pl.DataFrame(cut_rejects, schema=REJECT_SCHEMA)])
    staged = StagedSource(
        records=records,
        rejects=rejects,
        files=pl.DataFrame(file_rows, schema=FILE_SCHEMA),
        received=True,
        field_problems=field_problems,
    )
    return count_duplicates_once(staged, {p.relative_to(folder).as_posix(): p for p in files})


# headers that look like an identity column's (学生身份证号, 身份证件号; 参保人员姓名, 病人姓名) but
# are none of the contract's
_LOOKS_LIKE = {"id_number": re.compile(r"身份证|证件号|身份号"), "name": re.compile(r"姓名|名字")}
_WITHOUT = {
    "id_number": ("证件号码", "本表记录只能按姓名和地址匹配", "「证件号码」或「身份证号」"),
    "name": ("姓名", "仅凭证件号码不予匹配，本表记录都不能自动匹配", "「姓名」"),
}


def _unread_identity_note(source: Source, table: Table) -> str | None:
    """The file's note when a department list has no name or no ID column the contract names:
    its records are matched by name and place only (many become ambiguous), or not at all, and
    the district is told which header it could rename (学生身份证号 beside 患者姓名, 参保人员姓名)."""
    if not source.is_department:
        return None
    taken = set(table.header.fields.values())
    notes = []
    for field_name, (what, consequence, rename) in _WITHOUT.items():
        if table.header.column_of(field_name) is not None:
            continue
        unread = [
            label
            for column, label in enumerate(table.header.labels)
            if column not in taken and _LOOKS_LIKE[field_name].search(label)
        ]
        if not unread:
            notes.append(f"表中没有{what}列，{consequence}")
            continue
        notes.append(
            f"表中没有可识别的{what}列（「{'」「'.join(unread)}」未识别为{what}），{consequence}；"
            f"如该列是本人的{what}，请把表头改为{rename}"
        )
    return "；".join(notes) or None


def program_fault(name: str, error: Exception) -> str:
    """The file's message when our own code failed on it: the kind of error and where, never
    the error's text (it may quote a cell: a name, an ID)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f"，{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (
        f"文件 {name} 处理时程序出错（{type(error).__name__}{where}），本月未使用该文件的数据；"
        "请把此文件交给技术支持"
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
        "rows_duplicate": 0,
    }


# --- a file cut short -------------------------------------------------------------------------


def _cut_line(
    source: Source, table: Table, cut: CutLine, counts: tuple[int, int, int, int]
) -> tuple[tuple[int, int, int, int], list[dict[str, object]]]:
    """The partial last line of a truncated file: a reject showing what is left of it (a person
    sees a row cut off mid-value and would not use it), or a skipped row when what is left opens
    like a total or a note. Returns the table's counts with the line added."""
    read, kept, rejected, skipped = counts
    opening = next((cell.strip() for cell in cut.cells if cell and cell.strip()), "")
    if re.search(TOTAL_PATTERN, opening) or re.search(NOTE_PATTERN, opening):
        return (read, kept, rejected, skipped + 1), []
    labels = table.header.labels
    keys: list[str] = []
    for index in range(len(cut.cells)):
        key = (labels[index] if index < len(labels) else "") or f"第{index + 1}列"
        keys.append(key if key not in keys else f"{key}_{keys.count(key) + 1}")
    raw_values = json.dumps(
        {
            key: value
            for key, value in zip(keys, cut.cells, strict=True)
            if not re.search(DROPPED_COLUMNS, key)
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    last = len(cut.cells) - 1
    field_name = next((f for f, column in table.header.fields.items() if column == last), None)
    reject = {
        "source": source.key,
        "file": table.grid.file,
        "sheet": table.grid.sheet,
        "row_number": cut.row_number,
        "field": field_name,
        "reason": f"文件在此行「{keys[last]}」处中途截断，此行不完整，未读入",
        "raw_values": raw_values,
    }
    return (read + 1, kept, rejected + 1, skipped), [reject]


# --- the same file delivered twice ------------------------------------------------------------

# how a copy is usually named: 名册 - 副本.xlsx, 名册(1).xlsx, 名册 - Copy.xlsx
COPY_NAME = re.compile(r"副本|复件|拷贝|复制|copy|[(（]\d+[)）]\s*$", re.IGNORECASE)
# columns that say where a row is, not what it holds; raw text that a re-save may write otherwise
_NOT_CONTENT = (*PROVENANCE_SCHEMA, "raw_extra", "id_raw")


def _original_first(name: str) -> tuple[bool, int, str]:
    """Of two copies, the one not named like a copy, then the shorter name, stands as the file."""
    return (COPY_NAME.search(Path(name).stem) is not None, len(name), name)


def count_duplicates_once(staged: StagedSource, paths: dict[str, Path]) -> StagedSource:
    """A file delivered twice is counted once. A file byte for byte identical to another of the
    folder, or whose data rows are all rows of another file (the same values row for row: a
    re-save as .xlsx or CSV, one township's part of a district file), is not staged: its rows
    are counted as duplicate and its status names the file it repeats. Rows repeated within one
    file are left alone (two claims of the same amount can be real)."""
    duplicates = _identical_files(paths)
    duplicates.update(_contained_files(staged, set(duplicates)))
    if not duplicates:
        return staged
    gone = pl.Series(list(duplicates), dtype=pl.String).implode()
    messages = pl.col("file").replace_strict(duplicates, default=None, return_dtype=pl.String)
    files = staged.files.with_columns(
        pl.when(pl.col("file").is_in(gone))
        .then(
            pl.struct(
                pl.lit("duplicate").alias("status"),
                messages.alias("message"),
                pl.lit(0, dtype=pl.Int64).alias("rows_kept"),
                pl.lit(0, dtype=pl.Int64).alias("rows_rejected"),
                (pl.col("rows_kept") + pl.col("rows_rejected")).alias("rows_duplicate"),
            )
        )
        .otherwise(pl.struct("status", "message", "rows_kept", "rows_rejected", "rows_duplicate"))
        .struct.unnest()
    ).select(list(FILE_SCHEMA))
    return StagedSource(
        records=staged.records.filter(~pl.col("file").is_in(gone)),
        rejects=staged.rejects.filter(~pl.col("file").is_in(gone)),
        files=files,
        received=staged.received,
        field_problems=staged.field_problems.filter(~pl.col("file").is_in(gone)),
    )


def _identical_files(paths: dict[str, Path]) -> dict[str, str]:
    """File -> message, for every file byte for byte identical to an earlier one."""
    by_size: dict[int, list[str]] = defaultdict(list)
    for name, path in paths.items():
        by_size[path.stat().st_size].append(name)
    by_digest: dict[str, list[str]] = defaultdict(list)
    for names in by_size.values():
        if len(names) < 2:
            continue
        for name in names:
            try:
                with paths[name].open("rb") as handle:
                    by_digest[hashlib.file_digest(handle, "sha256").hexdigest()].append(name)
            except OSError:
                continue  # unreadable: named by its reader, a copy of nothing
    duplicates = {}
    for names in by_digest.values():
        original, *copies = sorted(names, key=_original_first)
        for name in copies:
            duplicates[name] = f"与 {original} 完全相同（同一文件重复报送），其数据行未重复计入"
    return duplicates


_PEOPLE = ("id_number", "name")


def _row_hashes(staged: StagedSource, columns: list[str], skip: set[str]) -> pl.DataFrame:
    """file, row: a hash of each kept row's `columns` and of each rejected row, files in `skip`
    left out."""
    return pl.concat(
        [
            staged.records.select("file", pl.struct(columns).hash().alias("row")),
            staged.rejects.select(
                "file", pl.struct("field", "reason", "raw_values").hash().alias("row")
            ),
        ]
    ).filter(~pl.col("file").is_in(list(skip)))


def _could_be_contained(staged: StagedSource, people: list[str], skip: set[str]) -> bool:
    """Whether some file's rows, told apart by `people` only, are all rows of other files."""
    keys = _row_hashes(staged, people, skip).unique()
    shared = keys.with_columns(pl.col("row").is_duplicated().alias("shared"))
    return bool(shared.group_by("file").agg(pl.col("shared").all())["shared"].any())


def _contained_files(staged: StagedSource, skip: set[str]) -> dict[str, str]:
    """File -> message, for every file whose data rows (kept and rejected, as multisets) are all
    rows of one other file of the folder that is itself counted."""
    holding = set(staged.records["file"].unique()) | set(staged.rejects["file"].unique())
    if len(holding - skip) < 2:
        return {}
    columns = [c for c in staged.records.columns if c not in _NOT_CONTENT]
    # a file can lie within another only if each of its people (ID and name) is in another file
    # too: when no file passes this cheap test, the rows need not be compared whole
    people = [c for c in _PEOPLE if c in columns]
    if people and not _could_be_contained(staged, people, skip):
        return {}
    rows = _row_hashes(staged, columns, skip)
    # a file with a sheet that could not be read holds more than its staged rows
    incomplete = staged.files.filter(pl.col("status") == "failed")["file"].unique().to_list()
    counts = rows.group_by("file", "row").len("n")
    sizes = dict(counts.group_by("file").agg(pl.col("n").sum()).iter_rows())
    if len(sizes) < 2:
        return {}
    distinct = dict(counts.group_by("file").len().iter_rows())
    # only a row that two files hold can cover one: the others need no join
    shared = counts.filter(pl.col("row").is_duplicated())
    covered = (
        shared.join(shared, on="row", suffix="_other")
        .filter((pl.col("file") != pl.col("file_other")) & (pl.col("n_other") >= pl.col("n")))
        .group_by("file", "file_other")
        .len("covered")
    )
    within = defaultdict(set)
    for name, other, n in covered.iter_rows():
        if n == distinct[name]:
            within[name].add(other)
    # the bigger file stands; between equals, the one not named like a copy
    rank = {name: (-size, *_original_first(name)) for name, size in sizes.items()}
    duplicates: dict[str, str] = {}
    for name in sorted(sizes, key=rank.__getitem__):
        if name in incomplete:
            continue
        standing = [o for o in within[name] if o not in duplicates and rank[o] < rank[name]]
        if not standing:
            continue
        original = min(standing, key=rank.__getitem__)
        duplicates[name] = (
            f"数据行与 {original} 完全相同（重复报送），未重复计入"
            if sizes[name] == sizes[original]
            else f"全部 {sizes[name]} 行数据已包含在 {original} 中（重复报送），未重复计入"
        )
    return duplicates


# --- finding the tables of a file -------------------------------------------------------------


def read_tables(
    source: Source, path: Path, name: str, month: str | None = None
) -> list[Table | SheetFailure]:
    """The tables of a department/roster file: a CSV or HTML table, or the data sheet(s) of a
    workbook (`month`: the month staged, whose tab a workbook of month tabs is read from); what
    the file is comes from its content (a CSV named .xlsx is still a CSV)."""
    if path.suffix.lower() not in (*CSV_SUFFIXES, *EXCEL_SUFFIXES):
        raise UnreadableFile(f"文件 {name} 的格式不受支持（只接受 .csv、.xlsx 或 .xls）")
    grid = read_single(path, name)
    if grid is not None:
        return [Table(grid, require_header(source, grid))]
    return _workbook_tables(source, Workbook(path, name), month)


# sheet names that say they are not the list: instructions, a sample, a template, a cover; or
# a summary of it (医保结算明细汇总 shares the title's words, and its rows would count twice).
# A list may still be called 统计表 or 汇总表 where no other sheet holds it: summaries are tried
# before instructions when no sheet is named for the data.
ASIDE = ("说明", "示例", "样表", "样例", "模板", "封面")
SUMMARY = ("汇总", "统计", "合计")
NOT_THE_LIST = (*ASIDE, *SUMMARY)


def _not_the_list(sheet: str) -> bool:
    return any(word in normalise_header(sheet) for word in NOT_THE_LIST)


def _reading_order(sheets: list[str]) -> list[str]:
    """Sheets as they are tried when none is named for the data: plain ones, then summaries,
    then instructions and samples (each in the workbook's order)."""

    def rank(sheet: str) -> int:
        key = normalise_header(sheet)
        return 2 if any(w in key for w in ASIDE) else 1 if any(w in key for w in SUMMARY) else 0

    return sorted(sheets, key=rank)


def _named_for(source: Source, sheet: str) -> bool:
    """A sheet named for the data: its name and the source title share four characters or more,
    and it does not say it is something else (NOT_THE_LIST)."""
    key = normalise_header(sheet)
    if len(key) < 2 or _not_the_list(sheet):
        return False
    if key in source.title or source.title in key:
        return True
    match = SequenceMatcher(None, key, source.title).find_longest_match()
    return match.size >= 4


# a sheet named for one month (a workbook kept with a tab a month): 2026年10月, 2026.10,
# 202610, 10月份, 十月; a span of months (1-10月, 1月至10月: a year's sum so far) names none
_SHEET_YEAR_MONTH = re.compile(r"(?<![0-9])(20[0-9]{2})(?:年|[.\-/_])?(0?[1-9]|1[0-2])(?![0-9])")
_SHEET_MONTH = re.compile(r"(?<![0-9])(0?[1-9]|1[0-2])月")
_SHEET_CHINESE_MONTH = re.compile(r"(十[一二]?|[一二三四五六七八九])月")
_MONTH_SPAN = re.compile(
    r"(?<![0-9])(?:[0-9]{1,2}|[一二三四五六七八九十]{1,2})月?[-—–~～至到]"
    r"(?:[0-9]{1,2}|[一二三四五六七八九十]{1,2})月"
)
_CHINESE_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                   "九": 9, "十": 10, "十一": 11, "十二": 12}  # fmt: skip


def sheet_month(sheet: str) -> tuple[int | None, int] | None:
    """(year or None, month) of a sheet named for one month; None for any other name."""
    key = normalise_header(sheet)
    if _MONTH_SPAN.search(key):
        return None
    found = {(int(y), int(m)) for y, m in _SHEET_YEAR_MONTH.findall(key)}
    if not found:
        # a month without its year: 10月, 十月 (its digits are not a year's: 2026年 is above)
        rest = _SHEET_YEAR_MONTH.sub("", key)
        found = {(None, int(m)) for m in _SHEET_MONTH.findall(rest)}
        found |= {(None, _CHINESE_MONTHS[m]) for m in _SHEET_CHINESE_MONTH.findall(rest)}
    return found.pop() if len(found) == 1 else None


def _month_tabs(sheets: Sequence[str], month: str | None) -> tuple[list[str], list[str]]:
    """(the sheets named for `month`, the sheets named for another month)."""
    if month is None:
        return [], []
    year, number = int(month[:4]), int(month[5:7])
    ours, theirs = [], []
    for sheet in sheets:
        if (named := sheet_month(sheet)) is None:
            continue
        mine = named[1] == number and named[0] in (None, year)
        (ours if mine else theirs).append(sheet)
    return ours, theirs


def _workbook_tables(
    source: Source, workbook: Workbook, month: str | None = None
) -> list[Table | SheetFailure]:
    """Every visible sheet named for the data; else the first visible sheet with a header that
    does not say it is something else (a cover, instructions with a sample table, a summary:
    NOT_THE_LIST). A hidden sheet is never read: a person opening the file does not see it (last
    month's list kept hidden behind this month's). Sheets left unread are named in the file's
    message.

    A workbook kept with a tab a month ([2026年9月, 2026年10月]) is read from the tabs of
    `month`, wherever they stand; the other months' tabs are not this month's list. With tabs of
    other months only, which one is this month's cannot be told: the file is not read (a probe
    by other hands, indep30, found September's tab read as October's list)."""
    grids: dict[str, Grid] = {}  # each sheet read once

    def grid_of(sheet: str) -> Grid:
        if sheet not in grids:
            grids[sheet] = workbook.read(sheet)
        return grids[sheet]

    ours, theirs = _month_tabs(workbook.sheet_names, month)
    ours = [s for s in ours if not _not_the_list(s) and not grid_of(s).hidden]
    shown = [s for s in theirs if not grid_of(s).hidden]
    if not ours and len(shown) > 1:
        raise UnreadableFile(
            f"文件 {workbook.name} 的工作表按月份命名（{'、'.join(shown)}），没有 "
            f"{int(month[:4])}年{int(month[5:7])}月 的工作表：无法确定哪一个是本月的名单"  # type: ignore[index]
        )
    named = ours or [
        s for s in workbook.sheet_names if _named_for(source, s) and not grid_of(s).hidden
    ]
    results: list[Table | SheetFailure] = []
    first_error: UnreadableFile | None = None
    for sheet in named or _reading_order(list(workbook.sheet_names)):
        grid = grid_of(sheet)
        if grid.hidden:
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
    first = next(result for result in results if isinstance(result, Table))
    more_data: list[str] = []  # sheets holding more of the same list: the file is not all read
    others: list[str] = []
    for sheet in workbook.sheet_names:
        if sheet in read:
            continue
        try:
            grid = grid_of(sheet)
        except UnreadableFile:
            others.append(sheet)
            continue
        if grid.hidden or _not_the_list(sheet) or (ours and sheet in theirs):
            # not more of this list: what a person does not see, a sample, a summary of it, or
            # another month's tab beside this month's
            if grid.cells.height and _holds_cells(grid):
                others.append(f"{sheet}（隐藏）" if grid.hidden else sheet)
            continue
        rows = _more_of_the_list(source, first, grid)
        if rows:
            more_data.append(f"{sheet}（{rows} 行）")
        elif grid.cells.height and _holds_cells(grid):  # Excel's empty Sheet2, Sheet3 are not named
            others.append(sheet)
    notes = []
    if more_data:
        notes.append(
            f"工作表 {'、'.join(more_data)}与所读工作表是同一张表的数据，按约定未读取（只读第一个"
            f"工作表或以表名命名的工作表）：本文件未读全，请把数据放在一个工作表中（.xls 一个工作表"
            f"最多 65536 行，可改用 .xlsx 或 CSV）后重新报送"
        )
    if others:
        notes.append("另有工作表未读取：" + "、".join(others))
    if not notes:
        return results
    note = "；".join(notes)
    return [
        Table(result.grid, result.header, result.defaults, note, incomplete=bool(more_data))
        if isinstance(result, Table)
        else result
        for result in results
    ]


# an 18-character ID as written (the check that tells a headerless continuation sheet)
_ID_SHAPE = r"^\s*[0-9]{17}[0-9Xx]\s*$"


def _holds_cells(grid: Grid) -> bool:
    return grid.cells.select(
        pl.any_horizontal(pl.col(c).is_not_null() for c in grid.cell_columns).any()
    ).item()


def _more_of_the_list(source: Source, read: Table, grid: Grid) -> int:
    """Data rows of an unread, visible sheet that continues the list `read` holds: a sheet with
    the same fields under its header, or without a header whose cells in the ID column are IDs
    (a system that splits a list over sheets at .xls's 65,536 rows). A hidden sheet, or one with
    other columns (a copy of the roster a VLOOKUP reads), is not the list."""
    if grid.hidden or not grid.cells.height:
        return 0
    header = find_header(grid.cells, grid.cell_columns, source.fields)
    if header is not None:
        if header.fields.keys() != read.header.fields.keys():
            return 0
        body = grid.cells.slice(header.body_start)
    else:
        body = grid.cells
    id_column = read.header.column_of("id_number")
    if header is None:
        if id_column is None or grid.cells.width != read.grid.cells.width:
            return 0
        ids = int(body[f"c{id_column}"].str.contains(_ID_SHAPE).fill_null(False).sum())
        return ids if ids * 2 >= body.height else 0
    # the person's ID or name; a list of neither (a returned warning list) by its required key
    keys = ["id_number"] if id_column is not None else ["name"]
    keys += [f.name for f in source.fields if f.required]
    column = next((c for c in map(header.column_of, keys) if c is not None), None)
    return 0 if column is None else int(body[f"c{column}"].is_not_null().sum())


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
    # a department's list without a column a rule needs is still read: each of its rows is
    # unknown for the rule (table.py: 表中没有「救助类型」列), as the README says; an independent
    # probe (indep42) found such files refused whole, their other sheets never named
    missing = [
        f.headers[0]
        for f in source.fields
        if f.required
        and f.name not in header.fields
        and f.name not in skip
        and not source.is_department
    ]
    if missing:
        raise UnreadableFile(f"{_where(grid)} 缺少必需列：{'、'.join(missing)}")
    return header
