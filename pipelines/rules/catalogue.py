"""The contract's rule catalogue (section 4): each rule one spec, from its table row to its SQL."""

from __future__ import annotations

from pipelines.ingest.history import MISSING_CLAIMS_MONTHS_SQL, month_span
from pipelines.ingest.table import month_only
from pipelines.rules.completeness import (
    ENROLLED_SQL,
    blocked_members,
    prepare_enrollment,
    unreadable_sql,
)
from pipelines.rules.spec import (
    BIRTH_DAY_UNKNOWN,
    AbsenceRule,
    Direction,
    Level,
    RecordRule,
    RuleSpec,
    Scope,
    YearToDateRule,
    age_span,
    age_within,
    date_span,
    exact,
    in_month,
    known_age,
)

# The household types of the 重点 scope; SQL reads them as $monitored.
MONITORED_TYPES = ("脱贫户", "监测户")

_H, _P = Level.HOUSEHOLD, Level.PERSON
_ALL, _MON = Scope.ALL, Scope.MONITORED
_R, _S, _X = Direction.RISK, Direction.SUPPORT, Direction.PRECISION


def _money(value: float | None) -> str:
    return "金额不详" if value is None else f"{value:,.2f} 元"


def _day(hit: dict) -> str:
    """The hit's evidence date as the department wrote it: 2026年10月5日, or 2026年10月 where the
    cell gave the month only (never the 1st it is stored as); 本月 without one."""
    value = hit["ev_date"]
    if value is None:
        return "本月"
    if hit["ev_month_only"]:
        return f"{value.year}年{value.month}月"
    return f"{value.year}年{value.month}月{value.day}日"


def _age(value: float | None) -> str:
    return f"，时年{int(value)}岁" if value is not None else ""


def _registered(column: str) -> str:
    """SQL key part: the month a held thing (car, property, company) was registered; unknown
    where blank. The month, not the day: one extract writes 2024年3月, the next 2024-03-15."""
    return f"coalesce(strftime({column}, '%Y-%m'), '')"


def _paren(value: str | None) -> str:
    return f"（{value}）" if value else ""


_WORKING = "BETWEEN $labour_min AND $labour_max"


def _days(column: str) -> tuple[str, str]:
    """The days an event of the month's list may have been on: its date; any day of its month
    where only the month was written; any day of M where the cell is blank (the list is M's)."""
    return date_span(column, "$month_start", "$month_end - INTERVAL 1 DAY")


# A death written with its month only (2026-10), or without its date, was on some day of that
# month: the member is of working age (红, 缺劳动力) where every day of it says so, and their age
# is given where every day gives the same; otherwise both are as for a member whose age is
# unknown (a member turning 16 that month is not said to have died at 15).
_DEATH_DAYS = _days("change_date")
_DEATH_WORKING = f"coalesce({age_within(*_DEATH_DAYS, _WORKING)}, false)"
# A registration without its date is M's, on any day of it; with its month only, on any day of
# that month. The age on it is known unless the member has a birthday in it that crosses the
# working-age bounds: then the row cannot be decided (NULL, and 不可判断 with _UNSETTLED_AGE), never
# a guess at the day.
_REGISTER_DAYS = _days("register_date")
_UNEMPLOYED_WORKING = age_within(*_REGISTER_DAYS, _WORKING)
_YOUNGEST, _OLDEST = age_span(*_REGISTER_DAYS)
# why such a row is 不可判断: the day that is not known, and the two ages it leaves
_UNSETTLED_AGE = f"""CASE WHEN s.register_type = '失业登记' AND r.birth_date IS NOT NULL THEN concat(
    CASE WHEN s.register_date IS NULL THEN '「登记日期」为空（按本月计）'
         WHEN s.{month_only("register_date")}
         THEN '「登记日期」只写到月（' || strftime(s.register_date, '%Y年%-m月') || '）'
         ELSE strftime(s.register_date, '%Y年%-m月%-d日') || '登记' END,
    CASE WHEN {BIRTH_DAY_UNKNOWN} THEN '，花名册「出生日期」只写到月且证件号码补不出日' END,
    '，登记时可能 ', {_YOUNGEST}, ' 岁也可能 ', {_OLDEST}, ' 岁：是否在 ', $labour_min, '–',
    $labour_max, ' 岁无法判断') END"""
_COLLAPSED = "coalesce(s.house_collapsed, false)"
# A record whose optional 状态 column (vehicles, market, disability) says it has ended: a car
# 注销 or 报废 (强制注销; the 交警 system's codes E and M, alone or among others: EG), an entity
# 注销, 吊销 or 撤销, a disability card 注销. The precision rules and CL02 would otherwise send a
# worker to ask about a car scrapped years ago. 未注销 is not ended (吊销未注销 is, by 吊销);
# 达到报废标准 is a car still owned. A blank or other status, or no such column: as the contract
# reads the record (any record counts).
_NOT_ENDED = (
    "NOT coalesce(regexp_matches(replace(s.status, '未注销', ''), "
    "'注销|吊销|撤销|已报废|^报废|^[A-Z]*[EM][A-Z]*$'), false)"
)


def _in_month_or_blank(field: str) -> str:
    """SQL: the row's `field` (a date) is in M, or blank (the list is M's); NULL, so 不可判断,
    where the cell was written but could not be read (5/10/2026, 2026-02-30): not M's by default."""
    return (
        f"(CASE WHEN s.{field} IS NOT NULL THEN {in_month(f's.{field}')} "
        f"WHEN {unreadable_sql([field])} THEN NULL ELSE true END)"
    )


def _yuan(amount: float) -> str:
    """A threshold as the district set it: 20,000, or 20,000.01 (indep33 saw 20000.01 as
    20,000)."""
    return f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"


def _year_so_far(month: str) -> str:
    """The months YB01 sums, as written on the list: 1—10月, or 1月 in January."""
    return month_span(list(range(1, int(month[5:]) + 1)))


def _months_not_summed(missing: str | None) -> str:
    """YB01's evidence where earlier months of the year sent no claims (the warehouse holds none
    for them): the sum is of the months read, and the list says which were not."""
    if not missing:
        return ""
    return f"（其中{month_span([int(n) for n in missing.split(',')])}的医保结算明细未收到，未计入）"


RULES: tuple[RuleSpec, ...] = (
    YearToDateRule(
        code="YB01", name="医疗自付费用高", source="medical_claims", level=_H, scope=_ALL,
        risk_type="因病", direction=_R,
        params={"threshold_monitored": exact, "threshold_general": exact, "red_multiple": exact},
        amount="self_paid",
        amount_bound="total_cost",
        same_event=("institution", "admission_date", "discharge_date", "total_cost", "self_paid"),
        negated_in_reversal=("total_cost", "self_paid"),
        untyped_threshold="$threshold_monitored",
        event_date="coalesce(s.discharge_date, s.admission_date)",
        threshold="CASE WHEN list_contains($monitored, h.household_type) "
        "THEN $threshold_monitored ELSE $threshold_general END",
        red="t.ytd >= h.threshold * $red_multiple",
        # the year the household's sum reached the threshold (it does once a year): not its
        # level, which the settings decide (an independent probe, indep33, saw a changed
        # red_multiple give the same warning a new 预警编号 on a rerun of the month)
        key="CAST($year AS VARCHAR)",
        ev_amount="t.ytd",
        ev_text="h.household_type",
        ev_text2=MISSING_CLAIMS_MONTHS_SQL,
        ev_number="h.threshold",
        evidence=lambda hit, month: (
            f"{month[:4]}年{_year_so_far(month)}家庭个人自付医疗费用合计 {hit['ev_amount']:,.2f} 元"
            + _months_not_summed(hit["ev_text2"])
            + "，"
            + (
                f"达到{hit['ev_text']}阈值 {_yuan(hit['ev_number'])} 元"
                if hit["ev_text"]
                else f"达到一般农户阈值 {_yuan(hit['ev_number'])} 元（花名册中该户的户类型无法识别）"
            )
        ),
    ),
    AbsenceRule(
        code="YB02", name="未参保", source="medical_enrollment", level=_P, scope=_MON,
        risk_type="基本医疗保障", direction=_S,
        prepare=prepare_enrollment,
        blocked=blocked_members,
        present=ENROLLED_SQL,
        seen="""
            SELECT e.tied_member AS member_key,
                   list(e.record_key ORDER BY e.record_key) AS record_keys,
                   arg_min(e.tied_method, (e.tied_confidence, e.tied_method)) AS method,
                   min(e.tied_confidence) AS confidence,
                   string_agg(DISTINCT e.enroll_status, '、' ORDER BY e.enroll_status) AS statuses
            FROM enrollment_rows e
            WHERE e.tied_member IS NOT NULL AND (e.enroll_year IS NULL OR e.enroll_year = $year)
            GROUP BY e.tied_member
        """,
        key="CAST($year AS VARCHAR)",
        ev_text="seen.statuses",
        evidence=lambda hit, month: (
            f"{month[:4]}年度参保名册中无该成员正常参保记录"
            + (f"（名册状态：{hit['ev_text']}）" if hit["ev_text"] else "")
        ),
    ),
    RecordRule(
        code="MZ01", name="新纳入低保特困", source="civil_affairs", level=_H, scope=_ALL,
        risk_type="收入骤减或支出骤增", direction=_R,
        where="s.change_type = '新增' AND s.assistance_type IN ('低保', '特困') "
        "AND h.household_type = '一般农户'",
        key="s.assistance_type",
        ev_date="s.change_date",
        ev_text="s.assistance_type",
        ev_amount="s.amount",
        evidence=lambda hit, month: (
            f"{_day(hit)}新纳入{hit['ev_text']}，户类型为一般农户"
        ),
    ),
    RecordRule(
        code="MZ02", name="临时救助", source="civil_affairs", level=_H, scope=_ALL,
        risk_type="突发严重困难", direction=_R,
        where=f"s.assistance_type = '临时救助' AND {_in_month_or_blank('change_date')}",
        # 红 by the settings' [levels] red_rules (MZ02 by default): a district can take it away
        key="$month",
        ev_date="s.change_date",
        ev_amount="s.amount",
        evidence=lambda hit, month: (
            f"{_day(hit)}获临时救助，金额 {_money(hit['ev_amount'])}"
        ),
    ),
    RecordRule(
        code="MZ03", name="退出低保", source="civil_affairs", level=_H, scope=_MON,
        risk_type="收入骤减或支出骤增", direction=_R,
        where="s.change_type = '退出' AND s.assistance_type = '低保'",
        key="coalesce(CAST(s.change_date AS VARCHAR), '')",
        ev_date="s.change_date",
        evidence=lambda hit, month: f"{_day(hit)}退出低保",
    ),
    RecordRule(
        code="JY01", name="义务教育辍学", source="education", level=_P, scope=_ALL,
        risk_type="义务教育保障", direction=_R,
        where="s.stage IN ('小学', '初中') AND s.school_status = '辍学'",
        key="s.stage",
        ev_text="s.stage",
        ev_text2="s.grade",
        evidence=lambda hit, month: f"{hit['ev_text']}{hit['ev_text2'] or ''}学生在校状态为辍学",
    ),
    RecordRule(
        code="JY02", name="新入学大学生", source="education", level=_P, scope=_ALL,
        risk_type="因学", direction=_R,
        params={"window_months": int},
        where="s.stage = '高校' AND s.enrol_month < $month_end "
        "AND s.enrol_month >= CAST($month_start - to_months($window_months - 1) AS DATE)",
        key="CAST(s.enrol_month AS VARCHAR)",
        ev_date="s.enrol_month",
        ev_text="s.school",
        evidence=lambda hit, month: (
            f"{hit['ev_date'].year}年{hit['ev_date'].month}月入学高校{_paren(hit['ev_text'])}"
        ),
    ),
    RecordRule(
        code="JY03", name="在校生未享受资助", source="education", level=_P, scope=_MON,
        risk_type="因学", direction=_S,
        where="s.school_status = '在读' AND s.aided = false",
        key="s.stage",
        ev_text="s.stage",
        # 学段 is not what the rule reads: a list without it still says who is 在读
        evidence=lambda hit, month: f"{hit['ev_text'] or ''}在读，未享受学生资助",
    ),
    RecordRule(
        code="GA01", name="家庭成员死亡", source="public_security", level=_P, scope=_ALL,
        risk_type="缺劳动力", direction=_R,
        where="s.change_type = '死亡'",
        # a member the village took off the roster before 公安's row came: still the household's
        # loss (their age from last month's roster)
        departed=True,
        red=_DEATH_WORKING,
        risk_type_when=f"CASE WHEN {_DEATH_WORKING} THEN '缺劳动力' ELSE '其他' END",
        key="'死亡'",
        ev_date="s.change_date",
        ev_number=known_age(*_DEATH_DAYS),
        evidence=lambda hit, month: (
            f"{_day(hit)}户籍注销（死亡）{_age(hit['ev_number'])}"
        ),
    ),
    RecordRule(
        code="GA02", name="拥有机动车", source="vehicles", level=_P, scope=_MON,
        risk_type="—", direction=_X,
        params={"vehicle_types": list},
        where=f"list_contains($vehicle_types, s.vehicle_type) AND {_NOT_ENDED}",
        # a car is known by its registration month, not the plate a department respells; a
        # second car registered since is news (the newest speaks)
        key=_registered("s.register_date"),
        newest_speaks=True,
        ev_date="s.register_date",
        ev_text="s.vehicle_type",
        evidence=lambda hit, month: (
            f"名下登记{hit['ev_text']}"
            + (f"，初次登记日期 {_day(hit)}" if hit["ev_date"] else "")
        ),
    ),
    RecordRule(
        code="ZJ01", name="危房", source="housing", level=_H, scope=_ALL,
        risk_type="住房安全", direction=_R,
        where="s.grade IN ('C', 'D')",
        red="s.grade = 'D'",
        key="CASE s.grade WHEN 'D' THEN '!2D' ELSE '!1C' END",  # a severity: D is stronger
        ev_date="s.appraisal_date",
        ev_text="s.grade",
        evidence=lambda hit, month: (
            f"{_day(hit)}农村房屋安全鉴定等级为{hit['ev_text']}级"
        ),
    ),
    RecordRule(
        code="ZJ02", name="购买商品房", source="property", level=_P, scope=_MON,
        risk_type="—", direction=_X,
        where="true",
        key=_registered("s.register_date"),
        newest_speaks=True,
        ev_date="s.register_date",
        ev_amount="s.floor_area",
        evidence=lambda hit, month: (
            f"{_day(hit)}登记商品房"
            + (
                f"，建筑面积 {hit['ev_amount']:,.2f} 平方米"
                if hit["ev_amount"] is not None
                else ""
            )
        ),
    ),
    RecordRule(
        code="CL01", name="新增残疾", source="disability", level=_P, scope=_ALL,
        risk_type="因残", direction=_R,
        where=in_month("s.issue_date"),
        key="CAST(s.issue_date AS VARCHAR)",
        ev_date="s.issue_date",
        ev_text="s.category",
        ev_text2="s.disability_level",
        evidence=lambda hit, month: (
            f"{_day(hit)}新办残疾人证（{hit['ev_text'] or ''}{hit['ev_text2'] or ''}）"
        ),
    ),
    RecordRule(
        code="CL02", name="重度残疾未享补贴", source="disability", level=_P, scope=_MON,
        risk_type="因残", direction=_S,
        params={"levels": list},
        where=f"list_contains($levels, s.disability_level) AND s.care_subsidy = false "
        f"AND {_NOT_ENDED}",
        key="''",  # one fact per person: its level written otherwise is no news
        ev_text="s.disability_level",
        evidence=lambda hit, month: f"残疾等级{hit['ev_text']}，未享受重度残疾人护理补贴",
    ),
    RecordRule(
        code="YJ01", name="受灾损失大", source="emergency", level=_H, scope=_ALL,
        risk_type="因灾", direction=_R,
        params={"loss_threshold": exact},
        # not _COLLAPSED: a 房屋倒塌 that could not be read leaves a small loss unknown (NULL, so
        # 不可判断 by its field problem), not "not collapsed"; a blank one is no hit either
        where="s.loss >= $loss_threshold OR s.house_collapsed",
        red=_COLLAPSED,
        key="coalesce(CAST(s.disaster_date AS VARCHAR), '') || '|' || "
        f"CASE WHEN {_COLLAPSED} THEN '!1倒塌' ELSE '!0未倒塌' END",
        ev_date="s.disaster_date",
        ev_amount="s.loss",
        ev_text="s.disaster_type",
        ev_text2=f"CASE WHEN {_COLLAPSED} THEN '是' ELSE '否' END",
        evidence=lambda hit, month: (
            f"{_day(hit)}受灾{_paren(hit['ev_text'])}"
            f"，直接经济损失 {_money(hit['ev_amount'])}"
            + ("，房屋倒塌" if hit["ev_text2"] == "是" else "")
        ),
    ),
    RecordRule(
        code="RS01", name="失业登记", source="hrss", level=_P, scope=_ALL,
        risk_type="务工就业不稳", direction=_R,
        where=f"s.register_type = '失业登记' AND {_UNEMPLOYED_WORKING}",
        unsettled=_UNSETTLED_AGE,
        key="coalesce(CAST(s.register_date AS VARCHAR), '')",
        ev_date="s.register_date",
        # the age given: on the day written, or where the same over every day it may have been
        # (a blank date's: over M; its evidence says 本月, no day)
        ev_number=known_age(*_REGISTER_DAYS),
        evidence=lambda hit, month: f"{_day(hit)}办理失业登记{_age(hit['ev_number'])}",
    ),
    RecordRule(
        code="CZ01", name="财政供养人员", source="public_servants", level=_P, scope=_MON,
        risk_type="—", direction=_X,
        where="true",
        ev_text="s.employer",
        evidence=lambda hit, month: f"列入财政供养人员名单{_paren(hit['ev_text'])}",
    ),
    RecordRule(
        code="SJ01", name="经营市场主体", source="market", level=_P, scope=_MON,
        risk_type="—", direction=_X,
        params={"roles": list, "capital_threshold": exact},
        where=f"list_contains($roles, s.role) AND s.capital >= $capital_threshold AND {_NOT_ENDED}",
        # not the 统一社会信用代码 or the entity's name: departments leave them blank or respell
        # them; the 成立日期's month tells a company founded since from the one verified
        key=_registered("s.established_date"),
        newest_speaks=True,
        ev_date="s.established_date",
        ev_amount="s.capital",
        ev_text="s.role",
        ev_text2="s.entity_name",
        evidence=lambda hit, month: (
            f"市场主体{hit['ev_text']}，注册资本 {hit['ev_amount']:,.2f} 万元"
            + (f"，成立日期 {_day(hit)}" if hit["ev_date"] else "")
        ),
    ),
    RecordRule(
        code="XF01", name="涉访户", source="petition", level=_H, scope=_ALL,
        risk_type="其他", direction=_R,
        where=in_month("s.register_date"),
        key="$month",
        ev_date="s.register_date",
        # the month named: a warning carried unanswered into later lists keeps its evidence
        evidence=lambda hit, month: (
            f"{_day(hit)}有信访登记，须于{month[:4]}年{int(month[5:])}月内走访"
        ),
    ),
    RecordRule(
        code="SL01", name="饮水不安全", source="water", level=_H, scope=_ALL,
        risk_type="饮水安全", direction=_R,
        where="s.resolved = false",
        ev_text="s.problem_type",
        evidence=lambda hit, month: (
            f"饮水安全排查发现问题{_paren(hit['ev_text'])}，尚未解决"
        ),
    ),
)  # fmt: skip

RULES_BY_CODE: dict[str, RuleSpec] = {rule.code: rule for rule in RULES}
