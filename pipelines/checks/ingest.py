"""Asset checks of every ingested source: schema and row accounting (read = kept + rejected)."""

from __future__ import annotations

import dagster as dg
import polars as pl

SCHEMA_CHECK = "staged_schema"
ROW_ACCOUNTING_CHECK = "row_accounting"


def ingest_check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """Both block the month: rows that break the staged schema, or a file whose rows do not add
    up, must not reach matching. A file that could not be read (or was cut short) is a warning,
    not a block, except the roster's: its households would be missing from the month, their
    department records unmatched and their warnings never raised (row_accounting_check)."""
    return [
        dg.AssetCheckSpec(
            SCHEMA_CHECK,
            asset=asset_key,
            description="入库行符合表结构（pandera）：不符的行不进入匹配（阻断本月）",
            blocking=True,
        ),
        dg.AssetCheckSpec(
            ROW_ACCOUNTING_CHECK,
            asset=asset_key,
            description="逐文件核对行数：读取 = 保留 + 退回 + 重复（不平则阻断本月）；有文件读不出"
            "或不完整时提示（花名册的阻断本月：该乡镇的农户会整体缺失）",
            blocking=True,
        ),
    ]


def schema_check(
    failures: pl.DataFrame, rows: int, asset_key: dg.AssetKey | None = None
) -> dg.AssetCheckResult:
    """The staged schema check of `rows` kept rows, from what it found in them
    (checks.schemas.schema_failures, run as they are staged: pipelines/staging.py)."""
    metadata: dict[str, dg.MetadataValue | int] = {"rows_checked": rows}
    for row in failures.iter_rows(named=True):
        metadata[f"{row['column']} · {row['check']}"] = int(row["failures"])
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=SCHEMA_CHECK,
        passed=failures.height == 0,
        metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR,
    )


def row_accounting_check(
    files: pl.DataFrame, asset_key: dg.AssetKey | None = None, *, incomplete_blocks: bool = False
) -> dg.AssetCheckResult:
    """Rows read = kept + rejected + duplicate in every file (an error), and no file failed or cut
    short (a warning; an error with `incomplete_blocks`: the roster, whose missing rows would take
    whole households out of the month: a UI run had published a month whose 东桥镇 roster file
    could not be read, green, the township's new warnings gone)."""
    if files.height == 0:
        return dg.AssetCheckResult(
            asset_key=asset_key, check_name=ROW_ACCOUNTING_CHECK, passed=True, metadata={"files": 0}
        )
    # a file delivered twice (status 'duplicate') counts its rows as duplicate, not kept
    duplicate = pl.col("rows_duplicate") if "rows_duplicate" in files.columns else pl.lit(0)
    unbalanced = files.filter(
        pl.col("rows_read") != pl.col("rows_kept") + pl.col("rows_rejected") + duplicate
    ).height
    failed = files.filter(pl.col("status") != "ok").height
    cut = files.filter(pl.col("status").is_in(["failed", "partial"]))
    incomplete = cut.height
    blocks = unbalanced or (incomplete_blocks and incomplete)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=ROW_ACCOUNTING_CHECK,
        passed=unbalanced == 0 and failed == 0,
        severity=dg.AssetCheckSeverity.ERROR if blocks else dg.AssetCheckSeverity.WARN,
        # which files, and why: what the UI shows and a failure notice says (notices.py)
        description=_incomplete_files(cut) if incomplete else None,
        metadata={
            "files": files.height,
            "files_failed": failed,
            "files_incomplete": incomplete,
            "files_unbalanced": unbalanced,
            "rows_read": int(files["rows_read"].sum()),
            "rows_kept": int(files["rows_kept"].sum()),
            "rows_rejected": int(files["rows_rejected"].sum()),
        },
    )


_SHOWN_FILES = 3


def _incomplete_files(files: pl.DataFrame) -> str:
    """The files not read, or not read whole, with their reasons (the first few): file names and
    reasons name no cell's value."""
    parts = []
    for row in files.head(_SHOWN_FILES).iter_rows(named=True):
        state = "读取失败" if row["status"] == "failed" else "文件不完整"
        reason = row.get("message") or ""
        parts.append(f"{row.get('file') or '文件'}（{state}）" + (f"：{reason}" if reason else ""))
    more = f"；另有 {files.height - _SHOWN_FILES} 个文件" if files.height > _SHOWN_FILES else ""
    return "；".join(parts) + more
