"""One data-quality workbook per department, to send back: its rates, the files that could not be
read, rejected and unmatched rows."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.exports.ledger import file_sha256
from pipelines.exports.township import ExportedFile, fixed_workbook, mask_ids, write_sheet
from pipelines.matching.ids import BAD_CHECKSUM, BAD_DATE, DESTROYED, INVALID
from pipelines.sources import DEPARTMENT_SOURCES, SOURCES

FOLDER = "部门数据质量"
STATUS = {"ambiguous": "待确认(多个候选)", "unmatched": "未匹配"}
# an ambiguous record with fewer than two candidates (its ID another person's, an ID alone)
ONE_CANDIDATE = "待确认"
FAILED_SHEET = "读取失败的文件"
FAILED_COLUMNS = {"来源": pl.String, "部门": pl.String, "数据": pl.String, "文件": pl.String,
                  "工作表": pl.String, "状态": pl.String, "原因": pl.String}  # fmt: skip
# file statuses worth telling: unreadable, cut short (rows after the cut lost), delivered twice
FILE_TROUBLE = {"failed": "读取失败", "partial": "文件不完整", "duplicate": "重复报送（只计一次）"}
# a source with one of these is incomplete: no evidence of anyone's absence
INCOMPLETE = ("读取失败", "文件不完整")
# an ID the department wrote that is not a usable number, what each means to the department
ID_ERRORS = {  # named as the overview counts them (证件号码错误, 其中Excel损坏)
    DESTROYED: "Excel损坏：证件号码被 Excel 改写为数字，后几位已丢失（无法还原）："
    "请把该列设为「文本」后从系统重新导出",
    BAD_CHECKSUM: "证件号码错误：校验位不符（有错字）",
    BAD_DATE: "证件号码错误：其中的出生日期不成立",
    INVALID: "证件号码错误：位数或字符不对",
}
ID_ERROR_STATUSES = tuple(ID_ERRORS)


def failed_files(
    con: duckdb.DuckDBPyConnection, district: str, month: str, sources: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Every file (or sheet) of the month that could not be read, with the reader's reason
    (`sources`: only those)."""
    frame = con.sql(
        """SELECT source, file, sheet, status, message FROM ingest_files
           WHERE district = $d AND month = $m AND status IN ('failed', 'partial', 'duplicate')
           ORDER BY source, file, sheet""",
        params={"d": district, "m": month},
    ).pl()
    if sources:
        frame = frame.filter(pl.col("source").is_in(list(sources)))
    rows = [
        {
            "来源": r["source"],
            "部门": SOURCES[r["source"]].department if r["source"] in SOURCES else None,
            "数据": SOURCES[r["source"]].title if r["source"] in SOURCES else None,
            "文件": r["file"],
            "工作表": r["sheet"],
            "状态": FILE_TROUBLE[r["status"]],
            "原因": r["message"] or "无法读取",
        }
        for r in frame.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=FAILED_COLUMNS)


def _row_problems(
    con: duckdb.DuckDBPyConnection, district: str, month: str, sources: list[str]
) -> dict[str, dict[str, pl.DataFrame]]:
    """Per source of `sources` (every department source), its rows to name by kind
    (ROW_PROBLEMS): each kind read for every source in one query, not three queries per source."""
    params = {"d": district, "m": month, "sources": sources}
    rejected = con.sql(
        """SELECT source, file AS 文件, sheet AS 工作表, row_number AS 行号, reason AS 原因
           FROM rejects WHERE district = $d AND month = $m AND list_contains($sources, source)
           ORDER BY source, file, sheet, row_number""",
        params=params,
    ).pl()
    # kept rows with a field that could not be read: the row counts, that field does not
    unreadable = con.sql(
        """SELECT source, file AS 文件, sheet AS 工作表, row_number AS 行号, reason AS 原因,
                  raw_value AS 原始值
           FROM field_problems
           WHERE district = $d AND month = $m AND list_contains($sources, source)
           ORDER BY source, file, sheet, row_number, field""",
        params=params,
    ).pl()
    frames = {
        "退回行": rejected,
        "字段无法识别": unreadable,
        "证件号码错误": _id_errors(con, params),
    }
    by_source: dict[str, dict[str, pl.DataFrame]] = {source: {} for source in sources}
    for label, frame in frames.items():
        for (source,), part in frame.partition_by("source", as_dict=True).items():
            by_source[source][label] = part.drop("source")
    return by_source


def _id_errors(con: duckdb.DuckDBPyConnection, params: dict) -> pl.DataFrame:
    """Kept rows whose 证件号码 is not a usable ID, each with what is wrong and the ID as written,
    masked (contract §2: a row carrying a destroyed ID is reported as such; it had been a count
    in the overview only, the rows named nowhere, though some were tied by name and warned)."""
    rows = con.sql(
        " UNION ALL ".join(
            f"""SELECT '{source}' AS source, file AS 文件, sheet AS 工作表, row_number AS 行号,
                       id_status, id_raw
                FROM stg_{source}
                WHERE district = $d AND month = $m AND list_contains($statuses, id_status)"""
            for source in params["sources"]
        )
        + " ORDER BY source, 文件, 工作表, 行号",
        params={"d": params["d"], "m": params["m"], "statuses": list(ID_ERROR_STATUSES)},
    ).pl()
    return rows.select(
        "source", "文件", "工作表", "行号",
        pl.col("id_status").replace_strict(ID_ERRORS, return_dtype=pl.String).alias("问题"),
        mask_ids(pl.col("id_raw")).alias("证件号码（脱敏）"),
    )  # fmt: skip


# a source's sheets of rows to name, in their order: rejected rows, fields that could not be read,
# IDs that are not usable (_row_problems), rows that could not be tied (_unresolved)
ROW_PROBLEMS = ("退回行", "字段无法识别", "证件号码错误", "未匹配")


def _unresolved(listing: pl.DataFrame, source: str) -> pl.DataFrame:
    """The department's own rows that could not be tied: where they are and why, no candidates
    (those are the roster's people, not the department's). Read off the district's list of
    unresolved records (summary.unresolved_listing), which holds them in this order already."""
    if not listing.height:
        return pl.DataFrame()
    return listing.filter(
        (pl.col("来源") == source) & pl.col("类别").is_in([*STATUS.values(), ONE_CANDIDATE])
    ).select("文件", "工作表", "行号", "类别", "原因")


def _department_sheets(
    department: str,
    quality: pl.DataFrame,
    failed: pl.DataFrame,
    unresolved: pl.DataFrame,
    problems: dict[str, dict[str, pl.DataFrame]],
    by_key: dict,
) -> dict[str, pl.DataFrame]:
    """A department's sheets: its rates, its files that could not be read, then per source the
    rejected rows, the fields that could not be read, the rows whose ID is not usable and the
    rows that could not be tied."""
    rates = quality.filter(pl.col("部门") == department) if quality.height else pl.DataFrame()
    own_failed = failed.filter(pl.col("部门") == department)
    if rates.is_empty():  # nothing of it could be read: the overview still names its sources
        rates = pl.DataFrame(
            {"部门": department, "数据": by_key[k].title, "来源": k, "记录数": 0}
            for k in dict.fromkeys(own_failed["来源"].to_list())
        )
    sheets: dict[str, pl.DataFrame] = {"概况": rates}
    if own_failed.height:
        sheets[FAILED_SHEET] = own_failed.select("数据", "文件", "工作表", "状态", "原因")
    for source in rates["来源"].to_list():
        title = by_key[source].title
        found = {**problems[source], "未匹配": _unresolved(unresolved, source)}
        for label in ROW_PROBLEMS:
            frame = found.get(label)
            if frame is not None and frame.height:
                sheets[f"{title}_{label}"[:31]] = frame
    return sheets


def write_department_workbooks(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    quality: pl.DataFrame,
    unresolved: pl.DataFrame,
    out_dir: Path,
    export_date: date,
) -> list[ExportedFile]:
    """`quality`: the summary's 部门数据质量 table (one row per source with records);
    `unresolved`: the district's list of unresolved records (summary.unresolved_listing). A department
    whose file could not be read gets its workbook too, naming the file and the reason first.
    A rerun replaces them."""
    folder = out_dir / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    keys = [s.key for s in DEPARTMENT_SOURCES]
    failed = failed_files(con, district, month, tuple(keys))
    departments = [
        d
        for d in dict.fromkeys(s.department for s in DEPARTMENT_SOURCES)
        if (quality.height and d in quality["部门"].to_list()) or d in failed["部门"].to_list()
    ]
    if not departments:
        return []
    folder.mkdir(parents=True)
    by_key = {s.key: s for s in DEPARTMENT_SOURCES}
    problems = _row_problems(con, district, month, keys)

    def packed(workbook, path: Path) -> str:
        workbook.close()
        return file_sha256(path)

    planned = []
    # each workbook is packed (XML, then zlib) on a second thread while the next one is written
    with ThreadPoolExecutor(max_workers=1) as packer:
        for department in departments:
            path = folder / f"{month}_{department}_数据质量反馈.xlsx"
            sheets = _department_sheets(department, quality, failed, unresolved, problems, by_key)
            workbook = fixed_workbook(path, export_date)
            try:
                for name, frame in sheets.items():
                    write_sheet(workbook, name, frame)
            except BaseException:
                workbook.close()
                raise
            planned.append((path, sheets, packer.submit(packed, workbook, path)))
    written = [
        ExportedFile(
            None,
            path,
            sum(frame.height for frame in sheets.values()),
            digest.result(),
            tuple(f"{name}.{column}" for name, frame in sheets.items() for column in frame.columns),
            None,
            path.stat().st_size,
        )
        for path, sheets, digest in planned
    ]
    return written
