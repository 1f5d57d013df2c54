"""The district summary workbook: township × rule, departments, months, receipt and data quality."""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.exports.charts import Chart, add_chart_sheet, chart_figures, svg
from pipelines.exports.departments import (
    FAILED_SHEET,
    FILE_TROUBLE,
    ID_ERROR_STATUSES,
    INCOMPLETE,
    ONE_CANDIDATE,
    STATUS,
    failed_files,
    write_department_workbooks,
)
from pipelines.exports.departments import (
    FOLDER as DEPARTMENT_FOLDER,
)
from pipelines.exports.learning import learned_tables, warning_history
from pipelines.exports.ledger import file_sha256
from pipelines.exports.township import (
    GONE_HOUSEHOLD_SQL,
    ExportCheckError,
    ExportedFile,
    clean_text,
    csv_bytes,
    csv_data_rows,
    export_frame,
    fixed_workbook,
    mask_ids,
    put_in_place,
    write_sheet,
    writing_beside,
)
from pipelines.ingest.history import (
    CLAIMS,
    missing_claims_months,
    month_folders,
    month_span,
)
from pipelines.matching.labels import NAMESAKE_REASONS
from pipelines.rules.catalogue import RULES
from pipelines.rules.completeness import with_provenance
from pipelines.sources import DEPARTMENT_SOURCES, SOURCES
from pipelines.warehouse import fetch_one, scalar

SUMMARY_XLSX = "区级汇总.xlsx"
SUMMARY_CSV = "区级汇总.csv"
SUMMARY_HTML = "区级汇总.html"
CHART_SHEET = "图表"
UNRESOLVED_CSV = "区级_未匹配与待确认.csv"
ROSTER_CSV = "区级_花名册问题.csv"
# a carried warning whose household M's roster no longer has (roster_problem_listing)
GONE_HOUSEHOLD = "预警农户已不在花名册"
FEEDBACK_CSV = "区级_未采用核实结果.csv"
# the district's lists, each written only when it has rows (a month without any removes the
# earlier one)
DISTRICT_LISTS = (UNRESOLVED_CSV, ROSTER_CSV, FEEDBACK_CSV)

# rules that fire because a member is *absent* from the source: a source not received, empty, or
# with a file that could not be read is no evidence of anyone's absence (contract, section 4)
ABSENCE_RULES = tuple(r.code for r in RULES if r.absence)
MISSING_SHEET = "未报送与读取失败"
# the rule settings the month's lists were made under (every value changed from the defaults)
SETTINGS_SHEET = "规则设置"


def source_problems(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Department sources that were not received, had a file that could not be read, or held no
    usable row this month, by name, with what that means for their rules."""
    status = {
        r["source"]: r
        for r in _q(
            con,
            "SELECT * FROM source_status WHERE district = $d AND month = $m",
            d=district,
            m=month,
        ).iter_rows(named=True)
    }
    failed = failed_files(con, district, month).filter(pl.col("状态").is_in(INCOMPLETE))
    failures = dict(failed.group_by("来源").len().iter_rows()) if failed.height else {}
    rows = []
    for source in DEPARTMENT_SOURCES:
        row = status.get(source.key) or {}
        rules = [r for r in RULES if r.source == source.key]
        absence = [f"{r.code} {r.name}" for r in rules if r.code in ABSENCE_RULES]
        named = "、".join(f"{r.code} {r.name}" for r in rules)
        records = row.get("records") or 0
        if not row.get("received"):
            state = "未报送"
            note = f"本月未收到该来源的数据：{named} 未评估（不代表没有预警）"
        elif failures.get(source.key):
            state = "读取失败" if not records else "部分文件读取失败"
            note = f"{failures[source.key]} 个文件读取失败或不完整（见“{FAILED_SHEET}”）"
            if absence:
                note += (
                    f"；缺失类规则 {'、'.join(absence)} 本月不产生预警（读不到不等于不在名单中）"
                )
            others = [f"{r.code} {r.name}" for r in rules if r.code not in ABSENCE_RULES]
            if others:
                note += (
                    f"；{'、'.join(others)} 只依据读取成功的文件"
                    if records
                    else f"；{'、'.join(others)} 本月没有可用数据"
                )
        elif not records:
            state = "没有可用数据行"
            note = "收到了文件，但没有可用的数据行（见退回行）"
            if absence:
                note += f"；缺失类规则 {'、'.join(absence)} 本月不产生预警"
        elif source.key == CLAIMS and (missing := missing_claims_months(con, district, month)):
            state = "本年此前月份未收到"
            note = (
                f"本年{month_span(missing)}的医保结算明细未收到（raw/ 下 "
                f"{month_folders(month[:4], missing)} 没有可用的 {CLAIMS} 数据）："
                "本年累计只含已收到的月份，已达阈值的户照常预警，未达阈值的户可能因缺这些月份而"
                "未预警；补齐后重跑本月即可"
            )
        else:
            continue
        rows.append(
            {
                "来源": source.key,
                "部门": source.department,
                "数据": source.title,
                "状态": state,
                "读取失败文件数": int(failures.get(source.key, 0)),
                "涉及规则": named,
                "说明": note,
            }
        )
    return pl.DataFrame(
        rows,
        schema={"来源": pl.String, "部门": pl.String, "数据": pl.String, "状态": pl.String,
                "读取失败文件数": pl.Int64, "涉及规则": pl.String, "说明": pl.String},
    )  # fmt: skip


def _q(con: duckdb.DuckDBPyConnection, sql: str, **params) -> pl.DataFrame:
    return con.sql(sql, params=params).pl()


def township_by_rule(listing: pl.DataFrame, not_evaluated: Collection[str] = ()) -> pl.DataFrame:
    """Rows = townships, columns = rule codes, plus a total column and a total row. A rule not
    evaluated this month (its source not received, or no evidence of absence) is blank where it
    lists nothing, never 0: 0 would say it found nothing (an independent audit read 区级汇总.csv
    so). Its carried warnings, where it has some, are counted."""
    codes = [r.code for r in RULES]
    if listing.height == 0:
        return pl.DataFrame({"乡镇": [], **{c: [] for c in codes}, "合计": []})
    counts = listing.group_by(["township", "rule"]).len()
    wide = counts.pivot(on="rule", index="township", values="len").fill_null(0)
    for code in codes:
        if code not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.UInt32).alias(code))
    wide = wide.select(pl.col("township").alias("乡镇"), *codes).sort("乡镇")
    wide = wide.with_columns(pl.sum_horizontal(codes).alias("合计"))
    total = wide.select(pl.lit("合计").alias("乡镇"), pl.exclude("乡镇").sum())
    blank = [code for code in codes if code in not_evaluated]
    return pl.concat([wide, total], how="vertical_relaxed").with_columns(
        pl.when(pl.col(code) > 0).then(pl.col(code)).alias(code) for code in blank
    )


def department_quality(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Per department source: their own ID error rate, missing IDs, unmatched share (to send back)."""
    # ties, ambiguous and unmatched per source are the month's match_quality (pipelines/quality.py)
    unresolved_by_source = {
        source: {"ambiguous": ambiguous, "unmatched": unmatched}
        for source, ambiguous, unmatched in con.execute(
            "SELECT source, ambiguous, unmatched FROM match_quality WHERE district = ? AND month = ?",
            [district, month],
        ).fetchall()
    }
    rows = []
    for source in DEPARTMENT_SOURCES:
        table = f"stg_{source.key}"
        stats = fetch_one(
            con,
            f"""SELECT count(*),
                       count(*) FILTER (WHERE id_status = 'missing'),
                       count(*) FILTER (WHERE id_status IN {ID_ERROR_STATUSES!r}),
                       count(*) FILTER (WHERE id_status = 'destroyed')
                FROM {table} WHERE district = ? AND month = ?""",
            [district, month],
        )
        records = stats[0]
        if not records:
            continue
        unresolved = unresolved_by_source.get(source.key, {"ambiguous": 0, "unmatched": 0})
        rejected = scalar(
            con,
            "SELECT count(*) FROM rejects WHERE district = ? AND month = ? AND source = ?",
            [district, month, source.key],
        )
        rows.append(
            {
                "部门": source.department,
                "数据": source.title,
                "来源": source.key,
                "记录数": records,
                "退回行数": rejected,
                "缺证件号码": stats[1],
                "缺证件号码占比": round(stats[1] / records, 4),
                "证件号码错误": stats[2],
                "证件号码错误率": round(stats[2] / records, 4),
                "其中Excel损坏": stats[3],
                "未匹配": unresolved["unmatched"],
                "待确认(多候选)": unresolved["ambiguous"],
                "未匹配占比": round(
                    (unresolved["unmatched"] + unresolved["ambiguous"]) / records, 4
                ),
            }
        )
    return pl.DataFrame(rows)


UNDECIDED_SHEET = "无法判断与不可判断"


def undecided_counts(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Per rule and department: members an absence rule could not decide (无法判断, listed in the
    unresolved list) and rows a rule could not evaluate for an unreadable field (不可判断)."""
    counts = _q(
        con,
        """SELECT rule, kind, count(DISTINCT coalesce(member_key, record_key)) AS n,
                  count(DISTINCT record_key) AS rows
           FROM rule_undecided WHERE district = $d AND month = $m GROUP BY ALL""",
        d=district,
        m=month,
    )
    if counts.is_empty():
        return pl.DataFrame()
    by_code = {r.code: r for r in RULES}
    return (
        counts.with_columns(
            pl.col("rule").replace_strict({c: r.name for c, r in by_code.items()}).alias("规则名称"),
            pl.col("rule")
            .replace_strict({c: r.department for c, r in by_code.items()})
            .alias("来源部门"),
        )
        .pivot(on="kind", index=["rule", "规则名称", "来源部门"], values="n")
        .rename({"rule": "预警代码"})
        .with_columns(
            pl.lit(None, dtype=pl.UInt32).alias(c)
            for c in ("无法判断", "不可判断")
            if c not in counts["kind"].unique().to_list()
        )
        .select("预警代码", "规则名称", "来源部门",
                pl.col("无法判断").fill_null(0).alias("无法判断(成员)"),
                pl.col("不可判断").fill_null(0).alias("不可判断(记录)"))
        .sort("预警代码")
    )  # fmt: skip


def summary_tables(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> dict[str, pl.DataFrame]:
    listing = _q(
        con, "SELECT * FROM listings WHERE district = $d AND month = $m", d=district, m=month
    )
    tables: dict[str, pl.DataFrame] = {}
    # what went wrong comes first: a district reading the summary sees it before any count
    problems = source_problems(con, district, month)
    if problems.height:
        tables[MISSING_SHEET] = problems
    failed = failed_files(con, district, month)
    if failed.height:
        tables[FAILED_SHEET] = failed
    undecided = undecided_counts(con, district, month)
    if undecided.height:
        tables[UNDECIDED_SHEET] = undecided
    not_evaluated = {
        rule
        for (rule,) in con.execute(
            "SELECT rule FROM rules_not_evaluated WHERE district = ? AND month = ?",
            [district, month],
        ).fetchall()
    }
    tables["乡镇×预警"] = township_by_rule(listing, not_evaluated)
    if listing.height:
        tables["部门"] = (
            listing.group_by("department")
            .agg(
                pl.len().alias("预警数"),
                (pl.col("status") == "新增").sum().alias("新增"),
                (pl.col("status") == "待核实").sum().alias("待核实"),
                (pl.col("status") == "逾期").sum().alias("逾期"),
                (pl.col("level") == "红").sum().alias("红色"),
            )
            .rename({"department": "来源部门"})
            .sort("来源部门")
        )
        tables["逾期(乡镇)"] = (
            listing.group_by("township")
            .agg((pl.col("status") == "逾期").sum().alias("逾期数"), pl.len().alias("清单行数"))
            .rename({"township": "乡镇"})
            .sort("乡镇")
        )
    tables["逐月"] = _q(
        con,
        """SELECT month AS 月份, count(*) AS 清单行数,
                  count(*) FILTER (WHERE status = '新增') AS 新增,
                  count(DISTINCT township) AS 乡镇数
           FROM listings WHERE district = $d AND month <= $m GROUP BY month ORDER BY month""",
        d=district,
        m=month,
    )
    status = _q(
        con,
        "SELECT * FROM source_status WHERE district = $d AND month = $m",
        d=district,
        m=month,
    )
    received = {r["source"]: r for r in status.iter_rows(named=True)}
    failing = set(failed.filter(pl.col("状态").is_in(INCOMPLETE))["来源"].to_list())
    tables["数据接收"] = pl.DataFrame(
        [
            {
                "来源": key,
                "部门": SOURCES[key].department,
                "数据": SOURCES[key].title,
                "是否报送": (
                    "未报送"
                    if not received.get(key, {}).get("received")
                    else "已报送（有文件读取失败）"
                    if key in failing
                    else "已报送"
                ),
                "快照月份": received.get(key, {}).get("snapshot_month"),
                "文件数": received.get(key, {}).get("files", 0),
                "保留行数": received.get(key, {}).get("records", 0),
                "退回行数": received.get(key, {}).get("rejected", 0),
                # kept rows with a field that could not be read (that field is null)
                "字段无法识别数": received.get(key, {}).get("field_problems") or 0,
            }
            # and the townships' returned lists (a later month's answers to the warnings)
            for key in ("roster", "grid", *(s.key for s in DEPARTMENT_SOURCES), "feedback")
        ]
    )
    # contract §2: per file, how many rows were read, kept and rejected (the run's output gives
    # them per source; the Dagster UI per file, in each source's metadata)
    tables["文件读取"] = _q(
        con,
        f"""SELECT source AS 来源, file AS 文件, sheet AS 工作表,
                   CASE status {" ".join(f"WHEN '{k}' THEN '{v}'" for k, v in FILE_TROUBLE.items())}
                        ELSE '已读取' END AS 状态,
                   rows_read AS 读取行数, rows_kept AS 保留行数, rows_rejected AS 退回行数,
                   rows_skipped AS 跳过行数, rows_duplicate AS 重复行数, message AS 说明
            FROM ingest_files WHERE district = $d AND month = $m
            ORDER BY source, file, sheet NULLS FIRST""",
        d=district,
        m=month,
    )
    quality = department_quality(con, district, month)
    if quality.height:
        tables["部门数据质量"] = quality
    tables["匹配方式"] = _q(
        con,
        """SELECT source AS 来源, method AS 匹配方式, count(*) AS 记录数,
                  round(avg(confidence), 3) AS 平均可信度
           FROM record_matches WHERE district = $d AND month = $m
           GROUP BY ALL ORDER BY 来源, 记录数 DESC, 匹配方式""",
        d=district,
        m=month,
    )
    tables["花名册问题"] = _q(
        con,
        f"""SELECT kind AS 问题, count(*) AS 数量, '明细见 {ROSTER_CSV}' AS 说明
           FROM roster_findings
           WHERE district = $d AND month = $m GROUP BY kind ORDER BY kind""",
        d=district,
        m=month,
    )
    return tables


def roster_problem_listing(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> pl.DataFrame:
    """Every finding of M's roster (roster_findings) with where it is and the roster row behind
    it, so that the district knows which ledger or roster rows to check: 井冲村 二组 with two
    网格员, the member whose ID Excel destroyed, file and row (an independent probe found only
    counts in the summary, the rows named nowhere but the warehouse). A household's finding
    names its head's row."""
    rows = _q(
        con,
        """SELECT f.kind, h.township, h.village, h.grid, f.household_id, h.head_name,
                  m.name, m.id_number, m.record_key, f.detail
           FROM roster_findings f
           LEFT JOIN households h
             ON h.district = f.district AND h.month = f.month AND h.household_id = f.household_id
           LEFT JOIN roster_members m
             ON m.district = f.district AND m.month = f.month AND m.member_key = f.member_key
           WHERE f.district = $d AND f.month = $m
           ORDER BY f.kind, h.township, h.village, h.grid, f.household_id, m.record_key""",
        d=district,
        m=month,
    )
    # a warning carried to M whose household M's roster no longer has: still listed where it was
    # for the township to answer, and named here, for the district to see why (an independent
    # probe of the year's turn, indep36, found it in a township's list and nowhere else)
    gone = _q(
        con,
        f"""SELECT '{GONE_HOUSEHOLD}' AS kind, township, village, grid, household_id, head_name,
                   member_name AS name, id_number, NULL::VARCHAR AS record_key,
                   '延续的未核实预警 ' || warning_id || '（' || rule || ' ' || rule_name
                       || '，' || first_month || ' 首次下发）所属农户本月花名册中已没有（迁出、注销或'
                       || '户编号变更）：仍按原乡镇下发待核实，请核对花名册' AS detail
            FROM listings l
            WHERE district = $d AND month = $m AND {GONE_HOUSEHOLD_SQL}
            ORDER BY township, village, grid, household_id, warning_id""",
        d=district,
        m=month,
    )
    rows = pl.concat([rows, gone], how="vertical_relaxed")
    if rows.height == 0:
        return pl.DataFrame()
    return with_provenance(rows).select(
        pl.col("kind").alias("问题"),
        pl.col("township").alias("乡镇"),
        pl.col("village").alias("村"),
        pl.col("grid").alias("网格"),
        pl.col("household_id").alias("户编号"),
        pl.col("head_name").alias("户主姓名"),
        pl.col("name").alias("姓名"),
        mask_ids(pl.col("id_number")).alias("证件号码"),
        pl.col("file").alias("文件"),
        pl.col("sheet").alias("工作表"),
        pl.col("row_number").alias("行号"),
        pl.col("detail").alias("说明"),
    )


def feedback_problem_listing(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> pl.DataFrame:
    """Every returned row of M's feedback whose answer was not taken, with its file, sheet and
    row, the 预警编号, 乡镇 and 核实结果 as the township wrote them, and why: the district tells
    each township which rows to answer again (an independent probe, indep32, found only counts
    per file outside the warehouse). Nothing of a person: the 预警编号 names the warning."""
    rows = _q(
        con,
        """SELECT file, sheet, row_number,
                  json_extract_string(raw_values, '$."预警编号"') AS warning_id,
                  json_extract_string(raw_values, '$."乡镇"') AS township,
                  json_extract_string(raw_values, '$."核实结果"') AS verdict, reason
           FROM rejects
           WHERE district = $d AND month = $m AND source = 'feedback'
           ORDER BY file, sheet NULLS FIRST, row_number""",
        d=district,
        m=month,
    )
    if rows.height == 0:
        return pl.DataFrame()
    return rows.select(
        pl.col("file").alias("文件"),
        pl.col("sheet").alias("工作表"),
        pl.col("row_number").alias("行号"),
        pl.col("warning_id").alias("预警编号"),
        pl.col("township").alias("乡镇"),
        pl.col("verdict").alias("核实结果"),
        pl.col("reason").alias("未采用原因"),
    )


def unresolved_listing(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Records not tied to exactly one member this month, records withdrawn as 非本人, and the
    rows behind a rule's 无法判断 (an absence rule) and 不可判断 (a decisive field blank or
    unreadable): each names the file and row the district takes up with the department."""
    # one query for every source: each source's staged rows are joined once, for the three kinds
    # of entries at the same time (one query per source and kind cost more than the joins)
    parts = " UNION ALL ".join(
        f"""SELECT p.*, s.file AS s_file, s.sheet AS s_sheet, s.row_number AS s_row_number,
                   coalesce(s.name, m.name) AS name, coalesce(s.id_number, m.id_number) AS id_number,
                   coalesce(s.township, m.township) AS township,
                   coalesce(s.village, m.village) AS village
            FROM entries p LEFT JOIN stg_{source.key} s
              ON s.district = $d AND s.month = p.record_month AND s.record_key = p.record_key
            -- a member a rule could not judge without a row of theirs (an absence rule, the
            -- household's 户类型 unreadable): named as the roster names them
            LEFT JOIN roster_members m
              ON p.record_key IS NULL AND m.district = $d AND m.month = $m
             AND m.member_key = p.member_key
            WHERE p.source = '{source.key}'"""
        for source in DEPARTMENT_SOURCES
    )
    records = _q(
        con,
        f"""WITH entries AS (
                SELECT source, record_key, $m AS record_month, NULL::VARCHAR AS file,
                       NULL::VARCHAR AS sheet, NULL::BIGINT AS row_number, status, reason,
                       candidates AS candidate_keys, 0 AS part, NULL::VARCHAR AS member_key
                FROM unmatched_records WHERE district = $d AND month = $m
                UNION ALL
                SELECT source, record_key, record_month, NULL, NULL, NULL, 'withdrawn',
                       '乡镇核实为非本人：预警撤回，今后不再与该成员匹配', [member_key], 1,
                       member_key
                FROM negative_pairs WHERE district = $d AND month = $m
                UNION ALL
                -- an absence rule could not decide for this member because of this row (§4)
                SELECT source, record_key, $m, file, sheet, row_number, 'undecidable',
                       rule || ' 无法判断：' || reason
                           || '；该成员本月不下发乡镇，请部门核对这条记录',
                       [member_key], 2, member_key
                FROM rule_undecided
                WHERE district = $d AND month = $m AND kind = '无法判断'
                UNION ALL
                -- a rule could not evaluate this row: a decisive field blank or unreadable (§4);
                -- the district asks the department for it (it had been a count only)
                SELECT source, record_key, $m, file, sheet, row_number, 'field_undecidable',
                       rule || ' 不可判断：' || reason || '；本月不下发乡镇，'
                           || CASE WHEN record_key IS NULL THEN '请核对花名册中该户的记录'
                                   ELSE '请部门补正这条记录' END,
                       CASE WHEN member_key IS NULL THEN [] ELSE [member_key] END, 2, member_key
                FROM rule_undecided
                WHERE district = $d AND month = $m AND kind = '不可判断'
            )
            SELECT source,
                   CASE WHEN part = 2 THEN file ELSE s_file END AS file,
                   CASE WHEN part = 2 THEN sheet ELSE s_sheet END AS sheet,
                   CASE WHEN part = 2 THEN row_number ELSE s_row_number END AS row_number,
                   name, id_number, township, village, status, reason, candidate_keys
            FROM ({parts})
            -- unmatched and withdrawn entries need their staged row; an undecided one does not
            WHERE part = 2 OR s_row_number IS NOT NULL
            ORDER BY source, file, sheet, row_number, status, part, reason, member_key""",
        d=district,
        m=month,
    )
    if records.height == 0:
        return pl.DataFrame()
    status_label = {
        **STATUS,
        "withdrawn": "非本人撤回",
        "undecidable": "无法判断",
        "field_undecidable": "不可判断",
    }
    departments = {s.key: s.department for s in DEPARTMENT_SOURCES}
    records = records.with_row_index("_row")
    return (
        records.join(_describe_candidates(con, district, month, records), on="_row", how="left")
        .with_columns(mask_ids(pl.col("id_number")).alias("id_number"))
        .sort("_row")  # the query's order
        .select(
            pl.col("source").replace_strict(departments, return_dtype=pl.String).alias("来源部门"),
            pl.col("source").alias("来源"),
            pl.col("file").alias("文件"),
            pl.col("sheet").alias("工作表"),
            pl.col("row_number").alias("行号"),
            pl.col("name").alias("姓名"),
            pl.col("id_number").alias("证件号码"),
            pl.col("township").alias("乡镇"),
            pl.col("village").alias("村"),
            # an ID another person holds, a name the ID's holder does not carry: one candidate,
            # 待确认 all the same (the reason says why), not "several candidates"
            pl.when(
                (pl.col("status") == "ambiguous")
                & (pl.col("candidate_keys").list.len().fill_null(0) < 2)
            )
            .then(pl.lit(ONE_CANDIDATE))
            .otherwise(pl.col("status").replace_strict(status_label, return_dtype=pl.String))
            .alias("类别"),
            # an unmatched record shown with members of its name (its ID rules them out)
            pl.when(
                (pl.col("status") == "unmatched")
                & (pl.col("candidate_keys").list.len().fill_null(0) > 0)
            )
            .then(pl.col("reason").replace(NAMESAKE_REASONS))
            .otherwise(pl.col("reason"))
            .alias("原因"),
            pl.col("candidate_keys").list.len().alias("候选人数"),
            pl.col("candidates").alias("候选人"),
        )
    )


def _describe_candidates(
    con: duckdb.DuckDBPyConnection, district: str, month: str, records: pl.DataFrame
) -> pl.DataFrame:
    """Each record's candidates as the district reads them: 姓名（户编号 …，证件 masked）."""
    # only the candidates' rows of the roster leave the warehouse, not the whole month's
    keys = records.select(
        pl.col("candidate_keys").explode().drop_nulls().unique().alias("member_key")
    )
    con.register("_candidate_keys", keys)
    try:
        members = _q(
            con,
            """SELECT m.member_key, m.household_id, m.name AS member_name,
                      m.id_number AS member_id
               FROM roster_members m JOIN _candidate_keys k ON k.member_key = m.member_key
               WHERE m.district = $d AND m.month = $m""",
            d=district,
            m=month,
        )
    finally:
        con.unregister("_candidate_keys")
    return (
        records.select("_row", "candidate_keys")
        .explode("candidate_keys")
        .drop_nulls("candidate_keys")
        .join(members, left_on="candidate_keys", right_on="member_key", how="left")
        .with_columns(mask_ids(pl.col("member_id")).alias("member_id"))
        .with_columns(
            pl.format(
                "{}（户编号 {}，证件 {}）",
                pl.col("member_name").fill_null("?"),
                pl.col("household_id").fill_null("?"),
                pl.col("member_id").fill_null(""),
            ).alias("description")
        )
        .group_by("_row")
        .agg(pl.col("description").sort().str.join("；").alias("candidates"))
    )


def _html(title: str, tables: dict[str, pl.DataFrame], charts: list[Chart]) -> str:
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #999;"
        "padding:2px 6px;text-align:right}th{background:#D9E1F2}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    tables = {name: export_frame(frame) for name, frame in tables.items()}
    for chart in charts:
        parts.append(f"<h2>{html.escape(chart.name)}</h2>{svg(chart)}")
    for name, frame in tables.items():
        parts.append(f"<h2>{html.escape(name)}</h2><table><tr>")
        parts.extend(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        parts.append("</tr>")
        for row in frame.iter_rows():
            cells = "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def write_district_summary(
    con: duckdb.DuckDBPyConnection, *, district: str, month: str, out_dir: Path, export_date: date
) -> Path:
    """区级汇总.xlsx (tables + chart sheet), 区级汇总.html (the same, for a browser), 区级汇总.csv;
    returns the workbook's path (write_district_files: every file written, for the ledger)."""
    write_district_files(
        con, district=district, month=month, out_dir=out_dir, export_date=export_date
    )
    return out_dir / SUMMARY_XLSX


def _sheet_columns(tables: dict[str, pl.DataFrame]) -> tuple[str, ...]:
    return tuple(f"{name}.{column}" for name, frame in tables.items() for column in frame.columns)


def _exported(path: Path, rows: int, columns: tuple[str, ...], ids_masked: bool | None = None):
    if path.suffix == ".csv" and csv_data_rows(path) != rows:  # read back, as the township files
        raise ExportCheckError(
            f"导出核对失败：{path.name} 中有 {csv_data_rows(path)} 行，应为 {rows} 行"
        )
    return ExportedFile(
        None, path, rows, file_sha256(path), columns, ids_masked, size=path.stat().st_size
    )


def _write_summary(
    out_dir: Path,
    district: str,
    month: str,
    export_date: date,
    tables: dict[str, pl.DataFrame],
    charts: list[Chart],
) -> list[ExportedFile]:
    """区级汇总 as XLSX (the failures first, then the charts, then every table), HTML and CSV."""
    written: list[ExportedFile] = []
    path = out_dir / SUMMARY_XLSX
    workbook = fixed_workbook(path, export_date)
    alerts = [name for name in (MISSING_SHEET, FAILED_SHEET) if name in tables]
    try:
        for name in alerts:  # before the charts: the first sheet a reader opens says what failed
            write_sheet(workbook, name, tables[name])
        if charts:
            add_chart_sheet(workbook, CHART_SHEET, charts, clean_text)
        for name, frame in tables.items():
            if name not in alerts:
                write_sheet(workbook, name, frame)
    finally:
        workbook.close()
    rows = sum(frame.height for frame in tables.values())
    written.append(_exported(path, rows, _sheet_columns(tables)))
    title = clean_text(f"{district} {month} 防返贫动态监测预警 区级汇总", 200)
    html_path = out_dir / SUMMARY_HTML
    html_path.write_text(_html(title, tables, charts), encoding="utf-8")
    written.append(_exported(html_path, rows, _sheet_columns(tables)))
    by_rule = tables["乡镇×预警"]
    (out_dir / SUMMARY_CSV).write_bytes(csv_bytes(by_rule))
    written.append(_exported(out_dir / SUMMARY_CSV, by_rule.height, tuple(by_rule.columns)))
    return written


def _write_listing(
    target: Path, rows: pl.DataFrame, ids_masked: bool | None = True
) -> list[ExportedFile]:
    """A district list (unresolved records, the roster's problems, answers not taken) as CSV,
    none when empty (district_files_ready removes an earlier one); `ids_masked` None: it holds
    no ID."""
    if rows.height:
        target.write_bytes(csv_bytes(rows))
        return [_exported(target, rows.height, tuple(rows.columns), ids_masked)]
    return []


def write_district_files(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    out_dir: Path,
    export_date: date,
    settings: list[dict[str, str]] | None = None,
) -> list[ExportedFile]:
    """The district's files, written and put in place at once (district_files_ready)."""
    with district_files_ready(
        con, district=district, month=month, out_dir=out_dir, export_date=export_date,
        settings=settings,
    ) as (files, publish):  # fmt: skip
        publish()
    return files


@contextmanager
def district_files_ready(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    out_dir: Path,
    export_date: date,
    settings: list[dict[str, str]] | None = None,
) -> Iterator[tuple[list[ExportedFile], Callable[[], None]]]:
    """The district's files (_district_files) written beside exports/<M>/ (`out_dir`), as
    township.township_files_ready writes the township's: yields them as they will stand in
    `out_dir`, and what puts them there, each by a rename, removing after a list or department
    workbook this run has none of. Until it is called (the export ledger first), and whatever
    fails or is killed before, the files published before stay (an independent fault probe,
    indep31: a killed rerun left 部门数据质量 without its workbooks and a 区级汇总.xlsx of 22
    bytes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    departments = out_dir / DEPARTMENT_FOLDER
    with writing_beside(out_dir, "区级") as writing:
        written = _district_files(
            con, district=district, month=month, out_dir=writing, export_date=export_date,
            settings=settings,
        )  # fmt: skip
        placed = [replace(f, path=out_dir / f.path.relative_to(writing)) for f in written]

        def publish() -> None:
            put_in_place(
                [(f.path, g.path) for f, g in zip(written, placed, strict=True)],
                [
                    *(out_dir / name for name in DISTRICT_LISTS),
                    *(departments.iterdir() if departments.is_dir() else ()),
                ],
            )
            if departments.is_dir() and not any(departments.iterdir()):
                departments.rmdir()  # no department sent anything this month

        yield placed, publish


def _district_files(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    out_dir: Path,
    export_date: date,
    settings: list[dict[str, str]] | None = None,
) -> list[ExportedFile]:
    """The summary (XLSX, HTML, CSV), the department workbooks and the list of unresolved records:
    every file written, in order. `settings`: the rule settings the month's lists were made
    under (rules.settings_in_effect), the summary's last sheet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[ExportedFile] = []
    tables = summary_tables(con, district, month)
    tables.update(learned_tables(warning_history(con, district, month), month, export_date))
    if settings:
        tables[SETTINGS_SHEET] = pl.DataFrame(
            settings, schema=dict.fromkeys(settings[0], pl.String)
        )
    listing = _q(
        con,
        "SELECT township, rule FROM listings WHERE district = $d AND month = $m",
        d=district,
        m=month,
    )
    charts = chart_figures(
        listing, tables.get("逐月", pl.DataFrame()), tables.get("规则成效(累计)")
    )
    unresolved = unresolved_listing(con, district, month)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the list of unresolved records is written beside the summary and the department
        # workbooks
        listed = pool.submit(_write_listing, out_dir / UNRESOLVED_CSV, unresolved)
        written += _write_summary(out_dir, district, month, export_date, tables, charts)
        written += write_department_workbooks(
            con,
            district=district,
            month=month,
            quality=tables.get("部门数据质量", pl.DataFrame()),
            unresolved=unresolved,
            out_dir=out_dir,
            export_date=export_date,
        )
        written += listed.result()
    written += _write_listing(out_dir / ROSTER_CSV, roster_problem_listing(con, district, month))
    written += _write_listing(
        out_dir / FEEDBACK_CSV, feedback_problem_listing(con, district, month), ids_masked=None
    )
    return written
