"""A warning keeps its identity across months when the department leaves a secondary field blank.

An evidence key is one or more parts joined by `|`; an empty part is "not known this month".
This month's warning takes the id of an earlier warning of the same rule and subject whose key
agrees on every part both of them know (contract §5: the same person/household, rule and
evidence keep the same id in every month). So a verified warning is not listed again as 新增
just because next month's extract left a date or a code blank, or filled one in.

A part that is a day (YYYY-MM-DD: RS01's 登记日期, MZ03's 变动日期, CL01's 发证日期, YJ01's 受灾日期)
agrees with a day at most CORRECTED_DAYS from it: the same event re-sent with its date corrected
(an unemployment registration of 08-15 sent again as 08-16) is the same warning, not a second
visit; two such events of one person within a week are not told apart.

A part written `!<n><label>` is a severity (ZJ01's grade, YJ01's collapse): a warning is new only
when its evidence is new or stronger, so a weaker or equal severity agrees with the earlier one
(a house re-appraised from D to C after a verified D is not listed again; C to D is).
"""

from __future__ import annotations

import re
from datetime import date

import duckdb
import polars as pl

from pipelines.rules.catalogue import RULES_BY_CODE, Level
from pipelines.rules.spec import ID_IN_MEMBER_KEY

KEY_SEPARATOR = "|"


def subject_expr() -> pl.Expr:
    """The household for 户 rules, the member for 人 rules."""
    person_rules = [code for code, rule in RULES_BY_CODE.items() if rule.level is Level.PERSON]
    return (
        pl.when(pl.col("rule").is_in(person_rules))
        .then(pl.col("member_key"))
        .otherwise(pl.col("household_id"))
    )


SEVERITY = "!"


def _severity(part: str) -> int | None:
    return int(part[1]) if part.startswith(SEVERITY) and part[1:2].isdigit() else None


# the days apart within which a day part is the same event's date, corrected
CORRECTED_DAYS = 7
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _days_apart(ours: str, theirs: str) -> int | None:
    if not (_DAY.fullmatch(ours) and _DAY.fullmatch(theirs)):
        return None
    try:
        return abs((date.fromisoformat(ours) - date.fromisoformat(theirs)).days)
    except ValueError:
        return None


def _part_agrees(ours: str, theirs: str) -> bool:
    if ours == theirs or not ours or not theirs:
        return True
    apart = _days_apart(ours, theirs)
    if apart is not None:
        return apart <= CORRECTED_DAYS
    mine, earlier = _severity(ours), _severity(theirs)
    return mine is not None and earlier is not None and mine <= earlier


def keys_agree(this: str, earlier: str) -> bool:
    """Every part known on both sides is equal, or this month's severity is not stronger
    (parts are compared position by position)."""
    ours, theirs = this.split(KEY_SEPARATOR), earlier.split(KEY_SEPARATOR)
    if len(ours) != len(theirs):
        return False
    return all(_part_agrees(a, b) for a, b in zip(ours, theirs, strict=True))


def _merged_part(ours: str, theirs: str) -> str:
    if not ours or not theirs:
        return ours or theirs
    mine, earlier = _severity(ours), _severity(theirs)
    if mine is not None and earlier is not None and earlier > mine:
        return theirs  # the warning stays as strong as it was first listed
    return ours


def merged_key(this: str, earlier: str) -> str:
    """The key with the parts this month left blank filled from the earlier warning's, and each
    severity the stronger of the two."""
    return KEY_SEPARATOR.join(
        _merged_part(a, b)
        for a, b in zip(this.split(KEY_SEPARATOR), earlier.split(KEY_SEPARATOR), strict=True)
    )


def earlier_warnings(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Every warning of the months before M: id, rule, subject, evidence key, month."""
    schema = {
        "warning_id": pl.String,
        "rule": pl.String,
        "subject": pl.String,
        "evidence_key": pl.String,
        "month": pl.String,
    }
    frame = con.sql(
        """SELECT warning_id, rule, household_id, member_key, evidence_key, month FROM warnings
           WHERE district = $district AND month < $month""",
        params={"district": district, "month": month},
    ).pl()
    return frame.with_columns(
        subject_expr().alias("subject"), person_expr().alias("person")
    ).select(*schema, "person")


def person_expr() -> pl.Expr:
    """For 人 rules, the member's ID number (the person, whichever household holds them this
    month); null for 户 rules and members keyed by name."""
    person_rules = [code for code, rule in RULES_BY_CODE.items() if rule.level is Level.PERSON]
    return (
        pl.when(pl.col("rule").is_in(person_rules))
        .then(pl.col("member_key").str.extract(ID_IN_MEMBER_KEY, 1))
        .otherwise(None)
    )


def carry_identities(warnings: pl.DataFrame, earlier: pl.DataFrame) -> pl.DataFrame:
    """This month's warnings, each with the id (and fuller key) of the earliest agreeing earlier
    warning of its rule and subject; a warning with no such predecessor keeps its own id."""
    if warnings.is_empty() or earlier.is_empty():
        return warnings
    current = warnings.with_columns(
        subject_expr().alias("_subject"), person_expr().alias("_person")
    )
    renamed = earlier.rename({"warning_id": "_earlier_id", "evidence_key": "_earlier_key"})
    wanted = ["warning_id", "rule", "evidence_key", "_earlier_id", "_earlier_key", "month"]
    by_subject = current.join(
        renamed, left_on=["rule", "_subject"], right_on=["rule", "subject"]
    ).select(wanted)
    # the same person under another member key (moved to another household since): theirs
    # too, when they have the month's only warning of the rule (an ID on two households'
    # rosters is not guessed between)
    alone = current.filter(
        pl.col("_person").is_not_null() & (pl.len().over("rule", "_person") == 1)
    )
    by_person = alone.join(
        renamed.filter(pl.col("person").is_not_null()),
        left_on=["rule", "_person"],
        right_on=["rule", "person"],
    ).select(wanted)
    candidates = pl.concat([by_subject, by_person]).unique(maintain_order=True)
    if candidates.is_empty():
        return warnings
    replacement: dict[str, tuple[str, str]] = {}
    for row in candidates.sort("month", "_earlier_id").iter_rows(named=True):
        if row["warning_id"] in replacement:
            continue
        if row["_earlier_id"] == row["warning_id"] or keys_agree(
            row["evidence_key"], row["_earlier_key"]
        ):
            key = (
                row["evidence_key"]
                if row["_earlier_id"] == row["warning_id"]
                else merged_key(row["evidence_key"], row["_earlier_key"])
            )
            replacement[row["warning_id"]] = (row["_earlier_id"], key)
    if not replacement:
        return warnings
    ids = {old: new for old, (new, _) in replacement.items()}
    keys = {old: key for old, (_, key) in replacement.items()}
    return warnings.with_columns(
        pl.col("warning_id")
        .replace_strict(keys, default=pl.col("evidence_key"), return_dtype=pl.String)
        .alias("evidence_key"),
        pl.col("warning_id").replace_strict(ids, default=pl.col("warning_id")),
    )
