"""Read back what the generator wrote in clean mode: the roster, department rows and their truth.

The clean files are the canonical forms (ISO dates, `YYYY-MM` months, two-decimal amounts,
是/否, the first header of every field), so they are read strictly here: a value in another
form means the clean writer changed, and the wild writer stops rather than guess.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from ...sources import SOURCES, FieldType

EXTRA = "x:"  # key prefix of a column the registry does not list (kept as text)


@dataclass(frozen=True)
class Member:
    household_id: str
    head_name: str
    name: str
    township: str
    village: str
    group: str
    grid: str
    relation: str
    household_type: str
    sex: str
    birth: str
    phone: str


@dataclass
class CleanRow:
    """One department row: the file's township, its typed values by key, and its truth."""

    township: str
    values: dict[str, object]
    household_id: str
    member_id: str
    mess: str
    recoverable: str


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


class Roster:
    """The roster as the clean writer left it, with name counts for 'would a person know whom'."""

    def __init__(self, folder: Path) -> None:
        self.header: list[str] = []
        self.by_township: dict[str, list[list[str]]] = {}
        self.members: dict[str, Member] = {}
        self.per_village: Counter[tuple[str, str, str]] = Counter()
        self.per_township: Counter[tuple[str, str]] = Counter()
        self.heads: dict[str, str] = {}  # household -> the 户主's ID
        for path in sorted(folder.glob("*.csv")):
            header, rows = read_csv_rows(path)
            self.header = header
            col = {h: i for i, h in enumerate(header)}
            for row in rows:
                township = row[col["乡镇"]]
                self.by_township.setdefault(township, []).append(row)
                member = Member(
                    household_id=row[col["户编号"]],
                    head_name=row[col["户主姓名"]],
                    name=row[col["姓名"]],
                    township=township,
                    village=row[col["村"]],
                    group=row[col["村民组"]],
                    grid=row[col["网格"]],
                    relation=row[col["与户主关系"]],
                    household_type=row[col["户类型"]],
                    sex=row[col["性别"]],
                    birth=row[col["出生日期"]],
                    phone=row[col["联系电话"]],
                )
                self.members[row[col["证件号码"]]] = member
                if member.relation == "户主":
                    self.heads[member.household_id] = row[col["证件号码"]]
                self.per_village[(township, member.village, member.name)] += 1
                self.per_township[(township, member.name)] += 1

    def unique_name(self, member_id: str, with_village: bool) -> bool:
        """Is this member the only one of that name in their 村 (or 乡镇, when the file has no 村)?"""
        m = self.members.get(member_id)
        if m is None:
            return False
        if with_village:
            return self.per_village[(m.township, m.village, m.name)] == 1
        return self.per_township[(m.township, m.name)] == 1


# --- department rows --------------------------------------------------------------------------

KIND_BY_TYPE = {
    FieldType.DATE: "date",
    FieldType.MONTH: "month",
    FieldType.AMOUNT: "amount",
    FieldType.INT: "int",
    FieldType.YESNO: "yesno",
    FieldType.ID: "id",
    FieldType.NAME: "name",
}
LOCATION = ("township", "village", "group")
YEAR_FIELDS = frozenset({"enroll_year"})  # an INT that is a year: 2026年度 is one of its forms
ENUM_FIELDS = frozenset({"vehicle_type"})  # the contract lists its values; the registry does not


def field_kind(source: str, key: str) -> str:
    """date / month / year / int / amount / yesno / id / name / enum / location / text."""
    if key.startswith(EXTRA):
        return "int" if key == EXTRA + "受灾人口" else "text"
    if key in LOCATION:
        return "location"
    if key in YEAR_FIELDS:
        return "year"
    spec = SOURCES[source].field(key)
    if spec.allowed or key in ENUM_FIELDS:
        return "enum"
    return KIND_BY_TYPE.get(spec.type, "text")


def _typed(kind: str, text: str) -> object:
    if text == "":
        return None
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "month":
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    if kind in ("int", "year"):
        return int(text)
    if kind == "amount":
        hundredths = Decimal(text) * 100
        if hundredths != hundredths.to_integral_value():
            raise ValueError(f"clean amount with more than two decimals: {text!r}")
        return int(hundredths)
    if kind == "yesno":
        return {"是": True, "否": False}[text]
    return text


def header_keys(source: str, header: list[str]) -> list[str]:
    """Clean headers are each field's first alias; anything else is an extra column."""
    first = {f.headers[0]: f.name for f in SOURCES[source].fields}
    return [first.get(h, EXTRA + h) for h in header]


def read_source(
    folder: Path, source: str, truth: dict[tuple[str, int], tuple[str, ...]]
) -> list[CleanRow]:
    """Every row of a clean source folder (files in name order), with its truth row attached."""
    rows: list[CleanRow] = []
    for path in sorted(folder.glob("*.csv")):
        header, data = read_csv_rows(path)
        keys = header_keys(source, header)
        kinds = [field_kind(source, k) for k in keys]
        township_at = keys.index("township")
        for index, cells in enumerate(data):
            household, member, mess, recoverable = truth[(path.name, index + 2)]
            values = {k: _typed(kind, c) for k, kind, c in zip(keys, kinds, cells, strict=True)}
            rows.append(CleanRow(cells[township_at], values, household, member, mess, recoverable))
    return rows


def read_truth(path: Path) -> dict[str, dict[tuple[str, int], tuple[str, ...]]]:
    """record_truth.csv by source, then (file, row_number) -> (household, member, mess, recoverable)."""
    out: dict[str, dict[tuple[str, int], tuple[str, ...]]] = {}
    header, rows = read_csv_rows(path)
    if header[:4] != ["source", "file", "sheet", "row_number"]:
        raise ValueError(f"unexpected record_truth header {header}")
    for source, file, _sheet, row_number, household, member, mess, recoverable in rows:
        out.setdefault(source, {})[(file, int(row_number))] = (household, member, mess, recoverable)
    return out
