"""A month's files leave the pipeline: township lists, district files, each on the export ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.config import DataDir, previous_month
from pipelines.exports.departments import FOLDER as DEPARTMENT_FOLDER
from pipelines.exports.ledger import log_exports
from pipelines.exports.summary import UNRESOLVED_CSV, district_files_ready
from pipelines.exports.township import (
    ExportedFile,
    build_listing,
    export_date_for,
    record_export,
    township_files_ready,
)
from pipelines.feedback import effective_verdicts
from pipelines.warehouse import replace_partition, scalar


@dataclass(frozen=True)
class Signature:
    """Who exports, under which run: what the ledger records beside each file."""

    run_id: str | None
    user: str | None


@dataclass(frozen=True)
class TownshipLists:
    listing: pl.DataFrame
    files: list[ExportedFile]
    export_date: date
    carried_from: str | None  # the earlier month open warnings were carried from


def publish_township_lists(
    con: duckdb.DuckDBPyConnection,
    layout: DataDir,
    *,
    district: str,
    month: str,
    today: date,
    export_config: dict,
    signature: Signature,
) -> TownshipLists:
    """This month's listing (new warnings and those still open, verified ones left out), one
    CSV/XLSX per township, listings and export_runs written, every file on the ledger."""
    export_date = export_date_for(con, district, month, today)
    verified = set(effective_verdicts(con, district, month)["warning_id"].to_list())
    listing, carried_from = build_listing(
        con, district=district, month=month, export_date=export_date,
        deadline_days=int(export_config["deadline_days"]), verified=verified, today=today,
    )  # fmt: skip
    # the files go out only once the warehouse and the ledger hold the export: a run failing
    # before (a full disk) leaves the lists published before, as it says
    with township_files_ready(
        listing, layout.exports(month), mask=bool(export_config["mask_ids"]),
        xlsx=bool(export_config["xlsx"]), export_date=export_date,
    ) as (files, publish):  # fmt: skip
        replace_partition(
            con, "listings", listing.drop("record_keys"), district=district, month=month
        )
        record_export(con, district, month, export_date)
        _log(con, layout, files, district=district, month=month, signature=signature)
        publish()
    return TownshipLists(listing, files, export_date, carried_from)


@dataclass(frozen=True)
class DistrictFiles:
    summary: list[ExportedFile]  # 区级汇总.xlsx / .html / .csv
    department_workbooks: list[ExportedFile]
    unresolved: list[ExportedFile]  # 区级_未匹配与待确认.csv (none when nothing is unresolved)


def publish_district_files(
    con: duckdb.DuckDBPyConnection,
    layout: DataDir,
    *,
    district: str,
    month: str,
    today: date,
    signature: Signature,
    settings: list[dict[str, str]] | None = None,
) -> DistrictFiles:
    """The district summary (with the rule `settings` in effect, rules.settings_in_effect, as its
    规则设置 sheet), each department's data-quality workbook and the list of unresolved records,
    dated with the month's first export; every file on the ledger."""
    export_date = scalar(
        con,
        "SELECT export_date FROM export_runs WHERE district = ? AND month = ?",
        [district, month],
    )
    # on the ledger before they go out, as the township lists are
    with district_files_ready(
        con, district=district, month=month, out_dir=layout.exports(month),
        export_date=export_date or today, settings=settings,
    ) as (files, publish):  # fmt: skip
        _log(con, layout, files, district=district, month=month, signature=signature)
        publish()

    def kind(file: ExportedFile) -> str:
        if file.path.parent.name == DEPARTMENT_FOLDER:
            return "departments"
        return "unresolved" if file.path.name == UNRESOLVED_CSV else "summary"

    return DistrictFiles(
        summary=[f for f in files if kind(f) == "summary"],
        department_workbooks=[f for f in files if kind(f) == "departments"],
        unresolved=[f for f in files if kind(f) == "unresolved"],
    )


def _log(
    con: duckdb.DuckDBPyConnection,
    layout: DataDir,
    files: list[ExportedFile],
    *,
    district: str,
    month: str,
    signature: Signature,
) -> None:
    """Every file that leaves, on the ledger (exports.ledger.log_exports)."""
    log_exports(
        con, layout.root, files, district=district, month=month,
        run_id=signature.run_id, user=signature.user,
    )  # fmt: skip


def paths(files: list[ExportedFile], root: Path) -> str:
    return ", ".join(str(f.path.relative_to(root)) for f in files) or "无"


def unpublished_previous_month(
    con: duckdb.DuckDBPyConnection, district: str, month: str, *, previous_has_data: bool
) -> str | None:
    """The month before M when its township lists never went out although they were due: its
    run read its roster (and failed or was stopped after), or its data is in raw/
    (`previous_has_data`: a roster or a department's files) while the district has run an
    earlier month. M's lists carry the open warnings of the latest lists that went out, so M run
    now would leave that month's new warnings unsent and its open ones uncarried (a UI backfill
    had run on past a failed month, its later lists green and short of every open warning).
    None when they went out, or when the district has not run before (a district starting with
    M: the run summary says the month before was not run)."""
    before = previous_month(month)
    if scalar(
        con,
        "SELECT count(*) FROM export_runs WHERE district = ? AND month = ?",
        [district, before],
    ):
        return None
    # roster reads: of the month before, and of any month before M
    rows = con.execute(
        "SELECT count(*) FILTER (WHERE month = ?), count(*) FROM source_status"
        " WHERE district = ? AND month < ? AND source = 'roster'",
        [before, district, month],
    ).fetchall()
    read_before, read_earlier = rows[0]
    return before if read_before or (previous_has_data and read_earlier) else None


def later_published_months(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    """The months after M whose township lists went out. A month re-run after them (a 补报 file)
    changes its own lists only: theirs were built on M as it was, so the run says which months
    to run again, in order, for the change to reach them."""
    rows = con.execute(
        "SELECT DISTINCT month FROM export_runs WHERE district = ? AND month > ? ORDER BY month",
        [district, month],
    ).fetchall()
    return [m for (m,) in rows]


def later_months_notice(later: list[str], month: str) -> str:
    """What the district is told when `later` months' lists were built before M was run again."""
    return (
        f"注意：之后的月份（{'、'.join(later)}）已生成过乡镇清单，本次只更新 {month} 的清单；"
        f"要让 {month} 的变化（补报或更正的文件）体现到之后的清单，请按顺序重跑 " + "、".join(later)
    )
