"""Export layer: one warning list per township, the district summary, and the export ledger."""

from datetime import date

import dagster as dg

from pipelines.assets.common import warehouse_asset
from pipelines.exports.ledger import append_entries, mirror_to_warehouse
from pipelines.exports.summary import SUMMARY_XLSX, write_district_files
from pipelines.exports.township import build_listing, export_date_for, write_township_files
from pipelines.feedback import effective_verdicts
from pipelines.resources import FangfanResource
from pipelines.warehouse import replace_partition, scalar

# tags a launcher may set on a run to say who started it (Dagster+ sets dagster/user); absent in
# a plain `fangfan run`, where the ledger records the OS user
USER_TAGS = ("dagster/user", "user")


def launching_user(context: dg.AssetExecutionContext) -> str | None:
    tags = context.run.tags
    return next((tags[t] for t in USER_TAGS if tags.get(t)), None)


@warehouse_asset(
    group="exports",
    kinds={"csv", "xlsx"},
    deps=["warnings", "verification_feedback"],
)
def township_exports(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> dg.MaterializeResult:
    """乡镇预警清单：每个有预警的乡镇一个 CSV（UTF-8 BOM）与 XLSX，只含本乡镇农户；证件号码默认脱敏。"""
    month, district = context.partition_key, fangfan.district_key
    config = fangfan.rule_config()["export"]
    out_dir = fangfan.layout.exports(month)
    today = date.fromisoformat(fangfan.export_date) if fangfan.export_date else date.today()
    with fangfan.warehouse() as con:
        export_date = export_date_for(con, district, month, today)
        verified = set(effective_verdicts(con, district, month)["warning_id"].to_list())
        listing, carried_from = build_listing(
            con, district=district, month=month, export_date=export_date,
            deadline_days=int(config["deadline_days"]), verified=verified,
        )  # fmt: skip
        files = write_township_files(
            listing, out_dir, mask=bool(config["mask_ids"]), xlsx=bool(config["xlsx"]),
            export_date=export_date,
        )  # fmt: skip
        replace_partition(
            con, "listings", listing.drop("record_keys"), district=district, month=month
        )
        # every file that left: the append-only ledger outside the warehouse, mirrored in export_log
        entries = append_entries(
            fangfan.layout.root, files, district=district, month=month,
            run_id=context.run.run_id, user=launching_user(context),
        )  # fmt: skip
        mirror_to_warehouse(con, entries)
    by_status = dict(listing.group_by("status").len().iter_rows())
    by_township = listing.group_by("township").len().sort("township")
    return dg.MaterializeResult(
        metadata={
            "export_dir": dg.MetadataValue.path(str(out_dir)),
            "export_date": str(export_date),
            "townships": by_township.height,
            "rows": listing.height,
            "files_written": len(files),
            "carried_from_month": carried_from or "无（此前没有导出记录）",
            **{f"状态 · {k}": int(v) for k, v in by_status.items()},
            **{f"乡镇 · {t}": int(n) for t, n in by_township.iter_rows()},
        }
    )


@warehouse_asset(
    group="exports",
    kinds={"xlsx"},
    deps=["township_exports"],
)
def district_summary(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> dg.MaterializeResult:
    """区级汇总：乡镇×规则、部门、逐月趋势、数据接收与质量、匹配情况。"""
    month, district = context.partition_key, fangfan.district_key
    out_dir = fangfan.layout.exports(month)
    with fangfan.warehouse() as con:
        export_date = scalar(
            con,
            "SELECT export_date FROM export_runs WHERE district = ? AND month = ?",
            [district, month],
        )
        files = write_district_files(
            con, district=district, month=month, out_dir=out_dir,
            export_date=export_date or date.today(),
        )  # fmt: skip
        entries = append_entries(
            fangfan.layout.root, files, district=district, month=month,
            run_id=context.run.run_id, user=launching_user(context),
        )  # fmt: skip
        mirror_to_warehouse(con, entries)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.path(str(out_dir / SUMMARY_XLSX)),
            "files_written": len(files),
        }
    )
