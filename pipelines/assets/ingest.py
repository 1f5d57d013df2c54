"""Ingest layer: every source folder of raw/<M>/ staged in one step, one asset per source."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.assets.common import markdown, monthly_multi_asset, table_spec
from pipelines.checks.ingest import ingest_check_specs, row_accounting_check, schema_check
from pipelines.config import previous_month
from pipelines.feedback import ReturnedLists
from pipelines.freshness import holds_month_to_run
from pipelines.ingest.stage import StagedSource
from pipelines.notices import scrub
from pipelines.partitions import context_partitions, month_of
from pipelines.publishing import unpublished_previous_month
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_SOURCES, FEEDBACK, GRID, ROSTER, Source
from pipelines.staging import ACCOUNTING_TABLES, NothingToStage, Staged, ingest_sources
from pipelines.warehouse import other_districts, other_districts_message

INGEST_GROUP = "ingest"
# one month of a run: its partition, the results of its selected assets, what was staged
StagedMonth = tuple[dg.MultiPartitionKey, list[dg.MaterializeResult], list[Staged]]
CHECKED_SOURCES: tuple[Source, ...] = (ROSTER, GRID, *DEPARTMENT_SOURCES)


def _description(source: Source) -> str:
    if source in (ROSTER, GRID):
        return f"{source.title}（{source.department}）：整份快照；本月缺失时沿用最近一期并注明"
    if source is FEEDBACK:
        return (
            "乡镇核实结果：退回的预警清单（raw/<月份>/feedback/），逐行核对预警编号、核实结果与乡镇；"
            "核对依据是此前各月的 listings（跨月读取，Dagster 不能画出：会形成环）"
        )
    return (
        f"{source.department}·{source.title}：表头别名、编码识别、类型化与证件号码规范化；"
        "不能用的行进入 rejects"
    )


SOURCE_SPECS = [
    table_spec(
        source.key,
        group=INGEST_GROUP,
        table=f"stg_{source.key}",
        description=_description(source),
        kinds=("duckdb", "polars"),
    )
    for source in (*CHECKED_SOURCES, FEEDBACK)
]
ANSWERS_SPEC = table_spec("feedback_answers", group=INGEST_GROUP)
ACCOUNTING_SPECS = [table_spec(table, group=INGEST_GROUP) for table in ACCOUNTING_TABLES]


def staged_metadata(staged: StagedSource, folder: Path, *, kept: int) -> dict:
    files = staged.files
    metadata: dict = {
        "received": staged.received,
        "folder": dg.MetadataValue.path(str(folder)),
        "files": files.height,
        "rows_kept": kept,
        "rows_rejected": staged.rejects.height,
        # kept rows with a field that could not be read (the field is null, the row is kept)
        "rows_with_field_problems": staged.field_problems["record_key"].n_unique(),
    }
    if files.height:
        metadata["rows_read"] = int(files["rows_read"].sum())
        metadata["files_failed"] = files.filter(pl.col("status") == "failed").height
        metadata["files_partial"] = files.filter(pl.col("status") == "partial").height
        metadata["files_duplicate"] = files.filter(pl.col("status") == "duplicate").height
        trouble = files.filter(pl.col("status") != "ok")
        if trouble.height:
            # why, as the run output says it (file names and the reader's reason, scrubbed)
            metadata["problem_files"] = dg.MetadataValue.md(
                markdown(
                    trouble.select(
                        "file", "sheet", "status",
                        pl.col("message").map_elements(scrub, return_dtype=pl.String),
                    )
                )
            )  # fmt: skip
        metadata["per_file"] = dg.MetadataValue.md(
            markdown(
                files.select(
                    "file", "sheet", "status", "rows_read", "rows_kept", "rows_rejected",
                    "rows_skipped", "rows_duplicate",
                )
            )
        )  # fmt: skip
    if not staged.received:
        metadata["note"] = "未报送：本月未收到该来源文件夹（不代表无预警）"
    return metadata


def _results(
    context: dg.AssetExecutionContext, staged: Staged, month: str
) -> list[dg.MaterializeResult]:
    """What one staged source gave (the feedback with its checked answers), as results."""
    source = staged.source
    metadata = staged_metadata(staged.staged, staged.folder, kept=staged.kept)
    if staged.fingerprint is not None:
        metadata["fingerprint"] = staged.fingerprint[:12]
    if staged.reused_from is not None:
        metadata["reused_from"] = staged.reused_from  # the same files as then: not read again
    if staged.snapshot_month != month:
        metadata["note"] = f"本月未报送，沿用 {staged.snapshot_month} 的快照"
        context.log.warning(f"{source.key}: no {month} snapshot, using {staged.snapshot_month}")
    elif not staged.staged.received and source is not FEEDBACK:
        context.log.warning(f"{source.key}: not received for {month}")
    for row in staged.staged.files.filter(pl.col("status").is_in(["failed", "partial"])).rows(
        named=True
    ):
        what = "读取失败" if row["status"] == "failed" else "文件不完整"
        context.log.warning(
            f"{source.key} {source.title} · {row['file']}（{what}）：{scrub(row['message'] or '')}"
        )
    checks = _checks(context, [staged])
    # the data version is the folder's fingerprint, so the UI's stale markers follow the files
    # (it had been the code version: after a file changed and was read again, every downstream
    # asset still showed fresh)
    version = dg.DataVersion(staged.fingerprint) if staged.fingerprint is not None else None
    results = [
        dg.MaterializeResult(
            asset_key=source.key, metadata=metadata, check_results=checks, data_version=version
        )
    ]
    if staged.returned is not None:
        results.append(_answers_result(staged.returned))
    return results


def _answers_result(returned: ReturnedLists) -> dg.MaterializeResult:
    by_verdict = returned.answers.group_by("verdict").len().sort("verdict").iter_rows()
    rejected = returned.rejected
    reasons = rejected["reason"] if rejected.height else pl.Series([], dtype=pl.String)
    return dg.MaterializeResult(
        asset_key="feedback_answers",
        metadata={
            "answers": returned.answers.height,
            "rejected_by_check": rejected.height,
            "other_township_rejected": int(reasons.str.contains("其他乡镇").sum()),
            **{f"核实结果 · {verdict}": int(n) for verdict, n in by_verdict},
        },
    )


@monthly_multi_asset(
    name="ingest",
    specs=[*SOURCE_SPECS, ANSWERS_SPEC, *ACCOUNTING_SPECS],
    check_specs=[c for s in CHECKED_SOURCES for c in ingest_check_specs(dg.AssetKey(s.key))],
    can_subset=True,
)
def ingest(context: dg.AssetExecutionContext, fangfan: FangfanResource) -> Iterator:
    """Every selected source of raw/<M>/ read, typed and normalised, with its rejected rows,
    per-file accounting and receipt status (roster and grid first: without them no month runs).
    A run for earlier months' claims only (year-to-date) selects medical_claims and the
    accounting tables; `fangfan run` asks for those months as one run over their range, staged
    month after month, each month's metadata recorded with its own partition."""
    fangfan = fangfan.at(context)
    partitions = context_partitions(context)
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    # results are yielded once the warehouse is closed: a generator paused inside the connection
    # would keep it open if Dagster stopped the step there
    chosen = [
        source
        for source in (*CHECKED_SOURCES, FEEDBACK)
        if ({source.key, "feedback_answers"} if source is FEEDBACK else {source.key}) & selected
    ]
    done: list[StagedMonth] = []
    monthly = ROSTER in chosen  # a month's own run (the year's claims history reads claims only)
    if monthly:
        _check_settings(fangfan)
    try:
        with fangfan.warehouse() as con:
            held = other_districts(con, fangfan.district_key)
            if held:
                message = other_districts_message(
                    fangfan.layout.database, fangfan.district_key, held
                )
                raise dg.Failure(message, metadata={"asset": "district_key"})
            for key in partitions:
                month = month_of(key)
                if monthly:
                    _check_previous_month(con, fangfan, month)
                try:
                    staged = ingest_sources(
                        con, fangfan.layout, chosen, district=fangfan.district_key, month=month
                    )
                except NothingToStage as error:
                    raise dg.Failure(str(error), metadata={"asset": error.source.key}) from None
                results = [r for one in staged for r in _results(context, one, month)]
                chosen_results = [r for r in results if r.asset_key.to_user_string() in selected]
                done.append((key, chosen_results, staged))
    except BaseException:
        if len(partitions) > 1:
            _record_staged_months(context, done, [t for t in ACCOUNTING_TABLES if t in selected])
        raise
    if len(partitions) == 1:
        yield from done[0][1]
    else:
        yield from _range_results(context, done)
    for table in ACCOUNTING_TABLES:
        if table in selected:
            # its rows of the month: added by `measured` (assets/common.py), as for every table
            yield dg.MaterializeResult(asset_key=table)


def _check_settings(fangfan: FangfanResource) -> None:
    """The district's settings are checked before any data is read, as `fangfan run` does (a
    run started from the UI had re-read and re-matched the month before its warnings step met a
    typo in rules.toml, reported as an internal error)."""
    try:
        fangfan.rule_config()
    except (ValueError, FileNotFoundError) as error:
        raise dg.Failure(f"规则设置有误，未运行：{error}", metadata={"asset": "settings"}) from None


def _check_previous_month(con, fangfan: FangfanResource, month: str) -> None:  # noqa: ANN001
    """M is not run on top of a month whose lists never went out (publishing.unpublished_previous_month)."""
    has_data = holds_month_to_run(fangfan.layout.raw / previous_month(month))
    before = unpublished_previous_month(
        con, fangfan.district_key, month, previous_has_data=has_data
    )
    if before is not None:
        raise dg.Failure(
            f"上月（{before}）的数据已到，但乡镇清单没有生成（没有运行，或运行失败、被中止）："
            f"请先运行 {before} 并确认成功，再运行 {month}。否则 {before} 的新预警不会下发，"
            f"其未核实的预警也不会延续到 {month} 的清单",
            metadata={"asset": "previous_month"},
        )


def _range_results(
    context: dg.AssetExecutionContext,
    done: list[StagedMonth],
) -> Iterator[dg.MaterializeResult]:
    """One result per asset for a run over several months: each month's metadata goes with its
    own partition; a check judges the months together (one evaluation per run)."""
    for key, results, _ in done:
        for result in results:
            context.add_asset_metadata(
                dict(result.metadata or {}), asset_key=result.asset_key, partition_key=key
            )
    months = [month_of(key) for key, _, _ in done]
    by_asset = [staged for _, _, month_staged in done for staged in month_staged]
    for asset_key in dict.fromkeys(r.asset_key for _, results, _ in done for r in results):
        of_asset = [s for s in by_asset if s.source.key == asset_key.to_user_string()]
        checks = _checks(context, of_asset) if of_asset else []
        yield dg.MaterializeResult(
            asset_key=asset_key,
            metadata={"months": ", ".join(months)},
            check_results=checks,
        )


def _checks(context: dg.AssetExecutionContext, staged: list[Staged]) -> list[dg.AssetCheckResult]:
    """The selected checks of one source over its staged months (one, or a run's range): schema
    failures summed over the months, the accounting of every file of every month."""
    source = staged[0].source
    with_checks = [s for s in staged if s.schema_failures is not None]
    if source not in CHECKED_SOURCES or not with_checks:
        return []
    failures = pl.concat([s.schema_failures for s in with_checks])
    if failures.height:
        failures = failures.group_by("column", "check", maintain_order=True).agg(
            pl.col("failures").sum()
        )
    key = dg.AssetKey(source.key)
    results = [
        schema_check(failures, sum(s.kept for s in with_checks), asset_key=key),
        row_accounting_check(
            pl.concat([s.staged.files for s in staged], how="diagonal"),
            asset_key=key,
            incomplete_blocks=source is ROSTER,
        ),
    ]
    return [
        result
        for result in results
        if dg.AssetCheckKey(key, result.check_name) in context.selected_asset_check_keys
    ]


def _record_staged_months(
    context: dg.AssetExecutionContext, done: list[StagedMonth], tables: list[str]
) -> None:
    """A run over several months failed part-way: the months staged before the failure are in
    the warehouse (each committed on its own), so they are recorded as materialised (their
    sources with their metadata, and the accounting `tables`); the next run stages the rest."""
    for key, results, _ in done:
        for asset_key, metadata in [
            *((r.asset_key, dict(r.metadata or {})) for r in results),
            *((dg.AssetKey(table), {}) for table in tables),
        ]:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=asset_key,
                    partition=str(key),
                    description="staged before a later month of the same run failed",
                    metadata=metadata,
                )
            )
