"""The fast export writers give the very bytes of the straightforward ones (issue 10: "exports stay
byte-identical before and after each optimisation").

Each reference below is the plain code the exports used before they were made fast, kept here as
the definition of the output: one xlsxwriter call per cell, one `set_row` per row, mask_id per ID,
the township files one township at a time. The fast paths (pipelines/exports/fastxlsx.py, the
vectorised masking, line counting and cleaning in township.py) must
reproduce them byte for byte on hand-built data full of the cases that matter: CJK and wide
characters, control characters and escape sequences, formula starts, XML specials, whitespace at
the ends, `_x0041_` look-alikes, text over the cap, nulls everywhere, overdue and red rows, a
township without a name and names that need a hashed file stem.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from pipelines.exports import fastxlsx
from pipelines.exports import township as township_module
from pipelines.exports.fastxlsx import BulkWorkbook, BulkWorksheet, Cells, write_blocks
from pipelines.exports.township import (
    _BREAKS,
    _CONTROLS,
    _ESCAPES,
    _FORMULA_START,
    _WIDTHS,
    ELLIPSIS,
    UNKNOWN_TOWNSHIP,
    VERIFICATION_COLUMNS,
    _lines,
    _row_lines,
    clean_text,
    csv_frame,
    export_frame,
    fixed_workbook,
    mask_ids,
    township_stems,
    write_sheet,
    write_township_files,
    write_township_xlsx,
)
from pipelines.feedback import VERDICTS
from pipelines.matching.ids import mask_id

CREATED = date(2026, 11, 6)

# -- the reference writers: the code before it was made fast ------------------------------------


def ref_workbook(path: Path, created: date | None) -> xlsxwriter.Workbook:
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "in_memory": True,  # the container as the exports pack it (no temporary files)
        },
    )
    workbook.set_properties({"created": datetime.combine(created or date(2000, 1, 1), time())})
    return workbook


def ref_clean_expr(expr: pl.Expr, limit: int) -> pl.Expr:
    text = (
        expr.str.replace_all(_ESCAPES, "")
        .str.replace_all(_BREAKS, " ")
        .str.replace_all(_CONTROLS, "")
    )
    return (
        pl.when(text.str.len_chars() > limit)
        .then(pl.concat_str(text.str.slice(0, limit - 1), pl.lit(ELLIPSIS)))
        .otherwise(text)
    )


def ref_export_frame(frame: pl.DataFrame, limit: int = 500) -> pl.DataFrame:
    text = [n for n, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(ref_clean_expr(pl.col(n), limit).alias(n) for n in text)


def ref_csv_frame(frame: pl.DataFrame, limit: int = 500) -> pl.DataFrame:
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List):
            col = col.list.eval(pl.element().cast(pl.String)).list.join("；")
        text = ref_clean_expr(col.cast(pl.String), limit)
        out.append(
            pl.when(text.str.contains(_FORMULA_START))
            .then(pl.concat_str(pl.lit("'"), text))
            .otherwise(text)
            .alias(name)
        )
    return frame.select(out)


def ref_csv_bytes(frame: pl.DataFrame) -> bytes:
    return b"\xef\xbb\xbf" + ref_csv_frame(frame).write_csv().encode("utf-8")


def ref_township_frame(listing: pl.DataFrame, *, mask: bool) -> pl.DataFrame:
    ids = listing["id_number"]
    shown = ids.map_elements(mask_id, return_dtype=pl.String) if mask else ids
    return (
        listing.with_columns(shown.alias("_shown_id"))
        .sort(["village", "grid", "household_id", "rule", "warning_id"], nulls_last=True)
        .select(
            pl.col("warning_id").alias("预警编号"),
            pl.col("township").alias("乡镇"),
            pl.col("village").alias("村"),
            pl.col("grid").alias("网格"),
            pl.col("worker_name").alias("网格员"),
            pl.col("worker_phone").alias("网格员电话"),
            pl.col("household_id").alias("户编号"),
            pl.col("head_name").alias("户主姓名"),
            pl.col("household_type").alias("户类型"),
            pl.col("member_name").alias("姓名"),
            pl.col("_shown_id").alias("证件号码"),
            pl.col("relation").alias("与户主关系"),
            pl.col("rule").alias("预警代码"),
            pl.col("rule_name").alias("预警名称"),
            pl.col("risk_type").alias("风险类型"),
            pl.col("direction").alias("预警方向"),
            pl.col("level").alias("预警等级"),
            pl.col("department").alias("来源部门"),
            pl.col("evidence").alias("预警依据"),
            pl.col("method").alias("匹配方式"),
            pl.col("confidence").round(3).alias("匹配可信度"),
            pl.col("status").alias("状态"),
            pl.col("first_month").alias("首次预警月份"),
            pl.col("deadline").cast(pl.String).alias("核实截止日期"),
            *(pl.lit(None, dtype=pl.String).alias(c) for c in VERIFICATION_COLUMNS),
        )
    )


def ref_write_cells(sheet, first_row: int, columns: list[Cells], heights) -> None:
    """What a block stands for: set_row per row, then write_string / write_number per cell."""
    values = [c.values.to_list() for c in columns]
    masks = [[(m.to_list(), f) for m, f in c.special] for c in columns]
    for i in range(len(values[0]) if values else 0):
        if heights is not None:
            sheet.set_row(first_row + i, heights[i])
        for col, cells in enumerate(columns):
            value = values[col][i]
            if value is None:
                continue
            fmt = next((f for m, f in masks[col] if m[i]), cells.fmt)
            if cells.numeric:
                sheet.write_number(first_row + i, col, value, fmt)
            else:
                sheet.write_string(first_row + i, col, value, fmt)


def ref_write_sheet(workbook, name: str, frame: pl.DataFrame) -> None:
    header = workbook.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    sheet = workbook.add_worksheet(name)
    frame = ref_export_frame(frame)
    for col, column in enumerate(frame.columns):
        sheet.write_string(0, col, clean_text(str(column)), header)
        sheet.set_column(col, col, max(10, min(40, len(str(column)) * 2 + 2)))
    for row, values in enumerate(frame.iter_rows(), start=1):
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(row, col, value)
            else:
                sheet.write_string(row, col, str(value))
    sheet.freeze_panes(1, 1)


def ref_write_township_xlsx(frame: pl.DataFrame, path: Path, *, title: str, created) -> None:
    frame = ref_export_frame(frame)
    title = clean_text(title, 200).replace("&", "&&")
    workbook = ref_workbook(path, created)
    try:
        sheet = workbook.add_worksheet("预警清单")
        header = workbook.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
             "valign": "vcenter"}
        )  # fmt: skip
        verify_header = workbook.add_format(
            {"bold": True, "bg_color": "#FFD966", "border": 1, "text_wrap": True}
        )
        cell = workbook.add_format(
            {"border": 1, "text_wrap": True, "valign": "top", "num_format": "@"}
        )
        verify_cell = workbook.add_format(
            {"border": 1, "bg_color": "#FFF2CC", "valign": "top", "num_format": "@"}
        )
        overdue = workbook.add_format({"border": 1, "bg_color": "#F4B084", "bold": True})
        red = workbook.add_format({"border": 1, "font_color": "#C00000", "bold": True})
        columns = list(frame.columns)
        for col, name in enumerate(columns):
            is_verify = name in VERIFICATION_COLUMNS
            sheet.write_string(0, col, name, verify_header if is_verify else header)
            sheet.set_column(col, col, _WIDTHS.get(name, 12), verify_cell if is_verify else cell)
        status_col, level_col = columns.index("状态"), columns.index("预警等级")
        sheet.set_row(0, 15 * max(_lines(name, _WIDTHS.get(name, 12)) for name in columns))
        for row, values in enumerate(frame.iter_rows(), start=1):
            lines = max(
                _lines("" if v is None else str(v), _WIDTHS.get(name, 12))
                for name, v in zip(columns, values, strict=True)
            )
            sheet.set_row(row, min(409, 15 * lines))
            for col, value in enumerate(values):
                if value is None:
                    continue
                fmt = verify_cell if columns[col] in VERIFICATION_COLUMNS else cell
                if col == status_col and value == "逾期":
                    fmt = overdue
                elif col == level_col and value == "红":
                    fmt = red
                if isinstance(value, float):
                    sheet.write_number(row, col, value, fmt)
                else:
                    sheet.write_string(row, col, str(value), fmt)
        verdict_col = columns.index("核实结果")
        if frame.height:
            sheet.data_validation(
                1, verdict_col, frame.height, verdict_col,
                {"validate": "list", "source": list(VERDICTS)},
            )  # fmt: skip
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(frame.height, 1), len(columns) - 1)
        sheet.set_landscape()
        sheet.set_paper(8)
        sheet.set_margins(left=0.3, right=0.3, top=0.5, bottom=0.5)
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(0)
        sheet.set_header(f"&C{title}")
        sheet.set_footer("&C第 &P 页，共 &N 页")
    finally:
        workbook.close()


def ref_write_township_files(listing: pl.DataFrame, out_dir: Path, *, mask: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = listing.partition_by("township", as_dict=True)
    stems = township_stems(township for (township,) in parts)
    for (township,), part in sorted(parts.items(), key=lambda kv: stems[kv[0][0]]):
        frame = ref_township_frame(part, mask=mask)
        (out_dir / f"{stems[township]}.csv").write_bytes(ref_csv_bytes(frame))
        shown = clean_text(township or UNKNOWN_TOWNSHIP, 100)
        ref_write_township_xlsx(
            frame, out_dir / f"{stems[township]}.xlsx",
            title=f"{shown}防返贫动态监测预警清单", created=CREATED,
        )  # fmt: skip


# -- hand-built data full of awkward text -------------------------------------------------------

AWKWARD = [
    "", " 前导空格", "尾随空格 ", "\t制表", "换行\n在中间", "=SUM(A1:A2)", "+86 138", "-5", "@cmd",
    "a&b<c>d\"e'", "_x0041_ 看起来像转义", "<r>富文本</r>", "\x1b[31m红字\x1b[0m", "\u202e反向",
    "控制\x00\x07字符", "全角ＡＢＣ１２３", "emoji 😀 与 𠀀", "…省略", "—破折号—", "\u3000全角空格\u3000",
    "中" * 40, "很长的依据" * 150, "x" * 600, "ASCII only text that wraps somewhere", "\ufeffBOM",
    "_x005F_x0041_", "\u2028行分隔", "non\u00a0breaking", "\x85NEL",
]  # fmt: skip


def _awkward(rng: random.Random, *, nulls: float = 0.15) -> str | None:
    if rng.random() < nulls:
        return None
    choice = rng.random()
    if choice < 0.4:
        return rng.choice(AWKWARD)
    if choice < 0.7:
        return "".join(
            rng.choice("张王李赵东桥镇村组网格ABC123 -_") for _ in range(rng.randint(1, 30))
        )
    return f"{rng.choice(AWKWARD)}{rng.randint(0, 99999)}"


def _id(rng: random.Random) -> str | None:
    kind = rng.random()
    if kind < 0.1:
        return None
    if kind < 0.6:
        return "".join(rng.choice("0123456789") for _ in range(17)) + rng.choice("0123456789X")
    if kind < 0.7:
        return "".join(rng.choice("0123456789") for _ in range(15))
    if kind < 0.8:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(19, 22)))
    return "".join(rng.choice("0123456789X xＸ\u3000'\"") for _ in range(rng.randint(0, 25)))


TOWNSHIPS = ["东桥镇", "木厂镇", "清水河街道/", "区级新区", "CON", None, "Ａ镇", "a镇", "A镇"]


LISTING_SCHEMA = {
    name: pl.String
    for name in (
        "warning_id", "township", "village", "grid", "worker_name", "worker_phone",
        "household_id", "head_name", "household_type", "member_name", "id_number", "relation",
        "rule", "rule_name", "risk_type", "direction", "level", "department", "evidence",
        "method", "status", "first_month",
    )
} | {"confidence": pl.Float64, "deadline": pl.Date}  # fmt: skip


def listing(rows: int, seed: int = 7) -> pl.DataFrame:
    """A listing as build_listing returns it, with every column the township file shows."""
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        out.append(
            {
                "warning_id": f"YB01-{i:012x}",
                "township": rng.choice(TOWNSHIPS),
                "village": rng.choice(["王岗村", "马集村", None, "桂花村", " 空格村"]),
                "grid": rng.choice(["网格1", "网格2", None]),
                "worker_name": _awkward(rng),
                "worker_phone": rng.choice(["13800000000", "=1+1", None, "+8613800000000"]),
                "household_id": f"H{rng.randint(0, rows // 3):08d}",
                "head_name": _awkward(rng),
                "household_type": rng.choice(["一般农户", "脱贫户", "监测户", None]),
                "member_name": _awkward(rng),
                "id_number": _id(rng),
                "relation": rng.choice(["户主", "配偶", "之子", None]),
                "rule": rng.choice(["YB01", "JY02", "ZJ01", "CL02"]),
                "rule_name": rng.choice(["医疗自付费用高", "新入学大学生", "危房"]),
                "risk_type": rng.choice(["因病", "因学", None]),
                "direction": rng.choice(["风险", "帮扶"]),
                "level": rng.choice(["红", "橙", "黄", None]),
                "department": rng.choice(["医保局", "教育局", "住建局"]),
                "evidence": _awkward(rng, nulls=0.05),
                "method": rng.choice(["证件号码一致", "姓名+出生日期+村", None]),
                "confidence": rng.choice([1.0, 0.95, 0.8765, 0.5, None, 0.1 + 0.2]),
                "status": rng.choice(["新增", "待核实", "逾期"]),
                "first_month": rng.choice(["2026-09", "2026-10"]),
                "deadline": rng.choice([date(2026, 11, 21), date(2026, 10, 1), None]),
            }
        )
    return pl.DataFrame(out, schema=LISTING_SCHEMA)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# -- the township files -------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [True, False])
def test_township_files_are_the_bytes_of_the_per_township_per_cell_writers(tmp_path, mask):
    frame = listing(500)
    write_township_files(frame, tmp_path / "fast", mask=mask, xlsx=True, export_date=CREATED)
    ref_write_township_files(frame, tmp_path / "ref", mask=mask)
    fast, ref = _files(tmp_path / "fast"), _files(tmp_path / "ref")
    assert sorted(fast) == sorted(ref)
    assert len(fast) == 2 * len({t for t in TOWNSHIPS})
    for name in ref:
        assert fast[name] == ref[name], name


@pytest.mark.parametrize("rows", [0, 1, 5, 70, 400])
def test_one_township_workbook_small_and_large(tmp_path, rows, monkeypatch):
    """Below and above the size where blocks go through per-cell calls, and with the block path
    forced for the smallest ones too."""
    frame = township_module.township_frame(listing(rows, seed=rows), mask=True)
    ref_write_township_xlsx(frame, tmp_path / "ref.xlsx", title="标题 & <测试>", created=CREATED)
    for small in (fastxlsx.SMALL_BLOCK, 0):
        monkeypatch.setattr(fastxlsx, "SMALL_BLOCK", small)
        write_township_xlsx(frame, tmp_path / "fast.xlsx", title="标题 & <测试>", created=CREATED)
        assert (tmp_path / "fast.xlsx").read_bytes() == (tmp_path / "ref.xlsx").read_bytes()


def test_csv_cells_are_those_of_the_single_pass_cleaning():
    frame = listing(500).with_columns(
        pl.Series("numbers", [-5, 3, None, 7, -1] * 100),
        pl.Series("lists", [["a", "=b"], None, [], ["中"], ["x\ty"]] * 100),
    )
    assert csv_frame(frame).equals(ref_csv_frame(frame))
    assert export_frame(frame).equals(ref_export_frame(frame))


def test_masking_every_id_at_once_is_mask_id():
    rng = random.Random(3)
    alphabet = "0123456789Xx \t\n\u00a0\u3000\u200b\u202e\ufeff'\"`‘’“”中\u2028\u1680\x1c\x85😀"
    values = [None, "", "1", "1234", "123456789012345", "12345678901234567X", "1" * 22]
    values += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(5000)
    ]
    values += [_id(rng) for _ in range(2000)]
    got = pl.DataFrame({"id": values}, schema={"id": pl.String}).select(mask_ids(pl.col("id")))
    assert got.to_series().to_list() == [None if v is None else mask_id(v) for v in values]


def test_row_lines_are_the_wrapped_lines_of_every_cell():
    frame = export_frame(township_module.township_frame(listing(600), mask=True))
    widths = [_WIDTHS.get(name, 12) for name in frame.columns]
    expected = [
        max(_lines("" if v is None else str(v), w) for v, w in zip(row, widths, strict=True))
        for row in frame.iter_rows()
    ]
    assert _row_lines(frame, widths).to_list() == expected


def test_python_whitespace_lies_in_the_basic_multilingual_plane():
    """fastxlsx spells Python's \\s out over the BMP only; polars reads the spelling alike."""
    assert not [c for c in range(0x10000, 0x110000) if chr(c).isspace()]
    every = pl.Series([chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000])
    spaced = every.str.contains(f"^[{fastxlsx.SPACE_CLASS}]$").to_list()
    assert spaced == [re.match(r"\s", c) is not None for c in every.to_list()]


# -- the generic table sheets (summary, department workbooks) -----------------------------------


def _tables(rows: int, seed: int = 1) -> dict[str, pl.DataFrame]:
    rng = random.Random(seed)
    return {
        "文本与数字": pl.DataFrame(
            {
                "文本": [_awkward(rng) for _ in range(rows)],
                "整数": [rng.choice([None, 0, -3, 10**17 + 3, 42]) for _ in range(rows)],
                "小数": [rng.choice([None, 0.1 + 0.2, 1e-7, 2.5, -0.0, 1e21]) for _ in range(rows)],
                "是否": [rng.choice([True, False, None]) for _ in range(rows)],
                "日期": [rng.choice([date(2026, 10, 1), None]) for _ in range(rows)],
                "金额": [rng.choice([Decimal("15927.2100"), None]) for _ in range(rows)],
                "列表": [rng.choice([["a", "b"], None, []]) for _ in range(rows)],
            },
            schema_overrides={"金额": pl.Decimal(20, 4), "整数": pl.Int64},
        ),
        "空表": pl.DataFrame({"甲": [], "乙": []}, schema={"甲": pl.String, "乙": pl.Int64}),
        "只有空值": pl.DataFrame({"甲": [None] * 3}, schema={"甲": pl.String}),
        "重复的字": pl.DataFrame(
            {"甲": ["文本"] * rows, "乙": [_awkward(rng) for _ in range(rows)]}
        ),
    }


@pytest.mark.parametrize("rows", [3, 50, 800])
def test_table_sheets_are_the_bytes_of_the_per_cell_writer(tmp_path, rows, monkeypatch):
    tables = _tables(rows)
    reference = ref_workbook(tmp_path / "ref.xlsx", CREATED)
    for name, frame in tables.items():
        ref_write_sheet(reference, name, frame)
    reference.close()
    for small in (fastxlsx.SMALL_BLOCK, 0):
        monkeypatch.setattr(fastxlsx, "SMALL_BLOCK", small)
        workbook = fixed_workbook(tmp_path / "fast.xlsx", CREATED)
        for name, frame in tables.items():
            write_sheet(workbook, name, frame)
        workbook.close()
        assert (tmp_path / "fast.xlsx").read_bytes() == (tmp_path / "ref.xlsx").read_bytes()


def test_a_nan_goes_through_xlsxwriter_and_fails_as_it_did(tmp_path):
    frame = pl.DataFrame({"x": [1.0, math.nan] * 1500})
    reference = ref_workbook(tmp_path / "ref.xlsx", CREATED)
    with pytest.raises(TypeError, match="NAN/INF"):
        ref_write_sheet(reference, "表", frame)
    reference.close()
    fast = fixed_workbook(tmp_path / "fast.xlsx", CREATED)
    with pytest.raises(TypeError, match="NAN/INF"):
        write_sheet(fast, "表", frame)
    fast.close()


# -- blocks against per-cell calls, placed anywhere ---------------------------------------------


@pytest.mark.parametrize("first_row", [1, 5, 16, 17, 40])
@pytest.mark.parametrize("with_heights", [True, False])
def test_blocks_anywhere_in_a_sheet_with_rows_written_before(tmp_path, first_row, with_heights):
    """Rows written cell by cell above the block, sharing its first 16-row span; gaps of empty
    rows; columns with and without formats; specials; several sheets of one workbook."""
    rng = random.Random(first_row)
    rows = 150
    values = {
        "a": [_awkward(rng) for _ in range(rows)],
        "b": [rng.choice([None, 1.5, 2.0, -7.25]) for _ in range(rows)],
        "c": [None] * rows,  # a column without a single cell
        "d": [rng.choice([None, "甲", "乙"]) for _ in range(rows)],
        "e": [rng.choice([None, 3, 4]) for _ in range(rows)],
    }
    values["a"][:5] = [None] * 5  # rows without a cell at all
    values["d"][:5] = [None] * 5
    heights = [rng.choice([15, 30, 45, 409, 15.5]) for _ in range(rows)] if with_heights else None
    frame = pl.DataFrame(values, schema_overrides={"c": pl.String, "e": pl.Int64})

    def build(workbook, bulk: bool) -> None:
        bold = workbook.add_format({"bold": True})
        shade = workbook.add_format({"bg_color": "#FFF2CC"})
        column = workbook.add_format({"italic": True})
        for name in ("一", "二"):
            sheet = workbook.add_worksheet(name, worksheet_class=BulkWorksheet) if bulk else (
                workbook.add_worksheet(name)
            )  # fmt: skip
            sheet.set_column(1, 1, 12, column)
            sheet.set_column(3, 3, 8)
            for row in range(0, first_row, 2):
                sheet.write_string(row, row % 4, f"上面{row}", bold)
            mask = frame["d"] == "乙"
            cells = [
                Cells(frame["a"], bold),
                Cells(frame["b"]),
                Cells(frame["c"], shade),
                Cells(frame["d"], None, ((mask.fill_null(False), shade),)),
                Cells(frame["e"], shade),
            ]
            if bulk:
                write_blocks([sheet], first_row, cells, heights, [rows])
            else:
                ref_write_cells(sheet, first_row, cells, heights)
            sheet.freeze_panes(1, 0)

    fast = BulkWorkbook(str(tmp_path / "fast.xlsx"))
    fast.set_properties({"created": datetime(2026, 11, 6)})
    build(fast, bulk=True)
    fast.close()
    ref = xlsxwriter.Workbook(str(tmp_path / "ref.xlsx"))
    ref.set_properties({"created": datetime(2026, 11, 6)})
    build(ref, bulk=False)
    ref.close()
    assert (tmp_path / "fast.xlsx").read_bytes() == (tmp_path / "ref.xlsx").read_bytes()


def test_many_workbooks_in_one_pass_are_each_the_single_workbook(tmp_path):
    """write_blocks over several township workbooks = each written alone."""
    frame = export_frame(township_module.township_frame(listing(700, seed=11), mask=True))
    runs = [200, 0, 350, 150]
    offsets = [0, 200, 200, 550]
    paths = [tmp_path / f"{i}.xlsx" for i in range(len(runs))]
    books = [
        township_module._open_township_workbook(p, list(frame.columns), created=CREATED)
        for p in paths
    ]
    lines = _row_lines(frame, [_WIDTHS.get(n, 12) for n in frame.columns])
    write_blocks(
        [b[1] for b in books], 1, township_module._township_cells(frame),
        township_module._heights(lines), runs, [b[2] for b in books],
    )  # fmt: skip
    for (workbook, sheet, _), height in zip(books, runs, strict=True):
        township_module._finish_township_sheet(sheet, list(frame.columns), height, title="乡镇")
        workbook.close()
    for path, offset, height in zip(paths, offsets, runs, strict=True):
        part = frame.slice(offset, height)
        ref_write_township_xlsx(part, tmp_path / "ref.xlsx", title="乡镇", created=CREATED)
        assert path.read_bytes() == (tmp_path / "ref.xlsx").read_bytes(), path.name


def test_reference_helpers_cover_what_they_claim():
    """The hand-built listing reaches the cases the module docstring names."""
    frame = listing(900)
    text = " ".join(str(v) for v in frame["evidence"].to_list())
    assert "\x1b[31m" in text and "=SUM" in text and "😀" in text and "_x0041_" in text
    assert frame.filter(pl.col("status") == "逾期").height and frame["level"].is_in(["红"]).any()
    assert frame["township"].null_count() and any(
        unicodedata.east_asian_width(c) == "F" for c in "".join(TOWNSHIPS[-3:-1])
    )
    assert max(len(v or "") for v in frame["evidence"].to_list()) > 500


def test_a_cell_written_into_a_block_afterwards_is_refused_not_lost(tmp_path):
    workbook = fixed_workbook(tmp_path / "late.xlsx", CREATED)
    sheet = workbook.add_worksheet("表", worksheet_class=BulkWorksheet)
    sheet.write_string(0, 0, "表头")
    sheet.write_block(1, [Cells(pl.Series([f"行{i}" for i in range(3000)]))])
    sheet.write_string(5, 1, "后来写的")
    with pytest.raises(RuntimeError, match="after it"):
        workbook.close()


def _reader_rows(data: bytes) -> int:
    """The reference count: Python's csv reader over the decoded text, header aside."""
    text = data.decode("utf-8-sig")
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1)


@pytest.mark.parametrize("seed", range(6))
def test_csv_rows_are_counted_as_the_csv_reader_counts_them(tmp_path, seed):
    rng = random.Random(seed)
    pieces = ["甲", "a", " ", "\n", "\r\n", '"', ",", "张三\n李四", "", "x" * 30, "合计"]
    rows = [
        {f"c{j}": "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))) for j in range(4)}
        for _ in range(rng.randint(0, 60))
    ]
    frame = pl.DataFrame(rows, schema={f"c{j}": pl.String for j in range(4)})
    path = tmp_path / "t.csv"
    data = township_module.csv_bytes(frame)
    for written in (data, data.rstrip(b"\n")):  # also a file whose last line is unterminated
        path.write_bytes(written)
        assert township_module.csv_data_rows(path) == _reader_rows(written) == frame.height


def test_villages_and_grids_are_in_the_order_a_clerk_counts_them():
    """一组, 二组, 三组 … 十组, 十一组 (and 2组 beside 二组), not the characters' codes (一组, 三组,
    二组, as an independent district's files came out); 户编号 then orders within a grid."""
    grids = ["十一组网格", "三组网格", "二组网格", "十组网格", "一组网格", "2组网格", "一组网格"]
    frame = listing(len(grids)).with_columns(
        pl.lit("东桥镇").alias("township"),
        pl.Series("village", ["红星十二村"] + ["红星二村"] * (len(grids) - 1)),
        pl.Series("grid", grids),
        pl.Series("household_id", [f"H{i}" for i in range(len(grids))]),
    )
    shown = township_module.township_frame(frame, mask=True).select("村", "网格", "户编号").rows()
    assert shown == [
        ("红星二村", "一组网格", "H4"), ("红星二村", "一组网格", "H6"),
        ("红星二村", "二组网格", "H2"), ("红星二村", "2组网格", "H5"),
        ("红星二村", "三组网格", "H1"), ("红星二村", "十组网格", "H3"),
        ("红星十二村", "十一组网格", "H0"),
    ]  # fmt: skip
