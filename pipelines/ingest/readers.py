"""Read a CSV or a workbook sheet into a grid of text cells, keeping the row numbers a person sees.

A file is read for what it is, not for its name: a CSV saved as .xlsx, an HTML table saved as
.xls (many government systems export this way) and an .xlsx named .xls are read as a person
opening them in Excel would see them, and the file's message says so. Merged cells that cover
several rows read as their value in every covered row that holds data.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import fastexcel
import polars as pl

from pipelines.ingest.biff import OLE_MAGIC, Merge, read_sheets
from pipelines.ingest.formulas import (
    cell_position,
    evaluate,
    evaluate_text,
    recalculated_on_load,
    uncached_formulas,
)

CSV_SUFFIXES = (".csv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
MAX_CSV_COLUMNS = 4096
HEAD_CHARS = 200_000
ROW_NUMBER = "row_number"
# an integer of 16+ digits: a number cell that Excel holds to only 15 significant digits
_LONG_INTEGER = r"^\d{16,}$"
# separators a text table may use; the header region decides (see _sniff_separator)
SEPARATORS = (",", "\t", ";", "|")
SNIFF_LINES = 40
# how far back a quoted value with line breaks is looked for when a file is cut inside it
MAX_QUOTED_LINES = 20

# what a file's first bytes say it is
ZIP, OLE, HTML, TEXT, EMPTY, OTHER = "zip", "ole", "html", "text", "empty", "other"
XML_2003 = "xml2003"  # Excel 2003 "XML 电子表格", another way systems export .xls
_ZIP_MAGIC = b"PK\x03\x04"
_KIND_NAMES = {
    ZIP: "Excel 工作簿（.xlsx）",
    OLE: "Excel 97–2003 工作簿（.xls）",
    HTML: "网页表格（HTML）",
    TEXT: "文本表格（CSV）",
}
_SUFFIX_KINDS = {".xlsx": ZIP, ".xlsm": ZIP, ".xls": OLE, ".csv": TEXT, ".txt": TEXT}


class UnreadableFile(Exception):
    """A file that cannot be read at all; the message names the file and says why, in Chinese."""


@dataclass(frozen=True)
class CutLine:
    """The last line of a text file cut short by a truncation: where it was and what is left."""

    row_number: int
    cells: tuple[str | None, ...]


@dataclass(frozen=True)
class Grid:
    """The cells of one CSV or one sheet: String columns c0..cN plus the 1-based `row_number`."""

    file: str
    sheet: str | None
    cells: pl.DataFrame
    hidden: bool = False
    # cell columns holding number cells of 16+ digits: IDs Excel stored as numbers (destroyed)
    number_columns: frozenset[str] = frozenset()
    # what a person should know about how the file was read (truncated tail, misnamed format)
    message: str | None = None
    # a text file cut inside its last character; its partial last line is kept out of `cells`
    truncated: bool = False
    cut_line: CutLine | None = None

    @property
    def cell_columns(self) -> list[str]:
        return [c for c in self.cells.columns if c != ROW_NUMBER]


def cell_name(index: int) -> str:
    return f"c{index}"


# --- what a file is ---------------------------------------------------------------------------


# more than one byte in NUL_SHARE a NUL: not text (UTF-16 without its BOM is one in two)
NUL_SHARE = 100


def sniff(path: Path, name: str) -> str:
    """What the file's bytes are: ZIP (xlsx), OLE (xls), HTML, TEXT, EMPTY or OTHER."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65_536)
    except OSError as error:
        raise _cannot_open(name) from error
    if not head.strip():
        return EMPTY
    if head.startswith(_ZIP_MAGIC):
        return ZIP
    if head.startswith(OLE_MAGIC):
        return OLE
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return TEXT
    opening = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if opening.startswith((b"<!doctype html", b"<html")) or (
        opening.startswith(b"<") and b"<table" in head.lower()
    ):
        return HTML
    if opening.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return XML_2003
    # a binary file is full of NUL bytes; a CSV may carry a stray one in a cell (a database
    # export's NUL character): one in a hundred bytes or fewer is still a text table
    if opening.startswith(b"%pdf") or head.count(b"\x00") * NUL_SHARE > len(head):
        return OTHER
    return TEXT


def _cannot_open(name: str) -> UnreadableFile:
    return UnreadableFile(f"文件 {name} 无法打开（可能没有读取权限，或正被其他程序占用）")


def _not_a_table(name: str, kind: str) -> UnreadableFile:
    if kind == EMPTY:
        return UnreadableFile(f"文件 {name} 是空文件")
    if kind == XML_2003:
        return UnreadableFile(
            f"文件 {name} 是 Excel 2003 XML 电子表格，暂不能读取：请用 Excel 另存为 .xlsx 后重新报送"
        )
    return UnreadableFile(
        f"文件 {name} 的内容不是表格：既不是 Excel 工作簿，也不是 CSV 文本或网页表格"
    )


def _misnamed(name: str, kind: str) -> str | None:
    """The note for a file whose extension says another format than its content."""
    suffix = Path(name).suffix.lower()
    expected = _SUFFIX_KINDS.get(suffix)
    if expected is None or expected == kind:
        return None
    actual = _KIND_NAMES[kind]
    space = " " if actual[0].isascii() else ""
    return f"文件扩展名为 {suffix}，内容实为{space}{actual}，已按实际格式读取"


def read_single(path: Path, name: str) -> Grid | None:
    """The one table of a file without sheets (a CSV or an HTML table, whatever its extension);
    None for a workbook. A file that is neither fails, naming the file and why."""
    kind = sniff(path, name)
    if kind in (ZIP, OLE):
        return None
    if kind == TEXT:
        return read_csv(path, name)
    if kind == HTML:
        return read_html(path, name)
    raise _not_a_table(name, kind)


# --- text ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str
    lost_bytes: int = 0  # undecodable bytes at the very end: the file was cut inside a character


def decode_text(data: bytes) -> str:
    """Strict UTF-8 (BOM optional), else UTF-16 with BOM, else GB18030; never a lossy decode."""
    decoded = decode_bytes(data)
    if decoded.lost_bytes:
        raise UnicodeDecodeError("gb18030", data, len(data) - decoded.lost_bytes, len(data), "cut")
    return decoded.text


def decode_bytes(data: bytes) -> Decoded:
    """Decode exactly, except for a file cut inside its last character: the bytes before the cut
    are decoded (strictly) and the few bytes of the broken character are counted as lost. Bytes
    that do not decode anywhere else raise UnicodeDecodeError: the middle is never guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        lost = len(data) % 2
        return Decoded(data[: len(data) - lost].decode("utf-16"), lost)
    furthest: UnicodeDecodeError | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return Decoded(data.decode(encoding))
        except UnicodeDecodeError as error:
            if error.end == len(data) and error.reason in (
                "unexpected end of data",
                "incomplete multibyte sequence",
            ):
                try:
                    return Decoded(data[: error.start].decode(encoding), len(data) - error.start)
                except UnicodeDecodeError:
                    pass
            if furthest is None or error.start > furthest.start:
                furthest = error
    # the encoding that read furthest is most likely the file's own: report where it stopped
    assert furthest is not None
    raise furthest


_QUOTED = re.compile(r'"[^"\n]*"')


def _sniff_separator(text: str) -> str:
    """The separator that splits the header region into the same number of fields line after
    line: comma, TAB, semicolon or bar. Title lines (no separator) and quoted values are left
    out of the count; a tie goes to the comma."""
    lines = [_QUOTED.sub("", line) for line in text[:HEAD_CHARS].splitlines() if line.strip()]
    lines = lines[:SNIFF_LINES]
    best, best_score = ",", (0, 0)
    for separator in SEPARATORS:
        counts = [line.count(separator) for line in lines]
        used = [n for n in counts if n]
        if not used:
            continue
        modal = max(set(used), key=lambda n: (used.count(n), n))
        score = (counts.count(modal), modal)
        if score > best_score:
            best, best_score = separator, score
    return best


def _max_fields(text: str, separator: str) -> int:
    """Fields per line over the first lines (quoted separators only overcount); a wider line
    further down makes the parser fail, and the caller widens and retries."""
    lines = pl.Series(text[:HEAD_CHARS].split("\n"), dtype=pl.String)
    return int(lines.str.count_matches(separator, literal=True).max() or 0) + 1


def _split_cut_line(content: str) -> tuple[str, str]:
    """(the complete lines, the partial last line) of a text cut short; a quoted field still
    open at the cut belongs to the partial line."""
    head, _, partial = content.rpartition("\n")
    open_quote = head.count('"') % 2
    for _ in range(MAX_QUOTED_LINES):
        if not (head and open_quote):
            break
        head, _, before = head.rpartition("\n")
        open_quote ^= before.count('"') % 2
        partial = before + "\n" + partial
    return head + "\n" if head else "", partial


_BOM = "\ufeff".encode()


def _utf8_body(raw: bytes) -> bytes | None:
    """The file's bytes without their BOM when they are UTF-8 throughout (most CSV files), checked
    in Rust by polars without decoding them into Python text: decoding and re-encoding a 1M-row
    roster cost 0.8 s, the check 0.05 s. None for any other file (decode_bytes reads it)."""
    body = raw.removeprefix(_BOM).removeprefix(_BOM)  # as utf-8-sig, then removeprefix("\ufeff")
    try:
        pl.Series([body], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.ComputeError:
        return None
    return body


def _head(body: bytes) -> str:
    """The first HEAD_CHARS characters of UTF-8 `body` (a character takes at most 4 bytes)."""
    return body[: 4 * HEAD_CHARS + 4].decode("utf-8", errors="ignore")[:HEAD_CHARS]


def read_csv(path: Path, name: str) -> Grid:
    """A CSV as text cells: every value a string, ragged rows padded, quoted fields kept whole.

    A file cut inside its last character (a copy or download that stopped) keeps every line
    before the cut; the partial last line is set aside as `cut_line` and the file's message
    says how many bytes were lost.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _cannot_open(name) from error
    message, cut_line, partial, lost = _misnamed(name, TEXT), None, "", 0
    if (body := _utf8_body(raw)) is not None:
        data, head = body, _head(body)
        blank = not head.strip() and not body.decode("utf-8").strip()
    else:
        try:
            decoded = decode_bytes(raw)
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise UnreadableFile(
                f"文件 {name} 无法读取：第 {line} 行有无法识别的字节，编码既不是 UTF-8 也不是 GB18030"
                "（文件可能已损坏，或不是文本表格）"
            ) from error
        content, lost = decoded.text.removeprefix("\ufeff"), decoded.lost_bytes
        if lost:
            content, partial = _split_cut_line(content)
            if not content.strip():
                raise UnreadableFile(
                    f"文件 {name} 不完整（截断）：在第一行中途中断，最后 {lost} 字节"
                    "无法解码，没有可读取的完整行"
                )
            note = f"文件末尾不完整（截断），最后 {lost} 字节无法解码，已读入其前面的行"
            message = "；".join(filter(None, [message, note]))
        data, head, blank = content.encode("utf-8"), content[:HEAD_CHARS], not content.strip()
    if blank:
        raise UnreadableFile(f"文件 {name} 是空文件")
    if b"\n" not in data and b"\r" in data:
        # lines ended by CR alone (Excel for Mac's "CSV (Macintosh)"): one line to the parser,
        # so a header and no rows; a CR inside a cell of a CRLF file stays as it is
        data, head = data.replace(b"\r", b"\n"), head.replace("\r", "\n")
    separator = _sniff_separator(head)
    if not lost:
        # cut at a character boundary: the last line, without its line break, stops short of
        # the fields of the line before it (or inside a quoted field)
        data, partial = _cut_short(data, separator)
        if partial:
            note = "文件末尾不完整（截断）：最后一行在中途中断，已读入其前面的行"
            message = "；".join(filter(None, [message, note]))
            lost = len(partial.encode("utf-8"))
    width = _max_fields(head, separator)
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
    if partial.strip():
        values = next(csv.reader(io.StringIO(partial), delimiter=separator), [])
        cut_line = CutLine(data.count(b"\n") + 1, tuple(value or None for value in values))
    return Grid(
        name,
        None,
        _with_line_numbers(cells, quoted=b'"' in data),
        message=message,
        truncated=lost > 0,
        cut_line=cut_line,
    )


def _fields(line: str, separator: str) -> int:
    """The fields of one CSV line."""
    return len(next(csv.reader(io.StringIO(line), delimiter=separator), []))


def _cut_short(data: bytes, separator: str) -> tuple[bytes, str]:
    """(the complete lines, the partial last line) of a file whose copy stopped between two
    characters: a quoted field still open at its end, or a last line without its line break
    with fewer fields than the line before it (two at least: a note under the table is one
    cell). ('' when whole: a last line of full width without its line break is a file written
    that way.)"""
    if data.endswith((b"\n", b"\r")):
        return data, ""
    if data.count(b'"') % 2:
        head, partial = _split_cut_line(data.decode("utf-8"))
        return head.encode("utf-8"), partial
    head, _, last = data.rpartition(b"\n")
    if not head or not last.strip():
        return data, ""
    text = last.decode("utf-8")
    previous = head.rstrip(b"\r").rpartition(b"\n")[2].decode("utf-8")
    if not 2 <= _fields(text, separator) < _fields(previous, separator):
        return data, ""
    return head + b"\n", text


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


# --- merged cells ----------------------------------------------------------------------------

# a merged range: (first row, first column, last row, last column), 0-based and inclusive (biff.Merge)


def fill_merged(cells: pl.DataFrame, merges: Sequence[Merge]) -> pl.DataFrame:
    """A merged cell covering several rows reads as its value in each covered row that holds
    data of its own (乡镇 or 村 merged over a village's rows). The value stays in the merge's
    first column only, as for a merge across columns (titles, parent headers, notes), and rows
    under a merge that are otherwise blank stay blank."""
    tall = [m for m in merges if m[2] > m[0] and m[0] < cells.height and m[1] < cells.width]
    if not tall:
        return cells
    columns = [c for c in cells.columns if c != ROW_NUMBER]
    own = cells.select(
        pl.any_horizontal(pl.col(c).str.contains(r"\S").fill_null(False) for c in columns)
    ).to_series()
    filled = {column: cells[column].to_list() for column in {columns[m[1]] for m in tall}}
    holds = own.to_list()
    for first_row, first_column, last_row, _ in tall:
        values = filled[columns[first_column]]
        value = values[first_row]
        if value is None or not value.strip():
            continue
        for row in range(first_row + 1, min(last_row, cells.height - 1) + 1):
            if holds[row] and values[row] is None:
                values[row] = value
    return cells.with_columns(pl.Series(c, v, dtype=pl.String) for c, v in filled.items())


_MERGE_REF = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="([A-Za-z]+\d+)(?::([A-Za-z]+\d+))?"'
)
_WORKSHEET_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet\b")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xlsx_book(archive: zipfile.ZipFile) -> str:
    """The part holding the workbook's XML (its sheets, its calculation settings)."""
    book = "xl/workbook.xml"
    if "_rels/.rels" in archive.namelist():
        for rel in ElementTree.fromstring(archive.read("_rels/.rels")):
            if rel.get("Type", "").endswith("/officeDocument"):
                book = rel.get("Target", book).lstrip("/")
    return book


def _xlsx_sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the part holding that sheet's XML."""
    book = _xlsx_book(archive)
    folder = PurePosixPath(book).parent
    rels_part = f"{folder}/_rels/{PurePosixPath(book).name}.rels"
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in ElementTree.fromstring(archive.read(rels_part))
    }
    parts = {}
    for element in ElementTree.fromstring(archive.read(book)).iter():
        if _local(element.tag) != "sheet":
            continue
        rel_id = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
        target = targets.get(rel_id)
        if target:
            path = target.lstrip("/") if target.startswith("/") else f"{folder}/{target}"
            parts[element.get("name", "")] = path
    return parts


def _xlsx_merges(source: Path | bytes) -> dict[str, list[Merge]]:
    """Merged ranges per sheet from the workbook's XML. The sheet is streamed: the merges sit
    after the cell data, so only the end of the sheet is searched."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    merges: dict[str, list[Merge]] = {}
    with zipfile.ZipFile(handle) as archive:
        for sheet, part in _xlsx_sheet_parts(archive).items():
            found: list[Merge] = []
            with archive.open(part) as stream:
                for tail in _after_sheet_data(stream):
                    for first, last in _MERGE_REF.findall(tail):
                        top, left = cell_position(first.decode())
                        bottom, right = cell_position((last or first).decode())
                        found.append((top, left, bottom, right))
            merges[sheet] = found
    return merges


def _after_sheet_data(stream: io.BufferedIOBase) -> Iterator[bytes]:
    """The sheet XML after its </sheetData>, read in chunks (a plain search: sheets are big)."""
    first = stream.read(1 << 20)
    root = _WORKSHEET_ROOT.search(first)
    closing = b"</" + ((root[1] or b"") if root else b"") + b"sheetData>"
    carry, chunk = b"", first
    while chunk:
        text = carry + chunk
        end = text.find(closing)
        if end >= 0:
            yield text[end + len(closing) :] + stream.read()
            return
        carry = text[-len(closing) :]
        chunk = stream.read(1 << 20)


# --- workbooks -------------------------------------------------------------------------------


def _broken_workbook(name: str, kind: str, data: bytes) -> UnreadableFile:
    """Why a workbook cannot be opened, in words a clerk can act on."""
    if kind == ZIP:
        try:
            zipfile.ZipFile(io.BytesIO(data)).testzip()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            return UnreadableFile(
                f"文件 {name} 不完整或已损坏（xlsx 压缩包结构残缺，可能传输或拷贝中被截断），"
                "无法读取，请对方重新报送"
            )
    if kind == OLE and "EncryptionInfo".encode("utf-16-le") in data[: 1 << 20]:
        return UnreadableFile(
            f"文件 {name} 设置了打开密码（已加密），无法读取，请对方去掉密码后重新报送"
        )
    return UnreadableFile(f"文件 {name} 不是可读取的 Excel 工作簿（可能已损坏或加密）")


# The reader holds a sheet as a dense grid of 32-byte cells from its first cell to its last: one
# stray cell typed in XFD1048576 asks for 550 GB and aborts the whole process (an independent
# probe: no file named, no notice, every source of the month lost). A sheet spanning more cells
# than this (a full-height sheet of 38 columns) is refused as its own file's failure instead.
MAX_SHEET_CELLS = 40_000_000
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+[0-9]+)(?::([A-Z]+[0-9]+))?"')
# a cell element with content (a value, an inline string or a formula); `<c r="…" s="3"/>` holds
# only formatting and is not read
_FILLED_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*?(?<!/)>')


def _cells_between(first: tuple[int, int], last: tuple[int, int]) -> int:
    return (abs(last[0] - first[0]) + 1) * (abs(last[1] - first[1]) + 1)


def sheet_cells(archive: zipfile.ZipFile, part: str) -> int:
    """How many cells the reader's grid of an .xlsx sheet would hold: the sheet's recorded
    dimension, and where it is beyond MAX_SHEET_CELLS, the span of its cells with content (a
    dimension can count formatted, empty cells), streamed."""
    with archive.open(part) as stream:
        head = stream.read(4096)
    found = _DIMENSION.search(head)
    if found is None:
        return 0
    recorded = _cells_between(
        cell_position(found[1].decode()), cell_position((found[2] or found[1]).decode())
    )
    if recorded <= MAX_SHEET_CELLS:
        return recorded
    top = left = 1 << 40
    bottom = right = -1
    with archive.open(part) as stream:
        carry = b""
        while chunk := stream.read(1 << 20):
            text = carry + chunk
            cut = text.rfind(b"<")
            text, carry = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
            for ref in _FILLED_CELL.findall(text):
                row, column = cell_position(ref.decode())
                top, left = min(top, row), min(left, column)
                bottom, right = max(bottom, row), max(right, column)
    return 0 if bottom < 0 else _cells_between((top, left), (bottom, right))


# A filled cell this far past the rows (or columns) before it stands apart from the table: typed
# there by mistake (a stray cell in XFD1048576), it is not read with the table. Only a sheet too
# large for the reader is searched for such cells, and only one whose XML is small enough to hold.
_APART_ROWS = 1_000
_APART_COLUMNS = 100
_MAX_TRIMMED_XML = 64 << 20
_ANY_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*?(?:/>|>.*?</c>)', re.S)


def _last_before_gap(values: list[int], gap: int) -> int:
    ordered = sorted(set(values))
    last = ordered[0]
    for value in ordered[1:]:
        if value - last > gap:
            break
        last = value
    return last


def without_cells_apart(data: bytes, part: str) -> tuple[bytes, list[str]] | None:
    """The workbook with sheet `part`'s filled cells that stand apart from its table taken out,
    and their references; None when none stands apart, or the table itself is beyond
    MAX_SHEET_CELLS, or the sheet's XML is too large to hold."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if archive.getinfo(part).file_size > _MAX_TRIMMED_XML:
            return None
        xml = archive.read(part)
        filled = [(ref, cell_position(ref.decode())) for ref in _FILLED_CELL.findall(xml)]
        if not filled:
            return None
        rows = [row for _, (row, _) in filled]
        columns = [column for _, (_, column) in filled]
        last_row = _last_before_gap(rows, _APART_ROWS)
        last_column = _last_before_gap(columns, _APART_COLUMNS)
        apart = {ref for ref, (row, column) in filled if row > last_row or column > last_column}
        table = _cells_between((min(rows), min(columns)), (last_row, last_column))
        if not apart or table > MAX_SHEET_CELLS:
            return None
        cleaned = _ANY_CELL.sub(lambda cell: b"" if cell[1] in apart else cell[0], xml)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
            for item in archive.infolist():
                copy.writestr(item, cleaned if item.filename == part else archive.read(item))
    ordered = sorted(apart, key=lambda ref: cell_position(ref.decode()))
    return out.getvalue(), [ref.decode() for ref in ordered]


class Workbook:
    """An opened workbook (.xlsx/.xls, whatever the extension says): its sheet names and a
    reader per sheet. A file holding a CSV text or an HTML table reads as one sheet named after
    the file, whose grid has no sheet name (like a CSV)."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self.message: str | None = None
        self._single: Grid | None = None
        self._merges: dict[str, list[Merge]] | None = None
        self._merge_note: str | None = None
        # .xls: per sheet, the formula cells stored with the result 0 (_uncached), read once
        self._zeros: dict[str, dict[tuple[int, int], str]] | None = None
        self._parts: dict[str, str] | None = None  # .xlsx: sheet name -> its part, read once
        kind = sniff(path, name)
        self._kind = kind
        if kind in (TEXT, HTML):
            self._single = read_single(path, name)
            self.sheet_names: list[str] = [Path(name).stem]
            return
        if kind not in (ZIP, OLE):
            raise _not_a_table(name, kind)
        self.message = _misnamed(name, kind)
        try:
            self._data = path.read_bytes()
        except OSError as error:
            raise _cannot_open(name) from error
        try:
            self._reader = fastexcel.read_excel(self._data)
            self.sheet_names = list(self._reader.sheet_names)
        except Exception as error:  # fastexcel raises several unrelated types for a bad file
            raise _broken_workbook(name, kind, self._data) from error

    def read(self, sheet: str) -> Grid:
        """One sheet as text cells from row 1: number cells as Excel holds them, dates as ISO text."""
        if self._single is not None:
            return self._single
        reader, apart_note = self._reader, None
        if self._kind == ZIP and (cells := self._cells(sheet)) > MAX_SHEET_CELLS:
            trimmed = self._without_cells_apart(sheet)
            if trimmed is None:
                raise UnreadableFile(
                    f"文件 {self.name} 的工作表 {sheet} 的使用范围约 {cells:,} 个单元格，远超数据本身，"
                    "无法读取（多半是在很远的单元格，如 XFD1048576，误输入了内容）：请删除数据以外的"
                    "行和列后保存，重新报送"
                )
            data, apart = trimmed
            reader = fastexcel.read_excel(data)
            more = f" 等 {len(apart)} 个" if len(apart) > 1 else ""
            apart_note = (
                f"工作表 {sheet} 中远离表格的单元格 {apart[0]}{more}未读取（多半是误输入）："
                "请删除后重新保存"
            )
        try:
            loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
            frame = _with_error_values(loaded)
        except Exception as error:
            raise UnreadableFile(
                f"文件 {self.name} 的工作表 {sheet} 无法读取（内容已损坏或格式不受支持）"
            ) from error
        original = frame.columns
        frame = frame.rename({old: cell_name(i) for i, old in enumerate(original)})
        frame, numbers = _excel_numbers(reader, sheet, frame, original)
        message = "；".join(filter(None, [self.message, apart_note])) or None
        first_column = loaded.available_columns()[0].absolute_index if frame.width else 0
        frame, computed = _with_formula_results(
            frame, self._uncached(sheet), first_column, stored=self._kind == OLE
        )
        cells = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW_NUMBER))
        if frame.width:
            merges, note = self._sheet_merges(sheet)
            shifted = [(t, lc - first_column, b, rc - first_column) for t, lc, b, rc in merges]
            cells = fill_merged(cells, [m for m in shifted if m[1] >= 0])
            message = "；".join(filter(None, [message, note, computed]))
        return Grid(
            self.name,
            sheet,
            cells,
            # fastexcel says "visible", "hidden" or "veryhidden" (a bool in older versions)
            hidden=loaded.visible not in (True, "visible"),
            number_columns=numbers,
            message=message or None,
        )

    def _part(self, sheet: str) -> str | None:
        """The part holding an .xlsx sheet's XML (the workbook's parts are read once, not per
        sheet and per use); None where it cannot be found."""
        if self._parts is None:
            try:
                with zipfile.ZipFile(io.BytesIO(self._data)) as archive:
                    self._parts = _xlsx_sheet_parts(archive)
            except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
                self._parts = {}
        return self._parts.get(sheet)

    def _without_cells_apart(self, sheet: str) -> tuple[bytes, list[str]] | None:
        if (part := self._part(sheet)) is None:
            return None
        try:
            return without_cells_apart(self._data, part)
        except (KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError):
            return None

    def _cells(self, sheet: str) -> int:
        """sheet_cells of an .xlsx sheet; 0 where its part cannot be found or read."""
        if (part := self._part(sheet)) is None:
            return 0
        try:
            with zipfile.ZipFile(io.BytesIO(self._data)) as archive:
                return sheet_cells(archive, part)
        except (KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError):
            return 0

    def _uncached(self, sheet: str) -> dict[tuple[int, int], str]:
        """The sheet's formula cells saved without their result (formulas.uncached_formulas);
        in an .xls, those whose stored result is 0 though they may give text
        (biff.read_sheets: computed where they can be, else left as stored); none in
        an unreadable part."""
        if self._kind == OLE:
            self._sheet_merges(sheet)  # one pass over the sheet's records reads both
            return (self._zeros or {}).get(sheet, {})
        if self._kind != ZIP:
            return {}
        if (part := self._part(sheet)) is None:
            return {}
        try:
            with zipfile.ZipFile(io.BytesIO(self._data)) as archive:
                stored = not recalculated_on_load(archive.read(_xlsx_book(archive)))
                return uncached_formulas(archive.read(part), stored=stored)
        except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, UnicodeDecodeError):
            return {}

    def _sheet_merges(self, sheet: str) -> tuple[list[Merge], str | None]:
        if self._merges is None:
            try:
                if self._kind == ZIP:
                    self._merges = _xlsx_merges(self._data)
                else:
                    sheets = read_sheets(self._data)
                    self._merges = {name: merges for name, (merges, _) in sheets.items()}
                    self._zeros = {name: zeros for name, (_, zeros) in sheets.items()}
            except (
                ValueError, KeyError, IndexError, struct.error, zipfile.BadZipFile,
                ElementTree.ParseError,
            ):  # fmt: skip
                # the cells were read, only the merge layout was not: say so and read on
                self._merges = {}
                self._merge_note = "未能读取合并单元格的范围，合并单元格的值只在其第一行"
        return self._merges.get(sheet, []), self._merge_note


_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[Ee][-+]?[0-9]+)?")


def _with_formula_results(
    frame: pl.DataFrame,
    formulas: dict[tuple[int, int], str],
    first_column: int,
    *,
    stored: bool = False,
) -> tuple[pl.DataFrame, str | None]:
    """Formula cells saved without their result (a program wrote the workbook): the result
    computed where it is the row's arithmetic (formulas.evaluate; 15 significant digits, as
    Excel keeps it) or text copied or joined from cells of the sheet (formulas.evaluate_text),
    else the formula's text after '=' (unread by every field: reported with it, never taken
    for the field's value). `stored`: the formulas are an .xls's stored with the result 0
    (biff.read_sheets): those not computed keep it, and the note says so. Returns the
    frame and a note for the file's message (None when there were none)."""
    inside = {
        (row, column - first_column): text
        for (row, column), text in formulas.items()
        if 0 <= row < frame.height and 0 <= column - first_column < frame.width
    }
    if not inside:
        return frame, None
    shown: dict[tuple[int, int], str | None] = {}  # a formula cell's result (None: unread)
    numbers: dict[tuple[int, int], Decimal] = {}

    def result(cell: tuple[int, int]) -> str | None:
        """A formula cell's result, its own references first (a cycle: unread)."""
        if cell not in shown:
            shown[cell] = None  # while it is computed: a reference back to it reads nothing
            # a cell copied (=F2) is the cell as read, a text of digits included; arithmetic
            # is the row's numbers, kept to Excel's 15 significant digits
            text = evaluate_text(inside[cell], text_of)
            if text is not None:
                if _PLAIN_NUMBER.fullmatch(text):
                    numbers[cell] = Decimal(text)
            elif (number := evaluate(inside[cell], value_of)) is not None:
                with localcontext() as context:
                    context.prec = 15
                    number = +number
                numbers[cell] = number
                text = format(number.normalize(), "f")
            shown[cell] = text
        return shown[cell]

    def local(cell: tuple[int, int]) -> tuple[int, int] | None:
        row, column = cell[0], cell[1] - first_column
        return (row, column) if 0 <= row < frame.height and 0 <= column < frame.width else None

    def value_of(cell: tuple[int, int]) -> Decimal | None:
        if (at := local(cell)) is None:
            return None
        if at in inside:
            result(at)
            return numbers.get(at)
        text = frame[at]
        return Decimal(text) if text is not None and _PLAIN_NUMBER.fullmatch(text) else None

    def text_of(cell: tuple[int, int]) -> str | None:
        if (at := local(cell)) is None:
            raise ValueError(cell)  # outside the sheet as read: not known
        if at in inside:
            if (text := result(at)) is None:
                raise ValueError(cell)  # a formula not read: nor is what reads it
            return text
        return frame[at]

    texts: dict[int, dict[int, str]] = {}
    for (row, column), formula in sorted(inside.items()):
        text = result((row, column))
        if stored and (text is None or text in ("0", frame[row, column])):
            continue  # the stored 0 stands, or is what the formula gives: nothing to patch
        texts.setdefault(column, {})[row] = (
            text if text is not None else "=" + (formula or "（共享公式）")
        )
    if not texts:
        return frame, None
    patched = frame.with_columns(
        frame[frame.columns[column]]
        .scatter(list(cells), list(cells.values()))
        .alias(frame.columns[column])
        for column, cells in texts.items()
    )
    if stored:
        changed = sum(len(cells) for cells in texts.values())
        return patched, (
            f"{changed} 个公式单元格文件中保存的结果是 0（多为 LibreOffice 转存 .xls 时未重新计算），"
            "已按公式算出 Excel 打开时显示的值"
        )
    computed = sum(1 for text in shown.values() if text is not None)
    unread = len(inside) - computed
    return patched, (
        f"{len(inside)} 个公式单元格文件中没有保存计算结果（文件不是 Excel 保存的）："
        + (f"{computed} 个已按公式算出" if computed else "无法算出")
        + (f"，{unread} 个无法算出，按字段问题报告" if computed and unread else "")
    )


# what Excel shows in a cell whose formula failed; the reader hands such a cell over as an error
_ERROR_VALUES = {
    "NA": "#N/A",
    "Div0": "#DIV/0!",
    "Value": "#VALUE!",
    "Ref": "#REF!",
    "Name": "#NAME?",
    "Num": "#NUM!",
    "Null": "#NULL!",
    "GettingData": "#GETTING_DATA",
}
_ERROR_DETAIL = re.compile(r"Error\((\w+)\)")


def _with_error_values(loaded: fastexcel.ExcelSheet) -> pl.DataFrame:
    """A sheet's text cells, a formula's error value (#N/A, #DIV/0! …) as the text Excel shows.

    The reader leaves an error cell empty; a person sees #N/A there, and a blank would hide a
    broken formula from the department (the typing reports it, parse.formula_cells)."""
    table, errors = loaded.to_arrow_with_errors()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    found: dict[int, list[tuple[int, str]]] = {}
    for error in errors.errors if errors is not None else ():
        kind = _ERROR_DETAIL.search(error.detail)
        if kind is None:  # another conversion failure than a formula's error: left blank
            continue
        row, column = error.position
        found.setdefault(column, []).append((row, _ERROR_VALUES.get(kind[1], "#ERROR")))
    if not found:
        return frame
    columns = []
    for index, cells in found.items():
        name = frame.columns[index]
        rows, texts = zip(*cells, strict=True)
        patch = pl.Series(name, [None] * frame.height, dtype=pl.String).scatter(
            list(rows), list(texts)
        )
        columns.append(pl.coalesce(pl.col(name), pl.lit(patch)).alias(name))
    return frame.with_columns(columns)


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

    def suspect(column: str) -> pl.Expr:
        values = pl.col(column)
        long = values.str.contains(_LONG_INTEGER)
        # a number cell's text is an exact binary value; most typed IDs are not one
        exact = values.cast(pl.Int64, strict=False) == values.cast(pl.Float64, strict=False).cast(
            pl.Int64, strict=False
        )
        too_long = values.str.len_chars() > 19
        return (long & (exact | too_long)).any()

    # every column judged in one pass over the sheet (a workbook has a few dozen columns, a
    # district's grid ledger a workbook per 村)
    found_long = frame.select(suspect(column) for column in frame.columns).row(0)
    suspects = [column for column, long in zip(frame.columns, found_long, strict=True) if long]
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


# --- HTML tables saved as .xls ---------------------------------------------------------------

_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_GB_NAMES = ("gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn")
_BLOCK_TAGS = ("p", "div", "li")


class _TableParser(HTMLParser):
    """The rows of the top-level <table>s of a page, in order: each cell's text and its span."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, int, int]]] = []  # (text, rowspan, colspan)
        self._depth = 0  # table nesting
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            if self._depth > 1 and self._cell is not None:
                self._cell.append(" ")
            return
        if self._depth != 1:
            if self._cell is not None and tag in ("br", "tr", *_BLOCK_TAGS):
                self._cell.append("\n")
            elif self._cell is not None and tag in ("td", "th"):
                self._cell.append(" ")
            return
        if tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._close_cell()
            self.rows.append([])
        elif tag in ("td", "th"):
            self._close_cell()
            if not self.rows:
                self.rows.append([])
            found = dict(attrs)
            self._span = (_span(found.get("rowspan")), _span(found.get("colspan")))
            self._cell = []
        elif tag in ("br", *_BLOCK_TAGS) and self._cell is not None:
            self._cell.append("\n")  # empty lines are dropped with the cell's text

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            if self._depth == 1:
                self._close_cell()
            self._depth = max(self._depth - 1, 0)
        elif self._depth == 1 and tag in ("td", "th", "tr"):
            self._close_cell()
        elif self._depth == 1 and tag == "caption" and self._caption is not None:
            text = _cell_text(self._caption)
            if text:
                self.rows.append([(text, 1, 1)])
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)

    def _close_cell(self) -> None:
        if self._cell is not None:
            self.rows[-1].append((_cell_text(self._cell), *self._span))
            self._cell = None


def _span(value: str | None) -> int:
    digits = re.match(r"\s*(\d+)", value or "")
    return max(1, min(int(digits[1]), 10_000)) if digits else 1


def _cell_text(parts: list[str]) -> str:
    """A cell's text as a browser or Excel shows it: runs of spaces collapsed, line breaks kept."""
    text = "".join(parts).replace("\xa0", " ")
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in re.split(r"\n", text))
    return "\n".join(line for line in lines if line)


def _decode_html(data: bytes, name: str) -> str:
    declared = _CHARSET.search(data[:4096])
    if declared and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        charset = declared[1].decode("ascii").lower()
        charset = "gb18030" if charset in _GB_NAMES else charset
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return decode_text(data)
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"文件 {name} 无法读取：网页表格的编码无法识别") from error


def read_html(path: Path, name: str) -> Grid:
    """An HTML page's tables as one grid, as Excel shows a page saved as .xls: rows in order,
    a cell spanning several rows or columns placed at its first cell and filled down like a
    merged cell. Row numbers count the table rows (a caption is a row of its own)."""
    parser = _TableParser()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _cannot_open(name) from error
    parser.feed(_decode_html(data, name))
    parser.close()
    placed: dict[tuple[int, int], str] = {}
    merges: list[Merge] = []
    for r, row in enumerate(parser.rows):
        column = 0
        for text, rowspan, colspan in row:
            while (r, column) in placed:
                column += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    placed[(r + dr, column + dc)] = ""
            placed[(r, column)] = text
            if rowspan > 1 or colspan > 1:
                merges.append((r, column, r + rowspan - 1, column + colspan - 1))
            column += colspan
    height = len(parser.rows)
    width = max((c for r, c in placed if r < height), default=-1) + 1
    if height == 0 or not any(placed.values()):
        raise UnreadableFile(f"文件 {name} 是网页文件，但其中没有含内容的表格")
    columns = {
        cell_name(c): [placed.get((r, c)) or None for r in range(height)] for c in range(width)
    }
    cells = pl.DataFrame(columns, schema={c: pl.String for c in columns}).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW_NUMBER)
    )
    return Grid(name, None, fill_merged(cells, merges), message=_misnamed(name, HTML))
