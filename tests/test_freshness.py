"""Late months: the pure decision (dates, arrival, run or not) and how the UI is told."""

from __future__ import annotations

import os
from datetime import date, datetime

import dagster as dg
import pytest

from pipelines import freshness
from pipelines.freshness import DONE, DUE, LATE, deadline, evaluate, month_status, ran_pairs
from pipelines.operations import (
    ON_TIME_CHECK,
    SUMMARY_ASSET,
    lateness,
    month_lateness,
    on_time_result,
    ran_on_time,
)
from pipelines.resources import FangfanResource


@pytest.mark.parametrize(
    ("month", "due"),
    [
        ("2026-10", date(2026, 11, 10)),
        ("2026-12", date(2027, 1, 10)),
        ("2027-01", date(2027, 2, 10)),
    ],
)
def test_a_month_is_due_by_the_tenth_of_the_next(month, due):
    assert deadline(month) == due


def test_late_from_the_eleventh_unless_run():
    arrived = date(2026, 11, 3)
    on_the_tenth = month_status("2026-10", arrived=arrived, ran=False, today=date(2026, 11, 10))
    assert on_the_tenth.state == DUE and on_the_tenth.days_late == 0
    eleventh = month_status("2026-10", arrived=arrived, ran=False, today=date(2026, 11, 11))
    assert eleventh.state == LATE and eleventh.days_late == 1
    ran = month_status("2026-10", arrived=arrived, ran=True, today=date(2027, 3, 1))
    assert ran.state == DONE
    # files that came after the deadline: late as soon as they are here
    after = month_status("2026-10", arrived=date(2026, 11, 20), ran=False, today=date(2026, 11, 20))
    assert after.state == LATE and after.days_late == 10


def test_evaluate_per_district_and_month():
    arrivals = {
        ("341502", "2026-09"): date(2026, 10, 4),
        ("341502", "2026-10"): date(2026, 11, 3),
        ("341503", "2026-10"): date(2026, 11, 5),
        ("341503", "2026-11"): date(2026, 12, 2),
    }
    ran = {("341502", "2026-09"), ("341503", "2026-09")}
    statuses = evaluate(
        arrivals, ran, date(2026, 12, 3), names={"341502": "金安区", "341503": "裕安区"}
    )
    assert [(s.district, s.month, s.state) for s in statuses] == [
        ("金安区", "2026-09", DONE),
        ("金安区", "2026-10", LATE),
        ("裕安区", "2026-10", LATE),
        ("裕安区", "2026-11", DUE),
    ]
    late = freshness.late(statuses)
    assert (
        late[0].describe()
        == "金安区 2026-10：部门文件 11-03 已到，应在 2026-11-10 前运行，已逾期 23 天"
    )
    text = freshness.summary(statuses)
    assert text.startswith("2 个月份逾期未运行")
    assert "待运行：裕安区 2026-11：部门文件 12-02 已到，请在 2026-12-10 前运行" in text
    assert freshness.summary(statuses[:1]) == "没有逾期未运行的月份"


def test_run_partitions_of_both_key_shapes():
    keys = ["2026-09", "341502|2026-10", "2026-11|341503", "no-month"]
    assert ran_pairs(keys, "金安区") == {
        ("金安区", "2026-09"),
        ("341502", "2026-10"),
        ("341503", "2026-11"),
    }


def _file(path, when: datetime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x", encoding="utf-8")
    stamp = when.replace(tzinfo=freshness.TIMEZONE).timestamp()
    os.utime(path, (stamp, stamp))


def test_arrival_is_the_first_department_file_of_the_month(tmp_path):
    raw = tmp_path / "raw"
    _file(raw / "2026-10" / "roster" / "名册.xlsx", datetime(2026, 11, 4, 9))
    # 00:30 in Beijing is still the previous day in UTC: the day is Beijing's
    _file(raw / "2026-10" / "housing" / "a.csv", datetime(2026, 11, 3, 0, 30))
    _file(raw / "2026-10" / "housing" / ".hidden", datetime(2026, 10, 1))
    _file(raw / "2026-10" / "housing" / "~$名册.xlsx", datetime(2026, 10, 1))  # Office lock file
    _file(raw / "2026-11" / "feedback" / "东桥镇.xlsx", datetime(2026, 12, 1))  # answers only
    (raw / "2026-12").mkdir()  # an empty month
    _file(raw / "2026-08" / "medical_claims" / "结算.xlsx", datetime(2026, 11, 3))  # YB01 history
    _file(raw / "2026-12" / "说明.txt", datetime(2027, 1, 2))  # beside the source folders
    (raw / "notes").mkdir()
    _file(raw / "notes" / "readme.txt", datetime(2026, 9, 1))
    assert freshness.arrival_dates(raw) == {"2026-10": date(2026, 11, 3)}
    assert freshness.arrival_dates(tmp_path / "missing") == {}


# --- in the UI: the ran_on_time check of district_summary ------------------------------------------

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2026-01", fmt="%Y-%m")


@dg.asset(name="district_summary", partitions_def=MONTHS)
def _summary():
    return None


def _district(tmp_path):
    data = tmp_path / "jinan"
    _file(data / "raw" / "2026-09" / "roster" / "名册.xlsx", datetime(2026, 10, 3, 9))
    _file(data / "raw" / "2026-10" / "roster" / "名册.xlsx", datetime(2026, 11, 3, 9))
    return FangfanResource(data_dir=str(data), district="jinan")


def test_lateness_reads_the_raw_folder_and_the_instance(tmp_path):
    fangfan = _district(tmp_path)
    with dg.instance_for_test() as instance:
        assert dg.materialize([_summary], partition_key="2026-09", instance=instance).success
        statuses = lateness(instance, fangfan, today=date(2026, 12, 3))
        assert [(s.month, s.state) for s in statuses] == [("2026-09", DONE), ("2026-10", LATE)]
        result = on_time_result(statuses)
        assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
        assert result.metadata["逾期未运行"].value == 1
        assert (
            "| jinan | 2026-10 | 2026-11-03 | 2026-11-10 | 23 |"
            in result.metadata["逾期的月份"].value
        )
        assert on_time_result(statuses[:1]).passed


def test_the_sensor_records_the_check_when_the_state_changes(tmp_path):
    # the real clock: any day after 2026-11-10 finds 2026-10 late until it has run
    fangfan = _district(tmp_path)
    with dg.instance_for_test() as instance:
        assert dg.materialize([_summary], partition_key="2026-09", instance=instance).success
        defs = dg.Definitions(
            assets=[_summary], asset_checks=[ran_on_time], sensors=[month_lateness],
            resources={"fangfan": fangfan},
        )  # fmt: skip
        sensor = defs.resolve_sensor_def("month_lateness")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        first = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources={"fangfan": fangfan})
        )
        [evaluation] = first.asset_events
        assert evaluation.asset_check_key == dg.AssetCheckKey(SUMMARY_ASSET, ON_TIME_CHECK)
        assert not evaluation.passed
        assert "jinan 2026-10" in evaluation.metadata["说明"].value
        again = sensor.evaluate_tick(
            dg.build_sensor_context(
                instance=instance, resources={"fangfan": fangfan}, cursor=first.cursor
            )
        )
        assert again.asset_events == [] and again.skip_message.startswith("没有变化")

        # the month runs: its summary materialises, the check (part of the run) passes
        job = dg.define_asset_job("monthly_run", selection=dg.AssetSelection.all())
        defs = dg.Definitions(
            assets=[_summary], asset_checks=[ran_on_time], jobs=[job],
            resources={"fangfan": fangfan},
        )  # fmt: skip
        result = defs.resolve_job_def("monthly_run").execute_in_process(
            partition_key="2026-10", instance=instance
        )
        [check] = result.get_asset_check_evaluations()
        assert check.passed and check.check_name == ON_TIME_CHECK
        after = sensor.evaluate_tick(
            dg.build_sensor_context(
                instance=instance, resources={"fangfan": fangfan}, cursor=first.cursor
            )
        )
        assert [e.passed for e in after.asset_events] == [True]
        # a materialisation that did not execute the check (the UI shows a check's result for
        # the latest one): evaluated again although nothing else changed
        assert dg.materialize([_summary], partition_key="2026-09", instance=instance).success
        context = dg.build_sensor_context(
            instance=instance, resources={"fangfan": fangfan}, cursor=after.cursor
        )
        assert [e.passed for e in sensor.evaluate_tick(context).asset_events] == [True]


def test_lateness_of_a_city_per_district(tmp_path):
    root = tmp_path / "city"
    root.mkdir()
    (root / "districts.toml").write_text(
        '[[district]]\ncode = "341502"\nname = "金安区"\ndata_dir = "341502"\n\n'
        '[[district]]\ncode = "341503"\nname = "裕安区"\ndata_dir = "341503"\n',
        encoding="utf-8",
    )
    for code in ("341502", "341503"):
        _file(root / code / "raw" / "2026-10" / "roster" / "名册.xlsx", datetime(2026, 11, 3, 9))
    city_partitions = dg.MultiPartitionsDefinition(
        {"month": MONTHS, "district": dg.StaticPartitionsDefinition(["341502", "341503"])}
    )

    @dg.asset(name="district_summary", partitions_def=city_partitions)
    def summary():
        return None

    with dg.instance_for_test() as instance:
        key = dg.MultiPartitionKey({"month": "2026-10", "district": "341502"})
        assert dg.materialize([summary], partition_key=key, instance=instance).success
        statuses = lateness(instance, FangfanResource(data_dir=str(root)), today=date(2026, 11, 11))
    assert [(s.district, s.month, s.state) for s in statuses] == [
        ("金安区", "2026-10", DONE),
        ("裕安区", "2026-10", LATE),
    ]
