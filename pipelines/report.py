"""The one-screen run summary printed by `fangfan run` and `make demo` (counts only, no people)."""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from pipelines.config import DataDir, previous_month
from pipelines.exports.departments import failed_files
from pipelines.exports.summary import FEEDBACK_CSV, source_problems
from pipelines.exports.township import GONE_HOUSEHOLD_SQL, carried_not_listed, clean_text
from pipelines.feedback import effective_verdicts
from pipelines.ingest.table import UNREAD_FORMULA
from pipelines.matching.ids import DESTROYED
from pipelines.publishing import later_months_notice, later_published_months
from pipelines.roster import TOWN_SUFFIX, township_gaps
from pipelines.rules.catalogue import RULES
from pipelines.rules.completeness import UNDECIDABLE
from pipelines.sources import DEPARTMENT_SOURCES, SOURCES
from pipelines.warehouse import open_warehouse, scalar


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Left-justify by display width: a Chinese character takes two terminal columns."""
    return text + " " * max(0, width - _width(text))


def _rows(con, sql: str, params: list) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def _failures(con, district: str, month: str) -> list[str]:
    """Each file that could not be read, named with its reason; each department source not
    received, unreadable or empty, with what its rules could not say."""
    lines: list[str] = []
    failed = failed_files(con, district, month)
    if failed.height:
        lines.append(
            f"⚠ 读取有问题的文件（{failed.height} 个；读取失败的未计入任何规则，"
            "文件不完整的只计入读到的行，重复报送的只计一次）："
        )
        for row in failed.iter_rows(named=True):
            where = row["文件"] + (f" [{row['工作表']}]" if row["工作表"] else "")
            lines.append(
                f"  {row['来源']} {row['部门'] or ''} · {clean_text(where, 120)}"
                f"（{row['状态']}）：{clean_text(row['原因'], 300)}"
            )
    problems = source_problems(con, district, month).filter(pl.col("状态") != "未报送")
    for row in problems.iter_rows(named=True):
        lines.append(f"⚠ {row['来源']} {row['部门']} {row['状态']}：{row['说明']}")
    if lines:
        lines.append("")
    return lines


# Event lists: the date of the event each row records, which falls in M (contract §3: M is the
# month the events happened). Lists of standing status (在保 低保, a certificate, a house) are not.
EVENT_DATES = {
    "medical_claims": ("coalesce(discharge_date, admission_date)", "出院日期"),
    "public_security": ("change_date", "变动日期"),
    "hrss": ("register_date", "登记日期"),
    "petition": ("register_date", "登记日期"),
    "emergency": ("disaster_date", "受灾日期"),
}
MISDATED_MIN_ROWS = 5
MISDATED_SHOWN = 10


def _files_shown(lines: list[str]) -> list[str]:
    """The first MISDATED_SHOWN lines, one per file, and how many more files there are."""
    more = len(lines) - MISDATED_SHOWN
    return lines[:MISDATED_SHOWN] + ([f"  …另有 {more} 个文件"] if more > 0 else [])


def _misdated(con, district: str, month: str) -> list[str]:  # noqa: ANN001 - a connection
    """Files of an event list most of whose dated rows fall outside M: last month's file sent
    again, a cumulative one, or one filed under the wrong month. Told, not corrected."""
    start = f"{month}-01"
    lines: list[str] = []
    for key, (expr, label) in EVENT_DATES.items():
        rows = con.execute(
            f"""SELECT file, count(d), count(d) FILTER (WHERE d >= CAST(? AS DATE)
                       AND d < CAST(? AS DATE) + INTERVAL 1 MONTH), min(d), max(d)
                FROM (SELECT file, {expr} AS d FROM stg_{key} WHERE district = ? AND month = ?)
                GROUP BY file ORDER BY file""",
            [start, start, district, month],
        ).fetchall()
        for file, dated, inside, first, last in rows:
            if dated >= MISDATED_MIN_ROWS and inside * 2 < dated:
                lines.append(
                    f"  {key} {SOURCES[key].department} · {clean_text(file, 120)}："
                    f"{label} {dated} 行中 {dated - inside} 行不在 {month}（{first} 至 {last}）"
                )
    if not lines:
        return []
    shown = _files_shown(lines)
    heading = (
        f"⚠ 日期多不在本月的文件（{len(lines)} 个；可能报送了其他月份或累计的数据，请与部门核对）："
    )
    return [heading, *shown, ""]


def _roster_gaps(con, district: str, month: str) -> list[str]:  # noqa: ANN001 - a connection
    """Townships the month's roster has no household of (roster.township_gaps): its members'
    department records are then unmatched and its warnings missing, with no other word."""
    missing = [(town, "、".join(found)) for town, found in township_gaps(con, district, month)]
    if not missing:
        return []
    # a roster file of the township sent, but none of its rows kept: not "not delivered"
    refused = con.execute(
        """SELECT file, rows_rejected FROM ingest_files
           WHERE district = ? AND month = ? AND source = 'roster'
             AND rows_kept = 0 AND rows_rejected > 0 ORDER BY file""",
        [district, month],
    ).fetchall()
    named = []
    for town, what in missing:
        bare_town = re.sub(TOWN_SUFFIX, "", town)
        files = [(f, n) for f, n in refused if bare_town and bare_town in f]
        why = (
            "；".join(f"花名册文件 {clean_text(f, 80)} 的 {n} 行全部被退回" for f, n in files)
            if files
            else "可能漏报了该乡镇的花名册"
        )
        named.append(f"{town}（{what}中有；{why}）")
    return [
        f"⚠ 本月花名册中没有这些乡镇的农户：{'；'.join(named)}。"
        "其农户的部门数据将无法匹配，预警也不会产生",
        "",
    ]


# a file whose ID column Excel rewrote as numbers (the file opened and saved again): at least this
# share of its rows, and this many, hold a destroyed ID. Scattered damage is per row, in the
# department quality workbooks; a whole column is the sender's to fix.
EXCEL_IDS_SHARE = 0.2
EXCEL_IDS_MIN_ROWS = 5


def _excel_ids(con, district: str, month: str) -> list[str]:  # noqa: ANN001 - a connection
    """Department files whose ID column Excel (or WPS, LibreOffice) turned into numbers: their
    IDs cannot be read back, their rows are tied by name + birth date + 村 at best, and the
    absence rule may not decide their people. One line per source: the department re-exports."""
    lines = []
    for source in DEPARTMENT_SOURCES:
        files, rows = con.execute(
            f"""SELECT count(*), coalesce(sum(destroyed), 0) FROM (
                    SELECT file, count(*) FILTER (WHERE id_status = ?) AS destroyed,
                           count(*) AS rows
                    FROM stg_{source.key} WHERE district = ? AND month = ? GROUP BY file)
                WHERE destroyed >= ? AND destroyed >= rows * ?""",
            [DESTROYED, district, month, EXCEL_IDS_MIN_ROWS, EXCEL_IDS_SHARE],
        ).fetchone()
        if files:
            lines.append(f"  {source.key} {source.department}：{files} 个文件，{rows} 行")
    if not lines:
        return []
    heading = (
        "⚠ 证件号码列被 Excel 改写为数字的文件（号码无法恢复，只能按姓名+出生日期+村匹配；"
        "请部门从系统重新导出，或把证件号码列设为文本格式）："
    )
    return [heading, *lines, ""]


def _unread_formulas(con, district: str, month: str) -> list[str]:  # noqa: ANN001 - a connection
    """Department files holding formulas saved without their result that could not be computed
    (another sheet, VLOOKUP …): those cells were read as nothing and reported as field
    problems. One line per source: the department opens the file in Excel, saves it, sends it
    again."""
    rows = con.execute(
        """SELECT source, count(DISTINCT file), count(*) FROM field_problems
           WHERE district = ? AND month = ? AND contains(reason, ?)
           GROUP BY source ORDER BY source""",
        [district, month, UNREAD_FORMULA],
    ).fetchall()
    if not rows:
        return []
    lines = [
        f"  {source} {SOURCES[source].department}：{files} 个文件，{cells} 个单元格"
        for source, files, cells in rows
    ]
    heading = (
        "⚠ 含无法读取的公式的文件（公式没有保存计算结果，且无法按原样算出，这些单元格按字段问题处理，"
        "明细见部门数据质量反馈；请部门用 Excel 打开、保存后重新报送）："
    )
    return [heading, *lines, ""]


def _silent_townships(con, district: str, month: str) -> str:  # noqa: ANN001 - a connection
    """The townships of the latest earlier list that returned nothing this month (no answer
    taken for one of their warnings, no returned file named after them), with how many warnings
    that list gave them: the district chases them ('' when all answered, or no list before)."""
    silent = con.execute(
        """WITH listed AS (
               SELECT township, warning_id FROM listings
               WHERE district = $d AND month = (SELECT max(month) FROM listings
                                                WHERE district = $d AND month < $m)),
           answered AS (
               SELECT DISTINCT l.township FROM feedback_answers a JOIN listed l USING (warning_id)
               WHERE a.district = $d AND a.month = $m),
           named AS (
               SELECT DISTINCT l.township FROM listed l JOIN ingest_files f
                 ON f.district = $d AND f.month = $m AND f.source = 'feedback'
                AND contains(f.file, l.township))
           SELECT township, count(*) FROM listed
           WHERE township NOT IN (SELECT township FROM answered)
             AND township NOT IN (SELECT township FROM named)
           GROUP BY township ORDER BY township""",
        {"d": district, "m": month},
    ).fetchall()
    if not silent:
        return ""
    return "⚠ 未返回核实结果的乡镇：" + "，".join(
        f"{clean_text(t, 40)}（上次清单 {n} 条）" for t, n in silent
    )


def _returned_answers(con, district: str, month: str) -> list[str]:  # noqa: ANN001 - a connection
    """The townships' returned lists of the month: how many files and answers were taken, and
    the answers that were not (an unknown 预警编号, a 核实结果 that is none of the five or
    missing beside a note, another township's warning, two answers that disagree): per file and
    reason. Their warnings stay 待核实 and come back next month; the township should hear why."""
    files, read = con.execute(
        """SELECT count(DISTINCT file), coalesce(sum(rows_read), 0) FROM ingest_files
           WHERE district = ? AND month = ? AND source = 'feedback'""",
        [district, month],
    ).fetchone()
    silent = _silent_townships(con, district, month)
    if not files:
        return [silent, ""] if silent else []
    taken, answered = con.execute(
        "SELECT count(*), count(DISTINCT warning_id) FROM feedback_answers"
        " WHERE district = ? AND month = ?",
        [district, month],
    ).fetchone()
    # taken, but verified after the deadline the list gave (contract §5: 核实截止日期): the
    # district follows up on late townships
    late = scalar(
        con,
        """SELECT count(*) FROM feedback_answers a
           JOIN (SELECT warning_id, min(deadline) AS deadline FROM listings
                 WHERE district = ? AND month < ? GROUP BY warning_id) l USING (warning_id)
           WHERE a.district = ? AND a.month = ? AND a.verified_date > l.deadline""",
        [district, month, district, month],
    )
    rows = con.execute(
        """SELECT file, reason, count(*) FROM rejects
           WHERE district = ? AND month = ? AND source = 'feedback'
           GROUP BY file, reason ORDER BY file, reason""",
        [district, month],
    ).fetchall()
    total = sum(n for _, _, n in rows)
    lines = [
        f"乡镇反馈：{files} 个文件，{read} 行，采用核实结果 {taken} 条"
        # the same warning answered in two files (a township's CSV and XLSX, a list sent again):
        # one warning, its latest answer in force
        + (f"（{answered} 条预警，几个文件都答复的按核实日期最晚的）" if answered < taken else "")
        + (f"（其中 {late} 条核实日期晚于核实截止日期）" if late else "")
        + (f"，未采用 {total} 条" if total else "")
    ]
    if silent:
        lines.append(silent)
    if not rows:
        return [*lines, ""]
    by_file: dict[str, list[str]] = {}
    for file, reason, n in rows:
        by_file.setdefault(file, []).append(f"{n} 条{clean_text(reason, 120)}")
    shown = _files_shown(
        [f"  {clean_text(file, 120)}：{'；'.join(parts)}" for file, parts in by_file.items()]
    )
    heading = (
        f"⚠ 乡镇反馈中未采用的核实结果 {total} 条（这些预警仍为待核实，会再次下发；"
        f"请按下列原因告知乡镇，逐行见 {FEEDBACK_CSV}）："
    )
    return [*lines, heading, *shown, ""]


def _undecidable(con, district: str, month: str) -> list[str]:  # noqa: ANN001 - a connection
    """Members an absence rule could not decide (无法判断: not sent to a township), per rule; and
    what blocks them as a whole list (a 乡镇 its list says nothing of), which the district
    should ask the department about first."""
    per_rule = con.execute(
        """SELECT rule, count(DISTINCT member_key) FROM rule_undecided
           WHERE district = ? AND month = ? AND kind = ? GROUP BY rule ORDER BY rule""",
        [district, month, UNDECIDABLE],
    ).fetchall()
    if not per_rule:
        return []
    counted = "，".join(f"{rule} {n} 人" for rule, n in per_rule)
    lines = [f"⚠ 无法判断（不下发乡镇，明细见 区级_未匹配与待确认.csv）：{counted}"]
    for rule, source, reason, n in con.execute(
        """SELECT rule, source, reason, count(DISTINCT member_key) FROM rule_undecided
           WHERE district = ? AND month = ? AND kind = ? AND record_key IS NULL
           GROUP BY ALL ORDER BY rule, reason""",
        [district, month, UNDECIDABLE],
    ).fetchall():
        department = SOURCES[source].department if source in SOURCES else ""
        lines.append(f"  {rule} {department}：{reason}，{n} 人无法判断")
    return [*lines, ""]


def run_summary(layout: DataDir, district: str, month: str) -> str:
    """Rows read/kept/rejected per source, matches, warnings per rule and township."""
    lines: list[str] = [f"fangfan · {district} · {month}", ""]
    with open_warehouse(layout.database, read_only=True) as con:
        params = [district, month]
        status = {
            r[0]: r
            for r in _rows(
                con,
                "SELECT source, received, snapshot_month FROM source_status"
                " WHERE district = ? AND month = ?",
                params,
            )
        }
        files = {
            r[0]: r[1:]
            for r in _rows(
                con,
                "SELECT source, sum(rows_read), sum(rows_kept), sum(rows_rejected),"
                " count(*) FILTER (WHERE status = 'failed') FROM ingest_files"
                " WHERE district = ? AND month = ? GROUP BY source",
                params,
            )
        }
        # ties, ambiguous and unmatched per source: the month's match_quality (pipelines/quality.py)
        quality = {
            source: (tied, ambiguous, unmatched)
            for source, tied, ambiguous, unmatched in _rows(
                con,
                "SELECT source, tied, ambiguous, unmatched FROM match_quality"
                " WHERE district = ? AND month = ?",
                params,
            )
        }
        lines.append(
            _pad("来源", 28)
            + "".join(_pad(h, 10) for h in ("读取", "保留", "退回", "匹配", "待确认", "未匹配"))
        )
        for key in ("roster", "grid", *(s.key for s in DEPARTMENT_SOURCES)):
            row = status.get(key)
            label = _pad(f"{key} {SOURCES[key].department}", 28)
            if row is None or not row[1]:
                rules = "、".join(f"{r.code} {r.name}" for r in RULES if r.source == key)
                lines.append(
                    f"{label}未报送（本月没有收到该来源的文件夹"
                    + (f"；{rules} 未评估，不代表没有预警）" if rules else "）")
                )
                continue
            read, kept, rejected, failed = files.get(key, (0, 0, 0, 0))
            note = f"  ⚠ {failed} 个文件无法读取" if failed else ""
            if row[2] != month:
                note += f"  （沿用 {row[2]} 快照）"
            counts = [read or 0, kept or 0, rejected or 0]
            if key not in ("roster", "grid"):
                counts += quality.get(key, (0, 0, 0))
            lines.append(label + "".join(f"{n:<10}" for n in counts) + note)
        lines.append("")
        # the roster's own problems (destroyed IDs, members without a grid): counts only
        findings = _rows(
            con,
            "SELECT kind, count(*) FROM roster_findings WHERE district = ? AND month = ?"
            " GROUP BY kind ORDER BY count(*) DESC, kind",
            params,
        )
        if findings:
            counted = "，".join(f"{kind} {n}" for kind, n in findings)
            lines += [
                f"⚠ 花名册问题：{counted}（明细见 区级_花名册问题.csv：每一条的乡镇、村、网格、户编号和花名册中的文件、行号）",
                "",
            ]
        lines += _roster_gaps(con, district, month)
        lines += _failures(con, district, month)
        lines += _misdated(con, district, month)
        lines += _excel_ids(con, district, month)
        lines += _unread_formulas(con, district, month)
        lines += _returned_answers(con, district, month)
        lines += _undecidable(con, district, month)
        # rules not evaluated although their source came (an absence rule on a list that is no
        # evidence): the sources not received are said in the table above
        received = [key for key, row in status.items() if row[1]]
        not_evaluated = _rows(
            con,
            "SELECT rule, reason FROM rules_not_evaluated WHERE district = ? AND month = ?"
            " ORDER BY rule",
            params,
        )
        for rule, reason in not_evaluated:
            if any(r.code == rule and r.source in received for r in RULES):
                lines += [f"⚠ {rule} 本月未评估：{clean_text(reason, 400)}", ""]
        earlier = _rows(
            con, "SELECT max(month) FROM listings WHERE district = ? AND month < ?", params
        )[0][0]
        listing = con.sql(
            "SELECT township, rule, status FROM listings WHERE district = ? AND month = ?",
            params=params,
        ).pl()
        later = later_published_months(con, district, month)
        verified = set(effective_verdicts(con, district, month)["warning_id"].to_list())
        split = carried_not_listed(con, district, month, verified)
        # carried warnings of a household the month's roster no longer has (moved away, or
        # ended): still listed where they were, for the township to answer
        gone = _rows(
            con,
            f"""SELECT count(*) FROM listings l WHERE l.district = ? AND l.month = ?
                  AND {GONE_HOUSEHOLD_SQL}""",
            params,
        )[0][0]
    by_rule = dict(listing.group_by("rule").len().iter_rows())
    lines.append(f"预警清单 {listing.height} 条（按规则）：")
    # a rule not evaluated this month found nothing to count: 未评估, not 0
    unevaluated = {rule for rule, _ in not_evaluated}
    cells = [
        f"{r.code} {r.name} "
        + (
            str(by_rule[r.code])
            if r.code in by_rule
            else "未评估"
            if r.code in unevaluated
            else "0"
        )
        for r in RULES
    ]
    for start in range(0, len(cells), 4):
        lines.append("  " + "  |  ".join(cells[start : start + 4]))
    lines.append("按乡镇：")
    by_township = listing.group_by("township").len().sort("township")
    lines.append(
        "  " + "，".join(f"{t} {n}" for t, n in by_township.iter_rows())
        if by_township.height
        else "  无"
    )
    by_status = dict(listing.group_by("status").len().iter_rows())
    lines.append("按状态：" + "，".join(f"{k} {v}" for k, v in sorted(by_status.items())))
    if gone:
        lines.append(
            f"⚠ 延续的未核实预警中 {gone} 条所属农户已不在本月花名册（迁出、注销或户编号变更），"
            "仍按原乡镇下发，请乡镇核实后反馈（明细见 区级_花名册问题.csv）"
        )
    if split.out_of_scope:
        lines.append(
            f"延续的帮扶、精准预警中 {split.out_of_scope} 条所属农户本月已不是脱贫户或监测户"
            "（户类型已变更），不再下发"
        )
    if split.resolved:
        lines.append(
            f"延续的帮扶预警中 {split.resolved} 条本月部门名单已显示情况改变（如已正常参保、"
            "已享受资助或补贴、不再在读、不再是重度残疾），不再下发"
        )
    if split.deceased:
        lines.append(
            f"延续的预警中 {split.deceased} 条所涉成员已报死亡（本月或此前的户籍注销，未被核实为"
            "不属实），不再下发"
        )
    if split.superseded:
        lines.append(
            f"延续的帮扶预警中 {split.superseded} 条由本月对同一人的新预警代替"
            "（如升入高中仍未享受资助），只下发新的一条"
        )
    previous = previous_month(month)
    if earlier is None:
        lines.append(
            "此前没有运行过的月份：本月清单只含本月新发现的预警（没有可延续的待核实预警）。"
        )
    elif earlier != previous:
        lines.append(
            f"注意：上月（{previous}）没有运行；未核实预警从最近运行的 {earlier} 清单延续。"
            f"可先运行 fangfan run --month {previous} 再重跑本月。"
        )
    if later:
        lines.append(later_months_notice(later, month))
    lines.append("")
    lines.append(f"乡镇清单与区级汇总：{layout.exports(month)}")
    return "\n".join(lines)
