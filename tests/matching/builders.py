"""Builders for small matcher inputs: valid ID numbers, roster members and department records."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

from pipelines.matching.ids import normalise_ids
from pipelines.matching.matcher import MatchResult

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

ROSTER_SCHEMA = {
    "member_key": pl.String,
    "household_id": pl.String,
    "name": pl.String,
    "id_number": pl.String,
    "id_status": pl.String,
    "birth_date": pl.Date,
    "township": pl.String,
    "village": pl.String,
    "relation": pl.String,
    "is_head": pl.Boolean,
}
RECORD_SCHEMA = {
    "record_key": pl.String,
    "source": pl.String,
    "name": pl.String,
    "id_number": pl.String,
    "id_status": pl.String,
    "id_birth": pl.Date,
    "id_area": pl.String,
    "id_prefix": pl.String,
    "birth_date": pl.Date,
    "township": pl.String,
    "village": pl.String,
    "household_level": pl.Boolean,
}


def check_char(body: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


def make_id(birth: str, sequence: int, area: str = "341502") -> str:
    """A valid 18-character ID: area, YYYYMMDD birth, 3-digit sequence, check character."""
    body = f"{area}{birth}{sequence:03d}"
    return body + check_char(body)


def substitute(id_number: str, position: int, digit: str) -> str:
    return id_number[:position] + digit + id_number[position + 1 :]


def transpose(id_number: str, position: int) -> str:
    chars = list(id_number)
    chars[position], chars[position + 1] = chars[position + 1], chars[position]
    return "".join(chars)


def birth_of(id_number: str) -> dt.date | None:
    """The birth date in an ID, None when it is no date the ingest accepts (1880 to today)."""
    try:
        born = dt.datetime.strptime(id_number[6:14], "%Y%m%d").date()
    except ValueError:
        return None
    return born if dt.date(1880, 1, 1) <= born <= dt.date.today() else None


def id_status_of(id_number: str | None) -> str:
    """What the ingest would say about a cleaned 18-character ID."""
    if not id_number:
        return "missing"
    if birth_of(id_number) is None:
        return "bad_date"
    return "valid" if check_char(id_number[:17]) == id_number[17] else "bad_checksum"


def member(
    key: str,
    name: str,
    id_number: str | None,
    household: str = "H1",
    township: str = "三十铺镇",
    village: str = "北山村",
    is_head: bool = False,
    relation: str = "户主",
    birth_date: dt.date | None = None,
    id_status: str | None = None,
) -> dict[str, Any]:
    return {
        "member_key": key,
        "household_id": household,
        "name": name,
        "id_number": id_number,
        "id_status": id_status or id_status_of(id_number),
        "birth_date": birth_date,
        "township": township,
        "village": village,
        "relation": relation,
        "is_head": is_head,
    }


def record(
    key: str,
    name: str | None,
    id_number: str | None = None,
    id_status: str | None = None,
    source: str = "medical_claims",
    township: str | None = None,
    village: str | None = None,
    birth_date: dt.date | None = None,
    id_birth: dt.date | None = None,
    id_area: str | None = None,
    household_level: bool = False,
    id_prefix: str | None = None,
) -> dict[str, Any]:
    status = id_status or id_status_of(id_number)
    if id_birth is None and id_number and status in ("valid", "converted15", "bad_checksum"):
        id_birth = birth_of(id_number)
    if id_area is None and id_number:
        id_area = id_number[:6]
    return {
        "record_key": key,
        "source": source,
        "name": name,
        "id_number": id_number,
        "id_status": status,
        "id_birth": id_birth,
        "id_area": id_area,
        "id_prefix": id_prefix,
        "birth_date": birth_date,
        "township": township,
        "village": village,
        "household_level": household_level,
    }


def ingested(key: str, name: str | None, written_id: str, **fields: Any) -> dict[str, Any]:
    """A record whose ID cell reads `written_id`, with id_number, id_status, id_birth, id_area and
    id_prefix as the ingest derives them (pipelines.matching.ids), and the 18 characters of a bad date or
    an X swapped into the body kept as the match input keeps them (keep_mistyped_ids)."""
    read = normalise_ids(pl.Series([written_id])).row(0, named=True)
    if read["id_status"] in ("bad_date", "invalid") and re.fullmatch(r"[0-9X]{18}", written_id):
        read["id_number"] = written_id
    return record(key, name, **read, **fields)


def tie(result: MatchResult, record_key: str) -> dict[str, Any] | None:
    rows = result.matches.filter(pl.col("record_key") == record_key)
    return rows.row(0, named=True) if rows.height else None


def unresolved(result: MatchResult, record_key: str) -> dict[str, Any] | None:
    rows = result.unresolved.filter(pl.col("record_key") == record_key)
    return rows.row(0, named=True) if rows.height else None
