"""Identity layer: roster members and households of the month, routed to their 网格员."""

import dagster as dg
import polars as pl

from pipelines.assets.common import deps, district_settings, monthly_multi_asset, months, table_spec
from pipelines.partitions import PREVIOUS_MONTH
from pipelines.resources import FangfanResource
from pipelines.roster import undelivered_townships, write_roster
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
        missing = undelivered_townships(con, fangfan.district_key, month)
        if not missing:
            tables = write_roster(con, fangfan.district_key, month)
    if missing:
        raise dg.Failure(_undelivered(missing, month), metadata={"asset": "roster"})
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


def _undelivered(townships: list[str], month: str) -> str:
    """Why the month stops on a roster without some township's households."""
    named = "、".join(townships)
    return (
        f"农户花名册：本月花名册中没有{named}的农户，但上月花名册有、本月网格台账也有该乡镇"
        f"（可能漏报了该乡镇的花名册文件，或其行全部被退回）。请补报到 raw/{month}/roster/ 后重跑"
        f" {month}：否则其农户的部门数据无法匹配，新预警不会产生。如该乡镇确已撤并，"
        f"请同时更新网格台账（raw/{month}/grid/）后重跑"
    )
