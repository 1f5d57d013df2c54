"""What a district picks up from the city warehouse (no Dagster here).

Month M of district D reads the city's ties of the month before (the city runs after every
district's month, so its findings reach each district's next month):

- records of other districts routed to D (their department listed one of D's roster members
  and could not tie the record there), each with its 来源区县, department, file and row;
- D's roster members who are also on another district's roster (a data-quality finding).

(The warnings the district's rules raise over the routed records reach its warnings and the
township lists through its `warnings` step: pipelines/city/routing.py.) They are written as one
district file `exports/<M>/区级_跨区县.csv` (UTF-8 BOM, cells made safe,
IDs masked unless `[export] mask_ids = false`), on the export ledger like every file that
leaves. Only D's own households are in it; townships' lists are unchanged. No rows: no file
(a district outside a city, or a city month without ties, exports exactly what it did before).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.city.schema import read_city
from pipelines.config import DataDir, previous_month
from pipelines.exports.ledger import file_sha256, log_exports
from pipelines.exports.township import (
    ExportedFile,
    csv_bytes,
    csv_data_rows,
    mask_ids,
    put_in_place,
    writing_beside,
)
from pipelines.sources import SOURCES

CROSS_DISTRICT_CSV = "区级_跨区县.csv"
ROUTED = "他区转来的部门记录"
TWICE = "同时在他区花名册上"
COLUMNS = (
    "类别", "乡镇", "村", "户编号", "姓名", "证件号码", "来源区县", "来源部门", "数据", "文件",
    "工作表", "行号", "说明",
)  # fmt: skip


def _source_label(key: str) -> tuple[str, str]:
    source = SOURCES.get(key)
    return (source.department, source.title) if source else ("", key)


def cross_district_rows(city_database: Path, district: str, month: str) -> pl.DataFrame:
    """The rows of D's file for month `month` (from the city's ties of the month before)."""
    before = previous_month(month)
    ties = read_city(city_database, "cross_district_ties", before, district)
    twice = read_city(city_database, "cross_district_roster_findings", before, district)
    rows = []
    for tie in ties.iter_rows(named=True):
        department, title = _source_label(tie["source"])
        rows.append(
            [ROUTED, tie["township"], tie["village"], tie["household_id"], tie["name"],
             tie["id_number"], tie["from_district"], department, title, tie["file"],
             tie["sheet"], str(tie["row_number"]),
             f"来源区县：{tie['from_district']}（{before}）。该记录在来源区县未能匹配，"
             "证件号码是本区花名册成员的：请按本区规则核实"]
        )  # fmt: skip
    for row in twice.iter_rows(named=True):
        rows.append(
            [TWICE, row["township"], row["village"], row["household_id"], row["name"],
             row["id_number"], row["other_district"], "", "花名册", "", "", "",
             f"同一证件号码也在{row['other_district']}花名册上（{row['other_township']}"
             f"{row['other_village']}，户编号 {row['other_household_id']}）：请两区核实户籍归属"]
        )  # fmt: skip
    return pl.DataFrame(rows, schema=list(COLUMNS), orient="row").sort(
        "类别", "乡镇", "村", "户编号", "证件号码", "来源区县", "文件", "行号"
    )


def publish_cross_district_file(
    con: duckdb.DuckDBPyConnection,
    layout: DataDir,
    city_database: Path,
    *,
    district: str,
    month: str,
    mask: bool,
    run_id: str | None,
    user: str | None,
) -> ExportedFile | None:
    """Write D's file of month `month` and put it on the ledger; None when there is nothing."""
    frame = cross_district_rows(city_database, district, month)
    path = layout.exports(month) / CROSS_DISTRICT_CSV
    if frame.height == 0:
        path.unlink(missing_ok=True)  # a rerun after the city's ties were withdrawn
        return None
    if mask:
        frame = frame.with_columns(mask_ids(pl.col("证件号码")).alias("证件号码"))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = csv_bytes(frame)
    # written beside, on the ledger, then put in place: as the township lists (publishing)
    with writing_beside(path.parent, "跨区县") as writing:
        written = writing / path.name
        written.write_bytes(data)
        rows = csv_data_rows(written)
        if rows != frame.height:
            raise RuntimeError(f"{path}: 写入 {frame.height} 行，读回 {rows} 行")
        exported = ExportedFile(
            township=None, path=path, rows=rows, sha256=file_sha256(written),
            columns=COLUMNS, ids_masked=mask, size=len(data),
        )  # fmt: skip
        log_exports(
            con, layout.root, [exported], district=district, month=month, run_id=run_id, user=user
        )
        put_in_place([(written, path)])
    return exported
