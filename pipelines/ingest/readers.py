"""Read a CSV or a workbook sheet into a grid of text cells, keeping the row numbers a person sees."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

CSV_SUFFIXES = (".csv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
MAX_CSV_COLUMNS = 4096
HEAD_CHARS = 200_000
ROW_NUMBER = "row_number"
# an integer of 16+ digits: a number cell that Excel holds to only 15 significant digits
_LONG_INTEGER = r"^\d{16,}$"


class UnreadableFile(Exception):
    """A file that cannot be read at all; the message names the file and says why, in Chinese."""


@dataclass(frozen=True)
class Grid:
    """The cells of one CSV or one sheet: String columns c0..cN plus the 1-based `row_number`."""

    file: str
    sheet: str | None
    cells: pl.DataFrame
    hidden: bool = False
    # cell columns holding number cells of 16+ digits: IDs Excel stored as numbers (destroyed)
    number_columns: frozenset[str] = frozenset()

    @property
    def cell_columns(self) -> list[str]:
        return [c for c in self.cells.columns if c != ROW_NUMBER]


def cell_name(index: int) -> str:
    return f"c{index}"


def decode_text(data: bytes) -> str:
    """Strict UTF-8 (BOM optional), else UTF-16 with BOM, else GB18030; never a lossy decode."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _sniff_separator(text: str) -> str:
    """Comma unless the first lines hold more tabs (some systems export TSV as .csv)."""
    head = text[:20_000]
    return "\t" if head.count("\t") > head.count(",") else ","


def _max_fields(text: str, separator: str) -> int:
    """Fields per line over the first lines (quoted separators only overcount); a wider line
    further down makes the parser fail, and the caller widens and retries."""
    lines = pl.Series(text[:HEAD_CHARS].split("\n"), dtype=pl.String)
    return int(lines.str.count_matches(separator, literal=True).max() or 0) + 1


def read_csv(path: Path, name: str) -> Grid:
    """A CSV as text cells: every value a string, ragged rows padded, quoted fields kept whole."""
    try:
        raw = path.read_bytes()
        content = decode_text(raw)
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableFile(f"文件 {name} 无法读取：编码既不是 UTF-8 也不是 GB18030") from error
    if content.startswith("\ufeff"):
        content = content[1:]
    if not content.strip():
        raise UnreadableFile(f"文件 {name} 是空文件")
    separator = _sniff_separator(content)
    data = content.encode("utf-8")
    width = _max_fields(content, separator)
    while True:
        try:
            cells = _parse_csv(data, separator, width)
            break
        except pl.exceptions.ComputeError as error:
            # a quoted field spanning lines hides separators from the line count: widen
            if "more fields" not in str(error) or width > MAX_CSV_COLUMNS:
                raise UnreadableFile(f"文件 {name} 不是可识别的 CSV 表格") from error
            width *= 2
        except pl.exceptions.PolarsError as error:
            raise UnreadableFile(f"文件 {name} 不是可识别的 CSV 表格") from error
    cells = _drop_empty_tail_columns(cells)
    return Grid(name, None, _with_line_numbers(cells, quoted='"' in content))


def _parse_csv(data: bytes, separator: str, width: int) -> pl.DataFrame:
    return pl.read_csv(
        io.BytesIO(data),
        has_header=False,
        separator=separator,
        schema={cell_name(i): pl.String for i in range(width)},
        missing_columns="insert",
        infer_schema=False,
        empty_string_is_null=True,
    )


def _drop_empty_tail_columns(cells: pl.DataFrame) -> pl.DataFrame:
    """Columns past the last one holding any value (the width was only an upper bound)."""
    filled = [
        i for i, column in enumerate(cells.columns) if cells[column].null_count() < cells.height
    ]
    return cells.select(cells.columns[: (filled[-1] + 1) if filled else 1])


def _with_line_numbers(cells: pl.DataFrame, *, quoted: bool) -> pl.DataFrame:
    """Row i is line i+1, shifted by the line breaks inside earlier quoted fields."""
    index = pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    if not quoted:
        return cells.with_columns(index.alias(ROW_NUMBER))
    breaks = pl.sum_horizontal(
        pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in cells.columns
    )
    before = breaks.cum_sum().shift(1, fill_value=0)
    return cells.with_columns((index + before).cast(pl.Int64).alias(ROW_NUMBER))


class Workbook:
    """An opened .xlsx/.xls workbook: its sheet names and a reader per sheet."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        try:
            self._reader = fastexcel.read_excel(path)
            self.sheet_names: list[str] = list(self._reader.sheet_names)
        except Exception as error:  # fastexcel raises several unrelated types for a bad file
            raise UnreadableFile(
                f"文件 {name} 不是可读取的 Excel 工作簿（可能已损坏或加密）"
            ) from error

    def read(self, sheet: str) -> Grid:
        """One sheet as text cells from row 1: number cells as Excel holds them, dates as ISO text."""
        try:
            loaded = self._reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
            frame = loaded.to_polars()
        except Exception as error:
            raise UnreadableFile(f"文件 {self.name} 的工作表 {sheet} 无法读取") from error
        original = frame.columns
        frame = frame.rename({old: cell_name(i) for i, old in enumerate(original)})
        frame, numbers = _excel_numbers(self._reader, sheet, frame, original)
        cells = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW_NUMBER))
        return Grid(self.name, sheet, cells, hidden=not loaded.visible, number_columns=numbers)


def _excel_numbers(
    workbook: fastexcel.ExcelReader, sheet: str, frame: pl.DataFrame, original: list[str]
) -> tuple[pl.DataFrame, frozenset[str]]:
    """Show number cells of 16+ digits as Excel holds them: 15 significant digits, then zeros.

    The reader prints a number cell's exact binary value (3.41502199001011E+17 comes out as
    341502199001011008); Excel itself keeps 341502199001011000, which the ID rules recognise
    as destroyed. A text cell with the same digits must stay as typed, so the number cells are
    told apart by loading the affected columns once more as booleans (text cells come back null).
    """
    if frame.height == 0:
        return frame, frozenset()
    suspects = []
    for column in frame.columns:
        values = frame[column]
        long = values.str.contains(_LONG_INTEGER)
        # a number cell's text is an exact binary value; most typed IDs are not one
        exact = values.cast(pl.Int64, strict=False) == values.cast(pl.Float64, strict=False).cast(
            pl.Int64, strict=False
        )
        too_long = values.str.len_chars() > 19
        if (long & (exact | too_long)).any():
            suspects.append(column)
    if not suspects:
        return frame, frozenset()
    indices = [int(column[1:]) for column in suspects]
    numbers = workbook.load_sheet(
        sheet,
        header_row=None,
        skip_rows=0,
        dtypes="boolean",
        use_columns=[original[i] for i in indices],
    ).to_polars()
    found = set()
    for column, source in zip(suspects, numbers.columns, strict=True):
        is_number = numbers[source].is_not_null() & frame[column].str.contains(_LONG_INTEGER)
        if not is_number.any():
            continue
        found.add(column)
        frame = frame.with_columns(
            pl.when(is_number)
            .then(_round_15(pl.col(column)))
            .otherwise(pl.col(column))
            .alias(column)
        )
    return frame, frozenset(found)


def _round_15(digits: pl.Expr) -> pl.Expr:
    """An integer's digit string rounded to 15 significant digits, zero-filled to its length."""
    length = digits.str.len_chars()
    leading = (digits.str.slice(0, 16).cast(pl.Int64) + 5) // 10
    zeros = pl.lit("0" * 32).str.slice(0, length - 15)
    return pl.concat_str([leading.cast(pl.String), zeros])
