"""Registers that are a standing list: what a department sent last month is in this month's extract too.

The clean generator draws each month's 市场主体, 机动车 and 房屋鉴定 rows afresh, so a record seen in
month 1 is seldom in month 2. Real registers are stocks: the wild profile carries every row of the
previous requested month that this month lacks (same person and same entity / plate / household)
into this month, and adds the warnings those rows raise to the month's expected warnings, by the
contract's rules (§4): SJ01, GA02 and ZJ01 need nothing but the row and the household's type.
That is what lets a code blank in one month and filled in the next (or the reverse) meet a
warning that was already verified.
"""

from __future__ import annotations

from .clean import CleanRow, Roster

CARS = frozenset({"小型轿车", "小型普通客车", "中型客车", "轻型货车"})
FOCUS = frozenset({"脱贫户", "监测户"})
LEVEL_RANK = {"绿": 0, "黄": 1, "红": 2}
STOCK_SOURCES = ("market", "vehicles", "housing")
CARRIED = "carried_from_previous_month"


def _identity(source: str, row: CleanRow) -> tuple[object, ...]:
    person = row.member_id or row.values.get("name")
    if source == "market":
        return (person, row.values.get("entity_name"))
    if source == "vehicles":
        return (person, row.values.get("plate"), row.values.get("vehicle_type"))
    return (row.household_id or row.values.get("name"), row.values.get("township"))


def carry_over(source: str, previous: list[CleanRow], current: list[CleanRow]) -> list[CleanRow]:
    """`current` plus the rows of `previous` it lacks (tagged as carried)."""
    present = {_identity(source, r) for r in current}
    carried = []
    for row in previous:
        key = _identity(source, row)
        if key in present:
            continue
        present.add(key)
        mess = row.mess if CARRIED in row.mess else ";".join(t for t in (row.mess, CARRIED) if t)
        carried.append(
            CleanRow(row.township, dict(row.values), row.household_id, row.member_id, mess,
                     row.recoverable)
        )  # fmt: skip
    return current + carried


def warnings_of(source: str, row: CleanRow, roster: Roster) -> list[tuple[str, str, str, str]]:
    """(rule, household_id, member_id or '' for 户 rules, level) that a carried row raises."""
    member = roster.members.get(row.member_id)
    if member is None:
        return []
    v = row.values
    focus = member.household_type in FOCUS
    if source == "market":
        capital = v.get("capital")
        if (
            focus
            and v.get("role") in ("法定代表人", "股东")
            and isinstance(capital, int)
            and capital >= 5_000
        ):
            return [("SJ01", member.household_id, row.member_id, "绿")]
    elif source == "vehicles":
        if focus and v.get("vehicle_type") in CARS:
            return [("GA02", member.household_id, row.member_id, "绿")]
    elif source == "housing":
        grade = v.get("grade")
        if grade in ("C", "D"):
            return [("ZJ01", member.household_id, "", "红" if grade == "D" else "黄")]
    return []


def merge_expected(
    header: list[str], rows: list[list[str]], added: list[tuple[str, str, str, str]], roster: Roster
) -> list[list[str]]:
    """expected_warnings rows with the carried rows' warnings merged in (higher level wins)."""
    at = {name: i for i, name in enumerate(header)}
    index = {(r[at["rule"]], r[at["household_id"]], r[at["member_id_number"]]): r for r in rows}
    townships = {m.household_id: m.township for m in roster.members.values()}
    for rule, household, member, level in added:
        key = (rule, household, member)
        row = index.get(key)
        if row is None:
            row = [""] * len(header)
            row[at["rule"]], row[at["household_id"]], row[at["member_id_number"]] = key
            row[at["township"]], row[at["recoverable"]], row[at["level"]] = (
                townships[household], "true", level,
            )  # fmt: skip
            index[key] = row
            continue
        row[at["recoverable"]] = "true"
        if LEVEL_RANK[level] > LEVEL_RANK[row[at["level"]]]:
            row[at["level"]] = level
    return sorted(index.values())
