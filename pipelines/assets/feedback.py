"""Feedback layer: 非本人 answers become record identities never to be tied to that member again."""

import dagster as dg

from pipelines.assets.common import deps, district_settings, monthly_multi_asset, months, table_spec
from pipelines.feedback import write_negative_pairs
from pipelines.partitions import EARLIER_MONTHS, UP_TO_THIS_MONTH
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_KEYS

LIFECYCLE_GROUP = "lifecycle"


@monthly_multi_asset(
    name="verification_feedback",
    specs=[
        table_spec(
            "negative_pairs",
            group=LIFECYCLE_GROUP,
            # the answers in force at M, and the records behind the warnings they answer (staged
            # in earlier months); the warnings themselves are read from warning_records and
            # listings of earlier months, which Dagster cannot draw (they would close a cycle)
            depends_on=deps(
                months("feedback_answers", UP_TO_THIS_MONTH),
                *(months(key, EARLIER_MONTHS) for key in DEPARTMENT_KEYS),
            ),
        )
    ],
)
def verification_feedback(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """乡镇核实为非本人的预警：其背后的部门记录今后不再与该成员匹配（本月起生效）。"""
    fangfan, month = district_settings(context, fangfan)
    with fangfan.warehouse() as con:
        pairs = write_negative_pairs(con, fangfan.district_key, month)
    yield dg.MaterializeResult(
        asset_key="negative_pairs", metadata={"negative_pairs_added": pairs.height}
    )
