"""Stage the grid ledger (附件2): 乡镇/村 from the title row, a two-row header and ticks, or flat CSV."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import polars as pl

from pipelines.ingest.headers import find_header
from pipelines.ingest.parse import BLANK_MARKS
from pipelines.ingest.readers import (
    CSV_SUFFIXES,
    EXCEL_SUFFIXES,
    Grid,
    UnreadableFile,
    Workbook,
    read_single,
)
from pipelines.ingest.stage import StagedSource, require_header, stage_folder
from pipelines.ingest.table import SheetFailure, Table
from pipelines.matching.places import COUNTY, TOWNSHIP_SUFFIXES, suffix_pattern, without_county
from pipelines.sources import GRID, Field, Source, normalise_header

# The workbook's extra columns; the flat CSV form has none of them (they stay null there).
GRID_LEDGER = Source(
    key=GRID.key,
    title=GRID.title,
    department=GRID.department,
    is_department=False,
    fields=(
        *GRID.fields,
        Field("worker_is_group_leader", ("村组网格员村民组长", "村民组长")),
        Field("worker_is_party_member", ("村组网格员党员", "党员")),
        Field(
            "worker_other_title",
            (
                "村组网格员其他(职务)",
                "村组网格员其他职务",
                "村组网格员其他",
                "其他(职务)",
                "其他职务",
            ),
        ),
        Field("note", ("备注",)),
    ),
)
TICK_FIELDS = ("worker_is_group_leader", "worker_is_party_member")
TITLE_MARK = "防止返贫"
TEMPLATE_BLANK = "(街道、开发区)"
TOWNSHIP_SUFFIX = suffix_pattern(TOWNSHIP_SUFFIXES)
_NAMES_IN_TEXT = (
    r"(?P<township>[\u4e00-\u9fff]+?(?:镇|乡|街道|开发区))[_\-—\s]*"
    r"(?P<village>[\u4e00-\u9fff]+?(?:村|社区|居委会))"
)


def stage_grid(folder: Path, month: str) -> StagedSource:
    """Stage raw/<month>/grid/: every ledger workbook (all sheets with the template header) or CSV."""
    staged = stage_folder(GRID_LEDGER, folder, read_grid_tables, tick_fields=TICK_FIELDS)
    records = staged.records
    full_names = _full_township_names(records["township"].drop_nulls().unique().to_list())
    if full_names:
        records = records.with_columns(pl.col("township").replace(full_names))
    for column in ("worker_phone", "village_worker_phone"):
        if column in records.columns:
            phones = records[column].drop_nulls().unique().to_list()
            read = {p: plain for p in phones if (plain := mobile_number(p)) != p}
            if read:
                records = records.with_columns(
                    pl.col(column).replace(
                        pl.Series(list(read), dtype=pl.String),
                        pl.Series(list(read.values()), dtype=pl.String),
                    )
                )
    return StagedSource(
        records, staged.rejects, staged.files, staged.received, staged.field_problems
    )


# a mobile number as clerks write it: spaces, dashes or dots between the groups, the country
# code before it (+86 139 3442 0038, 0086-13934420038, 151-9686-1229)
_PHONE_MARKS = re.compile(r"[\s\-－—–·.()（）]")
_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9][0-9]{9})$")


def mobile_number(text: str) -> str | None:
    """The 11 digits of a mobile number written with spaces, dashes or the country code, as the
    township's file shows it (a 网格员 is called from it: +86 139 3442 0038 is 13934420038, and a
    CSV cell starting with + would be neutralised with a '); a cell holding only a blank mark
    (-, —, /, 无, 暂无 …: no number) is blank, not a dash the township's file shows as '-;
    anything else as written."""
    folded = unicodedata.normalize("NFKC", text)
    if folded.strip() in BLANK_MARKS:
        return None
    found = _MOBILE.match(_PHONE_MARKS.sub("", folded))
    return found[1] if found else text


def _is_full_township(name: str) -> bool:
    return re.search(TOWNSHIP_SUFFIX, name) is not None


def _full_township_names(townships: list[str]) -> dict[str, str]:
    """Bare township names (孙岗, written into the title's blank) -> the one full name (孙岗镇)
    another ledger of the folder gives. A bare name with no such full name, or with two (孙岗镇
    and 孙岗乡), stays as written."""
    full = [name for name in townships if _is_full_township(name)]
    resolved = {}
    for bare in (name for name in townships if not _is_full_township(name)):
        candidates = [
            name for name in full if name.startswith(bare) and _is_full_township(name[len(bare) :])
        ]
        if len(candidates) == 1:
            resolved[bare] = candidates[0]
    return resolved


# the template's blank lines (____乡镇（街道、开发区）____村): a run of underscores, or one left at an
# edge of the clerk's words (三十铺镇_乡镇（…, 北山村_村防止…); one between two characters of a
# name (新区_东片) is the name's own
_BLANK_LINE = re.compile(
    r"[_＿]{2,}"
    r"|(?<![\u4e00-\u9fff])[_＿]|[_＿](?![\u4e00-\u9fff])"
    r"|[_＿](?=乡镇[(（])|[_＿](?=村" + TITLE_MARK + ")"
)


def _clean_title(text: str) -> str:
    return _BLANK_LINE.sub("", normalise_header(text))


def parse_ledger_title(text: str) -> tuple[str | None, str | None]:
    """(乡镇, 村) from a filled title row; None for a blank left unfilled.

    The clerk writes into the template's blanks, often repeating its own words:
    三十铺镇乡镇（街道、开发区）北山村村防止… and 三十铺镇（街道、开发区）北山村防止… both
    give (三十铺镇, 北山村).
    """
    title = _clean_title(text)
    if TEMPLATE_BLANK not in title:
        head = title.split(TITLE_MARK)[0]
        found = re.search(_NAMES_IN_TEXT, head)
        if found:
            return (without_county(found["township"]), found["village"])
        return (None, _village_alone(head))
    before, after = title.split(TEMPLATE_BLANK, 1)
    township = before
    if township.endswith("乡镇"):
        stem = township[: -len("乡镇")]
        # 三十铺镇乡镇: the full name plus the template's 乡镇; 三十铺乡镇: only the stem was written
        township = stem if stem else ""
    village = after.split(TITLE_MARK)[0]
    if village.endswith(("村村", "社区村", "居委会村")):
        village = village[:-1]
    elif village == "村":
        village = ""
    return (without_county(township) or None, village or None)


_VILLAGE_ALONE = re.compile(r"[\u4e00-\u9fff]+(?:村|社区|居委会)")


def _village_alone(text: str) -> str | None:
    """北山村 (金安区北山村): a title naming the village and no township; its 乡镇 is the one
    the roster places the village in (pipelines/roster.py). 新区村 is a village, not 新区's 村."""
    if not _VILLAGE_ALONE.fullmatch(text):
        return None
    while (cut := COUNTY.match(text)) and _VILLAGE_ALONE.fullmatch(rest := text[cut.end() :]):
        text = rest
    return text


def _names_from_file(name: str) -> tuple[str | None, str | None]:
    found = re.search(_NAMES_IN_TEXT, normalise_header(Path(name).stem))
    return (without_county(found["township"]), found["village"]) if found else (None, None)


def _title_text(grid: Grid, header_row: int) -> str | None:
    """The ledger title among the rows above the header, its cells joined; a title broken
    after the template's 乡镇（街道、开发区） (东桥镇乡镇（街道、开发区） / 庙岗村村防止返贫…) is
    joined with the lines under it up to the one that ends it."""
    title = None
    for row in grid.cells.select(grid.cell_columns).head(header_row).rows():
        joined = "".join(cell for cell in row if cell)
        if title is not None:
            title += joined
        elif TITLE_MARK in joined or "开发区" in joined or "网格工作台账" in joined:
            title = joined
        if title is not None and (TITLE_MARK in title or "网格工作台账" in title):
            return title
    return title


def _ledger_table(grid: Grid) -> Table:
    header = require_header(GRID_LEDGER, grid, optional=("township", "village"))
    title = _title_text(grid, header.rows[0])
    township, village = parse_ledger_title(title) if title else (None, None)
    from_file = _names_from_file(grid.file)
    # a bare name in the title (孙岗) gives way to the file name's full one (孙岗镇_…)
    if township is None or (
        not _is_full_township(township) and (from_file[0] or "").startswith(township)
    ):
        township = from_file[0] or township
    village = village or from_file[1]
    defaults = {
        key: value
        for key, value in (("township", township), ("village", village))
        if value is not None
    }
    # a title naming the village only: its 乡镇 is the roster's (pipelines/roster.py), where
    # the village's name is the district's only one
    if "village" not in header.fields and "village" not in defaults:
        where = f"文件 {grid.file}" + (f" 的工作表 {grid.sheet}" if grid.sheet else "")
        missing = "乡镇和村" if "township" not in header.fields and township is None else "村"
        raise UnreadableFile(f"{where} 无法确定{missing}：标题行未填写，文件名中也没有")
    return Table(grid, header, defaults)


def read_grid_tables(source: Source, path: Path, name: str) -> list[Table | SheetFailure]:
    """A ledger CSV, or every visible sheet of a workbook that carries the ledger header."""
    if path.suffix.lower() not in (*CSV_SUFFIXES, *EXCEL_SUFFIXES):
        raise UnreadableFile(f"文件 {name} 的格式不受支持（只接受 .csv、.xlsx 或 .xls）")
    # what the file is comes from its content, as for every other source
    single = read_single(path, name)
    if single is not None:
        return [_ledger_table(single)]
    workbook = Workbook(path, name)
    results: list[Table | SheetFailure] = []
    for sheet in workbook.sheet_names:
        grid = workbook.read(sheet)
        # sheets without the ledger header (instructions, summaries, empty) are not ledgers
        if grid.hidden or find_header(grid.cells, grid.cell_columns, source.fields) is None:
            continue
        try:
            results.append(_ledger_table(grid))
        except UnreadableFile as error:
            results.append(SheetFailure(sheet, str(error)))
    if not any(isinstance(result, Table) for result in results):
        failure = next((r.message for r in results if isinstance(r, SheetFailure)), None)
        raise UnreadableFile(failure or f"文件 {name} 中没有网格台账表头（村组网格名称等）")
    return results
