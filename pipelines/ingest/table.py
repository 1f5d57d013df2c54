"""Stage one table: drop decorations, type every field, normalise IDs and names, split rejects."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from pipelines.config import month_bounds
from pipelines.ingest import parse
from pipelines.ingest.headers import Header, money_unit
from pipelines.ingest.readers import ROW_NUMBER, Grid
from pipelines.matching.ids import INVALID, MISSING, normalise_ids
from pipelines.sources import Field, FieldType, Source, normalise_header
from pipelines.threads import map_in_threads

PLACE_FIELDS = ("township", "village", "group", "grid")
PROVENANCE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),
    "sheet": pl.String(),
    "row_number": pl.Int64(),
    "record_key": pl.String(),
}
IDENTITY_SCHEMA: dict[str, pl.DataType] = {
    "name_raw": pl.String(),
    "name": pl.String(),
    "id_raw": pl.String(),
    "id_number": pl.String(),
    "id_status": pl.String(),
    "id_birth": pl.Date(),
    "id_area": pl.String(),
    "id_prefix": pl.String(),
}
# Who a rejected row is, as far as its cells can still tell (typed as a kept row's would be): a
# roster row rejected for its 户编号 is still a person of its village, whom the matcher must see
# beside a namesake of another household (pipelines.linkage: rejected roster rows as rivals)
REJECT_IDENTITY: dict[str, pl.DataType] = {
    "name": pl.String(),
    "id_number": pl.String(),
    "id_status": pl.String(),
    "birth_date": pl.Date(),
    "township": pl.String(),
    "village": pl.String(),
    "relation": pl.String(),
}
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),
    "sheet": pl.String(),
    "row_number": pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "raw_values": pl.String(),
    **REJECT_IDENTITY,
}
# A kept row's field that could not be read: the field is null in the staged row and the problem
# is recorded here (contract §2: a row is lost only when its identity is lost).
FIELD_PROBLEM_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),
    "sheet": pl.String(),
    "row_number": pl.Int64(),
    "record_key": pl.String(),
    "field": pl.String(),
    "reason": pl.String(),
    "raw_value": pl.String(),
}
# the raw cell kept with a field problem is cut here (a 100,000-character cell is not evidence)
RAW_VALUE_CHARS = 200
# the check whose failure loses a department row: neither a usable name nor a usable ID
IDENTITY_PROBLEM = "name,id_number"
# a table without a column a warning rule decides on (Field.decides)
MISSING_COLUMN = "（或列名不在约定的表头中），预警规则无法据此判断：请按约定表头重新报送"
# a cell holding a formula's error value (#N/A, #DIV/0!; parse.formula_cells)
EXCEL_ERROR = "是 Excel 公式的错误值（公式出错），没有可读的值，请检查原表公式"
# a formula cell saved without its result that fangfan cannot compute (formulas.py)
UNREAD_FORMULA = (
    "是公式，文件中没有保存它的计算结果，无法读取：请用 Excel 打开该文件、保存后重新报送"
)
FIELD_DTYPES: dict[FieldType, pl.DataType] = {
    FieldType.TEXT: pl.String(),
    FieldType.NAME: pl.String(),
    FieldType.ID: pl.String(),
    FieldType.DATE: pl.Date(),
    FieldType.MONTH: pl.Date(),
    FieldType.AMOUNT: pl.Decimal(precision=20, scale=4),
    FieldType.INT: pl.Int64(),
    FieldType.YEAR: pl.Int64(),
    FieldType.YESNO: pl.Boolean(),
}
PARSERS = {
    FieldType.DATE: (parse.parse_date, "无法识别为日期"),
    FieldType.MONTH: (parse.parse_month, "无法识别为年月"),
    FieldType.AMOUNT: (parse.parse_amount, "无法识别为金额"),
    FieldType.INT: (parse.parse_int, "无法识别为整数"),
    FieldType.YEAR: (parse.parse_year, "无法识别为年份（四位年份，如 2026、2026年度）"),
    FieldType.YESNO: (parse.parse_yes_no, "无法识别为是/否"),
}
# The first filled cell of a row that is not data: totals (合计…, or a count under the list: 共5户,
# 共 12 人, never a name), and notes under the table.
TOTAL_PATTERN = (
    r"^(?:合计|小计|总计|共计|累计|总合计|本页合计|本页小计"
    r"|共[0-9０-９]+(?:户|人|条|行|名|项|笔|个|辆|套))"
)
TOTAL_ANYWHERE = r"合计|小计|总计"
CELL_SEPARATOR = "\x1f"
# a cell holding only 合计 (or the like) anywhere in the row
TOTAL_CELL = r"(?:^|\x1f)\s*(?:合\s*计|小\s*计|总\s*计|共\s*计)\s*[:：]?\s*(?:\x1f|$)"
# how many columns from the left may hold a total's or a note's opening text
LEAD_COLUMNS = 4
NOTE_PATTERN = (
    r"^(?:填报人|填表人|制表人|制表|审核人|审核|负责人|单位负责人|填报单位|填报日期|制表日期"
    r"|联系人|联系电话|备注|说明|注)[:：]|^说明|^注\d*[、.．]|^填报|^制表"
)
# "1. 本表…", "2、数据来源…": a numbered line of text, not a 序号 followed by a name
NUMBERED_NOTE = r"^\d{1,2}\s*[、.．]\s*[\u4e00-\u9fff]{2}"
# a printed page's footer alone on its row: 第 3 页 共 12 页, 第3页，共12页, 共12页 第3页, 第 3 页
_PAGE_NUMBER = "[0-9０-９一二三四五六七八九十百零〇两]+"
PAGE_FOOTER = (
    rf"^(?:第{_PAGE_NUMBER}页(?:[,，/、;；]?共{_PAGE_NUMBER}页)?"
    rf"|共{_PAGE_NUMBER}页[,，/、;；]?第{_PAGE_NUMBER}页)$"
)
# a subtotal's label in any cell of a row without a name and an ID: 汪郢村小计, 汪郢村 合计,
# 小计：汪郢村（12户）
SUBTOTAL_CELL = (
    r"(?:^|\x1f)\s*(?:[^\x1f]{0,12}(?:合\s*计|小\s*计|总\s*计)\s*[:：]?"
    r"|(?:合计|小计|总计)\s*[:：][^\x1f]{0,16})\s*(?:\x1f|$)"
)
# a units row under the header (元, 万元, 人, 平方米 …, alone or in brackets): not data
_UNIT_CELL = re.compile(
    r"^[(（]?(?:单位[:：])?(?:元|万元|千元|人|户|名|平方米|㎡|m2|元/人|元/月|元/人/月|岁|次|天|%)[)）]?$"
)


def _filled(cells: Sequence[object]) -> list[str]:
    """A row's filled cells as text, stripped."""
    return [str(c).strip() for c in cells if c is not None and str(c).strip()]


def _units_row(cells: Sequence[object]) -> bool:
    """Every filled cell of the row is a unit (and one at least)."""
    filled = _filled(cells)
    return bool(filled) and all(_UNIT_CELL.match(cell) for cell in filled)


# a template's column-number row under the header (栏次: 1 | 2 | 3 | …, or 甲 | 乙 | 1 | 2 | …):
# the columns' numbers, never a record. The numbers run on from 1 by one, column after column
_COLUMN_LABEL = re.compile(r"^(?:栏次|栏号|甲|乙|丙|丁|戊)$")
_COLUMN_NUMBER = re.compile(r"^([0-9]{1,3})(?:\.0+)?$")


def _column_numbers_row(cells: Sequence[object]) -> bool:
    """The filled cells of the row are labels (栏次, 甲, 乙 …) then 1, 2, 3 … (three at least)."""
    filled = _filled(cells)
    while filled and _COLUMN_LABEL.match(filled[0]):
        filled = filled[1:]
    numbers = [m.group(1) for cell in filled if (m := _COLUMN_NUMBER.match(cell))]
    return (
        len(numbers) >= 3
        and len(numbers) == len(filled)
        and [int(n) for n in numbers] == list(range(1, len(numbers) + 1))
    )


# Columns never kept, not even in raw_extra/raw_values: bank accounts and diagnoses (DOMAIN §7).
DROPPED_COLUMNS = r"银行|账号|帐号|卡号|开户|诊断|疾病名称|病种|病名"


@dataclass(frozen=True)
class Table:
    """One readable grid with its header, plus values for fields the grid has no column for."""

    grid: Grid
    header: Header
    defaults: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    # the workbook holds more of the same list on sheets not read: the file is 'partial'
    incomplete: bool = False


@dataclass(frozen=True)
class SheetFailure:
    """A sheet of a workbook that could not be staged while its other sheets could."""

    sheet: str
    message: str


@dataclass(frozen=True)
class TableResult:
    """Row accounting of one staged table (its records and rejects are in the source's frames)."""

    table: Table
    counts: tuple[int, int, int, int]  # rows read, kept, rejected, skipped


@dataclass(frozen=True)
class Prepared:
    """One table's data rows and the raw text of every field it has, before typing."""

    table: Table
    data: pl.DataFrame  # the data rows: the grid's cell columns and row_number
    raw: pl.DataFrame  # per data row: one String column per field the table has
    raw_extra: pl.Series  # per data row: JSON of the unlisted columns
    labels: dict[str, str]  # field -> its header text in this table (names it in reasons)
    skipped: int


@dataclass
class _Typed:
    """Output columns of the typed rows and their checks."""

    values: dict[str, pl.Series] = field(default_factory=dict)
    # (is a problem, field name, reason in Chinese naming the column: never a cell value);
    # a reason is a Series when tables head the same field differently
    problems: list[tuple[pl.Series, str, str | pl.Series]] = field(default_factory=list)


def month_only(field_name: str) -> str:
    """The staged column beside a date field that is true where its cell gave the year and month
    only (2026-10, 2026年10月): the date is the month's first day, its day unknown. Evidence says
    2026年10月, and an age on it is decided only where every day of the month gives one answer."""
    return f"{field_name}_month_only"


def record_schema(source: Source, extra: Sequence[str] = ()) -> dict[str, pl.DataType]:
    """Output columns of StagedSource.records for a source, in order."""
    names = {f.name for f in source.fields}
    # every source carries the identity block, so every staged table has one shape; a source
    # without a name or ID column (grid, feedback) has it null, with id_status 'missing'
    schema = {**PROVENANCE_SCHEMA, **IDENTITY_SCHEMA}
    for place in ("township", "village", "group"):
        if place in names:
            schema[place] = pl.String()
    for f in source.fields:
        if f.name not in schema and f.name not in ("name", "id_number"):
            schema[f.name] = FIELD_DTYPES[f.type]
            if f.type is FieldType.DATE:
                schema[month_only(f.name)] = pl.Boolean()
    for name in extra:
        schema[name] = pl.Boolean()
    schema["raw_extra"] = pl.String()
    return schema


def _frame_eval(columns: dict[str, pl.Series], expr: pl.Expr) -> pl.Series:
    return pl.DataFrame(columns).select(expr).to_series()


def _header_again(columns: list[str], header_rows: Sequence[Sequence[str | None]]) -> pl.Expr:
    """A page of a printed list starts again with its header: each header row (both rows of a
    two-row header, whose upper row holds 姓名 and the lower one only the grouped columns'
    labels) is found again where at least two cells, and at least half of the row's filled ones,
    are that header row's own cells as written."""
    again = [pl.lit(False)]
    for cells in header_rows:
        labelled = [(columns[i], v) for i, v in enumerate(cells) if v is not None and v.strip()]
        if len(labelled) < 2:
            continue
        equal = pl.sum_horizontal((pl.col(c) == v).fill_null(False) for c, v in labelled)
        again.append((equal >= 2) & (equal * 2 >= pl.col("_all")))
    return pl.any_horizontal(again)


def _row_texts(rows: pl.DataFrame, columns: list[str]) -> pl.Series:
    """Each row's filled cells without spaces, joined by CELL_SEPARATOR (empty: a blank row)."""
    return rows.select(
        pl.concat_str(
            [
                pl.when(pl.col(c).str.contains(r"\S")).then(pl.col(c).str.replace_all(r"\s+", ""))
                for c in columns
            ],
            separator=CELL_SEPARATOR,
            ignore_nulls=True,
        )
    ).to_series()


def _short_rows(
    body: pl.DataFrame, columns: list[str], positions: pl.Series, above: Sequence[str]
) -> pl.Series:
    """Of the body's rows at `positions` (rows of few filled cells), those that are a page's
    footer alone on its row (第 3 页 共 12 页, wherever it stands) or a line above the header
    written again for the next page (the title, 填报单位…)."""
    text = _row_texts(body[positions], columns)
    footer = ~text.str.contains(CELL_SEPARATOR, literal=True) & text.str.contains(PAGE_FOOTER)
    return (footer | text.is_in(list(above))).fill_null(False)


def _decorations(
    body: pl.DataFrame,
    columns: list[str],
    header: Header,
    header_cells: tuple[str | None, ...],
    header_rows: Sequence[Sequence[str | None]] = (),
    above: Sequence[str] = (),
) -> pl.Series:
    """Rows under the header that are not data: blank, totals and subtotals, notes, the header
    again, a page's footer, a title line written again for the next page.

    One lazy query per table: tables are many and small, and each eager step has a fixed cost.
    """
    sequence = set(header.sequence_columns())
    values = [c for i, c in enumerate(columns) if i not in sequence] or columns
    # 合计 and notes open the row: a merged note keeps its text in its first cell, and 合计
    # often stands in the 序号 column
    lead = columns[:LEAD_COLUMNS]
    filled = {c: pl.col(c).str.contains(r"\S").fill_null(False) for c in columns}
    # a 小计 in a cell other than the first (三十铺镇 | 汪郢村小计 | … | 3,456.00) makes a row
    # without a name and an ID the village's subtotal, not a record (SUBTOTAL_CELL)
    identity = [columns[i] for f in ("name", "id_number") if (i := header.column_of(f)) is not None]
    first = pl.coalesce(pl.when(pl.col(f"_f{c}")).then(pl.col(c)) for c in lead)
    # two columns are enough to recognise the header repeated (a page or sheet pasted below)
    mapped = sorted(header.fields.values())[:2]
    repeats = [
        (pl.col(columns[i]).str.strip_chars() == (header_cells[i] or "").strip()).fill_null(False)
        for i in mapped
        if header_cells[i]
    ]
    flags = (
        body.lazy()
        .with_columns(*(flag.alias(f"_f{c}") for c, flag in filled.items()))
        .with_columns(
            first.str.replace_all(r"\s+", "").alias("_first"),
            pl.sum_horizontal(f"_f{c}" for c in values).alias("_count"),
            pl.sum_horizontal(f"_f{c}" for c in columns).alias("_all"),
            # only rows with a 计 somewhere can hold a 合计 cell: a cheap literal test first
            pl.any_horizontal(
                pl.col(c).str.contains("计", literal=True).fill_null(False) for c in columns
            ).alias("_ji"),
        )
        .with_columns(
            pl.col("_first").str.contains(NOTE_PATTERN).fill_null(False).alias("_note"),
            (
                pl.col("_first").str.contains(TOTAL_PATTERN)
                | (
                    pl.col("_first").str.contains(TOTAL_ANYWHERE)
                    & (pl.col("_first").str.len_chars() <= 12)
                )
            )
            .fill_null(False)
            .alias("_total"),
        )
        .select(
            (
                (pl.col("_count") == 0)
                | pl.col("_total")
                | pl.col("_note")
                # a numbered note alone on its row ("1. 本表统计截至…") is no data row
                | (
                    pl.col("_first").str.contains(NUMBERED_NOTE).fill_null(False)
                    & (pl.col("_count") <= 1)
                )
                # a note's further lines continue under it as single-cell rows ("2. 网格员…")
                | (
                    pl.col("_note").cast(pl.Int8).cum_max().cast(pl.Boolean)
                    & (pl.col("_count") <= 1)
                )
                | (pl.sum_horizontal(repeats) >= len(repeats) if repeats else pl.lit(False))
                | _header_again(columns, header_rows)
            ).alias("decoration"),
            "_ji",
            "_all",
            pl.all_horizontal(pl.lit(True), *(~pl.col(f"_f{c}") for c in identity)).alias("_noid"),
        )
        .collect()
    )
    decoration = flags["decoration"]
    if flags["_ji"].any():
        # a cell holding only 合计/小计 anywhere in the row (the total written under a column),
        # or a subtotal's label in a row without a name and an ID
        positions = flags["_ji"].arg_true()
        joined = (
            body[positions]
            .select(pl.concat_str(columns, separator=CELL_SEPARATOR, ignore_nulls=True))
            .to_series()
        )
        total_cell = joined.str.contains(TOTAL_CELL).fill_null(False) | (
            joined.str.contains(SUBTOTAL_CELL).fill_null(False) & flags["_noid"].gather(positions)
        )
        decoration = decoration.scatter(positions, decoration.gather(positions) | total_cell)
    # a footer or a title line again fills few cells: only such rows are read as text (a line
    # above the header filling more than LEAD_COLUMNS cells is not looked for again)
    above = [line for line in above if line.count(CELL_SEPARATOR) < LEAD_COLUMNS]
    few = max([1, *(line.count(CELL_SEPARATOR) + 1 for line in above)])
    short = ~decoration & (flags["_all"] <= few)
    if short.any():
        positions = short.arg_true()
        decoration = decoration.scatter(positions, _short_rows(body, columns, positions, above))
    return decoration


def _unique_labels(header: Header) -> list[str]:
    """A JSON key per column: its header text, made unique; unlabelled ones by position."""
    seen: dict[str, int] = {}
    labels = []
    for index, label in enumerate(header.labels):
        key = label or f"第{index + 1}列"
        seen[key] = seen.get(key, 0) + 1
        labels.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return labels


def _json(frame: pl.DataFrame, columns: Sequence[str], keys: Sequence[str]) -> pl.Series:
    """One JSON object string per row: key -> cell text."""
    if not columns:
        return pl.repeat("{}", frame.height, eager=True, dtype=pl.String)
    return frame.select(
        pl.struct(
            pl.col(c).alias(k) for c, k in zip(columns, keys, strict=True)
        ).struct.json_encode()
    ).to_series()


def _raw_cells(data: pl.DataFrame, column: int | None, default: str | None) -> pl.Series:
    """A field's raw cells; a default (from the title row) fills a missing column or blank cell."""
    if column is None:
        return pl.repeat(default, data.height, eager=True, dtype=pl.String)
    raw = data[f"c{column}"]
    if default is None:
        return raw
    return _frame_eval(
        {"raw": raw, "blank": parse.compact(raw).is_null()},
        pl.when(pl.col("blank")).then(pl.lit(default)).otherwise(pl.col("raw")),
    )


def _fill_from_twins(
    cells: pl.Series, data: pl.DataFrame, spec: Field, column: int | None, header: Header
) -> pl.Series:
    """A file with two columns headed by aliases of one text field (网格 and 村组网格名称, from
    merged exports): blanks in the chosen column take the other's cell. Names and ID numbers
    never do, so a record cannot slide from one person to another."""
    if column is None or spec.type in (FieldType.NAME, FieldType.ID):
        return cells
    aliases = {normalise_header(h) for h in spec.headers}
    taken = set(header.fields.values())
    twins = [i for i, label in enumerate(header.labels) if i not in taken and label in aliases]
    for twin in twins:
        other = data[f"c{twin}"]
        cells = _frame_eval(
            {"v": cells, "o": other, "blank": parse.compact(cells).is_null()},
            pl.when(pl.col("blank")).then(pl.col("o")).otherwise(pl.col("v")),
        )
    return cells


# a cell that says "the same as above" (a hand-made list's 乡镇, 村, 灾种 under the first row)
DITTO_MARKS = ("同上", "同上。", "同前", "仝上", "〃")


def _ditto(cells: pl.Series) -> pl.Series:
    """Ditto marks read as the cell above them (its value, or blank), down a chain of them. Never
    for a name or an ID: a record does not take another row's person."""
    marks = cells.is_in(DITTO_MARKS)
    if not marks.any():
        return cells
    above = pl.when(pl.col("m")).then(None).otherwise(pl.col("v").fill_null("")).forward_fill()
    filled = pl.when(pl.col("m")).then(above).otherwise(pl.col("v"))
    return _frame_eval({"v": cells, "m": marks}, pl.when(filled != "").then(filled))


def prepare_table(source: Source, table: Table) -> Prepared:
    """Drop the decorations of one table and pick out the raw cells of every field it has."""
    grid, header = table.grid, table.header
    columns = grid.cell_columns
    body = grid.cells.slice(header.body_start)
    header_cells = grid.cells.row(header.rows[-1])[: len(columns)]
    header_rows = [grid.cells.row(r)[: len(columns)] for r in header.rows]
    # the lines above the header (title, 填报单位…), as _short_rows reads a row
    above = [t for t in _row_texts(grid.cells.head(header.rows[0]), columns).to_list() if t]
    decoration = _decorations(body, columns, header, header_cells, header_rows, above)
    # 元 | 元 | 元 and 1 | 2 | 3 under the header (a template's units and column numbers, in
    # either order): no data; a money unit there is its column's, as if the header named it
    units_row: Sequence[object] = ()
    for position in range(min(2, body.height)):
        cells = body.row(position)[: len(columns)]
        if _units_row(cells):
            units_row = units_row or cells
        elif not _column_numbers_row(cells):
            break
        decoration = decoration.scatter(position, True)
    data = body.filter(~decoration)
    # per column, in one pass: does it hold anything, does it hold a ditto mark (most tables have
    # none, and then no field is searched for one)
    seen = data.select(
        *(pl.col(c).str.contains(r"\S").any().alias(f"_h{c}") for c in columns),
        pl.any_horizontal(pl.col(c).is_in(DITTO_MARKS).any() for c in columns).alias("_ditto"),
    ).row(0)
    holds, dittos = seen[: len(columns)], bool(seen[-1])
    raw: dict[str, pl.Series] = {}
    labels: dict[str, str] = {}
    for f in source.fields:
        column = header.column_of(f.name)
        default = table.defaults.get(f.name)
        if column is None and default is None:
            continue
        cells = _fill_from_twins(_raw_cells(data, column, default), data, f, column, header)
        marks = dittos or default in DITTO_MARKS
        names = f.type in (FieldType.NAME, FieldType.ID)
        raw[f.name] = _ditto(cells) if marks and not names else cells
        labels[f.name] = (
            _with_unit(header.labels[column], units_row[column] if units_row else None)
            if column is not None
            else normalise_header(f.headers[0])
        )
    keys = _unique_labels(header)
    mapped = set(header.fields.values())
    # unlisted columns are kept; an unlabelled one only when it holds something
    extra = [i for i in _kept_columns(header) if i not in mapped and (header.labels[i] or holds[i])]
    return Prepared(
        table=table,
        data=data,
        raw=data.select(ROW_NUMBER).with_columns(
            column.alias(name) for name, column in raw.items()
        ),
        raw_extra=_json(data, [columns[i] for i in extra], [keys[i] for i in extra]),
        labels=labels,
        skipped=grid.cells.height - data.height,
    )


def _with_unit(label: str, unit_cell: object) -> str:
    """A header label with the money unit its units-row cell names (直接经济损失 over 万元 is
    直接经济损失(万元), as normalise_header writes it: its bare amounts are read in 万元), where
    the label names none."""
    if unit_cell is None or money_unit(label) is not None:
        return label
    unit = re.sub(r"^[(（]?(?:单位[:：])?|[)）]$", "", str(unit_cell).strip())
    return f"{label}({unit})" if money_unit(f"{label}({unit})") is not None else label


def _kept_columns(header: Header) -> list[int]:
    """Columns that may be stored (raw_extra, raw_values): all but bank accounts and diagnoses."""
    mapped = set(header.fields.values())
    return [
        i
        for i, label in enumerate(header.labels)
        if i in mapped or not re.search(DROPPED_COLUMNS, label)
    ]


def _reason(
    labels: dict[int, str], tables: pl.Series, text: Callable[[str], str]
) -> str | pl.Series:
    """The reason naming a field by its header: one text, or per row when tables differ."""
    if len(set(labels.values())) == 1:
        return text(next(iter(labels.values())))
    mapping = {index: text(label) for index, label in labels.items()}
    return tables.replace_strict(mapping, default=None, return_dtype=pl.String)


def _type_field(
    typed: _Typed,
    f: Field,
    raw: pl.Series,
    reason: Callable[[Callable[[str], str]], str | pl.Series],
    context: _Context,
    errors: pl.Series,
    units: dict[int, str],
) -> None:
    """One field's typed values and its problems (`errors`: cells holding a formula's error
    value, already null in `raw` and reported: a required field is not also called blank)."""
    blank: pl.Series
    if f.type is FieldType.ID:
        # Excel damage is judged per table: each file's ID column is its own group
        ids = normalise_ids(raw, groups=context.tables, damaged=context.number_ids)
        typed.values["id_raw"] = raw
        for column in ids.columns:
            typed.values[column] = ids[column]
        blank = ids["id_status"] == MISSING
    elif f.type is FieldType.NAME:
        if f.name == "name":
            typed.values["name_raw"] = raw
        typed.values[f.name] = by_distinct_cell(
            raw, lambda cells: {"v": parse.parse_name(parse.clean(cells), cleaned=True)}
        )["v"]
        blank = typed.values[f.name].is_null()
    elif f.type in PARSERS:
        parser, problem = PARSERS[f.type]

        def read(cells: pl.Series) -> dict[str, pl.Series]:
            # each column is cleaned once; the parser trusts it
            cleaned = parse.clean(
                cells,
                dates=f.type in (FieldType.DATE, FieldType.MONTH),
                yes_no=f.type is FieldType.YESNO,  # 无 is "no" here, a blank elsewhere
            )
            if f.type is FieldType.YESNO and f.synonyms:
                # the field's own words for yes and no (房屋倒塌: 倒塌, 未倒塌)
                cleaned = cleaned.replace(dict(f.synonyms))
            if f.type is FieldType.AMOUNT:
                value = parser(cleaned, cleaned=True, unit=f.unit)
            elif f.type in (FieldType.DATE, FieldType.MONTH) and f.name not in BIRTH_FIELDS:
                value = parser(cleaned, cleaned=True, pivot=context.year)
            else:
                value = parser(cleaned, cleaned=True)
            results = {"v": value, "blank": cleaned.is_null()}
            if f.type is FieldType.DATE:
                results["month_only"] = (
                    parse.without_day(cleaned, cleaned=True) & value.is_not_null()
                )
            return results

        read_cells = by_distinct_cell(raw, read)
        value, blank = read_cells["v"], read_cells["blank"]
        late = pl.repeat(False, len(value), eager=True)
        if f.type is FieldType.DATE and (latest := context.latest) is not None:
            # a date after the lists of the month could be drawn up (2062 for 2026, a month
            # typed one too many): a mistake, not an event to count or an age to compute on
            late = (value > latest).fill_null(False)
            if late.any():
                value = value.zip_with(~late, pl.Series([None] * len(value), dtype=value.dtype))
                text = (
                    f"晚于 {latest.year}年{latest.month}月{latest.day}日"
                    "（名单不会有此后的日期，可能填错）"
                )
                typed.problems.append((late, f.name, reason(lambda label: f"「{label}」{text}")))
        if f.type is FieldType.DATE:
            typed.values[month_only(f.name)] = read_cells["month_only"] & ~late
        if f.type is FieldType.AMOUNT:
            value = _in_header_units(f, raw, value, context.tables, units)
        typed.values[f.name] = value
        unreadable = ~blank & value.is_null() & ~late
        typed.problems.append((unreadable, f.name, reason(lambda label: f"「{label}」{problem}")))
    elif f.allowed:
        value = by_distinct_cell(
            raw, lambda cells: {"v": parse.parse_enum(cells, f.allowed, f.synonyms)}
        )["v"]
        typed.values[f.name] = value
        outside = (value.is_not_null() & ~value.is_in(f.allowed)).fill_null(False)
        allowed = "/".join(f.allowed)
        text = reason(lambda label: f"「{label}」的值不在允许范围（{allowed}）")
        typed.problems.append((outside, f.name, text))
        blank = value.is_null()
    else:
        clean_text = parse.compact if f.name in PLACE_FIELDS else parse.text
        value = by_distinct_cell(raw, lambda cells: {"v": clean_text(cells)})["v"]
        if f.long_code:
            # digits written in groups (3415 0200 3003 00014) are one code, as a person reads them
            grouped = value.str.contains(_GROUPED_DIGITS).fill_null(False)
            value = _frame_eval(
                {"v": value, "g": grouped},
                pl.when(pl.col("g"))
                .then(pl.col("v").str.replace_all(r"\s", ""))
                .otherwise(pl.col("v")),
            ).alias(f.name)
        typed.values[f.name] = value
        blank = value.is_null()
        if f.long_code:
            destroyed = _destroyed_code(value, context.number_codes[f.name])
            text = reason(
                lambda label: (
                    f"「{label}」已被 Excel 当作数字改写（{DESTROYED_CODE}），原编号无法恢复"
                )
            )
            typed.problems.append((destroyed, f.name, text))
    if f.required:
        required = reason(lambda label: f"「{label}」为空（必填）")
        typed.problems.insert(0, (blank.fill_null(True) & ~errors, f.name, required))


def _in_header_units(
    f: Field, raw: pl.Series, value: pl.Series, tables: pl.Series, units: dict[int, str]
) -> pl.Series:
    """Amounts of the tables whose header names another money unit (注册资本（元） for a 万元
    field, 个人自付（万元） for a 元 one): their bare numbers read in that unit, exactly."""
    if not units or f.unit not in parse.MONEY_COLUMN_UNITS:
        return value
    for unit in set(units.values()):
        positions = tables.is_in([i for i, u in units.items() if u == unit]).arg_true()
        read = parse.parse_amount(raw.gather(positions), unit=f.unit, bare=unit)
        value = value.scatter(positions, read.cast(value.dtype))
    return value


# a long code written in groups of digits separated by spaces of either width
_GROUPED_DIGITS = r"^[0-9]+(?:\s+[0-9]+)+$"
# how Excel destroys a long code it takes for a number: scientific notation (3.41502E+16; a
# LibreOffice CSV writes E+016), or a number cell of 16+ digits, which keeps 15 significant ones
_SCIENTIFIC = r"^[0-9](?:\.[0-9]+)?[Ee]\+?[0-9]{1,3}$"
_LONG_NUMBER = r"^[0-9]{16,}$"
DESTROYED_CODE = "科学计数法，或超过 15 位的数字只剩前 15 位"


def _destroyed_code(value: pl.Series, stored_as_number: pl.Series) -> pl.Series:
    """A long code (Field.long_code) Excel has destroyed: in scientific notation, or 16+ digits in
    a column the workbook stores as numbers. Two households' numbers may have become one: the
    code no longer says which household a row is, so it is never used as if it did."""
    return _frame_eval(
        {"v": value, "n": stored_as_number},
        (
            pl.col("v").str.contains(_SCIENTIFIC)
            | (pl.col("n") & pl.col("v").str.contains(_LONG_NUMBER))
        ).fill_null(False),
    )


# dates of birth: a two-digit year may be either century (56 is 1956, but 20 is 1920 or 2020),
# so none is read against the month's year
BIRTH_FIELDS = ("birth_date",)
# a column holding fewer distinct cells than this share of its rows is read once per distinct cell
DISTINCT_SHARE = 0.5


def by_distinct_cell(
    raw: pl.Series, read: Callable[[pl.Series], dict[str, pl.Series]]
) -> dict[str, pl.Series]:
    """read(raw), computed once per distinct cell when the column repeats itself (dates, places,
    amounts, a patient's name on each claim): every parser reads a cell on its own, so a cell's
    value never depends on its neighbours, and each row takes its cell's result."""
    distinct = raw.unique()
    if distinct.len() > raw.len() * DISTINCT_SHARE:
        return read(raw)
    results = read(distinct)
    table = pl.DataFrame({"_cell": distinct, **results})
    back = raw.to_frame("_cell").join(
        table, on="_cell", how="left", nulls_equal=True, maintain_order="left"
    )
    return {name: back[name] for name in results}


@dataclass(frozen=True)
class _Context:
    """Per-row facts about the table a row came from."""

    tables: pl.Series  # the table index of each row
    number_ids: pl.Series  # the row's table stored its ID column as numbers
    # per long-code field (Field.long_code): the row's table stored that column as numbers
    number_codes: dict[str, pl.Series]
    # the month being staged (YYYY-MM): an event date's two-digit year is read against its year
    # (05-10月-26 in 2026 is 2026-10-05; parse.parse_date's pivot), and no date can be after the
    # month that follows it (the list was drawn up then at the latest)
    month: str | None = None

    @property
    def year(self) -> int | None:
        return int(self.month[:4]) if self.month else None

    @property
    def latest(self) -> date | None:
        """The last day a date of the month's lists can be: the end of the month after it (a
        list of October drawn up in the first days of November holds a few of them)."""
        if not self.month:
            return None
        _, after = month_bounds(self.month)
        return month_bounds(f"{after:%Y-%m}")[1] - timedelta(days=1)


def _absent_field(typed: _Typed, f: Field, height: int) -> None:
    """A field no table has a column for: typed nulls, nothing to check."""

    def nulls(dtype: pl.DataType) -> pl.Series:
        return pl.Series([None] * height, dtype=dtype)

    if f.type is FieldType.ID:
        for name in ("id_raw", "id_number", "id_birth", "id_area", "id_prefix"):
            typed.values[name] = nulls(IDENTITY_SCHEMA[name])
        typed.values["id_status"] = pl.repeat(MISSING, height, eager=True, dtype=pl.String)
        return
    if f.name == "name":
        typed.values["name_raw"] = nulls(pl.String())
    typed.values[f.name] = nulls(FIELD_DTYPES[f.type])


def _type_fields(
    source: Source,
    combined: pl.DataFrame,
    prepared: list[Prepared],
    tick_fields: Sequence[str],
    month: str | None,
) -> _Typed:
    """Type every field over the rows of all tables at once (one pass per column, not per file)."""
    typed = _Typed()
    tables = combined["_table"]

    def stored_as_numbers(field_name: str) -> pl.Series:
        """Per row: its table holds the field's column as number cells."""
        return tables.is_in(
            [
                i
                for i, p in enumerate(prepared)
                if (column := p.table.header.column_of(field_name)) is not None
                and f"c{column}" in p.table.grid.number_columns
            ]
        )

    number_codes = {f.name: stored_as_numbers(f.name) for f in source.fields if f.long_code}
    context = _Context(tables, stored_as_numbers("id_number"), number_codes, month)
    for f in source.fields:
        labels = {i: p.labels[f.name] for i, p in enumerate(prepared) if f.name in p.labels}
        absent = [i for i in range(len(prepared)) if i not in labels]
        lacking = pl.repeat(False, combined.height, eager=True)
        if absent and (f.decides or (f.required and source.is_department)):
            # a table without the column a rule decides on (a department's required one among
            # them: 救助类型, 鉴定等级): unknown for each of its rows, never "no" (a claims file
            # headed 自付金额 summed as 0 for YB01, without a word), and the rows kept
            lacking = tables.is_in(absent)
            label = normalise_header(f.headers[0])
            typed.problems.append((lacking, f.name, f"表中没有「{label}」列{MISSING_COLUMN}"))
        if f.required and absent:
            # a table without a required column: every one of its rows lacks the field
            first = normalise_header(f.headers[0])
            labels.update({i: first for i in absent})
        if not labels:
            _absent_field(typed, f, combined.height)
            continue
        raw = (
            combined[f.name]
            if f.name in combined.columns
            else pl.repeat(None, combined.height, eager=True, dtype=pl.String)
        )
        # a formula's error value (#N/A), or its text without its result: no value, and the
        # department is told of its formula
        errors, formulas = parse.formula_cells(raw)
        for flagged, said in ((errors, EXCEL_ERROR), (formulas, UNREAD_FORMULA)):
            if flagged.any():
                raw = _null_if_flagged(raw, flagged)
                text = _reason(labels, tables, lambda label, said=said: f"「{label}」{said}")
                typed.problems.append((flagged, f.name, text))
        # said once: a row of a table without the column is not also called blank
        errors = errors | formulas | lacking
        if f.name in tick_fields:
            present = tables.is_in(list(labels)) & ~errors
            typed.values[f.name] = _frame_eval(
                {"tick": parse.parse_tick(raw), "present": present},
                pl.when(pl.col("present")).then(pl.col("tick")),
            )
            continue
        # a money unit the header names (个人自付（万元）), per table, where it is not the field's
        units = {
            i: unit
            for i, label in labels.items()
            if (unit := money_unit(label)) is not None and unit != f.unit
        }
        _type_field(
            typed,
            f,
            raw,
            lambda text, labels=labels: _reason(labels, tables, text),
            context,
            errors,
            units,
        )
    if source.is_department:
        no_name = typed.values["name"].is_null()
        no_id = typed.values["id_status"].is_in((MISSING, INVALID))
        typed.problems.insert(
            0, (no_name & no_id, "name,id_number", "姓名和证件号码都没有可用的值")
        )
    return typed


def _joined(typed: _Typed, part: int, separator: str) -> pl.Series:
    """Per row, the field names (part 1) or reasons (part 2) of the checks it fails, joined."""
    columns: dict[str, pl.Series] = {}
    pieces = []
    for n, problem in enumerate(typed.problems):
        columns[f"p{n}"] = problem[0].fill_null(False)
        text = problem[part]
        if isinstance(text, pl.Series):
            columns[f"t{n}"] = text
            pieces.append(pl.when(pl.col(f"p{n}")).then(pl.col(f"t{n}")))
        else:
            pieces.append(pl.when(pl.col(f"p{n}")).then(pl.lit(text)))
    return _frame_eval(columns, pl.concat_str(pieces, separator=separator, ignore_nulls=True))


def stage_tables(
    source: Source,
    tables: Sequence[Table],
    tick_fields: Sequence[str] = (),
    month: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[TableResult]]:
    """Stage the tables of one source together: records, rejects (rows whose identity is lost,
    with every reason), field problems of kept rows, and per-table accounting (read = kept +
    rejected; decorations counted as skipped). `month`: the staged month (_Context)."""
    schema = record_schema(source, tick_fields)
    prepared = map_in_threads(lambda table: prepare_table(source, table), tables)
    if not prepared:
        return (
            pl.DataFrame(schema=schema),
            pl.DataFrame(schema=REJECT_SCHEMA),
            pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA),
            [],
        )
    combined = pl.concat(
        [
            p.raw.with_columns(
                pl.lit(i, dtype=pl.Int32).alias("_table"), p.raw_extra.alias("raw_extra")
            )
            for i, p in enumerate(prepared)
        ],
        how="diagonal",
    )
    typed = _type_fields(source, combined, prepared, tick_fields, month)
    rejecting = [p for p in typed.problems if _loses_row(source, p[1])]
    field_checks = [p for p in typed.problems if not _loses_row(source, p[1])]
    typed.problems = rejecting
    for mask, field_name, _ in field_checks:
        # a value outside the allowed ones is not kept as if it were one
        if field_name in typed.values:
            typed.values[field_name] = _null_if_flagged(typed.values[field_name], mask)
    problems = [problem[0].fill_null(False) for problem in rejecting]
    bad = (
        _frame_eval({f"p{n}": mask for n, mask in enumerate(problems)}, pl.any_horizontal(pl.all()))
        if problems
        else pl.repeat(False, combined.height, eager=True)
    )
    tables_column = combined["_table"]
    provenance = {
        "source": pl.repeat(source.key, combined.height, eager=True, dtype=pl.String),
        "file": tables_column.replace_strict(
            {i: p.table.grid.file for i, p in enumerate(prepared)}, return_dtype=pl.String
        ),
        "sheet": tables_column.replace_strict(
            {i: p.table.grid.sheet for i, p in enumerate(prepared)}, return_dtype=pl.String
        ),
        "row_number": combined["row_number"],
    }
    staged = pl.DataFrame({**provenance, **typed.values, "raw_extra": combined["raw_extra"]})
    records = _records(source, staged.filter(~bad), tick_fields)
    field_problems = _field_problems(field_checks, provenance, combined, bad)
    rejects = pl.DataFrame(
        {
            **provenance,
            "_table": tables_column,
            "field": _joined(typed, 1, ","),
            "reason": _joined(typed, 2, "；"),
            **{
                name: typed.values[name].cast(dtype)
                for name, dtype in REJECT_IDENTITY.items()
                if name in typed.values
            },
        }
    ).filter(bad)
    rejects = _with_raw_values(rejects, prepared)
    rejected = dict(rejects.group_by("_table").len().iter_rows()) if rejects.height else {}
    results = []
    for i, p in enumerate(prepared):
        read, bad_rows = p.data.height, rejected.get(i, 0)
        results.append(TableResult(p.table, (read, read - bad_rows, bad_rows, p.skipped)))
    identity = [
        pl.lit(None, dtype).alias(n)
        for n, dtype in REJECT_IDENTITY.items()
        if n not in rejects.columns
    ]
    return (
        records,
        rejects.with_columns(identity).select(list(REJECT_SCHEMA)),
        field_problems,
        results,
    )


def _null_if_flagged(values: pl.Series, mask: pl.Series) -> pl.Series:
    return _frame_eval(
        {"v": values, "m": mask.fill_null(False)},
        pl.when(pl.col("m")).then(None).otherwise(pl.col("v")).alias(values.name),
    )


def _loses_row(source: Source, field_name: str) -> bool:
    """Which failed checks reject the whole row: for a department record only a lost identity;
    for the roster, grid and feedback also a required field (the row's place in the structure:
    户编号, 乡镇, 村, 网格, 预警编号 …) but one that keeps the row (户类型: Field.keeps_row). Any
    other unreadable field is a field problem."""
    if field_name == IDENTITY_PROBLEM:
        return True
    if source.is_department:
        return False
    names = field_name.split(",")
    return any(f.required and not f.keeps_row for f in source.fields if f.name in names)


def _field_problems(
    checks: list[tuple[pl.Series, str, str | pl.Series]],
    provenance: dict[str, pl.Series],
    combined: pl.DataFrame,
    rejected: pl.Series,
) -> pl.DataFrame:
    """One row per (kept row, field it could not read): the raw cell and the reason."""
    parts = []
    base = pl.DataFrame(provenance)
    for mask, field_name, reason in checks:
        hit = mask.fill_null(False) & ~rejected
        if not hit.any():
            continue
        raw = (
            combined[field_name]
            if field_name in combined.columns
            else pl.repeat(None, combined.height, eager=True, dtype=pl.String)
        )
        reasons = (
            reason
            if isinstance(reason, pl.Series)
            else pl.repeat(reason, combined.height, eager=True, dtype=pl.String)
        )
        parts.append(
            base.with_columns(
                pl.lit(field_name).alias("field"),
                reasons.alias("reason"),
                raw.str.slice(0, RAW_VALUE_CHARS).alias("raw_value"),
            ).filter(hit)
        )
    if not parts:
        return pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
    return (
        pl.concat(parts)
        .with_columns(_record_key_expr())
        .select(list(FIELD_PROBLEM_SCHEMA))
        .sort("file", "sheet", "row_number", "field", nulls_last=True)
    )


def _record_key_expr() -> pl.Expr:
    return pl.concat_str(
        [
            pl.col("source"),
            pl.col("file"),
            pl.col("sheet").fill_null(""),
            pl.col("row_number").cast(pl.String),
        ],
        separator="|",
    ).alias("record_key")


def _with_raw_values(rejects: pl.DataFrame, prepared: list[Prepared]) -> pl.DataFrame:
    """Each reject's cells as JSON (header -> text), from its own table's columns."""
    if rejects.height == 0:
        return rejects.with_columns(pl.lit(None, dtype=pl.String).alias("raw_values"))
    parts = []
    for index, group in rejects.partition_by("_table", as_dict=True).items():
        p = prepared[index[0]]
        header, columns = p.table.header, p.table.grid.cell_columns
        keys = _unique_labels(header)
        kept = _kept_columns(header)
        rows = p.data.filter(pl.col(ROW_NUMBER).is_in(group["row_number"].implode()))
        values = rows.select(
            pl.col(ROW_NUMBER).alias("row_number"),
            _json(rows, [columns[i] for i in kept], [keys[i] for i in kept]).alias("raw_values"),
        )
        parts.append(group.join(values, on="row_number", how="left"))
    return pl.concat(parts).sort("_table", "row_number")


def _records(source: Source, good: pl.DataFrame, tick_fields: Sequence[str]) -> pl.DataFrame:
    schema = record_schema(source, tick_fields)
    good = good.with_columns(_record_key_expr())
    if "id_status" not in good.columns:
        good = good.with_columns(pl.lit(MISSING).alias("id_status"))
    return good.select(
        (pl.col(name) if name in good.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    )
