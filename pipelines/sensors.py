"""File arrival: a month whose raw files changed is run again (off until the district turns it on)."""

import hashlib
import re
from pathlib import Path

import dagster as dg

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


def arrival_requests(
    raw: Path, valid_months: set[str], district: str | None = None
) -> list[dg.RunRequest]:
    """One request per month folder, keyed by its fingerprint: unchanged files never re-run.
    `district`: the district's code (the partition is month × district; None: the month only)."""
    if not raw.is_dir():
        return []
    requests = []
    for folder in sorted(p for p in raw.iterdir() if p.is_dir() and _MONTH.match(p.name)):
        if folder.name not in valid_months:
            continue
        fingerprint = month_fingerprint(folder)
        key = folder.name if district is None else str(partition_key(folder.name, district))
        run_key = f"{folder.name}:{fingerprint}" if district is None else f"{key}:{fingerprint}"
        requests.append(dg.RunRequest(run_key=run_key, partition_key=key))
    return requests


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
        for request in arrival_requests(district.layout.raw, months, district.code)
    ]
    if not requests:
        return dg.SkipReason(f"no month folders under {fangfan.layout.raw}")
    # districts not yet known as partitions are added before their runs are requested
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[district_partitions.build_add_request(city.codes)],
    )
