"""Checks on match quality: a source's tie rate falling, or its rejects rising, month over month."""

from __future__ import annotations

import dagster as dg
import polars as pl

TIE_RATE_CHECK = "tie_rate_stable"
REJECT_RATE_CHECK = "reject_rate_low"
TIE_RATE_DROP_POINTS = 5.0
REJECT_RATE_LIMIT = 0.02


def match_check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            TIE_RATE_CHECK,
            asset=asset_key,
            description=f"各来源的匹配率比上月下降不超过 {TIE_RATE_DROP_POINTS:g} 个百分点",
        ),
        dg.AssetCheckSpec(
            REJECT_RATE_CHECK,
            asset=asset_key,
            description=f"各来源退回的行不超过 {REJECT_RATE_LIMIT:.0%}",
        ),
    ]


def tie_rate_check(current: pl.DataFrame, previous: pl.DataFrame) -> dg.AssetCheckResult:
    """`current`/`previous`: per source `source, tie_rate` (0–1)."""
    joined = current.join(
        previous.select("source", pl.col("tie_rate").alias("previous")), on="source", how="inner"
    ).with_columns(((pl.col("previous") - pl.col("tie_rate")) * 100).alias("drop_points"))
    fallen = joined.filter(pl.col("drop_points") > TIE_RATE_DROP_POINTS)
    metadata: dict = {"sources_compared": joined.height, "sources_fallen": fallen.height}
    for row in fallen.iter_rows(named=True):
        metadata[f"{row['source']} 匹配率下降(百分点)"] = round(row["drop_points"], 2)
    return dg.AssetCheckResult(
        check_name=TIE_RATE_CHECK,
        passed=fallen.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def reject_rate_check(current: pl.DataFrame) -> dg.AssetCheckResult:
    """`current`: per source `source, rows_read, rows_rejected`."""
    rates = current.filter(pl.col("rows_read") > 0).with_columns(
        (pl.col("rows_rejected").cast(pl.Float64) / pl.col("rows_read").cast(pl.Float64)).alias(
            "reject_rate"
        )
    )
    high = rates.filter(pl.col("reject_rate") > REJECT_RATE_LIMIT)
    metadata: dict = {"sources": rates.height, "sources_over_limit": high.height}
    for row in high.iter_rows(named=True):
        metadata[f"{row['source']} 退回率"] = round(row["reject_rate"], 4)
    return dg.AssetCheckResult(
        check_name=REJECT_RATE_CHECK,
        passed=high.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
