"""Evaluate the rule catalogue for one district and month: SQL over matched records, one row per warning."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from pipelines.config import month_bounds
from pipelines.rules.catalogue import MONITORED_TYPES, RULES, RULES_BY_CODE, Direction
from pipelines.rules.completeness import empty_undecided, source_gaps
from pipelines.rules.continuity import carry_identities, earlier_warnings, subject_expr
from pipelines.rules.deaths import about_the_dead, deceased
from pipelines.sources import SOURCES

RED, YELLOW, GREEN = "红", "黄", "绿"


def shared_parameters(config: dict, district: str, month: str) -> dict[str, Any]:
    """The $names every rule may read; a rule's own come from its [rules.<code>] table."""
    start, end = month_bounds(month)
    return {
        "district": district,
        "month": month,
        "month_start": start,
        "month_end": end,
        "year": start.year,
        "year_start_month": f"{start.year}-01",
        "labour_min": int(config["ages"]["labour_min"]),
        "labour_max": int(config["ages"]["labour_max"]),
        "monitored": list(MONITORED_TYPES),
        "precision_min_confidence": float(config["ties"]["precision_min_confidence"]),
    }


@dataclass(frozen=True)
class RuleRun:
    """What one month's evaluation produced, what it could not evaluate, and where the data
    could not decide (无法判断 members of absence rules, 不可判断 rows; UNDECIDED_SCHEMA)."""

    warnings: pl.DataFrame
    not_evaluated: dict[str, str]  # rule code -> why (source not received, unreadable file …)
    undecided: pl.DataFrame = field(default_factory=empty_undecided)
    # read back: the month had been evaluated from the same inputs (pipelines/evaluation.py)
    reused: bool = False


def warning_id(rule: str, subject: str, evidence_key: str) -> str:
    digest = hashlib.sha1(f"{rule}|{subject}|{evidence_key}".encode()).hexdigest()
    return f"{rule}-{digest[:12].upper()}"


def _level(rule_code: str, red: bool, config: dict) -> str:
    forced = config.get("levels", {}).get("force", {}).get(rule_code)
    if forced:
        return forced
    if red or rule_code in config.get("levels", {}).get("red_rules", []):
        return RED
    return YELLOW if RULES_BY_CODE[rule_code].direction is Direction.RISK else GREEN


def evaluate_rules(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    config: dict,
    received: set[str],
) -> RuleRun:
    """Every rule whose source was received this month; one row per (rule, subject).

    Absence rules raise nothing on a source whose month is missing, empty or partly unreadable;
    members whose absence some row could contradict are 无法判断, and record rows whose needed
    field is unreadable are 不可判断 (both in `undecided`, for the district, never a township).
    """
    shared = shared_parameters(config, district, month)
    gaps = source_gaps(con, district, month)
    frames: list[pl.DataFrame] = []
    undecided: list[pl.DataFrame] = []
    not_evaluated: dict[str, str] = {}
    for rule in RULES:
        if rule.source not in received:
            not_evaluated[rule.code] = f"{rule.department}本月未报送{rule.source}数据"
            continue
        if rule.absence and rule.source in gaps:
            not_evaluated[rule.code] = (
                f"{rule.department}{SOURCES[rule.source].title}本月{gaps[rule.source]}，"
                "不能据此判断谁不在名单中：本规则本月不预警"
            )
            continue
        hits, rows = rule.evaluate(con, {**shared, **rule.parameters(config)})
        undecided.append(rows)
        if hits.height:
            frames.append(hits.with_columns(pl.lit(rule.code).alias("rule")))
    gaps_frame = pl.concat(undecided, how="vertical_relaxed") if undecided else empty_undecided()
    if not frames:
        return RuleRun(_empty_warnings(), not_evaluated, gaps_frame)
    hits = pl.concat(frames, how="vertical_relaxed")
    warnings = carry_identities(
        _collapse(hits, month, config), earlier_warnings(con, district, month)
    )
    # no visit about a member the data says died (rules/deaths.py)
    warnings = warnings.filter(
        ~about_the_dead(warnings, deceased(con, district, month, current=warnings))
    )
    return RuleRun(warnings, not_evaluated, gaps_frame)


def _collapse(hits: pl.DataFrame, month: str, config: dict) -> pl.DataFrame:
    """One warning per (rule, household) for 户 rules, per (rule, member) for 人 rules."""
    hits = hits.with_columns(subject_expr().alias("subject"))
    # the strongest hit speaks for the warning: red first, then the largest amount, latest date;
    # in a register of held things the newest first (RuleSpec.newest_speaks); the first record
    # key breaks remaining ties so that reruns pick the same hit
    newest = [rule.code for rule in RULES if rule.newest_speaks]
    ordered = (
        hits.with_columns(
            pl.col("record_keys").list.first().alias("_first_record"),
            pl.when(pl.col("rule").is_in(newest)).then(pl.col("ev_date")).alias("_newest"),
        )
        .sort(
            [
                "rule",
                "subject",
                "red",
                "_newest",
                "ev_amount",
                "ev_date",
                "evidence_key",
                "_first_record",
            ],
            descending=[False, False, True, True, True, True, False, False],
            nulls_last=True,
        )  # fmt: skip
        .drop("_first_record", "_newest")
    )
    grouped = ordered.group_by(["rule", "subject"], maintain_order=True).agg(
        pl.all().exclude("record_keys").first(),
        pl.col("record_keys")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique()
        .sort()
        .alias("record_keys"),
        pl.col("red").any().alias("any_red"),
    )
    rows = []
    for hit in grouped.iter_rows(named=True):
        code = hit["rule"]
        rule = RULES_BY_CODE[code]
        rows.append(
            {
                "warning_id": warning_id(code, hit["subject"], hit["evidence_key"] or ""),
                "rule": code,
                "rule_name": rule.name,
                "risk_type": hit["risk_type"] or rule.risk_type,
                "direction": rule.direction.value,
                "level": _level(code, hit["any_red"], config),
                "department": rule.department,
                "source": rule.source,
                "household_id": hit["household_id"],
                "member_key": hit["member_key"],
                "evidence": rule.evidence(hit, month),
                "evidence_key": hit["evidence_key"] or "",
                "method": hit["method"] or "花名册成员（未见于部门名册）",
                "confidence": hit["confidence"] if hit["confidence"] is not None else 1.0,
                "record_keys": hit["record_keys"],
            }
        )
    return pl.DataFrame(rows, schema=WARNING_SCHEMA)


WARNING_SCHEMA = {
    "warning_id": pl.String,
    "rule": pl.String,
    "rule_name": pl.String,
    "risk_type": pl.String,
    "direction": pl.String,
    "level": pl.String,
    "department": pl.String,
    "source": pl.String,
    "household_id": pl.String,
    "member_key": pl.String,
    "evidence": pl.String,
    "evidence_key": pl.String,
    "method": pl.String,
    "confidence": pl.Float64,
    "record_keys": pl.List(pl.String),
}


def _empty_warnings() -> pl.DataFrame:
    return pl.DataFrame(schema=WARNING_SCHEMA)
