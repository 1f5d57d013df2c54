"""Staging a source folder: decorations, typing, rejects, accounting, failures and provenance."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.checks.schemas import schema_failures
from pipelines.ingest.stage import FILE_SCHEMA, stage_source
from pipelines.ingest.table import REJECT_SCHEMA, record_schema
from pipelines.sources import ROSTER, SOURCES
from tests.ingest.builders import make_id, write_csv, write_xlsx

MONTH = "2026-10"
CIVIL = SOURCES["civil_affairs"]
ZHANG, LI, WANG = make_id(date(1950, 3, 1)), make_id(date(1962, 7, 9)), make_id(date(1988, 1, 2))
HEADER = (
    "序号",
    "户主姓名",
    "姓名 ",
    "身份证号*",
    "乡镇（街道）",
    "村（社区）",
    "救助类型",
    "变动类型",
)
HEADER += ("保障人数", "金额", "变动日期", "银行账号", "备注")
# line numbers as a text editor shows them: title 1, unit 2, header 3, data from 4
CIVIL_ROWS = [
    ("金安区2026年10月社会救助变动名册",),
    ("填报单位：区民政局",),
    HEADER,
    ("1", "张三", "张三（已故）", ZHANG, "三十铺镇", "北山村", "低保", "新增", "3人", "1,234.50元", "2026年10月5日", "6222000011112222", ""),
    ("2", "李四", "李 四", f" {LI.lower()} ", "三十铺镇", "北山村", "特困", "在保", "2", "800", "20261005", "", "x"),
    (),
    ("3", "王五", "王五", WANG, "三十铺镇", "北山村", "救济户", "新增", "x", "abc", "2026-13-01", "", ""),
    ("4", "", "", "", "三十铺镇", "北山村", "低保", "新增", "", "", "", "", ""),
    ("5", "赵六", "赵六", "3.41502E+17", "三十铺镇", "南岗村", "临时救助", "", "", "", "46300", "", ""),
    ("合计", "", "", "", "", "", "", "", "5", "2034.5", "", "", ""),
    ("填报人：钱七    联系电话：13700000000",),
    ("说明：本表由民政局提供",),
]  # fmt: skip


@pytest.fixture
def civil_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "raw" / MONTH / "civil_affairs"
    write_csv(folder / "三十铺镇_社会救助变动名册.csv", CIVIL_ROWS, "gb18030")
    return folder


def test_kept_rows_are_typed_and_normalised(civil_folder: Path) -> None:
    staged = stage_source(CIVIL, civil_folder, MONTH)
    assert staged.received
    records = staged.records.sort("row_number")
    # row 7 has unreadable fields but a usable identity: kept, those fields null
    assert records["row_number"].to_list() == [4, 5, 7, 9]
    first = records.row(0, named=True)
    assert first["name_raw"] == "张三（已故）" and first["name"] == "张三"
    assert first["id_number"] == ZHANG and first["id_status"] == "valid"
    assert first["id_birth"] == date(1950, 3, 1) and first["id_area"] == "341502"
    assert first["covered_people"] == 3 and first["amount"] == 1234.5
    assert first["change_date"] == date(2026, 10, 5)
    assert first["record_key"] == "civil_affairs|三十铺镇_社会救助变动名册.csv||4"
    second = records.row(1, named=True)
    assert second["name"] == "李四" and second["id_number"] == LI and second["amount"] == 800.0
    kept_with_problems = records.row(2, named=True)
    assert kept_with_problems["name"] == "王五" and kept_with_problems["id_number"] == WANG
    assert kept_with_problems["assistance_type"] is None  # 救济户 is not an allowed value
    assert kept_with_problems["change_type"] == "新增"
    assert kept_with_problems["covered_people"] is None and kept_with_problems["amount"] is None
    third = records.row(3, named=True)
    assert third["id_status"] == "destroyed" and third["id_number"] is None
    assert third["change_type"] is None and third["amount"] is None  # blank stays unknown
    assert third["change_date"] == date(2026, 10, 5)  # an Excel serial


def test_a_date_written_without_its_day_is_staged_as_such(tmp_path: Path) -> None:
    """变动日期 2026-10 or 2026年10月 is the month's first day with <field>_month_only set, so
    what reads it downstream knows the day was never written; a full date, a blank and an
    unreadable cell are not month-only."""
    cells = ["2026-10", "2026年10月", "2026-10-01", "", "2026.1"]
    people = [("张三", ZHANG), ("李四", LI), ("王五", WANG), ("赵六", make_id(date(1980, 2, 2)))]
    people.append(("钱七", make_id(date(1981, 2, 2))))
    middle = ("三十铺镇", "北山村", "低保", "新增", "1", "800")
    rows = [HEADER] + [
        (str(n), name, name, id_number, *middle, cell, "", "")
        for n, ((name, id_number), cell) in enumerate(zip(people, cells, strict=True), 1)
    ]
    folder = tmp_path / "raw" / MONTH / "civil_affairs"
    write_csv(folder / "名册.csv", rows, "utf-8")
    records = stage_source(CIVIL, folder, MONTH).records.sort("row_number")
    first = date(2026, 10, 1)
    assert records["change_date"].to_list() == [first, first, first, None, None]
    assert records["change_date_month_only"].to_list() == [True, True, False, False, False]


def test_a_departments_birth_date_column_is_read_as_a_birth_date(tmp_path: Path) -> None:
    """A department file's 出生日期 (or 出生年月) is staged as the record's own birth date, which the
    matcher tells namesakes without an ID apart by (indep38: it had stayed in raw_extra, and a
    grandfather's death was left 待确认 beside his grandson of the same name). As the roster's:
    no two-digit year (1920 or 2020), and one written without its day is flagged month-only."""
    header = ("姓名", "身份证号", "乡镇", "村", "出生年月", "救助类型", "变动类型", "金额")
    cells = ["1950-03-01", "1962年7月", "20-3-1", ""]
    people = [("张三", ""), ("李四", ""), ("王五", WANG), ("赵六", LI)]
    rows = [header] + [
        (name, id_number, "三十铺镇", "北山村", cell, "低保", "新增", "800")
        for (name, id_number), cell in zip(people, cells, strict=True)
    ]
    folder = tmp_path / "raw" / MONTH / "civil_affairs"
    write_csv(folder / "名册.csv", rows, "utf-8")
    staged = stage_source(CIVIL, folder, MONTH)
    records = staged.records.sort("row_number")
    assert records["birth_date"].to_list() == [date(1950, 3, 1), date(1962, 7, 1), None, None]
    assert records["birth_date_month_only"].to_list() == [False, True, False, False]
    assert "出生年月" not in records["raw_extra"][0]
    # the two-digit year is a field problem of the row, which is kept
    assert staged.field_problems.filter(pl.col("field") == "birth_date").height == 1


def test_records_have_the_design_columns_and_dtypes(civil_folder: Path) -> None:
    staged = stage_source(CIVIL, civil_folder, MONTH)
    assert staged.records.schema == pl.Schema(record_schema(CIVIL))
    assert staged.rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert staged.files.schema == pl.Schema(FILE_SCHEMA)
    assert list(staged.records.columns[:12]) == [
        "source", "file", "sheet", "row_number", "record_key", "name_raw", "name", "id_raw",
        "id_number", "id_status", "id_birth", "id_area",
    ]  # fmt: skip
    assert schema_failures(CIVIL, staged.records).height == 0


def test_unlisted_columns_are_kept_but_bank_accounts_are_not(civil_folder: Path) -> None:
    staged = stage_source(CIVIL, civil_folder, MONTH)
    extra = json.loads(staged.records.sort("row_number")["raw_extra"][0])
    assert extra["户主姓名"] == "张三" and extra["序号"] == "1"
    assert "银行账号" not in extra
    assert all("6222000011112222" not in v for v in staged.rejects["raw_values"].to_list())


def test_only_a_lost_identity_rejects_a_row(civil_folder: Path) -> None:
    staged = stage_source(CIVIL, civil_folder, MONTH)
    rejects = {row["row_number"]: row for row in staged.rejects.iter_rows(named=True)}
    assert set(rejects) == {8}
    assert rejects[8]["field"] == "name,id_number"
    assert rejects[8]["file"] == "三十铺镇_社会救助变动名册.csv" and rejects[8]["sheet"] is None


def test_field_problems_name_the_file_row_field_and_raw_value(civil_folder: Path) -> None:
    problems = stage_source(CIVIL, civil_folder, MONTH).field_problems
    by_field = {row["field"]: row for row in problems.iter_rows(named=True)}
    assert set(problems["row_number"]) == {7}
    assert set(by_field) == {"assistance_type", "covered_people", "amount", "change_date"}
    assert "「救助类型」的值不在允许范围" in by_field["assistance_type"]["reason"]
    assert by_field["assistance_type"]["raw_value"] == "救济户"
    assert "「保障人数」无法识别为整数" in by_field["covered_people"]["reason"]
    assert "「金额」无法识别为金额" in by_field["amount"]["reason"]
    assert by_field["change_date"]["raw_value"] == "2026-13-01"
    assert "「变动日期」无法识别为日期" in by_field["change_date"]["reason"]
    record = by_field["amount"]
    assert record["file"] == "三十铺镇_社会救助变动名册.csv" and record["sheet"] is None
    assert record["record_key"] == "civil_affairs|三十铺镇_社会救助变动名册.csv||7"


def test_reasons_and_messages_carry_no_name_or_id(civil_folder: Path) -> None:
    staged = stage_source(CIVIL, civil_folder, MONTH)
    texts = (
        staged.rejects["reason"].to_list()
        + staged.field_problems["reason"].to_list()
        + staged.files["message"].drop_nulls().to_list()
    )
    people = ["张三", "李四", "王五", "赵六", "钱七", ZHANG, LI, WANG, "3.41502E+17", "13700000000"]
    assert texts and not [t for t in texts for p in people if p in t]


def test_row_accounting_counts_decorations_as_skipped(civil_folder: Path) -> None:
    files = stage_source(CIVIL, civil_folder, MONTH).files.row(0, named=True)
    assert files["status"] == "ok"
    assert (files["rows_read"], files["rows_kept"], files["rows_rejected"]) == (5, 4, 1)
    # title, unit, header, blank line, 合计, two notes
    assert files["rows_skipped"] == 7
    assert files["rows_read"] == files["rows_kept"] + files["rows_rejected"]


def test_row_numbers_point_at_the_lines_of_the_file(civil_folder: Path) -> None:
    staged = stage_source(CIVIL, civil_folder, MONTH)
    path = civil_folder / "三十铺镇_社会救助变动名册.csv"
    lines = path.read_bytes().decode("gb18030").splitlines()
    for row in staged.records.iter_rows(named=True):
        assert row["id_raw"].strip() in lines[row["row_number"] - 1]
    for row in staged.rejects.iter_rows(named=True):
        serial = json.loads(row["raw_values"])["序号"]
        assert lines[row["row_number"] - 1].startswith(serial + ",")


def test_missing_folder_is_not_received(tmp_path: Path) -> None:
    staged = stage_source(CIVIL, tmp_path / "raw" / MONTH / "civil_affairs", MONTH)
    assert not staged.received
    assert staged.records.is_empty() and staged.files.is_empty() and staged.rejects.is_empty()
    assert staged.records.schema == pl.Schema(record_schema(CIVIL))


def test_an_unreadable_file_fails_alone(civil_folder: Path) -> None:
    (civil_folder / "说明.pdf").write_bytes(b"%PDF-1.4")
    (civil_folder / "东河口镇.xlsx").write_bytes(b"PK\x03\x04 broken")
    write_csv(civil_folder / "无表头.csv", [("这是一个说明文件",), ("没有任何表头",)])
    (civil_folder / "~$三十铺镇.xlsx").write_bytes(b"lock file")
    staged = stage_source(CIVIL, civil_folder, MONTH)
    files = {row["file"]: row for row in staged.files.iter_rows(named=True)}
    assert set(files) == {
        "三十铺镇_社会救助变动名册.csv",
        "说明.pdf",
        "东河口镇.xlsx",
        "无表头.csv",
    }
    assert files["三十铺镇_社会救助变动名册.csv"]["status"] == "ok"
    for name in ("说明.pdf", "东河口镇.xlsx", "无表头.csv"):
        assert files[name]["status"] == "failed" and name in files[name]["message"]
    assert staged.records.height == 4


def test_several_files_and_subfolders_are_read_together(civil_folder: Path) -> None:
    rows = [HEADER[:8], ("1", "孙八", "孙八", make_id(), "东河口镇", "西湾村", "低保", "退出")]
    write_csv(civil_folder / "东河口镇" / "救助.csv", rows, "utf-8", bom=True)
    staged = stage_source(CIVIL, civil_folder, MONTH)
    assert staged.records.height == 5
    assert "东河口镇/救助.csv" in staged.records["file"].to_list()


def test_roster_missing_a_required_column_fails_naming_file_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "roster"
    header = ("乡镇", "村", "网格", "户主姓名", "姓名", "证件号码", "户类型")
    write_csv(
        folder / "农户花名册.csv",
        [header, ("三十铺镇", "北山村", "一组", "张三", "张三", ZHANG, "脱贫户")],
    )
    staged = stage_source(ROSTER, folder, MONTH)
    row = staged.files.row(0, named=True)
    assert row["status"] == "failed"
    assert "农户花名册.csv" in row["message"] and "户编号" in row["message"]
    assert staged.records.is_empty()


def test_department_file_without_name_or_id_column_fails(tmp_path: Path) -> None:
    folder = tmp_path / "civil_affairs"
    write_csv(folder / "a.csv", [("乡镇", "村", "救助类型"), ("三十铺镇", "北山村", "低保")])
    row = stage_source(CIVIL, folder, MONTH).files.row(0, named=True)
    assert row["status"] == "failed" and "a.csv" in row["message"]


def test_roster_required_blank_and_allowed_values(tmp_path: Path) -> None:
    folder = tmp_path / "roster"
    header = (
        "乡镇",
        "村",
        "村民组",
        "网格",
        "户编号",
        "户主姓名",
        "姓名",
        "证件号码",
        "与户主关系",
        "户类型",
    )
    header += ("出生日期", "风险是否消除", "家庭人口数", "家庭年人均纯收入")
    rows = [
        header,
        ("三十铺镇", "北山村", "一组", "一组网格", "H1", "张三", "张三", ZHANG, "户主", "脱贫户", "1950-03-01", "否", "3", "8,600"),
        ("三十铺镇", "北山村", "一组", "一组网格", "", "张三", "李四", LI, "配偶", "脱贫户", "", "", "", ""),
        ("三十铺镇", "北山村", "一组", "一组网格", "H1", "张三", "王五", WANG, "之子", "贫困户", "", "", "", ""),
    ]  # fmt: skip
    write_csv(folder / "农户花名册.csv", rows)
    staged = stage_source(ROSTER, folder, MONTH)
    kept = staged.records.row(0, named=True)
    assert kept["head_name"] == "张三" and kept["household_id"] == "H1"
    assert kept["birth_date"] == date(1950, 3, 1) and kept["risk_eliminated"] is False
    assert kept["household_size"] == 3 and kept["income_per_capita"] == 8600.0
    reasons = dict(zip(staged.rejects["row_number"], staged.rejects["reason"], strict=True))
    assert reasons == {3: "「户编号」为空（必填）"}
    # an unreadable 户类型 keeps the row (contract §2: its identity is usable): the type is null
    # and a field problem says why. It had rejected the row, and with it the member's household
    wang = staged.records.filter(pl.col("name") == "王五").row(0, named=True)
    assert wang["household_type"] is None and wang["household_id"] == "H1"
    problem = staged.field_problems.row(0, named=True)
    assert (problem["row_number"], problem["field"], problem["raw_value"]) == (
        4, "household_type", "贫困户",
    )  # fmt: skip
    assert problem["reason"] == "「户类型」的值不在允许范围（脱贫户/监测户/一般农户）"
    assert schema_failures(ROSTER, staged.records).height == 0


_ROSTER_HEADER = ("乡镇", "村", "网格", "户编号", "户主姓名", "姓名", "证件号码", "户类型")


def _roster_row(household: object, name: str, id_number: str) -> tuple:
    return ("三十铺镇", "北山村", "一组网格", household, "张三", name, id_number, "脱贫户")


def test_roster_household_numbers_excel_destroyed_are_rejected_not_merged(tmp_path: Path) -> None:
    # Excel shows a 17-digit 户编号 it took for a number as 3.41502E+16 (LibreOffice: E+016):
    # two households become one number, so such a row cannot say which household it is
    folder = tmp_path / "roster"
    rows = [
        _ROSTER_HEADER,
        _roster_row("34150210000600007", "张三", ZHANG),  # text: kept
        _roster_row("3.41502100006E+16", "李四", LI),
        _roster_row("3.41502100006E+016", "王五", WANG),
        _roster_row("H0012", "赵六", make_id(date(1970, 5, 5))),
    ]
    write_csv(folder / "农户花名册.csv", rows)
    staged = stage_source(ROSTER, folder, MONTH)
    assert staged.records["household_id"].to_list() == ["34150210000600007", "H0012"]
    reasons = dict(zip(staged.rejects["row_number"], staged.rejects["reason"], strict=True))
    destroyed = "「户编号」已被 Excel 当作数字改写（科学计数法，或超过 15 位的数字只剩前 15 位），原编号无法恢复"
    assert reasons == {3: destroyed, 4: destroyed}
    # a rejected row still says who it is, typed as a kept row is: the matcher sees it as a
    # rival of namesakes elsewhere (linkage._REJECTED_MEMBERS)
    assert staged.rejects.select(
        "row_number", "name", "id_number", "id_status", "township", "village"
    ).rows() == [
        (3, "李四", LI, "valid", "三十铺镇", "北山村"),
        (4, "王五", WANG, "valid", "三十铺镇", "北山村"),
    ]


def test_roster_household_numbers_stored_as_numbers_keep_only_short_ones(tmp_path: Path) -> None:
    # a workbook holding 户编号 as numbers: 17 digits kept only 15 (34150210000600007 and
    # 34150210000600011 both read 34150210000600000); 15 digits or fewer are exact
    folder = tmp_path / "roster"
    rows = [
        _ROSTER_HEADER,
        _roster_row(34150210000600007, "张三", ZHANG),
        _roster_row(34150210000600011, "李四", LI),
        _roster_row(341502100006001, "王五", WANG),
    ]
    write_xlsx(folder / "农户花名册.xlsx", rows)
    staged = stage_source(ROSTER, folder, MONTH)
    assert staged.records["household_id"].to_list() == ["341502100006001"]
    assert staged.rejects["row_number"].to_list() == [2, 3]
    assert staged.rejects["reason"].str.contains("户编号」已被 Excel").all()


def test_a_household_number_written_in_groups_of_digits_is_one_number(tmp_path: Path) -> None:
    """户编号 3415 0200 3003 00014 (grouped to be read aloud, as the apostrophe form '3415… is
    protected): the household's number. Read as written it had made a second household of the
    same people next month, its warnings listed again as 新增 beside those 待核实."""
    folder = tmp_path / "roster"
    rows = [
        _ROSTER_HEADER,
        _roster_row("3415 0200 3003 00014", "张三", ZHANG),
        _roster_row("3415　0200　3003　00014", "李四", LI),
        _roster_row("H 14", "王五", WANG),  # not digits alone: as written
    ]
    write_csv(folder / "农户花名册.csv", rows)
    staged = stage_source(ROSTER, folder, MONTH)
    assert staged.records["household_id"].to_list() == ["34150200300300014"] * 2 + ["H 14"]


def test_a_destroyed_household_number_in_the_answers_is_a_field_problem(tmp_path: Path) -> None:
    # optional there: the answer is kept, its 户编号 left unknown (never a wrong household)
    folder = tmp_path / "feedback"
    rows = [
        ("预警编号", "乡镇", "户编号", "预警代码", "核实结果"),
        ("W-1", "三十铺镇", "3.41502100006E+16", "GA01", "属实"),
        ("W-2", "三十铺镇", "34150210000600007", "GA01", "属实"),
    ]
    write_csv(folder / "核实结果.csv", rows)
    staged = stage_source(SOURCES["feedback"], folder, MONTH)
    assert staged.records["household_id"].to_list() == [None, "34150210000600007"]
    (problem,) = staged.field_problems.iter_rows(named=True)
    assert problem["field"] == "household_id" and "已被 Excel" in problem["reason"]


def test_xlsx_source_with_title_merged_cells_and_number_ids(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    rows = [
        ("金安区2026年10月医保结算明细",),
        ("序号", "患者姓名", "证件号码", "入院日期", "出院日期", "医疗总费用", "个人自付"),
        (1, "张三", ZHANG, date(2026, 10, 1), date(2026, 10, 5), 12345.6, 2345.6),
        (2, "李四", 3.41502199001011e17, 46296, "2026.10.9", "1,000.00", ""),
        ("合计", None, None, None, None, 13345.6, 2345.6),
    ]
    write_xlsx(
        folder / "结算.xlsx", rows, sheet="医保结算明细", first_sheets=[("填表说明", [("说明",)])]
    )
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    records = staged.records.sort("row_number")
    assert records["sheet"].to_list() == ["医保结算明细", "医保结算明细"]
    assert records["row_number"].to_list() == [3, 4]
    assert records["admission_date"].to_list() == [date(2026, 10, 1), date(2026, 10, 1)]
    assert records["discharge_date"].to_list() == [date(2026, 10, 5), date(2026, 10, 9)]
    assert records["self_paid"].to_list() == [Decimal("2345.6"), None]  # exact, not a float
    assert records["id_status"].to_list() == ["valid", "destroyed"]
    assert records["id_birth"].to_list() == [date(1950, 3, 1), date(1990, 1, 1)]
    assert records["record_key"][0] == "medical_claims|结算.xlsx|医保结算明细|3"
    file_row = staged.files.row(0, named=True)
    assert file_row["sheet"] == "医保结算明细" and file_row["rows_skipped"] == 3
    assert "填表说明" in file_row["message"]


def test_hidden_sheets_samples_and_summaries_are_not_read_as_the_list(tmp_path: Path) -> None:
    """Claims workbooks as offices keep them (a probe district written from the contract):
    last month's list on a hidden first sheet, or hidden under a name for the data; an
    instructions sheet with a sample row in front of the data; a summary sheet named after the
    list beside it. A person opening the file sees this month's list only. Hidden sheets had
    never been noticed (fastexcel says "hidden", not False), so September's rows were read as
    October's; the sample row was read as the whole file; the summary's rows counted twice
    (YB01 sums doubled, false warnings, not a word)."""
    folder = tmp_path / "medical_claims"
    header = ("姓名", "证件号码", "个人自付")

    def october(n: int) -> list[tuple]:
        return [header, ("张三", ZHANG, f"{100 + n}"), ("李四", LI, "200")]

    september = [header, ("王五", WANG, "900")]
    write_xlsx(folder / "a.xlsx", october(1), sheet="Sheet2",
               first_sheets=[("Sheet1", september)], hidden=["Sheet1"])  # fmt: skip
    write_xlsx(folder / "b.xlsx", october(2), sheet="10月",
               first_sheets=[("医保结算明细（9月）", september)], hidden=["医保结算明细（9月）"])  # fmt: skip
    write_xlsx(folder / "c.xlsx", october(3), sheet="数据",
               first_sheets=[("填表说明", [("请按下表填写",), header, ("张某", ZHANG, "1")])])  # fmt: skip
    write_xlsx(folder / "d.xlsx", october(4), sheet="医保结算明细",
               extra_sheets=[("医保结算明细汇总", [header, ("张三", ZHANG, "304")])])  # fmt: skip
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    read = staged.records.group_by("file", "sheet").agg(pl.col("self_paid").sum()).sort("file")
    assert read.rows() == [
        ("a.xlsx", "Sheet2", Decimal("301")),
        ("b.xlsx", "10月", Decimal("302")),
        ("c.xlsx", "数据", Decimal("303")),
        ("d.xlsx", "医保结算明细", Decimal("304")),
    ]
    files = {r["file"]: r for r in staged.files.iter_rows(named=True)}
    assert {r["status"] for r in files.values()} == {"ok"}  # a hidden old list is not "more"
    # a list called 统计表 is still read, before an instructions sheet with a sample table
    other = tmp_path / "emergency"
    write_xlsx(other / "e.xlsx", october(5), sheet="受灾户统计表",
               first_sheets=[("填表说明", [header, ("张某", ZHANG, "1")])])  # fmt: skip
    assert stage_source(SOURCES["medical_claims"], other, MONTH).records["name"].to_list() == [
        "张三", "李四",
    ]  # fmt: skip
    assert "Sheet1（隐藏）" in files["a.xlsx"]["message"]
    assert "医保结算明细汇总" in files["d.xlsx"]["message"]


def test_a_units_row_under_the_header_is_not_a_rejected_row(tmp_path: Path) -> None:
    """元 | 元 | 元 written under the header (a template's units row): no data, skipped like a
    title or 合计 row. It had been a reject (姓名和证件号码都没有可用的值) in every such file."""
    folder = tmp_path / "medical_claims"
    rows = [("姓名", "证件号码", "医疗总费用", "个人自付"), (None, None, "（元）", "元"),
            ("张三", ZHANG, "300", "100"), ("李四", LI, "元", "200")]  # fmt: skip
    write_csv(folder / "a.csv", rows)
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    assert staged.records["name"].to_list() == ["张三", "李四"]
    assert staged.rejects.is_empty()
    counted = staged.files.row(0, named=True)
    assert (counted["rows_read"], counted["rows_rejected"], counted["rows_skipped"]) == (2, 0, 2)
    # a unit in a data row is that row's problem, not a units row
    assert staged.field_problems["row_number"].to_list() == [4]


@pytest.mark.parametrize("unit", ["万元", "（万元）", "单位：万元"])
def test_a_money_unit_in_the_units_row_is_its_columns(tmp_path: Path, unit: str) -> None:
    """indep42: 直接经济损失 over a units row saying 万元, then 0.8: a person reads 8,000 元. The
    units row had been skipped and its unit with it: 0.80 元, and YJ01 lost without a word."""
    folder = tmp_path / "emergency"
    rows = [("姓名", "证件号码", "受灾日期", "直接经济损失", "房屋倒塌"),
            (None, None, None, unit, None),
            ("张三", ZHANG, "2026-10-07", "0.8", "否"), ("李四", LI, "2026-10-07", "1.2万元", "否")]  # fmt: skip
    write_xlsx(folder / "a.xlsx", rows)
    staged = stage_source(SOURCES["emergency"], folder, MONTH)
    assert staged.records["loss"].to_list() == [Decimal("8000"), Decimal("12000")]
    # a unit the header names already stands
    write_xlsx(folder / "a.xlsx", [("姓名", "证件号码", "直接经济损失（元）"), (None, None, "万元"),
                                   ("张三", ZHANG, "800")])  # fmt: skip
    assert stage_source(SOURCES["emergency"], folder, MONTH).records["loss"].to_list() == [
        Decimal("800")
    ]


def test_a_department_list_without_a_required_column_is_read_row_by_row(tmp_path: Path) -> None:
    """indep42: a 民政 workbook without a 救助类型 column (its sheets named 低保, 临时救助) had been
    refused whole (缺少必需列), its rows named nowhere. As the README says of a missing column a
    rule needs, the rows are kept and each has the field problem: unknown for the rule, for the
    district to see, never "no"; said once, not also as blank."""
    folder = tmp_path / "civil_affairs"
    rows = [("姓名", "证件号码", "变动类型", "金额（元）", "变动日期"),
            ("张三", ZHANG, "新增", "800", "2026-10-08"), ("李四", LI, "新增", "600", "2026-10-09")]  # fmt: skip
    write_xlsx(folder / "a.xlsx", rows, sheet="低保")
    staged = stage_source(SOURCES["civil_affairs"], folder, MONTH)
    assert staged.records["name"].to_list() == ["张三", "李四"]
    assert staged.rejects.is_empty()
    problems = staged.field_problems.filter(pl.col("field") == "assistance_type")
    assert (
        problems["reason"].to_list()
        == [
            "表中没有「救助类型」列（或列名不在约定的表头中），预警规则无法据此判断：请按约定表头重新报送"
        ]
        * 2
    )


def test_a_column_numbers_row_under_the_header_is_not_a_record(tmp_path: Path) -> None:
    """A government template's 栏次 row (1 | 2 | 3 | …, under the header or under its units
    row, numbers or text, led by 甲 | 乙) is no one's record. A probe by other hands (indep30)
    found it kept as a record named 1 with the ID 2, listed as 未匹配 for the district and in the
    department's quality feedback."""
    folder = tmp_path / "property"
    header = ("姓名", "证件号码", "坐落", "建筑面积", "登记日期")
    write_xlsx(
        folder / "a.xlsx",
        [header, (1, 2, 3, 4, 5), ("张三", ZHANG, "梅山路1号", 88.5, "2026-10-09")],
    )
    write_csv(folder / "b.csv", [header, ("", "", "", "平方米", ""), ("甲", "乙", "1", "2", "3"),
                                 ("李四", LI, "梅山路2号", "90", "2026-10-10")])  # fmt: skip
    # only under the header: a row of numbers further down is a row of the list, read as one
    write_csv(folder / "c.csv", [header, ("王五", WANG, "梅山路3号", "70", "2026-10-11"),
                                 ("1", "2", "3", "4", "5")])  # fmt: skip
    staged = stage_source(SOURCES["property"], folder, MONTH)
    assert sorted(staged.records.filter(pl.col("file") != "c.csv")["name"]) == ["张三", "李四"]
    counted = {r["file"]: r for r in staged.files.iter_rows(named=True)}
    # skipped: the header and the rows under it that are no data
    assert (counted["a.xlsx"]["rows_read"], counted["a.xlsx"]["rows_skipped"]) == (1, 2)
    assert (counted["b.csv"]["rows_read"], counted["b.csv"]["rows_skipped"]) == (1, 3)
    assert (counted["c.csv"]["rows_read"], counted["c.csv"]["rows_skipped"]) == (2, 1)


def test_first_sheet_is_read_unless_a_sheet_is_named_for_the_data(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    data = [("姓名", "证件号码", "个人自付"), ("张三", ZHANG, "10")]
    write_xlsx(
        folder / "a.xlsx", data, sheet="Sheet1", extra_sheets=[("Sheet2", [("姓名",), ("李四",)])]
    )
    # another claim (the same one twice would be one file's duplicate: test_file_faults.py)
    other = [data[0], ("张三", ZHANG, "20")]
    write_xlsx(folder / "b.xlsx", [("x",)], sheet="Sheet1", extra_sheets=[("结算明细", other)])
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    sheets = dict(zip(staged.files["file"], staged.files["sheet"], strict=True))
    assert sheets == {"a.xlsx": "Sheet1", "b.xlsx": "结算明细"}
    assert staged.records["name"].to_list() == ["张三", "张三"]


def test_a_workbook_of_month_tabs_is_read_from_the_months_tab(tmp_path: Path) -> None:
    """A clerk keeps one tab a month, adding the new one on the right: [2026年9月, 2026年10月].
    October's list is the 2026年10月 tab wherever it stands; September's tab is not more of it
    (the file is read whole). A probe by other hands (indep30) found September's tab read as
    October's list (MZ01 for September's 新增 household) and the file reported as not read
    whole. Tabs of other months only: which is October's cannot be told, the file is refused
    by name. A span (1-10月) names no month; a lone tab is read whatever its name."""
    folder = tmp_path / "civil_affairs"
    header = ("姓名", "证件号码", "救助类型", "变动类型")

    def tab(name: str, who: str, number: str) -> tuple[str, list[tuple]]:
        return name, [header, (who, number, "低保", "新增")]

    september = tab("2026年9月", "王五", WANG)
    october = tab("2026年10月", "张三", ZHANG)
    write_xlsx(folder / "a.xlsx", september[1], sheet=september[0], extra_sheets=[october])
    other = tab("2026年10月", "钱七", make_id(date(1980, 5, 6)))  # not a copy of a.xlsx's row
    write_xlsx(folder / "b.xlsx", other[1], sheet=other[0], extra_sheets=[september])
    write_xlsx(folder / "c.xlsx", [header, ("李四", LI, "低保", "新增")], sheet="10月",
               extra_sheets=[tab("9月", "王五", WANG), tab("8月", "王五", WANG)])  # fmt: skip
    write_xlsx(folder / "d.xlsx", september[1], sheet="2026年8月", extra_sheets=[september])
    write_xlsx(folder / "e.xlsx", [header, ("赵六", make_id(date(1970, 1, 1)), "低保", "新增")],
               sheet="1-10月")  # fmt: skip
    staged = stage_source(SOURCES["civil_affairs"], folder, MONTH)
    read = sorted(staged.records.select("file", "sheet", "name").rows())
    assert read == [("a.xlsx", "2026年10月", "张三"), ("b.xlsx", "2026年10月", "钱七"),
                    ("c.xlsx", "10月", "李四"), ("e.xlsx", "1-10月", "赵六")]  # fmt: skip
    files = {r["file"]: r for r in staged.files.iter_rows(named=True)}
    for name in ("a.xlsx", "b.xlsx", "c.xlsx"):
        assert files[name]["status"] == "ok", files[name]["message"]
        assert "未读全" not in (files[name]["message"] or "")
    assert "2026年9月" in files["a.xlsx"]["message"]  # named as a sheet not read
    assert files["d.xlsx"]["status"] == "failed"
    assert "没有 2026年10月 的工作表" in files["d.xlsx"]["message"]


def test_real_id_ending_000_stays_valid_but_not_in_a_damaged_file(tmp_path: Path) -> None:
    from tests.ingest.builders import id_ending_000

    real = id_ending_000(date(1970, 5, 5))
    folder = tmp_path / "vehicles"
    header = ("姓名", "证件号码", "车辆类型")
    write_csv(folder / "clean.csv", [header, ("张三", real, "小型轿车"), ("李四", LI, "摩托车")])
    write_csv(
        folder / "damaged.csv",
        [header, ("张三", real, "小型轿车"), ("王五", "3.41502E+17", "摩托车")],
    )
    staged = stage_source(SOURCES["vehicles"], folder, MONTH)
    status = {
        (row["file"], row["name"]): row["id_status"] for row in staged.records.iter_rows(named=True)
    }
    assert status[("clean.csv", "张三")] == "valid"
    assert status[("damaged.csv", "张三")] == "destroyed"


@pytest.mark.parametrize(
    ("source", "header", "values"),
    [
        ("vehicles", "机动车状态", ("车辆类型", "小型轿车")),
        ("market", "登记状态", ("身份", "股东")),
        ("disability", "证件状态", ("残疾等级", "一级")),
    ],
)
def test_a_status_column_beside_the_contracts_is_read(tmp_path: Path, source, header, values):
    """The 状态 a department exports beside the contract's columns reaches the rules (GA02, SJ01
    and CL02 skip a record that has ended: rules/catalogue.py)."""
    folder = tmp_path / source
    write_csv(
        folder / "a.csv",
        [("姓名", "证件号码", values[0], header), ("张三", ZHANG, values[1], " 注销 ")],
    )
    staged = stage_source(SOURCES[source], folder, MONTH)
    assert staged.records["status"].to_list() == ["注销"]


def test_a_date_after_the_lists_could_be_drawn_up_is_a_field_problem(tmp_path: Path) -> None:
    """An October list is drawn up in November at the latest: 2062-10-05 (for 2026), a month
    typed one too many, had been read as written and an age computed on it. After the end of
    the month that follows M, a date is a mistake: null, and a field problem naming the cell
    (the rule that needs it says 不可判断); November's last day is still a date."""
    folder = tmp_path / "hrss"
    rows = [("姓名", "证件号码", "登记类型", "登记日期")] + [
        (name, make_id(), "失业登记", written)
        for name, written in (("张三", "2062-10-05"), ("李四", "2026-11-30"), ("王五", "2026-12-01"),
                              ("赵六", "2027-01"))
    ]  # fmt: skip
    write_csv(folder / "a.csv", rows)
    staged = stage_source(SOURCES["hrss"], folder, MONTH)
    assert staged.records["register_date"].to_list() == [None, date(2026, 11, 30), None, None]
    assert not staged.records["register_date_month_only"].any()
    problems = staged.field_problems
    assert problems["raw_value"].to_list() == ["2062-10-05", "2026-12-01", "2027-01"]
    assert set(problems["reason"]) == {
        "「登记日期」晚于 2026年11月30日（名单不会有此后的日期，可能填错）"
    }


def test_totals_anywhere_and_a_repeated_header_are_decorations(tmp_path: Path) -> None:
    folder = tmp_path / "vehicles"
    header = ("序号", "乡镇", "村", "姓名", "证件号码", "车辆类型")
    rows = [
        header,
        ("1", "三十铺镇", "北山村", "张三", ZHANG, "小型轿车"),
        header,  # the header pasted again for the next page
        ("2", "三十铺镇", "北山村", "李四", LI, "摩托车"),
        ("", "", "", "", "小 计", "2"),
        ("", "", "", "", "", ""),
        ("总计：2 辆",),
    ]
    write_csv(folder / "a.csv", rows)
    staged = stage_source(SOURCES["vehicles"], folder, MONTH)
    assert staged.records["row_number"].to_list() == [2, 4]
    assert staged.rejects.is_empty()
    assert staged.files.row(0, named=True)["rows_skipped"] == 5


def test_a_count_under_a_hand_made_list_is_no_household(tmp_path: Path) -> None:
    """共5户 in the 户主姓名 column under a 住建 list (the 合计 label left out) had been read as
    a household named 共5户, unmatched and listed for the district."""
    folder = tmp_path / "housing"
    header = ("村", "户主姓名", "证件号码", "鉴定等级", "鉴定日期")
    rows = [
        header,
        ("三十铺镇北山村", "张三", ZHANG, "C", "2026-10-05"),
        ("三十铺镇北山村", "李四", "", "D", "2026-10-06"),
        ("", "共2户", "", "", ""),
        ("共 2 户",),
    ]
    write_csv(folder / "a.csv", rows)
    staged = stage_source(SOURCES["housing"], folder, MONTH)
    assert staged.records["name"].to_list() == ["张三", "李四"]
    assert staged.rejects.is_empty() and staged.field_problems.is_empty()


def _claims_csv(path: Path, rows: int) -> Path:
    """A large GB18030 claims extract with a title line, thousands separators and 元."""
    header = "序号,姓名,证件号码,乡镇,村,就诊机构,入院日期,出院日期,医疗总费用,个人自付\n"
    ids = [make_id(date(1940 + n % 60, 1 + n % 12, 1 + n % 28)) for n in range(1000)]
    body = "".join(
        f"{n},张{n % 97}伟,{ids[n % 1000]},三十铺镇,北山村,六安市人民医院,2026-10-0{1 + n % 9},"
        f'2026/10/{10 + n % 9},"{12345.6 + n:,.2f}",{n % 900}.50元\n'
        for n in range(rows)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("金安区医保结算明细\n" + header + body).encode("gb18030"))
    return path


@pytest.mark.slow  # a wall-clock bound: flaky on a busy CI machine, so out of the default suite
def test_staging_a_large_file_is_vectorised(tmp_path: Path) -> None:
    path = _claims_csv(tmp_path / "medical_claims" / "a.csv", 30_000)
    started = time.perf_counter()
    staged = stage_source(SOURCES["medical_claims"], path.parent, MONTH)
    elapsed = time.perf_counter() - started
    assert staged.records.height == 30_000 and staged.rejects.is_empty()
    assert staged.records["total_cost"][0] == Decimal("12345.6")
    assert staged.records["self_paid"][1] == Decimal("1.5")
    assert elapsed < 3.0, f"30k rows took {elapsed:.2f}s"


@pytest.mark.slow
def test_a_300k_row_csv_stages_in_about_two_seconds(tmp_path: Path) -> None:
    path = _claims_csv(tmp_path / "medical_claims" / "a.csv", 300_000)
    started = time.perf_counter()
    staged = stage_source(SOURCES["medical_claims"], path.parent, MONTH)
    assert staged.records.height == 300_000
    assert time.perf_counter() - started < 3.0


def test_numbered_notes_under_the_table_are_not_rows(tmp_path: Path) -> None:
    rows = [
        HEADER[:8],
        ("1", "张三", "张三", ZHANG, "三十铺镇", "北山村", "低保", "新增"),
        ("1. 本表统计截至2026年10月31日",),
        ("2、数据来源：区民政局社会救助系统",),
        ("3．如有疑问请联系救助股",),
    ]
    write_csv(tmp_path / "救助.csv", rows)
    staged = stage_source(CIVIL, tmp_path, MONTH)
    assert staged.records.height == 1 and staged.rejects.is_empty()
    assert staged.files.row(0, named=True)["rows_skipped"] == 4  # header + three notes


def test_a_column_of_repeated_cells_is_read_once_per_distinct_cell(
    civil_folder: Path, monkeypatch
) -> None:
    # the messy civil rows, repeated: each parser sees every distinct cell once, and the staged
    # rows, rejects and field problems are those of reading every row on its own
    from pipelines.ingest import parse, table
    from pipelines.sources import FieldType

    rows = CIVIL_ROWS[:3] + [row for row in CIVIL_ROWS[3:9] if row] * 40
    write_csv(civil_folder / "三十铺镇_社会救助变动名册.csv", rows, "gb18030")
    seen: list[int] = []
    parse_date = parse.parse_date
    monkeypatch.setitem(
        table.PARSERS,
        FieldType.DATE,
        (
            lambda v, **kw: seen.append(v.len()) or parse_date(v, **kw),
            table.PARSERS[FieldType.DATE][1],
        ),
    )
    together = stage_source(CIVIL, civil_folder, MONTH)
    assert seen == [5]  # 4 written dates and a blank, of 200 rows
    monkeypatch.setattr(table, "DISTINCT_SHARE", 0.0)  # every row read on its own
    alone = stage_source(CIVIL, civil_folder, MONTH)
    assert seen[1] == 200
    for name in ("records", "rejects", "field_problems", "files"):
        assert getattr(together, name).equals(getattr(alone, name)), name
    assert together.records.height == 40 * 4 and together.field_problems.height == 40 * 4


def test_a_roster_with_no_usable_row_fails_saying_why(tmp_path: Path) -> None:
    from pipelines.config import DataDir
    from pipelines.staging import NothingToStage, stage_snapshot

    folder = tmp_path / "raw" / MONTH / "roster"
    rows = [_ROSTER_HEADER, _roster_row("3.41502100006E+16", "张三", ZHANG)]
    rows += [_roster_row("3.41502100007E+16", "李四", LI), _roster_row("", "王五", WANG)]
    write_csv(folder / "农户花名册.csv", rows)
    with pytest.raises(NothingToStage) as failed:
        stage_snapshot(DataDir(tmp_path), ROSTER, MONTH)
    message = str(failed.value)
    assert "3 行全部退回" in message
    assert "最多的原因（2 行）：「户编号」已被 Excel 当作数字改写" in message
    # and what the district asks of whoever sent it: a new export, or the column kept as text
    assert "请从系统重新导出原文件" in message and "设为「文本」格式" in message
    assert "张三" not in message and "3.415" not in message  # reasons name columns, not values


def test_a_date_cell_no_day_count_fits_is_a_field_problem_not_a_failed_source(
    tmp_path: Path,
) -> None:
    """nan and inf (what a program writes for a missing number) and an ID pasted into the date
    column once made the date parser raise, and the whole source failed to stage."""
    rows = [
        HEADER,
        ("1", "张三", "张三", ZHANG, "三十铺镇", "北山村", "低保", "新增", "3", "800", "nan", "", ""),
        ("2", "李四", "李四", LI, "三十铺镇", "北山村", "低保", "新增", "2", "800", "inf", "", ""),
        ("3", "王五", "王五", WANG, "三十铺镇", "北山村", "低保", "新增", "1", "800",
         "99999999999999999999999", "", ""),
    ]  # fmt: skip
    folder = tmp_path / "raw" / MONTH / "civil_affairs"
    write_csv(folder / "名册.csv", rows, "utf-8")
    staged = stage_source(CIVIL, folder, MONTH)
    assert staged.records.height == 3 and staged.records["change_date"].null_count() == 3
    problems = staged.field_problems
    assert problems["field"].to_list() == ["change_date"] * 3
    assert problems["raw_value"].to_list() == ["nan", "inf", "99999999999999999999999"]


def test_an_oracle_export_s_dates_are_read_against_the_month_s_year(tmp_path: Path) -> None:
    """A database export's dates in Oracle's default DD-MON-RR (05-10月-26): every one had been a
    field problem, so CL01 and XF01 (dated in M) lost their warnings without a word."""
    rows = [
        HEADER,
        ("1", "张三", "张三", ZHANG, "三十铺镇", "北山村", "低保", "新增", "3", "800", "05-10月-26", "", ""),
        ("2", "李四", "李四", LI, "三十铺镇", "北山村", "低保", "新增", "2", "800", "28-4月 -26", "", ""),
        ("3", "王五", "王五", WANG, "三十铺镇", "北山村", "低保", "新增", "1", "800", "05-OCT-26", "", ""),
    ]  # fmt: skip
    folder = tmp_path / "raw" / MONTH / "civil_affairs"
    write_csv(folder / "名册.csv", rows, "gb18030")
    staged = stage_source(CIVIL, folder, MONTH)
    assert staged.records["change_date"].to_list() == [
        date(2026, 10, 5), date(2026, 4, 28), date(2026, 10, 5),
    ]  # fmt: skip
    assert staged.field_problems.height == 0


def test_a_roster_birth_date_with_a_two_digit_year_is_not_guessed(tmp_path: Path) -> None:
    """20 may be 1920 or 2020: a roster's 出生日期 so written stays unread (the age then comes
    from the ID), where an event date in the same form is read against the month's year."""
    folder = tmp_path / "raw" / MONTH / "roster"
    header = (*_ROSTER_HEADER, "出生日期")
    rows = [header, (*_roster_row("H1", "张三", ZHANG), "01-3月-20")]
    rows += [(*_roster_row("H2", "李四", LI), "09-7月-1962")]
    write_csv(folder / "农户花名册.csv", rows)
    staged = stage_source(ROSTER, folder, MONTH)
    assert staged.records["birth_date"].to_list() == [None, date(1962, 7, 9)]
    assert staged.field_problems["field"].to_list() == ["birth_date"]


def test_a_fault_of_ours_fails_the_file_not_the_month_and_quotes_no_cell(
    civil_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in our own code fails what it was reading, named with the kind of error and
    where, never the error's text (it may quote a cell); the other files are still read."""
    import pipelines.ingest.stage as stage
    from pipelines.ingest import table
    from pipelines.sources import FieldType

    alone = stage_source(CIVIL, civil_folder, MONTH).records.height
    write_csv(civil_folder / "另一个乡镇.csv", CIVIL_ROWS, "utf-8")
    read = stage.read_tables

    def reader_fault(source, path, name, month=None):  # noqa: ANN001, ANN202
        if name == "另一个乡镇.csv":
            raise RuntimeError(f"cell {ZHANG} 张三")
        return read(source, path, name, month)

    monkeypatch.setattr(stage, "read_tables", reader_fault)
    staged = stage_source(CIVIL, civil_folder, MONTH)
    files = {row["file"]: row for row in staged.files.iter_rows(named=True)}
    assert files["另一个乡镇.csv"]["status"] == "failed"
    assert "RuntimeError" in files["另一个乡镇.csv"]["message"]
    assert files["三十铺镇_社会救助变动名册.csv"]["status"] == "ok"
    assert staged.records.height == alone > 0
    assert ZHANG not in files["另一个乡镇.csv"]["message"]

    def typing_fault(values, **_):  # noqa: ANN001, ANN202
        raise ValueError(f"cannot read {ZHANG} 张三")

    monkeypatch.setitem(table.PARSERS, FieldType.DATE, (typing_fault, "无法识别为日期"))
    monkeypatch.setattr(stage, "read_tables", read)
    staged = stage_source(CIVIL, civil_folder, MONTH)
    assert staged.received and staged.records.height == 0
    assert set(staged.files["status"]) == {"failed"}
    for message in staged.files["message"]:
        assert "ValueError" in message and "技术支持" in message
        assert ZHANG not in message and "张三" not in message


def test_a_money_unit_in_the_header_is_the_unit_of_its_cells(tmp_path: Path) -> None:
    """个人自付（元）had been an unknown column: every claim of the file summed as 0 for YB01,
    without a word. A header's unit is the unit its bare numbers are in; a cell's own unit still
    wins; each file its own (one in 万元 beside one in 元)."""
    folder = tmp_path / "medical_claims"
    write_csv(
        folder / "万元.csv",
        [
            ("姓名", "身份证号", "医疗总费用（万元）", "个人自付（元）"),
            ("张三", ZHANG, "3.5", "20,000"),
            ("李四", LI, "5000元", "2万"),
        ],
    )
    write_csv(
        folder / "元.csv",
        [("姓名", "身份证号", "医疗总费用", "个人自付"), ("王五", WANG, "123.45", "100")],
    )
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    amounts = {
        name: (total, paid)
        for name, total, paid in staged.records.select("name", "total_cost", "self_paid").rows()
    }
    assert amounts == {
        "张三": (Decimal("35000"), Decimal("20000")),
        "李四": (Decimal("5000"), Decimal("20000")),
        "王五": (Decimal("123.45"), Decimal("100")),
    }
    assert staged.records["raw_extra"].to_list() == ["{}", "{}", "{}"]
    market = tmp_path / "market"
    write_csv(
        market / "a.csv",
        [("姓名", "身份证号", "身份", "注册资本（元）"), ("赵六", ZHANG, "股东", "1,000,000")],
    )
    capital = stage_source(SOURCES["market"], market, MONTH).records["capital"].to_list()
    assert capital == [Decimal("100")]  # the field is in 万元


def test_a_file_without_a_column_a_rule_decides_on_is_unknown_not_no(tmp_path: Path) -> None:
    """A claims file headed 自付金额 (not an alias) had no 个人自付 at all: YB01 summed its
    claims as 0 without a word. Each of its rows now has a field problem on the field, so the
    rule lists them as 不可判断; a blank cell in a file with the column stays a plain unknown."""
    folder = tmp_path / "medical_claims"
    write_csv(
        folder / "a.csv",
        [("姓名", "身份证号", "自付金额"), ("张三", ZHANG, "20000"), ("李四", LI, "5")],
    )
    write_csv(folder / "b.csv", [("姓名", "身份证号", "个人自付"), ("王五", WANG, "")])
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    problems = staged.field_problems.select("file", "row_number", "field").rows()
    assert problems == [("a.csv", 2, "self_paid"), ("a.csv", 3, "self_paid")]
    assert all("表中没有「个人自付」列" in r for r in staged.field_problems["reason"])
    assert staged.records["self_paid"].to_list() == [None, None, None]


def test_a_ditto_mark_reads_as_the_cell_above(tmp_path: Path) -> None:
    """A hand-made list writes 同上 under the first 乡镇 and 村: a person reads the place above.
    Those places had been the text 同上, so a row without an ID could not be placed and went
    unmatched. A name or an ID never takes another row's."""
    folder = tmp_path / "water"
    rows = [
        ("户主姓名", "证件号码", "乡镇", "村", "问题类型", "是否解决"),
        ("张三", "", "三十铺镇", "北山村", "水量不足", "否"),
        ("李四", "", "同上", "同上", "同上", "否"),
        ("王五", "", "〃", "南山村", "水质不达标", "是"),
        ("同上", ZHANG, "同上", "同上", "", "否"),
    ]
    write_csv(folder / "排查.csv", rows)
    records = stage_source(SOURCES["water"], folder, MONTH).records.sort("row_number")
    assert records.select("name", "township", "village", "problem_type").rows() == [
        ("张三", "三十铺镇", "北山村", "水量不足"),
        ("李四", "三十铺镇", "北山村", "水量不足"),
        ("王五", "三十铺镇", "南山村", "水质不达标"),
        ("同上", "三十铺镇", "南山村", None),
    ]


def test_a_list_without_an_id_column_says_so_and_names_the_header_it_did_not_read(
    tmp_path: Path,
) -> None:
    """A claims list headed 参保人姓名 beside 患者身份证号 (two roles: the ID is not taken for the
    name's person) had been staged as 'ok' without a word: its records matched by name and place
    only. Its file now says so and names the header; a list with no such column says so too;
    a list with its ID column says nothing. Likewise a list whose name column is not read
    (参保人员姓名): on the 5,000-member district (seed 7) so written, the enrollment list's 2,093
    rows were all ambiguous without a word."""
    claims = SOURCES["medical_claims"]
    folder = tmp_path / "raw" / MONTH / "medical_claims"
    row = ("张三", ZHANG, "三十铺镇", "三十铺卫生院", "2026-10-05", "2026-10-05", "100", "12.5")
    amounts = ("就诊机构", "入院日期", "出院日期", "医疗总费用", "个人自付")
    write_csv(folder / "a.csv", [("参保人姓名", "患者身份证号", "乡镇", *amounts), row])
    write_csv(folder / "b.csv", [("患者姓名", "乡镇", *amounts), ("李四", *row[2:])])
    write_csv(folder / "c.csv", [("患者姓名", "患者身份证号", "乡镇", *amounts), row])
    write_csv(
        folder / "d.csv", [("参保人员姓名", "身份证号", "乡镇", *amounts), ("王五", LI, *row[2:])]
    )
    staged = stage_source(claims, folder, MONTH)
    messages = dict(staged.files.select("file", "message").iter_rows())
    assert "「患者身份证号」未识别为证件号码" in messages["a.csv"]
    assert "只能按姓名和地址匹配" in messages["a.csv"]
    assert messages["b.csv"] == "表中没有证件号码列，本表记录只能按姓名和地址匹配"
    assert messages["c.csv"] is None
    # no name column: the records cannot be tied at all (an ID alone is not enough)
    assert "「参保人员姓名」未识别为姓名" in messages["d.csv"]
    assert "本表记录都不能自动匹配" in messages["d.csv"]
    # read in part: no evidence of anyone's absence (contract §4: YB02 raises nothing on it)
    statuses = dict(staged.files.select("file", "status").iter_rows())
    assert statuses == {"a.csv": "ok", "b.csv": "ok", "c.csv": "ok", "d.csv": "partial"}
    ids = dict(staged.records.select("file", "id_number").iter_rows())
    assert ids == {"a.csv": None, "b.csv": None, "c.csv": ZHANG, "d.csv": LI}


@pytest.mark.parametrize(
    ("source", "column", "field", "written", "read", "problems"),
    [
        ("emergency", "房屋倒塌", "house_collapsed", ["倒塌", "未倒塌", "部分倒塌"],
         [True, False, None], ["部分倒塌"]),
        ("water", "是否解决", "resolved", ["未整改", "已整改", "整改中"], [False, True, None],
         ["整改中"]),
        ("education", "是否享受资助", "aided", ["未享受资助", "已享受资助"], [False, True], []),
        ("vehicles", "车辆类型", "vehicle_type", ["小型轿车（K33）", "小型汽车"], ["小型轿车", None],
         ["小型汽车"]),
    ],
)  # fmt: skip
def test_yes_no_fields_read_their_own_words_and_vehicle_types_are_checked(
    tmp_path: Path, source: str, column: str, field: str, written: list, read: list, problems: list
) -> None:
    """房屋倒塌 倒塌/未倒塌, 是否享受资助 未享受资助, 是否解决 未整改/已整改 are a person's 是/否 in those
    columns; 部分倒塌 and 整改中 are not (field problems). A 车辆类型 outside the contract's values
    is a field problem (GA02 不可判断), no longer a silent "not a car"."""
    name = "户主姓名" if SOURCES[source].household_level else "姓名"
    people = [("张三", ZHANG), ("李四", LI), ("王五", make_id(date(1980, 2, 2)))]
    rows = [(n, i, cell) for (n, i), cell in zip(people, written, strict=False)]
    write_csv(tmp_path / source / "a.csv", [(name, "证件号码", column), *rows])
    staged = stage_source(SOURCES[source], tmp_path / source, MONTH)
    assert staged.records[field].to_list() == read
    found = staged.field_problems.filter(pl.col("field") == field)
    assert found["raw_value"].to_list() == problems


def test_a_list_printed_page_by_page_keeps_only_its_data_rows(tmp_path: Path) -> None:
    """A list exported page by page: each page ends with its footer (第 1 页 共 2 页, in any
    column) and the next starts with the title and both rows of a grouped header again; a
    village's 小计 row has the township in its first cell and 汪郢村小计 under 村. Those rows had
    been kept as records named after the title, the footer or 患者姓名, or rejected as rows
    without a name and an ID (the header's lower row, the footer under 就诊机构, the 小计)."""
    folder = tmp_path / "medical_claims"
    title = ("金安区2026年10月医保结算明细",)
    top = ("患者姓名", "证件号码", "乡镇", "村", "就诊机构", "费用情况（元）", "", "")
    bottom = ("", "", "", "", "", "医疗总费用", "统筹支付", "个人自付")
    rows = [
        title,
        top,
        bottom,
        ("张三", ZHANG, "三十铺镇", "汪郢村", "六安市人民医院", "100.00", "60.00", "40.00"),
        ("", "", "三十铺镇", "汪郢村小计", "", "100.00", "60.00", "40.00"),
        (),
        ("第 1 页 共 2 页",),
        title,
        top,
        bottom,
        ("李四", LI, "三十铺镇", "北山村", "三十铺卫生院", "50.00", "30.00", "20.00"),
        ("", "", "", "", "第2页，共2页", "", "", ""),
        ("合计", "共2人", "", "", "", "150.00", "90.00", "60.00"),
    ]
    write_csv(folder / "a.csv", rows)
    staged = stage_source(SOURCES["medical_claims"], folder, MONTH)
    assert staged.records["name"].to_list() == ["张三", "李四"]
    assert staged.records["row_number"].to_list() == [4, 11]
    assert staged.rejects.is_empty() and staged.field_problems.is_empty()


def test_a_row_with_a_name_is_no_subtotal_and_a_one_cell_row_a_footer_only_as_one(
    tmp_path: Path,
) -> None:
    """A 小计 in a cell does not drop a row that names a person (the rule is for rows without a
    name and an ID), and a one-cell row is a page footer only when it reads as one (第三页 does,
    a name alone does not)."""
    folder = tmp_path / "vehicles"
    rows = [
        ("姓名", "证件号码", "车辆类型", "乡镇", "备注"),
        ("张三", ZHANG, "小型轿车", "三十铺镇", "见小计"),
        ("第三页",),
        ("王五",),
    ]
    write_csv(folder / "a.csv", rows)
    staged = stage_source(SOURCES["vehicles"], folder, MONTH)
    assert staged.records["name"].to_list() == ["张三", "王五"]
