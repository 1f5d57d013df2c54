"""Step timings of the Dagster runs a bench run made, with the warehouse rows each step read and wrote.

Run in its own process by bench.py (it imports dagster and the definitions):
    python bench/steps.py DAGSTER_HOME DATABASE DISTRICT MONTH SINCE_EPOCH
prints one JSON document: {"runs": [{run_id, job, partition, start, end, steps: [...]}, ...]}
where each step is {step, start, end, seconds, rows_in, rows_out}. Rows out are the rows of the
tables the step's assets are (for that run's month); rows in the rows of the tables its assets
depend on (raw data rows read, for the ingest).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.config import previous_month
from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG, month_of
from pipelines.schema import TABLE


def _table_of(key: str) -> str | None:
    if key in TABLE:
        return key
    if f"stg_{key}" in TABLE:
        return f"stg_{key}"
    return None


def step_tables() -> dict[str, tuple[set[str], set[str]]]:
    """step (op) name -> (tables it reads, tables it writes), from the asset graph."""
    from pipelines.definitions import ALL_ASSETS

    tables: dict[str, tuple[set[str], set[str]]] = {}
    for item in ALL_ASSETS:
        if not isinstance(item, dg.AssetsDefinition):
            continue
        reads, writes = tables.setdefault(item.node_def.name, (set(), set()))
        for key in item.keys:
            writes.add(_table_of(key.to_user_string()) or "")
            for upstream in item.asset_deps.get(key, ()):
                reads.add(_table_of(upstream.to_user_string()) or "")
    for reads, writes in tables.values():
        reads.discard("")
        writes.discard("")
        reads -= writes
    return tables


def _months_between(first: str, last: str) -> list[str]:
    """YYYY-MM months from `first` to `last` (not before it), both included."""
    months = [last]
    while months[-1] != first:
        months.append(previous_month(months[-1]))
    return months[::-1]


def _rows(con, table: str, district: str, month: str) -> int:
    return con.execute(
        f"SELECT count(*) FROM {table} WHERE district = ? AND month = ?", [district, month]
    ).fetchone()[0]


def main() -> None:
    home, database, district, month, since = sys.argv[1:6]
    since_ts = float(since)
    try:
        graph = step_tables()
    except Exception:  # the asset layer is being rebuilt elsewhere: timings without row counts
        graph = {}
    del home  # DAGSTER_HOME is set by the caller
    instance = dg.DagsterInstance.get()
    runs = [r for r in instance.get_runs(limit=50)]
    con = duckdb.connect(database, read_only=True) if Path(database).exists() else None
    out = []
    for run in reversed(runs):
        record = instance.get_run_record_by_id(run.run_id)
        start = record.start_time if record else None
        if start is None or start < since_ts:
            continue
        partition = run.tags.get("dagster/partition", month)
        if RANGE_START_TAG in run.tags:  # the earlier claims months: one run over their range
            partition = f"{run.tags[RANGE_START_TAG]}..{run.tags[RANGE_END_TAG]}"
            run_months = _months_between(
                month_of(run.tags[RANGE_START_TAG]), month_of(run.tags[RANGE_END_TAG])
            )
        else:
            part_month = partition.split("|")[-1] if "|" in partition else partition
            if not part_month[:4].isdigit():
                part_month = next((p for p in partition.split("|") if p[:4].isdigit()), month)
            run_months = [part_month]
        steps = []
        for stat in sorted(
            instance.get_run_step_stats(run.run_id), key=lambda s: s.start_time or 0
        ):
            reads, writes = graph.get(stat.step_key, (set(), set()))
            rows_in = rows_out = None
            if con is not None and graph:
                rows_out = sum(_rows(con, t, district, m) for t in writes for m in run_months)
                if stat.step_key == "ingest":
                    rows_in = con.execute(
                        "SELECT coalesce(sum(rows_read), 0) FROM ingest_files"
                        " WHERE district = ? AND list_contains(?, month)",
                        [district, run_months],
                    ).fetchone()[0]
                else:
                    rows_in = sum(_rows(con, t, district, m) for t in reads for m in run_months)
            steps.append(
                {
                    "step": stat.step_key,
                    "start": stat.start_time,
                    "end": stat.end_time,
                    "seconds": (stat.end_time or 0) - (stat.start_time or 0),
                    "rows_in": rows_in,
                    "rows_out": rows_out,
                }
            )
        out.append(
            {
                "run_id": run.run_id,
                "job": run.job_name,
                "partition": partition,
                "status": str(run.status.value),
                "start": start,
                "end": record.end_time if record else None,
                "steps": steps,
            }
        )
    if con is not None:
        con.close()
    print(json.dumps({"runs": out}))


if __name__ == "__main__":
    main()
