"""Cell parsers: every date, month, amount, integer and 是/否 form, and blank kept apart from bad."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from pipelines.ingest import parse


def _parse(parser, raw: str | None):  # noqa: ANN001, ANN202 - a parser function and its value
    values = pl.Series([raw], dtype=pl.String)
    parsed = parser(values)
    return parsed[0], parse.unparsed(values, parsed)[0]


@pytest.mark.parametrize(
    "raw",
    [
        "2026-10-05",
        "2026/10/5",
        "2026.10.05",
        "20261005",
        "2026年10月5日",
        "2026年10月5号",
        " 2026 - 10 - 05 ",
        "２０２６－１０－０５",
        "46300",  # Excel serial
        "46300.5",
        "2026-10-05 00:00:00",  # an XLSX date cell
        "2026-10-05T13:30:00",
        "2026/10/5 8:05",
    ],
)
def test_date_forms(raw: str) -> None:
    assert _parse(parse.parse_date, raw) == (date(2026, 10, 5), False)


@pytest.mark.parametrize(
    "raw", ["2026-02-30", "2026-13-01", "20261345", "abc", "10/05/2026", "1234"]
)
def test_unreadable_dates_are_flagged(raw: str) -> None:
    assert _parse(parse.parse_date, raw) == (None, True)


@pytest.mark.parametrize("raw", [None, "", "  ", "-", "/", "无"])
def test_blank_dates_are_null_not_errors(raw: str | None) -> None:
    assert _parse(parse.parse_date, raw) == (None, False)


def test_a_bare_month_in_a_date_column_is_its_first_day() -> None:
    assert _parse(parse.parse_date, "2026-10")[0] == date(2026, 10, 1)


@pytest.mark.parametrize(
    ("raw", "month_only"),
    [
        ("2026-10", True),
        ("2026年10月", True),
        ("2026年10月份", True),
        ("202610", True),
        ("2026.10", True),
        ("2026/10", True),
        ("10/2026", True),
        (" 2026 年 10 月 ", True),
        ("２０２６－１０", True),
        ("2026年10月（上报）", True),
        ("26年10月", True),
        ("二〇二六年十月", True),
        ("2026-10-01", False),
        ("2026年10月1日", False),
        ("20261001", False),
        ("46296", False),  # an Excel serial is a day
        ("01-10月-26", False),
        ("二〇二六年十月一日", False),
    ],
)
def test_a_date_written_without_its_day_is_told_apart_from_the_first(
    raw: str, month_only: bool
) -> None:
    """Both read as 2026-10-01; only the second says the 1st (evidence and ages need to know)."""
    values = pl.Series([raw])
    assert parse.parse_date(values, pivot=2026).to_list() == [date(2026, 10, 1)]
    assert parse.without_day(values).to_list() == [month_only]


@pytest.mark.parametrize(
    "raw",
    [
        "05-10月-26",  # Oracle's default DD-MON-RR in a Chinese session
        "05-10月 -26",
        "5-10月-2026",
        "05-OCT-26",  # ... in an English one
        "5-Oct-26",  # Excel's d-mmm-yy
        "05-October-2026",
        "05OCT2026",  # SAS's DATE9.
        "26年10月5日",
    ],
)
def test_a_spelt_month_after_the_day_is_plain_and_its_short_year_read_against_the_pivot(
    raw: str,
) -> None:
    values = pl.Series([raw])
    assert parse.parse_date(values, pivot=2026).to_list() == [date(2026, 10, 5)]
    # without a pivot (a date of birth: 20 is 1920 or 2020) a two-digit year stays unread
    four_digits = raw.endswith("2026")
    assert parse.parse_date(values).to_list() == [date(2026, 10, 5) if four_digits else None]


def test_a_short_year_is_the_latest_not_after_the_pivot() -> None:
    values = pl.Series(["01-9月-95", "01-SEP-05", "31-12月-26", "01-1月-27"])
    assert parse.parse_date(values, pivot=2026).to_list() == [
        date(1995, 9, 1), date(2005, 9, 1), date(2026, 12, 31), date(1927, 1, 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    ["26/10/5", "26-10-05", "05/10/26", "05-13月-26", "31-SEP-26", "05-FOO-26", "5-10-26"],
)
def test_a_short_year_whose_order_is_not_plain_stays_unread(raw: str) -> None:
    assert parse.parse_date(pl.Series([raw]), pivot=2026).to_list() == [None]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("二〇二六年十月五日", date(2026, 10, 5)),
        ("二零二六年十月五号", date(2026, 10, 5)),
        ("二○二六年十二月三十一日", date(2026, 12, 31)),
        ("二〇二六年二月二十日", date(2026, 2, 20)),
        ("二〇二六年一月十五日", date(2026, 1, 15)),
        ("二〇二六年十月", date(2026, 10, 1)),
        ("二〇二六年二月三十日", None),  # no such day
        ("二〇二六年十月三十二日", None),
        ("二〇二六年十十月五日", None),
        ("二六年十月五日", None),
    ],
)
def test_dates_in_chinese_numerals(raw: str, expected: date | None) -> None:
    assert _parse(parse.parse_date, raw) == (expected, expected is None)


def test_a_month_in_chinese_numerals_or_oracle_form() -> None:
    values = pl.Series(["二〇二五年九月", "01-9月-25", "01-SEP-2025"])
    assert parse.parse_month(values, pivot=2026).to_list() == [date(2025, 9, 1)] * 3


@pytest.mark.parametrize(
    "raw",
    ["2025-09", "2025年9月", "202509", "2025.09", "2025/9", "2025-09-15", "20250915", "45915"],
)
def test_month_forms(raw: str) -> None:
    assert _parse(parse.parse_month, raw) == (date(2025, 9, 1), False)


@pytest.mark.parametrize("raw", ["202500", "2025-13", "九月"])
def test_unreadable_months_are_flagged(raw: str) -> None:
    assert _parse(parse.parse_month, raw) == (None, True)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("1234.5", "1234.5"),
        ("1,234.50", "1234.5"),
        ("1,234,567.8", "1234567.8"),
        ("1234.5元", "1234.5"),
        ("￥1,234", "1234"),
        ("１２３４．５", "1234.5"),
        ("1，234", "1234"),
        (" 800 ", "800"),
        ("-12.5", "-12.5"),
        ("0", "0"),
        ("0.00元", "0"),
    ],
)
def test_amount_forms(raw: str, amount: str) -> None:
    assert _parse(parse.parse_amount, raw) == (Decimal(amount), False)


def test_amounts_are_exact_decimals_that_sum_exactly() -> None:
    # issue 8 item 7: as floats these summed to 19,999.999999999996 and YB01 flickered
    parsed = parse.parse_amount(pl.Series(["15,927.21", "2,188.78", "1,884.01"]))
    assert parsed.dtype == parse.AMOUNT_DTYPE == pl.Decimal(precision=20, scale=4)
    assert parsed.sum() == Decimal("20000.00")


def test_amounts_are_stored_and_summed_exactly_by_duckdb() -> None:
    """DECIMAL(20,4) in the warehouse: the sum that decides YB01 is exact, and the column comes
    back to polars unchanged."""
    parsed = parse.parse_amount(pl.Series(["15,927.21", "2,188.78", "1,884.01", None, "0.1"]))
    con = duckdb.connect()
    con.register("incoming", pl.DataFrame({"self_paid": parsed}))
    con.execute("CREATE TABLE stg AS SELECT * FROM incoming")
    assert con.execute("SELECT typeof(self_paid) FROM stg LIMIT 1").fetchone() == ("DECIMAL(20,4)",)
    rows = con.execute(
        "SELECT sum(self_paid), sum(self_paid) >= $t FROM stg WHERE self_paid > 1",
        {"t": 20_000.0},
    ).fetchall()
    assert rows == [(Decimal("20000.0000"), True)]
    assert con.sql("SELECT * FROM stg").pl()["self_paid"].equals(parsed)


@pytest.mark.parametrize(
    ("raw", "in_wan"),
    [("50.00（万元）", "50"), ("60(万元)", "60"), ("60.00万元（人民币）", "60"),
     ("500000（元）", "50"), ("55(人民币)", "55"), ("12.5（万）", "12.5")],
)  # fmt: skip
def test_a_unit_in_brackets_after_the_number_is_read_as_written_plain(raw: str, in_wan: str):
    """indep17: a 注册资本（万元） cell written 50.00（万元） — the header's unit copied into the cell —
    was unreadable, and a 股东's SJ01 went to the district as 不可判断 instead of out."""
    assert parse.parse_amount(pl.Series([raw]), unit="万元").to_list() == [Decimal(in_wan)]


@pytest.mark.parametrize("raw", ["(500)", "(万元)50", "abc(万元)", "50(美元)"])
def test_brackets_that_hold_no_unit_of_a_number_stay_unreadable(raw: str) -> None:
    assert _parse(parse.parse_amount, raw) == (None, True)


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [("1200元（门诊慢病）", "元", "1200"), ("100万（认缴）", "万元", "100"), ("5000（约）", "元", "5000"),
     ("叁仟元", "元", "3000"), ("壹万伍仟元整", "元", "15000"), ("伍佰元伍角", "元", "500.5"),
     ("壹仟零伍元", "元", "1005"), ("拾伍元", "元", "15"), ("三千元", "元", "3000"),
     ("伍拾万", "万元", "50"), ("伍拾", "万元", "50"), ("叁仟元", "万元", "0.3"),
     ("壹亿贰仟万元", "元", "120000000")],
)  # fmt: skip
def test_a_describing_note_or_chinese_numerals_read_as_the_amount(
    raw: str, unit: str, expected: str
) -> None:
    """indep39: 1200元（门诊慢病） and 叁仟元 in 个人自付, 100万（认缴） in 注册资本 were unreadable, and
    two YB01 and one SJ01 went to the district as 不可判断: a person reads each as the amount (a
    bare numeral in the column's unit; one with 万 in 元, so 伍拾万 in a 万元 column is 50)."""
    assert parse.parse_amount(pl.Series([raw]), unit=unit).to_list() == [Decimal(expected)]


@pytest.mark.parametrize(
    "raw",
    ["500元（已退费）", "500元（冲销）", "1200元（其中医保500）", "50（美元）", "伍仟伍", "伍伍", "叁角",
     "拾拾元"],
)  # fmt: skip
def test_a_withdrawing_note_or_a_numeral_read_two_ways_stays_unreadable(raw: str) -> None:
    """A note that withdraws the amount, holds a number or names another currency, and numerals a
    person could read two ways (伍仟伍: 5,005 or 5,500) or not at all, stay for the department."""
    assert _parse(parse.parse_amount, raw) == (None, True)


@pytest.mark.parametrize("raw", [None, "", "-", "/", "无"])
def test_blank_amount_is_unknown_never_zero(raw: str | None) -> None:
    assert _parse(parse.parse_amount, raw) == (None, False)


@pytest.mark.parametrize("raw", ["abc", "50万万元", "1,2,3", "12,34", "nan", "inf"])
def test_unreadable_amounts_are_flagged(raw: str) -> None:
    assert _parse(parse.parse_amount, raw) == (None, True)


@pytest.mark.parametrize(
    ("raw", "number"), [("3", 3), ("3.0", 3), ("3人", 3), ("2026年", 2026), ("０３", 3)]
)
def test_integer_forms(raw: str, number: int) -> None:
    assert _parse(parse.parse_int, raw) == (number, False)


@pytest.mark.parametrize("raw", ["3.5", "x", "三"])
def test_unreadable_integers_are_flagged(raw: str) -> None:
    assert _parse(parse.parse_int, raw) == (None, True)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("是", True), ("否", False), ("√", True), ("×", False), ("Y", True), ("n", False)]
    + [("TRUE", True), ("false", False), ("1", True), ("0", False), (" 是 ", True)]
    + [("是（已享受）", True), ("否（未享受）", False), ("是(见备注)", True)]
    + [("已发放", True), ("未领取", False), ("已落实", True), ("没有享受", False)],
)
def test_yes_no_forms(raw: str, value: bool) -> None:
    assert _parse(parse.parse_yes_no, raw) == (value, False)


def test_yes_no_blank_and_unreadable() -> None:
    assert _parse(parse.parse_yes_no, "") == (None, False)
    assert _parse(parse.parse_yes_no, "也许") == (None, True)
    # a note that says the opposite, and being solved, are neither yes nor no
    assert _parse(parse.parse_yes_no, "是（未享受）") == (None, True)
    assert _parse(parse.parse_yes_no, "正在解决") == (None, True)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("是（未倒塌）", None),
        ("Y（未倒塌）", None),
        ("√（房屋未倒塌）", None),
        ("否（已倒塌）", None),
    ]
    + [
        ("否（已资助）", None),
        ("否（已整改到位）", None),
        ("是（已撤销）", None),
        ("是（不详）", None),
    ]
    + [("是（全部倒塌）", True), ("否（未申请）", False), ("否（已申请）", False)]
    + [("否（已撤销）", False), ("是（2026年3月）", True), ("否（无）", False)]
    # indep39: a note of doubt or transfer denies; a house renovated is what was done
    + [("是（待核实）", None), ("是（已退回）", None), ("是（已改造）", True)],
)
def test_a_note_that_says_the_opposite_in_its_own_words_reads_two_ways(raw: str, value) -> None:
    """indep37: 房屋倒塌 是（未倒塌） had sent YJ01 红 (a collapse the record denies), 否（已倒塌）
    silently lost one, 否（已资助） sent JY03: only notes that were marks themselves (未享受) were
    compared. A note denying (未, 不, 没, 撤销, 申请…) or saying it was done (已…) is compared with
    the mark; one saying neither (全部倒塌, a date) leaves the mark."""
    assert _parse(parse.parse_yes_no, raw) == (value, value is None)


def test_ticks_blank_is_false_any_mark_is_true() -> None:
    ticks = parse.parse_tick(pl.Series(["√", None, "", "✔", "×", "是"]))
    assert ticks.to_list() == [True, False, False, True, False, True]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("张三", "张三"),
        (" 张 三 ", "张三"),
        ("张三（已故）", "张三"),
        ("李四(户主)", "李四"),
        ("王五【迁出】", "王五"),
        ("阿依·买买提", "阿依·买买提"),
        ("張三", "張三"),  # traditional characters are the matcher's business, not ingest's
        ("无", None),
        ("（已故）", None),
        (None, None),
    ],
)
def test_names_are_cleaned_not_fuzzed(raw: str | None, name: str | None) -> None:
    assert parse.parse_name(pl.Series([raw], dtype=pl.String))[0] == name


def test_text_folds_full_width_and_strips() -> None:
    cleaned = parse.text(pl.Series(["　三十铺镇 ", "ＡＢ１", "\ufeff北山村", "   ", None]))
    assert cleaned.to_list() == ["三十铺镇", "AB1", "北山村", None, None]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("#N/A", True),
        (" #n/a ", True),
        ("#DIV/0!", True),
        ("#VALUE!", True),
        ("#REF!", True),
        ("#NAME?", True),
        ("#NUM!", True),
        ("#NULL!", True),
        ("#SPILL!", True),
        ("Err:502", True),  # LibreOffice's own
        ("3#楼", False),  # an address
        ("#3", False),
        ("N/A", False),
        ("#N/A 张三", False),
        ("Err:5020", False),
        (None, False),
    ],
)
def test_a_formulas_error_value_is_told_from_text(raw: str | None, error: bool) -> None:
    errors, formulas = parse.formula_cells(pl.Series([raw, "张三"], dtype=pl.String))
    assert errors.to_list() == [error, False] and formulas.to_list() == [False, False]


@pytest.mark.parametrize(
    ("raw", "formula"),
    [
        ("=C3", True),  # a formula the reader could not compute: its text
        ("=VLOOKUP(A2,Sheet2!A:B,2,0)", True),
        ('="3415"&G2', True),
        ("=（共享公式）", True),
        ('="341502199001011234"', False),  # an ID protected as text, as CSV files write it
        ("=“341502199001011234”", False),
        ("张=三", False),
        ("#N/A", False),  # an error value, not a formula's text
        (None, False),
    ],
)
def test_a_formulas_text_is_told_from_a_value_protected_as_text(raw, formula: bool) -> None:
    errors, formulas = parse.formula_cells(pl.Series([raw, "张三"], dtype=pl.String))
    assert formulas.to_list() == [formula, False]


def test_bare_numbers_in_the_headers_unit_are_shifted_exactly() -> None:
    """A column headed 个人自付（万元）: its bare numbers are 万元, converted to 元 without the
    four-decimal rounding a 万元 amount would have (0.003324 万元 is 33.24 元, not 33); a cell's
    own unit still wins."""
    values = pl.Series(["0.003324", "3.5", "5000元", "2万", "1,234.5"])
    assert parse.parse_amount(values, unit="元", bare="万元").to_list() == [
        Decimal("33.24"), Decimal("35000"), Decimal("5000"), Decimal("20000"), Decimal("12345000"),
    ]  # fmt: skip
    capital = pl.Series(["1,000,000", "5万元"])
    assert parse.parse_amount(capital, unit="万元", bare="元").to_list() == [
        Decimal("100"),
        Decimal("5"),
    ]


def test_a_month_with_a_short_year_in_chinese_is_read_against_the_pivot() -> None:
    """25年9月 (入学年月 as a clerk writes it) is the plain order of 26年10月5日 without its day:
    September 2025 in a 2026 file. It had been unread while the date beside it was read."""
    values = pl.Series(["25年9月", "25年9月份", "99年9月", "25年13月"])
    expected = [date(2025, 9, 1), date(2025, 9, 1), date(1999, 9, 1), None]
    assert parse.parse_month(values, pivot=2026).to_list() == expected
    assert parse.parse_date(values, pivot=2026).to_list() == expected
    # without a pivot (a date of birth) a two-digit year stays unread
    assert parse.parse_month(values).to_list() == [None] * 4
