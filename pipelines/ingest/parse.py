"""Vectorised cell parsers over polars Series: text, dates, months, amounts, integers and 是/否.

Every parser takes a String Series of raw cells and returns a typed Series of the same length,
null where the cell is blank or unreadable; `unparsed(raw, parsed)` tells the two apart. With
`cleaned=True` a parser trusts that its input already went through `clean` (staging cleans
each column once). Common forms take one fast vectorised pass; the slower fallbacks run only
on the cells the fast pass could not read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

# Excel's day 0 for serials after 1900-02-28 (the 1900 leap-year bug is before any real data)
EXCEL_EPOCH = date(1899, 12, 30)
# serials 10000..80000 are 1927-05-18 .. 2119-01-10: anything else is not a date in these files
SERIAL_RANGE = (10_000, 80_000)
# blank-like cells: nothing was filled in (not an error, not zero)
BLANK_MARKS = ("", "-", "--", "—", "——", "/", "\\", "无", "空", "暂无", "NULL", "null", "None")
# A cell NFKC could change: anything but ASCII, the CJK ideographs and the CJK punctuation
# that NFKC leaves alone (、。「」… but not the ideographic space U+3000).
_COMPATIBILITY = (
    "[^\\x00-\\x7f\u3001-\u3035\u3037\u303b-\u303f\u3400-\u4dbf\u4e00-\u9fff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U00030000-\U0003134f]"
)
# zero-width marks and the BOM survive NFKC and are not whitespace
_INVISIBLE = "[\u200b-\u200f\u2060\ufeff]"
_SPACES = "[\\s\u200b-\u200f\u2060\ufeff]+"
# the time of day of an XLSX date cell (2026-10-05 00:00:00), removed before spaces are
_TIME_SUFFIX = r"[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*$"
_YMD = r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?$"
_COMPACT_DATE = r"^(\d{4})(\d{2})(\d{2})$"
_YM = r"^(\d{4})[-/.年](\d{1,2})月?$"
_COMPACT_MONTH = r"^(\d{4})(\d{2})$"
_SERIAL = r"^\d{5}(?:\.\d+)?$"
YES_MARKS = ("是", "√", "✓", "✔", "☑", "Y", "YES", "TRUE", "1", "是的")
NO_MARKS = ("否", "×", "✗", "✘", "☒", "N", "NO", "FALSE", "0", "不是")


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


def text(values: pl.Series) -> pl.Series:
    """Cell text with full-width folded (NFKC) and outer whitespace stripped; blank -> null."""
    cleaned = nfkc(values)
    invisible = cleaned.str.contains(_INVISIBLE).fill_null(False)
    cleaned = _patch(cleaned, invisible, lambda part: part.str.replace_all(_INVISIBLE, ""), cleaned)
    cleaned = cleaned.str.strip_chars()
    return _null_if(cleaned, cleaned == "")


def compact(values: pl.Series) -> pl.Series:
    """Cell text with every space removed too (place names, enums, numbers); blank -> null."""
    cleaned = nfkc(values).str.replace_all(_SPACES, "")
    return _null_if(cleaned, cleaned == "")


def clean(values: pl.Series, *, dates: bool = False) -> pl.Series:
    """The input of every typed parser: compact text, null when blank-like (- / 无 …).

    For dates the time of day of an XLSX date cell is dropped first.
    """
    values = values.cast(pl.String)
    if dates:
        values = values.str.replace(_TIME_SUFFIX, "")
    cleaned = compact(values)
    return _null_if(cleaned, cleaned.is_in(BLANK_MARKS))


def is_blank(values: pl.Series) -> pl.Series:
    """True when the cell holds nothing or only a blank mark such as - / 无."""
    return clean(values).is_null()


def _serial_date(value: pl.Series) -> pl.Series:
    days = value.cast(pl.Float64, strict=False).floor().cast(pl.Int64)
    usable = value.str.contains(_SERIAL).fill_null(False) & days.is_between(*SERIAL_RANGE)
    days = _null_if(days, ~usable)
    return pl.select(pl.lit(EXCEL_EPOCH) + pl.duration(days=days)).to_series().cast(pl.Date)


def _month_only(value: pl.Series) -> pl.Series:
    month_forms = value.str.contains(_YM) | value.str.contains(_COMPACT_MONTH)
    iso = value.str.replace(_YM, "${1}-${2}-1").str.replace(_COMPACT_MONTH, "${1}-${2}-1")
    return _null_if(iso, ~month_forms).str.to_date("%Y-%m-%d", strict=False)


def _full_date(value: pl.Series) -> pl.Series:
    iso = value.str.replace(_YMD, "${1}-${2}-${3}").str.replace(_COMPACT_DATE, "${1}-${2}-${3}")
    parsed = iso.str.to_date("%Y-%m-%d", strict=False)
    return _patch(parsed, parsed.is_null() & value.is_not_null(), _serial_date, value)


def parse_date(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """2026-10-05, 2026/10/5, 2026.10.05, 20261005, 2026年10月5日, ISO datetimes, Excel serials.

    A bare year and month (2026-10, 202610) is read as the first day of that month.
    """
    value = values if cleaned else clean(values, dates=True)
    parsed = _full_date(value)
    return _patch(parsed, parsed.is_null() & value.is_not_null(), _month_only, value)


def parse_month(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """2025-09, 2025年9月, 202509, 2025.09 and every date form -> the first day of that month."""
    value = values if cleaned else clean(values, dates=True)
    parsed = _month_only(value)
    missing = parsed.is_null() & value.is_not_null()
    return _patch(parsed, missing, lambda part: _full_date(part).dt.month_start(), value)


def _amount_text(value: pl.Series, unit: str = "元") -> pl.Series:
    """Amounts with a currency sign or unit and thousands separators (only well-placed ones).

    A cell's own unit wins over the column's: `5万元` in a 元 column is 50,000, `500000元` in a
    万元 column is 50.
    """
    in_wan = value.str.contains(r"万(?:元)?$")
    in_yuan = value.str.contains(r"(?:元|人民币)$") & ~in_wan
    stripped = value.str.replace_all(r"^(?:[¥￥]|RMB)|(?:万元|万|元|人民币|平方米|㎡|m2|M2)$", "")
    well_formed = stripped.str.contains(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$") & (
        stripped.str.contains(r"\d")
    )
    number = stripped.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    if unit == "万元":
        factor = pl.select(pl.when(in_yuan).then(0.0001).otherwise(1.0)).to_series()
    else:
        factor = pl.select(pl.when(in_wan).then(10_000.0).otherwise(1.0)).to_series()
    return _null_if(number * factor, ~well_formed)


def parse_amount(values: pl.Series, *, cleaned: bool = False, unit: str = "元") -> pl.Series:
    """1,234.50 / 1234.5元 / ￥1234 / 5万元 / full-width digits -> Float64 in the column's unit;
    blank -> null, never 0."""
    value = values if cleaned else clean(values)
    direct = value.cast(pl.Float64, strict=False)
    direct = _null_if(direct, ~direct.is_finite())
    return _patch(
        direct, direct.is_null() & value.is_not_null(), lambda v: _amount_text(v, unit), value
    )


def parse_int(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """3 / 3.0 / 3人 / 2026年 -> Int64; blank -> null."""
    value = values if cleaned else clean(values)
    value = value.str.replace(r"[人户口个年]$", "").str.replace(r"\.0+$", "")
    return _null_if(value, ~value.str.contains(r"^-?\d{1,18}$")).cast(pl.Int64, strict=False)


def parse_yes_no(values: pl.Series, *, cleaned: bool = False) -> pl.Series:
    """是/否, √/×, Y/N, TRUE/FALSE (XLSX boolean cells), 1/0 -> Boolean; blank -> null."""
    value = (values if cleaned else clean(values)).str.to_uppercase()
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


def unparsed(raw: pl.Series, parsed: pl.Series) -> pl.Series:
    """True when the cell had a value but the parser could not read it (a reject)."""
    return (~is_blank(raw) & parsed.is_null()).fill_null(False)
