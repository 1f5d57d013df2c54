"""Export layer: one warning list per township, the district's files, and the export ledger."""

from datetime import date

import dagster as dg

from pipelines.assets.common import (
    deps,
    district_settings,
    file_spec,
    monthly_multi_asset,
    months,
    table_spec,
)
from pipelines.city.pickup import publish_cross_district_file
from pipelines.config import previous_month
from pipelines.partitions import PREVIOUS_MONTH, UP_TO_THIS_MONTH
from pipelines.publishing import (
    Signature,
    later_months_notice,
    later_published_months,
    paths,
    publish_district_files,
    publish_township_lists,
)
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_KEYS

EXPORTS_GROUP = "exports"
# tags a launcher may set on a run to say who started it (Dagster+ sets dagster/user); absent in
# a plain `fangfan run`, where the ledger records the OS user
USER_TAGS = ("dagster/user", "user")


def signature(context: dg.AssetExecutionContext) -> Signature:
    tags = context.run.tags
    return Signature(context.run.run_id, next((tags[t] for t in USER_TAGS if tags.get(t)), None))


@monthly_multi_asset(
    name="township_exports",
    specs=[
        table_spec(
            "listings",
            group=EXPORTS_GROUP,
            # this month's warnings on the roster's households, the answers so far (verified ones
            # are not listed again), and the latest earlier listing (open warnings carried on)
            depends_on=deps(
                "warnings",
                "households",
                "roster_members",
                "export_runs",
                months("feedback_answers", UP_TO_THIS_MONTH),
                months("listings", PREVIOUS_MONTH),
            ),
        ),  # fmt: skip
        table_spec("export_runs", group=EXPORTS_GROUP),
        file_spec(
            "township_exports",
            group=EXPORTS_GROUP,
            kinds=("csv", "xlsx"),
            description="乡镇预警清单：每个有预警的乡镇一个 CSV（UTF-8 BOM）与 XLSX，只含本乡镇农户；"
            "证件号码默认脱敏（exports/<月份>/<乡镇>.csv|.xlsx）",
            depends_on=deps("listings"),
        ),
    ],
)
def township_exports(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """The month's listing and its township files; the first export date of the month is kept."""
    fangfan, month = district_settings(context, fangfan)
    today = date.fromisoformat(fangfan.export_date) if fangfan.export_date else date.today()
    with fangfan.warehouse() as con:
        lists = publish_township_lists(
            con, fangfan.layout, district=fangfan.district_key, month=month,
            today=today, export_config=fangfan.rule_config()["export"],
            signature=signature(context),
        )  # fmt: skip
        later = later_published_months(con, fangfan.district_key, month)
    if later:  # a month run again after later months' lists went out (a 补报 file)
        context.log.warning(later_months_notice(later, month))
    listing = lists.listing
    by_status = dict(listing.group_by("status").len().iter_rows())
    yield dg.MaterializeResult(
        asset_key="export_runs", metadata={"export_date": str(lists.export_date)}
    )
    yield dg.MaterializeResult(
        asset_key="listings",
        metadata={
            "rows": listing.height,
            "carried_from_month": lists.carried_from or "无（此前没有导出记录）",
            "later_months_listed": "、".join(later) or "无",
            **{f"状态 · {k}": int(v) for k, v in sorted(by_status.items())},
        },
    )
    by_township = listing.group_by("township").len().sort("township")
    yield dg.MaterializeResult(
        asset_key="township_exports",
        metadata={
            "export_dir": dg.MetadataValue.path(str(fangfan.layout.exports(month))),
            "townships": by_township.height,
            "files_written": len(lists.files),
            **{f"乡镇 · {t}": int(n) for t, n in by_township.iter_rows()},
        },
    )


# what the district's files read beyond the listing: the month's data quality, matching and rule
# outcomes, the answers and first export dates so far, and the staged rows of 非本人 records
DISTRICT_INPUTS = deps(
    "listings", "source_status", "ingest_files", "rejects", "field_problems", "roster_members",
    "roster_findings", "record_matches", "unmatched_records", "match_quality", "rule_undecided",
    "negative_pairs", months("export_runs", UP_TO_THIS_MONTH), months("feedback_answers", UP_TO_THIS_MONTH),
    *(months(key, UP_TO_THIS_MONTH) for key in DEPARTMENT_KEYS),
)  # fmt: skip


@monthly_multi_asset(
    name="district_summary",
    specs=[
        file_spec(
            "district_summary",
            group=EXPORTS_GROUP,
            kinds=("xlsx", "html", "csv"),
            description="区级汇总：乡镇×规则、部门、逐月趋势、数据接收与质量、匹配情况、核实成效"
            "（区级汇总.xlsx / .html / .csv）",
            depends_on=DISTRICT_INPUTS,
        ),
        file_spec(
            "department_quality_workbooks",
            group=EXPORTS_GROUP,
            kinds=("xlsx",),
            description="部门数据质量反馈：每个部门一个工作簿（部门数据质量/<月份>_<部门>_数据质量反馈.xlsx）",
            depends_on=deps(
                "source_status",
                "ingest_files",
                "rejects",
                "field_problems",
                "unmatched_records",
                DEPARTMENT_KEYS,
            ),
        ),  # fmt: skip
        file_spec(
            "unresolved_records_list",
            group=EXPORTS_GROUP,
            kinds=("csv",),
            description="区级_未匹配与待确认.csv：未能唯一匹配、无法判断、不可判断、被核实为非本人而撤回的部门记录",
            depends_on=deps(
                "unmatched_records",
                "rule_undecided",
                "negative_pairs",
                "roster_members",
                *(months(key, UP_TO_THIS_MONTH) for key in DEPARTMENT_KEYS),
            ),
        ),  # fmt: skip
        file_spec(
            "cross_district_list",
            group=EXPORTS_GROUP,
            kinds=("csv",),
            description="区级_跨区县.csv（城市部署）：上月跨区县比对转来本区的他区部门记录（注明来源区县）"
            "与同时在他区花名册上的本区成员；读城市仓库上月的 cross_district_ties / "
            "cross_district_roster_findings（按月分区的城市资产偏移一个月映射到月×区县分区，"
            "Dagster 1.13 不能声明，故不画出）。没有时不生成文件",
            depends_on=deps("households", "roster_members"),
        ),
    ],
)
def district_summary(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """The district's files of the month, dated with its first export; in a city, the records
    routed to the district and its members on another roster (the city's ties of M−1)."""
    city_database = fangfan.city.database
    fangfan, month = district_settings(context, fangfan)
    root = fangfan.layout.exports(month)
    signed = signature(context)
    with fangfan.warehouse() as con:
        files = publish_district_files(
            con, fangfan.layout, district=fangfan.district_key, month=month,
            today=date.today(), signature=signed, settings=fangfan.settings_in_effect(),
        )  # fmt: skip
        cross = publish_cross_district_file(
            con, fangfan.layout, city_database, district=fangfan.district_key, month=month,
            mask=fangfan.rule_config()["export"]["mask_ids"], run_id=signed.run_id,
            user=signed.user,
        )  # fmt: skip
    yield dg.MaterializeResult(
        asset_key="cross_district_list",
        metadata={
            "files": paths([cross] if cross else [], root),
            "rows": cross.rows if cross else 0,
            "city_month": previous_month(month),
        },
    )
    for key, written in (
        ("district_summary", files.summary),
        ("department_quality_workbooks", files.department_workbooks),
        ("unresolved_records_list", files.unresolved),
    ):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={"files": paths(written, root), "rows": sum(f.rows for f in written)},
        )
