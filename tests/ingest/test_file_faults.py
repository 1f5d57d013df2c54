"""Files as they really arrive: cut short, misnamed, HTML saved as .xls, legacy .xls, merged
location cells, and the same file delivered twice."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.checks.ingest import row_accounting_check
from pipelines.ingest.grid import stage_grid
from pipelines.ingest.readers import (
    Workbook,
    decode_bytes,
    fill_merged,
    read_csv,
)
from pipelines.ingest.stage import FILE_SCHEMA, StagedSource, stage_source
from pipelines.sources import SOURCES
from tests.ingest.builders import (
    CIVIL_ERROR_ROWS,
    CIVIL_MERGED_DATA,
    GRID_FIXTURE_TITLE,
    Formula,
    csv_text,
    cut_inside_last_character,
    fixed_id,
    write_civil_errors,
    write_civil_merged,
    write_csv,
    write_grid_fixture,
    write_xlsx,
)
from tests.ingest.fixtures.make_xls import FIXTURES as XLS_FIXTURES

MONTH = "2026-10"
CIVIL = SOURCES["civil_affairs"]
CLAIMS = SOURCES["medical_claims"]
FIXTURES = Path(__file__).parent / "fixtures"
ZHANG, LI, WANG = (fixed_id(n, date(1960 + n, 1, 1)) for n in (1, 2, 3))

CIVIL_HEADER = ("姓名", "身份证号", "乡镇", "村", "救助类型", "金额", "住址")
CIVIL_ROWS = [
    ("金安区2026年10月社会救助变动名册",),
    CIVIL_HEADER,
    ("张三", ZHANG, "三十铺镇", "北山村", "低保", "100", "北山村一组"),
    ("李四", LI, "三十铺镇", "北山村", "特困", "200", "北山村二组"),
    ("王五", WANG, "三十铺镇", "南山村", "低保", "300", "南山村三组"),
]


def _stage(folder: Path, source=CIVIL) -> StagedSource:  # noqa: ANN001 - a Source
    return stage_source(source, folder, MONTH)


def _file(staged: StagedSource, name: str) -> dict:
    rows = staged.files.filter(pl.col("file") == name).to_dicts()
    assert len(rows) == 1, staged.files
    return rows[0]


def _balanced(row: dict) -> bool:
    return row["rows_read"] == row["rows_kept"] + row["rows_rejected"] + row["rows_duplicate"]


# --- 1. a CSV cut inside its last character ---------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_csv_cut_inside_its_last_character_keeps_the_lines_before(
    tmp_path: Path, encoding: str
) -> None:
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    whole = csv_text(CIVIL_ROWS).encode(encoding)
    cut = cut_inside_last_character(whole, "组", encoding)
    (folder / "低保.csv").write_bytes(cut)
    staged = _stage(folder)
    lost = 1  # the first byte of the cut character is all that is left of it
    row = _file(staged, "低保.csv")
    # a person sees the file's lines up to the cut: the file is used, and said to be incomplete
    assert row["status"] == "partial"
    assert f"文件末尾不完整（截断），最后 {lost} 字节无法解码，已读入其前面的行" in row["message"]
    assert "第 5 行在截断处中断，列为退回行" in row["message"]
    assert staged.records.sort("row_number")["name"].to_list() == ["张三", "李四"]
    # the cut line itself is listed with what is left of it, never staged as if whole
    reject = staged.rejects.row(0, named=True)
    assert staged.rejects.height == 1 and reject["row_number"] == 5
    assert "截断" in reject["reason"] and "「住址」" in reject["reason"]
    assert json.loads(reject["raw_values"])["住址"] == "南山村三"
    assert (row["rows_read"], row["rows_kept"], row["rows_rejected"]) == (3, 2, 1)
    assert _balanced(row)


def test_a_cut_just_after_a_line_break_loses_no_visible_line(tmp_path: Path) -> None:
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    data = csv_text(CIVIL_ROWS).encode("utf-8") + "备".encode()[:2]
    (folder / "a.csv").write_bytes(data)
    staged = _stage(folder)
    row = _file(staged, "a.csv")
    assert row["status"] == "partial" and "最后 2 字节无法解码" in row["message"]
    assert staged.records.height == 3 and staged.rejects.is_empty()


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_csv_cut_between_two_characters_of_its_last_line_is_found_too(
    tmp_path: Path, encoding: str
) -> None:
    """A copy that stopped between two characters decodes cleanly: the last line, without its
    line break, stops short of the line before it ("王五,3415…,三十铺镇"). It had been staged as
    a whole row with a field problem and the file called 'ok': an enrollment list cut so made 12
    false 未参保 warnings (an independent fault probe). The file is partial now, the cut line set
    aside; a last line of full width without its line break, or a note under the table, is not
    a cut."""
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    whole = csv_text(CIVIL_ROWS).encode(encoding).rstrip(b"\r\n")
    (folder / "a.csv").write_bytes(whole[: whole.index("南山村".encode(encoding)) - 1])
    staged = _stage(folder)
    row = _file(staged, "a.csv")
    assert row["status"] == "partial"
    assert "文件末尾不完整（截断）：最后一行在中途中断" in row["message"]
    assert staged.records.sort("row_number")["name"].to_list() == ["张三", "李四"]
    assert staged.rejects["row_number"].to_list() == [5] and _balanced(row)
    for name, data in (
        ("whole.csv", whole),  # no line break after its last row
        ("note.csv", csv_text([*CIVIL_ROWS, ("备注：本表截至10月31日",)]).encode().rstrip()),
    ):
        (folder / "a.csv").unlink(missing_ok=True)
        for other in folder.iterdir():
            other.unlink()
        (folder / name).write_bytes(data)
        staged = _stage(folder)
        assert _file(staged, name)["status"] == "ok", name
        assert staged.records.height == 3 and staged.rejects.is_empty(), name


def test_a_cut_total_row_is_skipped_not_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    rows = [*CIVIL_ROWS, ("合计", "", "", "", "", "600", "共三户")]
    (folder / "a.csv").write_bytes(
        cut_inside_last_character(csv_text(rows).encode(), "户", "utf-8")
    )
    staged = _stage(folder)
    assert staged.records.height == 3 and staged.rejects.is_empty()
    row = _file(staged, "a.csv")
    assert row["rows_skipped"] == 3  # title, header, the cut 合计 line
    assert "第 6 行在截断处中断（合计或备注行），未计入" in row["message"]


def test_a_cut_inside_a_quoted_value_with_a_line_break_sets_the_whole_row_aside(
    tmp_path: Path,
) -> None:
    rows = [*CIVIL_ROWS[:-1], ("王五", WANG, "三十铺镇", "南山村", "低保", "300", "南山村\n三组")]
    path = tmp_path / "a.csv"
    path.write_bytes(cut_inside_last_character(csv_text(rows).encode(), "组", "utf-8"))
    grid = read_csv(path, "a.csv")
    assert [row[0] for row in grid.cells.rows()][-1] == "李四"
    assert grid.cut_line is not None and grid.cut_line.row_number == 5
    assert grid.cut_line.cells == ("王五", WANG, "三十铺镇", "南山村", "低保", "300", "南山村\n三")


def test_bad_bytes_in_the_middle_are_never_guessed(tmp_path: Path) -> None:
    data = csv_text(CIVIL_ROWS).encode("utf-8")
    position = data.index(LI.encode())  # inside line 4
    broken = data[:position] + b"\xff" + data[position + 1 :]
    with pytest.raises(UnicodeDecodeError):
        decode_bytes(broken)
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    (folder / "坏.csv").write_bytes(broken)
    row = _file(_stage(folder), "坏.csv")
    assert row["status"] == "failed"
    assert row["message"].startswith("文件 坏.csv 无法读取：第 4 行有无法识别的字节")


def test_decode_bytes_counts_only_the_broken_tail() -> None:
    assert decode_bytes("张三".encode()[:-1]).text == "张"
    assert decode_bytes("张三".encode()[:-1]).lost_bytes == 2
    assert decode_bytes("张三".encode("gb18030")[:-1]) == decode_bytes(
        "张".encode("gb18030")[:2] + b"\xc8"
    )
    assert decode_bytes("张三".encode("gb18030")).lost_bytes == 0


# --- 2. what a person can tell the file is ----------------------------------------------------


@pytest.mark.parametrize("name", ["低保.xlsx", "低保.xls"])
def test_a_csv_saved_under_an_excel_name_is_read_as_csv(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "civil_affairs"
    write_csv(folder / name, CIVIL_ROWS, "gb18030")
    staged = _stage(folder)
    row = _file(staged, name)
    assert row["status"] == "ok" and row["sheet"] is None
    assert "内容实为文本表格（CSV）" in row["message"]
    assert staged.records.sort("row_number")["row_number"].to_list() == [3, 4, 5]


def test_an_xlsx_named_xls_is_read_as_a_workbook(tmp_path: Path) -> None:
    folder = tmp_path / "civil_affairs"
    write_civil_merged(folder / "低保.xls")  # xlsx bytes under the legacy name
    staged = _stage(folder)
    row = _file(staged, "低保.xls")
    assert row["status"] == "ok" and row["rows_kept"] == len(CIVIL_MERGED_DATA)
    assert "内容实为 Excel 工作簿（.xlsx）" in row["message"]


HTML_XLS = f"""<html xmlns:x="urn:schemas-microsoft-com:office:excel">
<head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<style>td {{ mso-number-format:"\\@"; }}</style></head>
<body>
<table border="1">
  <tr><td colspan="7" align="center">金安区2026年10月社会救助变动名册</td></tr>
  <tr><th rowspan="2">序号</th><th colspan="2">所在地</th><th rowspan="2">姓名</th>
      <th rowspan="2">身份证号</th><th rowspan="2">救助<br>类型</th><th rowspan="2">金额</th></tr>
  <tr><th>乡镇</th><th>村</th></tr>
  <tr><td>1</td><td rowspan="3">三十铺镇</td><td rowspan="2">北山村</td><td>张&nbsp;三</td>
      <td>{ZHANG}</td><td>低保</td><td>1,234.50</td></tr>
  <tr><td>2</td><td>李四</td><td> {LI} </td><td>特困</td><td>800</td>
  <tr><td>3</td><td>南山村</td><td>王五</td><td>{WANG}</td><td>临时救助</td><td>500</td></tr>
  <tr><td colspan="6">合计</td><td>2534.5</td></tr>
</table>
<p>填报人：赵六</p>
</body></html>"""


def test_an_html_table_saved_as_xls_reads_as_it_displays(tmp_path: Path) -> None:
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    (folder / "低保变动.xls").write_bytes(HTML_XLS.encode("gb18030"))
    staged = _stage(folder)
    row = _file(staged, "低保变动.xls")
    assert row["status"] == "ok" and "内容实为网页表格（HTML）" in row["message"]
    assert (row["rows_read"], row["rows_kept"], row["rows_skipped"]) == (3, 3, 4)
    records = staged.records.sort("row_number")
    assert records["row_number"].to_list() == [4, 5, 6]
    assert records["name"].to_list() == ["张三", "李四", "王五"]
    assert records["id_number"].to_list() == [ZHANG, LI, WANG]
    # cells spanning rows read as their value in every row they cover
    assert records["township"].to_list() == ["三十铺镇"] * 3
    assert records["village"].to_list() == ["北山村", "北山村", "南山村"]
    assert records["assistance_type"].to_list() == ["低保", "特困", "临时救助"]
    assert records["amount"].to_list() == [1234.5, 800.0, 500.0]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_separated_text(tmp_path: Path, separator: str) -> None:
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    lines = [
        "金安区2026年10月社会救助变动名册,单位:元",  # a title with a comma of its own
        separator.join(CIVIL_HEADER),
        separator.join(("张三", ZHANG, "三十铺镇", "北山村", "低保", "100", "北山村,一组")),
        separator.join(("李四", LI, "三十铺镇", "北山村", "特困", "200", "北山村,二组")),
        separator.join(("王五", WANG, "三十铺镇", "南山村", "低保", "300", "南山村")),
    ]
    (folder / "a.csv").write_text("\n".join(lines) + "\n", encoding="gb18030")
    staged = _stage(folder)
    records = staged.records.sort("row_number")
    assert records["name"].to_list() == ["张三", "李四", "王五"]
    assert records["amount"].to_list() == [100.0, 200.0, 300.0]
    assert json.loads(records["raw_extra"][0]) == {"住址": "北山村,一组"}


def test_a_comma_file_with_semicolons_in_its_values_stays_comma(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("姓名,住址\n张三,北山村;一组\n李四,南山村;二组\n", encoding="utf-8")
    assert read_csv(path, "a.csv").cells.rows()[1] == ("张三", "北山村;一组", 2)


def _xlsx_bytes(tmp_path: Path) -> bytes:
    path = write_xlsx(tmp_path / "whole.xlsx", [CIVIL_HEADER, CIVIL_ROWS[2]])
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("截断.xlsx", "half an xlsx", "不完整或已损坏"),
        ("报表.xls", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "内容不是表格"),
        ("图片.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "内容不是表格"),
        ("无BOM.csv", "姓名,证件号码\n张三,1\n".encode("utf-16-le"), "内容不是表格"),
        ("空.csv", b"", "是空文件"),
        ("空白.xls", b"  \r\n", "是空文件"),
        ("网页.xls", b"<html><body><table><tr><td></td></tr></table></body></html>", "没有含内容的表格"),
        ("导出.xls", b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">', "另存为 .xlsx"),
    ],
)  # fmt: skip
def test_an_unreadable_file_fails_naming_the_file_and_why(
    tmp_path: Path, name: str, content: bytes | str, reason: str
) -> None:
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    if content == "half an xlsx":
        data = _xlsx_bytes(tmp_path)
        content = data[: len(data) // 2]
    (folder / name).write_bytes(content)
    write_csv(folder / "好.csv", CIVIL_ROWS)
    staged = _stage(folder)
    row = _file(staged, name)
    assert row["status"] == "failed"
    assert row["message"].startswith(f"文件 {name} ") and reason in row["message"]
    assert _file(staged, "好.csv")["rows_kept"] == 3  # the other file of the source still reads


def test_a_stray_nul_in_a_cell_does_not_make_a_csv_binary(tmp_path: Path) -> None:
    """A database export leaves a NUL character in a cell: the file is still a table (a person
    sees it in Excel), and the NUL, like every control character, is invisible in the value."""
    folder = tmp_path / "civil_affairs"
    write_csv(folder / "名册.csv", CIVIL_ROWS)
    path = folder / "名册.csv"
    text = path.read_text(encoding="utf-8-sig")
    name = CIVIL_ROWS[2][0]
    path.write_text(text.replace(name, name[0] + "\x00" + name[1:], 1), encoding="utf-8-sig")
    staged = _stage(folder)
    row = _file(staged, "名册.csv")
    assert row["status"] == "ok" and row["rows_kept"] == 3
    assert name in staged.records["name"].to_list()


# --- 3. legacy .xls, read like .xlsx ----------------------------------------------------------


def _without_file(staged: StagedSource) -> pl.DataFrame:
    return staged.records.drop("file", "record_key").sort("row_number")


def _xlsx_and_xls(
    tmp_path: Path, write: Callable[[Path], Path], fixture: str, name: str
) -> tuple[StagedSource, StagedSource]:
    """A workbook our builder writes, and the .xls LibreOffice saved from it (make_xls.py),
    staged as civil_affairs."""
    xlsx, xls = tmp_path / "a" / "civil_affairs", tmp_path / "b" / "civil_affairs"
    write(xlsx / f"{name}.xlsx")
    xls.mkdir(parents=True)
    shutil.copyfile(FIXTURES / fixture, xls / f"{name}.xls")
    return _stage(xlsx), _stage(xls)


def test_xls_fixtures_are_small_and_made_by_our_builders() -> None:
    for fixture in XLS_FIXTURES:
        data = (FIXTURES / f"{fixture}.xls").read_bytes()
        assert data.startswith(b"\xd0\xcf\x11\xe0") and len(data) < 50_000


def test_a_legacy_xls_reads_exactly_like_the_xlsx_it_was_saved_from(tmp_path: Path) -> None:
    from_xlsx, from_xls = _xlsx_and_xls(tmp_path, write_civil_merged, "civil_merged.xls", "低保")
    assert from_xls.records.height == len(CIVIL_MERGED_DATA)
    assert _without_file(from_xls).equals(_without_file(from_xlsx))
    row = _file(from_xls, "低保.xls")
    # title, two header rows, 合计 and the note are decorations, as in the xlsx
    assert (row["status"], row["sheet"], row["rows_kept"], row["rows_skipped"]) == (
        "ok", "社会救助变动名册", 5, 5,
    )  # fmt: skip
    records = from_xls.records.sort("row_number")
    assert records["row_number"].to_list() == [4, 5, 6, 7, 8]
    li = records.row(1, named=True)
    assert li["id_status"] == "destroyed" and li["id_raw"] == "341502199001011000"
    assert records["change_date"][0] == date(2026, 10, 5) and records["amount"][0] == 1234.5


def test_a_legacy_xls_grid_ledger_reads_like_the_xlsx(tmp_path: Path) -> None:
    xlsx, xls = tmp_path / "a" / "grid", tmp_path / "b" / "grid"
    write_grid_fixture(xlsx / "台账.xlsx")
    xls.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "grid_ledger.xls", xls / "台账.xls")
    from_xlsx, from_xls = stage_grid(xlsx, MONTH), stage_grid(xls, MONTH)
    assert from_xls.records.height == 2
    assert _without_file(from_xls).equals(_without_file(from_xlsx))
    assert from_xls.records["township"].to_list() == ["三十铺镇", "三十铺镇"]
    assert from_xls.records["worker_phone"].to_list() == ["13800000001", "13800000002"]


# --- 4. a location cell that visibly covers several rows --------------------------------------


@pytest.mark.parametrize("fixture", ["xlsx", "xls"])
def test_places_merged_down_over_their_rows_read_in_every_row(tmp_path: Path, fixture: str) -> None:
    folder = tmp_path / "civil_affairs"
    if fixture == "xlsx":
        write_civil_merged(folder / "低保.xlsx")
    else:
        folder.mkdir()
        shutil.copyfile(FIXTURES / "civil_merged.xls", folder / "低保.xls")
    records = _stage(folder).records.sort("row_number")
    assert records["township"].to_list() == ["三十铺镇"] * 5
    assert records["village"].to_list() == ["北山村"] * 3 + ["南山村"] * 2


def test_blank_rows_under_a_merged_cell_stay_blank(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "civil_affairs" / "a.xlsx"
    path.parent.mkdir()
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ("乡镇", "姓名", "身份证号", "救助类型"))
    sheet.merge_range(1, 0, 4, 0, "三十铺镇")
    sheet.write_row(1, 1, ("张三", ZHANG, "低保"))
    sheet.write_row(2, 1, ("李四", LI, "特困"))  # row 4 blank, row 5 blank: the merge runs on
    sheet.merge_range(5, 0, 5, 3, "填报人：赵六")
    workbook.close()
    staged = _stage(path.parent)
    assert staged.records["township"].to_list() == ["三十铺镇", "三十铺镇"]
    assert staged.rejects.is_empty()
    assert _file(staged, "a.xlsx")["rows_skipped"] == 4  # header, two blank rows, the note


def test_fill_merged_repeats_down_but_not_across() -> None:
    cells = pl.DataFrame(
        {
            "c0": ["标题", "乡镇", "三十铺镇", None, None],
            "c1": [None, "姓名", "张三", "李四", None],
        },
        schema={"c0": pl.String, "c1": pl.String},
    ).with_columns(pl.int_range(1, 6).alias("row_number"))
    filled = fill_merged(cells, [(0, 0, 0, 1), (2, 0, 4, 0)])
    assert filled["c0"].to_list() == ["标题", "乡镇", "三十铺镇", "三十铺镇", None]
    assert filled["c1"].to_list() == cells["c1"].to_list()


def test_a_two_row_header_with_cells_merged_down_still_combines(tmp_path: Path) -> None:
    workbook = Workbook(write_civil_merged(tmp_path / "a.xlsx"), "a.xlsx")
    grid = workbook.read(workbook.sheet_names[0])
    rows = grid.cells.rows()
    assert rows[1][:4] == ("序号", "所在地", None, "姓名")  # the parent row as drawn
    assert rows[2][:4] == ("序号", "乡镇", "村", "姓名")  # merged-down labels fill the child row
    assert rows[0][1:] == (None,) * 8 + (1,)  # the title merged across stays in its first cell


# --- 5. the same file delivered twice ---------------------------------------------------------

CLAIM_HEADER = ("姓名", "证件号码", "乡镇", "就诊机构", "入院日期", "个人自付")
CLAIMS_ROWS = [
    ("金安区2026年10月医保结算明细",),
    CLAIM_HEADER,
    ("张三", ZHANG, "三十铺镇", "区医院", date(2026, 10, 5), 1200.5),
    ("李四", LI, "三十铺镇", "区医院", date(2026, 10, 6), 300),
    ("李四", LI, "三十铺镇", "区医院", date(2026, 10, 6), 300),  # twice in one file: both stand
    ("王五", WANG, "孙岗乡", "中医院", date(2026, 10, 7), 50),
]


def _as_text(rows: list[tuple]) -> list[tuple]:
    return [tuple(v.isoformat() if isinstance(v, date) else v for v in row) for row in rows]


def test_a_byte_identical_copy_is_counted_once(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    write_xlsx(folder / "名册.xlsx", CLAIMS_ROWS)
    shutil.copyfile(folder / "名册.xlsx", folder / "名册 - 副本.xlsx")  # sorts first
    staged = _stage(folder, CLAIMS)
    assert staged.records["file"].unique().to_list() == ["名册.xlsx"]
    assert staged.records["self_paid"].sum() == 1850.5  # not 3701
    copy = _file(staged, "名册 - 副本.xlsx")
    assert copy["status"] == "duplicate" and "与 名册.xlsx 完全相同" in copy["message"]
    assert (copy["rows_read"], copy["rows_kept"], copy["rows_duplicate"]) == (4, 0, 4)
    assert _file(staged, "名册.xlsx")["status"] == "ok"
    assert all(_balanced(row) for row in staged.files.to_dicts())
    assert list(staged.files.columns) == list(FILE_SCHEMA)
    assert row_accounting_check(staged.files).metadata["files_unbalanced"].value == 0


def test_a_resave_as_csv_is_counted_once(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    write_xlsx(folder / "医保结算.xlsx", CLAIMS_ROWS)
    write_csv(folder / "医保结算（导出）.csv", _as_text(CLAIMS_ROWS), "gb18030")
    staged = _stage(folder, CLAIMS)
    assert staged.records.height == 4 and staged.records["file"].n_unique() == 1
    duplicate = staged.files.filter(pl.col("status") == "duplicate").row(0, named=True)
    original = staged.records["file"][0]
    assert f"数据行与 {original} 完全相同" in duplicate["message"]
    assert duplicate["rows_duplicate"] == 4 and _balanced(duplicate)


def test_a_townships_part_of_the_district_file_is_counted_once(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    write_xlsx(folder / "全区.xlsx", CLAIMS_ROWS)
    write_csv(folder / "孙岗乡.csv", [CLAIM_HEADER, ("王五", WANG, "孙岗乡", "中医院", "2026/10/7", "50.00")])  # fmt: skip
    staged = _stage(folder, CLAIMS)
    part = _file(staged, "孙岗乡.csv")
    assert part["status"] == "duplicate"
    assert part["message"] == "全部 1 行数据已包含在 全区.xlsx 中（重复报送），未重复计入"
    assert staged.records.height == 4


def test_files_that_differ_in_one_row_are_both_counted(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    write_xlsx(folder / "a.xlsx", CLAIMS_ROWS)
    changed = [*CLAIMS_ROWS[:-1], ("王五", WANG, "孙岗乡", "中医院", date(2026, 10, 8), 50)]
    write_xlsx(folder / "b.xlsx", changed)
    staged = _stage(folder, CLAIMS)
    assert staged.files["status"].to_list() == ["ok", "ok"]
    assert staged.records.height == 8


def test_a_file_whose_rows_are_spread_over_two_others_is_counted(tmp_path: Path) -> None:
    # each person of each file is in another file too, but no one file holds another's rows
    title, header, zhang, li, _, wang = CLAIMS_ROWS
    folder = tmp_path / "medical_claims"
    write_xlsx(folder / "a.xlsx", [title, header, zhang, li])
    write_xlsx(folder / "b.xlsx", [title, header, li, wang])
    write_xlsx(folder / "c.xlsx", [title, header, zhang, wang])
    staged = _stage(folder, CLAIMS)
    assert staged.files["status"].to_list() == ["ok", "ok", "ok"]
    assert staged.records.height == 6


def test_a_copy_of_an_unreadable_file_is_not_a_second_failure(tmp_path: Path) -> None:
    folder = tmp_path / "medical_claims"
    folder.mkdir()
    (folder / "坏.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    shutil.copyfile(folder / "坏.xlsx", folder / "坏(1).xlsx")
    staged = _stage(folder, CLAIMS)
    assert _file(staged, "坏.xlsx")["status"] == "failed"
    assert _file(staged, "坏(1).xlsx")["status"] == "duplicate"


# --- 6. a formula's error value (#N/A, #DIV/0!) -------------------------------------------------


def _as_csv(rows: list[tuple]) -> list[tuple]:
    """The rows as Excel saves the sheet as CSV: each formula as the value it shows."""
    return [tuple(getattr(cell, "shown", cell) for cell in row) for row in rows]


@pytest.mark.parametrize("kind", ["xlsx", "xls", "csv"])
def test_a_formulas_error_value_is_a_field_problem_never_a_value(tmp_path: Path, kind: str) -> None:
    """A VLOOKUP that found nobody shows #N/A: the row is kept on its ID with no name (the
    matcher lists an ID without a name to the district, never to a township), the amount and
    date that failed are unknown, and the department is told which cells hold a broken formula.
    The reader had returned such a cell empty, so nobody was told; a CSV Excel saved held the
    text #N/A, read as a person's name."""
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    name = f"名册.{kind}"
    if kind == "xlsx":
        write_civil_errors(folder / name)
    elif kind == "xls":
        shutil.copyfile(FIXTURES / "civil_errors.xls", folder / name)
    else:
        write_csv(folder / name, _as_csv(CIVIL_ERROR_ROWS))
    staged = _stage(folder)
    row = _file(staged, name)
    assert (row["rows_read"], row["rows_kept"], row["rows_rejected"]) == (4, 3, 1)
    records = staged.records.sort("row_number")
    assert records["row_number"].to_list() == [3, 4, 5]
    assert records["name"].to_list() == ["张三", None, "王五"]
    assert records["id_status"].to_list() == ["valid", "valid", "valid"]
    assert records["amount"].to_list()[:2] == [100, None]
    assert records["assistance_type"].to_list() == ["低保", "低保", None]
    assert records["change_date"].to_list() == [date(2026, 10, 5), date(2026, 10, 6), None]
    problems = staged.field_problems.filter(pl.col("reason").str.contains("错误值"))
    problems = problems.sort("row_number", "field")
    assert problems.select("row_number", "field", "raw_value").rows() == [
        (4, "amount", "#DIV/0!"),
        (4, "name", "#N/A"),
        (5, "assistance_type", "#VALUE!"),
        (5, "change_date", "#N/A"),
    ]
    assert all("Excel 公式的错误值" in reason for reason in problems["reason"])
    # the list has no 变动类型 column: its rows are unknown for MZ01/MZ03 too (Field.decides)
    assert staged.field_problems.filter(pl.col("field") == "change_type").height == 3
    assert problems.filter(pl.col("field") == "name")["reason"].item().startswith("「姓名」")
    # a name and an ID that both failed: the identity is lost, and the reason says it
    (reject,) = staged.rejects.to_dicts()
    assert reject["row_number"] == 6 and "姓名和证件号码都没有可用的值" in reject["reason"]


def test_a_legacy_xls_with_formula_errors_reads_like_the_xlsx(tmp_path: Path) -> None:
    from_xlsx, from_xls = _xlsx_and_xls(tmp_path, write_civil_errors, "civil_errors.xls", "名册")
    assert _without_file(from_xls).equals(_without_file(from_xlsx))
    assert from_xls.field_problems.drop("file", "record_key").equals(
        from_xlsx.field_problems.drop("file", "record_key")
    )


def test_an_error_value_in_a_required_roster_field_rejects_the_row_saying_so(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "roster"
    header = ("乡镇", "村", "网格", "户编号", "户主姓名", "姓名", "证件号码", "户类型")
    rows = [
        header,
        ("三十铺镇", "北山村", "一组网格", "H1", "张三", "张三", ZHANG, "脱贫户"),
        ("三十铺镇", "北山村", "一组网格", "#N/A", "张三", "李四", LI, "脱贫户"),
    ]
    write_csv(folder / "农户花名册.csv", rows)
    staged = stage_source(SOURCES["roster"], folder, MONTH)
    assert staged.records["name"].to_list() == ["张三"]
    (reason,) = staged.rejects["reason"].to_list()
    assert reason.startswith("「户编号」是 Excel 公式的错误值") and "为空" not in reason


def test_an_error_value_in_a_tick_column_is_unknown_not_ticked(tmp_path: Path) -> None:
    """A ledger's 村民组长 tick computed by a formula that failed: unknown, not a tick."""
    rows = [
        (1, "北山组第一网格", 45, "张三", Formula("=NA()", "#N/A"), "√", None, "13800000001", "李四", "村支书", "13900000001", None),
    ]  # fmt: skip
    folder = tmp_path / "grid"
    path = folder / "台账.xlsx"
    folder.mkdir()
    workbook_rows = [
        (GRID_FIXTURE_TITLE,),
        ("序号", "村组网格名称", "农户数", "村组网格员", None, None, None, None, "村级网格员", None, None, "备注"),
        (None, None, None, "姓名", "村民组长", "党员", "其他(职务)", "联系电话", "姓名", "职务", "联系电话"),
        *rows,
    ]  # fmt: skip
    write_xlsx(path, workbook_rows)
    staged = stage_grid(folder, MONTH)
    record = staged.records.row(0, named=True)
    assert record["worker_is_group_leader"] is None and record["worker_is_party_member"] is True
    assert staged.field_problems.select("field", "raw_value").rows() == [
        ("worker_is_group_leader", "#N/A")
    ]


# --- 7. a list spread over several sheets -----------------------------------------------------

ENROLLMENT = SOURCES["medical_enrollment"]
ENROLL_HEADER = ("姓名", "身份证号", "参保年度", "参保状态")


def _enrolled(first: int, count: int) -> list[tuple]:
    return [
        (f"参保人{n}", fixed_id(n, date(1950 + n % 50, 1, 1)), "2026", "正常参保")
        for n in range(first, first + count)
    ]


@pytest.mark.parametrize("repeated_header", [True, False])
def test_a_list_continued_on_unread_sheets_makes_the_file_partial(
    tmp_path: Path, repeated_header: bool
) -> None:
    """A system that writes .xls splits a long list over Sheet1, Sheet2 … (65,536 rows a sheet),
    with or without the header again. The contract reads the first sheet; the rows on the others
    had been dropped without a word (default-named sheets were not even noted), and an absence
    rule then took everyone on them as not enrolled. Now the file is partial (absence rules take
    the source as no evidence: tests/rules/test_completeness.py) and its message says why."""
    folder = tmp_path / "medical_enrollment"
    second = _enrolled(4, 3)
    write_xlsx(
        folder / "参保名册.xlsx",
        [ENROLL_HEADER, *_enrolled(1, 3)],
        sheet="Sheet1",
        extra_sheets=[
            ("Sheet2", [ENROLL_HEADER, *second] if repeated_header else second),
            ("Sheet3", []),
        ],
    )
    staged = _stage(folder, ENROLLMENT)
    row = _file(staged, "参保名册.xlsx")
    assert (row["status"], row["rows_kept"]) == ("partial", 3)
    assert "Sheet2（3 行）" in row["message"] and "未读全" in row["message"]
    assert "Sheet3" not in row["message"]  # the empty sheet Excel adds


def test_a_lookup_sheet_is_noted_but_does_not_make_the_file_partial(
    tmp_path: Path,
) -> None:
    """A clerk pastes the roster into a sheet for VLOOKUP: other columns, so not the list."""
    folder = tmp_path / "medical_enrollment"
    roster_copy = [("户编号", "姓名", "证件号码", "与户主关系"), ("H1", "参保人9", fixed_id(9, date(1959, 1, 1)), "户主")]  # fmt: skip
    write_xlsx(
        folder / "参保名册.xlsx",
        [ENROLL_HEADER, *_enrolled(1, 3)],
        sheet="Sheet1",
        extra_sheets=[("Sheet2", roster_copy)],
    )
    staged = _stage(folder, ENROLLMENT)
    row = _file(staged, "参保名册.xlsx")
    assert (row["status"], row["rows_kept"]) == ("ok", 3)
    assert row["message"] == "另有工作表未读取：Sheet2"


def test_lines_ended_by_cr_alone_are_lines(tmp_path: Path) -> None:
    """Excel for Mac's "CSV (Macintosh)" ends lines with CR alone: the file had read as one
    line, a header and no rows, status ok, without a word."""
    folder = tmp_path / "civil_affairs"
    folder.mkdir()
    text = csv_text(CIVIL_ROWS).replace("\r\n", "\r").replace("\n", "\r")
    (folder / "名册.csv").write_bytes(text.encode("utf-8"))
    staged = _stage(folder)
    assert _file(staged, "名册.csv")["rows_kept"] == 3
    assert staged.records["row_number"].to_list() == [3, 4, 5]


def test_a_file_that_cannot_be_opened_is_named_and_the_month_goes_on(tmp_path, monkeypatch):
    """A department file the run may not read (chmod 000 on a share, a file vanishing while the
    folder is listed) had stopped the whole month at the folder's fingerprint, before any
    reader could name it (an independent fault probe: "ingest: [Errno 13] Permission denied",
    no source processed). The folder is not fingerprinted (never reused), the file is named
    as failed, the other files and sources are read."""
    from pipelines.config import DataDir
    from pipelines.staging import folder_fingerprint, ingest_sources
    from pipelines.warehouse import memory_warehouse

    root = tmp_path / "district"
    folder = root / "raw" / MONTH / "civil_affairs"
    write_csv(folder / "a.csv", CIVIL_ROWS)
    write_csv(folder / "b.csv", [CIVIL_HEADER, CIVIL_ROWS[2]])
    opened, read = Path.open, Path.read_bytes

    def refused(path: Path) -> None:
        if path.name == "b.csv":
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "open", lambda p, *a, **k: refused(p) or opened(p, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda p: refused(p) or read(p))

    assert folder_fingerprint(folder) is None
    con = memory_warehouse()
    (staged,) = ingest_sources(con, DataDir(root), [CIVIL], district="d", month=MONTH)
    assert staged.staged.records.height == 3
    failed = _file(staged.staged, "b.csv")
    assert failed["status"] == "failed" and "无法打开" in failed["message"]


def test_a_stray_cell_far_away_is_left_out_and_the_table_read(tmp_path: Path) -> None:
    """One character typed in XFD1048576 (an independent probe): the reader would hold the sheet
    as a grid of 17 billion cells, and the process aborted with nothing said and every source of
    the month lost. The cell stands apart from the table: it is left out, the file says so, and
    its rows are read as a person sees them. A sheet whose far cells hold only formatting is read
    as it is; a table itself beyond the reader's reach fails its own file, with its reason."""
    import xlsxwriter

    folder = tmp_path / "petition"
    folder.mkdir()
    header = ["姓名", "证件号码", "乡镇", "村", "信访事项", "登记日期"]
    row = ["张三", "341502198001010016", "东桥镇", "王岗村", "土地", "2026-10-08"]

    def workbook(name: str, person: list[str], far: Callable) -> None:
        book = xlsxwriter.Workbook(str(folder / name))
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, header)
        sheet.write_row(1, 0, person)
        far(sheet, book)
        book.close()

    workbook("信访_补报.xlsx", row, lambda sheet, book: sheet.write_string(1048575, 16383, " "))
    other = ["李四", "341502198202020028", *row[2:]]
    workbook(
        "信访_格式.xlsx",
        other,
        lambda sheet, book: sheet.write_blank(1048575, 16383, None, book.add_format({"bold": 1})),
    )
    staged = stage_source(SOURCES["petition"], folder, "2026-10")
    files = {r["file"]: r for r in staged.files.iter_rows(named=True)}
    assert files["信访_补报.xlsx"]["status"] == "ok"
    assert "远离表格的单元格 XFD1048576" in files["信访_补报.xlsx"]["message"]
    assert files["信访_格式.xlsx"]["status"] == "ok"
    assert staged.records.height == 2

    from pipelines.ingest import readers

    readers.MAX_SHEET_CELLS, limit = 10, readers.MAX_SHEET_CELLS  # a table past the reach
    try:
        staged = stage_source(SOURCES["petition"], folder, "2026-10")
    finally:
        readers.MAX_SHEET_CELLS = limit
    failed = staged.files.filter(pl.col("file") == "信访_补报.xlsx").row(0, named=True)
    assert failed["status"] == "failed" and "XFD1048576" in failed["message"]
