"""The one place the Dagster definitions are assembled."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.assets.city import CITY_GROUP, cross_district_ties, district_partitions_sensor
from pipelines.assets.exports import district_summary, township_exports
from pipelines.assets.feedback import verification_feedback
from pipelines.assets.identity import roster_members
from pipelines.assets.ingest import ingest
from pipelines.assets.matching import match_quality, medical_claims_ytd, member_matches
from pipelines.assets.warnings import warnings
from pipelines.config import DATA_DIR_ENV, DISTRICT_ENV, EXPORT_DATE_ENV, RULES_ENV
from pipelines.ingest.history import CLAIMS, claims_months_to_ingest
from pipelines.operations import (
    month_lateness,
    ran_on_time,
    run_failure_notice,
    run_recovery_notice,
)
from pipelines.partitions import district_partitions, month_runs, partition_key, run_target
from pipelines.resources import FangfanResource
from pipelines.runs import run_hygiene, terminal_logger
from pipelines.sensors import raw_files_arrival
from pipelines.sources import SOURCES, Source
from pipelines.staging import (
    ACCOUNTING_TABLES,
    SNAPSHOT_SOURCES,
    reading_ahead,
    staged_fingerprints,
)
from pipelines.warehouse import deferring_checkpoints, open_warehouse

MONTHLY_JOB = "monthly_run"
CITY_JOB = "city_ties"
DISTRICT_TAG = "fangfan/district"
CLAIMS_HISTORY_JOB = "claims_history"
REPO_ROOT = Path(__file__).resolve().parents[1]

# the steps of one district's month (month × district partitions)
DISTRICT_STEPS = [
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
ALL_ASSETS = [*DISTRICT_STEPS, cross_district_ties]
DISTRICT_ASSETS = dg.AssetSelection.all() - dg.AssetSelection.groups(CITY_GROUP)

monthly_job = dg.define_asset_job(
    MONTHLY_JOB,
    selection=DISTRICT_ASSETS,
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

# after every district ran month M: the records and roster members tied across districts
city_job = dg.define_asset_job(
    CITY_JOB,
    selection=dg.AssetSelection.groups(CITY_GROUP),
    executor_def=dg.in_process_executor,
    description="跨区县比对：各区县本月未匹配记录与他区花名册、两区花名册重复（写入城市仓库）",
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


def configured_resource() -> FangfanResource:
    """`build_resource()` initialised outside a run. Initialising opens an ephemeral Dagster
    instance; its context is closed here, or its SQLite connection would be left for the garbage
    collector after its engine is gone ('Cannot operate on a closed database' at exit)."""
    with build_resource().process_config_and_initialize_cm() as resource:
        return resource


def build_definitions(fangfan: FangfanResource | None = None) -> dg.Definitions:
    """The definitions with the run settings `fangfan` (default: from the environment)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[monthly_job, claims_history_job, city_job],
        schedules=[monthly_schedule],
        sensors=[
            raw_files_arrival,
            run_hygiene,
            district_partitions_sensor,
            run_failure_notice,
            run_recovery_notice,
            month_lateness,
        ],
        asset_checks=[ran_on_time],
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
    district: str | None = None,
) -> list[str]:
    """Stage the earlier claims months M needs with CLAIMS_HISTORY_JOB, one run over each stretch
    of consecutive months (what `fangfan run` does before the month's run); returns the months.
    `district`: the district's code in a city (default: the only district of the data directory)."""
    settings = fangfan or configured_resource()
    code = district or settings.city.codes[0]
    register_districts(instance, [code])
    earlier = claims_months_to_stage(settings.for_district(code), month)
    job = definitions.resolve_job_def(CLAIMS_HISTORY_JOB)
    # each month is read while the one before it is written; checkpointed by the next writer after
    with (
        reading_ahead(settings.for_district(code).layout, claims_plan(earlier)),
        deferring_checkpoints(),
    ):
        for months in month_runs(earlier):
            key, range_tags = run_target(months, code)
            result = job.execute_in_process(
                partition_key=key, instance=instance, tags={**district_tags(code), **range_tags}
            )
            if not result.success:
                raise RuntimeError(f"{CLAIMS} {', '.join(months)} could not be staged")
    return earlier


def claims_plan(months: list[str]) -> list[tuple[Source, str]]:
    """What the claims history runs of `months` read: their claims folders, in order."""
    return [(SOURCES[CLAIMS], month) for month in months]


def catch_up_plan(
    fangfan: FangfanResource, month: str, earlier: list[str]
) -> tuple[list[tuple[Source, str]], frozenset[tuple[str, str]]]:
    """What `fangfan run` reads ahead when it catches up the year's earlier claims months: their
    claims, then M's roster and grid (read while the last months are written and M's run starts;
    1M bench: the roster is 1M rows), and the snapshots the warehouse holds already (reused by
    M's run, so not read ahead). Nothing when there is nothing to catch up."""
    if not earlier:
        return [], frozenset()
    layout = fangfan.layout
    snapshots = [s for s in SNAPSHOT_SOURCES if layout.source_folder(month, s.key).is_dir()]
    staged: frozenset[tuple[str, str]] = frozenset()
    if layout.database.exists():
        with open_warehouse(layout.database, read_only=True) as con:
            staged = staged_fingerprints(con, fangfan.district_key)
    return claims_plan(earlier) + [(s, month) for s in snapshots], staged


def district_partition(
    month: str,
    fangfan: FangfanResource | None = None,
    instance: dg.DagsterInstance | None = None,
    district: str | None = None,
) -> dg.MultiPartitionKey:
    """The month × district partition of `month` of district `district` (default: the data
    directory's only district), added to `instance`'s district partitions when given."""
    settings = fangfan or configured_resource()
    code = district or settings.city.codes[0]
    if instance is not None:
        register_districts(instance, [code])
    return partition_key(month, code)


def register_districts(instance: dg.DagsterInstance, codes: list[str]) -> list[str]:
    """Add the districts not yet known to the instance as partitions of the district dimension;
    returns those added."""
    known = set(instance.get_dynamic_partitions(district_partitions.name))
    new = [code for code in codes if code not in known]
    if new:
        instance.add_dynamic_partitions(district_partitions.name, new)
    return new


def district_tags(code: str) -> dict[str, str]:
    """The tag naming a run's district (one run per district at a time: deploy/dagster_city.yaml;
    Dagster also tags partitioned runs `dagster/partition/district` itself)."""
    return {DISTRICT_TAG: code}
