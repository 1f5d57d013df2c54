"""What every record generator shares: the district, seeded streams, people outside the roster, pools."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from itertools import accumulate
from typing import NamedTuple

from ..sources import SOURCES
from . import ids, names
from .common import age_on, rng_for
from .population import FOCUS_TYPES, District

IDENTITY_FIELDS = frozenset({"name", "id_number", "township", "village", "group"})

# columns a department file carries beyond the registry; their values ride at the end of Record.values
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "medical_claims": ("医疗类别",),
    "medical_enrollment": ("险种",),
    "housing": ("房屋结构",),
    "property": ("房屋用途",),
    "emergency": ("受灾人口",),
}


def value_fields(source: str) -> tuple[str, ...]:
    """The non-identity registry fields of a source the contract lists, in registry order: the
    layout of Record.values."""
    return tuple(
        f.name
        for f in SOURCES[source].fields
        if f.name not in IDENTITY_FIELDS and not f.beyond_contract
    )


class Record(NamedTuple):
    """One department row before it is written: who it is about and what it says (true values).

    `person` is a roster member index, or a negative index into the month's outsiders.
    `values` holds the source's value_fields then its EXTRA_COLUMNS: dates as date, amounts as
    integer hundredths (fen, or 0.01 万元 / m²), yes/no as bool, None for blank.
    """

    person: int
    values: tuple[object, ...]
    planted: bool = False  # a planted rule signal: never turned into a bad row or blanked
    force: str = ""  # an identity mess applied regardless of rates (planted ambiguity)


@dataclass
class Outsiders:
    """People in department data who are not roster members: town residents, migrants, newborns."""

    name: list[str] = field(default_factory=list)
    id_number: list[str] = field(default_factory=list)
    township: list[int] = field(default_factory=list)
    village: list[str] = field(default_factory=list)
    male: list[bool] = field(default_factory=list)
    birth: list[date] = field(default_factory=list)
    in_district: list[bool] = field(default_factory=list)


@dataclass
class Context:
    """The district and everything generators share; `outsiders` is reset for every month."""

    district: District
    seed: int
    messy: bool
    id_factory: ids.IdFactory
    outsiders: Outsiders = field(default_factory=Outsiders)
    reserved_households: frozenset[int] = frozenset()  # YB01 scenarios own all their claims

    def rng(self, *parts: object) -> random.Random:
        return rng_for(self.seed, *parts)

    # --- people -----------------------------------------------------------------------------
    def name(self, person: int) -> str:
        return self.district.m_name[person] if person >= 0 else self.outsiders.name[-person - 1]

    def id_number(self, person: int) -> str:
        return self.district.m_id[person] if person >= 0 else self.outsiders.id_number[-person - 1]

    def male(self, person: int) -> bool:
        return self.district.m_male[person] if person >= 0 else self.outsiders.male[-person - 1]

    def birth(self, person: int) -> date:
        return self.district.m_birth[person] if person >= 0 else self.outsiders.birth[-person - 1]

    def age(self, person: int, day: date) -> int:
        return age_on(self.birth(person), day)

    def township(self, person: int) -> int:
        d = self.district
        return (
            d.hh_township[d.m_hh[person]] if person >= 0 else self.outsiders.township[-person - 1]
        )

    def village_name(self, person: int) -> str:
        d = self.district
        if person >= 0:
            return d.villages[d.hh_village[d.m_hh[person]]].name
        return self.outsiders.village[-person - 1]

    def group_name(self, person: int) -> str:
        d = self.district
        return d.grids[d.hh_grid[d.m_hh[person]]].group if person >= 0 else ""

    def focus(self, person: int) -> bool:
        return person >= 0 and self.district.hh_type[self.district.m_hh[person]] in FOCUS_TYPES

    def new_outsider(
        self,
        rng: random.Random,
        *,
        in_district: bool = True,
        township: int | None = None,
        ages: tuple[int, int] = (18, 75),
        birth: date | None = None,
        surname: str | None = None,
    ) -> int:
        """A synthetic person outside the roster; returns their (negative) person index."""
        d = self.district
        male = rng.random() < 0.5
        if birth is None:
            age = rng.randint(*ages)
            birth = d.ref - timedelta(days=int(age * 365.2425) + rng.randint(1, 364))
        area = ids.DISTRICT_AREA if in_district else rng.choice(ids.OTHER_AREAS)
        if township is None:
            township = rng.randrange(len(d.townships))
        villages = self.villages_of(township)
        o = self.outsiders
        o.name.append((surname or names.surname(rng)) + names.given_name(rng, male, birth.year))
        o.id_number.append(self.id_factory.make(area, birth, male, rng, register=False))
        o.township.append(township)
        o.village.append(d.villages[rng.choice(villages)].name if villages and in_district else "")
        o.male.append(male)
        o.birth.append(birth)
        o.in_district.append(in_district)
        return -len(o.name)

    # --- pools ------------------------------------------------------------------------------
    def villages_of(self, township: int) -> list[int]:
        return self._villages_by_township.get(township, [])

    @cached_property
    def _villages_by_township(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for index, village in enumerate(self.district.villages):
            if village.end_member > village.first_member:
                out.setdefault(village.township, []).append(index)
        return out

    @cached_property
    def focus_members(self) -> list[int]:
        d = self.district
        return [m for m in range(d.members) if d.hh_type[d.m_hh[m]] in FOCUS_TYPES]

    @cached_property
    def ordinary_members(self) -> list[int]:
        d = self.district
        return [m for m in range(d.members) if d.hh_type[d.m_hh[m]] not in FOCUS_TYPES]

    @cached_property
    def focus_households(self) -> list[int]:
        d = self.district
        return [h for h in range(d.households) if d.hh_type[h] in FOCUS_TYPES]

    @cached_property
    def ordinary_households(self) -> list[int]:
        d = self.district
        return [h for h in range(d.households) if d.hh_type[h] not in FOCUS_TYPES]

    @cached_property
    def claim_weights(self) -> list[float]:
        """Cumulative claim propensity: the old, the very young and the monitored see doctors more."""
        d = self.district
        focus = [t in FOCUS_TYPES for t in d.hh_type]
        weights = []
        for m in range(d.members):
            age = d.ref.year - d.m_birth[m].year
            w = 1.5 if age < 6 else 0.6 if age < 41 else 1.0 if age < 61 else 2.2
            weights.append(w * 1.3 if focus[d.m_hh[m]] else w)
        return list(accumulate(weights))

    def members_born_between(self, earliest: date, latest: date) -> list[int]:
        births = self.district.m_birth
        return [m for m in range(len(births)) if earliest <= births[m] <= latest]
