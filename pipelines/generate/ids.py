"""ID numbers (GB 11643, ISO 7064 MOD 11-2) and the ways clerks and Excel damage them."""

from __future__ import annotations

import random
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
MISSING_PLACEHOLDERS = ("", "", "", "无", "/", "—")

DISTRICT_AREA = "341502"
# 六安地区-era codes older residents still carry (金安 was 六安县级市 342401)
LEGACY_AREAS = ("342401", "342401", "342401", "342422", "342423")
# where married-in spouses and migrants were first registered
OTHER_AREAS = (
    "341503",
    "341504",
    "341522",
    "341523",
    "341524",
    "341525",
    "340104",
    "342422",
    "320324",
)
MINORITY_AREAS = ("650102", "653101", "652901")


def check_char(body: str) -> str:
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def is_valid(id_number: str) -> bool:
    if len(id_number) != 18 or not id_number[:17].isdigit() or not _real_date(id_number):
        return False
    return id_number[17] == check_char(id_number[:17])


class IdFactory:
    """Unique valid IDs, fast: the weighted sum is cached per area code, birth date and order code."""

    def __init__(self) -> None:
        self.issued: set[str] = set()
        self._area: dict[str, int] = {}
        self._birth: dict[date, tuple[str, int]] = {}
        self._order = [
            (f"{s:03d}", sum(int(c) * w for c, w in zip(f"{s:03d}", WEIGHTS[14:], strict=True)))
            for s in range(1000)
        ]

    def make(
        self, area: str, birth: date, male: bool, rng: random.Random, register: bool = True
    ) -> str:
        """A valid ID not issued before; `register=False` leaves it unreserved (a regenerated outsider
        then gets the same number every month)."""
        area_sum = self._area.get(area)
        if area_sum is None:
            area_sum = self._area[area] = _weighted(area, WEIGHTS[:6])
        born = self._birth.get(birth)
        if born is None:
            birth8 = f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"
            born = self._birth[birth] = (birth8, _weighted(birth8, WEIGHTS[6:14]))
        prefix, base = area + born[0], area_sum + born[1]
        while True:
            # the order code's parity is the sex: odd = male
            order, order_sum = self._order[int(rng.random() * 500) * 2 + (1 if male else 0)]
            candidate = prefix + order + CHECK_CHARS[(base + order_sum) % 11]
            if candidate not in self.issued:
                if register:
                    self.issued.add(candidate)
                return candidate


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(c) * w for c, w in zip(digits, weights, strict=True))


def to_15(id_number: str) -> str:
    """The first-generation 15-digit form: no century, no check character."""
    return id_number[:6] + id_number[8:17]


def lower_x(id_number: str) -> str:
    return id_number[:17] + "x"


def fullwidth(id_number: str) -> str:
    return id_number.translate(FULLWIDTH)


def spaced(id_number: str, rng: random.Random) -> str:
    return rng.choice((f" {id_number} ", f"{id_number} ", f"\t{id_number}", f" {id_number}\u3000"))


def quoted(id_number: str, rng: random.Random) -> str:
    return rng.choice((f"'{id_number}", f'"{id_number}"', f"‘{id_number}’"))


def scientific(id_number: str) -> str:
    """What Excel's General format shows for an 18-digit number: 6 significant digits."""
    return f"{float(id_number):.5E}"


def rounded_text(id_number: str) -> str:
    """Excel keeps 15 significant digits and zeroes the rest."""
    return id_number[:15] + "000"


def rounded_number(id_number: str) -> float:
    return float(rounded_text(id_number))


def typo(id_number: str, rng: random.Random) -> str:
    """One wrong digit in the birth month, day or order code; the date stays real, the checksum fails."""
    while True:
        pos = rng.randrange(10, 17)
        digit = str((int(id_number[pos]) + rng.randrange(1, 10)) % 10)
        candidate = id_number[:pos] + digit + id_number[pos + 1 :]
        if _real_date(candidate):
            return candidate


def transposed(id_number: str, rng: random.Random) -> str | None:
    """Two adjacent different digits swapped (never the check character); None if none qualify."""
    positions = [p for p in range(10, 16) if id_number[p] != id_number[p + 1]]
    rng.shuffle(positions)
    for pos in positions:
        candidate = id_number[:pos] + id_number[pos + 1] + id_number[pos] + id_number[pos + 2 :]
        if _real_date(candidate):
            return candidate
    return None


def disability_number(id_number: str, category: int, level: int) -> str:
    """残疾人证号: the ID followed by the category and level digits."""
    return f"{id_number}{category}{level}"


def _real_date(id_number: str) -> bool:
    try:
        date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return False
    return True
