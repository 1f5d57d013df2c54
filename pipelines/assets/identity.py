"""Identity layer: roster members and households of the month, routed to their 网格员."""

import dagster as dg
import polars as pl

from pipelines.assets.common import warehouse_asset
from pipelines.resources import FangfanResource
from pipelines.roster import build_roster
from pipelines.warehouse import read_frame, replace_partition


@warehouse_asset(
    group="identity",
    kinds={"duckdb", "polars"},
    deps=["roster", "grid"],
)
def roster_members(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> dg.MaterializeResult:
    """花名册成员与农户：每户关联网格与网格员；重复证件号码、无网格农户作为数据质量问题报告。"""
    month, district = context.partition_key, fangfan.district_key
    params = [district, month]
    with fangfan.warehouse() as con:
        staged = read_frame(
            con, "SELECT * FROM stg_roster WHERE district = ? AND month = ?", params
        )
        grid = read_frame(con, "SELECT * FROM stg_grid WHERE district = ? AND month = ?", params)
        tables = build_roster(staged.drop("district", "month"), grid.drop("district", "month"))
        replace_partition(con, "roster_members", tables.members, district=district, month=month)
        replace_partition(con, "households", tables.households, district=district, month=month)
        replace_partition(con, "roster_findings", tables.findings, district=district, month=month)
    counts = tables.findings.group_by("kind").len()
    households = tables.households
    return dg.MaterializeResult(
        metadata={
            "members": tables.members.height,
            "households": households.height,
            "monitored_households": households.filter(
                pl.col("household_type").is_in(["脱贫户", "监测户"])
            ).height,
            "townships": households["township"].n_unique(),
            **{f"finding · {k}": int(n) for k, n in counts.iter_rows()},
        }
    )
