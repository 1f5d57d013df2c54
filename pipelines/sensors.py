"""File arrival: a month whose raw files changed is run again (off until the district turns it on)."""

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from pipelines.freshness import arrival_dates
from pipelines.partitions import district_partitions, monthly_partitions, partition_key
from pipelines.resources import FangfanResource

_MONTH = re.compile(r"^\d{4}-\d{2}$")


def month_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of every file under raw/<M>/ (contents not read)."""
    digest = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def newest_file_time(folder: Path) -> float:
    """The latest modification time of a file under `folder` (0 when it holds none)."""
    return max(
        (
            p.stat().st_mtime
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ),
        default=0.0,
    )


def arrival_requests(
    raw: Path,
    valid_months: set[str],
    district: str | None = None,
    last_run: Callable[[str], float | None] = lambda key: None,
) -> list[dg.RunRequest]:
    """One request per month to run, keyed by its folder's fingerprint: unchanged files never
    re-run. A month to run holds a roster or a department's files (freshness.arrival_dates): a
    folder of the year's earlier claims alone is YB01's history, read by the month that needs
    it, and one of returned lists alone waits for its month's data. A month whose files are all
    older than its last run's exports (`last_run`: partition key → when its township lists were
    last materialised, None: never) is not run again: turning the sensor on for a district run
    from the command line had re-run every month, the claims-only ones failing.
    `district`: the district's code (the partition is month × district; None: the month only)."""
    if not raw.is_dir():
        return []
    runnable = arrival_dates(raw)
    requests = []
    for folder in sorted(p for p in raw.iterdir() if p.is_dir() and _MONTH.match(p.name)):
        if folder.name not in valid_months or folder.name not in runnable:
            continue
        key = folder.name if district is None else str(partition_key(folder.name, district))
        ran = last_run(key)
        if ran is not None and newest_file_time(folder) < ran:
            continue
        fingerprint = month_fingerprint(folder)
        run_key = f"{folder.name}:{fingerprint}" if district is None else f"{key}:{fingerprint}"
        requests.append(dg.RunRequest(run_key=run_key, partition_key=key))
    return requests


def _last_exports(instance: dg.DagsterInstance) -> Callable[[str], float | None]:
    """Partition key → when township_exports was last materialised for it (None: never)."""

    def last(key: str) -> float | None:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("township_exports"), asset_partitions=[key]
            ),
            limit=1,
        ).records
        return records[0].timestamp if records else None

    return last


@dg.sensor(
    job_name="monthly_run",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="raw/<月份>/ 下文件有变化（新报送、补报、乡镇核实结果）时重跑该月",
)
def raw_files_arrival(context: dg.SensorEvaluationContext, fangfan: FangfanResource):
    months = set(monthly_partitions.get_partition_keys())
    city = fangfan.city
    requests = [
        request
        for district in city.districts
        for request in arrival_requests(
            district.layout.raw, months, district.code, _last_exports(context.instance)
        )
    ]
    if not requests:
        return dg.SkipReason(f"no month folders under {fangfan.layout.raw}")
    # districts not yet known as partitions are added before their runs are requested
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[district_partitions.build_add_request(city.codes)],
    )
