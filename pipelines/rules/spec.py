"""What a rule is: one spec holding its row of the contract's table, SQL, parameters, evidence and 红."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

import duckdb
import polars as pl

from pipelines.ingest.table import month_only
from pipelines.matching.labels import REASONS
from pipelines.rules.completeness import (
    MONITORED_SQL,
    NOT_EVALUABLE_REASON_SQL,
    fields_of,
    not_evaluable,
    not_evaluable_rows,
    undecidable,
    unreadable_sql,
)
from pipelines.schema import LATEST_EARLIER_ROSTER
from pipelines.sources import SOURCES, FieldType

# a row tied to a household whose 户类型 the roster does not say readably (a field problem there)
UNTYPED_REASON = "该户在花名册中的「户类型」为空或无法识别，无法判断是否适用本规则"

# a 备注 (sources.DEPARTMENT_REMARK) that says the row is void or not the district's: a person
# reading the row would not act on it; that its person died, for a rule about that person (a
# household's house or loss stays the household's; 公安's own 备注 of a death is the event)
_VOID_WORDS = (
    "作废|无效|删除|录入错误|填写错误|填报错误|信息有误|有误|误报|错报|撤销|撤回|取消|"
    "非本辖区|不属于本辖区|不是本辖区|不在本辖区|非本区|非本县|非本乡|非本镇"
)
_DEATH_WORDS = "已死亡|死亡|已去世|去世|已故|亡故|身故|病故"
# said not to be so (未作废, 没有撤销): no doubt
_NOT = "未|没有|没|不|无"


def void_remark_sql(death_voids: bool) -> str:
    """SQL over the staged row `s`: its 备注 says the row is void (or, `death_voids`, that its
    person died)."""
    words = f"{_VOID_WORDS}|{_DEATH_WORDS}" if death_voids else _VOID_WORDS
    cleared = f"regexp_replace(coalesce(s.remark, ''), '({_NOT})({words})', '', 'g')"
    return f"regexp_matches({cleared}, '{words}')"


VOID_REMARK_REASON_SQL = "'备注写明「' || left(s.remark, 40) || '」：此行是否有效无法判断'"
# a household whose sum crosses its threshold only were a line repeated in a file two claims
REPEATED_REASON = (
    "同一文件中有完全相同的结算行（可能是重复录入）：按一条计未达阈值，按两条计则达到，请部门核实"
)


class Level(StrEnum):
    HOUSEHOLD = "户"
    PERSON = "人"


class Scope(StrEnum):
    ALL = "全部"
    MONITORED = "重点"


class Direction(StrEnum):
    RISK = "风险"
    SUPPORT = "帮扶"
    PRECISION = "精准"


# One hit (a row of the rule's query, as a dict) and the month YYYY-MM -> the 预警依据 text.
Formatter = Callable[[dict, str], str]
Parameters = Mapping[str, Any]

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bind(sql: str, params: Parameters) -> dict[str, Any]:
    """The $names a statement uses, and only those (DuckDB rejects unused named parameters)."""
    return {name: params[name] for name in parameter_names(sql)}


def parameter_names(sql: str) -> set[str]:
    """Every `$name` a statement reads."""
    return set(_PARAMETER.findall(sql))


def age_on(day: str, birth: str = "r.birth_date") -> str:
    """SQL: the member's (`r`) age in whole years on `day` (SQL), born on `birth` (SQL; the
    roster's birth date, else the ID's: roster_members.birth_date)."""
    return (
        f"(date_part('year', {day}) - date_part('year', {birth}) - "
        f"CASE WHEN strftime({day}, '%m%d') < strftime({birth}, '%m%d') THEN 1 ELSE 0 END)"
    )


# The roster's 出生日期 written without its day (1990-05) is the ID's birth date where that falls
# in the same month; otherwise the member was born on some day of that month, which one unknown.
_BIRTH_DAY_FROM_ID = (
    f"(r.{month_only('birth_date')} AND date_trunc('month', r.id_birth) = r.birth_date)"
)
BIRTH_DAY_UNKNOWN = f"(r.{month_only('birth_date')} AND NOT coalesce({_BIRTH_DAY_FROM_ID}, false))"
_BORN_FIRST = f"CASE WHEN {_BIRTH_DAY_FROM_ID} THEN r.id_birth ELSE r.birth_date END"
_BORN_LAST = (
    f"CASE WHEN {_BIRTH_DAY_FROM_ID} THEN r.id_birth "
    f"WHEN r.{month_only('birth_date')} THEN last_day(r.birth_date) ELSE r.birth_date END"
)


def date_span(column: str, blank_first: str, blank_last: str) -> tuple[str, str]:
    """SQL: the first and last day the staged row's (`s`) date `column` may be: the date itself;
    any day of its month where only the month was written; `blank_first`..`blank_last` where
    the cell is blank."""
    first = f"coalesce(s.{column}, {blank_first})"
    last = (
        f"CASE WHEN s.{column} IS NULL THEN {blank_last} "
        f"WHEN s.{month_only(column)} THEN last_day(s.{column}) ELSE s.{column} END"
    )
    return first, last


def age_span(first: str, last: str) -> tuple[str, str]:
    """SQL: the member's youngest and oldest age on a day from `first` to `last` (SQL dates),
    over the days of their birth month too where the roster gives that month only."""
    return age_on(first, _BORN_LAST), age_on(last, _BORN_FIRST)


def age_within(first: str, last: str, bounds: str) -> str:
    """SQL: the member's age on a day from `first` to `last` is `bounds` (SQL: `BETWEEN …`), where
    every such day gives the same answer; NULL where it depends on the day, never a guess."""
    youngest, oldest = age_span(first, last)
    return f"CASE WHEN ({youngest} {bounds}) = ({oldest} {bounds}) THEN {youngest} {bounds} END"


def known_age(first: str, last: str) -> str:
    """SQL: the member's age on a day from `first` to `last`; NULL where it depends on the day."""
    youngest, oldest = age_span(first, last)
    return f"CASE WHEN {youngest} = {oldest} THEN {youngest} END"


def in_month(column: str) -> str:
    """SQL: `column` falls in the evaluated month."""
    return f"({column} >= $month_start AND {column} < $month_end)"


def exact(value: int | float) -> Decimal:
    """A threshold or multiple as the settings file writes it, exactly: 1.1 is 1.1, compared
    with the amounts (DECIMAL) as decimals, not as the binary float nearest it (3,000 × 1.1
    in floats is 3,300.0000000000005, so a year's 3,300.00 would fall short of it)."""
    return Decimal(str(value))


@dataclass(frozen=True, kw_only=True, eq=False)
class RuleSpec(ABC):
    """One rule of the contract's table (section 4), whole.

    The hit columns (`red`, `key`, `risk_type_when`, `ev_*`) are SQL over the rows that the rule's
    kind provides. `params` names the keys of the rule's `[rules.<code>]` table in defaults.toml,
    each with the type it is bound as; the SQL reads them as `$<key>`, beside the parameters every
    rule shares (pipelines/rules/evaluate.py: district, month bounds, working ages, monitored
    household types).
    """

    code: str
    name: str
    source: str
    level: Level
    scope: Scope
    risk_type: str
    direction: Direction
    evidence: Formatter
    params: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    red: str = "false"  # the rule's own 红 condition
    # the evidence key: what makes this warning the same warning next month; parts joined by `|`,
    # an empty part is unknown this month (pipelines/rules/continuity.py); never a field that a
    # department may leave blank or respell (a code, a name, a plate)
    key: str = "''"
    # a register of things a person holds (cars, properties, companies): the newest one speaks
    # for the warning, so a thing acquired since a verified warning is news under its own key
    newest_speaks: bool = False
    # this hit's risk type, when it depends on the hit; NULL = the table's risk_type
    risk_type_when: str = "NULL"
    ev_date: str = "NULL"
    ev_amount: str = "NULL"
    ev_text: str = "NULL"
    ev_text2: str = "NULL"
    ev_number: str = "NULL"
    # fires because a member is NOT in the source: only on a complete month (contract §4)
    absence: ClassVar[bool] = False

    @property
    def department(self) -> str:
        return SOURCES[self.source].department

    def parameters(self, config: dict) -> dict[str, Any]:
        """The rule's own parameters from its `[rules.<code>]` table, typed."""
        table = config.get("rules", {}).get(self.code, {})
        missing = sorted(set(self.params) - set(table))
        if missing:
            raise KeyError(f"rule configuration [rules.{self.code}] lacks {', '.join(missing)}")
        return {name: convert(table[name]) for name, convert in self.params.items()}

    @property
    def ev_month_only(self) -> str:
        """SQL: the evidence date's day was not written (a staged date field read from 2026-10:
        its month_only column), so the evidence names the month only."""
        column = self.ev_date.removeprefix("s.")
        dates = {f.name for f in SOURCES[self.source].fields if f.type is FieldType.DATE}
        return (
            f"s.{month_only(column)}"
            if self.ev_date.startswith("s.") and column in dates
            else "false"
        )

    def hit_columns(self) -> str:
        return (
            f"({self.red}) AS red, CAST({self.risk_type_when} AS VARCHAR) AS risk_type, "
            f"CAST({self.key} AS VARCHAR) AS evidence_key, CAST({self.ev_date} AS DATE) AS ev_date, "
            f"coalesce({self.ev_month_only}, false) AS ev_month_only, "
            f"CAST({self.ev_amount} AS DOUBLE) AS ev_amount, "
            f"CAST({self.ev_text} AS VARCHAR) AS ev_text, "
            f"CAST({self.ev_text2} AS VARCHAR) AS ev_text2, "
            f"CAST({self.ev_number} AS DOUBLE) AS ev_number"
        )

    @abstractmethod
    def sql(self) -> str:
        """The query of the rule's hits: record_keys, member_key, household_id, method,
        confidence, then the hit columns."""

    @abstractmethod
    def evaluate(
        self, con: duckdb.DuckDBPyConnection, params: Parameters
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The month's hits, and the members/rows the data could not decide (UNDECIDED_SCHEMA)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class RecordRule(RuleSpec):
    """Fires on single department records: `where` over the staged row `s`, tied to the member `r`
    of M's roster and their household `h`."""

    where: str
    # SQL: why the row's `where` is unknown (NULL) though every field it reads was read (a date
    # known to its month only, on which an age decides); NULL where that is not so. Such a row is
    # 不可判断 with this reason, never dropped without a word
    unsettled: str = "NULL"
    # also fires for a member the latest earlier roster had and M's no longer has, whose household
    # M's roster still has (a death the village took off the roster before 公安's row came): the
    # month's unmatched row with that member's ID and name (_departed_rows)
    departed: bool = False

    def _blank_decisive(self) -> tuple[str, str] | None:
        """SQL (reason, test) for the rule's rows whose `where` reads a field the rule decides on
        (Field.decides) left blank; None when it reads none. A blank that does not matter (a
        small loss of a collapsed house) leaves `where` known, so its row is decided as usual."""
        fields = [
            f for f in SOURCES[self.source].fields if f.decides and f.name in fields_of(self.where)
        ]
        if not fields:
            return None
        parts = ", ".join(
            f"CASE WHEN s.{f.name} IS NULL THEN '「{f.headers[0]}」为空' END" for f in fields
        )
        reason = f"concat_ws('，', {parts}) || '（未填写，不按「否」或 0 计）：是否符合无法判断'"
        return reason, " OR ".join(f"s.{f.name} IS NULL" for f in fields)

    def _departed_rows(self, select: str, where: str) -> str:
        """The rule's query over the month's rows the linkage found to be of members who left
        the roster (unmatched, reason left_roster: linkage._name_departed): `r` their row in the
        latest earlier roster, by ID and name, `h` their household in M's."""
        left = REASONS["left_roster"].replace("'", "''")
        return f"""
            SELECT [s.record_key] AS record_keys, r.member_key, h.household_id,
                   '{DEPARTED_METHOD}' AS method, {DEPARTED_CONFIDENCE} AS confidence, {select}
            FROM stg_{self.source} s
            JOIN roster_members r
              ON r.district = s.district AND r.id_number = s.id_number AND r.name = s.name
             AND r.month = {LATEST_EARLIER_ROSTER}
            JOIN households h
              ON h.district = s.district AND h.month = $month AND h.household_id = r.household_id
            WHERE s.district = $district AND s.month = $month AND ({where})
              AND s.record_key IN (SELECT record_key FROM unmatched_records
                                   WHERE district = $district AND month = $month
                                     AND source = '{self.source}' AND reason = '{left}')
        """

    def _rows(self, select: str, where: str, *, scoped: bool = True) -> str:
        scope = (
            "AND list_contains($monitored, h.household_type)"
            if scoped and self.scope is Scope.MONITORED
            else ""
        )
        return f"""
            SELECT [s.record_key] AS record_keys, m.member_key, m.household_id, m.method,
                   m.confidence, {select}
            FROM stg_{self.source} s
            JOIN record_matches m
              ON m.district = s.district AND m.month = s.month AND m.record_key = s.record_key
            JOIN households h
              ON h.district = s.district AND h.month = $month AND h.household_id = m.household_id
            JOIN roster_members r
              ON r.district = s.district AND r.month = $month AND r.member_key = m.member_key
            WHERE s.district = $district AND s.month = $month {scope} AND ({where})
        """

    @property
    def _void(self) -> str:
        """SQL: the row's 备注 voids it for this rule (void_remark_sql)."""
        return void_remark_sql(self.level is Level.PERSON and self.source != "public_security")

    def sql(self) -> str:
        where = f"({self.where}) AND NOT {self._void}"
        tied = self._rows(self.hit_columns(), where)
        if not self.departed:
            return tied
        return f"{tied} UNION ALL {self._departed_rows(self.hit_columns(), where)}"

    def evaluate(
        self, con: duckdb.DuckDBPyConnection, params: Parameters
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        # the rule's own query, with `where` replaced by "unknown because a field is unreadable"
        unreadable = unreadable_sql(fields_of(self.where))
        reason, test = NOT_EVALUABLE_REASON_SQL, unreadable
        if blank := self._blank_decisive():
            # or a field the rule decides on left blank: unknown (contract §2: a blank amount is
            # not 0); a field problem is the reason named first
            blank_reason, blank_test = blank
            reason = (
                f"CASE WHEN {unreadable} THEN {NOT_EVALUABLE_REASON_SQL} ELSE {blank_reason} END"
            )
            test = f"{unreadable} OR {blank_test}"
        rows = self._rows(f"{reason} AS reason", f"(({self.where}) IS NULL) AND ({test})")
        undecided = not_evaluable_rows(con, self.code, rows, bind(rows, params), self.where)
        if self.unsettled != "NULL":
            # after the unreadable rows: a field problem is the first reason to name
            unsettled = self._rows(
                f"{self.unsettled} AS reason",
                f"({self.where}) IS NULL AND ({self.unsettled}) IS NOT NULL",
            )
            undecided = _plus_not_evaluable(con, self.code, undecided, unsettled, params).unique(
                subset=["record_key"], keep="first", maintain_order=True
            )
        if self.scope is Scope.MONITORED or "h.household_type" in self.where:
            # the household's 户类型 unreadable in the roster: whether the rule applies is unknown
            untyped = self._rows(
                f"'{UNTYPED_REASON}' AS reason",
                f"h.household_type IS NULL AND ({self.where}) IS NOT FALSE",
                scoped=False,
            )
            undecided = _plus_not_evaluable(con, self.code, undecided, untyped, params).unique(
                subset=["record_key"], keep="first", maintain_order=True
            )
        # a row that would fire, but its 备注 calls it void: the district's to read, not a visit
        void = self._rows(
            f"{VOID_REMARK_REASON_SQL} AS reason", f"({self.where}) IS TRUE AND {self._void}"
        )
        undecided = _plus_not_evaluable(con, self.code, undecided, void, params).unique(
            subset=["record_key"], keep="first", maintain_order=True
        )
        sql = self.sql()
        hits = con.sql(sql, params=bind(sql, params)).pl()
        if self.direction is not Direction.PRECISION:
            return hits, undecided
        # telling a monitored household it may not qualify needs more than a name in a township
        weak = hits.filter(pl.col("confidence") < params["precision_min_confidence"])
        if weak.is_empty():
            return hits, undecided
        reasons = weak.select(
            pl.col("record_keys").list.first().alias("record_key"),
            "member_key",
            "household_id",
            pl.format(
                "仅凭{}关联（可信度 {}），不足以认定是本人：请部门补充证件号码后再核",
                "method",
                pl.col("confidence").round(3),
            ).alias("reason"),
        )
        undecided = pl.concat([undecided, undecidable(reasons, self.code)], how="vertical_relaxed")
        return hits.filter(pl.col("confidence") >= params["precision_min_confidence"]), undecided


# how a departed member's row was tied (RecordRule.departed): shown as 匹配方式
DEPARTED_METHOD = "证件号码+姓名一致（上月花名册；本月花名册已无此人）"
DEPARTED_CONFIDENCE = 0.95

# a staged row `s` of the calendar year up to and including M
_YEAR = "s.district = $district AND s.month >= $year_start_month AND s.month <= $month"
# an earlier month's row counts in the household M's roster has its member in (_mark_moved)
_HOUSEHOLD_NOW = "coalesce(mv.household_id, m.household_id)"
# a member key is household|ID (or household|name when the ID is unusable): the ID it ends with
ID_IN_MEMBER_KEY = r"\|([0-9]{17}[0-9X])$"
# the month's households `h` with their `threshold` (SQL over h)
_THRESHOLDS = """(SELECT h.*, {threshold} AS threshold FROM households h
                  WHERE h.district = $district AND h.month = $month)"""


@dataclass(frozen=True, kw_only=True, eq=False)
class YearToDateRule(RuleSpec):
    """Fires for a household in the month when its `amount` summed over the calendar year up to
    and including M reaches its `threshold` (the sum up to M−1 was below it). The hit columns read
    the totals `t` (ytd, before) and the household `h` with its `threshold`."""

    # the staged column summed: a blank or unreadable one counts as 0 where that decides nothing,
    # else its household is 不可判断 (_blank_sql)
    amount: str
    threshold: str  # SQL over the household `h`
    # the staged columns that tell one event (a claim) from another, and the event's date: a row
    # whose event (same ID, name and all of these known and equal) another file of the year holds
    # too, when it is filed outside its event's month (an export window that overlapped, a
    # cumulative 1—10月 file) or its month has the event in two files (a 补报 file re-sending
    # some of the month's rows), is the same event sent again: it counts once, in the file that
    # came first (month, then file name). Identical lines of one file stay apart.
    same_event: tuple[str, ...] = ()
    # the columns of `same_event` a reversal of the event (冲销, 退费) carries negated
    negated_in_reversal: tuple[str, ...] = ()
    # the lowest threshold a household whose 户类型 the roster does not say could have: crossing
    # it this month, but not the threshold taken for it, is 不可判断 (empty: the rule has one)
    untyped_threshold: str = ""
    event_date: str = "NULL"
    # the staged column a blank `amount` cannot exceed (个人自付 ≤ 医疗总费用); empty: unbounded
    amount_bound: str = ""

    @property
    def _resent_table(self) -> str:
        return f"ff_resent_{self.source}"

    def _mark_resent(self, con: duckdb.DuckDBPyConnection, params: Parameters) -> None:
        """The year's rows that repeat an event filed first elsewhere, as a temp table. Only a
        few rows are looked for (the 32 of the bench's 2.6M claims filed outside their month, and
        events a month holds in two files), found by one grouping of the year's rows (0.5 s at
        1M)."""
        known = " AND ".join(f"s.{c} IS NOT NULL" for c in self.same_event)
        columns = ", ".join(f"s.{c}" for c in self.same_event)
        event = f"hash(s.id_number, s.name, {columns})"
        twice = f"""
            CREATE OR REPLACE TEMP TABLE ff_twice AS
            SELECT s.month, {event} AS event,
                   min(hash(s.file)) <> max(hash(s.file)) AS in_two_files,
                   -- in one file only (one in two files is already counted once, where it came
                   -- first: a line twice in that file as well is not looked for)
                   count(*) > 1 AND min(hash(s.file)) = max(hash(s.file)) AS twice_in_a_file
            FROM stg_{self.source} s
            WHERE {_YEAR} AND {known}
            GROUP BY ALL
            HAVING in_two_files OR twice_in_a_file
        """
        con.execute(twice, bind(twice, params))
        misplaced = f"""
            CREATE OR REPLACE TEMP TABLE ff_misplaced AS
            SELECT s.record_key, s.id_number, s.name, {columns}
            FROM stg_{self.source} s
            LEFT JOIN ff_twice t ON t.month = s.month AND t.event = {event} AND t.in_two_files
            WHERE {_YEAR} AND {known}
              AND (t.event IS NOT NULL
                   OR date_trunc('month', {self.event_date}) <> CAST(s.month || '-01' AS DATE))
        """
        con.execute(misplaced, bind(misplaced, params))
        # a line written again under itself in one file (all its columns alike): it may be a
        # second claim or the same one pasted twice; counted once, and where counting it twice
        # would decide the warning, the household is 不可判断 (_repeated_sql)
        repeated = f"""
            CREATE OR REPLACE TEMP TABLE {self._repeated_table} AS
            SELECT month, record_key FROM (
                SELECT s.month, s.record_key,
                       row_number() OVER (PARTITION BY s.month, s.file, {event}
                                          ORDER BY s.sheet, s.row_number) AS copy
                FROM stg_{self.source} s
                JOIN ff_twice t ON t.month = s.month AND t.event = {event} AND t.twice_in_a_file
                WHERE {_YEAR} AND {known}
            ) WHERE copy > 1
        """
        con.execute(repeated, bind(repeated, params))

        def alike(negated: tuple[str, ...] = ()) -> str:
            """SQL: row s holds row a's event (the `negated` columns with the opposite sign)."""
            return " AND ".join(
                f"s.{c} = {'-' if c in negated else ''}a.{c}" for c in self.same_event
            )

        same = alike()
        person = (
            "s.id_number IS NOT DISTINCT FROM a.id_number AND s.name IS NOT DISTINCT FROM a.name"
        )
        # the event's reversal (冲销, 退费): the same claim with its amounts negated. A copy filed
        # after a reversal that followed the first is the claim settled again, not sent again
        # (+3,200 in February, −3,200 in March, +3,200 in May nets 3,200: the May row had been
        # dropped as a copy of February's, a household short of the threshold it reached). A
        # reversal that is itself a copy (an export window that overlapped re-sends the claim
        # and its reversal alike) separates nothing.
        resent = f"""
            CREATE OR REPLACE TEMP TABLE {self._resent_table} AS
            WITH copies AS (
                SELECT * FROM (
                    SELECT s.record_key, a.record_key AS seed, s.month, s.file,
                           min((s.month, s.file)) OVER (PARTITION BY a.record_key) AS first
                    FROM ff_misplaced a
                    JOIN stg_{self.source} s ON {same} AND {person}
                    WHERE {_YEAR}
                ) WHERE (month, file) <> first
            ), reversals AS (
                SELECT a.record_key AS seed, s.month, s.file
                FROM ff_misplaced a
                JOIN stg_{self.source} s ON {alike(self.negated_in_reversal)} AND {person}
                WHERE {_YEAR} AND a.{self.amount} > 0
                  AND s.record_key NOT IN (SELECT record_key FROM copies)
            )
            SELECT DISTINCT c.record_key FROM copies c
            WHERE NOT EXISTS (
                SELECT 1 FROM reversals r
                WHERE r.seed = c.seed AND (r.month, r.file) > c.first
                  AND (r.month, r.file) <= (c.month, c.file))
        """
        con.execute(resent, bind(resent, params))

    @property
    def _repeated_table(self) -> str:
        return f"ff_repeated_{self.source}"

    @property
    def _moved_table(self) -> str:
        return f"ff_moved_{self.source}"

    def _mark_moved(self, con: duckdb.DuckDBPyConnection, params: Parameters) -> None:
        """Members an earlier month's rows were tied to under a key M's roster no longer has (the
        member moved to another household, split off, or the household's 户编号 was re-keyed), with
        the key and household M's roster gives their ID (where one member holds it): the year's
        sum is the household's as M's roster has it, so their earlier rows count there, not under
        a household id that is gone (the sum had started again from zero)."""
        moved = f"""
            CREATE OR REPLACE TEMP TABLE {self._moved_table} AS
            WITH gone AS (
                SELECT member_key, regexp_extract(member_key, '{ID_IN_MEMBER_KEY}', 1) AS id_number
                FROM (SELECT DISTINCT member_key FROM record_matches
                      WHERE district = $district AND source = '{self.source}'
                        AND month >= $year_start_month AND month < $month)
                WHERE member_key NOT IN (SELECT member_key FROM roster_members
                                         WHERE district = $district AND month = $month)
            ), holders AS (
                SELECT id_number, any_value(member_key) AS now_key,
                       any_value(household_id) AS household_id
                FROM roster_members
                WHERE district = $district AND month = $month
                  AND id_number IN (SELECT id_number FROM gone WHERE id_number <> '')
                GROUP BY id_number HAVING count(*) = 1
            )
            SELECT g.member_key, h.now_key, h.household_id FROM gone g JOIN holders h USING (id_number)
        """
        con.execute(moved, bind(moved, params))

    def _tied(self) -> str:
        """SQL FROM: the source's rows `s` with their ties `m` and, for an earlier month's tie to a
        member who has moved since, `mv` (_HOUSEHOLD_NOW: the household M's roster has them in)."""
        return f"""stg_{self.source} s
            JOIN record_matches m
              ON m.district = s.district AND m.month = s.month AND m.record_key = s.record_key
            LEFT JOIN {self._moved_table} mv ON mv.member_key = m.member_key AND s.month < $month"""

    def _not_resent(self, *, repeated: bool = False) -> str:
        """Rows that count: not an event sent again, nor (unless `repeated`) a line repeated
        under itself in its file."""
        if not self.same_event:
            return ""
        again = f"AND s.record_key NOT IN (SELECT record_key FROM {self._resent_table})"
        if repeated:
            return again
        return (
            f"{again} AND (s.month, s.record_key) NOT IN "
            f"(SELECT (month, record_key) FROM {self._repeated_table})"
        )

    def sql(self) -> str:
        return f"""
            WITH year_rows AS ({self._year_rows()}), sums AS (
                SELECT household_id,
                       sum(amount) AS ytd,
                       sum(amount) FILTER (WHERE month < $month) AS before
                FROM year_rows GROUP BY household_id
                HAVING bool_or(month = $month)
            ), crossed AS (
                -- the few households whose sum crossed the threshold this month: only their
                -- rows are listed and ranked
                SELECT s.ytd, s.before, h.*
                FROM sums s
                JOIN {_THRESHOLDS.format(threshold=self.threshold)} h
                  ON h.household_id = s.household_id
                WHERE s.ytd >= h.threshold AND coalesce(s.before, 0) < h.threshold
            ), totals AS (
                SELECT household_id,
                       list(record_key ORDER BY record_key) FILTER (WHERE month = $month)
                           AS record_keys,
                       -- ties broken by the key itself: a rerun names the same member and method
                       arg_max(member_key, (amount, member_key)) FILTER (WHERE month = $month)
                           AS member_key,
                       arg_min(method, (confidence, method)) AS method,
                       min(confidence) AS confidence
                FROM year_rows
                WHERE household_id IN (SELECT household_id FROM crossed)
                GROUP BY household_id
            )
            SELECT t.record_keys, t.member_key, t.household_id, t.method, t.confidence,
                   {self.hit_columns()}
            FROM (SELECT x.*, c.ytd, c.before FROM totals x JOIN crossed c USING (household_id)) t
            JOIN crossed h ON h.household_id = t.household_id
        """

    def _unreadable_sql(self) -> str:
        return f"""
            SELECT [s.record_key] AS record_keys, m.member_key, m.household_id,
                   {NOT_EVALUABLE_REASON_SQL} AS reason
            FROM stg_{self.source} s
            JOIN record_matches m
              ON m.district = s.district AND m.month = s.month AND m.record_key = s.record_key
            WHERE s.district = $district AND s.month = $month AND s.{self.amount} IS NULL
              AND s.record_key IN (SELECT record_key FROM field_problems
                                   WHERE district = $district AND month = $month
                                     AND field = '{self.amount}')
        """

    def evaluate(
        self, con: duckdb.DuckDBPyConnection, params: Parameters
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        if self.same_event:
            self._mark_resent(con, params)
        self._mark_moved(con, params)
        self._mark_counted(con, params)
        sql = self.sql()
        hits = con.sql(sql, params=bind(sql, params)).pl()
        # M's rows whose amount is unreadable, in households the rule did not fire for
        unreadable = self._unreadable_sql()
        rows = not_evaluable_rows(
            con, self.code, unreadable, bind(unreadable, params), f"s.{self.amount}"
        )
        if (
            self.same_event
            and con.sql(f"SELECT count(*) FROM {self._repeated_table}").fetchall()[0][0]
        ):
            rows = _plus_not_evaluable(con, self.code, rows, self._repeated_sql(), params)
        if self.untyped_threshold and _has_untyped(con, params):
            rows = _plus_not_evaluable(con, self.code, rows, self._untyped_sql(), params)
        blank_sql = self._blank_sql()
        blank = not_evaluable_rows(con, self.code, blank_sql, bind(blank_sql, params), "")
        rows = pl.concat(
            [rows, blank.filter(~pl.col("household_id").is_in(rows["household_id"].implode()))],
            how="vertical_relaxed",
        )
        return hits, rows.filter(~pl.col("household_id").is_in(hits["household_id"].implode()))

    def _blank_sql(self) -> str:
        """Households with a row this month whose year's sum, counting a blank (or unreadable)
        `amount` as unknown rather than 0 (contract §2: blank = unknown, not zero), may or may
        not have crossed the threshold this month: a blank is at most its row's `amount_bound`
        (else anything), and one of an earlier month may also have raised the sum before M.
        Only the households of the year's few blank rows are summed (0.2 % of the bench's
        claims)."""
        among = f"SELECT DISTINCT household_id FROM {self._counted_table} WHERE unknown > 0"
        header = SOURCES[self.source].field(self.amount).headers[0]
        reason = f"「{header}」为空或无法识别（金额不详）：该户本年合计是否在本月达到阈值无法判断"
        return f"""
            WITH year_rows AS ({self._year_rows(among)}), sums AS (
                SELECT household_id,
                       list(record_key ORDER BY month DESC, record_key)
                           FILTER (WHERE unknown > 0) AS record_keys,
                       arg_max(member_key, (amount, member_key)) FILTER (WHERE month = $month)
                           AS member_key,
                       sum(amount) AS ytd,
                       coalesce(sum(amount) FILTER (WHERE month < $month), 0) AS before,
                       coalesce(sum(unknown) FILTER (WHERE month = $month), 0) AS unknown_now,
                       coalesce(sum(unknown) FILTER (WHERE month < $month), 0) AS unknown_before
                FROM year_rows GROUP BY household_id
                HAVING bool_or(month = $month) AND bool_or(unknown > 0)
            )
            SELECT s.record_keys, s.member_key, s.household_id, '{reason}' AS reason
            FROM sums s
            JOIN {_THRESHOLDS.format(threshold=self.threshold)} h
              ON h.household_id = s.household_id
            -- not reached by what is known; reached this month, not before, for some amounts
            WHERE s.ytd < h.threshold AND s.before < h.threshold
              AND s.ytd + s.unknown_now + least(s.unknown_before, h.threshold - s.before)
                  >= h.threshold
        """

    @property
    def _counted_table(self) -> str:
        return f"ff_counted_{self.source}"

    def _mark_counted(self, con: duckdb.DuckDBPyConnection, params: Parameters) -> None:
        """The year's rows up to M that count (_counted_rows), as a temp table: the sums, the
        blank amounts' households and the untyped households' all read it (the year's 2.6M
        claims tied and filtered once, not once a query: 1.0 s of YB01's 3.3 s at 1M)."""
        sql = f"CREATE OR REPLACE TEMP TABLE {self._counted_table} AS {self._counted_rows()}"
        con.execute(sql, bind(sql, params))

    def _year_rows(self, among: str = "", *, repeated: bool = False) -> str:
        """SQL: the year's counted rows (_mark_counted) of the households of `among` (a query of
        household ids; all when empty); `repeated`: a line repeated in its file counts too."""
        if repeated:
            return self._counted_rows(among, repeated=True)
        only = f"WHERE household_id IN ({among})" if among else ""
        return f"SELECT * FROM {self._counted_table} {only}"

    def _counted_rows(self, among: str = "", *, repeated: bool = False) -> str:
        """SQL: the year's rows up to M tied to a household (of `among`, a query of household
        ids, when given), each counted once (`repeated`: a line repeated in its file too), with
        `unknown`: how much a blank amount may be (its `amount_bound`, else anything; 0 where
        the amount is known)."""
        only = f"AND {_HOUSEHOLD_NOW} IN ({among})" if among else ""
        bound = f"CAST(s.{self.amount_bound} AS DOUBLE)" if self.amount_bound else "NULL"
        return f"""
            SELECT {_HOUSEHOLD_NOW} AS household_id, s.month, s.record_key,
                   coalesce(mv.now_key, m.member_key) AS member_key, m.method,
                   m.confidence, coalesce(s.{self.amount}, 0) AS amount,
                   CASE WHEN s.{self.amount} IS NOT NULL THEN 0
                        ELSE coalesce({bound}, 'Infinity'::DOUBLE) END AS unknown
            FROM {self._tied()}
            WHERE {_YEAR} {only} {self._not_resent(repeated=repeated)}"""

    def _crossing_sql(self, among: str, threshold: str, reason: str, *, repeated: bool) -> str:
        """SQL: the households of `among` whose year's sum crossed `threshold` (over the
        household h) this month, as rows a rule could not decide (only theirs are summed)."""
        return f"""
            WITH year_rows AS ({self._year_rows(among, repeated=repeated)}), sums AS (
                SELECT household_id, list(record_key ORDER BY record_key)
                           FILTER (WHERE month = $month) AS record_keys,
                       arg_max(member_key, (amount, member_key)) FILTER (WHERE month = $month)
                           AS member_key,
                       sum(amount) AS ytd, sum(amount) FILTER (WHERE month < $month) AS before
                FROM year_rows GROUP BY household_id HAVING bool_or(month = $month)
            )
            SELECT s.record_keys, s.member_key, s.household_id, '{reason}' AS reason
            FROM sums s
            JOIN {_THRESHOLDS.format(threshold=threshold)} h ON h.household_id = s.household_id
            WHERE s.ytd >= h.threshold AND coalesce(s.before, 0) < h.threshold
        """

    def _repeated_sql(self) -> str:
        """Households with a line repeated under itself in a file, whose sum would cross their
        threshold this month only were each copy a claim of its own."""
        among = f"""SELECT DISTINCT {_HOUSEHOLD_NOW} FROM {self._repeated_table} x
                    JOIN record_matches m ON m.district = $district AND m.month = x.month
                                         AND m.record_key = x.record_key
                    LEFT JOIN {self._moved_table} mv
                      ON mv.member_key = m.member_key AND x.month < $month"""
        return self._crossing_sql(among, self.threshold, REPEATED_REASON, repeated=True)

    def _untyped_sql(self) -> str:
        """Households of unknown 户类型 whose sum crossed `untyped_threshold` this month."""
        among = """SELECT household_id FROM households
                   WHERE district = $district AND month = $month AND household_type IS NULL"""
        return self._crossing_sql(among, self.untyped_threshold, UNTYPED_REASON, repeated=False)


def _plus_not_evaluable(
    con: duckdb.DuckDBPyConnection, rule: str, rows: pl.DataFrame, sql: str, params: Parameters
) -> pl.DataFrame:
    """`rows`, and the 不可判断 rows of `sql` (record_keys, member_key, household_id, reason)."""
    more = not_evaluable_rows(con, rule, sql, bind(sql, params), "")
    return pl.concat([rows, more], how="vertical_relaxed")


def _has_untyped(con: duckdb.DuckDBPyConnection, params: Parameters) -> bool:
    """M's roster has a household of unknown 户类型 (most months none: nothing to sum)."""
    sql = """SELECT count(*) FROM households
             WHERE district = $district AND month = $month AND household_type IS NULL"""
    return bool(con.sql(sql, params=bind(sql, params)).fetchall()[0][0])


@dataclass(frozen=True, kw_only=True, eq=False)
class AbsenceRule(RuleSpec):
    """Fires for a monitored member whom the source does not show as `present`, and only when no
    row of the month could be theirs (`blocked` lists those as 无法判断; contract §4,
    pipelines/rules/completeness.py). The hit columns read the member `r` and `seen`, the
    member's own rows of the source."""

    absence: ClassVar[bool] = True
    # stages the month's rows of the source as the `present`, `seen` and `blocked` queries read them
    prepare: Callable[[duckdb.DuckDBPyConnection, Parameters], None]
    blocked: Callable[[duckdb.DuckDBPyConnection, Parameters], pl.DataFrame]
    present: str  # SQL: member_key of every member the source shows present
    # SQL: member_key, record_keys, method and confidence (how those rows were tied: a member on
    # the list as 未参保 was found there, not missing from it) and evidence columns of the
    # member's rows
    seen: str

    def __post_init__(self) -> None:
        if self.scope is not Scope.MONITORED:
            raise ValueError(f"{self.code}: absence is judged over monitored members only")

    def sql(self) -> str:
        return f"""
            WITH monitored AS ({MONITORED_SQL}),
            present AS ({self.present}),
            seen AS ({self.seen})
            SELECT coalesce(seen.record_keys, []::VARCHAR[]) AS record_keys, r.member_key,
                   r.household_id, seen.method, seen.confidence, {self.hit_columns()}
            FROM monitored r
            LEFT JOIN seen ON seen.member_key = r.member_key
            WHERE r.member_key NOT IN (SELECT member_key FROM present)
              AND r.member_key NOT IN (SELECT member_key FROM blocked_members)
        """

    def evaluate(
        self, con: duckdb.DuckDBPyConnection, params: Parameters
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        self.prepare(con, params)
        blocked = self.blocked(con, params)
        con.register("_blocked", blocked.select("member_key"))
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE blocked_members AS SELECT * FROM _blocked")
        finally:
            con.unregister("_blocked")
        sql = self.sql()
        hits = con.sql(sql, params=bind(sql, params)).pl()
        # a member of a household whose 户类型 is unreadable, missing from the list like a
        # monitored one would be: whether the rule applies to them is unknown (README: 重点户's
        # rules are 不可判断 for such a household), never silently passed over
        untyped = con.sql(self._untyped_absent, params=bind(self._untyped_absent, params)).pl()
        undecided = pl.concat([undecidable(blocked, self.code), not_evaluable(untyped, self.code)])
        return hits, undecided

    @property
    def _untyped_absent(self) -> str:
        return f"""
            WITH present AS ({self.present})
            SELECT r.member_key, r.household_id, '{self.source}' AS source,
                   NULL::VARCHAR AS record_key, '{UNTYPED_REASON}' AS reason
            FROM roster_members r
            JOIN households h
              ON h.district = r.district AND h.month = r.month AND h.household_id = r.household_id
            WHERE r.district = $district AND r.month = $month AND h.household_type IS NULL
              AND r.member_key NOT IN (SELECT member_key FROM present)
              AND r.member_key NOT IN (SELECT member_key FROM blocked_members)
            ORDER BY r.member_key
        """
