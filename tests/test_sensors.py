"""File-arrival sensor: a month runs again only when its files change."""

from __future__ import annotations

import os

import dagster as dg

from pipelines.definitions import defs
from pipelines.sensors import arrival_requests


def test_run_keys_change_only_when_files_change(tmp_path):
    raw = tmp_path / "raw"
    (raw / "2026-10" / "housing").mkdir(parents=True)
    (raw / "notes").mkdir()  # not a month: ignored
    extract = raw / "2026-10" / "housing" / "a.csv"
    extract.write_text("姓名\n甲\n", encoding="utf-8")
    months = {"2026-09", "2026-10"}
    first = arrival_requests(raw, months)
    assert [r.partition_key for r in first] == ["2026-10"]
    assert arrival_requests(raw, months)[0].run_key == first[0].run_key
    extract.write_text("姓名\n甲\n乙\n", encoding="utf-8")
    os.utime(extract, ns=(1, 2))
    assert arrival_requests(raw, months)[0].run_key != first[0].run_key
    assert arrival_requests(raw, {"2026-09"}) == []  # a month outside the partitions
    assert arrival_requests(tmp_path / "missing", months) == []
    # the month of one district of a city: the month × district partition
    (district,) = arrival_requests(raw, months, "341502")
    assert district.partition_key == "341502|2026-10"


def test_sensor_is_off_by_default_and_targets_the_monthly_job():
    sensor = defs().resolve_sensor_def("raw_files_arrival")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.job_name == "monthly_run"
