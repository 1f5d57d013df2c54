"""One data-quality workbook per department, to send back: its rates, rejected and unmatched rows."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.exports.township import fixed_workbook, write_sheet
from pipelines.sources import DEPARTMENT_SOURCES
from pipelines.warehouse import table_exists

FOLDER = "部门数据质量"
STATUS = {"ambiguous": "待确认(多个候选)", "unmatched": "未匹配"}


def _rejected(
    con: duckdb.DuckDBPyConnection, district: str, month: str, source: str
) -> pl.DataFrame:
    if not table_exists(con, "rejects"):
        return pl.DataFrame()
    return con.sql(
        """SELECT file AS 文件, sheet AS 工作表, row_number AS 行号, reason AS 原因
           FROM rejects WHERE district = $d AND month = $m AND source = $s
           ORDER BY file, sheet, row_number""",
        params={"d": district, "m": month, "s": source},
    ).pl()


def _unresolved(
    con: duckdb.DuckDBPyConnection, district: str, month: str, source: str
) -> pl.DataFrame:
    """The department's own rows that could not be tied: where they are and why, no candidates
    (those are the roster's people, not the department's)."""
    if not table_exists(con, "unmatched_records"):
        return pl.DataFrame()
    frame = con.sql(
        f"""SELECT s.file AS 文件, s.sheet AS 工作表, s.row_number AS 行号, u.status, u.reason AS 原因
            FROM unmatched_records u JOIN stg_{source} s
              ON s.district = u.district AND s.month = u.month AND s.record_key = u.record_key
            WHERE u.district = $d AND u.month = $m AND u.source = $s
            ORDER BY s.file, s.sheet, s.row_number""",
        params={"d": district, "m": month, "s": source},
    ).pl()
    return frame.with_columns(
        pl.col("status").replace_strict(STATUS, return_dtype=pl.String).alias("类别")
    ).select("文件", "工作表", "行号", "类别", "原因")


def write_department_workbooks(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    quality: pl.DataFrame,
    out_dir: Path,
    export_date: date,
) -> list[Path]:
    """`quality`: the summary's 部门数据质量 table (one row per source). A rerun replaces them."""
    folder = out_dir / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    if quality.is_empty():
        return []
    folder.mkdir(parents=True)
    written = []
    by_key = {s.key: s for s in DEPARTMENT_SOURCES}
    for (department,), rates in quality.partition_by(
        "部门", as_dict=True, maintain_order=True
    ).items():
        path = folder / f"{month}_{department}_数据质量反馈.xlsx"
        workbook = fixed_workbook(path, export_date)
        try:
            write_sheet(workbook, "概况", rates)
            for source in rates["来源"].to_list():
                title = by_key[source].title
                for label, frame in (
                    ("退回行", _rejected(con, district, month, source)),
                    ("未匹配", _unresolved(con, district, month, source)),
                ):
                    if frame.height:
                        write_sheet(workbook, f"{title}_{label}"[:31], frame)
        finally:
            workbook.close()
        written.append(path)
    return written
