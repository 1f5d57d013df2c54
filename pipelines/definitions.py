"""The one place the Dagster definitions are assembled."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.assets.exports import district_summary, township_exports
from pipelines.assets.feedback import verification_feedback
from pipelines.assets.identity import roster_members
from pipelines.assets.ingest import ingest_assets
from pipelines.assets.matching import match_quality, member_matches
from pipelines.assets.warnings import warnings
from pipelines.config import DATA_DIR_ENV, DISTRICT_ENV, EXPORT_DATE_ENV, RULES_ENV
from pipelines.resources import FangfanResource
from pipelines.runs import run_hygiene, terminal_logger
from pipelines.sensors import raw_files_arrival

MONTHLY_JOB = "monthly_run"
REPO_ROOT = Path(__file__).resolve().parents[1]

ALL_ASSETS = [
    *ingest_assets,
    verification_feedback,
    roster_members,
    member_matches,
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
    return FangfanResource(
        data_dir=_setting(DATA_DIR_ENV, str(REPO_ROOT / "data")),
        district=_setting(DISTRICT_ENV),
        rules_file=_setting(RULES_ENV),
        export_date=_setting(EXPORT_DATE_ENV),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[monthly_job],
        schedules=[monthly_schedule],
        sensors=[raw_files_arrival, run_hygiene],
        resources={"fangfan": build_resource()},
        # `fangfan run` selects this one: plain lines, no Dagster stack traces on the terminal;
        # runs that configure no logger (UI, tests) keep Dagster's console logger
        loggers={"terminal": terminal_logger},
        # runs launched from the UI (materialisations, backfills) run steps in one process too:
        # one DuckDB writer, and ~2.5x faster than one process per step on this workload
        executor=dg.in_process_executor,
    )
