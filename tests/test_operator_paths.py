"""What a district team meets running months from the Dagster UI (an independent probe drove a
district through the UI's GraphQL API): a month run on top of one whose lists never went out is
refused, naming the month to run first; a roster file that cannot be read stops the month,
saying which file and why; a settings typo stops a UI run before any data is read; the
file-arrival sensor runs neither the year's claims-only folders nor months it has run with the
same files; and each failure's notice says what to do."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.definitions import MONTHLY_JOB, defs, district_partition
from pipelines.exports.township import export_date_for, record_export
from pipelines.generate import generate
from pipelines.notices import FailedRun, StepFailure, notice
from pipelines.publishing import unpublished_previous_month
from pipelines.sensors import arrival_requests
from pipelines.warehouse import memory_warehouse, open_warehouse, replace_partition

AUGUST, SEPTEMBER, OCTOBER = "2026-08", "2026-09", "2026-10"


# --- a month whose lists never went out -------------------------------------------------------


def _roster_read(con, month: str) -> None:
    import polars as pl

    status = pl.DataFrame({"source": ["roster"], "received": [True], "records": [10]})
    replace_partition(con, "source_status", status, district="d", month=month)


def test_a_month_whose_lists_were_due_but_never_went_out_is_pending():
    con = memory_warehouse()

    def pending(month: str, *, has_data: bool = True, district: str = "d") -> str | None:
        return unpublished_previous_month(con, district, month, previous_has_data=has_data)

    # a district starting now: the month before, its data in raw/ or not, is not in the way
    assert pending(SEPTEMBER) is None
    _roster_read(con, AUGUST)
    # August read its roster and its lists never went out: September waits for it
    assert pending(SEPTEMBER, has_data=False) == AUGUST
    assert pending(SEPTEMBER, district="other") is None
    # October waits for September, whose data came but which never ran (refused, or skipped)
    assert pending(OCTOBER) == SEPTEMBER
    assert pending(OCTOBER, has_data=False) is None  # no September data: nothing was due
    # the export date is chosen first but recorded only once the lists are out
    assert export_date_for(con, "d", AUGUST, date(2026, 9, 3)) == date(2026, 9, 3)
    assert pending(SEPTEMBER) == AUGUST
    record_export(con, "d", AUGUST, date(2026, 9, 3))
    record_export(con, "d", AUGUST, date(2026, 9, 10))  # a rerun keeps the first date
    assert pending(SEPTEMBER) is None
    assert export_date_for(con, "d", AUGUST, date(2026, 9, 10)) == date(2026, 9, 3)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("operator") / "district"
    generate(root, months=[AUGUST, SEPTEMBER], members=200, seed=21)
    return root


@pytest.fixture
def district(pristine: Path, tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "district"
    shutil.copytree(pristine, root)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FANGFAN_DATA_DIR", raising=False)
    monkeypatch.delenv("FANGFAN_DISTRICT", raising=False)
    return root


def _run(root: Path, month: str) -> int:
    return main(["run", "--month", month, "--data-dir", str(root)])


def _carried(root: Path, month: str, first: str) -> int:
    """The rows of `month`'s lists first listed in `first` (open warnings carried on)."""
    with open_warehouse(root / "warehouse" / "fangfan.duckdb", read_only=True) as con:
        return con.execute(
            "SELECT count(*) FROM listings WHERE month = ? AND first_month = ?", [month, first]
        ).fetchall()[0][0]


def _run_from_ui(root: Path, month: str, monkeypatch) -> dg.ExecuteInProcessResult:
    """The month's job as the UI launches it: settings from the environment, no `fangfan run`."""
    monkeypatch.setenv("FANGFAN_DATA_DIR", str(root))
    instance = dg.DagsterInstance.ephemeral()
    return (
        defs()
        .resolve_job_def(MONTHLY_JOB)
        .execute_in_process(
            partition_key=district_partition(month, instance=instance),
            instance=instance,
            raise_on_error=False,
        )
    )


def test_a_month_after_a_failed_one_is_refused_until_that_one_runs(district: Path, capsys):
    """August fails as its lists are written (exports/2026-08 is a file, not a folder): run
    next, September stops before reading anything and names August; once August runs,
    September carries August's open warnings."""
    (district / "exports").mkdir()
    (district / "exports" / AUGUST).write_text("not a folder", encoding="utf-8")
    assert _run(district, AUGUST) == 1
    notices = (district / "notices" / "运行失败通知.txt").read_text(encoding="utf-8")
    assert "程序内部错误" not in notices  # a file in the way, named: not one for tech support

    assert _run(district, SEPTEMBER) == 1
    said = capsys.readouterr()
    assert f"上月（{AUGUST}）的数据已到，但乡镇清单没有生成" in said.err
    assert f"请先运行 {AUGUST}" in said.err
    notices = (district / "notices" / "运行失败通知.txt").read_text(encoding="utf-8")
    assert "按上面的提示处理后" in notices.split("【运行失败】")[-1]
    with open_warehouse(district / "warehouse" / "fangfan.duckdb", read_only=True) as con:
        staged = con.execute(
            "SELECT count(*) FROM source_status WHERE month = ?", [SEPTEMBER]
        ).fetchall()
    assert staged == [(0,)]  # refused before anything of September was read

    (district / "exports" / AUGUST).unlink()
    assert _run(district, AUGUST) == 0
    assert _run(district, SEPTEMBER) == 0
    assert _carried(district, SEPTEMBER, AUGUST) > 0


def test_a_month_run_again_after_later_ones_names_the_months_to_run_again(district: Path, capsys):
    """A 补报 file for August arrives after September's lists went out: August run again says
    that September's lists were built on the August before, and to run September again (the
    terminal, and the exports step's warning in the run's event log); September run again, the
    month after it has no lists, and nothing is said."""
    assert _run(district, AUGUST) == 0
    assert _run(district, SEPTEMBER) == 0
    capsys.readouterr()
    assert _run(district, AUGUST) == 0
    said = capsys.readouterr().out
    assert f"之后的月份（{SEPTEMBER}）已生成过乡镇清单，本次只更新 {AUGUST} 的清单" in said
    assert f"请按顺序重跑 {SEPTEMBER}" in said
    with dg.DagsterInstance.get() as instance:
        [latest] = instance.get_runs(limit=1)
        logged = [
            e.user_message
            for e in instance.all_logs(latest.run_id)
            if e.level >= 30 and "之后的月份" in (e.user_message or "")
        ]
    assert logged and SEPTEMBER in logged[0]
    assert _run(district, SEPTEMBER) == 0
    assert "之后的月份" not in capsys.readouterr().out


def test_a_roster_file_that_cannot_be_read_stops_the_month_naming_it(district: Path, capsys):
    """One township's roster file without its header row: its households would be missing
    from the month (their warnings never raised), so the month stops, and the file and the
    reason are said, in the run output and in Dagster's log."""
    assert _run(district, AUGUST) == 0
    before = {p.name: p.read_bytes() for p in (district / "exports" / AUGUST).glob("*.csv")}
    capsys.readouterr()
    roster = sorted((district / "raw" / AUGUST / "roster").glob("*.csv"))[0]
    lines = roster.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    roster.write_text("".join(lines[1:]), encoding="utf-8")

    assert _run(district, AUGUST) == 1
    said = capsys.readouterr()
    assert f"roster 农户花名册 · {roster.name}（读取失败）" in said.out + said.err
    assert "可识别的表头" in said.out + said.err
    # the month's lists as they were: nothing published from a roster short of a township
    after = {p.name: p.read_bytes() for p in (district / "exports" / AUGUST).glob("*.csv")}
    assert after == before


def test_a_township_whose_roster_file_did_not_come_stops_the_month(district: Path, capsys):
    """September's roster arrives without 东桥镇's file while the grid ledger still has its grids
    and August's roster had its households (an independent probe: the month ran, the
    township's new warnings were lost and its people's department rows went to the district as
    "removed from the roster: death, migration"). The month stops naming the township; with the
    file back, it runs."""
    assert _run(district, AUGUST) == 0
    capsys.readouterr()
    [missing] = (district / "raw" / SEPTEMBER / "roster").glob("*东桥镇*")
    aside = district / missing.name
    missing.rename(aside)

    assert _run(district, SEPTEMBER) == 1
    said = capsys.readouterr()
    assert "本月花名册中没有东桥镇的农户，但上月花名册有、本月网格台账也有该乡镇" in said.err
    assert f"补报到 raw/{SEPTEMBER}/roster/" in said.err
    assert not (district / "exports" / SEPTEMBER).exists()

    aside.rename(missing)
    assert _run(district, SEPTEMBER) == 0
    assert (district / "exports" / SEPTEMBER / "东桥镇.csv").exists()


def test_a_settings_typo_stops_a_ui_run_before_any_data_is_read(district: Path, monkeypatch):
    """A run launched from the UI does not pass through `fangfan run`'s own check."""
    (district / "rules.toml").write_text(
        '[rules.YB01]\nthreshold_general = "两万"\n', encoding="utf-8"
    )
    result = _run_from_ui(district, AUGUST, monkeypatch)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "ingest"
    assert "规则设置有误，未运行" in failure.step_failure_data.error.message
    assert "threshold_general" in failure.step_failure_data.error.message
    assert not (district / "warehouse" / "fangfan.duckdb").exists() or not any(
        e.is_step_materialization for e in result.all_events
    )


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        ("settings", "规则设置有误，未运行：rules.toml: [rules.YB01] threshold_general 必须是数字"),
        ("previous_month", "上月（2026-08）的数据已到，但乡镇清单没有生成：请先运行 2026-08"),
    ],
)
def test_a_failure_that_says_what_to_do_is_not_sent_to_the_raw_folder(asset, message):
    failed = FailedRun(
        "run-1", MONTHLY_JOB, SEPTEMBER, "金安区",
        (StepFailure("ingest", asset, (("Failure", message),)),),
    )  # fmt: skip
    item = notice(failed)
    assert item.problem == message
    assert item.action.startswith("按上面的提示处理后") and "raw/" not in item.action


def test_a_file_in_the_way_of_the_exports_is_a_file_problem_not_an_internal_error():
    failed = FailedRun(
        "run-1", MONTHLY_JOB, AUGUST, "金安区",
        (StepFailure("township_exports", None,
                     (("FileExistsError", "[Errno 17] File exists: 'exports/2026-08'"),)),),
    )  # fmt: skip
    item = notice(failed)
    assert "程序内部错误" not in item.problem and "exports/2026-08" in item.problem


# --- the file-arrival sensor --------------------------------------------------------------


def test_the_sensor_runs_neither_claims_only_months_nor_months_run_with_the_same_files(tmp_path):
    raw = tmp_path / "raw"
    for month, source in (("2026-07", "medical_claims"), ("2026-08", "housing"),
                          ("2026-09", "housing"), ("2026-10", "feedback")):  # fmt: skip
        (raw / month / source).mkdir(parents=True)
        (raw / month / source / "a.csv").write_text("姓名\n甲\n", encoding="utf-8")
    months = {"2026-07", "2026-08", "2026-09", "2026-10"}
    # claims alone are YB01's history, returned lists alone wait for their month's data
    assert [r.partition_key for r in arrival_requests(raw, months)] == ["2026-08", "2026-09"]
    # August's lists went out after its files last changed: not run again; September's before
    now = time.time()
    for month in ("2026-08", "2026-09"):
        os.utime(raw / month / "housing" / "a.csv", (now - 100, now - 100))
    ran = {"2026-08": now - 50, "2026-09": now - 200}
    requests = arrival_requests(raw, months, last_run=ran.get)
    assert [r.partition_key for r in requests] == ["2026-09"]
    os.utime(raw / "2026-08" / "housing" / "a.csv", (now, now))  # a 补报 after August ran
    requests = arrival_requests(raw, months, last_run=ran.get)
    assert [r.partition_key for r in requests] == ["2026-08", "2026-09"]


def test_a_sources_data_version_follows_its_files(district: Path):
    """The UI's stale markers read data versions: a source's is its folder's fingerprint, so a
    changed file is a new version (and its downstream assets stale), an unchanged one is not."""

    def versions() -> dict[str, str]:
        instance = dg.DagsterInstance.get()
        found = {}
        for key in ("housing", "education"):
            # the latest materialisation (the district's only month here)
            (record,) = instance.fetch_materializations(dg.AssetKey(key), limit=1).records
            assert record.partition_key.endswith(AUGUST)
            found[key] = record.asset_materialization.tags["dagster/data_version"]
        return found

    assert _run(district, AUGUST) == 0
    first = versions()
    housing = sorted((district / "raw" / AUGUST / "housing").iterdir())[0]
    housing.write_bytes(housing.read_bytes() + b"\n")  # a file re-saved: new bytes
    assert _run(district, AUGUST) == 0
    again = versions()
    assert again["housing"] != first["housing"]
    assert again["education"] == first["education"]


# --- a data directory renamed: the warehouse is another district key's ------------------------


def test_a_renamed_data_directory_stops_the_month_naming_the_warehouses_district(
    district: Path, capsys, monkeypatch
):
    """The district's key is its folder's name when nothing else names it: run from a renamed
    folder, the month would start the district over (every open and verified warning listed as
    new, the returned answers refused). It stops before reading anything, on the command line
    and from the UI alike, and says how to keep the key."""
    assert _run(district, AUGUST) == 0
    moved = district.with_name("jinan_2026")
    district.rename(moved)
    capsys.readouterr()

    assert _run(moved, SEPTEMBER) == 2
    said = capsys.readouterr().err
    assert "中只有区县「district」的数据，本次运行的区县却是「jinan_2026」" in said
    assert '[district] name = "district"' in said
    result = _run_from_ui(moved, SEPTEMBER, monkeypatch)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "本次运行的区县却是「jinan_2026」" in failure.step_failure_data.error.message
    with open_warehouse(moved / "warehouse" / "fangfan.duckdb", read_only=True) as con:
        keys = con.execute("SELECT DISTINCT district FROM source_status").fetchall()
    assert keys == [("district",)]  # nothing staged under the new key

    (moved / "rules.toml").write_text('[district]\nname = "district"\n', encoding="utf-8")
    assert _run(moved, SEPTEMBER) == 0
    assert _carried(moved, SEPTEMBER, AUGUST) > 0
