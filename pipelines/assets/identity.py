"""Identity layer: roster members and households of the month, routed to their 网格员."""

import dagster as dg
import polars as pl

from pipelines.assets.common import deps, district_settings, monthly_multi_asset, months, table_spec
from pipelines.partitions import PREVIOUS_MONTH
from pipelines.resources import FangfanResource
from pipelines.roster import write_roster
from pipelines.rules.catalogue import MONITORED_TYPES

IDENTITY_GROUP = "identity"
ROSTER_INPUTS = deps("roster", "grid")
# members keep the keys last month's roster gave them (roster._carry_keys): the latest earlier
# month keyed, which carries the keys of the months before it forward
CARRIED_KEYS = months("roster_members", PREVIOUS_MONTH)


@monthly_multi_asset(
    name="roster_members",
    specs=[
        table_spec(
            table,
            group=IDENTITY_GROUP,
            depends_on=[*ROSTER_INPUTS, CARRIED_KEYS],
            kinds=("duckdb", "polars"),
        )
        for table in ("roster_members", "households", "roster_findings")
    ],
)
def roster_members(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """花名册成员与农户：每户关联网格与网格员；重复证件号码、无网格农户作为数据质量问题报告。"""
    fangfan, month = district_settings(context, fangfan)
    with fangfan.warehouse() as con:
        tables = write_roster(con, fangfan.district_key, month)
    households = tables.households
    yield dg.MaterializeResult(
        asset_key="roster_members",
        # an unchanged snapshot (same fingerprint) reuses the keyed members of that month
        metadata={"members": tables.members, "reused_from": tables.reused_from or "—"},
    )
    yield dg.MaterializeResult(
        asset_key="households",
        metadata={
            "households": households.height,
            "monitored_households": households.filter(
                pl.col("household_type").is_in(MONITORED_TYPES)
            ).height,
            "townships": households["township"].n_unique(),
        },
    )
    counts = tables.findings.group_by("kind").len().sort("kind")
    yield dg.MaterializeResult(
        asset_key="roster_findings",
        metadata={f"finding · {kind}": int(n) for kind, n in counts.iter_rows()},
    )
