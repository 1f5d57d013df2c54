"""The one place the Dagster definitions are assembled."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.assets.exports import district_summary, township_exports
from pipelines.assets.feedback import verification_feedback
from pipelines.assets.identity import roster_members
from pipelines.assets.ingest import ingest
from pipelines.assets.matching import match_quality, medical_claims_ytd, member_matches
from pipelines.assets.warnings import warnings
from pipelines.config import DATA_DIR_ENV, DISTRICT_ENV, EXPORT_DATE_ENV, RULES_ENV
from pipelines.ingest.history import CLAIMS, claims_months_to_ingest
from pipelines.resources import FangfanResource
from pipelines.runs import run_hygiene, terminal_logger
from pipelines.sensors import raw_files_arrival
from pipelines.staging import ACCOUNTING_TABLES
from pipelines.warehouse import open_warehouse

MONTHLY_JOB = "monthly_run"
CLAIMS_HISTORY_JOB = "claims_history"
REPO_ROOT = Path(__file__).resolve().parents[1]

ALL_ASSETS = [
    ingest,
    roster_members,
    verification_feedback,
    member_matches,
    medical_claims_ytd,
    match_quality,
    warnings,
    township_exports,
    district_summary,
]

monthly_job = dg.define_asset_job(
    MONTHLY_JOB,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="一个月的完整比对：读入各部门数据 → 匹配 → 预警 → 乡镇清单与区级汇总",
)

# YB01 sums the calendar year: an earlier month's claims, delivered without the rest of its
# month, are staged as that month's partition of medical_claims by a run of their own
claims_history_job = dg.define_asset_job(
    CLAIMS_HISTORY_JOB,
    selection=dg.AssetSelection.assets(CLAIMS, *ACCOUNTING_TABLES),
    executor_def=dg.in_process_executor,
    description="读入本年此前月份的医保结算明细（仅 medical_claims 及其读入记录），供 YB01 全年累计",
)

# Departments push last month's data by the 5th: run on the 6th, off until the district turns it on.
monthly_schedule = dg.build_schedule_from_partitioned_job(
    monthly_job,
    day_of_month=6,
    hour_of_day=2,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def _setting(env: str, default: str = "") -> str | dg.EnvVar:
    # EnvVar keeps the value out of the stored run config and shows its origin in the UI
    return dg.EnvVar(env) if os.environ.get(env) else default


def build_resource() -> FangfanResource:
    """The settings of runs launched from the UI or the daemon: from the environment."""
    return FangfanResource(
        data_dir=_setting(DATA_DIR_ENV, str(REPO_ROOT / "data")),
        district=_setting(DISTRICT_ENV),
        rules_file=_setting(RULES_ENV),
        export_date=_setting(EXPORT_DATE_ENV),
    )


def build_definitions(fangfan: FangfanResource | None = None) -> dg.Definitions:
    """The definitions with the run settings `fangfan` (default: from the environment)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[monthly_job, claims_history_job],
        schedules=[monthly_schedule],
        sensors=[raw_files_arrival, run_hygiene],
        resources={"fangfan": fangfan or build_resource()},
        # `fangfan run` selects this one: plain lines, no Dagster stack traces on the terminal;
        # runs that configure no logger (UI, tests) keep Dagster's console logger
        loggers={"terminal": terminal_logger},
        # runs launched from the UI (materialisations, backfills) run steps in one process too:
        # one DuckDB writer, and ~2.5x faster than one process per step on this workload
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


def claims_months_to_stage(fangfan: FangfanResource, month: str) -> list[str]:
    """Earlier months of M's year whose claims are in raw/ but not yet in the warehouse."""
    layout = fangfan.layout
    if not layout.database.exists():
        return claims_months_to_ingest(None, layout.raw, fangfan.district_key, month)
    with open_warehouse(layout.database, read_only=True) as con:
        return claims_months_to_ingest(con, layout.raw, fangfan.district_key, month)


def stage_claims_history(
    definitions: dg.Definitions,
    month: str,
    instance: dg.DagsterInstance,
    fangfan: FangfanResource | None = None,
) -> list[str]:
    """Stage the earlier claims months M needs, one run of CLAIMS_HISTORY_JOB per month (what
    `fangfan run` does before the month's run); returns the months."""
    settings = fangfan or build_resource().process_config_and_initialize()
    earlier = claims_months_to_stage(settings, month)
    job = definitions.resolve_job_def(CLAIMS_HISTORY_JOB)
    for earlier_month in earlier:
        result = job.execute_in_process(partition_key=earlier_month, instance=instance)
        if not result.success:
            raise RuntimeError(f"{CLAIMS} {earlier_month} could not be staged")
    return earlier
