"""Our own evaluation of the contract's rule catalogue over true identities: the expected warnings."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from .background import CARS, VALUE_FIELDS
from .common import month_first, month_last, parse_month, shift_month
from .context import Context, Record
from .population import FOCUS_TYPES
from .signals import YB01_THRESHOLDS

RED, YELLOW, GREEN = "红", "黄", "绿"
LEVEL_RANK = {GREEN: 0, YELLOW: 1, RED: 2}

# code -> (source, 户 or 人)
RULES: dict[str, tuple[str, str]] = {
    "YB01": ("medical_claims", "户"),
    "YB02": ("medical_enrollment", "人"),
    "MZ01": ("civil_affairs", "户"),
    "MZ02": ("civil_affairs", "户"),
    "MZ03": ("civil_affairs", "户"),
    "JY01": ("education", "人"),
    "JY02": ("education", "人"),
    "JY03": ("education", "人"),
    "GA01": ("public_security", "人"),
    "GA02": ("vehicles", "人"),
    "ZJ01": ("housing", "户"),
    "ZJ02": ("property", "人"),
    "CL01": ("disability", "人"),
    "CL02": ("disability", "人"),
    "YJ01": ("emergency", "户"),
    "RS01": ("hrss", "人"),
    "CZ01": ("public_servants", "人"),
    "SJ01": ("market", "人"),
    "XF01": ("petition", "户"),
    "SL01": ("water", "户"),
}
SEVERE = ("一级", "二级")
WARNING_COLUMNS = ("rule", "household_id", "member_id_number", "township", "recoverable", "level")


@dataclass
class _Hit:
    level: str
    recoverable: bool


@dataclass
class Evaluator:
    """Collects the rows a pipeline keeps and derives, per month, the warnings it must raise."""

    ctx: Context
    hits: dict[str, dict[tuple[str, int, int], _Hit]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    self_paid: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    self_paid_recoverable: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    enrolled: dict[str, set[int]] = field(default_factory=dict)
    # per month, the places (乡镇, 村 or None: the whole 乡镇) of enrollment rows written without a
    # name and an ID that say 正常参保: any monitored member there may be the row's,
    # so YB02 cannot say they are absent (contract §4: 无法判断, listed for the district)
    unnamed_places: dict[str, set[tuple[int, str | None]]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def add(self, source: str, month: str, kept: list[tuple[Record, bool]]) -> None:
        if source == "medical_claims":
            self._add_claims(month, kept)
            return
        if source == "medical_enrollment":
            year = parse_month(month)[0]
            self.enrolled[month] = {
                r.person
                for r, _ in kept
                if r.person >= 0 and r.values[0] == year and r.values[1] == "正常参保"
            }
            return
        check = CHECKS[source]
        d = self.ctx.district
        for record, recoverable in kept:
            if record.person < 0:
                continue
            for rule, level in check(self.ctx, month, record):
                member = -1 if RULES[rule][1] == "户" else record.person
                self._hit(month, rule, d.m_hh[record.person], member, level, recoverable)

    def add_lost(self, source: str, month: str, lost: list[tuple[Record, int, str | None]]) -> None:
        """Rows written without a name and an ID (SourceOutput.lost)."""
        if source != "medical_enrollment":
            return
        for record, township, village in lost:
            if record.values[1] == "正常参保":
                self.unnamed_places[month].add((township, village))

    def _hit(
        self, month: str, rule: str, household: int, member: int, level: str, recoverable: bool
    ) -> None:
        key = (rule, household, member)
        hit = self.hits[month].get(key)
        if hit is None:
            self.hits[month][key] = _Hit(level, recoverable)
        else:
            if LEVEL_RANK[level] > LEVEL_RANK[hit.level]:
                hit.level = level
            hit.recoverable = hit.recoverable or recoverable

    def _add_claims(self, month: str, kept: list[tuple[Record, bool]]) -> None:
        household_of = self.ctx.district.m_hh
        totals, recoverable_totals = self.self_paid[month], self.self_paid_recoverable[month]
        for record, recoverable in kept:
            amount = record.values[7]
            if record.person < 0 or amount is None:
                continue
            household = household_of[record.person]
            totals[household] += amount  # type: ignore[operator]
            if recoverable:
                recoverable_totals[household] += amount  # type: ignore[operator]

    def warnings(self, month: str) -> list[tuple[object, ...]]:
        """Rows of expected_warnings.csv for the month (YB01 and YB02 are derived here)."""
        self._yb01(month)
        self._yb02(month)
        d = self.ctx.district
        rows = []
        for (rule, household, member), hit in self.hits[month].items():
            rows.append((
                rule,
                d.hh_id[household],
                d.m_id[member] if member >= 0 else "",
                d.townships[d.hh_township[household]][1],
                "true" if hit.recoverable else "false",
                hit.level,
            ))  # fmt: skip
        return sorted(rows)

    def _yb01(self, month: str) -> None:
        year = parse_month(month)[0]
        earlier = [m for m in self.self_paid if m < month and parse_month(m)[0] == year]
        fired = self._crossings(self.self_paid, earlier, month)
        recovered = self._crossings(self.self_paid_recoverable, earlier, month)
        for household, (total, threshold) in fired.items():
            level = RED if total >= 2 * threshold else YELLOW
            self._hit(month, "YB01", household, -1, level, household in recovered)

    def _crossings(
        self, sums: dict[str, dict[int, int]], earlier: list[str], month: str
    ) -> dict[int, tuple[int, int]]:
        """Households whose year-to-date total reaches their threshold in `month`: (total, threshold)."""
        d = self.ctx.district
        out = {}
        for household, amount in sums.get(month, {}).items():
            threshold = YB01_THRESHOLDS[d.hh_type[household]]
            prior = sum(sums[m].get(household, 0) for m in earlier)
            if prior < threshold <= prior + amount:
                out[household] = (prior + amount, threshold)
        return out

    def _yb02(self, month: str) -> None:
        if month not in self.enrolled:
            return  # no enrollment list this month: the rule cannot say anything
        enrolled, unnamed = self.enrolled[month], self.unnamed_places[month]
        d = self.ctx.district
        for member in self.ctx.focus_members:
            household = d.m_hh[member]
            township = d.hh_township[household]
            village = d.villages[d.hh_village[household]].name
            if member not in enrolled and not {(township, village), (township, None)} & unnamed:
                self._hit(month, "YB02", household, member, GREEN, True)


def _in_month(day: object, month: str) -> bool:
    return isinstance(day, date) and month_first(month) <= day <= month_last(month)


def _values(source: str, record: Record) -> dict[str, object]:
    return dict(zip(VALUE_FIELDS[source], record.values, strict=False))


def _civil(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("civil_affairs", record)
    kind, change = v["assistance_type"], v["change_type"]
    household_type = ctx.district.hh_type[ctx.district.m_hh[record.person]]
    hits = []
    if change == "新增" and kind in ("低保", "特困") and household_type == "一般农户":
        hits.append(("MZ01", YELLOW))
    if kind == "临时救助":
        hits.append(("MZ02", RED))
    if change == "退出" and kind == "低保" and household_type in FOCUS_TYPES:
        hits.append(("MZ03", YELLOW))
    return hits


def _education(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("education", record)
    hits = []
    if v["stage"] in ("小学", "初中") and v["school_status"] == "辍学":
        hits.append(("JY01", YELLOW))
    enrol = v["enrol_month"]
    window_start = month_first(shift_month(month, -11))
    if (
        v["stage"] == "高校"
        and isinstance(enrol, date)
        and window_start <= enrol <= month_last(month)
    ):
        hits.append(("JY02", YELLOW))
    if ctx.focus(record.person) and v["school_status"] == "在读" and v["aided"] is False:
        hits.append(("JY03", GREEN))
    return hits


def _public_security(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("public_security", record)
    if v["change_type"] != "死亡":
        return []
    day = v["change_date"]  # None: written so that no one can read it (a kept bad row)
    working_age = isinstance(day, date) and 16 <= ctx.age(record.person, day) <= 60
    return [("GA01", RED if working_age else YELLOW)]


def _vehicles(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("vehicles", record)
    return [("GA02", GREEN)] if ctx.focus(record.person) and v["vehicle_type"] in CARS else []


def _housing(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    grade = _values("housing", record)["grade"]
    return [("ZJ01", RED if grade == "D" else YELLOW)] if grade in ("C", "D") else []


def _property(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    return [("ZJ02", GREEN)] if ctx.focus(record.person) else []


def _disability(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("disability", record)
    hits = []
    if _in_month(v["issue_date"], month):
        hits.append(("CL01", YELLOW))
    if ctx.focus(record.person) and v["disability_level"] in SEVERE and v["care_subsidy"] is False:
        hits.append(("CL02", GREEN))
    return hits


def _emergency(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("emergency", record)
    loss, collapsed = v["loss"], v["house_collapsed"]
    if collapsed is True:
        return [("YJ01", RED)]
    if loss is not None and loss >= 500_000:  # type: ignore[operator]
        return [("YJ01", YELLOW)]
    return []


def _hrss(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("hrss", record)
    day = v["register_date"]
    if (
        v["register_type"] == "失业登记"
        and isinstance(day, date)
        and 16 <= ctx.age(record.person, day) <= 60
    ):
        return [("RS01", YELLOW)]
    return []


def _public_servants(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    return [("CZ01", GREEN)] if ctx.focus(record.person) else []


def _market(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    v = _values("market", record)
    capital = v["capital"]
    if ctx.focus(record.person) and v["role"] in ("法定代表人", "股东") and capital is not None:
        return [("SJ01", GREEN)] if capital >= 5_000 else []  # type: ignore[operator]
    return []


def _petition(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    return (
        [("XF01", YELLOW)] if _in_month(_values("petition", record)["register_date"], month) else []
    )


def _water(ctx: Context, month: str, record: Record) -> list[tuple[str, str]]:
    return [("SL01", YELLOW)] if _values("water", record)["resolved"] is False else []


CHECKS = {
    "civil_affairs": _civil,
    "education": _education,
    "public_security": _public_security,
    "vehicles": _vehicles,
    "housing": _housing,
    "property": _property,
    "disability": _disability,
    "emergency": _emergency,
    "hrss": _hrss,
    "public_servants": _public_servants,
    "market": _market,
    "petition": _petition,
    "water": _water,
}
