"""Is a month late? Departments deliver month M's files during M+1; the district runs M by the
10th of M+1. A month whose department files have arrived (raw/<M>/ holds files outside
feedback/) and which has not been run (its district summary never materialised) is *late* from
the 11th of M+1 (Asia/Shanghai), *due* before that.

Pure (no Dagster) apart from reading the raw folder's file times; `pipelines/operations.py`
shows the result in the UI as the `ran_on_time` check of `district_summary`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipelines.notices import split_partition

DEADLINE_DAY = 10
TIMEZONE = ZoneInfo("Asia/Shanghai")
FEEDBACK_FOLDER = "feedback"  # the townships' answers, not department files
# an earlier month of the year holding nothing but its claims is YB01's history (staged by the
# claims_history job), not a month to run
CLAIMS_FOLDER = "medical_claims"
_MONTH = re.compile(r"^\d{4}-\d{2}$")

LATE = "late"  # files here, deadline passed, not run: 逾期未运行
DUE = "due"  # files here, not run yet, deadline ahead: 待运行
DONE = "done"  # run (whenever): 已运行


def deadline(month: str, day: int = DEADLINE_DAY) -> date:
    """The day month `month` (YYYY-MM) must have been run by: the `day`th of the next month."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year + number // 12, number % 12 + 1, day)


@dataclass(frozen=True)
class MonthStatus:
    district: str
    month: str
    arrived: date  # the day the month's first department file arrived
    deadline: date
    state: str  # LATE, DUE or DONE
    days_late: int = 0

    def describe(self) -> str:
        who = f"{self.district} " if self.district else ""
        if self.state == LATE:
            return (
                f"{who}{self.month}：部门文件 {self.arrived:%m-%d} 已到，应在 {self.deadline} 前运行，"
                f"已逾期 {self.days_late} 天"
            )
        if self.state == DUE:
            return f"{who}{self.month}：部门文件 {self.arrived:%m-%d} 已到，请在 {self.deadline} 前运行"
        return f"{who}{self.month}：已运行"


def month_status(
    month: str, *, arrived: date, ran: bool, today: date, district: str = "",
    day: int = DEADLINE_DAY,
) -> MonthStatus:  # fmt: skip
    """The state of one month whose files arrived on `arrived`."""
    due = deadline(month, day)
    if ran:
        return MonthStatus(district, month, arrived, due, DONE)
    if today > due:
        return MonthStatus(district, month, arrived, due, LATE, (today - due).days)
    return MonthStatus(district, month, arrived, due, DUE)


def evaluate(
    arrivals: Mapping[tuple[str, str], date],
    ran: Collection[tuple[str, str]],
    today: date,
    *,
    names: Mapping[str, str] | None = None,
    day: int = DEADLINE_DAY,
) -> list[MonthStatus]:
    """Every (district code, month) with arrived files, in order; `ran` holds the (district
    code, month) pairs that have been run; `names` gives the districts' names for people."""
    names = names or {}
    return [
        month_status(month, arrived=arrived, ran=(code, month) in ran, today=today,
                     district=names.get(code, code), day=day)
        for (code, month), arrived in sorted(arrivals.items())
    ]  # fmt: skip


def ran_pairs(partition_keys: Iterable[str], single_district: str) -> set[tuple[str, str]]:
    """(district code, month) of materialised partition keys: `2026-10` (one district, before
    the month × district partitions) or `341502|2026-10`."""
    pairs = set()
    for key in partition_keys:
        month, district = split_partition(str(key))
        if month is not None:
            pairs.add((district or single_district, month))
    return pairs


def late(statuses: Iterable[MonthStatus]) -> list[MonthStatus]:
    return [s for s in statuses if s.state == LATE]


def summary(statuses: Iterable[MonthStatus]) -> str:
    statuses = list(statuses)
    overdue, due = late(statuses), [s for s in statuses if s.state == DUE]
    if overdue:
        text = (
            f"{len(overdue)} 个月份逾期未运行（部门文件已到，过了次月 {DEADLINE_DAY} 日仍未运行）："
            + "；".join(s.describe() for s in overdue)
        )
    else:
        text = "没有逾期未运行的月份"
    if due:
        text += "。待运行：" + "；".join(s.describe() for s in due)
    return text


# --- when did the files arrive ----------------------------------------------------------------


def arrival_dates(raw: Path, tz: ZoneInfo = TIMEZONE) -> dict[str, date]:
    """Month → the day (in `tz`) its first department file arrived (earliest modification time
    of a file under raw/<M>/<source>/ but feedback/, hidden and Office lock files ignored).
    Left out: months with no such file, and months holding only medical_claims (YB01's history
    of an earlier month of the year, not a month to run)."""
    found: dict[str, date] = {}
    if not raw.is_dir():
        return found
    for folder in sorted(p for p in raw.iterdir() if p.is_dir() and _MONTH.match(p.name)):
        times = _earliest_file_times(folder)
        if _to_run(times):
            found[folder.name] = datetime.fromtimestamp(min(times.values()), tz).date()
    return found


def holds_month_to_run(folder: Path) -> bool:
    """Whether raw/<M>/ (`folder`) holds a month to run (arrival_dates: a roster's or a
    department's files, not the year's earlier claims alone)."""
    return folder.is_dir() and _to_run(_earliest_file_times(folder))


def _to_run(times: Mapping[str, float]) -> bool:
    return bool(times) and set(times) != {CLAIMS_FOLDER}


def _earliest_file_times(folder: Path) -> dict[str, float]:
    """Source folder → the earliest modification time of a file in it."""
    earliest: dict[str, float] = {}
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        here = Path(top).relative_to(folder).parts
        if not here:
            dirs[:] = [d for d in dirs if d != FEEDBACK_FOLDER]
            continue  # files beside the source folders are nobody's delivery
        for name in files:
            if name.startswith(".") or name.startswith("~$"):  # hidden, Office lock files
                continue
            try:
                mtime = os.stat(os.path.join(top, name)).st_mtime
            except OSError:
                continue
            earliest[here[0]] = min(mtime, earliest.get(here[0], mtime))
    return earliest
