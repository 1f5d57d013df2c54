"""Identity messes on department rows (IDs and names) and whether a careful matcher can still recover them."""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

from pypinyin import lazy_pinyin

from . import ids, names
from .context import Context
from .population import HEAD

# per-row rates of ID damage in person-level files (one at most per row)
ID_MESSES: tuple[tuple[str, float], ...] = (
    ("id_15", 0.02),
    ("id_fullwidth", 0.01),
    ("id_spaces", 0.02),
    ("id_quotes", 0.01),
    ("id_sci", 0.02),
    ("id_rounded", 0.015),
    ("id_typo", 0.01),
    ("id_transposed", 0.005),
    ("id_missing", 0.02),
    ("id_family_member", 0.005),
)
# household-level files (住建, 应急, 水利) often leave the ID blank
HOUSEHOLD_ID_MISSING = 0.45
LOWER_X = 0.3  # of IDs ending in X
DISABILITY_NUMBER = 0.15  # 残疾人证号 in the ID column of 残联 files
NAME_MESSES: tuple[tuple[str, float], ...] = (
    ("name_homophone", 0.015),
    ("name_traditional", 0.01),
    ("name_space", 0.015),
    ("name_annotation", 0.003),
)
MINORITY_VARIANT = 0.5
DESTROYED = frozenset({"id_sci", "id_rounded", "id_missing"})

_ID_CUM = tuple(accumulate(rate for _, rate in ID_MESSES))
_NAME_CUM = tuple(accumulate(rate for _, rate in NAME_MESSES))


class Messer:
    """Applies identity messes at the contract's rates and judges recoverability against the roster."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._names, self._ids = ctx.district.m_name, ctx.district.m_id
        self._by_name: dict[tuple[int, str], list[int]] | None = None
        self._by_pinyin: dict[int, dict[str, list[int]]] = {}

    def identity(
        self,
        rng: random.Random,
        person: int,
        source: str,
        household_level: bool,
        has_village: bool,
        xlsx: bool,
        protect: bool,
        force: str,
        annotation: str,
    ) -> tuple[str, object, list[str], bool]:
        """(name cell, ID cell, mess tags, recoverable) for a row about `person`.

        `force` imposes an ID mess; `annotation` (e.g. （已故）) is appended to the name; `protect`
        keeps the row recoverable (rows whose absence would itself raise a warning).
        """
        ctx = self.ctx
        if person >= 0:
            name, id_number, tags = self._names[person], self._ids[person], []
        else:
            name, id_number = ctx.name(person), ctx.id_number(person)
            tags = [
                "outside_roster" if ctx.outsiders.in_district[-person - 1] else "out_of_district"
            ]
        if not ctx.messy:
            return name, id_number, tags, person >= 0
        id_tag = force or self._pick_id_mess(rng, source, household_level, id_number)
        name_roll = rng.random()
        if not id_tag and name_roll >= _NAME_CUM[-1] and not annotation and "·" not in name:
            return name, id_number, tags, person >= 0  # the common, clean row
        id_cell: object = id_number
        if id_tag:
            id_cell, id_tag = self._apply_id(rng, person, id_number, id_tag, xlsx)
        head = person >= 0 and ctx.district.m_relation[person] == HEAD
        name_cell, name_tag = self._apply_name(rng, name, name_roll, annotation, head)
        if not id_tag and not name_tag:
            return name, id_number, tags, person >= 0
        tags += [t for t in (id_tag, name_tag) if t]
        recoverable = person >= 0 and (
            id_tag not in DESTROYED
            or self._recoverable(
                person, id_number, id_tag, name_cell, name_tag, has_village, household_level
            )
        )
        if protect and not recoverable and not force:
            return name, id_number, [], True
        return name_cell, id_cell, tags, recoverable

    # --- IDs ----------------------------------------------------------------------------------
    def _pick_id_mess(
        self, rng: random.Random, source: str, household_level: bool, id_number: str
    ) -> str:
        roll = rng.random()
        if household_level:
            if roll < HOUSEHOLD_ID_MISSING:
                return "id_missing"
            roll = (roll - HOUSEHOLD_ID_MISSING) / (1 - HOUSEHOLD_ID_MISSING)
        elif source == "disability":
            if roll < DISABILITY_NUMBER:
                return "id_disability20"
            roll = (roll - DISABILITY_NUMBER) / (1 - DISABILITY_NUMBER)
        if roll < _ID_CUM[-1]:
            return ID_MESSES[bisect(_ID_CUM, roll)][0]
        if id_number[-1] == "X" and rng.random() < LOWER_X:
            return "id_lower_x"
        return ""

    def _apply_id(
        self, rng: random.Random, person: int, id_number: str, tag: str, xlsx: bool
    ) -> tuple[object, str]:
        digits = id_number.isdigit()
        if tag == "id_15" and id_number[6:8] == "19":
            return ids.to_15(id_number), tag
        if tag == "id_fullwidth":
            return ids.fullwidth(id_number), tag
        if tag == "id_spaces":
            return ids.spaced(id_number, rng), tag
        if tag == "id_quotes":
            return ids.quoted(id_number, rng), tag
        if tag == "id_sci" and digits:
            return ids.scientific(id_number), tag
        if tag == "id_rounded" and digits:
            return (ids.rounded_number(id_number) if xlsx else ids.rounded_text(id_number)), tag
        if tag == "id_typo":
            return ids.typo(id_number, rng), tag
        if tag == "id_transposed":
            swapped = ids.transposed(id_number, rng)
            if swapped:
                return swapped, tag
        if tag == "id_missing":
            return rng.choice(ids.MISSING_PLACEHOLDERS), tag
        if tag == "id_lower_x":
            return ids.lower_x(id_number), tag
        if tag == "id_disability20":
            return ids.disability_number(id_number, rng.randint(1, 7), rng.randint(1, 4)), tag
        if tag == "id_family_member" and person >= 0:
            relative = self._relative(rng, person)
            if relative is not None:
                return self.ctx.district.m_id[relative], tag
        return id_number, ""

    def _relative(self, rng: random.Random, person: int) -> int | None:
        """Another member of the household, the 户主 first: a child's record under a parent's number."""
        d = self.ctx.district
        household = d.m_hh[person]
        head = d.hh_first[household]
        if head != person:
            return head
        others = [m for m in d.household_members(household) if m != person]
        return rng.choice(others) if others else None

    # --- names --------------------------------------------------------------------------------
    def _apply_name(
        self, rng: random.Random, name: str, roll: float, annotation: str, head: bool
    ) -> tuple[str, str]:
        if "·" in name and rng.random() < MINORITY_VARIANT:
            return names.minority_variant(name, rng) or name, "name_variant"
        if annotation:
            return f"{name}{annotation}", "name_annotation"
        if roll >= _NAME_CUM[-1]:
            return name, ""
        tag = NAME_MESSES[bisect(_NAME_CUM, roll)][0]
        if tag == "name_homophone":
            changed = names.homophone(name, rng)
        elif tag == "name_traditional":
            changed = names.traditional(name)
        elif tag == "name_space":
            changed = names.spaced(name, rng)
        else:
            changed = f"{name}{'（户主）' if head else '(本人)'}"
        return (changed, tag) if changed else (name, "")

    # --- recoverability -----------------------------------------------------------------------
    def _recoverable(
        self,
        person: int,
        id_number: str,
        id_tag: str,
        name_cell: str,
        name_tag: str,
        has_village: bool,
        household_level: bool,
    ) -> bool:
        """Could a careful matcher tie this row to exactly this member?

        Usable IDs (also 15-digit, full-width, x, spaces), one-edit IDs with a similar name, and a
        relative's ID with the member's name in that household all recover. A destroyed or missing
        ID recovers only if name (or its pinyin) within 乡镇 + 村, narrowed by what survives of the ID
        (area code, birth date) and by 户主 in household-level files, leaves this one member.
        """
        d = self.ctx.district
        key = d.m_name[person] if name_tag != "name_homophone" else name_cell
        township = d.hh_township[d.m_hh[person]]
        village = d.hh_village[d.m_hh[person]]
        prefix = (
            id_number[:15]
            if id_tag == "id_rounded"
            else id_number[:6]
            if id_tag == "id_sci"
            else ""
        )
        candidates = self.by_name(township, key)
        if not candidates and name_tag == "name_homophone":
            candidates = self.by_pinyin(township, key)
        candidates = [
            m
            for m in candidates
            if (not has_village or d.hh_village[d.m_hh[m]] == village)
            and d.m_id[m].startswith(prefix)
        ]
        if household_level:
            heads = [m for m in candidates if d.m_relation[m] == HEAD]
            if len(heads) == 1:
                return heads[0] == person
        return candidates == [person]

    def by_name(self, township: int, name: str) -> list[int]:
        if self._by_name is None:
            d = self.ctx.district
            index: dict[tuple[int, str], list[int]] = {}
            for m, member_name in enumerate(d.m_name):
                index.setdefault((d.hh_township[d.m_hh[m]], member_name), []).append(m)
            self._by_name = index
        return self._by_name.get((township, name), [])

    def by_pinyin(self, township: int, name: str) -> list[int]:
        index = self._by_pinyin.get(township)
        if index is None:
            d = self.ctx.district
            index = {}
            for m in range(d.members):
                if d.hh_township[d.m_hh[m]] == township:
                    index.setdefault(pinyin_key(d.m_name[m]), []).append(m)
            self._by_pinyin[township] = index
        return index.get(pinyin_key(name), [])


_PINYIN_CACHE: dict[str, str] = {}


def pinyin_key(name: str) -> str:
    key = _PINYIN_CACHE.get(name)
    if key is None:
        key = _PINYIN_CACHE[name] = "".join(lazy_pinyin(name))
    return key
