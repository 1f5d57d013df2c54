"""Rules layer: the month's warnings from the rule catalogue, with provenance of every record."""

import dagster as dg
import polars as pl

from pipelines.assets.common import deps, district_settings, monthly_multi_asset, months, table_spec
from pipelines.city.routing import add_routed_warnings
from pipelines.config import previous_month
from pipelines.evaluation import evaluate_month
from pipelines.partitions import PREVIOUS_MONTH, UP_TO_THIS_MONTH
from pipelines.resources import FangfanResource
from pipelines.rules.catalogue import RULES
from pipelines.sources import DEPARTMENT_KEYS

RULES_GROUP = "rules"
# what the rules read of the month: staged rows tied to members (the year's claims for YB01),
# households and members, and where the sources were incomplete or a row could not be read
RULE_INPUTS = deps(
    DEPARTMENT_KEYS,
    "record_matches", "unmatched_records", "medical_claims_ytd", "roster_members", "households",
    "source_status", "ingest_files", "rejects", "field_problems",
)  # fmt: skip


@monthly_multi_asset(
    name="warnings",
    specs=[
        # a warning keeps the id of the earliest earlier warning it continues (pipelines/rules/
        # continuity.py): each month's warnings carry their predecessors' ids forward
        table_spec(
            "warnings",
            group=RULES_GROUP,
            # and the answers in force at M: a death answered 不属实 (rules/deaths.py)
            depends_on=[
                *RULE_INPUTS,
                months("warnings", PREVIOUS_MONTH),
                months("feedback_answers", UP_TO_THIS_MONTH),
            ],
            kinds=("duckdb", "polars"),
        ),
        table_spec("warning_records", group=RULES_GROUP, depends_on=deps("warnings")),
        table_spec("rule_undecided", group=RULES_GROUP, depends_on=RULE_INPUTS),
        table_spec(
            "rules_not_evaluated",
            group=RULES_GROUP,
            depends_on=deps("source_status", "ingest_files"),
        ),
    ],
)
def warnings(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """本月预警：按规则目录（阈值来自配置）评估，每户/每人每规则一条，附预警依据与来源记录。
    城市部署中另加上月跨区县比对转来的预警（城市仓库 cross_district_warnings，依据注明来源区县；
    按月分区的城市资产偏移一个月，Dagster 不能声明，故不画出）。"""
    city_database = fangfan.city.database
    fangfan, month = district_settings(context, fangfan)
    with fangfan.warehouse() as con:
        result = evaluate_month(con, fangfan.district_key, month, fangfan.rule_config())
        # in a city: the warnings its rules raised last month over records of other districts
        routed = add_routed_warnings(
            con, city_database, fangfan.district_key, month, previous_month(month)
        )
    counts = dict(result.warnings.group_by("rule").len().iter_rows())
    metadata: dict = {
        "warnings": result.warnings.height + routed,
        "routed_from_other_districts": routed,
        # evaluated before from the same inputs (pipelines/evaluation.py rules_fingerprint)
        "reused": result.reused,
    }
    for rule in RULES:
        metadata[f"{rule.code} {rule.name}"] = (
            f"未评估（{result.not_evaluated[rule.code]}）"
            if rule.code in result.not_evaluated
            else int(counts.get(rule.code, 0))
        )
    yield dg.MaterializeResult(asset_key="warnings", metadata=metadata)
    yield dg.MaterializeResult(
        asset_key="warning_records",
        metadata={"records": result.warnings["record_keys"].list.len().sum()},
    )
    # the data could not decide: 无法判断 members, 不可判断 rows (listed for the district only)
    undecided = (
        result.undecided.group_by("rule", "kind")
        .len()
        .select(pl.concat_str("rule", "kind", separator=" "), "len")
        .sort("rule")
    )
    yield dg.MaterializeResult(
        asset_key="rule_undecided", metadata={key: int(n) for key, n in undecided.iter_rows()}
    )
    yield dg.MaterializeResult(
        asset_key="rules_not_evaluated", metadata={"rules": len(result.not_evaluated)}
    )
