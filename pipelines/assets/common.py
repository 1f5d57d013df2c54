"""The one shape every asset here has: a month × district partition, the one-writer pool,
declared tables."""

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import dagster as dg
import polars as pl

from pipelines.partitions import context_partitions, month_district_partitions, month_of
from pipelines.resources import WRITER_POOL, FangfanResource
from pipelines.schema import TABLE, partition_rows

CODE_VERSION = "2"

Dep = str | dg.AssetDep


def deps(*items: Dep | Iterable[Dep]) -> list[dg.AssetDep]:
    """Asset keys (same month) and AssetDeps (other months), flattened."""
    flat: list[dg.AssetDep] = []
    for item in items:
        for dep in [item] if isinstance(item, str | dg.AssetDep) else item:
            flat.append(dep if isinstance(dep, dg.AssetDep) else dg.AssetDep(dep))
    return flat


def months(key: str, mapping: dg.PartitionMapping) -> dg.AssetDep:
    """A dependency on other months of `key` (pipelines.partitions)."""
    return dg.AssetDep(key, partition_mapping=mapping)


def table_metadata(table: str) -> dict:
    """The declared table behind an asset: its name and columns, shown in the UI."""
    declared = TABLE[table]
    return {
        "dagster/table_name": declared.name,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type) for c in declared.columns]
        ),
        "key": ", ".join(declared.key),
    }


# what the UI shows first for a table's asset, in the district team's language (the warehouse's
# own description, in English, follows it)
UI_TITLES = {
    "cross_district_roster_findings": "同一人（有效证件号码）在两个区县的花名册上：两边的数据质量问题",
    "export_runs": "各月首次导出的日期（重跑保持不变，核实截止日期不随之移动）；清单下发后才写入",
    "feedback_answers": "通过核对的乡镇核实结果（此前下发过的预警、核实结论、乡镇）",
    "field_problems": "保留行中无法识别的字段（入库为空），附原单元格内容",
    "ingest_files": "各来源每个文件（及工作表）的读取状态、原因和读取/保留/退回/跳过/重复行数",
    "listings": "各乡镇清单列出的预警：状态、首次预警月份、核实截止日期",
    "match_quality": "各来源的匹配质量：记录数、匹配、待确认、未匹配、证件号码纠错、匹配率",
    "match_quality_reasons": "各来源未能匹配的记录，按状态和原因计数",
    "record_matches": "与花名册成员一一匹配的部门记录：层级、匹配方式、置信度",
    "rejects": "未保留的行（身份无法使用，或未通过核实结果的核对），附文件、行号和原因",
    "roster_findings": "花名册数据质量问题：重复证件号码、重复成员、无网格农户、被 Excel 改写的证件号码等",
    "roster_members": "本月花名册成员，附跨月稳定的成员键和户主标记",
    "rules_not_evaluated": "本月未评估的规则及原因（写明来源和文件）",
    "unmatched_records": "没有匹配到人的部门记录：待确认（附候选人）或未匹配，及原因",
    "warning_records": "预警的来源记录：每条预警对应的部门记录（来源、文件、工作表、行号）",
    "warnings": "本月预警：规则、对象、依据（全文）、匹配方式、来源记录",
}


def ui_description(table: str, declared: str) -> str:
    """The Chinese title (UI_TITLES), then the table's declared description."""
    return f"{UI_TITLES[table]}\n\n{declared}" if table in UI_TITLES else declared


def table_spec(
    key: str,
    *,
    group: str,
    depends_on: Sequence[dg.AssetDep] = (),
    table: str | None = None,
    description: str | None = None,
    kinds: Iterable[str] = ("duckdb",),
) -> dg.AssetSpec:
    """An asset that is one declared warehouse table (by default the table named like the key)."""
    table = table or key
    return dg.AssetSpec(
        key,
        group_name=group,
        kinds=set(kinds),
        description=description or ui_description(table, TABLE[table].description),
        deps=list(depends_on),
        code_version=CODE_VERSION,
        metadata=table_metadata(table),
    )


def file_spec(
    key: str,
    *,
    group: str,
    kinds: Iterable[str],
    description: str,
    depends_on: Sequence[dg.AssetDep],
) -> dg.AssetSpec:
    """An asset that is files under exports/<M>/."""
    return dg.AssetSpec(
        key,
        group_name=group,
        kinds=set(kinds),
        description=description,
        deps=list(depends_on),
        code_version=CODE_VERSION,
    )


def monthly_multi_asset(
    *,
    name: str,
    specs: Sequence[dg.AssetSpec],
    check_specs: Sequence[dg.AssetCheckSpec] | None = None,
    can_subset: bool = False,
):
    """One computation over a month × district partition that writes the tables of `specs`: it queues
    in the one-writer pool, so DuckDB never sees two writers. Each asset it materialises records
    the step's seconds and, for a table, its rows for the partition (`measured`)."""
    asset = dg.multi_asset(
        name=name,
        specs=list(specs),
        check_specs=check_specs,
        partitions_def=month_district_partitions,
        pool=WRITER_POOL,
        can_subset=can_subset,
    )
    return lambda compute: asset(measured(compute))


def measured(compute: Callable[..., Iterator]) -> Callable[..., Iterator]:
    """The step `compute` with "step_seconds" (the whole step) and "rows" (a declared table's rows
    of the district and month, counted after the step closed its writer) added to the metadata
    of every MaterializeResult, so the UI shows month by month where the time goes. A run over a
    range of months (`ingest` accepts one) records each month's rows with that month."""

    @functools.wraps(compute)
    def step(context: dg.AssetExecutionContext, fangfan: FangfanResource) -> Iterator:
        started = time.perf_counter()
        results = list(compute(context, fangfan))
        seconds = round(time.perf_counter() - started, 2)
        keys = {
            r.asset_key.to_user_string()
            for r in results
            if isinstance(r, dg.MaterializeResult) and r.asset_key is not None
        }
        tables = sorted(k for k in keys if k in TABLE and _partitioned(TABLE[k]))
        settings = fangfan.at(context)
        partitions = context_partitions(context)
        counts: dict[str, dict[str, int]] = {}
        if tables:
            with settings.warehouse(read_only=True) as con:
                counts = {
                    str(key): partition_rows(con, tables, settings.district_key, month_of(key))
                    for key in partitions
                }
        if len(partitions) > 1:
            for key in partitions:
                for table, rows in counts.get(str(key), {}).items():
                    context.add_asset_metadata({"rows": rows}, asset_key=table, partition_key=key)
        own = counts.get(str(partitions[0]), {}) if len(partitions) == 1 else {}
        for result in results:
            if isinstance(result, dg.MaterializeResult) and result.asset_key is not None:
                key = result.asset_key.to_user_string()
                extra = {"step_seconds": seconds}
                if key in own:
                    extra["rows"] = own[key]
                result = dg.MaterializeResult(
                    asset_key=result.asset_key,
                    metadata={**(result.metadata or {}), **extra},
                    check_results=result.check_results,
                    data_version=result.data_version,
                    tags=result.tags,
                )
            yield result

    return step


def _partitioned(table) -> bool:  # noqa: ANN001 - a schema.Table
    return not table.append_only and "month" in table.column_names


def district_settings(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> tuple[FangfanResource, str]:
    """The settings of the partition's district (its data directory, warehouse and district key)
    and the partition's month."""
    return fangfan.at(context), month_of(context.partition_key)


def markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return "\n".join([header, rule, *rows])
