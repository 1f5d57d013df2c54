"""Synthetic fixture files for the ingest tests: CSVs in each encoding and workbooks like a clerk's."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from pipelines.matching.ids import checksum_char

_serial = itertools.count(11)


def make_id(born: date = date(1990, 1, 1), area: str = "341502") -> str:
    """A valid 18-digit ID (synthetic: area, birth date, a running order code)."""
    first17 = f"{area}{born:%Y%m%d}{next(_serial) % 1000:03d}"
    return first17 + checksum_char(first17)


def id_ending_000(born: date = date(1990, 1, 1), area: str = "341502") -> str:
    """A valid ID that ends in 000 (order code x00, check character 0): real, but looks rounded."""
    for digit in range(10):
        first17 = f"{area}{born:%Y%m%d}{digit}00"
        if checksum_char(first17) == "0":
            return first17 + "0"
    raise AssertionError("no order code gives check character 0 for this date")


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV text (values quoted when they hold a comma, quote or line break)."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        if any(ch in text for ch in ',"\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "".join(",".join(cell(v) for v in row) + "\n" for row in rows)


def write_csv(
    path: Path, rows: Iterable[Sequence[object]], encoding: str = "utf-8", *, bom: bool = False
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = csv_text(rows).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    sheet: str = "Sheet1",
    extra_sheets: Sequence[tuple[str, Sequence[Sequence[object]]]] = (),
    first_sheets: Sequence[tuple[str, Sequence[Sequence[object]]]] = (),
) -> Path:
    """A workbook; str cells as text, int/float as number cells, date/datetime as date cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, sheet_rows in [*first_sheets, (sheet, rows), *extra_sheets]:
        worksheet = workbook.add_worksheet(name)
        for r, row in enumerate(sheet_rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, datetime | date):
                    moment = (
                        value if isinstance(value, datetime) else datetime(*value.timetuple()[:3])
                    )
                    worksheet.write_datetime(r, c, moment, date_format)
                elif isinstance(value, int | float):
                    worksheet.write_number(r, c, value)
                else:
                    worksheet.write_string(r, c, str(value))
    workbook.close()
    return path


LEDGER_HEADER_TOP = ("序号", "村组网格名称", "农户数", "村组网格员", None, None, None, None, "村级网格员", None, None, "备注")  # fmt: skip
LEDGER_HEADER_SUB = (
    "姓名",
    "村民组长",
    "党员",
    "其他(职务)",
    "联系电话",
    "姓名",
    "职务",
    "联系电话",
)


def write_ledger(
    path: Path, title: str, rows: Sequence[Sequence[object]], notes: bool = True
) -> Path:
    """The notice's 附件2 as a clerk fills it: merged title, two-row merged header, 合计 and notes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("附件2")
    centred = workbook.add_format({"align": "center"})
    sheet.merge_range("A1:L1", title, centred)
    for col in (0, 1, 2, 11):
        sheet.merge_range(1, col, 2, col, LEDGER_HEADER_TOP[col], centred)
    sheet.merge_range("D2:H2", "村组网格员", centred)
    sheet.merge_range("I2:K2", "村级网格员", centred)
    sheet.write_row(2, 3, LEDGER_HEADER_SUB)
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    if notes:
        end = 3 + len(rows)
        sheet.write_row(
            end, 0, ["合计", None, sum(int(row[2]) for row in rows if len(row) > 2 and row[2])]
        )
        sheet.merge_range(end + 1, 0, end + 1, 11, "填报人：赵六    联系电话：13700000000")
        sheet.merge_range(end + 2, 0, end + 2, 11, "备注：1. 村组网格名称可根据村民小组名称确定")
        sheet.merge_range(end + 3, 0, end + 3, 11, "2. 网格员按照具体职务勾选对应项")
    workbook.close()
    return path
