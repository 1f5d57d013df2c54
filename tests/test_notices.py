"""Run-failure notices: the plain-language text (pure) and the sensor that writes and shows it."""

from __future__ import annotations

import json
import re
from datetime import datetime

import dagster as dg
import pytest

from pipelines import notices
from pipelines.notices import FailedRun, StepFailure, notice, run_partition, split_partition
from pipelines.operations import NOTICE_TAG, run_failure_notice, run_recovery_notice
from pipelines.resources import FangfanResource

WHEN = datetime(2026, 11, 6, 2, 15)
ID = "34150219800101123X"


def _run(*steps: StepFailure, month="2026-10", district="金安区", message="") -> FailedRun:
    return FailedRun("run-1", "monthly_run", month, district, steps, message, WHEN)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("2026-10", ("2026-10", None)),
        ("341502|2026-10", ("2026-10", "341502")),  # Dagster's order: dimensions by name
        ("2026-10|341502", ("2026-10", "341502")),
        (None, (None, None)),
        ("city", (None, "city")),
    ],
)
def test_partition_keys_of_both_shapes(key, expected):
    assert split_partition(key) == expected


def test_run_partition_prefers_the_dimension_tags():
    tags = {
        "dagster/partition": "341502|2026-10",
        "dagster/partition/month": "2026-10",
        "dagster/partition/district": "341502",
    }
    assert run_partition(tags) == ("2026-10", "341502")
    assert run_partition({"dagster/partition": "2026-09"}) == ("2026-09", None)
    assert run_partition({}) == (None, None)


def test_scrub_hides_ids_and_phone_numbers_and_keeps_one_short_line():
    text = f"第 3 行 {ID} 与 341502********123X 重复，电话 13800000000\n第二行"
    scrubbed = notices.scrub(text)
    assert "\n" not in scrubbed
    assert not re.search(r"\d{11,}", scrubbed) and "123X" not in scrubbed
    assert "第 3 行" in scrubbed and "第二行" in scrubbed
    assert len(notices.scrub("很长" * 200)) == notices.MAX_PROBLEM_CHARS


def test_a_missing_roster_says_which_folder_to_check_and_to_rerun_the_month():
    failure = StepFailure(
        "ingest",
        asset="roster",
        errors=(
            ("Failure", "农户花名册：raw/ 下没有 2026-10 或更早月份的 roster 文件夹，无法运行"),
        ),
    )
    item = notice(_run(failure))
    assert item.district == "金安区" and item.month == "2026-10"
    assert item.step == "读入各部门数据（ingest）"
    assert item.problem.startswith("农户花名册：raw/ 下没有 2026-10")
    assert "raw/2026-10/roster/（农户花名册）" in item.action
    assert "在界面（fangfan ui；城市部署中是城市的 Dagster 界面）中重新运行 2026-10" in item.action
    text = item.text()
    assert text.splitlines()[0] == "【运行失败】2026-11-06 02:15"
    assert "区县：金安区　月份：2026-10　失败步骤：读入各部门数据（ingest）" in text
    assert "run-1" in text


def test_a_blocking_check_names_the_source_and_the_check():
    message = "1 blocking asset check failed with ERROR severity:\nhousing: row_accounting"
    item = notice(_run(StepFailure("ingest", errors=(("DagsterAssetCheckFailedError", message),))))
    assert (
        item.problem
        == "农村房屋安全鉴定的文件行数核对（读入行数 = 保留 + 退回 + 重复）未通过，本月没有继续往下算"
    )
    assert "raw/2026-10/housing/（农村房屋安全鉴定）" in item.action
    assert item.action.endswith(
        "在界面（fangfan ui；城市部署中是城市的 Dagster 界面）中重新运行 2026-10"
    )


@pytest.mark.parametrize(
    ("error", "problem", "action"),
    [
        # a warehouse cut short between months had read as "used by another process"; its
        # blocks damaged, as an internal error with nothing to do (an independent fault probe)
        (("RuntimeError", "仓库文件 /d/warehouse/fangfan.duckdb 无法打开：文件不完整或已损坏（IO Error: Could not read enough bytes）"),
         "仓库文件（warehouse/fangfan.duckdb）不完整或已损坏", "从备份恢复 warehouse/fangfan.duckdb"),
        (("IOException", "Corrupt database file: computed checksum 123 does not match stored 456"),
         "仓库文件（warehouse/fangfan.duckdb）不完整或已损坏", "从本年最早的月份起逐月重新运行"),
        # a warehouse (or warehouse/) only read-only: not damaged, nothing to move away
        (("RuntimeError", "仓库文件 /d/warehouse/fangfan.duckdb 无法打开：没有读写权限（文件或所在文件夹不可写入）（IO Error: Cannot open file \"/d/warehouse/fangfan.duckdb\": Permission denied）"),
         "仓库所在的磁盘已满或不可写入", "恢复写入权限"),
        (("TransactionException", "TransactionContext Error: Failed to commit: Cannot open file \"/d/warehouse/fangfan.duckdb.wal\": Permission denied"),
         "仓库所在的磁盘已满或不可写入", "恢复写入权限"),
        # a full disk: its own message, not "cannot rollback - no transaction is active"
        (("IOException", "Could not write file \"/d/warehouse/fangfan.duckdb.wal\": No space left on device"),
         "仓库所在的磁盘已满或不可写入", "腾出磁盘空间"),
    ],
)  # fmt: skip
def test_a_damaged_warehouse_or_a_full_disk_says_what_to_do(error, problem, action):
    wrapped = (
        ("DagsterExecutionStepExecutionError", "Error occurred while executing op warnings"),
        error,
    )
    item = notice(_run(StepFailure("warnings", errors=wrapped)))
    assert item.problem.startswith(problem) and action in item.action


def test_a_failed_write_reports_its_own_error_not_the_rollbacks():
    """DuckDB ends the transaction of a write that failed (a full disk); the ROLLBACK after it
    raised "cannot rollback - no transaction is active", hiding the real error."""
    import duckdb

    from pipelines.schema import rollback

    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    con.execute("BEGIN TRANSACTION")
    con.execute("COMMIT")  # the transaction is over, as after DuckDB ended it
    with pytest.raises(duckdb.TransactionException):
        con.execute("ROLLBACK")
    rollback(con)  # nothing to undo: no error of its own
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO t VALUES (1)")
    rollback(con)
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]


def test_an_internal_error_never_repeats_its_message():
    # a library's message may quote a cell: a name, an ID
    errors = (
        ("DagsterExecutionStepExecutionError", "Error occurred while executing op warnings"),
        ("ConversionException", f"Could not convert '张三' ({ID}) to INT32"),
    )
    item = notice(_run(StepFailure("warnings", errors=errors)))
    for text in (item.text(), item.line(), json.dumps(notices.asdict(item), ensure_ascii=False)):
        assert "张三" not in text and "1980" not in text
    assert "ConversionException" in item.problem
    assert item.step == "预警规则计算（warnings）"
    assert "运行编号" in item.action


def test_a_failure_message_with_an_id_is_scrubbed():
    errors = (("Failure", f"花名册第 12 行证件号码 {ID} 重复"),)
    item = notice(_run(StepFailure("roster_members", errors=errors)))
    assert ID not in item.text() and "［证件号码已隐去］" in item.problem


def test_a_run_whose_process_died_needs_only_a_rerun():
    message = (
        "运行所属进程已不在（进程 4242 已不存在）：由 fangfan 标记为失败并释放 duckdb_writer 写入槽"
    )
    item = notice(_run(message=message))
    assert item.step == "整个运行"
    assert item.problem.startswith("运行中断")
    assert item.action.startswith(
        "不需要改数据，直接在界面（fangfan ui；城市部署中是城市的 Dagster 界面）中重新运行 2026-10"
    )


def test_a_run_of_no_partition_still_reads_plainly():
    item = notice(
        _run(StepFailure("x", errors=(("ValueError", "bad"),)), month=None, district=None)
    )
    assert item.month == "（未指定月份）" and item.district == "（全部区县）"
    assert "重新运行 该月" not in item.action


def test_notice_files_are_appended_once_per_run(tmp_path):
    folder = tmp_path / "notices"
    first = notice(_run(StepFailure("ingest", asset="roster", errors=(("Failure", "缺花名册"),))))
    assert notices.append_notice(folder, first)
    assert not notices.append_notice(folder, first)  # the sensor evaluated twice
    second = notice(FailedRun("run-2", "monthly_run", "2026-11", "金安区", (), "进程已不在", WHEN))
    assert notices.append_notice(folder, second)
    raw = (folder / notices.TEXT_FILE).read_bytes()
    assert raw.startswith("\ufeff".encode()) and raw.count("\ufeff".encode()) == 1
    text = raw.decode("utf-8-sig")
    assert (
        text.count("【运行失败】") == 2 and "\r\n" in text and "\n" not in text.replace("\r\n", "")
    )
    records = [json.loads(line) for line in (folder / notices.JSONL_FILE).read_text().splitlines()]
    assert [r["run_id"] for r in records] == ["run-1", "run-2"]
    assert records[0]["month"] == "2026-10" and records[0]["step"] == "读入各部门数据（ingest）"


# --- the sensor, on a run that really failed ------------------------------------------------------

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2026-01", fmt="%Y-%m")
MONTH_DISTRICT = dg.MultiPartitionsDefinition(
    {"month": MONTHS, "district": dg.StaticPartitionsDefinition(["jinan"])}
)


def _failing_job(partitions_def):
    @dg.asset(name="roster", partitions_def=partitions_def)
    def roster():
        return 1

    @dg.multi_asset(
        name="ingest",
        specs=[dg.AssetSpec("medical_enrollment", deps=[roster])],
        partitions_def=partitions_def,
    )
    def ingest():
        raise dg.Failure(
            "医保参保名册：raw/2026-10/medical_enrollment/名册.xlsx 读不出（文件被截断）",
            metadata={"asset": "medical_enrollment"},
        )

    job = dg.define_asset_job("monthly_run")
    return dg.Definitions(assets=[roster, ingest], jobs=[job]).resolve_job_def("monthly_run")


def _failure_context(instance, run_id: str, fangfan: FangfanResource):
    """The run-failure sensor's context for the failed run `run_id`, as the daemon builds it."""
    failure = (
        instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        .records[0]
        .event_log_entry.dagster_event
    )
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_notice",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={"fangfan": fangfan},
    ).for_run_failure()


@pytest.mark.parametrize(
    ("partitions_def", "partition"),
    [
        (MONTHS, "2026-10"),
        (MONTH_DISTRICT, dg.MultiPartitionKey({"month": "2026-10", "district": "jinan"})),
    ],
    ids=["month", "month_x_district"],
)
def test_the_sensor_writes_the_notice_and_shows_it_on_the_run(tmp_path, partitions_def, partition):
    data = tmp_path / "jinan"
    (data / "raw" / "2026-10").mkdir(parents=True)
    fangfan = FangfanResource(data_dir=str(data), district="jinan")
    with dg.instance_for_test() as instance:
        result = _failing_job(partitions_def).execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False
        )
        assert not result.success
        context = _failure_context(instance, result.run_id, fangfan)
        run_failure_notice(context)
        run_failure_notice(context)  # evaluated again: still one notice

        text = (data / "notices" / notices.TEXT_FILE).read_text(encoding="utf-8-sig")
        assert text.count("【运行失败】") == 1
        assert "区县：jinan　月份：2026-10　失败步骤：读入各部门数据（ingest）" in text
        assert "医保参保名册：raw/2026-10/medical_enrollment/名册.xlsx 读不出（文件被截断）" in text
        assert "检查 raw/2026-10/medical_enrollment/（医保参保名册）中的文件" in text
        assert result.run_id in text
        # in the UI: an event in the failed run's own log, and a tag on the run
        logged = [
            record.event_log_entry.message
            for record in instance.get_records_for_run(
                result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
            ).records
        ]
        assert sum("运行失败通知：jinan 2026-10" in m for m in logged) == 1
        assert "读不出" in instance.get_run_by_id(result.run_id).tags[NOTICE_TAG]


def _city(tmp_path):
    root = tmp_path / "city"
    for code in ("341502", "341503"):
        (root / code / "raw" / "2026-10").mkdir(parents=True)
    (root / "districts.toml").write_text(
        '[[district]]\ncode = "341502"\nname = "金安区"\ndata_dir = "341502"\n\n'
        '[[district]]\ncode = "341503"\nname = "裕安区"\ndata_dir = "341503"\n',
        encoding="utf-8",
    )
    return root


CITY_PARTITIONS = dg.MultiPartitionsDefinition(
    {"month": MONTHS, "district": dg.StaticPartitionsDefinition(["341502", "341503"])}
)


def test_a_failure_that_will_be_retried_is_not_noticed_yet(tmp_path):
    data = tmp_path / "jinan"
    fangfan = FangfanResource(data_dir=str(data), district="jinan")
    with dg.instance_for_test() as instance:
        result = _failing_job(MONTHS).execute_in_process(
            partition_key="2026-10", instance=instance, raise_on_error=False,
            tags={"dagster/will_retry": "true"},
        )  # fmt: skip
        run_failure_notice(_failure_context(instance, result.run_id, fangfan))
    assert not (data / "notices").exists()


def test_in_a_city_the_notice_goes_to_the_failed_districts_own_folder(tmp_path):
    root = _city(tmp_path)
    fangfan = FangfanResource(data_dir=str(root))
    partition = dg.MultiPartitionKey({"month": "2026-10", "district": "341503"})
    with dg.instance_for_test() as instance:
        result = _failing_job(CITY_PARTITIONS).execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False
        )
        run_failure_notice(_failure_context(instance, result.run_id, fangfan))
    text = (root / "341503" / "notices" / notices.TEXT_FILE).read_text(encoding="utf-8-sig")
    assert "区县：裕安区　月份：2026-10" in text
    assert not (root / "341502" / "notices").exists() and not (root / "notices").exists()


def _cli_district(tmp_path, monkeypatch) -> tuple:
    """A district's data directory with 2026-10 and a Dagster home of its own, as `fangfan run`
    has them: (the data directory, its FangfanResource)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    data = tmp_path / "jinan"
    (data / "raw" / "2026-10").mkdir(parents=True)
    return data, FangfanResource(data_dir=str(data), district="jinan")


def test_a_failed_fangfan_run_writes_its_notice_without_the_daemon(tmp_path, monkeypatch, capsys):
    """`fangfan run` executes in its own process; with no daemon running (no `fangfan ui`) the
    sensor never saw its failure, and the README's notice was never written (an independent
    city probe). The run writes it itself; the sensor, finding the run later, adds nothing."""
    from pipelines.cli import _run_partition
    from pipelines.runs import terminal_logger

    data, fangfan = _cli_district(tmp_path, monkeypatch)

    job = _failing_job(MONTHS).with_logger_defs({"terminal": terminal_logger})
    assert not _run_partition(job, "2026-10", 5, {}, fangfan)

    text_file = data / "notices" / notices.TEXT_FILE
    text = text_file.read_text(encoding="utf-8-sig")
    assert text.count("【运行失败】") == 1 and "名册.xlsx 读不出" in text
    assert str(text_file) in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert "读不出" in run.tags[NOTICE_TAG]
        run_failure_notice(_failure_context(instance, run.run_id, fangfan))
    assert text_file.read_text(encoding="utf-8-sig").count("【运行失败】") == 1


def test_a_notice_that_cannot_be_written_does_not_hide_the_failure(tmp_path, monkeypatch, capsys):
    """A full disk or a notices folder not writable: the run's failure lines are still printed,
    and the notice's line says it could not be written and where (an independent fault probe,
    indep31: the notice's PermissionError had ended `fangfan run` with a traceback, the failing
    step never named)."""
    from pipelines.cli import _run_partition
    from pipelines.runs import terminal_logger

    data, fangfan = _cli_district(tmp_path, monkeypatch)

    def no_space(folder, item):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(notices, "append_notice", no_space)
    job = _failing_job(MONTHS).with_logger_defs({"terminal": terminal_logger})
    assert not _run_partition(job, "2026-10", 5, {}, fangfan)
    err = capsys.readouterr().err
    assert "失败：" in err and "名册.xlsx 读不出" in err
    assert "运行失败通知未能写入" in err and "No space left on device" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "stop",
    [
        lambda: __import__("duckdb").InterruptException("INTERRUPT Error: Interrupted!"),
        lambda: RuntimeError("Query interrupted"),  # the signal reaching a fetch of the result
    ],
)
def test_a_stop_inside_a_duckdb_query_is_a_stop_not_an_internal_error(tmp_path, monkeypatch, stop):
    """Ctrl-C or SIGTERM while DuckDB runs a query ends it with DuckDB's InterruptException: the
    run was stopped (fangfan run exits as stopped, 130), no 运行失败通知 of a 程序内部错误 for
    technical support is written (an independent fault probe, indep31)."""
    from pipelines.cli import _run_partition

    data, fangfan = _cli_district(tmp_path, monkeypatch)

    @dg.asset(name="warnings", partitions_def=MONTHS)
    def stopped_warnings():
        raise stop()

    from pipelines.runs import terminal_logger

    job = (
        dg.Definitions(assets=[stopped_warnings], jobs=[dg.define_asset_job("monthly_run")])
        .resolve_job_def("monthly_run")
        .with_logger_defs({"terminal": terminal_logger})
    )
    with pytest.raises(KeyboardInterrupt):
        _run_partition(job, "2026-10", 5, {}, fangfan)
    assert not (data / "notices").exists()


def test_a_roster_not_read_whole_says_which_file_and_why(tmp_path):
    """The roster's row accounting blocks the month when a file was not read whole; the notice
    had said only that the accounting check failed, and told the clerk to look for truncated or
    duplicate files (an independent probe: a workbook with one sheet per village). It now says
    what the check said: the file, and why it was not read whole."""
    import polars as pl

    from pipelines.checks.ingest import ROW_ACCOUNTING_CHECK, row_accounting_check

    files = pl.DataFrame(
        {
            "file": ["木厂镇农户花名册.xlsx"],
            "sheet": ["Sheet1"],
            "status": ["partial"],
            "message": ["工作表 河口村（25 行）与所读工作表是同一张表的数据，按约定未读取"],
            "rows_read": [40],
            "rows_kept": [40],
            "rows_rejected": [0],
        }
    )

    @dg.asset(
        name="roster",
        partitions_def=MONTHS,
        check_specs=[dg.AssetCheckSpec(ROW_ACCOUNTING_CHECK, asset="roster", blocking=True)],
    )
    def roster():
        yield dg.MaterializeResult(
            check_results=[row_accounting_check(files, incomplete_blocks=True)]
        )

    @dg.asset(name="roster_members", partitions_def=MONTHS, deps=[roster])
    def roster_members():
        return 1

    job = dg.Definitions(
        assets=[roster, roster_members], jobs=[dg.define_asset_job("monthly_run")]
    ).resolve_job_def("monthly_run")
    data = tmp_path / "jinan"
    (data / "raw").mkdir(parents=True)
    fangfan = FangfanResource(data_dir=str(data), district="jinan")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            partition_key="2026-10", instance=instance, raise_on_error=False
        )
        assert not result.success
        run_failure_notice(_failure_context(instance, result.run_id, fangfan))
    text = (data / "notices" / notices.TEXT_FILE).read_text(encoding="utf-8-sig")
    assert "农户花名册有文件没有读全" in text
    assert "木厂镇农户花名册.xlsx（文件不完整）：工作表 河口村（25 行）" in text


def _job_that(fails: bool):
    @dg.asset(name="ingest", partitions_def=MONTHS)
    def ingest():
        if fails:
            raise dg.Failure(
                "医保参保名册：名册.xlsx 读不出", metadata={"asset": "medical_enrollment"}
            )
        return 1

    job = dg.define_asset_job("monthly_run")
    return dg.Definitions(assets=[ingest], jobs=[job]).resolve_job_def("monthly_run")


def _success_context(instance, run_id: str, fangfan: FangfanResource):
    """The run-success sensor's context for `run_id`'s latest success, as the daemon builds it."""
    success = (
        instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
        .records[-1]
        .event_log_entry.dagster_event
    )
    return dg.build_run_status_sensor_context(
        sensor_name="run_recovery_notice",
        dagster_event=success,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={"fangfan": fangfan},
    )


def _run_and_sense(instance, fangfan, month: str, *, fails: bool) -> str:
    """A run of `month` and the sensor that watches its ending, as the daemon would evaluate it."""
    result = _job_that(fails).execute_in_process(
        partition_key=month, instance=instance, raise_on_error=False
    )
    if fails:
        run_failure_notice(_failure_context(instance, result.run_id, fangfan))
        return result.run_id
    context = _success_context(instance, result.run_id, fangfan)
    run_recovery_notice(context)
    run_recovery_notice(context)  # evaluated again: written once
    return result.run_id


def test_a_rerun_that_goes_through_answers_the_months_open_notices(tmp_path):
    """An independent fault probe (indep31) found a failure's notice standing open after the
    rerun that fixed it went through: the team reading 运行失败通知.txt could not tell the month
    was done. The rerun answers its month's open notices, once; other months' stay open."""
    data = tmp_path / "jinan"
    fangfan = FangfanResource(data_dir=str(data), district="jinan")
    folder = data / "notices"
    with dg.instance_for_test() as instance:
        assert _run_and_sense(instance, fangfan, "2026-10", fails=False)
        assert not folder.exists()  # nothing failed: nothing to say
        first = _run_and_sense(instance, fangfan, "2026-10", fails=True)
        second = _run_and_sense(instance, fangfan, "2026-10", fails=True)
        other = _run_and_sense(instance, fangfan, "2026-09", fails=True)
        fixed = _run_and_sense(instance, fangfan, "2026-10", fails=False)
        _run_and_sense(instance, fangfan, "2026-10", fails=False)  # nothing open any more
        again = _run_and_sense(instance, fangfan, "2026-10", fails=True)
        logged = [
            record.event_log_entry.message
            for record in instance.get_records_for_run(
                fixed, of_type=dg.DagsterEventType.ENGINE_EVENT
            ).records
        ]
    text = (folder / notices.TEXT_FILE).read_text(encoding="utf-8-sig")
    assert text.count("【运行失败】") == 4 and text.count("【已恢复】") == 1
    block = text.split("【已恢复】")[1].split("【运行失败】")[0]
    assert "区县：jinan　月份：2026-10" in block and "此前 2 次失败通知" in block
    assert first in block and second in block and fixed in block and other not in block
    records = [json.loads(line) for line in (folder / notices.JSONL_FILE).read_text().splitlines()]
    recovered = [r for r in records if r.get("kind") == "recovered"]
    assert [r["resolves"] for r in recovered] == [[first, second]]
    assert notices.open_failures(folder, "monthly_run", "jinan", "2026-10") == (again,)
    assert notices.open_failures(folder, "monthly_run", "jinan", "2026-09") == (other,)
    assert sum("运行已恢复：jinan 2026-10" in m for m in logged) == 1


def test_fangfan_runs_rerun_answers_its_failure_without_the_daemon(tmp_path, monkeypatch, capsys):
    """`fangfan run` that goes through after a failed one writes the 【已恢复】 block itself and
    says so; the sensor, finding the run later, adds nothing."""
    from pipelines.cli import _run_partition
    from pipelines.runs import terminal_logger

    data, fangfan = _cli_district(tmp_path, monkeypatch)
    for fails in (True, False):
        job = _job_that(fails).with_logger_defs({"terminal": terminal_logger})
        assert _run_partition(job, "2026-10", 5, {}, fangfan) is not fails
    assert "运行已恢复：jinan 2026-10" in capsys.readouterr().out
    text_file = data / "notices" / notices.TEXT_FILE
    assert text_file.read_text(encoding="utf-8-sig").count("【已恢复】") == 1
    with dg.DagsterInstance.get() as instance:
        run_recovery_notice(_success_context(instance, instance.get_runs()[0].run_id, fangfan))
    assert text_file.read_text(encoding="utf-8-sig").count("【已恢复】") == 1


def _marked_failed_then_through(instance, fangfan, *, noticed_before: bool) -> str:
    """A run the city's daemon marked failed from outside while it ran on (its database gone
    for a moment), which then went through; the failure sensor evaluated before or after."""
    result = _job_that(False).execute_in_process(partition_key="2026-10", instance=instance)
    run = instance.get_run_by_id(result.run_id)
    instance.report_run_failed(run, "marked failed from outside the execution context")
    failure_context = _failure_context(instance, run.run_id, fangfan)
    if noticed_before:
        run_failure_notice(failure_context)
    instance.report_dagster_event(
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name
        ),
        run_id=run.run_id,
    )
    if not noticed_before:
        run_failure_notice(failure_context)
    run_recovery_notice(_success_context(instance, run.run_id, fangfan))
    return run.run_id


@pytest.mark.parametrize("noticed_before", [True, False], ids=["noticed", "not_yet"])
def test_a_run_marked_failed_that_went_through_leaves_no_open_notice(tmp_path, noticed_before):
    """An independent probe of the city (indep35) restarted PostgreSQL while the daemon dequeued
    a district's run: the daemon marked it failed, the worker ran it through. The failure's
    notice told the district to rerun a month that was done, and the recovery sensor, seeing the
    run's success, wrote nothing (the run had its block already). Now a failure sensor that finds
    the run succeeded writes nothing, and one written before is answered by the run itself."""
    data = tmp_path / "jinan"
    fangfan = FangfanResource(data_dir=str(data), district="jinan")
    folder = data / "notices"
    with dg.instance_for_test() as instance:
        run_id = _marked_failed_then_through(instance, fangfan, noticed_before=noticed_before)
    assert notices.open_failures(folder, "monthly_run", "jinan", "2026-10") == ()
    if not noticed_before:
        assert not folder.exists()
        return
    text = (folder / notices.TEXT_FILE).read_text(encoding="utf-8-sig")
    assert text.count("【运行失败】") == 1 and text.count("【已恢复】") == 1
    block = text.split("【已恢复】")[1]
    assert run_id in block and "随后已运行完成" in block
