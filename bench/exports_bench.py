"""The month's exports at a given number of warnings (issue 10: ≤ 4 s together at 40k).

Run in its own process by bench.py, after a bench month ran:
    python bench/exports_bench.py DATABASE DISTRICT MONTH WARNINGS SCRATCH
prints one JSON document: {"warnings", "listed", "townships", "township_files", "district_files",
"steps": {name: seconds}, "together"}.

The bench district lists fewer warnings than the held-out one (about 14k against 40k), so a copy
of its warehouse gets more: each warning is copied onto other households of its own township
(the copy's subject is that household's head), until the month holds WARNINGS warnings. The
copies carry real evidence, rules and places, so the files are written from cells as varied as
the month's own. The exports are then written as the two export assets write them, from the pure
core, each part timed; the copy and its files are deleted at the end.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from pipelines.config import DataDir
from pipelines.publishing import Signature, publish_district_files, publish_township_lists
from pipelines.rules.settings import load_rule_config
from pipelines.warehouse import open_warehouse

INFLATE_SQL = """
    CREATE TEMP TABLE inflated AS
    WITH homes AS (
        SELECT household_id, head_member_key, township,
               row_number() OVER (PARTITION BY township ORDER BY household_id) - 1 AS place,
               count(*) OVER (PARTITION BY township) AS homes
        FROM households WHERE district = $district AND month = $month
    ),
    month_warnings AS (
        SELECT w.*, h.township, h.place, h.homes
        FROM warnings w JOIN homes h USING (household_id)
        WHERE w.district = $district AND w.month = $month
    ),
    copies AS (
        SELECT m.*, c.copy FROM month_warnings m, range(1, $copies + 1) c(copy)
    )
    SELECT c.* EXCLUDE (warning_id, household_id, member_key, township, place, homes, copy,
                        evidence_key),
           c.warning_id || '-x' || c.copy AS warning_id,
           h.household_id, h.head_member_key AS member_key,
           c.evidence_key || '-x' || c.copy AS evidence_key
    FROM copies c JOIN homes h
      ON h.township = c.township AND h.place = (c.place + c.copy * 7919) % c.homes
    LIMIT $extra
"""


def inflate(con: duckdb.DuckDBPyConnection, district: str, month: str, target: int) -> int:
    """Copies of the month's warnings onto other households of their township until `target`."""
    have = con.execute(
        "SELECT count(*) FROM warnings WHERE district = ? AND month = ?", [district, month]
    ).fetchone()[0]
    if have == 0 or have >= target:
        return have
    copies = -(-(target - have) // have)
    con.execute(
        INFLATE_SQL,
        {"district": district, "month": month, "copies": copies, "extra": target - have},
    )
    con.execute("INSERT INTO warnings BY NAME SELECT * FROM inflated")
    return con.execute(
        "SELECT count(*) FROM warnings WHERE district = ? AND month = ?", [district, month]
    ).fetchone()[0]


def main() -> None:
    database, district, month, target, scratch = sys.argv[1:6]
    scratch_dir = Path(scratch)
    shutil.rmtree(scratch_dir, ignore_errors=True)
    (scratch_dir / "warehouse").mkdir(parents=True)
    copy = scratch_dir / "warehouse" / "fangfan.duckdb"
    shutil.copyfile(database, copy)
    layout = DataDir(scratch_dir)
    config = load_rule_config(None)
    signature = Signature(run_id="bench-exports", user="bench")
    steps: dict[str, float] = {}
    try:
        with open_warehouse(copy) as con:
            warnings = inflate(con, district, month, int(target))
            # the month's earlier export state is not this measurement's: start it afresh
            for table in ("listings", "export_runs"):
                con.execute(
                    f"DELETE FROM {table} WHERE district = ? AND month = ?", [district, month]
                )
            # as in a run, where each asset's connection closes (and checkpoints) before the
            # next one opens: the copies are not left in the write-ahead log for the first
            # export write to checkpoint
            con.execute("CHECKPOINT")
            con.sql("SELECT 1 AS warm").pl()  # DuckDB's first frame imports pyarrow's parts
            start = time.perf_counter()
            lists = publish_township_lists(
                con, layout, district=district, month=month, today=date(2026, 11, 5),
                export_config=config["export"], signature=signature,
            )  # fmt: skip
            steps["township files (CSV + XLSX)"] = time.perf_counter() - start
            start = time.perf_counter()
            files = publish_district_files(
                con, layout, district=district, month=month, today=date(2026, 11, 5),
                signature=signature,
            )  # fmt: skip
            steps["district files (summary, departments, unresolved)"] = time.perf_counter() - start
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
    print(
        json.dumps(
            {
                "warnings": warnings,
                "listed": lists.listing.height,
                "townships": lists.listing["township"].n_unique(),
                "township_files": len(lists.files),
                "district_files": len(files.summary)
                + len(files.department_workbooks)
                + len(files.unresolved),
                "steps": steps,
                "together": sum(steps.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
