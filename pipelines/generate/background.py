"""Ordinary department rows for a month: what each department sends besides the planted signals."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from operator import itemgetter

from ..sources import DEPARTMENT_KEYS
from .common import day_in, month_first, month_span, parse_month
from .context import EXTRA_COLUMNS, Context, Record, value_fields
from .geography import short_name
from .population import FOCUS_TYPES

VALUE_FIELDS = {source: value_fields(source) for source in DEPARTMENT_KEYS}

HOSPITALS = (
    "金安区人民医院",
    "六安市人民医院",
    "六安市中医院",
    "六安市第二人民医院",
    "六安世立医院",
    "安徽医科大学第一附属医院",
    "中国科学技术大学附属第一医院",
)
VEHICLE_TYPES = ("小型轿车", "小型普通客车", "中型客车", "轻型货车", "三轮汽车", "摩托车", "拖拉机")
CARS = frozenset(VEHICLE_TYPES[:4])


_GETTERS = {source: itemgetter(*fields) for source, fields in VALUE_FIELDS.items()}


# department volumes (module constants so that bench_volumes() can raise them for one call)
EDUCATION_SHARE = 0.07  # students per member
DISABILITY_SHARE = 0.55  # of the members whose health is 残疾, those with a 残疾人证 on file
DISABILITY_NEW = 0.0002  # certificates issued this month, per member
UNIVERSITY_SHARE = 0.45  # of the members aged 18-21, those at a 高校
LATE_GRADUATES = 0  # years past 21 a 高校 student may still be enrolled (in 大四)
# make bench: at least the held-out district of issue 10 (151k education, 39k disability per 1M;
# every school-age member on the 学生名册 gives 125k: the 高校 share and years rise too)
BENCH_VOLUMES = {
    "EDUCATION_SHARE": 1.0,
    "UNIVERSITY_SHARE": 1.0,
    "LATE_GRADUATES": 2,
    "DISABILITY_SHARE": 0.9,
    "DISABILITY_NEW": 0.0002,
}


@contextmanager
def bench_volumes() -> Iterator[None]:
    """The heavier department volumes of `make bench` for the duration of one generate() call
    (a forked history worker inherits them); the default generator is unchanged outside it."""
    module = sys.modules[__name__]
    saved = {name: getattr(module, name) for name in BENCH_VOLUMES}
    try:
        for name, value in BENCH_VOLUMES.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def pack(source: str, *extras: object, **values: object) -> tuple[object, ...]:
    """Values in the order of the source's registry fields, then its extra columns."""
    if len(extras) != len(EXTRA_COLUMNS.get(source, ())):
        raise ValueError(f"{source} takes {EXTRA_COLUMNS.get(source, ())} as extra columns")
    return (*_GETTERS[source](values), *extras)  # every source has several value fields


def fen(yuan: float) -> int:
    return round(yuan * 100)


def _sample(rng: random.Random, pool: list[int], share: float, exclude: set[int]) -> list[int]:
    k = min(len(pool), round(len(pool) * share))
    return [p for p in sorted(rng.sample(pool, k)) if p not in exclude]


def _date_between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def add_outsiders(
    ctx: Context,
    rng: random.Random,
    rows: int,
    make: Callable[[int], tuple[object, ...]],
    *,
    inside: float = 0.015,
    outside: float = 0.008,
    ages: tuple[int, int] = (18, 75),
) -> list[Record]:
    """People in the extract who are not in the roster: residents of the district, and people from elsewhere."""
    out: list[Record] = []
    for share, in_district in ((inside, True), (outside, False)):
        count = int(rows * share) + (1 if rng.random() < (rows * share) % 1 else 0)
        for _ in range(count):
            person = ctx.new_outsider(rng, in_district=in_district, ages=ages)
            out.append(Record(person, make(person)))
    return out


# --- 医保 -------------------------------------------------------------------------------------


def claim_values(
    ctx: Context, rng: random.Random, person: int, month: str, self_paid: int | None = None
) -> tuple[object, ...]:
    """One settlement. With `self_paid` (fen) given, the other amounts are built around it."""
    first, days = month_span(month)
    focus = ctx.focus(person)
    if self_paid is None:
        return _random_claim(rng, focus, _clinics(ctx, person), first, days)
    inpatient = self_paid > 150_000 or rng.random() < 0.5
    discharge = date.fromordinal(first + int(rng.random() * days))
    admission = discharge - timedelta(days=2 + int(rng.random() * 19)) if inpatient else discharge
    institution = rng.choice(HOSPITALS) if inpatient else _clinics(ctx, person)[0]
    fund = round(self_paid * rng.uniform(1.5, 4.0))
    critical = round(self_paid * 0.5) if self_paid > 1_000_000 else 0
    assistance = round(self_paid * 0.2) if focus and inpatient else 0
    total = self_paid + fund + critical + assistance
    return (institution, admission, discharge, total, fund, critical, assistance, self_paid,
            "住院" if inpatient else "门诊")  # fmt: skip


def _random_claim(
    rng: random.Random, focus: bool, clinics: tuple[str, str], first: int, days: int
) -> tuple[object, ...]:
    """An ordinary settlement: mostly small outpatient bills, some stays, a few very costly ones.

    Monitored people get more reimbursed (higher fund share, 医疗救助), so few reach 5,000 元 a year.
    """
    random = rng.random
    discharge = date.fromordinal(first + int(random() * days))
    if random() < 0.07:
        admission = discharge - timedelta(days=2 + int(random() * 19))
        institution = HOSPITALS[int(random() * len(HOSPITALS))]
        heavy = random() < 0.02
        total = round(
            100 * (60_000 + random() * 160_000 if heavy else 1_500 + random() ** 2.5 * 30_000)
        )
        fund = round(total * (0.8 if focus else 0.65))
        critical = max(0, total - fund - 1_500_000) // 2
        assistance = round((total - fund - critical) * 0.6) if focus else 0
        kind = "住院"
    else:
        admission = discharge
        institution = clinics[0] if random() < 0.6 else clinics[1]
        total = round(100 * (20 + random() ** 2 * 600))
        fund = round(total * (0.65 if focus else 0.55))
        critical = assistance = 0
        kind = "门诊"
    self_paid = total - fund - critical - assistance
    return (institution, admission, discharge, total, fund, critical, assistance, self_paid, kind)


def _clinics(ctx: Context, person: int) -> tuple[str, str]:
    """Outpatient care close to home: the township health centre and the village clinic."""
    key = (ctx.township(person), ctx.village_name(person))
    names = _CLINICS.get(key)
    if names is None:
        township = short_name(ctx.district.townships[key[0]][1])
        names = _CLINICS[key] = (f"{township}卫生院", f"{key[1] or township}卫生室")
    return names


_CLINICS: dict[tuple[int, str], tuple[str, str]] = {}


def medical_claims(ctx: Context, month: str, exclude: set[int], share: float) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("medical_claims", month)
    target = round(d.members * share)
    claimants = rng.choices(range(d.members), cum_weights=ctx.claim_weights, k=round(target / 1.45))
    first, days = month_span(month)
    born_by = month_first(month)  # history months come before some babies of the roster were born
    reserved, households, types, births = ctx.reserved_households, d.m_hh, d.hh_type, d.m_birth
    records = []
    for person in claimants:
        household = households[person]
        if person in exclude or household in reserved or births[person] >= born_by:
            continue
        focus, clinics = types[household] in FOCUS_TYPES, _clinics(ctx, person)
        roll = rng.random()
        for _ in range(1 if roll < 0.65 else 2 if roll < 0.9 else 3):
            records.append(Record(person, _random_claim(rng, focus, clinics, first, days)))
    records += add_outsiders(
        ctx,
        rng,
        len(records),
        lambda p: claim_values(ctx, rng, p, month),
        inside=0.02,
        outside=0.012,
    )
    return records


def medical_enrollment(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    """The year's enrollment list: nearly every monitored member plus a large sample of the others.

    A few monitored members (0.3 %) are simply not on it, as happens after moves and renewals.
    """
    d = ctx.district
    year = parse_month(month)[0]
    rng = ctx.rng("medical_enrollment", year)
    scheme = "城乡居民基本医疗保险"
    records = [
        Record(m, pack("medical_enrollment", scheme, enroll_year=year, enroll_status="正常参保",
                       subsidized=rng.random() < 0.95))
        for m in ctx.focus_members
        if m not in exclude and rng.random() >= 0.003
    ]  # fmt: skip
    wanted = max(0, round(d.members * 0.45) - len(records))
    share = wanted / max(1, len(ctx.ordinary_members))
    for m in _sample(rng, ctx.ordinary_members, share, exclude):
        roll = rng.random()
        status = "正常参保" if roll < 0.975 else "未参保" if roll < 0.99 else "暂停"
        values = pack("medical_enrollment", "职工基本医疗保险" if rng.random() < 0.05 else scheme,
                      enroll_year=year, enroll_status=status, subsidized=rng.random() < 0.03)  # fmt: skip
        records.append(Record(m, values))
    records += add_outsiders(
        ctx, rng, len(records),
        lambda p: pack("medical_enrollment", scheme, enroll_year=year, enroll_status="正常参保",
                       subsidized=False),
        inside=0.01, outside=0.004,
    )  # fmt: skip
    return records


# --- 民政 -------------------------------------------------------------------------------------


def civil_values(
    ctx: Context, rng: random.Random, person: int, kind: str, change: str, day: date, people: int
) -> tuple[object, ...]:
    if kind == "临时救助":
        amount = fen(rng.choice((1000, 1500, 2000, 3000, 5000)))
    elif kind == "特困":
        amount = fen(rng.randint(650, 900))
    else:
        amount = fen(rng.randint(380, 560))
    return pack("civil_affairs", assistance_type=kind, change_type=change, covered_people=people,
                amount=amount, change_date=day)  # fmt: skip


def civil_affairs(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    year = parse_month(month)[0]
    base = ctx.rng("civil_affairs", year)
    rng = ctx.rng("civil_affairs", month)
    first = month_first(month)
    on_dibao = set(_sample(base, ctx.focus_households, 0.25, set()))
    on_dibao |= set(_sample(base, ctx.ordinary_households, 0.01, set()))
    leaving = set(_sample(rng, sorted(on_dibao), 0.002, set()))
    records: list[Record] = []
    for household in sorted(on_dibao):
        since = _date_between(base, date(2016, 1, 1), first - timedelta(days=40))
        change, day = ("退出", day_in(month, rng)) if household in leaving else ("在保", since)
        size = d.hh_size[household]
        for m in d.household_members(household):
            if m not in exclude:
                records.append(Record(m, civil_values(ctx, rng, m, "低保", change, day, size)))
    singles = [h for h in ctx.ordinary_households if d.hh_size[h] == 1]
    for household in _sample(base, singles, 0.03, set()):
        head = d.head(household)
        if head not in exclude and d.age(head, first) >= 60:
            since = _date_between(base, date(2012, 1, 1), first - timedelta(days=40))
            records.append(Record(head, civil_values(ctx, rng, head, "特困", "在保", since, 1)))
    events = max(1, round(d.households * 0.0006))
    for household in rng.sample(range(d.households), min(d.households, events * 2)):
        if household in on_dibao:
            continue
        kind = "低保" if rng.random() < 0.6 else "临时救助"
        members = d.household_members(household) if kind == "低保" else [d.head(household)]
        day = day_in(month, rng)
        for m in members:
            if m not in exclude:
                values = civil_values(ctx, rng, m, kind, "新增", day, len(members))
                records.append(Record(m, values))
    records += add_outsiders(
        ctx, rng, len(records),
        lambda p: civil_values(ctx, rng, p, "临时救助", "新增", day_in(month, rng), 1),
        inside=0.004, outside=0.002,
    )  # fmt: skip
    return records


# --- 教育 -------------------------------------------------------------------------------------

GRADES = {
    "学前": ("小班", "中班", "大班"),
    "小学": ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级"),
    "初中": ("七年级", "八年级", "九年级"),
    "高中": ("高一", "高二", "高三"),
    "中职": ("一年级", "二年级", "三年级"),
    "高校": ("大一", "大二", "大三", "大四"),
}
UNIVERSITIES = ("安徽大学", "合肥工业大学", "安徽农业大学", "皖西学院", "六安职业技术学院",
                "安徽医科大学", "淮北师范大学", "安徽建筑大学")  # fmt: skip


def school_year(month: str) -> int:
    year, mon = parse_month(month)
    return year if mon >= 9 else year - 1


def stage_for_age(age: int, rng: random.Random) -> tuple[str, int] | None:
    """(学段, index of the year within it) for an age on 1 September; None when not a student."""
    if 3 <= age <= 5:
        return "学前", age - 3
    if 6 <= age <= 11:
        return "小学", age - 6
    if 12 <= age <= 14:
        return "初中", age - 12
    if 15 <= age <= 17:
        return ("高中" if rng.random() < 0.8 else "中职"), age - 15
    if 18 <= age <= 21 + LATE_GRADUATES and rng.random() < UNIVERSITY_SHARE:
        return "高校", min(age - 18, 3)
    return None


def education_values(
    ctx: Context,
    rng: random.Random,
    person: int,
    stage: str,
    year_index: int,
    sy: int,
    status: str,
    aided: bool,
) -> tuple[object, ...]:
    township = short_name(ctx.district.townships[ctx.township(person)][1])
    school = {
        "学前": f"{township}中心幼儿园",
        "小学": f"{township}中心小学",
        "初中": f"{township}中学",
        "高中": rng.choice(("六安一中", "六安二中", "金安高级中学", "六安新安中学")),
        "中职": rng.choice(("金安职业学校", "六安职业技术学院附属中专")),
        "高校": rng.choice(UNIVERSITIES),
    }[stage]
    student_no = f"L{ctx.district.townships[ctx.township(person)][0]}{rng.randrange(10**7):07d}"
    return pack("education", student_no=student_no, school=school, stage=stage,
                grade=GRADES[stage][year_index], school_status=status,
                enrol_month=date(sy - year_index, 9, 1), aided=aided)  # fmt: skip


def education(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    sy = school_year(month)
    rng = ctx.rng("education", sy)
    sept = date(sy, 9, 1)
    candidates = ctx.members_born_between(date(sy - 22 - LATE_GRADUATES, 9, 2), date(sy - 3, 9, 1))
    focus_count = sum(1 for m in candidates if ctx.focus(m))
    share = max(
        0.0, (d.members * EDUCATION_SHARE - focus_count) / max(1, len(candidates) - focus_count)
    )
    records = []
    for m in candidates:
        focus = ctx.focus(m)
        if m in exclude or not (focus or rng.random() < share):
            continue
        placed = stage_for_age(d.age(m, sept), rng)
        if placed is None:
            continue
        stage, index = placed
        roll = rng.random()
        dropout = 0.0005 if stage in ("小学", "初中") else 0.003
        status = "辍学" if roll < dropout else "休学" if roll < dropout + 0.004 else "在读"
        aided = rng.random() < (0.97 if focus else 0.08)
        records.append(Record(m, education_values(ctx, rng, m, stage, index, sy, status, aided)))
    return records


# --- 公安 -------------------------------------------------------------------------------------


def address(ctx: Context, rng: random.Random, person: int) -> str:
    township = ctx.district.townships[ctx.township(person)][1]
    return f"安徽省六安市金安区{township}{ctx.village_name(person)}{ctx.group_name(person)}{rng.randint(1, 120)}号"


def public_security(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("public_security", month)
    first = month_first(month)
    records = []

    def event(person: int, change: str) -> Record:
        values = pack("public_security", change_type=change, change_date=day_in(month, rng),
                      address=address(ctx, rng, person))  # fmt: skip
        return Record(person, values)

    deaths = max(1, round(d.members * 0.0006))
    while deaths:
        m = rng.randrange(d.members)
        age = d.age(m, first)
        if m not in exclude and rng.random() < (0.01 if age < 16 else 0.06 if age < 60 else 1.0):
            records.append(event(m, "死亡"))
            exclude.add(m)
            deaths -= 1
    moves = round(d.members * 0.0008)
    while moves:
        m = rng.randrange(d.members)
        if m not in exclude and 18 <= d.age(m, first) <= 35:
            records.append(event(m, "迁出"))
            exclude.add(m)
            moves -= 1
    for _ in range(round(d.members * 0.0004)):
        records.append(event(ctx.new_outsider(rng, ages=(20, 40)), "迁入"))
    for _ in range(max(1, round(d.members * 0.0006))):
        household = rng.randrange(d.households)
        born = day_in(month, rng)
        baby = ctx.new_outsider(
            rng, township=d.hh_township[household], birth=born,
            surname=d.m_name[d.head(household)][0],
        )  # fmt: skip
        records.append(event(baby, "出生"))
    return records


def vehicles(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("vehicles")
    adults = ctx.members_born_between(date(d.ref.year - 65, 1, 1), date(d.ref.year - 20, 1, 1))
    records = []
    for m in adults:
        focus = ctx.focus(m)
        if m in exclude or rng.random() >= (0.012 if focus else 0.035):
            continue
        if focus:
            kind = (
                rng.choice(VEHICLE_TYPES[4:])
                if rng.random() < 0.85
                else rng.choice(VEHICLE_TYPES[:4])
            )
        else:
            kind = rng.choices(VEHICLE_TYPES, (50, 4, 1, 8, 10, 24, 3))[0]
        records.append(Record(m, vehicle_values(rng, kind, d.ref)))
    records += add_outsiders(
        ctx, rng, len(records), lambda p: vehicle_values(rng, "小型轿车", d.ref)
    )
    return records


def vehicle_values(rng: random.Random, kind: str, ref: date) -> tuple[object, ...]:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    plate = (
        "皖N" + rng.choice(letters) + "".join(rng.choice(letters + "0123456789") for _ in range(4))
    )
    registered = _date_between(rng, date(ref.year - 12, 1, 1), ref - timedelta(days=1))
    return pack("vehicles", plate=plate, vehicle_type=kind, register_date=registered)


# --- 住建 / 不动产 -----------------------------------------------------------------------------


def housing_values(rng: random.Random, grade: str, ref: date) -> tuple[object, ...]:
    structure = rng.choice(("砖混", "砖木", "土木", "框架"))
    appraised = _date_between(rng, date(ref.year - 3, 1, 1), ref - timedelta(days=1))
    return pack("housing", structure, grade=grade, appraisal_date=appraised)


def housing(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("housing")
    records = []
    for households, share, weights in (
        (ctx.focus_households, 0.15, (45, 40, 12, 3)),
        (ctx.ordinary_households, 0.025, (60, 32, 7, 1)),
    ):
        for household in _sample(rng, households, share, set()):
            head = d.head(household)
            if head not in exclude:
                grade = rng.choices("ABCD", weights)[0]
                records.append(Record(head, housing_values(rng, grade, d.ref)))
    records += add_outsiders(
        ctx, rng, len(records), lambda p: housing_values(rng, rng.choice("AB"), d.ref),
        inside=0.01, outside=0.0,
    )  # fmt: skip
    return records


ROADS = ("皖西大道", "梅山南路", "解放南路", "佛子岭路", "长安路", "龙河路", "三里桥路", "寿春路")


def property_values(rng: random.Random, day: date) -> tuple[object, ...]:
    location = (
        f"金安区{rng.choice(ROADS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}栋"
        f"{rng.randint(1, 3)}单元{rng.randint(1, 33)}0{rng.randint(1, 4)}室"
    )
    return pack(
        "property",
        "住宅",
        location=location,
        floor_area=rng.randint(6000, 14500),
        register_date=day,
    )


def property_(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("property", month)
    records = []
    for _ in range(round(d.members * 0.002)):
        m = rng.randrange(d.members)
        if m in exclude or not 25 <= d.age(m, d.ref) <= 55:
            continue
        if ctx.focus(m) and rng.random() > 0.1:
            continue  # monitored households rarely buy flats
        records.append(Record(m, property_values(rng, day_in(month, rng))))
    records += add_outsiders(
        ctx,
        rng,
        len(records),
        lambda p: property_values(rng, day_in(month, rng)),
        inside=0.05,
        outside=0.05,
    )
    return records


# --- 残联 -------------------------------------------------------------------------------------

DISABILITY_CATEGORIES = (
    "视力",
    "听力",
    "言语",
    "肢体",
    "智力",
    "精神",
    "多重",
)  # 残疾人证号 digits 1-7
LEVELS = ("一级", "二级", "三级", "四级")


def disability_values(
    rng: random.Random,
    focus: bool,
    issued: date,
    level: str | None = None,
    care: bool | None = None,
) -> tuple[object, ...]:
    level = level or rng.choices(LEVELS, (10, 20, 30, 40))[0]
    category = rng.choices(DISABILITY_CATEGORIES, (12, 12, 3, 45, 10, 12, 6))[0]
    severe = level in ("一级", "二级")
    if care is None:
        care = severe and rng.random() < 0.96
    living = rng.random() < (0.85 if focus else 0.1)
    return pack("disability", category=category, disability_level=level, issue_date=issued,
                living_subsidy=living, care_subsidy=care)  # fmt: skip


def disability(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("disability")
    fresh = ctx.rng("disability", month)
    before = month_first(month) - timedelta(days=1)
    records = []
    for m in range(d.members):
        if d.m_health[m] == "残疾" and m not in exclude and rng.random() < DISABILITY_SHARE:
            issued = _date_between(rng, date(2008, 1, 1), min(before, d.ref - timedelta(days=1)))
            records.append(Record(m, disability_values(rng, ctx.focus(m), issued)))
    for _ in range(max(1, round(d.members * DISABILITY_NEW))):
        m = fresh.randrange(d.members)
        if m not in exclude:
            records.append(Record(m, disability_values(fresh, ctx.focus(m), day_in(month, fresh))))
    return records


# --- 应急 / 人社 / 组织 / 市场 / 信访 / 水利 -----------------------------------------------------


def emergency(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("emergency", month)
    mon = parse_month(month)[1]
    hazard = (
        ("暴雨洪涝", "风雹")
        if 5 <= mon <= 9
        else ("干旱",)
        if mon in (10, 11)
        else ("低温冷冻和雪灾", "风雹")
    )
    records = []
    wanted = max(2, round(d.households * 0.012))
    villages = [
        v for v in range(len(d.villages)) if d.villages[v].end_member > d.villages[v].first_member
    ]
    for village in rng.sample(villages, min(len(villages), rng.randint(2, 4))):
        kind, day = rng.choice(hazard), day_in(month, rng)
        v = d.villages[village]
        households = sorted({d.m_hh[m] for m in range(v.first_member, v.end_member)})
        for household in rng.sample(households, min(len(households), wanted // 3 + 1)):
            head = d.head(household)
            if head not in exclude:
                values = emergency_values(
                    kind, day, d.hh_size[household], random_loss(rng), rng.random() < 0.005
                )
                records.append(Record(head, values))
    return records


def emergency_values(
    kind: str, day: date, people: int, loss: int | None, collapsed: bool
) -> tuple[object, ...]:
    return pack(
        "emergency",
        people,
        disaster_type=kind,
        disaster_date=day,
        loss=loss,
        house_collapsed=collapsed,
    )


def random_loss(rng: random.Random) -> int:
    return fen(rng.uniform(5_000, 30_000) if rng.random() < 0.08 else rng.uniform(200, 4_000))


def hrss_values(kind: str, day: date) -> tuple[object, ...]:
    return pack("hrss", register_type=kind, register_date=day)


def hrss(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("hrss", month)
    records = []
    for _ in range(round(d.members * 0.005)):
        m = rng.randrange(d.members)
        if m in exclude or not 16 <= d.age(m, d.ref) <= 64:
            continue
        kind = "失业登记" if rng.random() < 0.2 and d.age(m, d.ref) <= 60 else "就业登记"
        records.append(Record(m, hrss_values(kind, day_in(month, rng))))
    records += add_outsiders(
        ctx, rng, len(records), lambda p: hrss_values("就业登记", day_in(month, rng))
    )
    return records


def servant_values(ctx: Context, rng: random.Random, person: int) -> tuple[object, ...]:
    township = ctx.district.townships[ctx.township(person)][1]
    employer = rng.choice((f"{township}人民政府", f"{short_name(township)}中心学校", "金安区人民医院",
                           "金安区农业农村局", "金安区财政局", "金安区教育体育局", f"{township}卫生院"))  # fmt: skip
    position = rng.choice(("科员", "教师", "医生", "护士", "办事员", "副主任科员", "站长", "会计"))
    hired = _date_between(rng, date(1992, 1, 1), ctx.district.ref - timedelta(days=30))
    return pack("public_servants", employer=employer, position=position, hire_date=hired)


def public_servants(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("public_servants")
    adults = ctx.members_born_between(date(d.ref.year - 58, 1, 1), date(d.ref.year - 22, 1, 1))
    records = []
    for m in adults:
        if m not in exclude and rng.random() < (0.0004 if ctx.focus(m) else 0.006):
            records.append(Record(m, servant_values(ctx, rng, m)))
    # most people on the payroll live in town and are not in the rural roster
    records += add_outsiders(
        ctx,
        rng,
        len(records),
        lambda p: servant_values(ctx, rng, p),
        inside=1.6,
        outside=0.3,
        ages=(22, 58),
    )
    return records


def market_values(
    ctx: Context, rng: random.Random, person: int, role: str, capital: int | None = None
) -> tuple[object, ...]:
    township = short_name(ctx.district.townships[ctx.township(person)][1])
    word = rng.choice(
        ("金安", "皖西", "丰源", "绿野", "兴农", "润田", "鑫达", "福源", "恒信", "大别山")
    )
    if role == "经营者":
        entity = rng.choice((f"金安区{township}{ctx.name(person)[0]}记小吃店", f"金安区{township}{word}农资店",
                             f"金安区{township}{word}种植家庭农场", f"金安区{township}{word}养殖场"))  # fmt: skip
        code = "92341502MA"
        capital = capital if capital is not None else rng.randint(100, 3000)
    else:
        entity = rng.choice((f"六安市{word}农业科技有限公司", f"六安市{word}建材有限公司",
                             f"金安区{word}商贸有限公司", f"金安区{township}{word}种植专业合作社"))  # fmt: skip
        code = "91341502MA"
        if capital is None:
            capital = (
                round(rng.lognormvariate(4.0, 1.0) * 100)
                if role == "法定代表人"
                else rng.randint(500, 20000)
            )
    code += "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    established = _date_between(rng, date(2005, 1, 1), ctx.district.ref - timedelta(days=30))
    return pack("market", entity_name=entity, credit_code=code, role=role, capital=capital,
                established_date=established)  # fmt: skip


def market(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("market")
    adults = ctx.members_born_between(date(d.ref.year - 65, 1, 1), date(d.ref.year - 22, 1, 1))
    records = []
    for m in adults:
        if m in exclude or rng.random() >= (0.002 if ctx.focus(m) else 0.018):
            continue
        role = rng.choices(("经营者", "法定代表人", "股东"), (60, 25, 15))[0]
        records.append(Record(m, market_values(ctx, rng, m, role)))
    records += add_outsiders(
        ctx, rng, len(records), lambda p: market_values(ctx, rng, p, "法定代表人")
    )
    return records


PETITION_MATTERS = ("反映低保评定问题", "反映土地承包纠纷", "反映房屋拆迁补偿问题", "反映医疗费用报销问题",
                    "反映邻里纠纷", "反映道路修建问题", "反映工资拖欠问题")  # fmt: skip


def petition(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("petition", month)
    last_month_end = month_first(month) - timedelta(days=1)
    records = []
    for _ in range(max(2, round(d.members * 0.0004))):
        m = rng.randrange(d.members)
        if m in exclude or d.age(m, d.ref) < 18:
            continue
        # a few registrations from the end of last month arrive in this month's list
        day = (
            day_in(month, rng)
            if rng.random() < 0.9
            else last_month_end - timedelta(days=rng.randint(0, 5))
        )
        records.append(
            Record(m, pack("petition", matter=rng.choice(PETITION_MATTERS), register_date=day))
        )
    return records


WATER_PROBLEMS = ("水量不足", "水质不达标", "管网老化漏损", "供水不稳定", "取水不便")


def water(ctx: Context, month: str, exclude: set[int]) -> list[Record]:
    d = ctx.district
    rng = ctx.rng("water")
    records = []
    for household in _sample(rng, list(range(d.households)), 0.015, set()):
        head = d.head(household)
        if head not in exclude:
            values = pack(
                "water", problem_type=rng.choice(WATER_PROBLEMS), resolved=rng.random() < 0.85
            )
            records.append(Record(head, values))
    return records


GENERATORS: dict[str, Callable[[Context, str, set[int]], list[Record]]] = {
    "medical_enrollment": medical_enrollment,
    "civil_affairs": civil_affairs,
    "education": education,
    "public_security": public_security,
    "vehicles": vehicles,
    "housing": housing,
    "property": property_,
    "disability": disability,
    "emergency": emergency,
    "hrss": hrss,
    "public_servants": public_servants,
    "market": market,
    "petition": petition,
    "water": water,
}
