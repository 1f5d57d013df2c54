"""Township warning lists: the month's listing (new + still open warnings) and its CSV/XLSX files."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipelines.feedback import VERDICTS
from pipelines.matching.ids import mask_id
from pipelines.warehouse import scalar, table_exists

EXPORT_COLUMNS = (
    "预警编号",
    "乡镇",
    "村",
    "网格",
    "网格员",
    "网格员电话",
    "户编号",
    "户主姓名",
    "户类型",
    "姓名",
    "证件号码",
    "与户主关系",
    "预警代码",
    "预警名称",
    "风险类型",
    "预警方向",
    "预警等级",
    "来源部门",
    "预警依据",
    "匹配方式",
    "匹配可信度",
    "状态",
    "首次预警月份",
    "核实截止日期",
    "核实结果",
    "核实说明",
    "核实人",
    "核实日期",
)
VERIFICATION_COLUMNS = ("核实结果", "核实说明", "核实人", "核实日期")
NEW, OPEN, OVERDUE = "新增", "待核实", "逾期"

# Listing: everything the township file shows, kept in the warehouse per month (IDs unmasked there,
# masked only when written out).
LISTING_SQL = """
    SELECT w.warning_id, h.township, h.village, h.grid, h.worker_name, h.worker_phone,
           w.household_id, h.head_name, h.household_type, r.name AS member_name,
           r.id_number, r.relation, w.rule, w.rule_name, w.risk_type, w.direction, w.level,
           w.department, w.evidence, w.method, w.confidence, w.member_key, w.source,
           w.record_keys
    FROM warnings w
    JOIN households h
      ON h.district = w.district AND h.month = w.month AND h.household_id = w.household_id
    LEFT JOIN roster_members r
      ON r.district = w.district AND r.month = w.month AND r.member_key = w.member_key
    WHERE w.district = $district AND w.month = $month
"""


@dataclass(frozen=True)
class ExportedFile:
    township: str
    path: Path
    rows: int
    sha256: str


def export_date_for(con: duckdb.DuckDBPyConnection, district: str, month: str, today: date) -> date:
    """The date a month was first exported: a rerun keeps it, so deadlines don't move."""
    if table_exists(con, "export_runs"):
        existing = scalar(
            con,
            "SELECT export_date FROM export_runs WHERE district = ? AND month = ?",
            [district, month],
        )
        if existing:
            return existing
    con.execute(
        "CREATE TABLE IF NOT EXISTS export_runs (district VARCHAR, month VARCHAR, export_date DATE)"
    )
    con.execute("INSERT INTO export_runs VALUES (?, ?, ?)", [district, month, today])
    return today


def _earlier_listings(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    if not table_exists(con, "listings"):
        return pl.DataFrame()
    return con.sql(
        "SELECT * FROM listings WHERE district = $district AND month < $month",
        params={"district": district, "month": month},
    ).pl()


def build_listing(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    export_date: date,
    deadline_days: int,
    verified: set[str] | None = None,
) -> tuple[pl.DataFrame, str | None]:
    """This month's list: new warnings, plus earlier ones still awaiting verification.

    Returns the listing and the month it carried open warnings from (None when no earlier
    month was ever listed).
    """
    verified = verified or set()
    current = con.sql(LISTING_SQL, params={"district": district, "month": month}).pl()
    earlier = _earlier_listings(con, district, month)
    carried_from: str | None = None
    if earlier.height:
        first_seen = earlier.group_by("warning_id").agg(
            pl.col("first_month").min(), pl.col("deadline").min()
        )
        carried_from = earlier["month"].max()
        # still open in the latest earlier listing, not verified since, not re-found this month
        carried = earlier.filter(
            (pl.col("month") == carried_from)
            & ~pl.col("warning_id").is_in(list(verified))
            & ~pl.col("warning_id").is_in(current["warning_id"].implode())
        ).drop("district", "month", "status", "first_month", "deadline")
    else:
        first_seen = pl.DataFrame(
            schema={"warning_id": pl.String, "first_month": pl.String, "deadline": pl.Date}
        )
        carried = None
    current = current.filter(~pl.col("warning_id").is_in(list(verified)))
    own_deadline = export_date + timedelta(days=deadline_days)
    listing = (
        pl.concat([current, carried], how="diagonal_relaxed") if carried is not None else current
    )
    listing = (
        listing.join(first_seen, on="warning_id", how="left")
        .with_columns(
            pl.col("first_month").fill_null(month),
            pl.col("deadline").fill_null(own_deadline),
        )
        .with_columns(
            pl.when(pl.col("first_month") == month)
            .then(pl.lit(NEW))
            .when(pl.col("deadline") < export_date)
            .then(pl.lit(OVERDUE))
            .otherwise(pl.lit(OPEN))
            .alias("status")
        )
    )
    return listing, carried_from


def township_frame(listing: pl.DataFrame, *, mask: bool) -> pl.DataFrame:
    """The listing in the contract's export columns, sorted by 村, 网格, 户编号, 预警代码."""
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


_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def safe_file_stem(township: str) -> str:
    return _UNSAFE.sub("_", township).strip("_") or "未知乡镇"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clear_township_files(out_dir: Path) -> None:
    """A rerun replaces the month's township files: stale files of a previous run go first."""
    if out_dir.is_dir():
        for path in out_dir.iterdir():
            if (
                path.is_file()
                and path.suffix in {".csv", ".xlsx"}
                and not path.name.startswith("区级")
            ):
                path.unlink()


def write_township_files(
    listing: pl.DataFrame, out_dir: Path, *, mask: bool, xlsx: bool, export_date: date | None = None
) -> list[ExportedFile]:
    """One CSV (UTF-8 with BOM) and optionally one XLSX per township that has warnings."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_township_files(out_dir)
    written: list[ExportedFile] = []
    for (township,), part in listing.partition_by("township", as_dict=True).items():
        frame = township_frame(part, mask=mask)
        stem = safe_file_stem(township or "未知乡镇")
        csv_path = out_dir / f"{stem}.csv"
        csv_path.write_bytes(b"\xef\xbb\xbf" + frame.write_csv().encode("utf-8"))
        written.append(ExportedFile(township, csv_path, frame.height, _sha256(csv_path)))
        if xlsx:
            xlsx_path = out_dir / f"{stem}.xlsx"
            write_township_xlsx(
                frame, xlsx_path, title=f"{township}防返贫动态监测预警清单", created=export_date
            )
            written.append(ExportedFile(township, xlsx_path, frame.height, _sha256(xlsx_path)))
    return written


# Widths (characters) chosen so that the whole list prints one page wide on A3 landscape at a
# readable size; long text wraps inside its cell.
_WIDTHS = {
    "预警编号": 19, "乡镇": 8, "村": 8, "网格": 12, "网格员": 7, "网格员电话": 12, "户编号": 18,
    "户主姓名": 7, "户类型": 7, "姓名": 7, "证件号码": 19, "与户主关系": 6, "预警代码": 6,
    "预警名称": 12, "风险类型": 10, "预警方向": 5, "预警等级": 5, "来源部门": 8, "预警依据": 36,
    "匹配方式": 14, "匹配可信度": 6, "状态": 5, "首次预警月份": 8, "核实截止日期": 11,
    "核实结果": 14, "核实说明": 18, "核实人": 7, "核实日期": 10,
}  # fmt: skip


LINE_HEIGHT = 15  # points per wrapped line at the default font size


def _lines(text: str, width: int) -> int:
    """Lines a wrapped cell needs: a Chinese character takes two of a column's width units."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return max(1, math.ceil(used / max(width - 1, 1)))


def fixed_workbook(path: Path, created: date | None):
    """An xlsxwriter workbook whose bytes depend only on its content (reruns give the same file)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    moment = datetime.combine(created or date(2000, 1, 1), time())
    workbook.set_properties({"created": moment})
    return workbook


def write_sheet(workbook, name: str, frame: pl.DataFrame) -> None:
    """A plain table sheet: bold header, numbers as numbers, first row and column frozen."""
    header = workbook.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    sheet = workbook.add_worksheet(name)
    for col, column in enumerate(frame.columns):
        sheet.write_string(0, col, str(column), header)
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


def write_township_xlsx(
    frame: pl.DataFrame, path: Path, *, title: str, created: date | None = None
) -> None:
    """Print-ready workbook: frozen header, widths, text IDs, verification columns highlighted."""
    workbook = fixed_workbook(path, created)
    try:
        sheet = workbook.add_worksheet("预警清单")
        header = workbook.add_format(
            {
                "bold": True,
                "bg_color": "#D9E1F2",
                "border": 1,
                "text_wrap": True,
                "valign": "vcenter",
            }
        )
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
        sheet.set_row(0, LINE_HEIGHT * max(_lines(name, _WIDTHS.get(name, 12)) for name in columns))
        for row, values in enumerate(frame.iter_rows(), start=1):
            sheet.set_row(
                row,
                LINE_HEIGHT
                * max(
                    _lines("" if v is None else str(v), _WIDTHS.get(name, 12))
                    for name, v in zip(columns, values, strict=True)
                ),
            )
            for col, value in enumerate(values):
                if value is None:
                    continue
                fmt = verify_cell if columns[col] in VERIFICATION_COLUMNS else cell
                if col == status_col and value == OVERDUE:
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
        sheet.set_paper(8)  # A3: 28 columns do not fit an A4 width at a readable size
        sheet.set_margins(left=0.3, right=0.3, top=0.5, bottom=0.5)
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(0)
        sheet.set_header(f"&C{title}")
        sheet.set_footer("&C第 &P 页，共 &N 页")
    finally:
        workbook.close()
