"""What a district team sees of operations (issue 11 item 7): the thin Dagster side of
`pipelines/notices.py` (run-failure notices) and `pipelines/freshness.py` (late months).

- `run_failure_notice` (a run-failure sensor, on by default): for every failed run — launched
  from the UI, by the daemon, or by `fangfan run` (a run without a code location, hence
  `monitor_all_code_locations`) — writes one plain-language notice (district, month, failed step,
  what went wrong, what to do) to `<district data dir>/notices/运行失败通知.txt` and `.jsonl`, and
  shows it in the UI: as an event in the failed run's own log and in the sensor's log.
- `ran_on_time` (an asset check of `district_summary`, severity WARN): fails while some month
  whose department files have arrived was not run by the 10th of the next month; its metadata
  lists those months per district. The `month_lateness` sensor (on by default, every 10 minutes)
  evaluates it against the raw folders and the instance and records the result in the UI
  whenever it changes; a run of the monthly job evaluates it too (right after the month's
  summary), and it can be executed from the asset's page.

Why a check and not Dagster's `FreshnessPolicy`: the 1.13 policies (`FreshnessPolicy.cron`,
`.time_window`) judge an asset by its *latest materialisation of any partition*, so a backfill of
an old month makes every month look fresh, and they cannot see that a month's files have
arrived; `build_time_partition_freshness_checks` only looks at the newest time partition and
needs a time-partitioned (not month × district) asset. "Late" here depends on the raw folder of
each district and month, so the decision is ours (pure, tested) and Dagster only shows it.
"""

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import dagster as dg

from pipelines import freshness, notices
from pipelines.resources import FangfanResource

SUMMARY_ASSET = dg.AssetKey("district_summary")
ON_TIME_CHECK = "ran_on_time"
NOTICE_TAG = "fangfan/notice"
WILL_RETRY_TAG = "dagster/will_retry"  # set on a failed run when run retries are on


@dataclass(frozen=True)
class Place:
    """A district as the team knows it: its partition code, its name, its data directory."""

    code: str
    name: str
    root: Path


def places(fangfan: FangfanResource) -> tuple[list[Place], Path]:
    """The districts of the deployment and its data root (one district: the data directory)."""
    city = fangfan.city
    return [Place(d.code, d.name, Path(d.data_dir)) for d in city.districts], Path(city.root)


def _place_of(fangfan: FangfanResource, code: str | None) -> tuple[str | None, Path]:
    """(district name, notice folder) of a run's district code; the data root's notices for a
    run of no district (a city-level run)."""
    found, root = places(fangfan)
    for place in found:
        if place.code == code or (code is None and len(found) == 1):
            return place.name, place.root / notices.NOTICE_FOLDER
    return (code or "全市"), root / notices.NOTICE_FOLDER


# --- run failures -------------------------------------------------------------------------------


def _errors(error) -> tuple[tuple[str, str], ...]:
    chain = []
    while error is not None:
        chain.append((error.cls_name or "", error.message or ""))
        error = error.cause
    return tuple(chain)


def _step_failure(event: dg.DagsterEvent) -> notices.StepFailure:
    data = event.step_failure_data
    failure = data.user_failure_data
    named = failure.metadata.get("asset") if failure is not None else None
    return notices.StepFailure(
        step=event.step_key or "",
        asset=str(named.value) if named is not None else None,
        errors=_errors(data.error),
    )


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    """What the run's failed checks said of themselves (their descriptions: which files were not
    read whole, and why), for the notice."""
    said = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data if record.dagster_event else None
        if evaluation is not None and not evaluation.passed and evaluation.description:
            said.append(evaluation.description)
    return tuple(dict.fromkeys(said))


def _failed(
    instance: dg.DagsterInstance,
    fangfan: FangfanResource,
    run: dg.DagsterRun,
    step_failures: list[dg.DagsterEvent],
    run_message: str,
) -> tuple[notices.FailedRun, Path]:
    month, code = notices.run_partition(run.tags)
    name, folder = _place_of(fangfan, code)
    return notices.FailedRun(
        run_id=run.run_id,
        job=run.job_name,
        month=month,
        district=name,
        steps=tuple(_step_failure(e) for e in step_failures),
        run_message=run_message,
        when=datetime.now(freshness.TIMEZONE),
        checks=_failed_checks(instance, run.run_id),
    ), folder


def notice_failed_run(
    instance: dg.DagsterInstance,
    fangfan: FangfanResource,
    run: dg.DagsterRun,
    step_failures: list[dg.DagsterEvent],
    run_message: str,
) -> str | None:
    """Write the failed run's notice (once per run: the sensor finding it later writes
    nothing), show it in the run's own event log and tag the run; the notice's line with the
    file it went to, or None when the run had its notice already."""
    failed, folder = _failed(instance, fangfan, run, step_failures, run_message)
    item = notices.notice(failed)
    try:
        if not notices.append_notice(folder, item):
            return None
        line = f"{item.line()}（已写入 {folder / notices.TEXT_FILE}）"
    except OSError as error:
        # the failure itself may be why (a full disk, a folder not writable): the notice is
        # said where it can be, never in place of the run's own failure (an independent fault
        # probe, indep31: a traceback had hidden the failing step's line)
        reason = error.strerror or type(error).__name__
        line = f"{item.line()}（运行失败通知未能写入 {folder / notices.TEXT_FILE}：{reason}）"
    try:
        # shown in the failed run's own event log, where the team looks at the run
        instance.report_engine_event(line, dagster_run=run)
        instance.add_run_tags(run.run_id, {NOTICE_TAG: item.problem})
    except Exception:  # noqa: BLE001 — Dagster's storage on the same full disk: the line stays
        pass
    return line


def notice_recovered_run(
    instance: dg.DagsterInstance, fangfan: FangfanResource, run: dg.DagsterRun
) -> str | None:
    """When `run` (which went through) answers failure notices of its job, district and month
    still open, write its 【已恢复】 block and show it on the run; the line, or None (nothing
    was open, or the run had its block already). Best effort, as a failure's notice is."""
    month, code = notices.run_partition(run.tags)
    name, folder = _place_of(fangfan, code)
    try:
        failed = notices.open_failures(folder, run.job_name, name, month)
        if not failed:
            return None
        item = notices.recovery(
            run.run_id, run.job_name, name, month, failed, datetime.now(freshness.TIMEZONE)
        )
        if not notices.append_notice(folder, item):
            return None
    except OSError:
        return None  # the failure's notice still stands; the rerun's own line says it went through
    line = f"{item.line()}（已写入 {folder / notices.TEXT_FILE}）"
    with contextlib.suppress(Exception):  # the block is written; the event is a courtesy
        instance.report_engine_event(line, dagster_run=run)
    return line


@dg.run_failure_sensor(
    name="run_failure_notice",
    # `fangfan run` executes in its own process: its runs belong to no code location
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "运行失败时写一条中文通知（区县、月份、失败步骤、出了什么问题、怎么办）："
        "<区县数据目录>/notices/运行失败通知.txt（及 .jsonl），并记入该运行的日志"
    ),
)
def run_failure_notice(context: dg.RunFailureSensorContext, fangfan: FangfanResource):
    if context.dagster_run.tags.get(WILL_RETRY_TAG) == "true":
        # the city profile retries a failed run once: only a failure that stays is the team's
        context.log.info(
            f"运行 {context.dagster_run.run_id} 失败，将自动重试；重试也失败时才写通知"
        )
        return
    now = context.instance.get_run_by_id(context.dagster_run.run_id)
    if now is not None and now.status == dg.DagsterRunStatus.SUCCESS:
        # marked failed from outside while it ran on (the city's daemon lost its database for
        # a moment), then went through: no failure to tell (indep35 had a notice for it)
        context.log.info(
            f"运行 {context.dagster_run.run_id} 曾被标记为失败，但随后已运行完成：不写通知"
        )
        return
    item = notice_failed_run(
        context.instance,
        fangfan,
        context.dagster_run,
        context.get_step_failure_events(),
        context.failure_event.message or "",
    )
    if item is not None:
        context.log.info(item)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="run_recovery_notice",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "运行成功、且同一区县同一月份此前有失败通知未解决时，在"
        "<区县数据目录>/notices/运行失败通知.txt（及 .jsonl）写一条【已恢复】"
    ),
)
def run_recovery_notice(context: dg.RunStatusSensorContext, fangfan: FangfanResource):
    line = notice_recovered_run(context.instance, fangfan, context.dagster_run)
    if line is not None:
        context.log.info(line)


# --- late months ----------------------------------------------------------------------------------


def lateness(
    instance: dg.DagsterInstance, fangfan: FangfanResource, today: date | None = None
) -> list[freshness.MonthStatus]:
    """Every district month with arrived files: late, due or done."""
    found, _ = places(fangfan)
    arrivals = {
        (place.code, month): arrived
        for place in found
        for month, arrived in freshness.arrival_dates(place.root / "raw").items()
    }
    keys = instance.get_materialized_partitions(SUMMARY_ASSET) if arrivals else set()
    ran = freshness.ran_pairs(keys, found[0].code if len(found) == 1 else "")
    today = today or datetime.now(freshness.TIMEZONE).date()
    return freshness.evaluate(arrivals, ran, today, names={p.code: p.name for p in found})


def _table(statuses: list[freshness.MonthStatus]) -> str:
    lines = [
        "| 区县 | 月份 | 文件到达 | 应运行日期 | 逾期天数 |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {s.district} | {s.month} | {s.arrived} | {s.deadline} | {s.days_late} |"
        for s in statuses
    ]
    return "\n".join(lines)


def on_time_result(statuses: list[freshness.MonthStatus]) -> dg.AssetCheckResult:
    overdue = freshness.late(statuses)
    due = [s for s in statuses if s.state == freshness.DUE]
    metadata: dict = {
        "逾期未运行": len(overdue),
        "待运行": len(due),
        "说明": freshness.summary(statuses),
    }
    if overdue:
        metadata["逾期的月份"] = dg.MetadataValue.md(_table(overdue))
    return dg.AssetCheckResult(
        asset_key=SUMMARY_ASSET,
        check_name=ON_TIME_CHECK,
        passed=not overdue,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=freshness.summary(statuses),
    )


def _evaluation(result: dg.AssetCheckResult) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=SUMMARY_ASSET,
        check_name=ON_TIME_CHECK,
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
        description=result.description,
    )


@dg.asset_check(
    asset=SUMMARY_ASSET,
    name=ON_TIME_CHECK,
    blocking=False,
    description=(
        f"按时运行：部门文件已到的月份须在次月 {freshness.DEADLINE_DAY} 日前运行完（以区级汇总为准）；"
        "未通过时列出逾期的区县与月份（month_lateness 传感器每 10 分钟更新）"
    ),
)
def ran_on_time(context: dg.AssetCheckExecutionContext, fangfan: FangfanResource):
    return on_time_result(lateness(context.instance, fangfan))


@dg.sensor(
    name="month_lateness",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"逾期提醒：部门文件已到、过了次月 {freshness.DEADLINE_DAY} 日仍未运行的月份，"
        "在 district_summary 的 ran_on_time 检查中显示为未通过"
    ),
)
def month_lateness(context: dg.SensorEvaluationContext, fangfan: FangfanResource):
    statuses = lateness(context.instance, fangfan)
    result = on_time_result(statuses)
    text = freshness.summary(statuses)
    # the UI shows a check's result for the asset's latest materialisation: evaluate again after
    # every new one (a run that did not execute the check), and whenever the result changes
    latest = context.instance.get_latest_materialization_event(SUMMARY_ASSET)
    since = latest.timestamp if latest is not None else 0
    state = hashlib.sha1(f"{result.passed}|{text}|{since}".encode()).hexdigest()[:16]
    for status in freshness.late(statuses):
        context.log.warning(f"逾期未运行：{status.describe()}")
    if state == context.cursor:
        return dg.SkipReason(f"没有变化：{text}")
    return dg.SensorResult(asset_events=[_evaluation(result)], cursor=state, skip_reason=text)
