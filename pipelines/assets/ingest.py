"""Ingest layer: one asset per source folder of raw/<M>/, made by a factory over the registry."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from pipelines.assets.common import warehouse_asset
from pipelines.checks.ingest import ingest_check_specs, row_accounting_check, schema_check
from pipelines.ingest.grid import stage_grid
from pipelines.ingest.history import CLAIMS, claims_months_to_ingest
from pipelines.ingest.stage import StagedSource, stage_source
from pipelines.resources import FangfanResource
from pipelines.sources import DEPARTMENT_SOURCES, GRID, ROSTER, Source
from pipelines.warehouse import replace_partition, table_exists

INGEST_GROUP = "ingest"


def write_staged(
    con: duckdb.DuckDBPyConnection,
    source_key: str,
    staged: StagedSource,
    *,
    district: str,
    month: str,
    snapshot_month: str | None = None,
) -> None:
    """Replace this month's staged rows, rejects, file accounting and receipt status of a source."""
    by_source = ("source = ?", [source_key])
    table = f"stg_{source_key}"
    if staged.records.width:
        replace_partition(con, table, staged.records, district=district, month=month)
    elif table_exists(con, table):
        con.execute(f"DELETE FROM {table} WHERE district = ? AND month = ?", [district, month])
    for name, frame in (
        ("rejects", staged.rejects),
        ("ingest_files", staged.files),
        ("field_problems", staged.field_problems),
    ):
        if frame.width:
            replace_partition(
                con, name, frame, district=district, month=month, extra_where=by_source
            )
        elif table_exists(con, name):
            con.execute(
                f"DELETE FROM {name} WHERE district = ? AND month = ? AND source = ?",
                [district, month, source_key],
            )
    status = pl.DataFrame(
        {
            "source": [source_key],
            "received": [staged.received],
            "snapshot_month": [snapshot_month or month],
            "files": [staged.files.height],
            "records": [staged.records.height],
            "rejected": [staged.rejects.height],
            "field_problems": [staged.field_problems.height],
        }
    )
    replace_partition(
        con, "source_status", status, district=district, month=month, extra_where=by_source
    )


def staged_metadata(staged: StagedSource, folder: Path) -> dict:
    files = staged.files
    metadata: dict = {
        "received": staged.received,
        "folder": dg.MetadataValue.path(str(folder)),
        "files": files.height,
        "rows_kept": staged.records.height,
        "rows_rejected": staged.rejects.height,
        # kept rows with a field that could not be read (the field is null, the row is kept)
        "rows_with_field_problems": staged.field_problems["record_key"].n_unique(),
    }
    if files.height:
        metadata["rows_read"] = int(files["rows_read"].sum())
        metadata["files_failed"] = files.filter(pl.col("status") == "failed").height
        metadata["files_partial"] = files.filter(pl.col("status") == "partial").height
        metadata["files_duplicate"] = files.filter(pl.col("status") == "duplicate").height
        metadata["per_file"] = dg.MetadataValue.md(
            _markdown(
                files.select(
                    "file",
                    "sheet",
                    "status",
                    "rows_read",
                    "rows_kept",
                    "rows_rejected",
                    "rows_skipped",
                    "rows_duplicate",
                )
            )
        )
    if not staged.received:
        metadata["note"] = "未报送：本月未收到该来源文件夹（不代表无预警）"
    return metadata


def ingest_result(source: Source, staged: StagedSource, metadata: dict) -> dg.MaterializeResult:
    """The materialisation of an ingested source, with its schema and row-accounting checks."""
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[schema_check(source, staged.records), row_accounting_check(staged.files)],
    )


def _markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return "\n".join([header, rule, *rows])


def latest_snapshot_folder(raw: Path, month: str, source_key: str) -> tuple[Path, str] | None:
    """Roster and grid are snapshots: when M has none, the latest earlier month's stands in."""
    candidates = sorted(
        (
            p.parent.name
            for p in raw.glob(f"*/{source_key}")
            if p.is_dir() and p.parent.name <= month
        ),
        reverse=True,
    )
    return (raw / candidates[0] / source_key, candidates[0]) if candidates else None


def _snapshot_asset(source: Source) -> dg.AssetsDefinition:
    stage = stage_grid if source is GRID else (lambda folder, m: stage_source(ROSTER, folder, m))

    @warehouse_asset(
        name=source.key,
        group=INGEST_GROUP,
        kinds={"duckdb", "polars"},
        check_specs=ingest_check_specs(dg.AssetKey(source.key)),
        description=f"{source.title}（{source.department}）：整份快照；本月缺失时沿用最近一期并注明",
    )
    def _asset(context: dg.AssetExecutionContext, fangfan: FangfanResource) -> dg.MaterializeResult:
        month = context.partition_key
        layout = fangfan.layout
        found = latest_snapshot_folder(layout.raw, month, source.key)
        if found is None:
            raise dg.Failure(
                f"{source.title}：raw/ 下没有 {month} 或更早月份的 {source.key} 文件夹，无法运行",
            )
        folder, snapshot_month = found
        staged = stage(folder, month)
        if staged.records.height == 0:
            raise dg.Failure(
                f"{source.title}：{folder} 中没有可用的数据行（见 rejects / ingest_files）"
            )
        with fangfan.warehouse() as con:
            write_staged(
                con, source.key, staged,
                district=fangfan.district_key, month=month, snapshot_month=snapshot_month,
            )  # fmt: skip
        metadata = staged_metadata(staged, folder)
        if snapshot_month != month:
            metadata["note"] = f"本月未报送，沿用 {snapshot_month} 的快照"
            context.log.warning(f"{source.key}: no {month} snapshot, using {snapshot_month}")
        return ingest_result(source, staged, metadata)

    return _asset


def _department_asset(source: Source) -> dg.AssetsDefinition:
    @warehouse_asset(
        name=source.key,
        group=INGEST_GROUP,
        kinds={"duckdb", "polars"},
        check_specs=ingest_check_specs(dg.AssetKey(source.key)),
        description=f"{source.department}·{source.title}：表头别名、编码识别、类型化与证件号码规范化；"
        "不能用的行进入 rejects",
    )
    def _asset(context: dg.AssetExecutionContext, fangfan: FangfanResource) -> dg.MaterializeResult:
        month = context.partition_key
        layout = fangfan.layout
        folder = layout.source_folder(month, source.key)
        staged = stage_source(source, folder, month)
        metadata = staged_metadata(staged, folder)
        with fangfan.warehouse() as con:
            write_staged(con, source.key, staged, district=fangfan.district_key, month=month)
            if source.key == "medical_claims":
                metadata["earlier_months_ingested"] = (
                    ", ".join(ingest_earlier_claims(con, layout.raw, fangfan.district_key, month))
                    or "无"
                )
        if not staged.received:
            context.log.warning(f"{source.key}: not received for {month}")
        return ingest_result(source, staged, metadata)

    return _asset


def ingest_earlier_claims(
    con: duckdb.DuckDBPyConnection, raw: Path, district: str, month: str
) -> list[str]:
    """YB01 sums the calendar year: earlier months in raw/ but not yet in the warehouse come in now."""
    source = next(s for s in DEPARTMENT_SOURCES if s.key == CLAIMS)
    months = claims_months_to_ingest(con, raw, district, month)
    for earlier in months:
        staged = stage_source(source, raw / earlier / source.key, earlier)
        write_staged(con, source.key, staged, district=district, month=earlier)
    return months


roster_asset = _snapshot_asset(ROSTER)
grid_asset = _snapshot_asset(GRID)
department_assets = [_department_asset(source) for source in DEPARTMENT_SOURCES]
ingest_assets = [roster_asset, grid_asset, *department_assets]
