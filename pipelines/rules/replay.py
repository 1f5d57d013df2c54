"""Rule replay: a changed rule configuration evaluated over past months, nothing exported."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.feedback import CONFIRMED, effective_verdicts
from pipelines.rules.catalogue import RULES, RULES_BY_CODE
from pipelines.rules.continuity import subject_expr
from pipelines.rules.evaluate import evaluate_rules
from pipelines.schema import SCHEMA_VERSION, schema_version
from pipelines.warehouse import other_districts


class OutdatedWarehouse(RuntimeError):
    """The warehouse predates the declared schema: a run (a writer) migrates it first."""


COUNTS_SCHEMA = {"month": pl.String, "rule": pl.String, "current": pl.Int64, "proposed": pl.Int64}


@dataclass(frozen=True)
class Replay:
    counts: pl.DataFrame  # month, rule, current, proposed
    confirmed: pl.DataFrame  # rule, confirmed (past 属实), still_caught
    # where no month of the range was run for the district: the months that were, and the
    # districts the warehouse holds when it holds none of this one's (a renamed data directory)
    months_run: tuple[str, ...] = ()
    other_districts: tuple[str, ...] = ()


def months_in_warehouse(
    con: duckdb.DuckDBPyConnection, district: str, first: str, last: str
) -> list[str]:
    rows = con.execute(
        """SELECT DISTINCT month FROM source_status
           WHERE district = ? AND month BETWEEN ? AND ? AND source = 'roster' ORDER BY month""",
        [district, first, last],
    ).fetchall()
    return [r[0] for r in rows]


def _received(con: duckdb.DuckDBPyConnection, district: str, month: str) -> set[str]:
    rows = con.execute(
        "SELECT source FROM source_status WHERE district = ? AND month = ? AND received",
        [district, month],
    ).fetchall()
    return {r[0] for r in rows}


def replay(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    first: str,
    last: str,
    current: dict,
    proposed: dict,
) -> Replay:
    """Per month and rule: warnings under the current vs the proposed configuration, and how many
    of the warnings townships confirmed (属实) the proposed configuration would still raise."""
    found = schema_version(con)
    if found != SCHEMA_VERSION:
        raise OutdatedWarehouse(
            f"仓库结构版本为 {found}，当前程序为 {SCHEMA_VERSION}：请先运行一次 fangfan run 以升级仓库，再回放规则"
        )
    counts: list[dict] = []
    proposed_subjects: list[pl.DataFrame] = []
    for month in months_in_warehouse(con, district, first, last):
        received = _received(con, district, month)
        now = evaluate_rules(con, district=district, month=month, config=current, received=received)
        new = evaluate_rules(
            con, district=district, month=month, config=proposed, received=received
        )
        now_counts = dict(now.warnings.group_by("rule").len().iter_rows())
        new_counts = dict(new.warnings.group_by("rule").len().iter_rows())
        for rule in RULES:
            counts.append(
                {"month": month, "rule": rule.code,
                 "current": now_counts.get(rule.code, 0), "proposed": new_counts.get(rule.code, 0)}
            )  # fmt: skip
        proposed_subjects.append(
            new.warnings.select("rule", subject_expr().alias("subject")).with_columns(
                pl.lit(month).alias("first_month")
            )
        )
    confirmed = _confirmed_caught(con, district, last, proposed_subjects)
    frame = pl.DataFrame(counts, schema=COUNTS_SCHEMA)
    if frame.height:
        return Replay(frame, confirmed)
    return Replay(
        frame, confirmed, tuple(months_in_warehouse(con, district, "0000-00", "9999-99")),
        tuple(other_districts(con, district)),
    )  # fmt: skip


def _confirmed_caught(
    con: duckdb.DuckDBPyConnection, district: str, last: str, proposed: list[pl.DataFrame]
) -> pl.DataFrame:
    schema = {"rule": pl.String, "confirmed": pl.UInt32, "still_caught": pl.UInt32}
    verdicts = effective_verdicts(con, district, last).filter(pl.col("verdict").is_in(CONFIRMED))
    if verdicts.is_empty():
        return pl.DataFrame(schema=schema)
    listed = con.sql(
        """SELECT warning_id, any_value(rule) AS rule, any_value(member_key) AS member_key,
                  any_value(household_id) AS household_id, min(first_month) AS first_month
           FROM listings WHERE district = $d AND month <= $m GROUP BY warning_id""",
        params={"d": district, "m": last},
    ).pl()
    confirmed = listed.join(verdicts.select("warning_id"), on="warning_id").with_columns(
        subject_expr().alias("subject")
    )
    caught = pl.concat(proposed) if proposed else pl.DataFrame(
        schema={"rule": pl.String, "subject": pl.String, "first_month": pl.String}
    )  # fmt: skip
    marked = confirmed.join(
        caught.unique().with_columns(pl.lit(True).alias("caught")),
        on=["rule", "subject", "first_month"],
        how="left",
    )
    return (
        marked.group_by("rule")
        .agg(
            pl.len().alias("confirmed"),
            pl.col("caught").fill_null(False).sum().alias("still_caught"),
        )
        .sort("rule")
    )


def _nothing_to_replay(result: Replay) -> str:
    """Why the range has no months, and what to do."""
    if result.other_districts:
        return (
            f"（仓库中没有本区县的数据，只有区县 {'、'.join(result.other_districts)} 的：数据目录可能改过名。"
            '请在 rules.toml 中写 [district] name = "原名称"，或设 FANGFAN_DISTRICT 为原名称后再回放）'
        )
    if result.months_run:
        return (
            f"（所选月份在仓库中没有运行过的月份；已运行的月份：{'、'.join(result.months_run)}。"
            "只读入了医保结算明细的月份不能回放）"
        )
    return "（所选月份在仓库中没有数据：请先用 fangfan run 运行这些月份）"


def format_replay(result: Replay) -> str:
    lines = ["月份     规则  名称              现行  调整后   变化"]
    for row in result.counts.filter((pl.col("current") > 0) | (pl.col("proposed") > 0)).iter_rows(
        named=True
    ):
        delta = row["proposed"] - row["current"]
        name = RULES_BY_CODE[row["rule"]].name
        lines.append(
            f"{row['month']}  {row['rule']}  {name:<12}{row['current']:>8}{row['proposed']:>8}{delta:>+7}"
        )
    if result.counts.height:
        totals = result.counts.select(pl.col("current").sum(), pl.col("proposed").sum()).row(0)
        lines.append(f"合计{'':<26}{totals[0]:>8}{totals[1]:>8}{totals[1] - totals[0]:>+7}")
    else:
        lines.append(_nothing_to_replay(result))
    lines.append("")
    if result.confirmed.height:
        lines.append("已核实属实的历史预警，调整后仍能发现：")
        for row in result.confirmed.iter_rows(named=True):
            lines.append(
                f"  {row['rule']} {RULES_BY_CODE[row['rule']].name}: {row['still_caught']}/{row['confirmed']}"
            )
    else:
        lines.append("已核实属实的历史预警：无（还没有乡镇反馈属实的预警）")
    return "\n".join(lines)
