"""City layer: the districts of the data root as partitions, and the ties across districts.

`cross_district_ties` is partitioned by month only and reads month M of every district
(`EVERY_DISTRICT`): each district's warehouse read-only, the city warehouse written
(pipelines/city/ties.py). A district reads the ties routed to it in its next month's run.
"""

import dagster as dg

from pipelines.assets.common import CODE_VERSION, ui_description
from pipelines.city.schema import CITY_TABLE
from pipelines.city.ties import tie_city_month
from pipelines.partitions import EVERY_DISTRICT, district_partitions, monthly_partitions
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_KEYS

CITY_GROUP = "city"
CITY_INPUTS = [
    dg.AssetDep(key, partition_mapping=EVERY_DISTRICT)
    for key in ("roster_members", "unmatched_records", *DEPARTMENT_KEYS)
]


def _city_spec(table: str, depends_on: list[dg.AssetDep]) -> dg.AssetSpec:
    declared = CITY_TABLE[table]
    return dg.AssetSpec(
        table,
        group_name=CITY_GROUP,
        kinds={"duckdb", "polars"},
        description=ui_description(table, declared.description),
        deps=depends_on,
        code_version=CODE_VERSION,
        metadata={
            "dagster/table_name": f"city.{declared.name}",
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(c.name, c.type) for c in declared.columns]
            ),
            "key": ", ".join(declared.key),
        },
    )


@dg.multi_asset(
    name="cross_district_ties",
    specs=[
        _city_spec("cross_district_ties", CITY_INPUTS),
        _city_spec(
            "cross_district_warnings",
            [dg.AssetDep("cross_district_ties"), *CITY_INPUTS],
        ),
        _city_spec(
            "cross_district_roster_findings",
            [dg.AssetDep("roster_members", partition_mapping=EVERY_DISTRICT)],
        ),
    ],
    partitions_def=monthly_partitions,
)
def cross_district_ties(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """跨区县比对：本区未匹配、但证件号码属于他区花名册成员的部门记录，转给该区（注明来源区县）；
    同一人在两个区县花名册上，作为两区的数据质量问题。各区仓库只读，写入城市仓库。"""
    month = context.partition_key
    city = fangfan.city
    result, warnings = tie_city_month(city, month)
    if result.districts_missing:
        context.log.warning(
            f"{month}: no warehouse or roster yet for {', '.join(result.districts_missing)}"
        )
    ties = result.ties
    yield dg.MaterializeResult(
        asset_key="cross_district_ties",
        metadata={
            "city_warehouse": dg.MetadataValue.path(str(city.database)),
            "districts_read": ", ".join(result.districts_read) or "无",
            "districts_missing": ", ".join(result.districts_missing) or "无",
            "records_routed": ties.height,
            "warnings_routed": warnings.height,
            **{
                f"转入 · {district}": int(n)
                for district, n in ties.group_by("district").len().sort("district").iter_rows()
            },
        },
    )
    yield dg.MaterializeResult(
        asset_key="cross_district_warnings",
        metadata={
            "warnings": warnings.height,
            **{
                f"预警 · {district}": int(n)
                for district, n in warnings.group_by("district").len().sort("district").iter_rows()
            },
        },
    )
    findings = result.roster_findings
    yield dg.MaterializeResult(
        asset_key="cross_district_roster_findings",
        metadata={
            "members_on_two_rosters": findings["id_number"].n_unique(),
            "rows": findings.height,
        },
    )


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="区县分区：数据根目录（districts.toml 或每区一个文件夹）中的区县加为 district 分区，"
    "新增区县不需要改代码",
)
def district_partitions_sensor(context: dg.SensorEvaluationContext, fangfan: FangfanResource):
    codes = fangfan.city.codes
    known = set(context.instance.get_dynamic_partitions(district_partitions.name))
    new = [code for code in codes if code not in known]
    if not new:
        return dg.SkipReason(f"区县分区已是最新：{', '.join(codes)}")
    return dg.SensorResult(dynamic_partitions_requests=[district_partitions.build_add_request(new)])
