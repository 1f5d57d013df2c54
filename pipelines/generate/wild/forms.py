"""How clerks write one value: every form a person still reads as that one value, per field type.

A form function takes the true value and returns the cell: a `str` (valid in CSV and XLSX alike)
or an `XCell` (a typed XLSX cell: a number, a date, a text cell with Excel's quote prefix).
Forms that only exist in a workbook are listed apart, so a CSV never gets an `XCell`.

Everything here is written from the contract's §2 and issue 7 §C, not from the normal profile's
mess code: the wild profile is a second opinion on how files are filled.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

EXCEL_DAY0 = date(1899, 12, 30)
FULL_SPACE = "\u3000"
# every printable ASCII character has a full-width twin at +0xFEE0 (the IME's full-width mode)
_TO_FULL = {c: chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


class RawCsv(str):
    """Text that goes into a CSV line exactly as it is, unquoted: `="341502…"`, the way scripts
    write IDs so that Excel keeps them as text."""


class XCell(NamedTuple):
    """A typed workbook cell: kind is number / date / datetime / text (with a number format)."""

    kind: str
    value: object
    num_format: str = ""
    quote_prefix: bool = False


def full_width(text: str) -> str:
    return text.translate(_TO_FULL)


def padded(text: str, rng: random.Random) -> str:
    """Spaces of either width around a value, as left by copying from another sheet."""
    left = rng.choice(("", " ", FULL_SPACE, "  "))
    right = rng.choice((" ", FULL_SPACE, "  ", FULL_SPACE * 2))
    return f"{left}{text}{right}"


def excel_serial(day: date) -> int:
    return (day - EXCEL_DAY0).days


# --- dates ----------------------------------------------------------------------------------------


def _d_iso(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


DATE_TEXT: dict[str, Callable[[date], str]] = {
    "iso": _d_iso,
    "iso_unpadded": lambda d: f"{d.year}-{d.month}-{d.day}",
    "slash": lambda d: f"{d.year}/{d.month}/{d.day}",
    "slash_padded": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "dot": lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}",
    "compact": lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "chinese_padded": lambda d: f"{d.year}年{d.month:02d}月{d.day:02d}日",
    "datetime_text": lambda d: f"{_d_iso(d)} 00:00:00",
    "full_width": lambda d: full_width(f"{d.year}年{d.month}月{d.day}日"),
    "full_width_iso": lambda d: full_width(_d_iso(d)),
}
DATE_CELL: dict[str, Callable[[date], XCell]] = {
    "date_cell": lambda d: XCell("date", d, "yyyy-mm-dd"),
    "date_cell_cn": lambda d: XCell("date", d, 'yyyy"年"m"月"d"日"'),
    "datetime_cell": lambda d: XCell("datetime", d, "yyyy-mm-dd hh:mm:ss"),
    "serial": lambda d: XCell("number", excel_serial(d)),  # a date cell whose format was cleared
}


def date_cell(d: date, form: str) -> str | XCell:
    if form in DATE_CELL:
        return DATE_CELL[form](d)
    return EXPORT_DATE_TEXT[form](d) if form in EXPORT_DATE_TEXT else DATE_TEXT[form](d)


_MON = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_CN_DIGIT = "〇一二三四五六七八九"


def _cn_count(n: int) -> str:
    """1..31 in Chinese numerals as a date writes them: 五, 十, 十二, 二十, 三十一."""
    tens, ones = divmod(n, 10)
    if not tens:
        return _CN_DIGIT[n]
    return ("" if tens == 1 else _CN_DIGIT[tens]) + "十" + (_CN_DIGIT[ones] if ones else "")


# Dates as a whole file of some clerks is written: a database's export (Oracle's default
# DD-MON-RR in its Chinese and English settings, the Chinese one padding a one-digit month to
# the width of two: 05-4月 -26), Excel's d-mmm-yy shown as text, SAS's DATE9., a two-digit year
# in Chinese, and a formal document's Chinese numerals. Each reads as one date to a person who
# knows the month the file is for; none is ambiguous in its order. Kept apart from DATE_TEXT so
# that the stray forms drawn from it stay the draws they were.
EXPORT_DATE_TEXT: dict[str, Callable[[date], str]] = {
    "oracle_cn": lambda d: (
        f"{d.day:02d}-{d.month}月{' ' if d.month < 10 else ''}-{d.year % 100:02d}"
    ),
    "oracle_en": lambda d: f"{d.day:02d}-{_MON[d.month - 1]}-{d.year % 100:02d}",
    "excel_dmy": lambda d: f"{d.day}-{_MON[d.month - 1].title()}-{d.year % 100:02d}",
    "sas": lambda d: f"{d.day:02d}{_MON[d.month - 1]}{d.year}",
    "two_digit_chinese": lambda d: f"{d.year % 100:02d}年{d.month}月{d.day}日",
    "chinese_numerals": lambda d: (
        "".join(_CN_DIGIT[int(c)] for c in str(d.year))
        + f"年{_cn_count(d.month)}月{_cn_count(d.day)}日"
    ),
}
# two digits of the year: read against the month the file is for, so never for a date of birth
TWO_DIGIT_YEAR = frozenset({"oracle_cn", "oracle_en", "excel_dmy", "two_digit_chinese"})


def ambiguous_date(d: date) -> str | None:
    """A form a person can read two ways (day/month or month/day): a field problem, never a value."""
    if d.day > 12 or d.day == d.month:
        return None
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


# --- months (入学年月) ---------------------------------------------------------------------------

MONTH_TEXT: dict[str, Callable[[date], str]] = {
    "iso": lambda d: f"{d.year:04d}-{d.month:02d}",
    "dot": lambda d: f"{d.year}.{d.month:02d}",  # zero-padded: 2025.1 could be January or October
    "chinese": lambda d: f"{d.year}年{d.month}月",
    "chinese_padded": lambda d: f"{d.year}年{d.month:02d}月",
    "compact": lambda d: f"{d.year:04d}{d.month:02d}",
    "slash": lambda d: f"{d.year}/{d.month}",
    "first_day": lambda d: f"{d.year:04d}-{d.month:02d}-01",
    "full_width": lambda d: full_width(f"{d.year}.{d.month:02d}"),
}
MONTH_CELL: dict[str, Callable[[date], XCell]] = {
    "month_cell": lambda d: XCell("date", d, "yyyy-mm"),
    "month_cell_cn": lambda d: XCell("date", d, 'yyyy"年"m"月"'),
}


def month_cell(d: date, form: str) -> str | XCell:
    return MONTH_CELL[form](d) if form in MONTH_CELL else MONTH_TEXT[form](d)


# --- years (参保年度) ----------------------------------------------------------------------------

YEAR_TEXT: dict[str, Callable[[int], str]] = {
    "plain": str,
    "float": lambda y: f"{y}.0",  # what a script that read the sheet as floats wrote back
    "nian": lambda y: f"{y}年",
    "niandu": lambda y: f"{y}年度",
    "full_width": lambda y: full_width(str(y)),
    "full_width_niandu": lambda y: full_width(str(y)) + "年度",
}
YEAR_CELL: dict[str, Callable[[int], XCell]] = {
    "number": lambda y: XCell("number", float(y)),
    "number_text": lambda y: XCell("text", str(y), "@"),
}


def year_cell(y: int, form: str) -> str | XCell:
    return YEAR_CELL[form](y) if form in YEAR_CELL else YEAR_TEXT[form](y)


# --- integers (保障人数, 家庭人口数, 受灾人口) ---------------------------------------------------

INT_TEXT: dict[str, Callable[[int], str]] = {
    "plain": str,
    "float": lambda n: f"{n}.0",
    "ren": lambda n: f"{n}人",
    "full_width": lambda n: full_width(str(n)),
}
INT_CELL: dict[str, Callable[[int], XCell]] = {"number": lambda n: XCell("number", float(n))}


def int_cell(n: int, form: str) -> str | XCell:
    return INT_CELL[form](n) if form in INT_CELL else INT_TEXT[form](n)


# --- amounts ------------------------------------------------------------------------------------
# values arrive as integer hundredths of the column's unit (fen in 元 columns, 0.01 万元, 0.01 m²)


def _decimal(hundredths: int) -> Decimal:
    return Decimal(hundredths).scaleb(-2)


def _two(h: int) -> str:
    return f"{_decimal(h):.2f}"


def _short(h: int) -> str:
    text = f"{_decimal(h):.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _grouped(h: int) -> str:
    return f"{_decimal(h):,.2f}"


def _grouped_short(h: int) -> str:
    text = _grouped(h)
    return text.rstrip("0").rstrip(".")


def _wan(fen: int) -> str | None:
    """元 in 万元 when it is short (a multiple of 100 元): 5000 元 -> 0.5万元."""
    if fen % 10_000:
        return None
    text = f"{Decimal(fen).scaleb(-6):f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "万元"


YUAN_TEXT: dict[str, Callable[[int], str | None]] = {
    "two": _two,
    "short": _short,
    "grouped": _grouped,
    "yuan": lambda h: _short(h) + "元",
    "grouped_yuan": lambda h: _grouped(h) + "元",
    "spaced_yuan": lambda h: _two(h) + " 元",
    "sign": lambda h: "￥" + _grouped(h),
    "sign_half": lambda h: "¥" + _short(h),
    "sign_short": lambda h: "￥" + _grouped_short(h),
    "wan": _wan,
    "full_width": lambda h: full_width(_two(h)),
    "full_width_yuan": lambda h: full_width(_short(h)) + "元",
}
WAN_TEXT: dict[str, Callable[[int], str | None]] = {  # a 万元 column (注册资本)
    "two": _two,
    "short": _short,
    "wan": lambda h: _short(h) + "万",
    "wanyuan": lambda h: _short(h) + "万元",
    "in_yuan": lambda h: f"{h * 100}元",  # 50 万 written out as 500000元
    "in_yuan_grouped": lambda h: f"{h * 100:,}元",
    "full_width": lambda h: full_width(_short(h)),
}
AREA_TEXT: dict[str, Callable[[int], str | None]] = {  # 建筑面积 (平方米)
    "two": _two,
    "short": _short,
    "pingfangmi": lambda h: _two(h) + "平方米",
    "square_metre_sign": lambda h: _short(h) + "㎡",
    "m2": lambda h: _short(h) + "m²",
    "full_width": lambda h: full_width(_two(h)),
}
AMOUNT_CELL: dict[str, Callable[[int], XCell]] = {
    "number": lambda h: XCell("number", h / 100),
    "number_grouped": lambda h: XCell("number", h / 100, "#,##0.00"),
    "number_text": lambda h: XCell("text", _two(h), "@"),
}
AMOUNT_TABLES = {"元": YUAN_TEXT, "万元": WAN_TEXT, "平方米": AREA_TEXT}


def amount_cell(hundredths: int, unit: str, form: str) -> str | XCell:
    if form in AMOUNT_CELL:
        return AMOUNT_CELL[form](hundredths)
    text = AMOUNT_TABLES[unit].get(form, _two)(hundredths)
    return text if text is not None else _two(hundredths)


# --- yes / no -----------------------------------------------------------------------------------

YES_NO_PAIRS: dict[str, tuple[str, str]] = {
    "shi_fou": ("是", "否"),
    "tick_cross": ("√", "×"),
    "y_n": ("Y", "N"),
    "y_n_lower": ("y", "n"),
    "full_width_y_n": ("Ｙ", "Ｎ"),
}


def yes_no_cell(value: bool, form: str) -> str:
    return YES_NO_PAIRS[form][0 if value else 1]


# --- ID numbers -----------------------------------------------------------------------------------
# readable: a person reads the same 18-character number (or the legacy 15-digit one it came from)


def legacy_15(id18: str) -> str | None:
    """The pre-1999 15-digit number: no century, no check character (only for 19xx births)."""
    return id18[:6] + id18[8:17] if id18[6:8] == "19" else None


ID_TEXT: dict[str, Callable[[str], str | None]] = {
    "plain": lambda i: i,
    "lower_x": lambda i: i[:-1] + "x" if i.endswith("X") else None,
    "times_x": lambda i: i[:-1] + "×" if i.endswith("X") else None,
    "full_width": full_width,
    "outer_spaces": lambda i: f" {i}  ",
    "full_space": lambda i: f"{FULL_SPACE}{i}",
    "grouped": lambda i: f"{i[:6]} {i[6:14]} {i[14:]}",
    "apostrophe": lambda i: "'" + i,  # Excel's text prefix, left in a CSV export
    "formula_text": lambda i: RawCsv(f'="{i}"'),  # the CSV trick that keeps Excel from rounding
    "tab": lambda i: "\t" + i,  # exported by systems that want Excel to keep text
    "zero_width": lambda i: i + "\u200b",
    "bidi": lambda i: "\u202d" + i + "\u202c",  # copied from a right-to-left aware dialog
    "legacy_15": legacy_15,
    "double_quotes": lambda i: f"“{i}”",
}
ID_CELL: dict[str, Callable[[str], XCell | None]] = {
    "quote_prefix": lambda i: XCell("text", i, "", True),
    "text_format": lambda i: XCell("text", i, "@"),
}


def id_cell(id18: str, form: str) -> str | XCell | None:
    """The ID as written in `form`, or None when the form does not apply to this number."""
    if form in ID_CELL:
        return ID_CELL[form](id18)
    return ID_TEXT[form](id18)


def destroyed_id(id18: str, workbook: bool) -> str | XCell:
    """What Excel leaves of an 18-digit ID typed into a General cell: 15 significant digits.

    In a workbook it is a number (shown as 341502199001011000); saved to CSV it is the
    scientific notation the cell displayed. Only the area code (and in the number, the birth
    date) survive: a person needs the name and village to know whose it was.
    """
    number = int(id18[:17] + (id18[17] if id18[17].isdigit() else "0"))
    if workbook:
        return XCell("number", float(round(number, -3)), "0")
    return f"{number / 1e17:.5f}E+17"


# --- names --------------------------------------------------------------------------------------


def name_cell(name: str, form: str) -> str:
    if form == "middle_full_space" and len(name) == 2:
        return name[0] + FULL_SPACE + name[1]  # two-character names padded to line up with three
    if form == "middle_spaces" and len(name) == 2:
        return name[0] + "  " + name[1]
    if form == "trailing_space":
        return name + " "
    if form == "leading_full_space":
        return FULL_SPACE + name
    return name


# --- vocabularies ---------------------------------------------------------------------------------


def enum_cell(value: str, form: str, rng: random.Random) -> str:
    """A value from the contract's vocabulary, as typed: padded, full-width letters, a 级 suffix."""
    if form == "padded":
        return padded(value, rng)
    if form == "full_width" and value.isascii():
        return full_width(value)
    if form == "grade_suffix" and value in ("A", "B", "C", "D"):
        return value + "级"
    return value


# --- 村 cells as some clerks write them -----------------------------------------------------------

DISTRICT_NAME = "金安区"
# how the village is written in its cell, with what a person still reads as that one village:
# the township before it, its committee or its 组 after it, the whole address
VILLAGE_FORMS: dict[str, Callable[[str, str, str], str]] = {
    "with_township": lambda village, township, group: f"{township}{village}",
    "committee": lambda village, township, group: f"{village}委会",
    "committee_full": lambda village, township, group: f"{village}村委会",
    "with_group": lambda village, township, group: f"{village}{group}",
    "address": lambda village, township, group: f"{DISTRICT_NAME}{township}{village}委会",
}
# the forms that carry the township: a file written so may have no 乡镇 column at all
VILLAGE_FORMS_WITH_TOWNSHIP = frozenset({"with_township", "address"})


def village_cell(village: str, township: str, group: str, form: str) -> str:
    """The 村 cell of a row: its village as `form` writes it (a group when the row has none: 一组)."""
    return VILLAGE_FORMS[form](village, township, group or "一组")
