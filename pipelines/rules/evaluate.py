"""Evaluate the rule catalogue for one district and month: SQL over matched records, one row per warning."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import duckdb
import polars as pl

from pipelines.rules.catalogue import MONITORED_TYPES, RULES_BY_CODE, Direction, Level, Scope
from pipelines.rules.completeness import (
    ENROLLED_SQL,
    MONITORED_SQL,
    NOT_EVALUABLE_REASON_SQL,
    blocked_members,
    empty_undecided,
    not_evaluable_rows,
    not_evaluable_where,
    prepare_enrollment,
    source_gaps,
    undecidable,
)
from pipelines.rules.continuity import carry_identities, earlier_warnings
from pipelines.sources import SOURCES
from pipelines.warehouse import table_exists

RED, YELLOW, GREEN = "红", "黄", "绿"

# Columns every rule's SQL returns (one row per department record that fires, or per member
# for YB02 / per household for YB01).
HIT_COLUMNS = (
    "record_keys",  # list of the department records behind the hit (provenance)
    "member_key",
    "household_id",
    "method",
    "confidence",
    "red",  # the rule's own 红 condition holds
    "risk_type",  # null = the catalogue's
    "evidence_key",  # what makes this warning the same warning next month
    "ev_date",
    "ev_amount",
    "ev_text",
    "ev_text2",
    "ev_number",
)


def month_bounds(month: str) -> tuple[date, date]:
    """First day of M and first day of the next month."""
    year, mon = (int(part) for part in month.split("-"))
    start = date(year, mon, 1)
    end = date(year + mon // 12, mon % 12 + 1, 1)
    return start, end


# Age in whole years at a reference date, from the member's birth date.
AGE_SQL = (
    "(date_part('year', {ref}) - date_part('year', r.birth_date) - "
    "CASE WHEN strftime({ref}, '%m%d') < strftime(r.birth_date, '%m%d') THEN 1 ELSE 0 END)"
)


def _matched(source: str, extra_select: str, where: str, *, monitored_only: bool) -> str:
    """Records of `source` for M, tied to a roster member of M's roster, with the household."""
    scope = f"AND h.household_type IN {MONITORED_TYPES!r}" if monitored_only else ""
    return f"""
        SELECT [s.record_key] AS record_keys, m.member_key, m.household_id, m.method,
               m.confidence, {extra_select}
        FROM stg_{source} s
        JOIN record_matches m
          ON m.district = s.district AND m.month = s.month AND m.record_key = s.record_key
        JOIN households h
          ON h.district = s.district AND h.month = $month AND h.household_id = m.household_id
        JOIN roster_members r
          ON r.district = s.district AND r.month = $month AND r.member_key = m.member_key
        WHERE s.district = $district AND s.month = $month {scope} AND ({where})
    """


@dataclass(frozen=True)
class RecordRule:
    """A rule that fires on single department records: which rows fire, and the evidence they
    carry (SQL over the staged row `s`, the member `r` and the household `h`)."""

    where: str
    # the evidence key: what makes this warning the same warning next month; parts joined by `|`,
    # an empty part is unknown this month (pipelines/rules/continuity.py); never a field that a
    # department may leave blank or respell (a code, a name, a plate)
    key: str = "''"
    red: str = "false"  # the rule's own 红 condition
    risk_type: str = "NULL"  # null = the catalogue's
    ev_date: str = "NULL"
    ev_amount: str = "NULL"
    ev_text: str = "NULL"
    ev_text2: str = "NULL"
    ev_number: str = "NULL"

    def select(self) -> str:
        return (
            f"({self.red}) AS red, CAST({self.risk_type} AS VARCHAR) AS risk_type, "
            f"CAST({self.key} AS VARCHAR) AS evidence_key, CAST({self.ev_date} AS DATE) AS ev_date, "
            f"CAST({self.ev_amount} AS DOUBLE) AS ev_amount, "
            f"CAST({self.ev_text} AS VARCHAR) AS ev_text, "
            f"CAST({self.ev_text2} AS VARCHAR) AS ev_text2, "
            f"CAST({self.ev_number} AS DOUBLE) AS ev_number"
        )


def _in_month(column: str) -> str:
    return f"({column} >= $month_start AND {column} < $month_end)"


_DEATH_AGE = AGE_SQL.format(ref="coalesce(s.change_date, $month_start)")
_DEATH_WORKING = f"coalesce({_DEATH_AGE} BETWEEN $labour_min AND $labour_max, false)"
_UNEMPLOYED_ON = "coalesce(s.register_date, $month_start)"
_UNEMPLOYED_AGE = AGE_SQL.format(ref=_UNEMPLOYED_ON)
_COLLAPSED = "coalesce(s.house_collapsed, false)"

RECORD_RULES: dict[str, RecordRule] = {
    "MZ01": RecordRule(
        where="s.change_type = '新增' AND s.assistance_type IN ('低保', '特困') "
        "AND h.household_type = '一般农户'",
        key="s.assistance_type",
        ev_date="s.change_date",
        ev_text="s.assistance_type",
        ev_amount="s.amount",
    ),
    "MZ02": RecordRule(
        where="s.assistance_type = '临时救助' AND (s.change_date IS NULL OR "
        + _in_month("s.change_date")
        + ")",
        red="true",
        key="$month",
        ev_date="s.change_date",
        ev_amount="s.amount",
    ),
    "MZ03": RecordRule(
        where="s.change_type = '退出' AND s.assistance_type = '低保'",
        key="coalesce(CAST(s.change_date AS VARCHAR), '')",
        ev_date="s.change_date",
    ),
    "JY01": RecordRule(
        where="s.stage IN ('小学', '初中') AND s.school_status = '辍学'",
        key="s.stage",
        ev_text="s.stage",
        ev_text2="s.grade",
    ),
    "JY02": RecordRule(
        where="s.stage = '高校' AND s.enrol_month >= $jy02_from AND s.enrol_month < $month_end",
        key="CAST(s.enrol_month AS VARCHAR)",
        ev_date="s.enrol_month",
        ev_text="s.school",
    ),
    "JY03": RecordRule(
        where="s.school_status = '在读' AND s.aided = false", key="s.stage", ev_text="s.stage"
    ),
    "GA01": RecordRule(
        where="s.change_type = '死亡'",
        red=_DEATH_WORKING,
        risk_type=f"CASE WHEN {_DEATH_WORKING} THEN '缺劳动力' ELSE '其他' END",
        key="'死亡'",
        ev_date="s.change_date",
        ev_number=_DEATH_AGE,
    ),
    "GA02": RecordRule(
        where="list_contains($vehicle_types, s.vehicle_type)",
        key="''",  # owning a car is one fact per person, whatever the plate column says
        ev_date="s.register_date",
        ev_text="s.vehicle_type",
    ),
    "ZJ01": RecordRule(
        where="s.grade IN ('C', 'D')",
        red="s.grade = 'D'",
        key="s.grade",
        ev_date="s.appraisal_date",
        ev_text="s.grade",
    ),
    "ZJ02": RecordRule(
        where="true",
        key="''",
        ev_date="s.register_date",
        ev_amount="s.floor_area",
    ),
    "CL01": RecordRule(
        where=_in_month("s.issue_date"),
        key="CAST(s.issue_date AS VARCHAR)",
        ev_date="s.issue_date",
        ev_text="s.category",
        ev_text2="s.disability_level",
    ),
    "CL02": RecordRule(
        where="list_contains($cl02_levels, s.disability_level) AND s.care_subsidy = false",
        key="s.disability_level",
        ev_text="s.disability_level",
    ),
    "YJ01": RecordRule(
        where=f"s.loss >= $yj01_loss OR {_COLLAPSED}",
        red=_COLLAPSED,
        key=f"coalesce(CAST(s.disaster_date AS VARCHAR), '') || '|' || "
        f"CASE WHEN {_COLLAPSED} THEN '倒塌' ELSE '未倒塌' END",
        ev_date="s.disaster_date",
        ev_amount="s.loss",
        ev_text="s.disaster_type",
        ev_text2=f"CASE WHEN {_COLLAPSED} THEN '是' ELSE '否' END",
    ),
    "RS01": RecordRule(
        where=f"s.register_type = '失业登记' AND {_UNEMPLOYED_AGE} BETWEEN $labour_min AND $labour_max",
        key="coalesce(CAST(s.register_date AS VARCHAR), '')",
        ev_date="s.register_date",
        ev_number=_UNEMPLOYED_AGE,
    ),
    "CZ01": RecordRule(where="true", ev_text="s.employer"),
    "SJ01": RecordRule(
        where="list_contains($sj01_roles, s.role) AND s.capital >= $sj01_capital",
        # not the 统一社会信用代码 or the entity's name: departments leave them blank or respell them
        key="''",
        ev_amount="s.capital",
        ev_text="s.role",
        ev_text2="s.entity_name",
    ),
    "XF01": RecordRule(where=_in_month("s.register_date"), key="$month", ev_date="s.register_date"),
    "SL01": RecordRule(where="s.resolved = false", ev_text="s.problem_type"),
}


def _record_rule_sql(code: str) -> str:
    rule, spec = RULES_BY_CODE[code], RECORD_RULES[code]
    return _matched(
        rule.source, spec.select(), spec.where, monitored_only=rule.scope is Scope.MONITORED
    )


YB01_SQL = """
    WITH claims AS (
        SELECT m.household_id, s.month, s.record_key, m.member_key, m.method, m.confidence,
               coalesce(s.self_paid, 0) AS self_paid
        FROM stg_medical_claims s
        JOIN record_matches m
          ON m.district = s.district AND m.month = s.month AND m.record_key = s.record_key
        WHERE s.district = $district AND s.month >= $year_start_month AND s.month <= $month
    ), totals AS (
        SELECT household_id,
               sum(self_paid) AS ytd,
               sum(self_paid) FILTER (WHERE month < $month) AS before,
               list(record_key ORDER BY record_key) FILTER (WHERE month = $month) AS record_keys,
               -- ties broken by the key itself: a rerun names the same member and method
               arg_max(member_key, (self_paid, member_key)) FILTER (WHERE month = $month)
                   AS member_key,
               arg_min(method, (confidence, method)) AS method,
               min(confidence) AS confidence
        FROM claims GROUP BY household_id
    )
    SELECT t.record_keys, t.member_key, t.household_id, t.method, t.confidence,
           t.ytd >= threshold * $red_multiple AS red,
           CAST(NULL AS VARCHAR) AS risk_type,
           CAST($year AS VARCHAR) || CASE WHEN t.ytd >= threshold * $red_multiple THEN ':x2' ELSE '' END
               AS evidence_key,
           CAST(NULL AS DATE) AS ev_date, t.ytd AS ev_amount, h.household_type AS ev_text,
           CAST(NULL AS VARCHAR) AS ev_text2, threshold AS ev_number
    FROM totals t
    JOIN (SELECT *, CASE WHEN list_contains($monitored, household_type) THEN $thr_monitored
                         ELSE $thr_general END AS threshold
          FROM households WHERE district = $district AND month = $month) h
      ON h.household_id = t.household_id
    WHERE t.record_keys IS NOT NULL AND t.ytd >= threshold AND coalesce(t.before, 0) < threshold
"""

YB02_SQL = f"""
    WITH monitored AS ({MONITORED_SQL}),
    enrolled AS ({ENROLLED_SQL}),
    statuses AS (
        SELECT m.member_key, list(e.record_key ORDER BY e.record_key) AS record_keys,
               string_agg(DISTINCT e.enroll_status, '、' ORDER BY e.enroll_status) AS statuses
        FROM enrollment_rows e
        JOIN record_matches m
          ON m.district = $district AND m.month = $month AND m.record_key = e.record_key
        WHERE e.enroll_year IS NULL OR e.enroll_year = $year
        GROUP BY m.member_key
    )
    SELECT coalesce(st.record_keys, []::VARCHAR[]) AS record_keys, o.member_key, o.household_id,
           CAST(NULL AS VARCHAR) AS method, CAST(NULL AS DOUBLE) AS confidence,
           false AS red, CAST(NULL AS VARCHAR) AS risk_type, CAST($year AS VARCHAR) AS evidence_key,
           CAST(NULL AS DATE) AS ev_date, CAST(NULL AS DOUBLE) AS ev_amount,
           st.statuses AS ev_text, CAST(NULL AS VARCHAR) AS ev_text2, CAST(NULL AS DOUBLE) AS ev_number
    FROM monitored o
    LEFT JOIN statuses st ON st.member_key = o.member_key
    WHERE o.member_key NOT IN (SELECT member_key FROM enrolled)
      AND o.member_key NOT IN (SELECT member_key FROM blocked_members)
"""


def _money(value: float | None) -> str:
    return "金额不详" if value is None else f"{value:,.2f} 元"


def _day(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else "本月"


def _age(value: float | None) -> str:
    return f"，时年{int(value)}岁" if value is not None else ""


Formatter = Callable[[dict, str], str]

EVIDENCE: dict[str, Formatter] = {
    "YB01": lambda h, m: (
        f"{m[:4]}年1—{int(m[5:])}月家庭个人自付医疗费用合计 {h['ev_amount']:,.2f} 元，"
        f"达到{h['ev_text']}阈值 {h['ev_number']:,.0f} 元"
    ),
    "YB02": lambda h, m: (
        f"{m[:4]}年度参保名册中无该成员正常参保记录"
        + (f"（名册状态：{h['ev_text']}）" if h["ev_text"] else "")
    ),
    "MZ01": lambda h, m: f"{_day(h['ev_date'])}新纳入{h['ev_text']}，户类型为一般农户",
    "MZ02": lambda h, m: f"{_day(h['ev_date'])}获临时救助，金额 {_money(h['ev_amount'])}",
    "MZ03": lambda h, m: f"{_day(h['ev_date'])}退出低保",
    "JY01": lambda h, m: f"{h['ev_text']}{h['ev_text2'] or ''}学生在校状态为辍学",
    "JY02": lambda h, m: (
        f"{h['ev_date'].year}年{h['ev_date'].month}月入学高校"
        + (f"（{h['ev_text']}）" if h["ev_text"] else "")
    ),
    "JY03": lambda h, m: f"{h['ev_text']}在读，未享受学生资助",
    "GA01": lambda h, m: f"{_day(h['ev_date'])}户籍注销（死亡）{_age(h['ev_number'])}",
    "GA02": lambda h, m: (
        f"名下登记{h['ev_text']}" + (f"，初次登记日期 {_day(h['ev_date'])}" if h["ev_date"] else "")
    ),
    "ZJ01": lambda h, m: f"{_day(h['ev_date'])}农村房屋安全鉴定等级为{h['ev_text']}级",
    "ZJ02": lambda h, m: (
        f"{_day(h['ev_date'])}登记商品房"
        + (f"，建筑面积 {h['ev_amount']:,.2f} 平方米" if h["ev_amount"] is not None else "")
    ),
    "CL01": lambda h, m: (
        f"{_day(h['ev_date'])}新办残疾人证（{h['ev_text'] or ''}{h['ev_text2'] or ''}）"
    ),
    "CL02": lambda h, m: f"残疾等级{h['ev_text']}，未享受重度残疾人护理补贴",
    "YJ01": lambda h, m: (
        f"{_day(h['ev_date'])}受灾"
        + (f"（{h['ev_text']}）" if h["ev_text"] else "")
        + f"，直接经济损失 {_money(h['ev_amount'])}"
        + ("，房屋倒塌" if h["ev_text2"] == "是" else "")
    ),
    "RS01": lambda h, m: f"{_day(h['ev_date'])}办理失业登记{_age(h['ev_number'])}",
    "CZ01": lambda h, m: "列入财政供养人员名单" + (f"（{h['ev_text']}）" if h["ev_text"] else ""),
    "SJ01": lambda h, m: f"市场主体{h['ev_text']}，注册资本 {h['ev_amount']:,.2f} 万元",
    "XF01": lambda h, m: f"{_day(h['ev_date'])}有信访登记，本月须走访",
    "SL01": lambda h, m: (
        "饮水安全排查发现问题" + (f"（{h['ev_text']}）" if h["ev_text"] else "") + "，尚未解决"
    ),
}


@dataclass(frozen=True)
class RuleRun:
    """What one month's evaluation produced, what it could not evaluate, and where the data
    could not decide (无法判断 members of absence rules, 不可判断 rows; UNDECIDED_SCHEMA)."""

    warnings: pl.DataFrame
    not_evaluated: dict[str, str]  # rule code -> why (source not received, unreadable file …)
    undecided: pl.DataFrame = field(default_factory=empty_undecided)


def warning_id(rule: str, subject: str, evidence_key: str) -> str:
    digest = hashlib.sha1(f"{rule}|{subject}|{evidence_key}".encode()).hexdigest()
    return f"{rule}-{digest[:12].upper()}"


def _params(config: dict, district: str, month: str) -> dict:
    start, end = month_bounds(month)
    year = start.year
    jy02_months = int(config["rules"]["JY02"]["window_months"])
    jy02_from_index = start.year * 12 + start.month - 1 - (jy02_months - 1)
    return {
        "district": district,
        "month": month,
        "month_start": start,
        "month_end": end,
        "year": year,
        "year_start_month": f"{year}-01",
        "jy02_from": date(jy02_from_index // 12, jy02_from_index % 12 + 1, 1),
        "labour_min": int(config["ages"]["labour_min"]),
        "labour_max": int(config["ages"]["labour_max"]),
        "vehicle_types": list(config["rules"]["GA02"]["vehicle_types"]),
        "yj01_loss": float(config["rules"]["YJ01"]["loss_threshold"]),
        "sj01_roles": list(config["rules"]["SJ01"]["roles"]),
        "sj01_capital": float(config["rules"]["SJ01"]["capital_threshold"]),
        "cl02_levels": list(config["rules"]["CL02"]["levels"]),
        "thr_monitored": float(config["rules"]["YB01"]["threshold_monitored"]),
        "thr_general": float(config["rules"]["YB01"]["threshold_general"]),
        "red_multiple": float(config["rules"]["YB01"]["red_multiple"]),
        "monitored": list(MONITORED_TYPES),
    }


def _bind(sql: str, params: dict) -> dict:
    """Only the $names a statement uses (DuckDB rejects unused named parameters)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _level(rule_code: str, red: bool, config: dict) -> str:
    forced = config.get("levels", {}).get("force", {}).get(rule_code)
    if forced:
        return forced
    if red or rule_code in config.get("levels", {}).get("red_rules", []):
        return RED
    return YELLOW if RULES_BY_CODE[rule_code].direction is Direction.RISK else GREEN


def evaluate_rules(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    config: dict,
    received: set[str],
) -> RuleRun:
    """Every rule whose source was received this month; one row per (rule, subject).

    Absence rules raise nothing on a source whose month is missing, empty or partly unreadable;
    members whose absence some row could contradict are 无法判断, and record rows whose needed
    field is unreadable are 不可判断 (both in `undecided`, for the district, never a township).
    """
    params = _params(config, district, month)
    gaps = source_gaps(con, district, month)
    frames: list[pl.DataFrame] = []
    undecided: list[pl.DataFrame] = []
    not_evaluated: dict[str, str] = {}
    for code, rule in RULES_BY_CODE.items():
        if rule.source not in received or not table_exists(con, f"stg_{rule.source}"):
            not_evaluated[code] = f"{rule.department}本月未报送{rule.source}数据"
            continue
        if rule.absence and rule.source in gaps:
            not_evaluated[code] = (
                f"{rule.department}{SOURCES[rule.source].title}本月{gaps[rule.source]}，"
                "不能据此判断谁不在名单中：本规则本月不预警"
            )
            continue
        if code == "YB02":
            prepare_enrollment(con, params)
            blocked = blocked_members(con, params)
            con.register("_blocked", blocked.select("member_key"))
            try:
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE blocked_members AS SELECT * FROM _blocked"
                )
            finally:
                con.unregister("_blocked")
            undecided.append(undecidable(blocked, code))
            sql = YB02_SQL
        elif code == "YB01":
            sql = YB01_SQL
        else:
            sql = _record_rule_sql(code)
            undecided.append(_not_evaluable(con, code, params))
        hits = con.sql(sql, params=_bind(sql, params)).pl()
        if code == "YB01":
            undecided.append(_yb01_not_evaluable(con, params, hits))
        if hits.height:
            frames.append(hits.with_columns(pl.lit(code).alias("rule")))
    gaps_frame = pl.concat(undecided, how="vertical_relaxed") if undecided else empty_undecided()
    if not frames:
        return RuleRun(_empty_warnings(), not_evaluated, gaps_frame)
    hits = pl.concat(frames, how="vertical_relaxed")
    warnings = carry_identities(
        _collapse(hits, month, config), earlier_warnings(con, district, month)
    )
    return RuleRun(warnings, not_evaluated, gaps_frame)


def _not_evaluable(con: duckdb.DuckDBPyConnection, code: str, params: dict) -> pl.DataFrame:
    rule, spec = RULES_BY_CODE[code], RECORD_RULES[code]
    sql = _matched(
        rule.source,
        f"{NOT_EVALUABLE_REASON_SQL} AS reason",
        not_evaluable_where(spec.where),
        monitored_only=rule.scope is Scope.MONITORED,
    )
    return not_evaluable_rows(con, code, sql, _bind(sql, params), spec.where)


YB01_NOT_EVALUABLE_SQL = f"""
    SELECT [s.record_key] AS record_keys, m.member_key, m.household_id,
           {NOT_EVALUABLE_REASON_SQL} AS reason
    FROM stg_medical_claims s
    JOIN record_matches m
      ON m.district = s.district AND m.month = s.month AND m.record_key = s.record_key
    WHERE s.district = $district AND s.month = $month AND s.self_paid IS NULL
      AND s.record_key IN (SELECT record_key FROM field_problems
                           WHERE district = $district AND month = $month AND field = 'self_paid')
"""


def _yb01_not_evaluable(
    con: duckdb.DuckDBPyConnection, params: dict, hits: pl.DataFrame
) -> pl.DataFrame:
    """M's claims whose 个人自付 is unreadable, in households the rule did not fire for."""
    rows = not_evaluable_rows(
        con, "YB01", YB01_NOT_EVALUABLE_SQL, _bind(YB01_NOT_EVALUABLE_SQL, params), "s.self_paid"
    )
    return rows.filter(~pl.col("household_id").is_in(hits["household_id"].implode()))


def _collapse(hits: pl.DataFrame, month: str, config: dict) -> pl.DataFrame:
    """One warning per (rule, household) for 户 rules, per (rule, member) for 人 rules."""
    person_rules = [c for c, r in RULES_BY_CODE.items() if r.level is Level.PERSON]
    hits = hits.with_columns(
        pl.when(pl.col("rule").is_in(person_rules))
        .then(pl.col("member_key"))
        .otherwise(pl.col("household_id"))
        .alias("subject")
    )
    # the strongest hit speaks for the warning: red first, then the largest amount, latest date;
    # the first record key breaks remaining ties so that reruns pick the same hit
    ordered = (
        hits.with_columns(pl.col("record_keys").list.first().alias("_first_record"))
        .sort(
            ["rule", "subject", "red", "ev_amount", "ev_date", "evidence_key", "_first_record"],
            descending=[False, False, True, True, True, False, False],
            nulls_last=True,
        )
        .drop("_first_record")
    )
    grouped = ordered.group_by(["rule", "subject"], maintain_order=True).agg(
        pl.all().exclude("record_keys").first(),
        pl.col("record_keys")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique()
        .sort()
        .alias("record_keys"),
        pl.col("red").any().alias("any_red"),
    )
    rows = []
    for hit in grouped.iter_rows(named=True):
        code = hit["rule"]
        rule = RULES_BY_CODE[code]
        rows.append(
            {
                "warning_id": warning_id(code, hit["subject"], hit["evidence_key"] or ""),
                "rule": code,
                "rule_name": rule.name,
                "risk_type": hit["risk_type"] or rule.risk_type,
                "direction": rule.direction.value,
                "level": _level(code, hit["any_red"], config),
                "department": rule.department,
                "source": rule.source,
                "household_id": hit["household_id"],
                "member_key": hit["member_key"],
                "evidence": EVIDENCE[code](hit, month),
                "evidence_key": hit["evidence_key"] or "",
                "method": hit["method"] or "花名册成员（未见于部门名册）",
                "confidence": hit["confidence"] if hit["confidence"] is not None else 1.0,
                "record_keys": hit["record_keys"],
            }
        )
    return pl.DataFrame(rows, schema=WARNING_SCHEMA)


WARNING_SCHEMA = {
    "warning_id": pl.String,
    "rule": pl.String,
    "rule_name": pl.String,
    "risk_type": pl.String,
    "direction": pl.String,
    "level": pl.String,
    "department": pl.String,
    "source": pl.String,
    "household_id": pl.String,
    "member_key": pl.String,
    "evidence": pl.String,
    "evidence_key": pl.String,
    "method": pl.String,
    "confidence": pl.Float64,
    "record_keys": pl.List(pl.String),
}


def _empty_warnings() -> pl.DataFrame:
    return pl.DataFrame(schema=WARNING_SCHEMA)
