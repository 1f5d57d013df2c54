"""Township warning lists: the month's listing (new + still open warnings) and its CSV/XLSX files."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable
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
    """One file that left the pipeline: what the export ledger records about it."""

    township: str | None  # None: a district file (summary, department workbook, unresolved list)
    path: Path
    rows: int
    sha256: str
    columns: tuple[str, ...] = ()
    ids_masked: bool | None = None  # None: the file holds no ID numbers at all


class ExportCheckError(RuntimeError):
    """A written file does not hold what the listing says it should: the export must not stand."""


# ---------------------------------------------------------------------------------------------
# Cell safety: every exported cell, CSV and XLSX alike, loses control characters and is capped in
# length; a CSV cell that a spreadsheet would read as a formula gets a leading ' (OWASP).

TEXT_LIMIT = 500  # characters of one exported text cell; the warehouse keeps the full value
ELLIPSIS = "…"
# ANSI/VT escape sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), two-byte ESC
# sequences, and the 8-bit CSI (0x9B): removed whole, so no "[31m" remnant is left behind
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_BREAKS = r"[\t\n\r\x0b\x0c\u2028\u2029]"  # become a space: words stay apart
# the rest of C0, DEL, C1, and the bidirectional overrides/isolates that reorder what is shown
_CONTROLS = r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
# a spreadsheet evaluates a cell starting with one of these (after blanks) as a formula
_FORMULA_START = r"^\s*[=+\-@]"


def clean_text(value: str, limit: int | None = TEXT_LIMIT) -> str:
    """One exported text: control characters and escape sequences out, at most `limit` chars."""
    text = re.sub(_CONTROLS, "", re.sub(_BREAKS, " ", re.sub(_ESCAPES, "", value)))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return text


def csv_text(value: str, limit: int | None = TEXT_LIMIT) -> str:
    """clean_text, and a leading ' where a spreadsheet would otherwise see a formula."""
    text = clean_text(value, limit)
    return "'" + text if re.match(_FORMULA_START, text) else text


def _clean_expr(expr: pl.Expr, limit: int) -> pl.Expr:
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


def export_frame(frame: pl.DataFrame, limit: int = TEXT_LIMIT) -> pl.DataFrame:
    """Text columns cleaned and capped for any export; numbers and dates stay as they are."""
    text = [n for n, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(_clean_expr(pl.col(n), limit).alias(n) for n in text)


def csv_frame(frame: pl.DataFrame, limit: int = TEXT_LIMIT) -> pl.DataFrame:
    """Every cell as text, cleaned, capped and neutralised: the contract's "no cell can act as a
    formula" holds for numbers too (a negative amount is written '-5)."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List):
            col = col.list.eval(pl.element().cast(pl.String)).list.join("；")
        text = _clean_expr(col.cast(pl.String), limit)
        out.append(
            pl.when(text.str.contains(_FORMULA_START))
            .then(pl.concat_str(pl.lit("'"), text))
            .otherwise(text)
            .alias(name)
        )
    return frame.select(out)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 with BOM (Excel opens it correctly), every cell safe."""
    return b"\xef\xbb\xbf" + csv_frame(frame).write_csv().encode("utf-8")


def csv_data_rows(path: Path) -> int:
    """Data rows of a written CSV, read back as a spreadsheet would (quoted newlines included)."""
    text = path.read_bytes().decode("utf-8-sig")
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1)


def xlsx_data_rows(path: Path) -> int:
    """Data rows of the first sheet of a written workbook (every row below the header)."""
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    return len(re.findall(rb"<row [^>]*>\s*<c ", sheet)) - 1


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


_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f\x7f-\x9f]+')
UNKNOWN_TOWNSHIP = "未知乡镇"
STEM_LIMIT = 40  # characters: a file name stays far below the 255-byte limit in UTF-8
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def safe_file_stem(township: str) -> str:
    return _UNSAFE.sub("_", clean_text(township, None)).strip("_. ") or UNKNOWN_TOWNSHIP


def _name_hash(township: str | None) -> str:
    raw = "\x00" if township is None else township
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]


def township_stems(townships: Iterable[str | None]) -> dict[str | None, str]:
    """A distinct, stable file stem per township: its own name where that is a safe file name,
    else the sanitised name plus 8 hex of the raw name's SHA-256 (`清水河街道/` →
    `清水河街道_1a2b3c4d`). Names that still meet (case or width differences, which Windows and
    macOS file systems fold) all take the hash. The same names give the same stems in every run."""
    stems: dict[str | None, str] = {}
    hashed: set[str | None] = set()
    for township in sorted(set(townships), key=lambda t: (t is None, t or "")):
        stem = UNKNOWN_TOWNSHIP if township is None else safe_file_stem(township)
        if stem.startswith("区级"):  # the district's own files start so: never mistaken for one
            stem = f"乡镇_{stem}"
        if township is not None and (
            stem != township or len(stem) > STEM_LIMIT or stem.upper() in _WINDOWS_RESERVED
        ):
            stem = f"{stem[:STEM_LIMIT]}_{_name_hash(township)}"
            hashed.add(township)
        stems[township] = stem

    def fold(stem: str) -> str:
        return unicodedata.normalize("NFKC", stem).casefold()

    groups: dict[str, list[str | None]] = {}
    for township, stem in stems.items():
        groups.setdefault(fold(stem), []).append(township)
    for members in groups.values():
        if len(members) > 1:
            for township in members:
                if township not in hashed:
                    stems[township] = f"{stems[township][:STEM_LIMIT]}_{_name_hash(township)}"
    if len({fold(s) for s in stems.values()}) != len(stems):
        raise ExportCheckError("两个乡镇的文件名相同，无法区分：请检查花名册中的乡镇名称")
    return stems


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
    """One CSV (UTF-8 with BOM) and optionally one XLSX per township that has warnings.

    Every file is read back once all are written: its rows must be the rows the listing holds
    for its township (a file overwritten by another township's, or cut short, fails the export)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_township_files(out_dir)
    parts = listing.partition_by("township", as_dict=True)
    stems = township_stems(township for (township,) in parts)
    planned: list[tuple[str | None, Path, int, tuple[str, ...]]] = []
    for (township,), part in sorted(parts.items(), key=lambda kv: stems[kv[0][0]]):
        frame = township_frame(part, mask=mask)
        stem = stems[township]
        csv_path = out_dir / f"{stem}.csv"
        csv_path.write_bytes(csv_bytes(frame))
        planned.append((township, csv_path, part.height, tuple(frame.columns)))
        if xlsx:
            xlsx_path = out_dir / f"{stem}.xlsx"
            shown = clean_text(township or UNKNOWN_TOWNSHIP, 100)
            write_township_xlsx(
                frame, xlsx_path, title=f"{shown}防返贫动态监测预警清单", created=export_date
            )
            planned.append((township, xlsx_path, part.height, tuple(frame.columns)))
    try:
        verify_rows(planned, listed=listing.height)
    except ExportCheckError:
        clear_township_files(out_dir)  # no file that fails the check is left to be sent out
        raise
    return [
        ExportedFile(township, path, rows, _sha256(path), columns, mask)
        for township, path, rows, columns in planned
    ]


def verify_rows(
    planned: list[tuple[str | None, Path, int, tuple[str, ...]]], *, listed: int
) -> None:
    """Read every written file back: rows on disk = rows listed for it, and every listed row is in
    exactly one CSV. Raises ExportCheckError naming the file."""
    paths = [path for _, path, _, _ in planned]
    if len(set(paths)) != len(paths):
        raise ExportCheckError("导出核对失败：两个乡镇写入了同一个文件")
    csv_total = 0
    for _, path, rows, _ in planned:
        found = csv_data_rows(path) if path.suffix == ".csv" else xlsx_data_rows(path)
        if found != rows:
            raise ExportCheckError(
                f"导出核对失败：{path.name} 中有 {found} 行，清单中该乡镇为 {rows} 行"
            )
        if path.suffix == ".csv":
            csv_total += found
    if csv_total != listed:
        raise ExportCheckError(f"导出核对失败：各乡镇 CSV 共 {csv_total} 行，清单为 {listed} 行")


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
MAX_ROW_HEIGHT = 409  # points: the tallest row Excel can show


def _lines(text: str, width: int) -> int:
    """Lines a wrapped cell needs: a Chinese character takes two of a column's width units."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return max(1, math.ceil(used / max(width - 1, 1)))


def fixed_workbook(path: Path, created: date | None):
    """An xlsxwriter workbook whose bytes depend only on its content (reruns give the same file)."""
    import xlsxwriter

    # text stays text: nothing a cell holds becomes a formula, a number or a hyperlink
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    moment = datetime.combine(created or date(2000, 1, 1), time())
    workbook.set_properties({"created": moment})
    return workbook


def write_sheet(workbook, name: str, frame: pl.DataFrame) -> None:
    """A plain table sheet: bold header, numbers as numbers, first row and column frozen; text
    cleaned of control characters and capped (export_frame)."""
    header = workbook.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    sheet = workbook.add_worksheet(name)
    frame = export_frame(frame)
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


def write_township_xlsx(
    frame: pl.DataFrame, path: Path, *, title: str, created: date | None = None
) -> None:
    """Print-ready workbook: frozen header, widths, text IDs, verification columns highlighted."""
    frame = export_frame(frame)
    title = clean_text(title, 200).replace("&", "&&")  # & starts a header code in Excel
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
            lines = max(
                _lines("" if v is None else str(v), _WIDTHS.get(name, 12))
                for name, v in zip(columns, values, strict=True)
            )
            sheet.set_row(row, min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines))
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
