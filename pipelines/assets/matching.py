"""Matching layer: every department record of the month tied to one roster member, or listed."""

import dagster as dg
import polars as pl

from pipelines.assets.common import deps, district_settings, monthly_multi_asset, months, table_spec
from pipelines.checks.matching import match_check_specs, reject_rate_check, tie_rate_check
from pipelines.ingest.history import CLAIMS, claims_months_to_ingest
from pipelines.linkage import MonthTies, match_month, tie_earlier_claims, untied_claim_months
from pipelines.partitions import (
    EARLIER_MONTHS_OF_THE_YEAR,
    PREVIOUS_MONTH,
    UP_TO_THIS_MONTH,
    district_of,
    partition_key,
)
from pipelines.quality import write_quality
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_KEYS

MATCHING_GROUP = "matching"
# 非本人 answers up to M forbid their record identities being tied to that member again
MATCH_INPUTS = deps("roster_members", months("negative_pairs", UP_TO_THIS_MONTH), DEPARTMENT_KEYS)


def _tie_metadata(ties: MonthTies) -> dict:
    matches, unresolved = ties.matches, ties.unresolved
    total = matches.height + unresolved.height
    metadata: dict = {
        "records": total,
        "tied": matches.height,
        "tie_rate": round(matches.height / total, 4) if total else 0.0,
    }
    for tier, n in matches.group_by("tier").len().sort("tier").iter_rows():
        metadata[f"tier · {tier}"] = int(n)
    return metadata


def _unresolved_metadata(unresolved: pl.DataFrame) -> dict:
    return {
        "ambiguous": unresolved.filter(pl.col("status") == "ambiguous").height,
        "unmatched": unresolved.filter(pl.col("status") == "unmatched").height,
    }


@monthly_multi_asset(
    name="member_matches",
    specs=[
        table_spec(table, group=MATCHING_GROUP, depends_on=MATCH_INPUTS, kinds=("duckdb", "polars"))
        for table in ("record_matches", "unmatched_records")
    ],
)
def member_matches(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """部门记录与花名册成员的匹配：逐层（证件号码、纠错、姓名+出生日期、姓名+村），不确定的进入待确认清单。"""
    fangfan, month = district_settings(context, fangfan)
    with fangfan.warehouse() as con:
        ties = match_month(con, fangfan.district_key, month)
    yield dg.MaterializeResult(
        asset_key="record_matches", metadata={**_tie_metadata(ties), "reused": ties.reused}
    )
    yield dg.MaterializeResult(
        asset_key="unmatched_records", metadata=_unresolved_metadata(ties.unresolved)
    )


@monthly_multi_asset(
    name="medical_claims_ytd",
    specs=[
        dg.AssetSpec(
            "medical_claims_ytd",
            group_name=MATCHING_GROUP,
            kinds={"duckdb", "polars"},
            code_version="2",
            description=(
                "本年累计医保结算（YB01）：本年此前各月已读入、但没有本月运行匹配过的医保结算明细，"
                "以本月花名册匹配，写入其所属月份的 record_matches / unmatched_records"
            ),
            deps=deps(
                months(CLAIMS, EARLIER_MONTHS_OF_THE_YEAR),
                months("source_status", EARLIER_MONTHS_OF_THE_YEAR),
                months("record_matches", EARLIER_MONTHS_OF_THE_YEAR),
                "roster_members",
                months("negative_pairs", UP_TO_THIS_MONTH),
            ),
        )
    ],
)
def medical_claims_ytd(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """The year's earlier claims months, each staged as its own partition of medical_claims,
    tied against this month's roster where no run of their own month tied them."""
    fangfan, month = district_settings(context, fangfan)
    district = fangfan.district_key
    with fangfan.warehouse() as con:
        missing = claims_months_to_ingest(con, fangfan.layout.raw, district, month)
        if missing:
            raise dg.Failure(
                f"YB01 需要全年累计：raw/ 中有 {', '.join(missing)} 的医保结算明细尚未读入。"
                f"请先物化 {CLAIMS} 的这些月份（fangfan run 会自动先读入）",
                metadata={"asset": "medical_claims_ytd"},
            )
        tied = tie_earlier_claims(con, district, month, untied_claim_months(con, district, month))
    for earlier, ties in tied.items():
        # these rows live in the earlier month's partitions: the UI shows them materialised
        for key, metadata in (
            ("record_matches", _tie_metadata(ties)),
            ("unmatched_records", _unresolved_metadata(ties.unresolved)),
        ):
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=key,
                    partition=partition_key(earlier, district_of(context.partition_key)),
                    description=f"{CLAIMS} of {earlier} tied against the {month} roster by medical_claims_ytd",
                    metadata={**metadata, "roster_month": month},
                )
            )
    yield dg.MaterializeResult(
        asset_key="medical_claims_ytd",
        metadata={
            "earlier_claim_months_tied": ", ".join(tied) or "无",
            "records": sum(t.matches.height + t.unresolved.height for t in tied.values()),
        },
    )


@monthly_multi_asset(
    name="match_quality",
    specs=[
        table_spec(
            "match_quality",
            group=MATCHING_GROUP,
            depends_on=deps(
                "record_matches",
                "unmatched_records",
                "ingest_files",
                months("match_quality", PREVIOUS_MONTH),
            ),
        ),  # fmt: skip
        table_spec(
            "match_quality_reasons", group=MATCHING_GROUP, depends_on=deps("unmatched_records")
        ),
    ],
    check_specs=match_check_specs(dg.AssetKey("match_quality")),
)
def match_quality(context: dg.AssetExecutionContext, fangfan: FangfanResource):
    """匹配质量：每个来源的记录数、匹配、待确认、未匹配（按原因）、证件号码纠错数与退回率。"""
    fangfan, month = district_settings(context, fangfan)
    with fangfan.warehouse() as con:
        per_source, previous = write_quality(con, fangfan.district_key, month)
    metadata: dict = {}
    for row in per_source.iter_rows(named=True):
        rate = row["tie_rate"]
        metadata[f"{row['source']} 匹配率"] = round(rate, 4) if rate is not None else "无记录"
    yield dg.MaterializeResult(
        asset_key="match_quality",
        metadata=metadata,
        check_results=[
            tie_rate_check(per_source.drop_nulls("tie_rate"), previous),
            reject_rate_check(per_source),
        ],
    )
    yield dg.MaterializeResult(asset_key="match_quality_reasons")
