"""Synthetic fixture files for the ingest tests: CSVs in each encoding and workbooks like a clerk's."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import openpyxl
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


@dataclass(frozen=True)
class Formula:
    """A formula cell with the value Excel last computed for it (an error value such as #N/A)."""

    formula: str
    shown: str


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    sheet: str = "Sheet1",
    extra_sheets: Sequence[tuple[str, Sequence[Sequence[object]]]] = (),
    first_sheets: Sequence[tuple[str, Sequence[Sequence[object]]]] = (),
    hidden: Sequence[str] = (),
) -> Path:
    """A workbook; str cells as text, int/float as number cells, date/datetime as date cells;
    the sheets named in `hidden` hidden (as Excel's 隐藏工作表 does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, sheet_rows in [*first_sheets, (sheet, rows), *extra_sheets]:
        worksheet = workbook.add_worksheet(name)
        if name in hidden:
            worksheet.hide()
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
                elif isinstance(value, Formula):
                    worksheet.write_formula(r, c, value.formula, None, value.shown)
                else:
                    worksheet.write_string(r, c, str(value))
    shown = [w for w in workbook.worksheets() if w.name not in hidden]
    if hidden and shown:
        shown[0].activate()  # Excel cannot hide the active sheet (the first, unless told)
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


def fixed_id(order: int, born: date, area: str = "341502") -> str:
    """A valid 18-digit ID that does not depend on how many IDs were made before (fixtures)."""
    first17 = f"{area}{born:%Y%m%d}{order % 1000:03d}"
    return first17 + checksum_char(first17)


# 低保变动名册 as a clerk lays it out (row numbers as Excel shows them): title 1, two-row header
# 2–3 (所在地 over 乡镇/村), data 4–8 with 乡镇 merged over all of them and 村 over its rows,
# a 合计 row 9 and a note 10
CIVIL_TITLE = "金安区2026年10月社会救助变动名册"
CIVIL_MERGED_DATA = [
    (1, "张三", fixed_id(11, date(1950, 3, 1)), "低保", "新增", 1234.5, date(2026, 10, 5)),
    (2, "李四", 341502199001011234, "特困", "在保", 800, "2026/10/5"),  # an ID typed as a number
    (3, "王五", fixed_id(12, date(1988, 1, 2)), "临时救助", "新增", 500, date(2026, 10, 6)),
    (4, "赵六", fixed_id(13, date(1962, 7, 9)), "低保", "退出", 300, date(2026, 10, 7)),
    (5, "钱七", fixed_id(14, date(1971, 5, 4)), "低保", "在保", 200, date(2026, 10, 8)),
]
CIVIL_MERGED_PLACES = [
    ("三十铺镇", 0, 4),
    ("北山村", 0, 2),
    ("南山村", 3, 4),
]  # (value, first, last)


def write_civil_merged(path: Path) -> Path:
    """The 低保变动名册 above: merged title, merged two-row header, places merged down."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("社会救助变动名册")
    centred = workbook.add_format({"align": "center", "valign": "vcenter"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.merge_range("A1:I1", CIVIL_TITLE, centred)
    for column, label in zip("ADEFGHI", ("序号", "姓名", "身份证号", "救助类型", "变动类型", "金额", "变动日期"), strict=True):  # fmt: skip
        sheet.merge_range(f"{column}2:{column}3", label, centred)
    sheet.merge_range("B2:C2", "所在地", centred)
    sheet.write_row("B3", ["乡镇", "村"])
    first = 3
    for r, (number, name, id_number, kind, change, amount, when) in enumerate(
        CIVIL_MERGED_DATA, start=first
    ):
        sheet.write_number(r, 0, number)
        sheet.write_string(r, 3, name)
        if isinstance(id_number, int):
            sheet.write_number(r, 4, id_number)
        else:
            sheet.write_string(r, 4, id_number)
        sheet.write_row(r, 5, [kind, change])
        sheet.write_number(r, 7, amount)
        if isinstance(when, date):
            sheet.write_datetime(r, 8, datetime(when.year, when.month, when.day), day)
        else:
            sheet.write_string(r, 8, when)
    for value, top, bottom in CIVIL_MERGED_PLACES:
        column = 1 if value.endswith("镇") else 2
        sheet.merge_range(first + top, column, first + bottom, column, value, centred)
    total = first + len(CIVIL_MERGED_DATA)
    sheet.merge_range(total, 0, total, 6, "合计", centred)
    sheet.write_number(total, 7, sum(row[5] for row in CIVIL_MERGED_DATA))
    sheet.merge_range(total + 1, 0, total + 1, 8, "填报人：孙八    联系电话：13700000000")
    workbook.close()
    return path


# a 低保变动名册 whose clerk filled names and amounts with formulas, three of which fail: a
# VLOOKUP that found nobody (#N/A), a division by an empty cell (#DIV/0!), text added to a
# number (#VALUE!); formulas whose error LibreOffice computes again when it saves the .xls
CIVIL_ERROR_ROWS = [
    ("金安区2026年10月社会救助变动名册",),
    ("姓名", "身份证号", "乡镇", "村", "救助类型", "金额", "变动日期"),
    ("张三", fixed_id(21, date(1950, 3, 1)), "三十铺镇", "北山村", "低保", 100, date(2026, 10, 5)),
    (Formula("=NA()", "#N/A"), fixed_id(22, date(1961, 4, 2)), "三十铺镇", "北山村", "低保",
     Formula("=1/0", "#DIV/0!"), date(2026, 10, 6)),
    ("王五", fixed_id(23, date(1972, 5, 3)), "三十铺镇", "南山村", Formula('="a"+1', "#VALUE!"),
     300, Formula("=NA()", "#N/A")),
    (Formula("=NA()", "#N/A"), Formula("=NA()", "#N/A"), "三十铺镇", "南山村", "低保", 400,
     date(2026, 10, 7)),
]  # fmt: skip


def write_civil_errors(path: Path) -> Path:
    return write_xlsx(path, CIVIL_ERROR_ROWS, sheet="社会救助变动名册")


GRID_FIXTURE_TITLE = "三十铺镇乡镇（街道、开发区）北山村村防止返贫动态监测基层网格工作台账"
GRID_FIXTURE_ROWS = [
    (1, "北山组第一网格", 45, "张三", "√", None, None, "13800000001", "李四", "村支书", "13900000001", None),
    (2, "北山组第二网格", 38, "王五", None, "√", "妇女主任", "13800000002", "李四", "村支书", "13900000001", "新设"),
]  # fmt: skip


def write_grid_fixture(path: Path) -> Path:
    return write_ledger(path, GRID_FIXTURE_TITLE, GRID_FIXTURE_ROWS)


def cut_inside_last_character(data: bytes, character: str, encoding: str) -> bytes:
    """The bytes up to the middle of the last `character`: a copy that stopped mid-character."""
    encoded = character.encode(encoding)
    assert len(encoded) > 1
    return data[: data.rindex(encoded) + 1]


# the enrollment list of write_enrollment_formulas: (name, ID, 乡镇, 村), the ID and the places
# as a person opening the workbook in Excel reads them
def _fixed_id(first17: str) -> str:
    return first17 + checksum_char(first17)


FORMULA_ENROLLMENT = [
    ("张三", _fixed_id("34150219900101001"), "东桥镇", "王岗村"),
    ("李四", _fixed_id("34150219851203002"), "东桥镇", "王岗村"),
    ("王五", _fixed_id("34150220010615003"), "东桥镇", "王岗村"),
    ("赵六", _fixed_id("34150219770420004"), "东桥镇", "王岗村"),
]


def write_enrollment_formulas(path: Path) -> Path:
    """An enrollment list built the way clerks build one: the ID taken from a hidden helper
    column G by formula (=G2, =TRIM(G3), ="341502"&…, =G5&""), the 乡镇 and 村 written once and
    filled down (=C2, =D2 …: one shared formula). Written by openpyxl (no results); make_xls
    has LibreOffice compute them, then convert its own workbook to .xls, which stores 0 as
    every text result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "参保名册"
    sheet.append(["姓名", "身份证号", "乡镇", "村", "参保年度", "参保状态", "辅助"])
    forms = ["=G{r}", "=TRIM(G{r})", '="{head}"&"{tail}"', '=G{r}&""']
    for i, (name, id_number, township, village) in enumerate(FORMULA_ENROLLMENT):
        r = i + 2
        formula = forms[i].format(r=r, head=id_number[:6], tail=id_number[6:])
        places = [township, village] if i == 0 else [f"=C{r - 1}", f"=D{r - 1}"]
        helper = f" {id_number} " if i == 1 else id_number
        sheet.append([name, formula, *places, 2026, "正常参保", helper])
    sheet.column_dimensions["G"].hidden = True
    workbook.save(path)
    return path
