"""Members the department data says died: no other person-level warning is about them.

A grid worker sent to check a dead member's insurance (YB02), care subsidy (CL02), student aid
(JY03) or car (GA02) visits for nothing, beside the household's GA01 of the same list. An
independent probe (indep41) found eight such rows in one month. A member is taken as dead when
the month raises GA01 for them, or an earlier month did and no answer in force at M says 不属实 or
非本人 (a death the township refuted lifts this, and the other rules speak again). Household
rules are the household's, and stay.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.feedback import NOT_THIS_PERSON, REFUTED, effective_verdicts
from pipelines.rules.catalogue import RULES_BY_CODE
from pipelines.rules.spec import ID_IN_MEMBER_KEY, Level

DEATH_RULE = "GA01"
# the person-level rules a death speaks for: all but GA01 itself
SILENCED_BY_DEATH = tuple(
    code
    for code, rule in RULES_BY_CODE.items()
    if rule.level is Level.PERSON and code != DEATH_RULE
)


def deceased(
    con: duckdb.DuckDBPyConnection, district: str, month: str, current: pl.DataFrame | None = None
) -> pl.DataFrame:
    """member_key and person (the ID in the key, or null) of every member the data says died by
    M: M's GA01 warnings (`current`, M's warnings frame; None: read from the warehouse), and the
    earlier months' not refuted by the answer in force at M (feedback.effective_verdicts)."""
    rows = con.sql(
        """SELECT DISTINCT warning_id, member_key, month = $month AS this_month FROM warnings
           WHERE district = $district AND month <= $month AND rule = $rule
             AND member_key IS NOT NULL""",
        params={"district": district, "month": month, "rule": DEATH_RULE},
    ).pl()
    answers = effective_verdicts(con, district, month)
    refuted = answers.filter(pl.col("verdict").is_in([REFUTED, NOT_THIS_PERSON]))["warning_id"]
    standing = rows.filter(~pl.col("warning_id").is_in(refuted.implode()))
    if current is None:
        keys = standing["member_key"]
    else:
        this_month = current.filter(pl.col("rule") == DEATH_RULE)["member_key"]
        keys = pl.concat([standing.filter(~pl.col("this_month"))["member_key"], this_month])
    frame = pl.DataFrame(
        {"member_key": keys.drop_nulls().unique()}, schema={"member_key": pl.String}
    )
    return frame.with_columns(person=pl.col("member_key").str.extract(ID_IN_MEMBER_KEY, 1))


def about_the_dead(warnings: pl.DataFrame, dead: pl.DataFrame) -> pl.Series:
    """Per warning: a person-level warning (not GA01) about a member `dead` holds, by member key
    or by the ID in it (the same person keyed in another household since)."""
    people = dead["person"].drop_nulls()
    person = pl.col("member_key").str.extract(ID_IN_MEMBER_KEY, 1)
    return warnings.select(
        (
            pl.col("rule").is_in(list(SILENCED_BY_DEATH))
            & (
                pl.col("member_key").is_in(dead["member_key"].implode())
                | person.is_in(people.implode())
            )
        ).fill_null(False)
    ).to_series()
