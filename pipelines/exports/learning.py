"""What the district learns from verification: which rules, departments and townships produce real risk."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.feedback import CONFIRMED, NOT_THIS_PERSON, REFUTED, effective_verdicts


def warning_history(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """One row per warning ever listed up to M, with its answer in force at M (if any)."""
    listed = con.sql(
        """SELECT warning_id, any_value(rule) AS rule, any_value(rule_name) AS rule_name,
                  any_value(department) AS department,
                  -- pushed to the township of its first listing; it stands in its latest's
                  -- (a household that moved takes its open warning with it)
                  arg_min(township, month) AS township, arg_max(township, month) AS now_in,
                  min(first_month) AS first_month, min(deadline) AS deadline,
                  max(month) AS last_listed
           FROM listings WHERE district = $d AND month <= $m GROUP BY warning_id""",
        params={"d": district, "m": month},
    ).pl()
    exports = con.sql(
        "SELECT month AS first_month, export_date FROM export_runs WHERE district = $d",
        params={"d": district},
    ).pl()
    verdicts = effective_verdicts(con, district, month)
    return (
        listed.join(exports, on="first_month", how="left")
        .join(verdicts, on="warning_id", how="left")
        .with_columns(
            (pl.col("verified_date") - pl.col("export_date"))
            .dt.total_days()
            .alias("days_to_answer")
        )
    )


def _overdue(month: str, today: date) -> pl.Expr:
    """The warning is 逾期 on M's lists: listed in M, unanswered, past its deadline. One no longer
    listed (its situation over, its household off the roster) is owed no answer: an independent
    audit had found the 核实成效 tables counting such warnings against the lists' 逾期 rows."""
    return (
        (pl.col("last_listed") == month)
        & pl.col("verdict").is_null()
        & (pl.col("deadline") < today)
    )


def _rates(frame: pl.DataFrame, by: list[str], month: str, today: date) -> pl.DataFrame:
    answered = pl.col("verdict").is_not_null()
    counts = frame.group_by(by).agg(
        pl.len().alias("推送"),
        answered.sum().alias("已核实"),
        pl.col("verdict").is_in(CONFIRMED).sum().alias("_confirmed"),
        (pl.col("verdict") == REFUTED).sum().alias("_refuted"),
        (pl.col("verdict") == NOT_THIS_PERSON).sum().alias("_not_this_person"),
        _overdue(month, today).sum().alias("逾期未核实"),
    )

    def share(hits: str) -> pl.Expr:
        # no answers yet: the share is unknown (blank), not 0 and not NaN
        return pl.when(pl.col("已核实") > 0).then((pl.col(hits) / pl.col("已核实")).round(4))

    return (
        counts.with_columns(
            share("_confirmed").alias("属实占比"),
            share("_refuted").alias("不属实占比"),
            share("_not_this_person").alias("非本人占比"),
        )
        .select(*by, "推送", "已核实", "属实占比", "不属实占比", "非本人占比", "逾期未核实")
        .sort(by)
    )


def learned_tables(history: pl.DataFrame, month: str, today: date) -> dict[str, pl.DataFrame]:
    """Monthly (warnings first pushed in M) and cumulative rates per rule, department, township."""
    if history.is_empty():
        return {}
    month_part = history.filter(pl.col("first_month") == month)
    tables = {
        "规则成效(累计)": _rates(history, ["rule", "rule_name"], month, today).rename(
            {"rule": "预警代码", "rule_name": "预警名称"}
        ),
        "部门成效(累计)": _rates(history, ["department"], month, today).rename(
            {"department": "来源部门"}
        ),
        "规则成效(本月)": _rates(month_part, ["rule", "rule_name"], month, today).rename(
            {"rule": "预警代码", "rule_name": "预警名称"}
        ),
        "部门成效(本月)": _rates(month_part, ["department"], month, today).rename(
            {"department": "来源部门"}
        ),
    }
    # 推送 by the township a warning was pushed to, 逾期未核实 by the one that owes the answer now
    overdue = (
        history.filter(_overdue(month, today))
        .group_by(pl.col("now_in").alias("township"))
        .agg(pl.len().alias("逾期未核实"))
    )
    pushed = history.group_by("township").agg(
        pl.len().alias("推送"),
        pl.col("verdict").is_not_null().sum().alias("已核实"),
        (pl.col("verdict").is_not_null().sum() / pl.len()).round(4).alias("核实率"),
        pl.col("days_to_answer").median().alias("核实天数中位数"),
    )
    tables["乡镇核实(累计)"] = (
        pushed.join(overdue, on="township", how="full", coalesce=True)
        .with_columns(
            pl.col("推送", "已核实").fill_null(0),
            pl.col("逾期未核实").fill_null(0).cast(pl.UInt32),
        )
        .rename({"township": "乡镇"})
        .sort("乡镇")
    )
    return tables
