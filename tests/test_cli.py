"""The fangfan command: exit codes, and the run summary it prints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    dagster_home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.delenv("FANGFAN_DATA_DIR", raising=False)
    monkeypatch.delenv("FANGFAN_DISTRICT", raising=False)
    return dagster_home


def test_run_without_the_month_in_raw_exits_2(tmp_path, home, capsys):
    assert main(["run", "--month", "2026-10", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "没有这个月的原始数据" in capsys.readouterr().err


def test_a_month_not_yet_ended_exits_2_saying_which_month_can_run(tmp_path, home, capsys):
    """The month in progress (or a later one) has no partition yet: Dagster had refused it with
    its own stack trace on the terminal."""
    from pipelines.partitions import monthly_partitions

    last = monthly_partitions.get_last_partition_key()
    year, month = int(last[:4]), int(last[5:])
    current = f"{year + month // 12}-{month % 12 + 1:02d}"
    (tmp_path / "d" / "raw" / current / "roster").mkdir(parents=True)
    assert main(["run", "--month", current, "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert f"{current} 还没有结束" in err and f"最近可运行的是 {last}" in err
    assert "Traceback" not in err and "Dagster" not in err


def test_a_settings_file_that_cannot_be_meant_stops_the_run_before_any_data_is_read(
    tmp_path, home, capsys
):
    """A probe's 紫 level and 五千 threshold had surfaced only at the warnings step, after the
    month's files were read and matched (or not at all)."""
    (tmp_path / "d" / "raw" / "2026-10" / "roster").mkdir(parents=True)
    (tmp_path / "d" / "rules.toml").write_text('[levels]\nforce = { SL01 = "紫" }\n', "utf-8")
    assert main(["run", "--month", "2026-10", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "规则设置有误" in err and "rules.toml" in err and "force.SL01" in err
    assert not (tmp_path / "d" / "warehouse").exists()


def test_a_warehouse_gone_while_the_ledger_lists_earlier_lists_is_not_rebuilt_silently(
    tmp_path, home, capsys
):
    """The warehouse deleted between months, the ledger still listing September's township
    lists: the run had started a new warehouse without a word, and every open warning went out
    again as 新增 (an independent fault probe). It stops, saying what to do; --new-warehouse
    rebuilds on purpose. Only earlier months of this district count."""
    import json

    data = tmp_path / "d"
    (data / "raw" / "2026-10" / "roster").mkdir(parents=True)
    (data / "ledger").mkdir()
    lines = [
        {"district": "d", "month": "2026-09", "township": "东桥镇"},
        {"district": "d", "month": "2026-10", "township": "东桥镇"},
        {"district": "other", "month": "2026-08", "township": "东桥镇"},
        {"district": "d", "month": "2026-08", "township": None},  # a district file
    ]
    (data / "ledger" / "export_ledger.jsonl").write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8"
    )
    assert main(["run", "--month", "2026-10", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "不存在" in err and "2026-09 的清单" in err and "--new-warehouse" in err
    assert "2026-08" not in err and not (data / "warehouse").exists()
    # on purpose: the run goes on (and fails here for want of a roster file, as any run would)
    assert main(["run", "--month", "2026-10", "--data-dir", str(data), "--new-warehouse"]) == 1


def test_a_damaged_warehouse_is_said_with_what_to_do_not_a_traceback(tmp_path, home, capsys):
    """A warehouse cut short or overwritten: `fangfan run` stops before anything is read, says
    the file is damaged and what to do, and keeps the file (an independent fault probe, indep31:
    a traceback from the check before the run, no advice)."""
    data = tmp_path / "d"
    (data / "raw" / "2026-10" / "roster").mkdir(parents=True)
    (data / "warehouse").mkdir()
    damaged = data / "warehouse" / "fangfan.duckdb"
    damaged.write_bytes(b"not a warehouse" * 1000)
    assert main(["run", "--month", "2026-10", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "不完整或已损坏" in err and "从备份恢复" in err and "Traceback" not in err
    assert damaged.read_bytes() == b"not a warehouse" * 1000


def test_a_failed_runs_line_says_whether_its_township_lists_went_out(tmp_path):
    """A run failing after its township lists went out (a folder where 区级汇总.xlsx goes) had
    said no new lists were made (an independent fault probe, indep31)."""
    import time

    from pipelines.cli import _failed_run_line

    exports = tmp_path / "exports" / "2026-10"
    exports.mkdir(parents=True)
    (exports / "东桥镇.csv").write_text("x", encoding="utf-8")  # an earlier run's
    started = time.time() + 1
    assert "没有生成新的乡镇清单" in _failed_run_line("2026-10", exports, started)
    (exports / "区级汇总.csv").write_text("x", encoding="utf-8")
    os.utime(exports / "区级汇总.csv", (started + 1, started + 1))
    assert "没有生成新的乡镇清单" in _failed_run_line("2026-10", exports, started)
    os.utime(exports / "东桥镇.csv", (started + 1, started + 1))  # put in place by this run
    line = _failed_run_line("2026-10", exports, started)
    assert "乡镇清单已生成" in line and "1 个文件" in line and "区级汇总等区县文件没有生成" in line


def _without_roster(tmp_path: Path) -> Path:
    """A data directory whose 2026-10 has a housing list and no roster: its run fails early."""
    housing = tmp_path / "d" / "raw" / "2026-10" / "housing"
    housing.mkdir(parents=True)
    (housing / "房屋.csv").write_text(
        "户主姓名,乡镇,村,鉴定等级\n张三,东桥镇,王岗村,D\n", encoding="utf-8"
    )
    return tmp_path / "d"


def test_run_without_a_roster_fails_with_exit_1_and_names_the_problem(tmp_path, home, capsys):
    assert main(["run", "--month", "2026-10", "--data-dir", str(_without_roster(tmp_path))]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "roster" in err and "运行失败" in err and "没有生成新的乡镇清单" in err
    # no summary of the half-run month: housing was never staged and would read as 未报送
    assert "未报送" not in captured.out and "预警清单" not in captured.out
    # one plain line per failed step; Dagster's stack traces stay in the run's event log
    assert "失败：roster: 农户花名册" in err and "Stack Trace" not in err and "Traceback" not in err
    assert "dagster._core" not in err
    assert (home / "dagster.yaml").is_file()  # the persistent instance got the project's settings


def test_generate_then_run_prints_the_summary(tmp_path, home, capsys):
    out = tmp_path / "small"
    assert (
        main(
            ["generate", "--out", str(out), "--month", "2026-10", "--members", "400", "--seed", "5"]
        )
        == 0
    )
    assert (out / "rules.toml").read_text(encoding="utf-8").count("金安区") == 1
    assert main(["run", "--month", "2026-10", "--data-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fangfan · 金安区 · 2026-10" in text
    assert "YB01 需要全年累计" in text  # earlier claims months are ingested first, and it says so
    assert "预警清单" in text and str(out / "exports" / "2026-10") in text


def test_a_run_starts_with_the_collector_off_and_runs_with_it_on(
    tmp_path, home, capsys, monkeypatch
):
    """The cyclic collector is off while the imports and definitions are made, on for the run
    with what existed before frozen out of its reach, and the process gets it back as it was."""
    import gc

    import dagster as dg

    import pipelines.definitions

    seen: dict[str, object] = {}
    build = pipelines.definitions.build_definitions
    execute = dg.JobDefinition.execute_in_process

    def building(*args, **kwargs):
        seen["building"] = gc.isenabled()
        return build(*args, **kwargs)

    def executing(self, *args, **kwargs):
        seen["running"] = gc.isenabled()
        seen["frozen"] = gc.get_freeze_count()
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(pipelines.definitions, "build_definitions", building)
    monkeypatch.setattr(dg.JobDefinition, "execute_in_process", executing)
    data_dir = _without_roster(tmp_path)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert main(["run", "--month", "2026-10", "--data-dir", str(data_dir)]) == 1
    assert seen["building"] is False
    assert seen["running"] is True and seen["frozen"] > 100_000
    assert gc.isenabled() and gc.get_freeze_count() == 0
