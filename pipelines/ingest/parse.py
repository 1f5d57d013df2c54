"""Vectorised cell parsers over polars Series: text, dates, months, years, amounts, integers, 是/否.

Every parser takes a String Series of raw cells and returns a typed Series of the same length,
null where the cell is blank or unreadable; `unparsed(raw, parsed)` tells the two apart. A cell
is read the way a person reads it (contract §2): surrounding spaces of either width, full-width
characters, invisible marks, units and suffix words and text protection (`'2026`, `="2026"`, a
leading TAB) do not change its value; a cell a person could read two ways (`05/10/2026`,
`1.234,50`, `2026.1` for a month) is unreadable, never a guess.

With `cleaned=True` a parser trusts that its input already went through `clean` (staging
cleans each column once). Common forms take one fast vectorised pass; the slower fallbacks run
only on the cells the fast pass could not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import polars as pl

from pipelines.matching.ids import INVISIBLE

# Excel's day 0 for serials after 1900-02-28 (the 1900 leap-year bug is before any real data)
EXCEL_EPOCH = date(1899, 12, 30)
# serials 10000..80000 are 1927-05-18 .. 2119-01-10: anything else is not a date in these files
SERIAL_RANGE = (10_000, 80_000)
# a written date outside these years is a typo, not a date of these files
DATE_RANGE = (date(1900, 1, 1), date(2100, 12, 31))
YEAR_RANGE = (1900, 2100)
# blank-like cells: nothing was filled in (not an error, not zero)
BLANK_MARKS = ("", "-", "--", "—", "——", "/", "\\", "无", "空", "暂无", "NULL", "null", "None")
# 是否… = 无 is read "no" (a person reads 是否享受资助：无 as 否); elsewhere 无 is blank
YES_NO_BLANK_MARKS = tuple(mark for mark in BLANK_MARKS if mark != "无")
# Exact amounts: 20 digits, 4 after the point (0.0001 of the column's unit). DuckDB stores and
# sums these as DECIMAL(20,4) exactly; 15,927.21 + 2,188.78 + 1,884.01 is 20,000.00, always.
AMOUNT_DTYPE = pl.Decimal(precision=20, scale=4)
AMOUNT_SCALE = 4
# Excel holds 15 significant digits: more in a number cell's text is binary noise
# (19999.999999999996 is the 20000 a person sees)
EXCEL_DIGITS = 15

# A cell NFKC could change: anything but ASCII, the CJK ideographs and the CJK punctuation
# that NFKC leaves alone (、。「」… but not the ideographic space U+3000).
_COMPATIBILITY = (
    "[^\\x00-\\x7f\u3001-\u3035\u3037\u303b-\u303f\u3400-\u4dbf\u4e00-\u9fff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U00030000-\U0003134f]"
)
# Invisible format characters that survive NFKC and are not whitespace, and the control
# characters a database export leaves in a cell: the ones an ID loses too (ids.INVISIBLE)
_INVISIBLE = f"[{INVISIBLE}]"
_SPACES = f"[\\s{INVISIBLE}]+"
# Text protection of a number: Excel's ="2026", a leading apostrophe ('2026)
_PROTECTED = "^(?:'|=\")"
_UNPROTECT = (r'^="(.*)"$', "${1}")
# a value a clerk put in quotes ("2026", “2026”): the quotes are not part of it
_QUOTED = (r'^["“”](.*)["“”]$', "${1}")
# the time of day of an XLSX date cell (2026-10-05 00:00:00), or of a date Excel or WPS wrote
# "as shown" with 上午/下午 or AM/PM (2026/10/5 上午 12:00:00, 2026/10/5 8:05 下午), removed
# before spaces are
_TIME_SUFFIX = (
    r"(?i)[ T]+(?:上午|下午|AM|PM)?\s*[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"\s*(?:上午|下午|AM|PM)?\s*$"
)
# the day of the week Excel's and WPS's long date formats add (2026年10月5日星期一, 2026/10/5
# 周一, 2026-10-05（星期一）): removed after a date's last digit or 日/号, never from a cell that
# holds only a weekday (that is no date)
_WEEKDAY_SUFFIX = (
    r"^(.*[0-9日号])\s*[(（]?\s*(?:星期|周|礼拜)[一二三四五六日天]\s*[)）]?\s*$",
    "${1}",
)
# the time of day written straight after 日/号 (2026年10月5日8:30) or in Chinese (9时15分,
# 下午2点30分), which _TIME_SUFFIX (a space or T before a colon time) leaves
_TIME_AFTER_DAY = (
    r"(?i)([日号])\s*(?:上午|下午|AM|PM)?\s*[0-9]{1,2}"
    r"(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?|[时點点](?:[0-9]{1,2}分(?:[0-9]{1,2}秒)?|整|半)?)"
    r"\s*(?:上午|下午|AM|PM)?\s*$",
    "${1}",
)
_CHINESE_TIME = (
    r"(?i)[ T]+(?:上午|下午)?\s*[0-9]{1,2}[时點点](?:[0-9]{1,2}分(?:[0-9]{1,2}秒)?|整|半)?\s*$",
    "",
)
# a note in brackets after a date (2026.10.5（补录）, 2026年10月（上报）): not part of it. A note
# holding a digit (2026.10.5（原2026.9.5）) may be another date, and stays (unread)
_DATE_NOTE = (r"^(.*[0-9日号月])\s*[(（\[【][^()（）\[\]【】0-9]*[)）\]】]\s*$", "${1}")
_YMD = r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})[日号]?$"
_COMPACT_DATE = r"^([0-9]{4})([0-9]{2})([0-9]{2})$"
# day and month before a 4-digit year: read only when one order gives a real date (25/10/2026)
# or both give the same (05/05/2026); 05/10/2026 could be either and stays unread
_YEAR_LAST = r"^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})$"
# the month spelt, the day before it, as Oracle writes its default DD-MON-RR (05-10月-26; a
# Chinese session pads the month, 05-4月 -26) and Excel its d-mmm-yy (5-Oct-26), or SAS its
# DATE9. (05OCT2026): the order is plain. A two-digit year here, or before 年 (26年10月5日), is
# read against the run's year (`pivot`: the latest such year not after it); without one it is
# refused, as every other two-digit year is (26/10/5 may be any order)
_SPELT_MONTH = r"(?i)^([0-9]{1,2})[-/.]?([0-9]{1,2}月|[A-Z]{3,9})[-/.]?([0-9]{2}|[0-9]{4})$"
_SHORT_YEAR_YMD = r"^([0-9]{2})年([0-9]{1,2})月(?:份|([0-9]{1,2})[日号]?)?$"
_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("JAN", "JANUARY"), ("FEB", "FEBRUARY"), ("MAR", "MARCH"), ("APR", "APRIL"),
            ("MAY",), ("JUN", "JUNE"), ("JUL", "JULY"), ("AUG", "AUGUST"),
            ("SEP", "SEPT", "SEPTEMBER"), ("OCT", "OCTOBER"), ("NOV", "NOVEMBER"),
            ("DEC", "DECEMBER"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
# a date in Chinese numerals (二〇二六年十月五日, 二零二五年九月): the year digit by digit, the
# month and day as numbers (十 10, 十五 15, 二十 20, 三十一 31)
_CHINESE_DIGITS = {c: str(n) for n, c in enumerate("〇一二三四五六七八九")} | {
    "零": "0", "○": "0", "O": "0", "o": "0",
}  # fmt: skip
_CHINESE_DATE = (
    r"^([〇零○Oo一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月份?"
    r"(?:([一二三四五六七八九十]{1,3})[日号])?$"
)
_CHINESE_NUMBER = (
    r"^(?:十|十[一二三四五六七八九]|[一二三四五六七八九]|[二三]十[一二三四五六七八九]?)$"
)
_YM = r"^([0-9]{4})[-/.年]([0-9]{1,2})(?:月份?)?$"
_COMPACT_MONTH = r"^([0-9]{4})([0-9]{2})$"
_MONTH_YEAR = r"^([0-9]{1,2})[-/.]([0-9]{4})$"
# Excel shows the number 2026.10 as 2026.1: a month written with a point and a lone 1 may be
# January or October
_AMBIGUOUS_MONTH = r"^[0-9]{4}\.1$"
# every form of a date written without its day that parse_date reads as the month's first day
# (2026-10, 2026年10月, 202610, 10/2026, 26年10月份, 二〇二六年十月)
_WITHOUT_DAY = "|".join(
    (
        _YM,
        _COMPACT_MONTH,
        _MONTH_YEAR,
        r"^[0-9]{2}年[0-9]{1,2}月份?$",
        r"^[〇零○Oo一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月份?$",
    )
)
_SERIAL = r"^[0-9]{5}(?:\.[0-9]+)?$"
_INT = r"^-?[0-9]{1,18}$"
_INT_SUFFIX = r"(?:年度|年|口人|人|户|口|个|名|位)$"
_YEAR_SUFFIX = r"(?:年度|年)$"
# an Excel number cell's text: 2026.0, 3.00, or binary noise past 15 significant digits
_FLOAT_ZERO = r"^(-?[0-9]+)\.0+$"
_LONG_FRACTION = r"^-?[0-9]+\.[0-9]+$"
# An amount: sign, currency, thousands groups of three (only well-placed ones), a fraction,
# a unit. The unit's power of ten: 万 = 4, 千 = 3, 元 = 0.
_PLAIN_AMOUNT = r"^-?[0-9]{1,11}(?:\.[0-9]{1,4})?$"
_CURRENCIES = "RMB|CNY|人民币"  # written before the number (with ¥) or after it
_UNIT_WORDS = "万元|万|千元|千|元整|元|圆|平方米|平米|M2"
_AMOUNT = (
    rf"(?i)^(?<s1>[-+]?)(?<cur>¥|{_CURRENCIES})?(?<s2>[-+]?)"
    r"(?<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?<frac>[0-9]+))?"
    rf"(?<unit>{_UNIT_WORDS}|{_CURRENCIES})?$"
)
_ACCOUNTING_ZERO = rf"(?i)^(¥|{_CURRENCIES})[-‐‑–—]+$"
# a unit or the currency in brackets after the number, as a template's header writes it
# (50.00（万元）, 60(万元), 60.00万元（人民币）): the unit read as if written plain; a bracketed
# number ((500), an accounting negative) is still refused
_CURRENCY_NOTE = rf"(?i)^(.*[0-9.元万千圆整])\((?:{_CURRENCIES})\)$"
_BRACKETED_UNIT = rf"(?i)^([-+]?(?:¥|{_CURRENCIES})?[-+]?[0-9.,]*[0-9])\(({_UNIT_WORDS})\)$"
_MONEY_UNITS = {"万元": 4, "万": 4, "千元": 3, "千": 3, "元整": 0, "元": 0, "圆": 0}
# no unit of its own (a bare number, or only a currency: RMB 100): the column's unit
_COLUMN_UNIT = ("", "RMB", "CNY", "人民币")
AREA_UNITS = ("平方米", "平米", "M2")
# the column units parse_amount knows: 元, 千元 and 万元 (money), 平方米 (floor area)
_COLUMN_POWER = {"元": 0, "千元": 3, "万元": 4}
MONEY_COLUMN_UNITS = tuple(_COLUMN_POWER)

YES_MARKS = (
    *("是", "是的", "有", "√", "✓", "✔", "☑", "✅", "Y", "YES", "T", "TRUE", "1"),
    *("已", "已享受", "享受", "已解决", "解决"),
    *("享受中", "已领取", "已发放", "已落实"),
)
NO_MARKS = (
    *("否", "不是", "无", "没有", "×", "✗", "✘", "☒", "❌", "N", "NO", "F", "FALSE", "0"),
    *("未", "未享受", "不享受", "没享受", "未解决", "没解决", "不"),
    *("没有享受", "尚未解决", "未领取", "未发放", "未落实"),
)
# a value with a note in brackets closing it (NFKC has folded full-width brackets): the value,
# group 1, and the note, group 2. A 是/否 mark (是（已享受）), a coded value (D级（危房）) and a
# header (个人自付（元）) may carry one
NOTE_AFTER = r"^(.+?)\(([^()]*)\)$"


def _null_if(values: pl.Series, mask: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"v": values, "m": mask})
    return frame.select(
        pl.when(pl.col("m").fill_null(False)).then(None).otherwise(pl.col("v")).alias(values.name)
    ).to_series()


def _patch(
    values: pl.Series,
    todo: pl.Series,
    fallback: Callable[[pl.Series], pl.Series],
    source: pl.Series,
) -> pl.Series:
    """Fill values[todo] with fallback(source[todo]): the slow path only where it is needed."""
    todo = todo.fill_null(False)
    if not todo.any():
        return values
    positions = todo.arg_true()
    return values.scatter(positions, fallback(source.gather(positions)).cast(values.dtype))


def nfkc(values: pl.Series) -> pl.Series:
    """NFKC-normalise only the cells holding a character NFKC could change (full-width forms,
    ideographic space, NBSP, Kangxi radicals, circled digits …): normalising every cell of a
    large column costs more than the rest of its parsing."""
    values = values.cast(pl.String)
    affected = values.str.contains(_COMPATIBILITY).fill_null(False)
    return _patch(values, affected, lambda part: part.str.normalize("NFKC"), values)


def _unprotect(values: pl.Series) -> pl.Series:
    """Text protection of a number undone: ="2026" and '2026 are 2026."""
    protected = values.str.contains(_PROTECTED).fill_null(False)
    return _patch(
        values,
        protected,
        lambda part: part.str.replace(*_UNPROTECT).str.replace(r"^'", ""),
        values,
    )


def text(values: pl.Series) -> pl.Series:
    """Cell text with full-width folded (NFKC), invisible marks and outer whitespace stripped,
    text protection ('…, ="…") undone; blank -> null."""
    cleaned = nfkc(values)
    invisible = cleaned.str.contains(_INVISIBLE).fill_null(False)
    cleaned = _patch(cleaned, invisible, lambda part: part.str.replace_all(_INVISIBLE, ""), cleaned)
    cleaned = _unprotect(cleaned.str.strip_chars()).str.strip_chars()
    return _null_if(cleaned, cleaned == "")


def compact(values: pl.Series) -> pl.Series:
    """Cell text with every space and invisible mark removed too (place names, enums, numbers);
    blank -> null."""
    cleaned = nfkc(values).str.replace_all(_SPACES, "")
    return _null_if(cleaned, cleaned == "")


def clean(values: pl.Series, *, dates: bool = False, yes_no: bool = False) -> pl.Series:
    """The input of every typed parser: compact text without text protection or enclosing
    quotes, null when blank-like (- / 无 …).

    For dates the time of day of an XLSX date cell is dropped first. For 是/否 fields 无 is a
    value (no), not a blank.
    """
    values = values.cast(pl.String)
    if dates:
        # NFKC first: a full-width space or colon must not hide the time of day
        values = nfkc(values)
        values = (
            values.str.replace(*_DATE_NOTE)
            .str.replace(_TIME_SUFFIX, "")
            .str.replace(*_CHINESE_TIME)
            .str.replace(*_TIME_AFTER_DAY)
            .str.replace(*_WEEKDAY_SUFFIX)
        )
    cleaned = compact(values)
    marked = (cleaned.str.starts_with("'") | cleaned.str.starts_with("=")).fill_null(False) | (
        cleaned.str.contains(r'^["“”]').fill_null(False)
    )
    if marked.any():
        cleaned = _patch(
            cleaned,
            marked,
            lambda part: part.str.replace(*_UNPROTECT).str.replace(r"^'", "").str.replace(*_QUOTED),
            cleaned,
        )
    return _null_if(cleaned, cleaned.is_in(YES_NO_BLANK_MARKS if yes_no else BLANK_MARKS))


def is_blank(values: pl.Series, *, yes_no: bool = False) -> pl.Series:
    """True when the cell holds nothing or only a blank mark such as - / 无 (for 是/否 fields
    无 is a value)."""
    return clean(values, yes_no=yes_no).is_null()


# --- dates -----------------------------------------------------------------------------------


def _in_range(parsed: pl.Series) -> pl.Series:
    return _null_if(parsed, ~parsed.is_between(*DATE_RANGE))


def _serial_date(value: pl.Series) -> pl.Series:
    # only a serial's text is turned into a number: nan, inf, 1e400 or a 20-digit number (an ID
    # in the date column) would not fit a day count, and are unread dates, not a failed run
    serial = _null_if(value, ~value.str.contains(_SERIAL).fill_null(False))
    days = serial.cast(pl.Float64, strict=False).floor().cast(pl.Int64, strict=False)
    days = _null_if(days, ~days.is_between(*SERIAL_RANGE).fill_null(False))
    return pl.select(pl.lit(EXCEL_EPOCH) + pl.duration(days=days)).to_series().cast(pl.Date)


def _year_last(value: pl.Series) -> pl.Series:
    """25/10/2026 (day first) or 10/25/2026 (month first): only when the order is plain."""
    parts = value.str.extract_groups(_YEAR_LAST)
    first = parts.struct.field("1").cast(pl.Int64)
    second = parts.struct.field("2").cast(pl.Int64)
    year = parts.struct.field("3")
    frame = pl.DataFrame({"a": first, "b": second, "y": year})
    iso = frame.select(
        pl.when(pl.col("a") == pl.col("b"))
        .then(pl.format("{}-{}-{}", "y", "a", "b"))
        .when((pl.col("a") > 12) & (pl.col("b") <= 12))
        .then(pl.format("{}-{}-{}", "y", "b", "a"))
        .when((pl.col("b") > 12) & (pl.col("a") <= 12))
        .then(pl.format("{}-{}-{}", "y", "a", "b"))
    ).to_series()
    return iso.str.to_date("%Y-%m-%d", strict=False)


def _century(years: pl.Series, pivot: int | None) -> pl.Series:
    """Four-digit years as they are; a two-digit one as the latest year ending in it that is not
    after `pivot` (null without a pivot)."""
    number = years.cast(pl.Int64, strict=False)
    short = years.str.len_chars() == 2
    if pivot is None:
        return _null_if(number, short)
    full = number + pivot // 100 * 100
    return pl.select(
        pl.when(~short).then(number).when(full > pivot).then(full - 100).otherwise(full)
    ).to_series()


def _iso(year: pl.Series, month: pl.Series, day: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"y": year, "m": month, "d": day})
    iso = frame.select(pl.format("{}-{}-{}", "y", "m", "d")).to_series()
    return _in_range(iso.str.to_date("%Y-%m-%d", strict=False))


def _spelt_month(value: pl.Series, pivot: int | None) -> pl.Series:
    """05-10月-26, 05-OCT-26, 5-Oct-2026, 05OCT2026, 26年10月5日 (see _SPELT_MONTH)."""
    spelt = value.str.extract_groups(_SPELT_MONTH)
    month = _month_number(spelt.struct.field("2").str.to_uppercase())
    parsed = _iso(_century(spelt.struct.field("3"), pivot), month, spelt.struct.field("1"))
    # 26年10月5日, and a month without its day (25年9月, 25年9月份: the first of the month)
    short = value.str.extract_groups(_SHORT_YEAR_YMD)
    day = short.struct.field("3")
    year_first = _iso(
        _century(short.struct.field("1"), pivot),
        short.struct.field("2").cast(pl.Int64, strict=False),
        _day_or_first(day.cast(pl.Int64, strict=False).cast(pl.String), day),
    )
    return parsed.fill_null(year_first)


def _month_number(month: pl.Series) -> pl.Series:
    """A spelt month's number: 10月 -> 10, OCT/October -> 10; anything else null."""
    numbered = month.str.strip_suffix("月").cast(pl.Int64, strict=False)
    named = month.replace_strict(_MONTH_NAMES, default=None, return_dtype=pl.Int64)
    return numbered.fill_null(named)


def _chinese_number(part: str | None) -> str | None:
    """十五 -> 15, 二十 -> 20, 五 -> 5; a malformed numeral (十十, 二二) -> None."""
    if not part or not re.match(_CHINESE_NUMBER, part):
        return None
    if "十" not in part:
        return _CHINESE_DIGITS[part]
    tens, _, units = part.partition("十")
    return str(
        int(_CHINESE_DIGITS[tens] if tens else "1") * 10 + int(_CHINESE_DIGITS.get(units, "0"))
    )


def _chinese_date(value: pl.Series) -> pl.Series:
    """二〇二六年十月五日 as 2026-10-05; 二〇二五年九月 as the first of the month."""
    parts = value.str.extract_groups(_CHINESE_DATE)
    year = parts.struct.field("1").str.replace_many(
        list(_CHINESE_DIGITS), list(_CHINESE_DIGITS.values())
    )
    month, day = (
        parts.struct.field(n).map_elements(_chinese_number, return_dtype=pl.String)
        for n in ("2", "3")
    )
    day = _day_or_first(day, parts.struct.field("3"))
    return _iso(year, month, day)


def _day_or_first(day: pl.Series, written: pl.Series) -> pl.Series:
    """A month without a day is its first day; a day written but unreadable stays unread."""
    return pl.select(pl.when(written.is_null()).then(pl.lit("1")).otherwise(day)).to_series()


def _date_fallback(value: pl.Series, pivot: int | None = None) -> pl.Series:
    parsed = _serial_date(value)
    parsed = _patch(parsed, parsed.is_null(), _year_last, value)
    parsed = _patch(parsed, parsed.is_null(), lambda part: _spelt_month(part, pivot), value)
    return _patch(
        parsed, parsed.is_null() & value.str.contains("年").fill_null(False), _chinese_date, value
    )


def _month_only(value: pl.Series) -> pl.Series:
    month_forms = (
        value.str.contains(_YM) | value.str.contains(_COMPACT_MONTH)
    ) & ~value.str.contains(_AMBIGUOUS_MONTH) | value.str.contains(_MONTH_YEAR)
    iso = (
        value.str.replace(_YM, "${1}-${2}-1")
        .str.replace(_COMPACT_MONTH, "${1}-${2}-1")
        .str.replace(_MONTH_YEAR, "${2}-${1}-1")
    )
    return _in_range(_null_if(iso, ~month_forms).str.to_date("%Y-%m-%d", strict=False))


def _full_date(value: pl.Series, pivot: int | None = None) -> pl.Series:
    iso = value.str.replace(_YMD, "${1}-${2}-${3}").str.replace(_COMPACT_DATE, "${1}-${2}-${3}")
    parsed = _in_range(iso.str.to_date("%Y-%m-%d", strict=False))
    return _patch(
        parsed,
        parsed.is_null() & value.is_not_null(),
        lambda part: _date_fallback(part, pivot),
        value,
    )


def parse_date(values: pl.Series, *, cleaned: bool = False, pivot: int | None = None) -> pl.Series:
    """2026-10-05, 2026/10/5, 2026.10.05, 20261005, 2026年10月5日/号 (spaces anywhere, full-width),
    XLSX datetimes (2026-10-05 00:00:00, 2026/10/05 0:00, 2026/10/5 上午 12:00:00), long dates
    with their weekday (2026年10月5日星期一), Excel serials (46300, 46300.0), 25/10/2026 or
    10/25/2026 where only one order is a date, the month spelt after the day (Oracle's
    05-10月-2026 and 05-OCT-2026, Excel's 5-Oct-2026, SAS's 05OCT2026), and Chinese numerals
    (二〇二六年十月五日).

    A bare year and month (2026-10, 202610) is read as the first day of that month (`without_day`
    tells those cells apart: their day is unknown, not the first). A two-digit year is read only
    where the order is plain (05-10月-26, 05-OCT-26, 26年10月5日) and a `pivot` year is given
    (staging gives the run's year for event dates, none for birth dates): the latest year ending
    in those digits that is not after the pivot. Refused: impossible dates
    (2026-02-30), other two-digit years (26/10/5), day/month that could be either (05/10/2026),
    2026.1 (January, or October with its 0 dropped), years outside 1900–2100.
    """
    value = values if cleaned else clean(values, dates=True)
    parsed = _full_date(value, pivot)
    return _patch(parsed, parsed.is_null() & value.is_not_null(), _month_only, value)


def without_day(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """True where the cell is a date written with its year and month only (2026-10, 2026年10月,
    202610, 10/2026, 26年10月, 二〇二六年十月): parse_date reads it as the month's first day, a
    day the cell does not say. Whether that month was read at all is parse_date's to tell (2026.1
    and 2026-13 are of this form and unread)."""
    value = values if cleaned else clean(values, dates=True)
    return value.str.contains(_WITHOUT_DAY).fill_null(False)


def parse_month(values: pl.Series, *, cleaned: bool = False, pivot: int | None = None) -> pl.Series:
    """2025-09, 2025年9月(份), 202509, 2025.09, 2025/9, 09/2025 and every date form (parse_date,
    `pivot` as there) -> the first day of that month. 2025.1 is refused (Excel shows 2025.10 as
    2025.1)."""
    value = values if cleaned else clean(values, dates=True)
    parsed = _month_only(value)
    missing = parsed.is_null() & value.is_not_null()
    return _patch(parsed, missing, lambda part: _full_date(part, pivot).dt.month_start(), value)


# --- numbers ---------------------------------------------------------------------------------


def _excel_rounded(value: pl.Series) -> pl.Series:
    """A number's text with more than 15 significant digits rounded to 15, as Excel shows it
    (2.9999999999999996 -> 3, 19999.999999999996 -> 20000); other cells unchanged."""
    long = value.str.contains(_LONG_FRACTION).fill_null(False) & (
        value.str.replace_all(r"[-.]", "").str.strip_chars_start("0").str.len_chars() > EXCEL_DIGITS
    )

    def rounded(part: pl.Series) -> pl.Series:
        out = []
        with localcontext() as context:
            context.prec, context.rounding = EXCEL_DIGITS, ROUND_HALF_UP
            for text_value in part.to_list():
                number = +Decimal(text_value)
                out.append(f"{number.normalize():f}")
        return pl.Series(out, dtype=pl.String)

    return _patch(value, long, rounded, value)


def _integer_text(value: pl.Series, suffix: str) -> pl.Series:
    """3人 / 2026年度 / 2026.0 / 1,234 -> the integer's digits (text); anything else -> null."""
    stripped = value.str.replace(suffix, "")
    stripped = _excel_rounded(stripped).str.replace(_FLOAT_ZERO, "${1}")
    grouped = stripped.str.contains(r"^-?[0-9]{1,3}(?:,[0-9]{3})+$").fill_null(False)
    stripped = _patch(stripped, grouped, lambda part: part.str.replace_all(",", ""), stripped)
    return _null_if(stripped, ~stripped.str.contains(_INT))


def parse_int(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """3 / 3.0 (an Excel number) / 3人 / 3户 / 3口(人) / 3个 / 2026年(度) / ０３ / 1,234 -> Int64;
    blank -> null. Refused: 3.5, 三, badly grouped 12,34."""
    value = values if cleaned else clean(values)
    direct = value.str.contains(_INT).fill_null(False)
    parsed = _null_if(value, ~direct).cast(pl.Int64, strict=False)
    return _patch(
        parsed,
        ~direct & value.is_not_null(),
        lambda part: _integer_text(part, _INT_SUFFIX).cast(pl.Int64, strict=False),
        value,
    )


_YEAR_NOTE = r"^[^()]+\([^()0-9]*\)$"
_CHINESE_YEAR = r"^[〇零○一二三四五六七八九]{4}(?:年度|年)?$"


def parse_year(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """A calendar year (参保年度): 2026, 2026.0, 2026年, 2026年度, ２０２６, 二〇二六, '2026,
    ="2026" -> Int64.

    A note in brackets after it is not part of it (2026（城乡居民）). Only four digits within
    1900–2100. Refused: 26 (which century?), 2026-2027年度 (two
    years), dates and Excel serials (a day is not a year), 2026.5.
    """
    value = values if cleaned else clean(values)
    # a note in brackets after the year (2026（城乡居民）) is not part of it; one holding a digit
    # (2026(2027)) may be another year, and stays
    noted = value.str.contains(_YEAR_NOTE).fill_null(False)
    value = _patch(value, noted, lambda part: part.str.replace(r"\s*\([^()]*\)$", ""), value)
    # written in Chinese numerals digit by digit (二〇二六, 二零二六年度), as a date's year is
    chinese = value.str.contains(_CHINESE_YEAR).fill_null(False)
    value = _patch(
        value,
        chinese,
        lambda part: part.str.replace_many(list(_CHINESE_DIGITS), list(_CHINESE_DIGITS.values())),
        value,
    )
    direct = value.str.contains(r"^[0-9]{4}$").fill_null(False)
    digits = _patch(
        _null_if(value, ~direct),
        ~direct & value.is_not_null(),
        lambda part: _integer_text(part, _YEAR_SUFFIX),
        value,
    )
    digits = _null_if(digits, ~digits.str.contains(r"^[0-9]{4}$"))
    year = digits.cast(pl.Int64, strict=False)
    return _null_if(year, ~year.is_between(*YEAR_RANGE))


def _scaled_text(
    sign: pl.Series, digits: pl.Series, fraction: pl.Series, power: pl.Series
) -> pl.Series:
    """Exact decimal text (scale 4) of sign·digits.fraction·10^power, by moving the point in the
    text: never through a float. Null where more than 4 decimals would remain (rounded by the
    caller) or the value has more than 20 digits."""
    frame = pl.DataFrame({"i": digits, "f": fraction, "p": power})
    scaled = frame.select(
        pl.when(pl.col("p") - pl.col("f").str.len_chars() + AMOUNT_SCALE >= 0).then(
            pl.concat_str(
                [
                    pl.col("i"),
                    pl.col("f"),
                    pl.lit("0" * 8).str.slice(
                        0, pl.col("p") - pl.col("f").str.len_chars() + AMOUNT_SCALE
                    ),
                ]
            )
            .str.strip_chars_start("0")
            .str.zfill(AMOUNT_SCALE + 1)
        )
    ).to_series()
    frame = pl.DataFrame({"s": sign, "n": scaled})
    return frame.select(
        pl.when(pl.col("n").str.len_chars() <= 20).then(
            pl.concat_str(
                [
                    pl.col("s"),
                    pl.col("n").str.slice(0, pl.col("n").str.len_chars() - AMOUNT_SCALE),
                    pl.lit("."),
                    pl.col("n").str.slice(-AMOUNT_SCALE),
                ]
            )
        )
    ).to_series()


def _rounded_amount(sign: str, digits: str, fraction: str, power: int) -> str | None:
    """The slow exact path: 15 significant digits as Excel holds them, then 4 decimals
    (half up) of the column's unit."""
    try:
        number = Decimal(f"{digits or '0'}.{fraction or '0'}")
        with localcontext() as context:
            context.prec, context.rounding = EXCEL_DIGITS, ROUND_HALF_UP
            number = +number
        with localcontext() as context:
            context.prec, context.rounding = 40, ROUND_HALF_UP
            number = number.scaleb(power).quantize(Decimal(1).scaleb(-AMOUNT_SCALE))
    except InvalidOperation:
        return None
    digits_only = f"{number:f}".replace(".", "").lstrip("0")
    if len(digits_only) > 20:
        return None
    return f"{sign}{number:f}"


# a note in brackets after an amount that only says what it is (1200元（门诊慢病）, 100万（认缴）):
# no digit, unit or currency in it (50（美元）), and no word withdrawing the amount (500元（已退费）)
# or reversing it (冲销)
_AMOUNT_NOTE = r"^(.*[0-9元万千圆整])\(([^()0-9]+)\)$"
_AMOUNT_WITHDRAWN = r"退|冲|红字|[元圆币镑美港欧韩万千百亿米亩斤吨%‰$€£¥]"


def _without_note(value: pl.Series) -> pl.Series:
    parts = value.str.extract_groups(_AMOUNT_NOTE)
    note = parts.struct.field("2")
    describes = (
        note.is_not_null()
        & ~note.str.contains(_AMOUNT_WITHDRAWN)
        & ~note.str.contains_any(list(WITHDRAWING))
    ).fill_null(False)
    return value.zip_with(~describes, parts.struct.field("1"))


# an amount in Chinese numerals, as a cheque or a form's 大写 line writes it (叁仟元, 壹万伍仟元整,
# 伍佰元伍角, 三千元, 伍拾万)
_NUMERAL_DIGITS = {c: n for n, c in enumerate("零壹贰叁肆伍陆柒捌玖")} | {
    c: n for n, c in enumerate("〇一二三四五六七八九")
} | {"两": 2}  # fmt: skip
_NUMERAL_UNITS = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}
_DIGIT_CHARS = "".join(_NUMERAL_DIGITS)
_NUMERAL_AMOUNT = (
    rf"^[{_DIGIT_CHARS}拾十佰百仟千万亿]+"
    rf"(?:[元圆](?:[{_DIGIT_CHARS}][角分]){{0,2}})?[整正]?$"
)


def _below_ten_thousand(text: str) -> int | None:
    """壹仟零伍 -> 1005, 拾伍 -> 15, 三千 -> 3000; None where a person could read it two ways or
    not at all (伍仟伍 is 5,500 to some, 伍伍 is no number)."""
    value, digit, unit_before, zero = 0, None, 10_000, False
    for char in text:
        if char in _NUMERAL_DIGITS:
            if digit:
                return None  # two digits in a row
            digit = _NUMERAL_DIGITS[char]
            zero = zero or digit == 0
        else:
            unit = _NUMERAL_UNITS[char]
            if unit >= unit_before:
                return None
            if digit is None and not (value == 0 and unit == 10):
                return None
            if digit == 0:
                return None
            value, unit_before, digit, zero = value + (digit or 1) * unit, unit, None, False
    if digit:
        # a last digit after a unit is that unit's tenth only without 零 (伍仟伍): refused
        if unit_before not in (10, 10_000) and not zero:
            return None
        value += digit
    return value


def _numeral_amount(cell: str) -> str | None:
    """An amount in Chinese numerals as digits the amount parser reads: 叁仟元 -> 3000元,
    伍佰元伍角 -> 500.5元; with 万 or 亿 in it, in 元 (伍拾万 in a 万元 column is 50 万元); bare
    otherwise (the column's unit)."""
    body = cell.rstrip("整正")
    whole, _, cents = body.replace("圆", "元").partition("元")
    if not whole or whole.count("亿") > 1 or whole.count("万") > 1:
        return None
    number, remaining = 0, whole
    for big, size in (("亿", 100_000_000), ("万", 10_000)):
        if big in remaining:
            head, _, remaining = remaining.partition(big)
            read = _below_ten_thousand(head) if head else None
            if read is None or read == 0:
                return None
            number += read * size
    if remaining:
        read = _below_ten_thousand(remaining.lstrip("零") or "零")
        if read is None:
            return None
        number += read
    fraction = ""
    if cents:
        jiao = re.fullmatch(r"(?:(.)角)?(?:(.)分)?", cents)
        if jiao is None:
            return None
        fraction = "." + "".join(str(_NUMERAL_DIGITS[d]) if d else "0" for d in jiao.groups())
    in_yuan = "元" in body or "万" in whole or "亿" in whole
    return f"{number}{fraction}{'元' if in_yuan else ''}"


def _numeral_amounts(values: pl.Series) -> pl.Series:
    return pl.Series([_numeral_amount(v) for v in values.to_list()], dtype=pl.String)


def _amount_text(value: pl.Series, unit: str = "元", bare: str | None = None) -> pl.Series:
    """Amounts with a sign, currency, unit and thousands separators -> exact Decimal.

    A cell's own unit wins over the column's: `5万元` in a 元 column is 50,000, `500000元` in a
    万元 column is 50. A 平方米 column takes only area units; a money column only money ones.
    """
    # an accounting format shows zero as a dash after the currency (¥ -, as Excel and LibreOffice
    # save it "as shown"); a dash alone stays a blank mark
    value = value.str.replace(_ACCOUNTING_ZERO, "${1}0")
    value = value.str.replace(_CURRENCY_NOTE, "${1}").str.replace(_BRACKETED_UNIT, "${1}${2}")
    value = _without_note(value)
    numerals = value.str.contains(_NUMERAL_AMOUNT).fill_null(False)
    value = _patch(value, numerals, _numeral_amounts, value)
    parts = value.str.extract_groups(_AMOUNT)
    field = parts.struct.field
    cell_unit = field("unit").fill_null("").str.to_uppercase()
    currency = field("cur").is_not_null()
    s1, s2 = field("s1").fill_null(""), field("s2").fill_null("")
    integer = field("int").fill_null("").str.replace_all(",", "")
    fraction = field("frac").fill_null("").str.strip_chars_end("0")
    own = ~cell_unit.is_in(_COLUMN_UNIT)
    if unit in _COLUMN_POWER:
        # a cell's own unit wins: its power of ten against the column's; a bare number is in
        # the column's unit, or in the one its header names (`bare`)
        power = cell_unit.replace_strict(
            {u: p - _COLUMN_POWER[unit] for u, p in _MONEY_UNITS.items()},
            default=_COLUMN_POWER[bare or unit] - _COLUMN_POWER[unit],
            return_dtype=pl.Int64,
        )
        allowed = ~own | cell_unit.is_in(list(_MONEY_UNITS))
    else:
        # an area (or other measure) column: its own units only, never money
        power = pl.repeat(0, len(value), eager=True, dtype=pl.Int64)
        allowed = ~currency & (
            (cell_unit == "") | (cell_unit.is_in(AREA_UNITS) if unit == "平方米" else False)
        )
    well_formed = (
        parts.struct.field("int").is_not_null()
        & ((integer != "") | (field("frac").fill_null("") != ""))
        & ((s1 == "") | (s2 == ""))
        & allowed
    ).fill_null(False)
    # at most one of them is set (well_formed): "-" or ""
    sign = (s1 + s2).str.replace_all("+", "", literal=True)
    significant = (integer + fraction).str.strip_chars_start("0")
    exact = well_formed & (significant.str.len_chars() <= EXCEL_DIGITS)
    text_value = _scaled_text(sign, integer, fraction, power)
    text_value = _null_if(text_value, ~exact)
    needs_rounding = well_formed & (~exact | text_value.is_null())
    if needs_rounding.any():
        positions = needs_rounding.arg_true()
        rows = zip(
            sign.gather(positions).to_list(),
            integer.gather(positions).to_list(),
            field("frac").fill_null("").gather(positions).to_list(),
            power.gather(positions).to_list(),
            strict=True,
        )
        rounded = pl.Series([_rounded_amount(*row) for row in rows], dtype=pl.String)
        text_value = text_value.scatter(positions, rounded)
    return text_value.cast(AMOUNT_DTYPE, strict=False)


def parse_amount(
    values: pl.Series, *, cleaned: bool = False, unit: str = "元", bare: str | None = None
) -> pl.Series:
    """An exact amount (Decimal(20,4)) in the column's unit (元, 万元 or 平方米); blank -> null,
    never 0.

    Read: 1234.5, 1,234.50, 1234.5元, 1,234.50 元, ¥1234, ￥1,234, RMB 100, 人民币100元,
    100元整, 5万, 5万元, 1.2万元, 3千元, 50.00（万元）, 60万元（人民币）, -12.5, .5, full-width
    digits and separators, an
    accounting format's zero (¥ -: the currency and a dash; a dash alone is blank); Excel's
    binary noise past 15 significant digits is rounded as Excel shows it; more than 4
    decimals of the unit are rounded half up. Refused: (500) and other bracketed negatives,
    1.234,50 and badly grouped 12,34, scientific notation (1.2E+05 is a rounded display), a
    unit twice (50万万元), a money unit in an area column or an area unit in a money one.
    """
    value = values if cleaned else clean(values)
    if bare is not None and bare != unit:
        # bare numbers in another unit than the column's (a header's 万元): shifted exactly
        return _amount_text(value, unit, bare)
    plain = value.str.contains(_PLAIN_AMOUNT).fill_null(False)
    direct = _null_if(value, ~plain).cast(AMOUNT_DTYPE, strict=False)
    return _patch(
        direct, ~plain & value.is_not_null(), lambda part: _amount_text(part, unit), value
    )


# --- coded values ---------------------------------------------------------------------------------


def parse_enum(
    values: pl.Series, allowed: tuple[str, ...], synonyms: tuple[tuple[str, str], ...] = ()
) -> pl.Series:
    """A coded value (鉴定等级, 救助类型, 在校状态…) as one of `allowed`, where the cell is one: as
    written (spaces of either width out, upper case for Latin codes, traditional characters as
    simplified), by a synonym (在校 is 在读), without a 级/类 suffix (C级 is C), after a code
    (1-在读, 01 低保), or before a note in brackets (D级（危房）, 低保（新增）) that neither names
    another value (辍学（已返校在读）) nor withdraws this one (临时救助（未批准）, 死亡（误报）).
    Anything else comes back as written (the caller reports it outside the allowed values)."""
    value = _enum_value(compact(values), allowed, synonyms)
    coded = value.str.extract(_CODE_AND_LABEL, 1)
    if coded.is_not_null().any():
        label = _enum_value(coded, allowed, synonyms)
        value = _choose(
            (label.is_in(allowed) & ~value.is_in(allowed)).fill_null(False), label, value
        )
    noted = value.str.contains(NOTE_AFTER).fill_null(False) & ~value.is_in(allowed)
    if noted.any():
        head = _enum_value(value.str.replace(NOTE_AFTER, "${1}"), allowed, synonyms)
        note = value.str.replace(NOTE_AFTER, "${2}")
        doubt = _doubting_note(head, note, allowed, synonyms)
        value = _choose(noted & head.is_in(allowed) & ~doubt, head, value)
    # a kind and its sub-kind (监测户-脱贫不稳定户, 监测户：边缘易致贫户): the value both parts
    # read as; parts reading as two values (脱贫户-监测户) stay as written
    parts = value.str.extract_groups(_KIND_AND_SUBKIND)
    split = parts.struct.field("1").is_not_null() & ~value.is_in(allowed)
    if not split.fill_null(False).any():
        return value
    head = _enum_value(parts.struct.field("1"), allowed, synonyms)
    tail = _enum_value(parts.struct.field("2"), allowed, synonyms)
    agree = (split & head.is_in(allowed) & (tail == head)).fill_null(False)
    return _choose(agree, head, value)


# a department's code before the value's name (1-在读, 01低保 once spaces are out, 2.辍学): the
# name is what a person reads; a number followed by a number (3-4级) is no code
_CODE_AND_LABEL = r"^0*[0-9]{1,2}[-—－.．、:：_]?([^-—－.．、:：_0-9].*)$"

# words of a note that say its value did not happen, was withdrawn, is not yet in force or is in
# doubt (临时救助（未批准）, 死亡（误报，已恢复）, 小型轿车（已报废）, 正常参保（已停保）, 辍学（已劝返）,
# 死亡（待核实）, 股东（已转让）, C级（已改造）)
WITHDRAWING = (
    "撤销", "撤回", "撤消", "取消", "作废", "误报", "错报", "有误", "恢复", "注销", "报废", "停保",
    "已停", "退出", "劝返", "已返校", "已复学", "补缴", "补交", "驳回", "不予", "未批", "未通过",
    "未审批", "未核准", "待批", "待审", "审核中", "审批中", "申请中", "拟",
    "待核", "待确认", "待查", "核实中", "核查中", "存疑", "疑似", "过户", "转让", "已变更", "退回",
    "退还", "断保", "断缴", "停缴",
)  # fmt: skip
# of a coded value only: a house renovated since it was graded (D级（已改造）) may no longer be
# that grade; of a 是/否 mark it is what was done (是否解决 是（已改造）)
_CODED_WITHDRAWING = (*WITHDRAWING, "已改造")
# what a note says of the value before it when it was another value once (C级（原D级）): history
_FORMERLY = r"原[^,，;；、]*"
# words before another value that say it is not (一般农户（非脱贫户）, 失业登记（未就业）) or is held
# as well (法定代表人（兼股东）): neither gives the cell a second reading; before the value's own
# word they contradict it (监测户（非监测户）). Longest first: alternatives are tried in order
_NEGATING = ("尚未", "并非", "没有", "不是", "非", "未", "不", "无", "没")
_ALSO = ("兼任", "兼")
# after a withdrawing act, words saying it is under way or failed (辍学（劝返中）, 辍学（劝返未果）):
# the value still stands, as it does where the act is negated (暂停（未恢复）)
_UNDER_WAY = ("中", "未果", "失败")


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _value_words(value: str, synonyms: tuple[tuple[str, str], ...]) -> list[str]:
    """The words a note may name a value by: the value and its synonyms; a Latin code (A–D) only
    as a grade (A级, A类), since its letter is in many words."""
    if value.isascii():
        return [f"{value}级", f"{value}类"]
    return sorted({value} | {word for word, meant in synonyms if meant == value}, key=len)


def _doubting_note(
    head: pl.Series,
    note: pl.Series,
    allowed: tuple[str, ...],
    synonyms: tuple[tuple[str, str], ...],
) -> pl.Series:
    """Where a note in brackets makes its value read two ways: the note is, or names within it,
    another of the values (脱贫户（监测户）, 辍学（已返校在读）, C级（现为A级）, 正常参保（已停保）: 停保
    is 暂停), says the value is not (监测户（非监测户）), or withdraws or doubts the value
    (WITHDRAWING, unless the word is the value's own: 死亡（已注销） is 死亡注销, 退出（已注销） is
    注销; not where the act is negated or under way: 辍学（劝返中）). What it said the value was
    once (原D级), another value said not to be (一般农户（非脱贫户）) or held as well (法定代表人
    （兼股东）) names no other value."""
    present = note.str.replace_all(_FORMERLY, "")
    words = {value: _value_words(value, synonyms) for value in allowed}
    negating, also = _alternatives(_NEGATING), _alternatives(_ALSO)
    doubt = pl.repeat(False, len(note), eager=True)
    asserted = present
    for value, said in words.items():
        alternatives = _alternatives(said)
        denied = f"(?:{negating})(?:{alternatives})"
        is_head = (head == value).fill_null(False)
        doubt = doubt | (is_head & present.str.contains(denied).fill_null(False))
        # another value said not to be, or held as well, is no second reading
        cleared = asserted.str.replace_all(f"{denied}|(?:{also})(?:{alternatives})", "")
        asserted = _choose(is_head, asserted, cleared)
    whole = _enum_value(asserted, allowed, synonyms)
    doubt = doubt | (whole.is_in(allowed) & (whole != head)).fill_null(False)
    for value, said in words.items():
        if value.isascii():
            # a grade within the note (已改造为A级), not a letter of a word
            names = asserted.str.contains(f"(?:^|[^A-Z])(?:{_alternatives(said)})")
        else:
            names = asserted.str.contains_any(said)
        # the value's own words said again (暂停（已停保）) withdraw nothing
        rest = asserted.str.replace_many(said[::-1], [""] * len(said), leftmost=True)
        own = [w for w in _CODED_WITHDRAWING if not any(w in word for word in said)]
        if own:
            acts = _alternatives(own)
            rest = rest.str.replace_all(
                f"(?:{negating})(?:{acts})|(?:{acts})(?:{_alternatives(_UNDER_WAY)})", ""
            )
            withdraws = rest.str.contains_any(own)
        else:
            withdraws = pl.repeat(False, len(note), eager=True)
        doubt = doubt | ((head != value) & names) | ((head == value) & withdraws)
    return doubt.fill_null(False)


_KIND_AND_SUBKIND = r"^([^-—－:：]+)[-—－:：]+([^-—－:：]+)$"


# traditional characters of the coded values' words, as a person reads them (臨時救助 is 临时救助)
_TRADITIONAL = dict(
    zip(
        "農臨時級學輟讀參險殘證戶遷車輛貨轎鑑鑒資貼補護業職專脫貧監測穩邊緣難嚴養銷復畢機輪記經營暫繳費類貳務療醫鄉鎮組無際彈對請係",
        "农临时级学辍读参险残证户迁车辆货轿鉴鉴资贴补护业职专脱贫监测稳边缘难严养销复毕机轮记经营暂缴费类贰务疗医乡镇组无际弹对请系",
        strict=True,
    )
)


def _enum_value(
    value: pl.Series, allowed: tuple[str, ...], synonyms: tuple[tuple[str, str], ...]
) -> pl.Series:
    if all(v.isascii() for v in allowed):
        value = value.str.to_uppercase()
    else:
        value = value.str.replace_many(list(_TRADITIONAL), list(_TRADITIONAL.values()))
    if synonyms:
        value = value.replace(dict(synonyms))
    trimmed = value.str.replace(r"[级类]$", "")
    return _choose(trimmed.is_in(allowed) & ~value.is_in(allowed), trimmed, value)


def _choose(mask: pl.Series, chosen: pl.Series, otherwise: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"m": mask, "c": chosen, "o": otherwise})
    return frame.select(
        pl.when(pl.col("m")).then(pl.col("c")).otherwise(pl.col("o")).alias(otherwise.name)
    ).to_series()


# --- yes / no, ticks, names ------------------------------------------------------------------


def parse_yes_no(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """是/否, 是的/不是, 有/无/没有, √/×, Y/N, YES/NO, T/F, TRUE/FALSE (XLSX boolean cells),
    1/0 (also 1.0/0.0), 已/未, 已享受/未享受, 享受/不享受, 已解决/未解决, 已领取/未领取,
    已发放/未发放, 已落实/未落实, and a mark with a note in brackets (是（已享受）) -> Boolean;
    blank -> null. Refused: ○, a note that says the opposite (是（未享受）), and anything else
    (a circle is yes to some, no to others; 正在解决 is neither).

    With cleaned=True the caller must have cleaned with `clean(values, yes_no=True)`, or 无
    arrives as a blank.
    """
    value = (values if cleaned else clean(values, yes_no=True)).str.to_uppercase()
    value = value.str.replace(r"^([01])\.0+$", "${1}")
    answer = _yes_no(value)
    # a mark with a note: the mark, unless the note is a mark that says the opposite
    noted = value.str.contains(NOTE_AFTER).fill_null(False) & answer.is_null()
    if not noted.any():
        return answer
    parts = value.str.extract_groups(NOTE_AFTER)
    mark, note = _yes_no(parts.struct.field("1")), _note_answer(parts.struct.field("2"))
    agreed = pl.select(pl.when(note.is_null() | (note == mark)).then(mark)).to_series()
    return answer.zip_with(~noted, agreed)


def _note_answer(note: pl.Series) -> pl.Series:
    """What a note in brackets says of a 是/否 mark: a mark itself (已享受, 未解决); else no where
    it denies or withdraws (房屋未倒塌, 不详, 已撤销, 申请中), yes where it says something was done
    (已倒塌, 已资助, 已整改到位); nothing (null) where it says neither (全部倒塌, 2026年3月)."""
    mark = _yes_no(note)
    denies = note.str.contains(_DENYING) | note.str.contains_any(list(WITHDRAWING))
    return pl.select(
        pl.when(mark.is_not_null())
        .then(mark)
        .when(denies)
        .then(pl.lit(False))
        .when(note.str.contains("已", literal=True))
        .then(pl.lit(True))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
    ).to_series()


# and, of a 是/否 mark, an application (已申请: not yet granted)
_DENYING = "[未不没无非否]|申请"


def _yes_no(value: pl.Series) -> pl.Series:
    return pl.select(
        pl.when(value.is_in(YES_MARKS))
        .then(pl.lit(True))
        .when(value.is_in(NO_MARKS))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
    ).to_series()


def parse_tick(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """A tick column (村民组长/党员 in the grid ledger): any mark is True, blank or ×/否 is False."""
    value = (values if cleaned else clean(values)).str.to_uppercase()
    return (value.is_not_null() & ~value.is_in(NO_MARKS)).fill_null(False)


def parse_name(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """Person name: NFKC, no spaces, annotations like （已故）/(户主)/【迁出】 dropped; blank -> null.

    Traditional characters and near-homophones are left alone: that is the matcher's job.
    """
    value = (values if cleaned else clean(values)).str.replace_all(
        r"[(\[【〔][^)\]】〕]*[)\]】〕]", ""
    )
    return _null_if(value, value == "")


# what Excel and WPS show in a cell whose formula failed (a VLOOKUP that found nothing is #N/A),
# and LibreOffice's own error codes (Err:502); a CSV saved from such a sheet holds the same text
_EXCEL_ERROR = (
    r"(?i)^\s*(?:#(?:N/A|DIV/0!|VALUE!|REF!|NAME\?|NUM!|NULL!|GETTING_DATA|SPILL!|CALC!|FIELD!"
    r"|BLOCKED!|CONNECT!|BUSY!|UNKNOWN!|ERROR)|Err:[0-9]{3})\s*$"
)


# a formula the reader could not compute (formulas.py: its text after '='), as against a value
# protected as text the way CSV files write it (="0123", a single quoted literal)
_UNREAD_FORMULA = r'^\s*=(?:[^"“”]|["“”][^"“”]*["“”]\s*\S)'


def formula_cells(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Two masks of the cells that hold no value a person would read:
    - a formula's error value (#N/A, #DIV/0!, Err:502): a sign that the department's workbook
      has a broken formula (never a name, an amount or a tick);
    - a formula's text instead of its result (a workbook saved without results, a formula the
      reader could not compute): never the field's value (a 乡镇 read as =C3, an ID as
      =VLOOKUP(…)).
    One Aho-Corasick pass finds the cells that could be either (none, in most columns)."""
    marked = values.str.contains_any(["#", "Err:", "="]).fill_null(False)
    if not marked.any():
        return marked, marked
    errors = (marked & values.str.contains(_EXCEL_ERROR)).fill_null(False)
    formulas = (marked & values.str.contains(_UNREAD_FORMULA)).fill_null(False)
    return errors, formulas & ~errors


def unparsed(raw: pl.Series, parsed: pl.Series) -> pl.Series:
    """True when the cell had a value but the parser could not read it (a field problem).

    A 是/否 cell 无 is a value: it is never blank-and-null at once, so one rule serves all."""
    return (~is_blank(raw) & parsed.is_null()).fill_null(False)
