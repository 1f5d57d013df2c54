"""Township files: isolation, masking, columns, BOM, XLSX formatting, idempotent reruns, status."""

from __future__ import annotations

import csv
import io
from contextlib import ExitStack
from datetime import date

import openpyxl
import polars as pl

from pipelines.config import DataDir
from pipelines.evaluation import not_evaluated_frame
from pipelines.exports.summary import GONE_HOUSEHOLD, roster_problem_listing
from pipelines.exports.township import (
    EXPORT_COLUMNS,
    build_listing,
    export_date_for,
    record_export,
    write_township_files,
)
from pipelines.report import run_summary
from pipelines.rules.evaluate import evaluate_rules
from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import memory_warehouse, open_warehouse, replace_partition
from tests.conftest import DISTRICT, World


def _world() -> World:
    world = World()
    for township, village in (("东桥镇", "王岗村"), ("东桥镇", "马集村"), ("木厂镇", "桂花村")):
        for grade in ("C", "D"):
            household = world.household("一般农户", township=township, village=village)
            member = world.member(household, f"{village}{grade}")
            world.record("housing", member, grade=grade)
    return world


def _export(con, world: World, month: str, tmp_path, *, mask=True, today=date(2026, 11, 3)):
    result = evaluate_rules(
        con, district=DISTRICT, month=month, config=_config(), received=set(DEPARTMENT_KEYS)
    )
    # as the warnings asset writes them (the listing reads what the data could not decide)
    for table, frame in (
        ("warnings", result.warnings),
        ("rule_undecided", result.undecided),
        ("rules_not_evaluated", not_evaluated_frame(result)),
    ):
        replace_partition(con, table, frame, district=DISTRICT, month=month)
    export_date = export_date_for(con, DISTRICT, month, today)
    listing, _ = build_listing(
        con, district=DISTRICT, month=month, export_date=export_date, deadline_days=15,
        today=today,
    )  # fmt: skip
    files = write_township_files(
        listing, tmp_path / month, mask=mask, xlsx=True, export_date=export_date
    )
    replace_partition(con, "listings", listing.drop("record_keys"), district=DISTRICT, month=month)
    record_export(con, DISTRICT, month, export_date)
    return listing, files


def _on_disk(tmp_path):
    """A warehouse in a data directory (the run summary reads it from there): the layout, the
    stack that closes it, and its connection."""
    layout = DataDir(tmp_path / "data")
    layout.warehouse.mkdir(parents=True)
    warehouse = ExitStack()
    return layout, warehouse, warehouse.enter_context(open_warehouse(layout.database))


def _config() -> dict:
    from pipelines.rules.settings import load_rule_config

    return load_rule_config()


def _read_csv(path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"))))


def test_one_file_per_township_holding_only_its_households(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    _, files = _export(con, world, "2026-10", tmp_path)
    csvs = sorted(f.path.name for f in files if f.path.suffix == ".csv")
    assert csvs == ["东桥镇.csv", "木厂镇.csv"]
    households = {h["household_id"]: h["township"] for h in world.households}
    for name in csvs:
        rows = _read_csv(tmp_path / "2026-10" / name)
        assert rows and all(households[r["户编号"]] == name[:-4] for r in rows)
        assert all(r["乡镇"] == name[:-4] for r in rows)
        assert list(rows[0].keys()) == list(EXPORT_COLUMNS)
    rows = _read_csv(tmp_path / "2026-10" / "东桥镇.csv")
    assert len(rows) == 4
    assert [r["村"] for r in rows] == sorted(r["村"] for r in rows)


def test_ids_are_masked_by_default_and_full_only_when_turned_off(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    full_ids = {m["id_number"] for m in world.members}
    _export(con, world, "2026-10", tmp_path)
    shown = [r["证件号码"] for r in _read_csv(tmp_path / "2026-10" / "木厂镇.csv")]
    assert all(s[6:14] == "********" and s not in full_ids for s in shown)
    assert all(any(f.startswith(s[:6]) and f.endswith(s[-4:]) for f in full_ids) for s in shown)
    _export(con, world, "2026-10", tmp_path, mask=False)
    shown = [r["证件号码"] for r in _read_csv(tmp_path / "2026-10" / "木厂镇.csv")]
    assert set(shown) <= full_ids


def test_xlsx_twin_is_formatted_for_clerks(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    _export(con, world, "2026-10", tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / "2026-10" / "东桥镇.xlsx").active
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header == list(EXPORT_COLUMNS)
    verdict = header.index("核实结果") + 1
    assert sheet.cell(1, verdict).fill.fgColor.rgb.endswith("FFD966")
    assert sheet.column_dimensions["S"].width > 30  # 预警依据 is readable
    assert sheet.max_row == 5
    assert any(
        "属实-已纳入监测" in str(dv.formula1) for dv in sheet.data_validations.dataValidation
    )


def test_workbooks_never_spill_names_and_ids_into_temporary_files(tmp_path, monkeypatch):
    """xlsxwriter assembles each sheet in a temporary file unless told otherwise: the names and
    IDs would sit in the system's temp folder while the file is written (and after a crash)."""
    import tempfile

    def no_temporary_files(*args, **kwargs):
        raise AssertionError("an export wrote a temporary file")

    world = _world()
    con = memory_warehouse()
    world.build(con)
    monkeypatch.setattr(tempfile, "mkstemp", no_temporary_files)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_temporary_files)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_temporary_files)
    _, files = _export(con, world, "2026-10", tmp_path)
    assert any(f.path.suffix == ".xlsx" for f in files)


def test_rerun_replaces_files_and_keeps_export_date(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    first, files = _export(con, world, "2026-10", tmp_path, today=date(2026, 11, 3))
    hashes = {f.path.name: f.sha256 for f in files}
    # a rerun a week later: the same files, the same deadlines
    again, files = _export(con, world, "2026-10", tmp_path, today=date(2026, 11, 10))
    assert {f.path.name: f.sha256 for f in files} == hashes  # XLSX bytes too
    assert set(again["deadline"]) == {date(2026, 11, 18)}
    # the data changed: 木厂镇 has no warning any more, so its stale file goes away
    world.records["housing"] = world.records["housing"][:4]  # the last two are 木厂镇's
    kept = {r["record_key"] for r in world.records["housing"]}
    world.matches = [m for m in world.matches if m["record_key"] in kept]
    world.build(con)
    _export(con, world, "2026-10", tmp_path)
    assert not (tmp_path / "2026-10" / "木厂镇.csv").exists()
    assert not (tmp_path / "2026-10" / "木厂镇.xlsx").exists()


def test_a_warning_a_rerun_lists_first_gets_its_deadline_from_the_rerun(tmp_path):
    """A department's file came late and the month was run again on 2026-12-08: the warnings
    already listed keep 2026-11-18; the new one's township sees it only now, so its deadline is
    2026-12-23, not a date already past (an independent probe's late YB01)."""
    world = _world()
    con = memory_warehouse()
    world.build(con)
    first, _ = _export(con, world, "2026-10", tmp_path, today=date(2026, 11, 3))
    household = world.household("一般农户", township="东桥镇", village="王岗村")
    world.record("housing", world.member(household, "迟到"), grade="D")
    world.build(con)
    again, _ = _export(con, world, "2026-10", tmp_path, today=date(2026, 12, 8))
    deadlines = dict(again.select("warning_id", "deadline").rows())
    assert {deadlines[w] for w in first["warning_id"]} == {date(2026, 11, 18)}
    (late,) = set(deadlines) - set(first["warning_id"])
    assert deadlines[late] == date(2026, 12, 23)
    assert set(again["status"]) == {"新增"}


def test_next_month_lists_open_warnings_as_pending_then_overdue(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    october, _ = _export(con, world, "2026-10", tmp_path, today=date(2026, 11, 3))
    assert set(october["status"]) == {"新增"}
    # November: one new C→D escalation, the rest not re-reported by the department
    november = World(month="2026-11")
    november.households, november.members = world.households, world.members
    key = world.members[0]["member_key"]
    november.record("housing", key, grade="D")
    november.build(con)
    listing, _ = _export(con, november, "2026-11", tmp_path, today=date(2026, 12, 4))
    statuses = dict(zip(listing["warning_id"], listing["status"], strict=True))
    carried = set(october["warning_id"])
    assert carried <= set(statuses)  # still open: listed again
    new_ids = set(statuses) - carried
    assert len(new_ids) == 1 and statuses[new_ids.pop()] == "新增"
    # October's deadline (11-18) passed before the December export: 逾期
    assert {statuses[w] for w in carried} == {"逾期"}
    firsts = dict(zip(listing["warning_id"], listing["first_month"], strict=True))
    assert {firsts[w] for w in carried} == {"2026-10"}
    rows = _read_csv(tmp_path / "2026-11" / "东桥镇.csv")
    assert {r["状态"] for r in rows} == {"逾期", "新增"}
    assert pl.DataFrame(rows).filter(pl.col("状态") == "逾期")[
        "核实截止日期"
    ].unique().to_list() == ["2026-11-18"]


def test_confidence_is_never_shown_as_certainty_it_is_not(tmp_path):
    world = _world()
    world.matches[0]["confidence"] = 0.999
    con = memory_warehouse()
    world.build(con)
    _export(con, world, "2026-10", tmp_path)
    shown = {r["匹配可信度"] for p in (tmp_path / "2026-10").glob("*.csv") for r in _read_csv(p)}
    assert "0.999" in shown


def test_rows_are_tall_enough_for_their_wrapped_evidence(tmp_path):
    world = _world()
    con = memory_warehouse()
    world.build(con)
    _export(con, world, "2026-10", tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / "2026-10" / "东桥镇.xlsx").active
    evidence_col = [c.value for c in sheet[1]].index("预警依据") + 1
    for row in range(2, sheet.max_row + 1):
        text = sheet.cell(row, evidence_col).value
        lines = -(-sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) // 35)
        assert sheet.row_dimensions[row].height >= 15 * lines
    assert sheet.page_setup.paperSize == 8 and sheet.page_setup.orientation == "landscape"


def test_a_member_who_moved_household_keeps_the_warning_listed_before(tmp_path):
    """The same person (ID number), rule and evidence keep their 预警编号 (contract §5). A member
    who moved to another household gets a new member key, so the month's warning a new number:
    on a probe district the same 新入学大学生 warning was listed twice, 待核实 under the old
    household and 新增 under the new one. It is listed once, under the household the member is
    in now, with its first month, deadline and number; a verified one stays verified."""
    october = World()
    old = october.household("脱贫户", village="王岗村")
    moved = october.member(old, "李浩", birth=date(1990, 3, 3))
    stays = october.member(october.household("脱贫户", village="马集村"), "王五")
    new = october.household("脱贫户", village="桂花村")  # the household 李浩 joins in November
    for member in (moved, stays):
        october.record("vehicles", member, vehicle_type="小型轿车")
        october.record("medical_enrollment", member, enroll_year=2026, enroll_status="正常参保")
    con = memory_warehouse()
    october.build(con)
    first, _ = _export(con, october, "2026-10", tmp_path, today=date(2026, 11, 3))
    before = dict(zip(first["member_key"], first["warning_id"], strict=True))

    november = World(month="2026-11")
    november.households, november.members = october.households, october.members
    member = next(m for m in november.members if m["member_key"] == moved)
    member.update(household_id=new, member_key=f"{new}|{member['id_number']}", village="桂花村")
    for key in (member["member_key"], stays):
        november.record("vehicles", key, vehicle_type="小型轿车")
        november.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    november.build(con)
    listing, _ = _export(con, november, "2026-11", tmp_path, today=date(2026, 12, 4))

    assert listing.height == 2 and set(listing["warning_id"]) == set(before.values())
    row = listing.filter(pl.col("warning_id") == before[moved]).row(0, named=True)
    assert (row["household_id"], row["village"], row["first_month"]) == (new, "桂花村", "2026-10")
    assert row["status"] == "逾期"  # October's deadline passed: listed before, not a new one
    # the month's warning itself carries the number (answers, provenance and summaries agree)
    ids = con.sql("SELECT warning_id FROM warnings WHERE month = '2026-11'").pl()["warning_id"]
    assert set(ids) == set(before.values())


def test_a_carried_warning_shows_the_household_and_member_as_this_months_roster_has_them(
    tmp_path,
):
    """Contract §5: 乡镇 … 与户主关系 come from the roster. A warning carried from October (not
    found again in November's data) had kept October's columns: a member who moved to another
    household was still shown as 之子 of the old one, a household re-keyed under its old
    户编号, a grid's new worker not named (an independent district's two-month loop). Now the
    member is found by their ID and the household, grid and worker are November's; a household
    gone from the roster keeps what it was listed with."""
    october = World()
    stays = october.household("一般农户", village="王岗村")
    moves = october.household("一般农户", village="马集村")
    goes = october.household("一般农户", village="桂花村")
    keys = {
        "stays": october.member(stays, "张一"),
        "moves": october.member(moves, "李二", relation="之子"),
        "goes": october.member(goes, "王三"),
    }
    for key in keys.values():
        october.record("hrss", key, register_type="失业登记", register_date=date(2026, 10, 8))
    layout, warehouse, con = _on_disk(tmp_path)
    october.build(con)
    first, _ = _export(con, october, "2026-10", tmp_path, today=date(2026, 11, 3))
    assert first.height == 3

    november = World(month="2026-11")
    november.households = [h for h in october.households if h["household_id"] != goes]
    november.members = [m for m in october.members if m["household_id"] != goes]
    own = november.household("一般农户", village="马集村")  # 李二's own household now
    moved = next(m for m in november.members if m["member_key"] == keys["moves"])
    moved.update(household_id=own, member_key=f"{own}|{moved['id_number']}", relation="户主")
    for household in november.households:
        if household["household_id"] == stays:
            household["worker_name"] = "新网格员"
    november.build(con)
    listing, _ = _export(con, november, "2026-11", tmp_path, today=date(2026, 12, 4))

    rows = {r["member_name"]: r for r in listing.iter_rows(named=True)}
    assert set(rows) == {"张一", "李二", "王三"} and set(listing["status"]) == {"逾期"}
    assert rows["李二"]["household_id"] == own and rows["李二"]["relation"] == "户主"
    assert rows["张一"]["worker_name"] == "新网格员"
    assert rows["王三"]["household_id"] == goes and rows["王三"]["village"] == "桂花村"
    warehouse.close()
    said = run_summary(layout, DISTRICT, "2026-11")
    assert "延续的未核实预警中 1 条所属农户已不在本月花名册" in said
    # and the district's file of roster problems names it (indep36: told nowhere but the run)
    with open_warehouse(layout.database) as con:
        problems = roster_problem_listing(con, DISTRICT, "2026-11")
    gone_rows = problems.filter(pl.col("问题") == GONE_HOUSEHOLD)
    assert gone_rows["户编号"].to_list() == [goes] and gone_rows["村"].to_list() == ["桂花村"]
    assert rows["王三"]["warning_id"] in gone_rows["说明"][0]


def test_a_warning_of_a_member_who_left_the_roster_shows_them_as_last_month_had_them(tmp_path):
    """GA01 for a death the village recorded first (the member is off M's roster): the township
    file names the member, their masked ID and relation from the latest earlier roster, not
    blanks."""
    world = World()
    household = world.household("一般农户")
    world.member(household, "周一", birth=date(1955, 1, 1))
    son, _ = world.departed(household, "周二", birth=date(1986, 4, 2), died=date(2026, 10, 9))
    gone = son.split("|")[1]
    con = memory_warehouse()
    world.build(con)
    _, files = _export(con, world, "2026-10", tmp_path)
    rows = _read_csv(next(f.path for f in files if f.path.suffix == ".csv"))
    assert [(r["预警代码"], r["姓名"], r["证件号码"], r["与户主关系"]) for r in rows] == [
        ("GA01", "周二", f"{gone[:6]}********{gone[-4:]}", "之子")
    ]


def test_a_support_warning_is_not_carried_once_the_months_list_shows_its_state_over(tmp_path):
    """帮扶 rules speak of a state the department's list shows every month (an independent probe,
    indep19: an August YB02 for 暂停 carried to September, whose list said 正常参保, with its
    August evidence: a visit for nothing). November's list shows 甲 正常参保 and 丙 with student
    aid: their October warnings are not carried, and the run says how many. 乙's November row
    cannot be read (undecided): hers stays; an event rule's (RS01) carries on whatever the list.
    戊 goes on to 高中 still without aid: November's JY03 for her stands for October's (indep20:
    the same student listed twice)."""
    october = World()
    households = {
        name: october.household("脱贫户", village=village)
        for name, village in (("甲", "王岗村"), ("乙", "马集村"), ("丙", "桂花村"))
    }
    keys = {name: october.member(h, name) for name, h in households.items()}
    jobless = october.member(households["乙"], "丁", relation="之子")
    october.record("medical_enrollment", keys["甲"], enroll_year=2026, enroll_status="暂停")
    october.record("medical_enrollment", keys["乙"], enroll_year=2026, enroll_status="暂停")
    october.record("medical_enrollment", keys["丙"], enroll_year=2026, enroll_status="正常参保")
    october.record("medical_enrollment", jobless, enroll_year=2026, enroll_status="正常参保")
    student = {"stage": "初中", "grade": "初二", "school_status": "在读"}
    october.record("education", keys["丙"], **student, aided=False)
    # 戊 goes on from 初中 to 高中 still without aid: one JY03 for her in November, not two
    moves_up = october.member(households["丙"], "戊", relation="之女", birth=date(2010, 3, 3))
    october.record("medical_enrollment", moves_up, enroll_year=2026, enroll_status="正常参保")
    october.record("education", moves_up, **student, aided=False)
    october.record("hrss", jobless, register_type="失业登记", register_date=date(2026, 10, 8))
    layout, warehouse, con = _on_disk(tmp_path)
    october.build(con)
    first, _ = _export(con, october, "2026-10", tmp_path, today=date(2026, 11, 3))
    assert sorted(first.select("member_name", "rule").rows()) == [
        ("丁", "RS01"),
        ("丙", "JY03"),
        ("乙", "YB02"),
        ("戊", "JY03"),
        ("甲", "YB02"),
    ]

    november = World(month="2026-11")
    november.households, november.members = october.households, october.members
    november.record("medical_enrollment", keys["甲"], enroll_year=2026, enroll_status="正常参保")
    november.record("medical_enrollment", keys["乙"], enroll_year=2026, enroll_status=None)
    for key in (keys["丙"], jobless):
        november.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    november.record("education", keys["丙"], **student, aided=True)
    november.record("medical_enrollment", moves_up, enroll_year=2026, enroll_status="正常参保")
    upper = {**student, "stage": "高中", "grade": "高一"}
    november.record("education", moves_up, **upper, aided=False)
    november.build(con)
    listing, _ = _export(con, november, "2026-11", tmp_path, today=date(2026, 12, 4))
    assert sorted(listing.select("member_name", "rule", "status").rows()) == [
        ("丁", "RS01", "逾期"),
        ("乙", "YB02", "逾期"),
        ("戊", "JY03", "新增"),
    ]
    warehouse.close()
    said = run_summary(layout, DISTRICT, "2026-11")
    assert "延续的帮扶预警中 2 条本月部门名单已显示情况改变" in said
    assert "延续的帮扶预警中 1 条由本月对同一人的新预警代替" in said


def test_a_not_enrolled_warning_is_not_carried_once_a_stale_list_shows_its_year_insured(tmp_path):
    """December 2026 warns 甲 and 乙 YB02 (no 2026 row of theirs). January's list is 2026's sent
    again (an independent probe of the year's turn, indep36): it cannot decide 2027, so YB02 is
    not evaluated, but it shows 甲 正常参保 for 2026, the very year her warning said she had no
    record for. Her warning is not carried to a visit; 乙, still absent, is carried as before."""
    december = World(month="2026-12")
    household = december.household("脱贫户", village="王岗村")
    keys = {name: december.member(household, name) for name in ("甲", "乙")}
    others = [december.member(household, f"丙{n}", relation="之子") for n in range(4)]
    for key in others:
        december.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    layout, warehouse, con = _on_disk(tmp_path)
    december.build(con)
    first, _ = _export(con, december, "2026-12", tmp_path, today=date(2027, 1, 3))
    assert sorted(first.filter(pl.col("rule") == "YB02")["member_name"]) == ["乙", "甲"]

    january = World(month="2027-01")
    january.households, january.members = december.households, december.members
    for key in (*others, keys["甲"]):
        january.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    january.build(con)
    listing, _ = _export(con, january, "2027-01", tmp_path, today=date(2027, 2, 3))
    yb02 = listing.filter(pl.col("rule") == "YB02")
    assert yb02.select("member_name", "status").rows() == [("乙", "逾期")]
    warehouse.close()
    assert "延续的帮扶预警中 1 条本月部门名单已显示情况改变" in run_summary(
        layout, DISTRICT, "2027-01"
    )


def test_no_warning_is_listed_about_a_member_reported_dead(tmp_path):
    """indep41: 甲's October YB02 was carried into November, where 公安 reported her death (GA01);
    乙 died in October (GA01, unanswered) and November raised a new YB02 for him. Both are visits
    about a dead person: November lists the deaths only, and the run says how many carried
    warnings it left out. 丙, alive and still not enrolled, is carried as before."""
    october = World()
    household = october.household("脱贫户", village="王岗村")
    keys = {name: october.member(household, name) for name in ("甲", "乙", "丙")}
    insured = october.member(household, "丁", relation="之子")
    october.record("medical_enrollment", insured, enroll_year=2026, enroll_status="正常参保")
    october.record("public_security", keys["乙"], change_type="死亡", change_date=date(2026, 10, 3))
    layout, warehouse, con = _on_disk(tmp_path)
    october.build(con)
    first, _ = _export(con, october, "2026-10", tmp_path, today=date(2026, 11, 3))
    assert sorted(first.select("member_name", "rule").rows()) == [
        ("丙", "YB02"), ("乙", "GA01"), ("甲", "YB02"),
    ]  # fmt: skip

    november = World(month="2026-11")
    november.households, november.members = october.households, october.members
    november.record("medical_enrollment", insured, enroll_year=2026, enroll_status="正常参保")
    november.record(
        "public_security", keys["甲"], change_type="死亡", change_date=date(2026, 11, 5)
    )
    november.build(con)
    listing, _ = _export(con, november, "2026-11", tmp_path, today=date(2026, 12, 4))
    assert sorted(listing.select("member_name", "rule", "status").rows()) == [
        ("丙", "YB02", "逾期"), ("乙", "GA01", "逾期"), ("甲", "GA01", "新增"),
    ]  # fmt: skip
    warehouse.close()
    assert "延续的预警中 1 条所涉成员已报死亡" in run_summary(layout, DISTRICT, "2026-11")


def test_a_monitored_households_warning_is_not_carried_once_it_is_no_longer_monitored(tmp_path):
    """A 精准 or 帮扶 warning (rules on 脱贫户 and 监测户 only) open from October, its household
    一般农户 in November's roster: it no longer applies and is not listed again (an independent
    probe: JY03 listed on, 户类型 一般农户 under a 帮扶 rule); the run says how many. A rule on every
    household (RS01) carries on as the household's type changes; a household still monitored keeps
    its warning."""
    october = World()
    leaves = october.household("监测户", village="王岗村")
    stays = october.household("脱贫户", village="马集村")
    jobless = october.household("脱贫户", village="桂花村")
    keys = {
        h: october.member(h, name) for h, name in ((leaves, "甲"), (stays, "乙"), (jobless, "丙"))
    }
    for household in (leaves, stays):
        october.record("vehicles", keys[household], vehicle_type="小型轿车")
    october.record("hrss", keys[jobless], register_type="失业登记", register_date=date(2026, 10, 8))
    for key in keys.values():
        october.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    layout, warehouse, con = _on_disk(tmp_path)
    october.build(con)
    first, _ = _export(con, october, "2026-10", tmp_path, today=date(2026, 11, 3))
    assert sorted(first.select("household_id", "rule").rows()) == sorted(
        [(leaves, "GA02"), (stays, "GA02"), (jobless, "RS01")]
    )

    november = World(month="2026-11")
    november.households, november.members = october.households, october.members
    for household in november.households:
        if household["household_id"] in (leaves, jobless):
            household["household_type"] = "一般农户"
    for member in november.members:
        if member["household_id"] in (leaves, jobless):
            member["household_type"] = "一般农户"
    for key in keys.values():
        november.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    november.build(con)
    listing, _ = _export(con, november, "2026-11", tmp_path, today=date(2026, 12, 4))
    assert sorted(listing.select("household_id", "rule").rows()) == sorted(
        [(stays, "GA02"), (jobless, "RS01")]
    )
    warehouse.close()
    said = run_summary(layout, DISTRICT, "2026-11")
    assert "延续的帮扶、精准预警中 1 条所属农户本月已不是脱贫户或监测户" in said
