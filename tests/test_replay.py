"""Rule replay: a changed threshold over past months, and the confirmed warnings it would still catch."""

from __future__ import annotations

import copy
from datetime import date

import polars as pl

from pipelines.rules.replay import format_replay, replay
from pipelines.rules.settings import load_rule_config
from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import memory_warehouse, replace_partition
from tests.conftest import DISTRICT, World
from tests.test_exports import _export


def test_replay_counts_and_confirmed_catch(tmp_path):
    world = World()
    small = world.member(world.household("一般农户"))
    big = world.member(world.household("一般农户"))
    world.record("medical_claims", small, self_paid=21_000.0)
    world.record("medical_claims", big, self_paid=30_000.0)
    con = memory_warehouse()
    world.build(con)
    status = pl.DataFrame({"source": ["roster", *DEPARTMENT_KEYS], "received": True})
    replace_partition(con, "source_status", status, district=DISTRICT, month="2026-10")
    listing, _ = _export(con, world, "2026-10", tmp_path, today=date(2026, 11, 3))
    answers = pl.DataFrame(
        {"warning_id": listing["warning_id"].to_list(), "verdict": ["属实-已纳入监测"] * 2,
         "verified_date": [date(2026, 11, 9)] * 2, "file": ["f.csv"] * 2, "row_number": [2, 3]}
    )  # fmt: skip
    replace_partition(con, "feedback_answers", answers, district=DISTRICT, month="2026-11")

    current = load_rule_config()
    proposed = copy.deepcopy(current)
    proposed["rules"]["YB01"]["threshold_general"] = 25_000
    result = replay(
        con, district=DISTRICT, first="2026-01", last="2026-12", current=current, proposed=proposed
    )

    yb01 = result.counts.filter(pl.col("rule") == "YB01").row(0, named=True)
    assert (yb01["month"], yb01["current"], yb01["proposed"]) == ("2026-10", 2, 1)
    assert result.confirmed.rows() == [("YB01", 2, 1)]
    text = format_replay(result)
    assert "YB01" in text and "1/2" in text
    # nothing was written: the month's warnings are as the export left them
    assert con.sql("SELECT count(*) FROM warnings").fetchall()[0][0] == 2


def test_replay_reads_a_proposed_rules_file_for_a_record_rule(tmp_path):
    world = World()
    small = world.member(world.household("一般农户"))
    large = world.member(world.household("一般农户"))
    world.record("emergency", small, loss=3_000.0, house_collapsed=False)
    world.record("emergency", large, loss=6_000.0, house_collapsed=False)
    con = memory_warehouse()
    world.build(con)
    status = pl.DataFrame({"source": ["roster", *DEPARTMENT_KEYS], "received": True})
    replace_partition(con, "source_status", status, district=DISTRICT, month="2026-10")
    proposal = tmp_path / "proposal.toml"
    proposal.write_text("[rules.YJ01]\nloss_threshold = 2500\n", encoding="utf-8")

    result = replay(
        con, district=DISTRICT, first="2026-10", last="2026-10",
        current=load_rule_config(), proposed=load_rule_config(rules_file=proposal),
    )  # fmt: skip

    yj01 = result.counts.filter(pl.col("rule") == "YJ01").row(0, named=True)
    assert (yj01["current"], yj01["proposed"]) == (1, 2)


def test_replay_of_a_warehouse_older_than_the_schema_says_to_run_once(tmp_path, capsys):
    import duckdb

    from pipelines.cli import main

    database = tmp_path / "warehouse" / "fangfan.duckdb"
    database.parent.mkdir(parents=True)
    with duckdb.connect(str(database)) as con:  # tables written before the schema was declared
        con.execute("CREATE TABLE source_status (district VARCHAR, month VARCHAR, source VARCHAR)")
    proposed = tmp_path / "proposed.toml"
    proposed.write_text("", encoding="utf-8")
    code = main(["replay", "--data-dir", str(tmp_path), "--rules", str(proposed),
                 "--from", "2026-01", "--to", "2026-02"])  # fmt: skip
    assert code == 2
    assert "fangfan run" in capsys.readouterr().err


def _one_run_month(con) -> None:
    world = World()
    world.record("medical_claims", world.member(world.household("一般农户")), self_paid=21_000.0)
    world.build(con)
    status = pl.DataFrame({"source": ["roster", *DEPARTMENT_KEYS], "received": True})
    replace_partition(con, "source_status", status, district=DISTRICT, month="2026-10")
    claims_only = pl.DataFrame({"source": ["medical_claims"], "received": True})
    replace_partition(con, "source_status", claims_only, district=DISTRICT, month="2026-09")


def test_replay_of_months_no_run_covered_names_the_months_that_were_run():
    con = memory_warehouse()
    _one_run_month(con)
    config = load_rule_config()
    # 2026-09 holds the year's claims only (staged for YB01), no run of its own
    result = replay(con, district=DISTRICT, first="2026-09", last="2026-09",
                    current=config, proposed=config)  # fmt: skip
    assert result.counts.is_empty() and result.months_run == ("2026-10",)
    assert "已运行的月份：2026-10" in format_replay(result)


def test_replay_under_another_district_key_says_the_data_directory_may_have_been_renamed():
    con = memory_warehouse()
    _one_run_month(con)
    config = load_rule_config()
    result = replay(con, district="改名后的目录", first="2026-10", last="2026-10",
                    current=config, proposed=config)  # fmt: skip
    assert result.other_districts == (DISTRICT,)
    assert f"只有区县 {DISTRICT} 的" in format_replay(result)


def test_replay_with_a_broken_rules_file_says_so_like_run(tmp_path, capsys):
    from pipelines.cli import main

    database = tmp_path / "warehouse" / "fangfan.duckdb"
    database.parent.mkdir(parents=True)
    database.touch()
    proposed = tmp_path / "proposed.toml"
    proposed.write_text('[rules.YJ01]\nloss_threshold = "五千"\n', encoding="utf-8")
    code = main(["replay", "--data-dir", str(tmp_path), "--rules", str(proposed),
                 "--from", "2026-10", "--to", "2026-10"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "规则设置有误" in err and "loss_threshold" in err and "Traceback" not in err
