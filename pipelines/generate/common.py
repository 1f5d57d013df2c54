"""Shared helpers for the synthetic district: seeded random streams, months, dates and ages."""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import cache

EXCEL_EPOCH = date(1899, 12, 30)


def rng_for(seed: int, *parts: object) -> random.Random:
    """An independent random stream per purpose: string seeds hash with SHA-512, stable across runs."""
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def parse_month(month: str) -> tuple[int, int]:
    year, mon = month.split("-")
    y, m = int(year), int(mon)
    if len(year) != 4 or len(mon) != 2 or not 1 <= m <= 12:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return y, m


@cache
def month_first(month: str) -> date:
    y, m = parse_month(month)
    return date(y, m, 1)


@cache
def month_last(month: str) -> date:
    return month_first(shift_month(month, 1)) - timedelta(days=1)


def shift_month(month: str, k: int) -> str:
    y, m = parse_month(month)
    total = y * 12 + (m - 1) + k
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def day_in(month: str, rng: random.Random) -> date:
    first, days = month_span(month)
    return date.fromordinal(first + int(rng.random() * days))


@cache
def month_span(month: str) -> tuple[int, int]:
    """(ordinal of the first day, number of days) of a month."""
    first = month_first(month).toordinal()
    return first, month_last(month).toordinal() - first + 1


def age_on(birth: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def excel_serial(day: date) -> int:
    return (day - EXCEL_EPOCH).days


CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1..99 as written in group names: 一, 十, 十二, 二十, 二十三."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
