"""Score a month's warnings against a synthetic district's truth: precision and recall per rule."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.rules.catalogue import RULES, Level

PERSON_RULES = [r.code for r in RULES if r.level is Level.PERSON]


def _key(frame: pl.DataFrame) -> pl.DataFrame:
    """(rule, household, member ID for 人 rules) — the unit one warning stands for."""
    return frame.with_columns(
        pl.when(pl.col("rule").is_in(PERSON_RULES))
        .then(pl.col("member_id_number").fill_null(""))
        .otherwise(pl.lit(""))
        .alias("member_id_number")
    ).select("rule", "household_id", "member_id_number")


def produced_warnings(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """The month's warnings: rule, household, the warned member's ID in the roster, and what is
    left of it when Excel destroyed it (its certain digits and the member's birth date)."""
    return con.sql(
        """SELECT w.rule, w.household_id, r.id_number AS member_id_number,
                  r.id_prefix AS member_id_prefix, r.birth_date AS member_birth
           FROM warnings w LEFT JOIN roster_members r
             ON r.district = w.district AND r.month = w.month AND r.member_key = w.member_key
           WHERE w.district = $d AND w.month = $m""",
        params={"d": district, "m": month},
    ).pl()


def _with_destroyed_ids_resolved(produced: pl.DataFrame, expected: pl.DataFrame) -> pl.DataFrame:
    """A 人 warning whose member has no usable ID in the roster (Excel destroyed it: 3.41502E+17)
    names no ID the truth can be compared with: it takes the ID of the one expected member of its
    rule and household whose ID carries the member's birth date and begins with the digits that
    survived (id_prefix, when at least the area code did), when no other warning of that rule and
    household names that ID and no other such warning could take it. Twins of one household
    stay unresolved (counted as wrong). Without those columns (frames built by hand) nothing
    moves."""
    if "member_id_prefix" not in produced.columns:
        return produced
    rows = produced.with_row_index("_row")
    open_ = rows.filter(
        pl.col("rule").is_in(PERSON_RULES)
        & pl.col("member_id_number").is_null()
        & (pl.col("member_id_prefix").is_not_null() | pl.col("member_birth").is_not_null())
    )
    if open_.is_empty():
        return produced
    named = rows.filter(pl.col("member_id_number").is_not_null()).select(
        "rule", "household_id", pl.col("member_id_number").alias("truth_id")
    )
    candidates = (
        open_.join(
            expected.select("rule", "household_id", pl.col("member_id_number").alias("truth_id")),
            on=["rule", "household_id"],
        )
        .filter(
            (
                pl.col("member_id_prefix").is_null()
                | pl.col("truth_id").str.starts_with(pl.col("member_id_prefix"))
            )
            & (
                pl.col("member_birth").is_null()
                | (
                    pl.col("truth_id").str.slice(6, 8)
                    == pl.col("member_birth").dt.strftime("%Y%m%d")
                )
            )
        )
        .join(named, on=["rule", "household_id", "truth_id"], how="anti")
        .unique(["_row", "truth_id"])
    )
    one = candidates.filter(
        (pl.len().over("_row") == 1) & (pl.len().over("rule", "household_id", "truth_id") == 1)
    ).select("_row", "truth_id")
    return (
        rows.join(one, on="_row", how="left")
        .with_columns(pl.coalesce("member_id_number", "truth_id").alias("member_id_number"))
        .drop("_row", "truth_id")
    )


def score(produced: pl.DataFrame, expected: pl.DataFrame) -> pl.DataFrame:
    """Per rule: expected, produced, true positives, precision, recall, recall on recoverable."""
    produced = _with_destroyed_ids_resolved(produced, expected)
    got = _key(produced).unique().with_columns(pl.lit(True).alias("produced"))
    want = expected.with_columns(
        pl.col("recoverable").cast(pl.String).str.to_lowercase().is_in(["true", "1", "yes"])
        if "recoverable" in expected.columns
        else pl.lit(True).alias("recoverable")
    )
    want = (
        _key(want)
        .with_columns(want["recoverable"])
        .unique(["rule", "household_id", "member_id_number"])
    )
    joined = want.with_columns(pl.lit(True).alias("expected")).join(
        got, on=["rule", "household_id", "member_id_number"], how="full", coalesce=True
    )
    rows = []
    for rule in RULES:
        part = joined.filter(pl.col("rule") == rule.code)
        expected_n = part.filter(pl.col("expected").fill_null(False)).height
        produced_n = part.filter(pl.col("produced").fill_null(False)).height
        hits = part.filter(
            pl.col("expected").fill_null(False) & pl.col("produced").fill_null(False)
        )
        recoverable = part.filter(
            pl.col("expected").fill_null(False) & pl.col("recoverable").fill_null(False)
        )
        recoverable_hits = recoverable.filter(pl.col("produced").fill_null(False)).height
        rows.append(
            {
                "rule": rule.code,
                "expected": expected_n,
                "produced": produced_n,
                "true_positives": hits.height,
                "precision": hits.height / produced_n if produced_n else None,
                "recall": hits.height / expected_n if expected_n else None,
                "recall_recoverable": recoverable_hits / recoverable.height
                if recoverable.height
                else None,
            }
        )
    return pl.DataFrame(rows)


def score_month(database: Path, truth_dir: Path, district: str, month: str) -> pl.DataFrame:
    expected = pl.read_csv(truth_dir / month / "expected_warnings.csv", infer_schema=False)
    with duckdb.connect(str(database), read_only=True) as con:
        produced = produced_warnings(con, district, month)
    return score(produced, expected)


def format_score(table: pl.DataFrame) -> str:
    def pct(value: float | None) -> str:
        return "   —  " if value is None else f"{value:6.3f}"

    lines = ["规则   应有  产生  命中  精确率  召回率  可恢复召回率"]
    for row in table.iter_rows(named=True):
        lines.append(
            f"{row['rule']}  {row['expected']:>5} {row['produced']:>5} {row['true_positives']:>5}"
            f"  {pct(row['precision'])}  {pct(row['recall'])}  {pct(row['recall_recoverable'])}"
        )
    totals = table.select(pl.col("expected", "produced", "true_positives").sum()).row(0, named=True)
    precision = totals["true_positives"] / totals["produced"] if totals["produced"] else None
    recall = totals["true_positives"] / totals["expected"] if totals["expected"] else None
    lines.append(
        f"合计  {totals['expected']:>5} {totals['produced']:>5} {totals['true_positives']:>5}"
        f"  {pct(precision)}  {pct(recall)}"
    )
    return "\n".join(lines)


def truth_records(truth_dir: Path, month: str) -> pl.DataFrame:
    """The generator's record truth keyed like the warehouse: record_key -> true member_key."""
    truth = pl.read_csv(truth_dir / month / "record_truth.csv", infer_schema=False)
    return truth.select(
        pl.concat_str(
            [pl.col("source"), pl.col("file"), pl.col("sheet").fill_null(""), pl.col("row_number")],
            separator="|",
        ).alias("record_key"),
        "source",
        pl.when(pl.col("household_id").is_not_null() & pl.col("member_id_number").is_not_null())
        .then(pl.concat_str(["household_id", "member_id_number"], separator="|"))
        .alias("true_member"),
        pl.col("household_id").alias("true_household"),
        pl.col("recoverable").str.to_lowercase().is_in(["true", "1", "yes"]).alias("recoverable"),
        pl.col("mess").fill_null("").str.contains("bad_row").alias("bad_row"),
    )


def score_matches(matches: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Per tier and overall: ties, correct ties, precision; recall and F1 over recoverable records.

    `matches`: record_key, member_key, household_id, tier, method (household-level records count
    as correct when they name the right household).
    """
    scored = (
        truth.filter(~pl.col("bad_row"))
        .join(matches, on="record_key", how="left")
        .with_columns(
            pl.col("member_key").is_not_null().alias("tied"),
            (
                (pl.col("member_key") == pl.col("true_member"))
                | (
                    pl.col("method").str.contains("户级")
                    & (pl.col("household_id") == pl.col("true_household"))
                )
            )
            .fill_null(False)
            .alias("correct"),
        )
    )
    should = scored.filter(pl.col("true_member").is_not_null() & pl.col("recoverable")).height
    rows = []
    for tier, part in sorted(
        scored.filter(pl.col("tied")).partition_by("tier", as_dict=True).items()
    ):
        ties, correct = part.height, part["correct"].sum()
        rows.append(
            {"tier": str(tier[0]), "ties": ties, "correct": correct, "precision": correct / ties}
        )
    ties = scored["tied"].sum()
    correct = scored["correct"].sum()
    recovered = scored.filter(pl.col("recoverable") & pl.col("true_member").is_not_null())[
        "correct"
    ].sum()
    precision = correct / ties if ties else 0.0
    recall = recovered / should if should else 0.0
    rows.append(
        {
            "tier": "all",
            "ties": ties,
            "correct": correct,
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        }
    )
    return pl.DataFrame(
        rows,
        schema={
            "tier": pl.String,
            "ties": pl.Int64,
            "correct": pl.Int64,
            "precision": pl.Float64,
            "recall": pl.Float64,
            "f1": pl.Float64,
        },
    )


def format_profile_scores(tables: dict[str, pl.DataFrame]) -> str:
    """Per rule, precision / recall / F1 of each mess profile side by side (tables from `score`)."""

    def cell(tp: int, produced: int, expected: int) -> str:
        if not produced and not expected:
            return f"{'—':^20}"
        p = tp / produced if produced else 0.0
        r = tp / expected if expected else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        precision = f"{p:5.3f}" if produced else "  —  "
        return f"{precision} {r:5.3f} {f1:5.3f}  "

    profiles = list(tables)
    lines = [
        "规则  " + "".join(f"{name:^20}" for name in profiles),
        "      " + "  P     R     F1    " * len(profiles),
    ]
    for rule in RULES:
        parts = []
        for name in profiles:
            row = tables[name].filter(pl.col("rule") == rule.code).row(0, named=True)
            parts.append(cell(row["true_positives"], row["produced"], row["expected"]))
        lines.append(f"{rule.code}  " + "".join(parts))
    totals = []
    for name in profiles:
        t = tables[name].select(pl.col("expected", "produced", "true_positives").sum()).row(0)
        totals.append(cell(t[2], t[1], t[0]))
    lines.append("合计  " + "".join(totals))
    return "\n".join(lines)
