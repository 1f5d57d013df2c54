"""The heavy profile: the normal generator's messes at about 2.5× their rates.

The rates are module constants of messes.py, tables.py and roster_files.py; they are swapped for
the duration of one generate() call and restored afterwards (also on error). The generator reads
them at call time, and a forked history worker inherits them. Shares that would pass 1 are capped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate

from .. import messes, roster_files, tables

FACTOR = 2.5
HOUSEHOLD_ID_MISSING = 0.7  # 0.45 normally: most 住建/应急/水利 rows then carry no ID
LOWER_X = 0.6
DISABILITY_NUMBER = 0.35
MINORITY_VARIANT = 0.8


def _scaled(rates: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    return tuple((name, rate * FACTOR) for name, rate in rates)


@contextmanager
def heavy_rates() -> Iterator[None]:
    id_messes, name_messes = _scaled(messes.ID_MESSES), _scaled(messes.NAME_MESSES)
    patches = [
        (messes, "ID_MESSES", id_messes),
        (messes, "_ID_CUM", tuple(accumulate(r for _, r in id_messes))),
        (messes, "NAME_MESSES", name_messes),
        (messes, "_NAME_CUM", tuple(accumulate(r for _, r in name_messes))),
        (messes, "HOUSEHOLD_ID_MISSING", HOUSEHOLD_ID_MISSING),
        (messes, "LOWER_X", LOWER_X),
        (messes, "DISABILITY_NUMBER", DISABILITY_NUMBER),
        (messes, "MINORITY_VARIANT", MINORITY_VARIANT),
        (tables, "BAD_ROW_RATE", tables.BAD_ROW_RATE * FACTOR),
        (tables, "AMOUNT_BLANK_RATE", tables.AMOUNT_BLANK_RATE * FACTOR),
        (roster_files, "MISSING_GRID_RATE", roster_files.MISSING_GRID_RATE * FACTOR),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    if messes._ID_CUM[-1] * FACTOR >= 1 or messes._NAME_CUM[-1] * FACTOR >= 1:
        raise ValueError("heavy rates would pass 1")
    try:
        for module, name, value in patches:
            setattr(module, name, value)
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
