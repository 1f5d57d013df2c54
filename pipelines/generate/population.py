"""The synthetic roster: townships, villages, groups, grids, households and members, held column-wise."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from . import ids, names
from .common import age_on, rng_for
from .geography import (
    TOWNSHIPS,
    grid_names,
    group_names,
    village_names,
    villages_per_township,
)

HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)
SIZE_WEIGHTS = (12, 25, 22, 20, 13, 8)
POVERTY_ALLEVIATED = "脱贫户"
MONITORED = "监测户"
ORDINARY = "一般农户"
FOCUS_TYPES = frozenset({POVERTY_ALLEVIATED, MONITORED})
HEAD = "户主"

# (relation, age offset rule) templates per household size; ages are filled in by _compose
TEMPLATES: dict[int, tuple[tuple[float, tuple[str, ...]], ...]] = {
    1: ((1.0, (HEAD,)),),
    2: ((0.6, (HEAD, "配偶")), (0.25, (HEAD, "child")), (0.15, (HEAD, "之母"))),
    3: (
        (0.7, (HEAD, "配偶", "child")),
        (0.15, (HEAD, "配偶", "parent")),
        (0.15, (HEAD, "之子", "之儿媳")),
    ),
    4: (
        (0.6, (HEAD, "配偶", "child", "child")),
        (0.2, (HEAD, "配偶", "之子", "之儿媳")),
        (0.2, (HEAD, "配偶", "child", "parent")),
    ),
    5: (
        (0.5, (HEAD, "配偶", "之子", "之儿媳", "grandchild")),
        (0.2, (HEAD, "配偶", "child", "child", "child")),
        (0.3, (HEAD, "配偶", "child", "之父", "之母")),
    ),
    6: (
        (0.6, (HEAD, "配偶", "之子", "之儿媳", "grandchild", "grandchild")),
        (0.4, (HEAD, "配偶", "child", "child", "之父", "之母")),
    ),
}


@dataclass
class Village:
    township: int
    name: str
    number: int  # 1-based within its township, part of 户编号
    first_member: int = 0
    end_member: int = 0


@dataclass
class Grid:
    village: int
    group: str
    name: str
    first_household: int
    households: int


@dataclass
class District:
    """Everything about the roster. Households and members are contiguous per grid and village."""

    ref: date  # the roster's reference day: ages and birth dates are before it
    townships: list[tuple[str, str]]  # (code, name)
    villages: list[Village] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    hh_id: list[str] = field(default_factory=list)
    hh_grid: list[int] = field(default_factory=list)
    hh_village: list[int] = field(default_factory=list)
    hh_township: list[int] = field(default_factory=list)
    hh_type: list[str] = field(default_factory=list)
    hh_category: list[str] = field(default_factory=list)
    hh_eliminated: list[str] = field(default_factory=list)
    hh_first: list[int] = field(default_factory=list)
    hh_size: list[int] = field(default_factory=list)
    hh_income: list[int] = field(default_factory=list)
    m_hh: list[int] = field(default_factory=list)
    m_name: list[str] = field(default_factory=list)
    m_id: list[str] = field(default_factory=list)
    m_relation: list[str] = field(default_factory=list)
    m_male: list[bool] = field(default_factory=list)
    m_birth: list[date] = field(default_factory=list)
    m_labor: list[str] = field(default_factory=list)
    m_health: list[str] = field(default_factory=list)
    m_phone: list[str] = field(default_factory=list)
    # (member, member) pairs deliberately given the same name in the same village
    namesakes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def members(self) -> int:
        return len(self.m_id)

    @property
    def households(self) -> int:
        return len(self.hh_id)

    def head(self, household: int) -> int:
        return self.hh_first[household]

    def household_members(self, household: int) -> range:
        first = self.hh_first[household]
        return range(first, first + self.hh_size[household])

    def age(self, member: int, day: date) -> int:
        return age_on(self.m_birth[member], day)


def build_district(members: int, seed: int, ref: date, ids_factory: ids.IdFactory) -> District:
    """The roster of `members` people (exactly), every ID registered in `ids_factory`."""
    rng = rng_for(seed, "district")
    district = District(ref=ref, townships=[(code, name) for code, name, _ in TOWNSHIPS])
    sizes = _household_sizes(members, rng)
    per_village = _allocate_villages(district, len(sizes), members, rng)
    household = 0
    people: list[tuple[object, ...]] = []  # member rows, transposed into columns at the end
    for village_index, count in per_village:
        village = district.villages[village_index]
        village.first_member = len(people)
        serial = 0
        for group, group_households in _split_groups(count, rng):
            for grid_name, grid_households in _split_grids(group, group_households):
                grid_index = len(district.grids)
                district.grids.append(
                    Grid(village_index, group, grid_name, household, grid_households)
                )
                for _ in range(grid_households):
                    serial += 1
                    household_id = (
                        f"{district.townships[village.township][0]}{village.number:03d}{serial:05d}"
                    )
                    _add_household(
                        district,
                        people,
                        household_id,
                        grid_index,
                        sizes[household],
                        rng,
                        ids_factory,
                    )
                    household += 1
        village.end_member = len(people)
    _set_member_columns(district, people)
    _plant_namesakes(district, rng)
    return district


def _set_member_columns(d: District, people: list[tuple[object, ...]]) -> None:
    columns = [list(c) for c in zip(*people, strict=True)] if people else [[] for _ in range(9)]
    (
        d.m_hh,
        d.m_name,
        d.m_id,
        d.m_relation,
        d.m_male,
        d.m_birth,
        d.m_labor,
        d.m_health,
        d.m_phone,
    ) = columns


def _household_sizes(members: int, rng: random.Random) -> list[int]:
    sizes: list[int] = []
    total = 0
    while total < members:
        size = min(rng.choices(HOUSEHOLD_SIZES, SIZE_WEIGHTS)[0], members - total)
        sizes.append(size)
        total += size
    return sizes


def _allocate_villages(
    district: District, households: int, members: int, rng: random.Random
) -> list[tuple[int, int]]:
    """Create villages and give each a household count (largest remainder over random weights)."""
    weights: list[float] = []
    for township_index, (_, name, township_weight) in enumerate(TOWNSHIPS):
        count = villages_per_township(township_weight, members)
        for number, village_name in enumerate(village_names(name, count, rng), start=1):
            district.villages.append(Village(township_index, village_name, number))
            weights.append(township_weight / count * rng.uniform(0.6, 1.4))
    total = sum(weights)
    exact = [w / total * households for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: households - sum(counts)]:
        counts[i] += 1
    return [(i, c) for i, c in enumerate(counts) if c > 0]


def _split_groups(households: int, rng: random.Random) -> list[tuple[str, int]]:
    sizes: list[int] = []
    left = households
    while left > 0:
        size = min(left, rng.randint(25, 90))
        if left - size < 10:
            size = left
        sizes.append(size)
        left -= size
    return list(zip(group_names(len(sizes), rng), sizes, strict=True))


def _split_grids(group: str, households: int) -> list[tuple[str, int]]:
    grid_list = grid_names(group, households)
    base, extra = divmod(households, len(grid_list))
    return [(name, base + (1 if i < extra else 0)) for i, name in enumerate(grid_list)]


def _compose(size: int, rng: random.Random) -> list[tuple[str, int, bool]]:
    """(relation, age, male) for each member; relations and ages consistent with each other."""
    weights, templates = zip(*TEMPLATES[size], strict=True)
    template = rng.choices(templates, weights)[0]
    head_male = rng.random() < 0.85
    if "grandchild" in template or "之儿媳" in template:
        head_age = rng.randint(50, 78)
    elif "parent" in template or "之父" in template:
        head_age = rng.randint(26, 50)
    elif "child" in template or "之子" in template:
        head_age = rng.randint(30, 70)
    elif size == 1:
        head_age = rng.randint(30, 92)
    else:
        head_age = rng.randint(28, 88)
    out = [(HEAD, head_age, head_male)]
    son_age = None
    for relation in template[1:]:
        if relation == "配偶":
            out.append(("配偶", max(18, head_age + rng.randint(-5, 3)), not head_male))
        elif relation in ("child", "之子"):
            male = relation == "之子" or rng.random() < 0.52
            age = head_age - rng.randint(22, 34)
            age = age if age >= 0 else rng.randint(0, 3)
            if male and son_age is None:
                son_age = age
            out.append(("之子" if male else "之女", age, male))
        elif relation == "之儿媳":
            out.append(("之儿媳", max(18, (son_age or head_age - 26) + rng.randint(-3, 2)), False))
        elif relation == "grandchild":
            parent_age = son_age if son_age is not None else head_age - 26
            age = max(0, parent_age - rng.randint(22, 32))
            male = rng.random() < 0.52
            out.append(("之孙子" if male else "之孙女", age, male))
        elif relation == "parent":
            male = rng.random() < 0.4
            out.append(("之父" if male else "之母", min(98, head_age + rng.randint(22, 32)), male))
        else:  # 之父 / 之母 / explicit relation
            male = relation == "之父"
            out.append((relation, min(98, head_age + rng.randint(22, 32)), male))
    return out


def _add_household(
    district: District,
    people: list[tuple[object, ...]],
    household_id: str,
    grid_index: int,
    size: int,
    rng: random.Random,
    ids_factory: ids.IdFactory,
) -> None:
    d = district
    grid = d.grids[grid_index]
    village = d.villages[grid.village]
    roll = rng.random()
    kind = POVERTY_ALLEVIATED if roll < 0.08 else MONITORED if roll < 0.10 else ORDINARY
    category, eliminated = "", ""
    if kind == MONITORED:
        category = "边缘易致贫户" if rng.random() < 0.65 else "突发严重困难户"
    elif kind == POVERTY_ALLEVIATED and rng.random() < 0.12:
        category = "脱贫不稳定户"
    if category:
        eliminated = "是" if rng.random() < 0.55 else "否"
    household = len(d.hh_id)
    d.hh_id.append(household_id)
    d.hh_grid.append(grid_index)
    d.hh_village.append(grid.village)
    d.hh_township.append(village.township)
    d.hh_type.append(kind)
    d.hh_category.append(category)
    d.hh_eliminated.append(eliminated)
    d.hh_first.append(len(people))
    d.hh_size.append(size)
    income = rng.randint(6500, 18000) if kind != ORDINARY else rng.randint(12000, 45000)
    d.hh_income.append(income)
    family_name = names.surname(rng)
    ref_ordinal = d.ref.toordinal()
    for relation, age, male in _compose(size, rng):
        birth = date.fromordinal(ref_ordinal - int(age * 365.2425) - 1 - int(rng.random() * 364))
        married_in = relation in ("配偶", "之儿媳", "之母") or (relation == HEAD and not male)
        if married_in and rng.random() < 0.0015:
            name = rng.choice(names.MINORITY_NAMES[male])
            area = rng.choice(ids.MINORITY_AREAS)
        else:
            surname = names.surname(rng) if married_in else family_name
            if rng.random() < 0.04:  # a child registered with the mother's surname, an adoptee…
                surname = names.surname(rng)
            name = surname + names.given_name(rng, male, birth.year)
            area = _area_code(married_in, birth, rng)
        phone = _phone(rng) if relation == HEAD or (18 <= age <= 70 and rng.random() < 0.5) else ""
        people.append((household, name, ids_factory.make(area, birth, male, rng), relation, male, birth,
                       _labor(age, rng), _health(age, rng), phone))  # fmt: skip


def _area_code(married_in: bool, birth: date, rng: random.Random) -> str:
    roll = rng.random()
    if married_in and roll < 0.08:
        return rng.choice(ids.OTHER_AREAS)
    if birth.year < 1990 and roll < 0.15:
        return rng.choice(ids.LEGACY_AREAS)
    return ids.DISTRICT_AREA


def _labor(age: int, rng: random.Random) -> str:
    if age < 16:
        return "无劳动力"
    roll = rng.random()
    if age <= 60:
        return (
            "普通劳动力"
            if roll < 0.7
            else "技能劳动力"
            if roll < 0.85
            else "弱劳动力或半劳动力"
            if roll < 0.95
            else "丧失劳动力"
        )
    return "弱劳动力或半劳动力" if roll < 0.5 else "丧失劳动力" if roll < 0.8 else "无劳动力"


def _health(age: int, rng: random.Random) -> str:
    roll = rng.random() * (1.0 if age < 60 else 0.6)
    return (
        "残疾"
        if roll < 0.04
        else "患有大病"
        if roll < 0.06
        else "长期慢性病"
        if roll < 0.16
        else "健康"
    )


def _phone(rng: random.Random) -> str:
    return f"1{'35789'[int(rng.random() * 5)]}{int(rng.random() * 1e9):09d}"


def _plant_namesakes(district: District, rng: random.Random) -> None:
    """Give some people the exact name of a same-sex, same-surname villager, as happens in real villages.

    A few of them are household heads, so household-level records without an ID become ambiguous.
    """
    d = district
    for village in d.villages:
        span = village.end_member - village.first_member
        if span < 4:
            continue
        wanted = round(span * 0.002) + (1 if rng.random() < 0.5 else 0)
        for _ in range(wanted):
            _copy_name(d, rng, village.first_member, village.end_member, heads_only=False)
        if rng.random() < 0.4:
            _copy_name(d, rng, village.first_member, village.end_member, heads_only=True)


def _copy_name(d: District, rng: random.Random, first: int, end: int, heads_only: bool) -> None:
    for _ in range(20):
        target = rng.randrange(first, end)
        source = rng.randrange(first, end)
        if heads_only:
            target, source = d.hh_first[d.m_hh[target]], d.hh_first[d.m_hh[source]]
        if (
            d.m_hh[target] != d.m_hh[source]
            and d.m_male[target] == d.m_male[source]
            and d.m_name[target][0] == d.m_name[source][0]
            and "·" not in d.m_name[source]
        ):
            d.m_name[target] = d.m_name[source]
            d.namesakes.append((target, source))
            return
