"""Rules layer: the month's warnings from the rule catalogue, with provenance of every record."""

import dagster as dg
import polars as pl

from pipelines.assets.common import warehouse_asset
from pipelines.resources import FangfanResource
from pipelines.rules.catalogue import RULES
from pipelines.rules.evaluate import evaluate_rules
from pipelines.warehouse import replace_partition


def received_sources(con, district: str, month: str) -> set[str]:
    rows = con.execute(
        "SELECT source FROM source_status WHERE district = ? AND month = ? AND received",
        [district, month],
    ).fetchall()
    return {r[0] for r in rows}


def provenance(warnings: pl.DataFrame) -> pl.DataFrame:
    """One row per (warning, department record): source, file, sheet, row number."""
    parts = (
        warnings.select("warning_id", "record_keys")
        .explode("record_keys")
        .drop_nulls("record_keys")
        .rename({"record_keys": "record_key"})
    )
    split = pl.col("record_key").str.split("|")
    return parts.with_columns(
        split.list.get(0).alias("source"),
        split.list.get(1).alias("file"),
        split.list.get(2).alias("sheet"),
        split.list.get(3).cast(pl.Int64, strict=False).alias("row_number"),
    )


@warehouse_asset(
    group="rules",
    kinds={"duckdb", "polars"},
    deps=["member_matches"],
)
def warnings(context: dg.AssetExecutionContext, fangfan: FangfanResource) -> dg.MaterializeResult:
    """本月预警：按规则目录（阈值来自配置）评估，每户/每人每规则一条，附预警依据与来源记录。"""
    month, district = context.partition_key, fangfan.district_key
    config = fangfan.rule_config()
    with fangfan.warehouse() as con:
        received = received_sources(con, district, month)
        result = evaluate_rules(
            con, district=district, month=month, config=config, received=received
        )
        replace_partition(con, "warnings", result.warnings, district=district, month=month)
        replace_partition(
            con, "warning_records", provenance(result.warnings), district=district, month=month
        )
        replace_partition(con, "rule_undecided", result.undecided, district=district, month=month)
        replace_partition(
            con, "rules_not_evaluated", not_evaluated_frame(result), district=district, month=month
        )
    counts = dict(result.warnings.group_by("rule").len().iter_rows())
    undecided = dict(
        result.undecided.group_by("rule", "kind")
        .len()
        .select(pl.concat_str("rule", "kind", separator=" "), "len")
        .iter_rows()
    )
    metadata: dict = {"warnings": result.warnings.height}
    for rule in RULES:
        metadata[f"{rule.code} {rule.name}"] = (
            f"未评估（{result.not_evaluated[rule.code]}）"
            if rule.code in result.not_evaluated
            else int(counts.get(rule.code, 0))
        )
    # the data could not decide: 无法判断 members, 不可判断 rows (listed for the district only)
    for key, n in sorted(undecided.items()):
        metadata[key] = int(n)
    return dg.MaterializeResult(metadata=metadata)


def not_evaluated_frame(result) -> pl.DataFrame:
    """Rules not evaluated this month and why (named sources and files), for run output and summary."""
    return pl.DataFrame(
        {"rule": list(result.not_evaluated), "reason": list(result.not_evaluated.values())},
        schema={"rule": pl.String, "reason": pl.String},
    )
