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
    counts = dict(result.warnings.group_by("rule").len().iter_rows())
    metadata: dict = {"warnings": result.warnings.height}
    for rule in RULES:
        metadata[f"{rule.code} {rule.name}"] = (
            "未评估（来源未报送）"
            if rule.code in result.not_evaluated
            else int(counts.get(rule.code, 0))
        )
    return dg.MaterializeResult(metadata=metadata)
