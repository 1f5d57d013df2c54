"""Planted rule signals: for every rule, records at and around its threshold and scope, every month."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from . import background as bg
from .common import day_in, month_first, month_last, parse_month, shift_month
from .context import Context, Record
from .population import MONITORED, ORDINARY, POVERTY_ALLEVIATED

STAGE_AGES = {"小学": (6, 11), "初中": (12, 14), "高中": (15, 17)}  # age on 1 September
YB01_THRESHOLDS = {POVERTY_ALLEVIATED: 500_000, MONITORED: 500_000, ORDINARY: 2_000_000}  # fen


class Planter:
    """Picks distinct people for planted scenarios of one month, so no two signals share a household."""

    def __init__(
        self, ctx: Context, month: str, used: set[int] | None = None, stream: str = "plant"
    ) -> None:
        self.ctx = ctx
        self.month = month
        self.rng = ctx.rng(stream, month)
        self.first = month_first(month)
        self.last = month_last(month)
        self.used_households: set[int] = used if used is not None else set()

    def member(
        self,
        focus: bool | None = None,
        ages: tuple[int, int] | None = None,
        on: date | None = None,
        head: bool = False,
        kind: str | None = None,
    ) -> int | None:
        """A member matching the filters (household type or 重点 scope, age on a day, 户主), or None."""
        d = self.ctx.district
        day = on or self.first
        pool: list[int] | None = None  # None: anyone
        if focus is not None:
            pool = self.ctx.focus_members if focus else self.ctx.ordinary_members
        size = len(pool) if pool is not None else d.members
        if size == 0:
            return None

        def fits(m: int) -> bool:
            h = d.m_hh[m]
            return (
                h not in self.used_households
                and h not in self.ctx.reserved_households
                and (kind is None or d.hh_type[h] == kind)
                and (not head or d.hh_first[h] == m)
                and (ages is None or ages[0] <= d.age(m, day) <= ages[1])
            )

        start = self.rng.randrange(size)
        for step in range(size):
            # a random probe first, then a scan from a random offset so rare ages are still found
            i = self.rng.randrange(size) if step < 300 else (start + step) % size
            m = pool[i] if pool is not None else i
            if fits(m):
                self.used_households.add(d.m_hh[m])
                return m
        return None

    def head(self, focus: bool | None = None, kind: str | None = None) -> int | None:
        return self.member(focus=focus, head=True, kind=kind)


def plant(ctx: Context, source: str, month: str, used: set[int]) -> tuple[list[Record], set[int]]:
    """Planted records for a source and month, and the people to leave out of its ordinary rows."""
    planter = Planter(ctx, month, used, stream=f"plant|{source}")
    records, exclude = PLANTERS[source](ctx, planter)
    return [r._replace(planted=True) for r in records], exclude


def _some(*people: int | None) -> list[int]:
    return [p for p in people if p is not None]


def _enrollment(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    year = p.first.year
    records, exclude = [], set()
    for kind in (POVERTY_ALLEVIATED, MONITORED, ORDINARY):
        missing = p.member(kind=kind)  # YB02 for 脱贫户/监测户; 一般农户 are out of scope
        exclude.update(_some(missing))
    for status, year_of_record, focus in (
        ("未参保", year, True),
        ("暂停", year, True),
        ("正常参保", year - 1, True),  # last year's enrollment does not cover this year
        ("未参保", year, False),
    ):
        for m in _some(p.member(focus=focus)):
            values = bg.pack("medical_enrollment", "城乡居民基本医疗保险", enroll_year=year_of_record,
                             enroll_status=status, subsidized=False)  # fmt: skip
            records.append(Record(m, values))
            exclude.add(m)
    return records, exclude


def _household_rows(
    ctx: Context, p: Planter, head: int, kind: str, change: str, day: date, all_members: bool
) -> list[Record]:
    d = ctx.district
    household = d.m_hh[head]
    members = list(d.household_members(household)) if all_members else [head]
    size = len(members)
    return [Record(m, bg.civil_values(ctx, p.rng, m, kind, change, day, size)) for m in members]


def _civil_affairs(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records: list[Record] = []
    cases = (
        ("低保", "新增", False, True),  # MZ01 fires: 一般农户
        ("特困", "新增", False, False),  # MZ01 fires
        ("低保", "新增", True, True),  # MZ01 silent: already 脱贫户/监测户
        ("低保", "在保", False, True),  # silent: not new
        ("临时救助", "新增", True, False),  # MZ02 fires (红)
        ("临时救助", "新增", False, False),  # MZ02 fires
        ("低保", "退出", True, True),  # MZ03 fires
        ("低保", "退出", False, True),  # MZ03 silent: scope 重点
        ("特困", "退出", True, False),  # MZ03 silent: not 低保
    )
    for kind, change, focus, all_members in cases:
        head = p.head(focus=focus)
        if head is not None:
            day = day_in(p.month, p.rng) if change != "在保" else p.first - timedelta(days=400)
            records += _household_rows(ctx, p, head, kind, change, day, all_members)
    return records, {r.person for r in records}


def _education(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    sy = bg.school_year(p.month)
    sept = date(sy, 9, 1)
    records: list[Record] = []

    def student(focus: bool | None, stage: str, status: str, aided: bool) -> None:
        first_age, last_age = STAGE_AGES[stage]
        m = p.member(focus=focus, ages=(first_age, last_age), on=sept)
        if m is not None:
            index = ctx.district.age(m, sept) - first_age
            values = bg.education_values(ctx, p.rng, m, stage, index, sy, status, aided)
            records.append(Record(m, values))

    student(None, "小学", "辍学", True)  # JY01 fires
    student(None, "初中", "辍学", True)  # JY01 fires
    student(None, "高中", "辍学", True)  # silent: not 义务教育
    student(None, "初中", "休学", True)  # silent: not 辍学
    student(True, "小学", "在读", False)  # JY03 fires
    student(True, "初中", "在读", False)  # JY03 fires
    student(True, "小学", "在读", True)  # silent: aided
    student(False, "高中", "在读", False)  # silent: scope 重点
    student(True, "高中", "休学", False)  # silent: not 在读
    # JY02: 入学年月 within the 12 months ending M, at both edges
    window_start = shift_month(p.month, -11)
    for enrol in (f"{sy}-09", window_start, shift_month(p.month, -12)):
        m = p.member(ages=(18, 19), on=p.first)
        if m is not None:
            values = bg.education_values(ctx, p.rng, m, "高校", 0, sy, "在读", ctx.focus(m))
            values = _replace(values, "education", enrol_month=month_first(enrol))
            records.append(Record(m, values))
    return records, {r.person for r in records}


def _replace(values: tuple[object, ...], source: str, **changes: object) -> tuple[object, ...]:
    fields = bg.VALUE_FIELDS[source]
    out = list(values)
    for name, value in changes.items():
        out[fields.index(name)] = value
    return tuple(out)


def _public_security(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for age, focus in ((15, False), (16, True), (60, False), (61, True), (45, None)):
        day = day_in(p.month, p.rng)
        m = p.member(focus=focus, ages=(age, age), on=day)
        if m is not None:  # GA01 fires for every death; 红 when aged 16-60 on the day
            values = bg.pack("public_security", change_type="死亡", change_date=day,
                             address=bg.address(ctx, p.rng, m))  # fmt: skip
            records.append(Record(m, values))
    m = p.member(ages=(20, 30))
    if m is not None:  # 迁出: no rule
        values = bg.pack("public_security", change_type="迁出", change_date=day_in(p.month, p.rng),
                         address=bg.address(ctx, p.rng, m))  # fmt: skip
        records.append(Record(m, values))
    return records, {r.person for r in records}


def _vehicles(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    cases = [(kind, True) for kind in bg.VEHICLE_TYPES] + [("小型轿车", False), ("轻型货车", False)]
    for kind, focus in cases:  # GA02 fires for cars and vans of 重点 members only
        m = p.member(focus=focus, ages=(22, 60))
        if m is not None:
            records.append(Record(m, bg.vehicle_values(p.rng, kind, ctx.district.ref)))
    return records, {r.person for r in records}


def _housing(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for grade, focus in (
        ("A", True),
        ("B", False),
        ("C", True),
        ("C", False),
        ("D", False),
        ("D", True),
    ):
        head = p.head(focus=focus)
        if head is not None:  # ZJ01 fires for C and D (D is 红), any household type
            records.append(Record(head, bg.housing_values(p.rng, grade, ctx.district.ref)))
    if ctx.messy:
        # a D-grade house whose 户主 shares a name with another 户主 in the village, without ID
        head = _namesake(ctx, p, heads=True)
        if head is not None:
            values = bg.housing_values(p.rng, "D", ctx.district.ref)
            records.append(Record(head, values, force="id_missing"))
    return records, {r.person for r in records}


def _namesake(ctx: Context, p: Planter, heads: bool) -> int | None:
    """A member sharing name, village and ID area code with another: no ID remnant tells them apart."""
    d = ctx.district
    for target, source in d.namesakes:
        pair_heads = d.hh_first[d.m_hh[target]] == target and d.hh_first[d.m_hh[source]] == source
        if heads != pair_heads or d.m_id[target][:6] != d.m_id[source][:6]:
            continue
        h = d.m_hh[target]
        if h not in p.used_households and h not in ctx.reserved_households:
            p.used_households.add(h)
            return target
    return None


def _property(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for focus in (True, True, False):  # ZJ02: any record, 重点 only
        m = p.member(focus=focus, ages=(25, 60))
        if m is not None:
            records.append(Record(m, bg.property_values(p.rng, day_in(p.month, p.rng))))
    return records, {r.person for r in records}


def _disability(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    old = p.first - timedelta(days=800)
    cases = (
        (None, p.first, None, None),  # CL01 fires: first day of M
        (None, p.last, None, None),  # CL01 fires: last day of M
        (None, p.first - timedelta(days=1), None, None),  # silent: last month
        (None, p.last + timedelta(days=1), None, None),  # silent: next month
        (True, old, "一级", False),  # CL02 fires
        (True, old, "二级", False),  # CL02 fires
        (True, old, "三级", False),  # silent: not 重度
        (True, old, "一级", True),  # silent: subsidy paid
        (False, old, "一级", False),  # silent: scope 重点
    )
    for focus, issued, level, care in cases:
        m = p.member(focus=focus)
        if m is not None:
            values = bg.disability_values(p.rng, ctx.focus(m), issued, level, care)
            records.append(Record(m, values))
    if ctx.messy:
        # a new certificate for someone with a namesake in the village, the ID destroyed by Excel
        m = _namesake(ctx, p, heads=False)
        if m is not None:
            records.append(
                Record(m, bg.disability_values(p.rng, ctx.focus(m), p.first), force="id_sci")
            )
    return records, {r.person for r in records}


def _emergency(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    d = ctx.district
    records = []
    day = day_in(p.month, p.rng)
    cases = (
        (500_000, False),  # YJ01 fires: exactly 5,000
        (499_999, False),  # silent
        (None, True),  # YJ01 fires (红): collapsed, loss unknown
        (0, False),  # silent
        (1_200_000, True),  # 红
    )
    for loss, collapsed in cases:
        head = p.head()
        if head is not None:
            values = bg.emergency_values("暴雨洪涝", day, d.hh_size[d.m_hh[head]], loss, collapsed)
            records.append(Record(head, values))
    return records, {r.person for r in records}


def _hrss(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for kind, age in (
        ("失业登记", 15),
        ("失业登记", 16),
        ("失业登记", 60),
        ("失业登记", 61),
        ("就业登记", 30),
    ):
        day = day_in(p.month, p.rng)
        m = p.member(ages=(age, age), on=day)
        if m is not None:  # RS01: 失业登记 aged 16-60 on the day
            records.append(Record(m, bg.hrss_values(kind, day)))
    return records, {r.person for r in records}


def _public_servants(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for focus in (True, False):  # CZ01: any record, 重点 only
        m = p.member(focus=focus, ages=(23, 55))
        if m is not None:
            records.append(Record(m, bg.servant_values(ctx, p.rng, m)))
    return records, {r.person for r in records}


def _market(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    cases = (
        ("法定代表人", 5_000, True),  # SJ01 fires: exactly 50 万
        ("股东", 4_990, True),  # silent: 49.9 万
        ("股东", 8_000, True),  # SJ01 fires
        ("经营者", 10_000, True),  # silent: not 法定代表人/股东
        ("法定代表人", 20_000, False),  # silent: scope 重点
    )
    for role, capital, focus in cases:
        m = p.member(focus=focus, ages=(25, 60))
        if m is not None:
            records.append(Record(m, bg.market_values(ctx, p.rng, m, role, capital)))
    return records, {r.person for r in records}


def _petition(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for day in (p.first, p.last, p.first - timedelta(days=1)):  # XF01: 登记日期 in M
        m = p.member(ages=(25, 75))
        if m is not None:
            values = bg.pack(
                "petition", matter=p.rng.choice(bg.PETITION_MATTERS), register_date=day
            )
            records.append(Record(m, values))
    return records, {r.person for r in records}


def _water(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    records = []
    for resolved in (False, False, True):  # SL01: 是否解决 否
        head = p.head()
        if head is not None:
            values = bg.pack(
                "water", problem_type=p.rng.choice(bg.WATER_PROBLEMS), resolved=resolved
            )
            records.append(Record(head, values))
    return records, {r.person for r in records}


def _medical_claims(ctx: Context, p: Planter) -> tuple[list[Record], set[int]]:
    return [], set()  # YB01 scenarios span months: see plan_yb01


PLANTERS: dict[str, Callable[[Context, Planter], tuple[list[Record], set[int]]]] = {
    "medical_claims": _medical_claims,
    "medical_enrollment": _enrollment,
    "civil_affairs": _civil_affairs,
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


def plan_yb01(
    ctx: Context, requested: list[str], written: list[str]
) -> tuple[dict[str, list[Record]], set[int]]:
    """Claims for YB01 households, per written month, and the households they reserve.

    For each requested month M and household type: year-to-date 个人自付 exactly at the threshold,
    one fen below it, at twice it (红), and one that crossed in an earlier month (silent in M).
    """
    planned: dict[str, list[Record]] = {m: [] for m in written}
    reserved: set[int] = set()
    for month in requested:
        p = Planter(ctx, month, reserved, stream="yb01")
        year = parse_month(month)[0]
        earlier = [m for m in written if m < month and parse_month(m)[0] == year]
        for kind, threshold in YB01_THRESHOLDS.items():
            scenarios = [("exact", threshold), ("below", threshold - 1), ("double", 2 * threshold)]
            if earlier:
                scenarios.append(("earlier", threshold + 5_000))
            for scenario, total in scenarios:
                head = p.head(kind=kind)
                if head is None:
                    continue
                household = ctx.district.m_hh[head]
                if scenario == "earlier":
                    _claims(ctx, p.rng, planned, household, p.rng.choice(earlier), total)
                    _claims(ctx, p.rng, planned, household, month, 30_000)
                    continue
                prior = round(threshold * p.rng.uniform(0.3, 0.7)) if earlier else 0
                if prior:
                    _claims(ctx, p.rng, planned, household, p.rng.choice(earlier), prior)
                _claims(ctx, p.rng, planned, household, month, total - prior)
    return planned, reserved


def _claims(
    ctx: Context,
    rng: random.Random,
    planned: dict[str, list[Record]],
    household: int,
    month: str,
    amount: int,
) -> None:
    """Split `amount` fen of 个人自付 over one to three claims of the household's members."""
    born_by = month_first(month)
    members = [
        m for m in ctx.district.household_members(household) if ctx.district.m_birth[m] < born_by
    ]
    parts = 1 if amount < 200_000 else rng.randint(1, 3)
    cuts = sorted(rng.randint(1, amount - 1) for _ in range(parts - 1))
    for low, high in zip([0, *cuts], [*cuts, amount], strict=True):
        person = rng.choice(members)
        planned[month].append(
            Record(person, bg.claim_values(ctx, rng, person, month, high - low), planted=True)
        )
