"""District summary: township × rule counts, learned rates from answers, charts in XLSX and HTML."""

from __future__ import annotations

from datetime import date

import openpyxl
import polars as pl

from pipelines.exports.learning import learned_tables, warning_history
from pipelines.exports.summary import township_by_rule, write_district_summary
from pipelines.warehouse import memory_warehouse, replace_partition
from tests.conftest import DISTRICT
from tests.test_exports import _export, _world


def test_township_by_rule_totals():
    listing = pl.DataFrame({"township": ["甲镇", "甲镇", "乙镇"], "rule": ["ZJ01", "YB01", "ZJ01"]})
    table = township_by_rule(listing)
    assert table.columns[0] == "乡镇" and table.columns[-1] == "合计"
    rows = {r["乡镇"]: r for r in table.iter_rows(named=True)}
    assert rows["甲镇"]["ZJ01"] == 1 and rows["甲镇"]["合计"] == 2
    assert rows["合计"]["ZJ01"] == 2 and rows["合计"]["合计"] == 3
    assert rows["乙镇"]["SL01"] == 0  # every rule has a column, even with no warnings
    # a rule not evaluated this month (its source not received) found nothing: blank, not 0;
    # its carried warnings still count
    unevaluated = township_by_rule(listing, not_evaluated={"SL01", "ZJ01"})
    rows = {r["乡镇"]: r for r in unevaluated.iter_rows(named=True)}
    assert rows["乙镇"]["SL01"] is None and rows["合计"]["SL01"] is None
    assert rows["甲镇"]["ZJ01"] == 1 and rows["乙镇"]["YB01"] == 0


def _answered_world(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    listing, _ = _export(con, world, "2026-10", tmp_path, today=date(2026, 11, 3))
    ids = listing.sort("warning_id")["warning_id"].to_list()
    answers = pl.DataFrame(
        {
            "warning_id": ids[:3],
            "verdict": ["属实-已纳入监测", "不属实", "非本人"],
            "verified_date": [date(2026, 11, 8), date(2026, 11, 13), date(2026, 11, 5)],
            "file": ["x.csv"] * 3,
            "row_number": [2, 3, 4],
        }
    )
    replace_partition(con, "feedback_answers", answers, district=DISTRICT, month="2026-11")
    return con, listing


def test_learned_rates_per_rule_and_township(tmp_path):
    con, listing = _answered_world(tmp_path)
    # November lists two of the three unanswered warnings again; the third is over (its
    # situation resolved by the data): no township owes it an answer
    carried = listing.sort("warning_id")["warning_id"].to_list()[3:5]
    con.execute(
        "INSERT INTO listings SELECT * REPLACE ('2026-11' AS month) FROM listings "
        "WHERE month = '2026-10' AND list_contains(?, warning_id)",
        [carried],
    )
    history = warning_history(con, DISTRICT, "2026-11")
    tables = learned_tables(history, "2026-11", date(2026, 12, 1))
    rules = tables["规则成效(累计)"]
    assert rules["推送"].sum() == listing.height == 6
    assert rules["已核实"].sum() == 3
    # deadline 11-18 passed on 12-01 without an answer, and on November's lists: 逾期 there
    assert rules["逾期未核实"].sum() == 2
    assert tables["乡镇核实(累计)"]["逾期未核实"].sum() == 2
    zj01 = rules.row(by_predicate=pl.col("预警代码") == "ZJ01", named=True)
    assert (zj01["属实占比"], zj01["不属实占比"], zj01["非本人占比"]) == (0.3333, 0.3333, 0.3333)
    towns = tables["乡镇核实(累计)"]
    assert towns["已核实"].sum() == 3
    # export 2026-11-03; answers on the 8th, 13th and 5th for the first three ids
    township_of = dict(listing.select("warning_id", "township").rows())
    days: dict[str, list[int]] = {}
    for warning, waited in zip(sorted(township_of)[:3], (5, 10, 2), strict=True):
        days.setdefault(township_of[warning], []).append(waited)
    medians = dict(towns.filter(pl.col("已核实") > 0).select("乡镇", "核实天数中位数").rows())
    assert medians == {
        t: sorted(d)[len(d) // 2] if len(d) % 2 else sum(d) / 2 for t, d in days.items()
    }


def test_summary_workbook_has_charts_and_html(tmp_path):
    con, _ = _answered_world(tmp_path)
    path = write_district_summary(
        con,
        district=DISTRICT,
        month="2026-10",
        out_dir=tmp_path / "out",
        export_date=date(2026, 11, 3),
    )
    workbook = openpyxl.load_workbook(path)
    assert {"图表", "乡镇×预警", "规则成效(累计)", "部门成效(累计)", "规则成效(本月)", "部门成效(本月)",
            "乡镇核实(累计)"} <= set(workbook.sheetnames)  # fmt: skip
    assert len(workbook["图表"]._charts) >= 2  # Excel's own charts, drawn from the sheet's cells
    html = (tmp_path / "out" / "区级汇总.html").read_text(encoding="utf-8")
    assert html.count("<svg ") >= 2
    assert "乡镇 × 规则" in html or "乡镇×规则" in html
    csv = (tmp_path / "out" / "区级汇总.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")


def test_the_summary_says_the_rule_settings_the_lists_were_made_under(tmp_path):
    from pipelines.exports.summary import SETTINGS_SHEET, write_district_files

    con, _ = _answered_world(tmp_path)
    changed = [{"设置项": "rules.YB01.threshold_monitored", "本月取值": "8000",
                "默认值": "5000", "设置文件": "rules.toml"}]  # fmt: skip
    out = tmp_path / "out"
    write_district_files(con, district=DISTRICT, month="2026-10", out_dir=out,
                         export_date=date(2026, 11, 3), settings=changed)  # fmt: skip
    sheet = openpyxl.load_workbook(out / "区级汇总.xlsx")[SETTINGS_SHEET]
    assert [c.value for c in sheet[2]] == [
        "rules.YB01.threshold_monitored",
        "8000",
        "5000",
        "rules.toml",
    ]
    assert "rules.YB01.threshold_monitored" in (out / "区级汇总.html").read_text(encoding="utf-8")


def test_an_overdue_warning_is_owed_by_the_township_its_household_moved_to(tmp_path):
    """A household that moved takes its open warning with it: the township that owes the answer
    now counts it overdue; the one it was first pushed to keeps it in 推送."""
    con, listing = _answered_world(tmp_path)
    moved = listing.sort("warning_id")["warning_id"].to_list()[5]
    first = listing.filter(pl.col("warning_id") == moved)["township"][0]
    con.execute(
        "INSERT INTO listings SELECT * REPLACE ('2026-11' AS month, '新迁镇' AS township) "
        "FROM listings WHERE month = '2026-10' AND warning_id = ?",
        [moved],
    )
    towns = learned_tables(warning_history(con, DISTRICT, "2026-11"), "2026-11", date(2026, 12, 1))[
        "乡镇核实(累计)"
    ]
    rows = {r["乡镇"]: r for r in towns.iter_rows(named=True)}
    assert rows["新迁镇"]["逾期未核实"] == 1 and rows["新迁镇"]["推送"] == 0
    assert rows[first]["推送"] >= 1 and rows[first]["逾期未核实"] == 0
