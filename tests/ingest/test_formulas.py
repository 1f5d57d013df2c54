"""Formula cells a program saved without their result: computed as Excel would, or reported."""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from pipelines.ingest.formulas import evaluate, recalculated_on_load, uncached_formulas
from pipelines.ingest.stage import stage_source
from pipelines.sources import SOURCES

CLAIMS = SOURCES["medical_claims"]
HEADER = ["姓名", "身份证号", "入院日期", "出院日期", "医疗总费用", "统筹支付", "大病保险支付",
          "医疗救助支付", "个人自付"]  # fmt: skip
V = "360426199101010071"
X = "34150219900101005X"

# row 2 (index 1): E..H = 10000, 6000, 1000, 500; I3 is blank; J2 holds text
CELLS = {(1, 4): "10000", (1, 5): "6000", (1, 6): "1000", (1, 7): "500.25", (1, 9): "张三"}


def _value(cell: tuple[int, int]) -> Decimal | None:
    text = CELLS.get(cell)
    try:
        return Decimal(text) if text is not None else None
    except ArithmeticError:
        return None


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("=E2-F2-G2-H2", Decimal("2499.75")),
        ("E2-F2-G2-H2", Decimal("2499.75")),
        ("=SUM(F2:H2)", Decimal("7500.25")),
        ("=SUM(F2:H2,100)", Decimal("7600.25")),
        ("=SUM(E3:H3)", Decimal(0)),  # blank cells count as 0 in a sum
        ("=E2*0.1", Decimal("1000.0")),
        ("=($E$2+F2)/2", Decimal("8000")),
        ("=-E2+F2", Decimal("-4000")),
        ("=e2-f2", Decimal("4000")),
        ("=E2-I3", None),  # a blank cell outside a sum: not a number Excel would show here
        ("=E2+J2", None),  # text: #VALUE! in Excel
        ("=E2/0", None),  # #DIV/0!
        ("=ROUND(E2-F2-G2-H2,1)", Decimal("2499.8")),
        ("=ROUND(-2.5,0)", Decimal("-3")),  # half away from zero, as Excel
        ("=ROUND(E2/3,2)", Decimal("3333.33")),
        ("=ROUND(E2,0.5)", None),
        ("=VLOOKUP(A2,Sheet2!A:B,2,0)", None),
        ("=IF(E2>0,E2,0)", None),
        ("=E2-", None),
        ("=(E2", None),
        ("", None),
    ],
)
def test_a_rows_arithmetic_is_computed_and_nothing_else(formula: str, expected) -> None:
    assert evaluate(formula, _value) == expected


def test_formula_cells_without_a_result_are_found_in_the_sheet_xml() -> None:
    xml = (
        b'<sheetData><row r="2"><c r="E2" t="n"><v>10</v></c><c r="I2"><f>E2-F2</f><v /></c>'
        b'<c r="J2"><f>SUM(E2:H2)</f><v>7</v></c><c r="K2" t="str"><f>A2&amp;B2</f></c>'
        b'<c r="L2"><f t="shared" si="0"/></c></row></sheetData>'
        b'<autoFilter ref="A1:L2"><filterColumn colId="0"/></autoFilter>'
    )
    assert uncached_formulas(xml) == {(1, 8): "E2-F2", (1, 10): "A2&B2", (1, 11): ""}
    # in a workbook recalculated on load, a stored 0 is xlsxwriter's default, not a result
    zero = xml.replace(b"<v>7</v>", b"<v>0</v>")
    assert uncached_formulas(zero, stored=False) == {
        (1, 8): "E2-F2", (1, 9): "SUM(E2:H2)", (1, 10): "A2&B2", (1, 11): "",
    }  # fmt: skip
    assert (1, 9) not in uncached_formulas(xml, stored=False)  # 7 was given: taken
    assert (1, 9) not in uncached_formulas(zero)  # Excel stored 0: a result
    assert recalculated_on_load(b'<workbook><calcPr calcId="1" fullCalcOnLoad="1"/></workbook>')
    assert not recalculated_on_load(b'<workbook><calcPr calcId="191029"/></workbook>')


def _openpyxl_claims(path: Path) -> None:
    """The way a Python script writes a workbook: formulas, no results."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["张三", V, "2026-10-01", "2026-10-05", 10000, 6000, 1000, 500, "=E2-F2-G2-H2"])
    sheet.append(["李四", X, "2026-10-02", "2026-10-06", 8000, 4000, 0, 0, "=VLOOKUP(A3,B:C,2,0)"])
    workbook.save(path)


def test_a_workbook_a_program_wrote_reads_as_excel_shows_it(tmp_path: Path) -> None:
    """openpyxl writes the formula alone; xlsxwriter writes 0 as its result and asks Excel to
    recalculate. Both had read as a blank or 0 个人自付, with no word of it: YB01's sums silently
    short."""
    _openpyxl_claims(tmp_path / "医保结算明细.xlsx")
    workbook = xlsxwriter.Workbook(str(tmp_path / "医保结算明细2.xlsx"))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    sheet.write_row(1, 0, ["王五", V, "2026-10-03", "2026-10-08", 20000, 12000, 3000, 1000])
    sheet.write_formula(1, 8, "=E2-F2-G2-H2")
    workbook.close()
    staged = stage_source(CLAIMS, tmp_path, "2026-10")
    paid = dict(zip(staged.records["name"], staged.records["self_paid"], strict=True))
    assert paid == {"张三": Decimal("2500"), "李四": None, "王五": Decimal("4000")}
    problems = staged.field_problems
    assert problems.select("field", "raw_value").rows() == [("self_paid", "=VLOOKUP(A3,B:C,2,0)")]
    messages = dict(zip(staged.files["file"], staged.files["message"], strict=True))
    assert "1 个已按公式算出，1 个无法算出" in messages["医保结算明细.xlsx"]
    assert "1 个已按公式算出" in messages["医保结算明细2.xlsx"]


def test_a_result_excel_stored_is_taken_as_it_is(tmp_path: Path) -> None:
    """A workbook Excel or LibreOffice saved keeps each result and does not ask to be
    recalculated: the stored result is read, never computed again."""
    _openpyxl_claims(tmp_path / "source.xlsx")
    with zipfile.ZipFile(tmp_path / "source.xlsx") as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b' fullCalcOnLoad="1"', b"")
    sheet = next(n for n in parts if n.startswith("xl/worksheets/sheet"))
    parts[sheet] = (
        parts[sheet]
        .replace(b"<f>E2-F2-G2-H2</f><v />", b"<f>E2-F2-G2-H2</f><v>2501</v>")
        .replace(b"<f>VLOOKUP(A3,B:C,2,0)</f><v />", b"<f>VLOOKUP(A3,B:C,2,0)</f><v>77</v>")
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    (tmp_path / "source.xlsx").unlink()
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "医保结算明细.xlsx").write_bytes(buffer.getvalue())
    staged = stage_source(CLAIMS, folder, "2026-10")
    paid = dict(zip(staged.records["name"], staged.records["self_paid"], strict=True))
    assert paid == {"张三": Decimal("2501"), "李四": Decimal("77")}
    assert staged.field_problems.is_empty()
    assert staged.files["message"].to_list() == [None]


TEXT_CELLS = {
    (1, 11): "341502199001011234",  # L2: the ID a hidden helper column holds as text
    (1, 2): "三十铺镇",  # C2
    (2, 11): "  341502199001011235 ",  # L3, with the spaces a copy brings
    (1, 4): "12345",  # E2, a number
}


def _text(cell: tuple[int, int]) -> str | None:
    return TEXT_CELLS.get(cell)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("=L2", "341502199001011234"),
        ("=$L$2", "341502199001011234"),
        ("=C2", "三十铺镇"),  # the 乡镇 of the row above, copied down
        ("=TRIM(L3)", "341502199001011235"),
        ('="341502"&"199001011236"', "341502199001011236"),
        ('=L2&""', "341502199001011234"),
        ('=CONCATENATE("34",E2)', "3412345"),
        ('=TEXT(E2,"0")', "12345"),
        ("=DATE(2026,10,5)", "2026-10-05"),
        ('=TEXT(DATE(2026,9,1),"yyyy-mm")', "2026-09"),
        ('="a""b"', 'a"b'),
        ("=Z9", "0"),  # a reference to a blank cell: Excel shows 0
        ('=Z9&"x"', "x"),  # a blank joined: nothing
        ("=Sheet2!A1", None),  # another sheet: not read here
        ("=VLOOKUP(A2,B:C,2,0)", None),
        ('=IF(E2>0,"a","b")', None),
        ('=E2*1000000000000&""', None),  # 12,345,000,000,000,000: Excel shows 1.2345E+16
        ("=TRIM(", None),
    ],
)
def test_text_a_list_copies_or_joins_from_its_own_cells(formula: str, expected) -> None:
    from pipelines.ingest.formulas import evaluate_text

    assert evaluate_text(formula, _text) == expected


ENROLLMENT = SOURCES["medical_enrollment"]


def test_ids_and_places_copied_by_formula_read_as_excel_shows_them(tmp_path: Path) -> None:
    """An enrollment list a program wrote with formulas and no results: the ID taken from a
    hidden helper column (=F2, =TRIM(F3), ="341502"&…), the 乡镇 and 村 copied from the row
    above (=C2). An independent probe's list so written was read with 乡镇 "=C2" and IDs
    "=TRIM(F3)": nobody matched, 203 false YB02. A formula that cannot be computed (another
    sheet) leaves the field empty and is reported, its text never taken for the value."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号", "乡镇", "村", "参保状态", "辅助"])
    sheet.append(["张三", "=F2", "东桥镇", "王岗村", "正常参保", V])
    sheet.append(["李四", "=TRIM(F3)", "=C2", "=D2", "正常参保", f" {X} "])
    sheet.append(["王五", '="360426"&"199101010071"', "=C3", "=Sheet2!B4", "正常参保", None])
    workbook.save(tmp_path / "参保名册.xlsx")
    staged = stage_source(ENROLLMENT, tmp_path, "2026-10")
    rows = staged.records.select("name", "id_number", "township", "village").rows()
    assert rows == [
        ("张三", V, "东桥镇", "王岗村"),
        ("李四", X, "东桥镇", "王岗村"),
        ("王五", V, "东桥镇", None),
    ]
    problems = staged.field_problems.select("field", "raw_value", "reason").rows()
    assert [(f, raw) for f, raw, _ in problems] == [("village", "=Sheet2!B4")]
    assert "没有保存它的计算结果" in problems[0][2]


XLS_FIXTURES = Path(__file__).parent / "fixtures"


def test_an_xls_libreoffice_stored_with_text_results_of_0_reads_as_excel_shows_it(
    tmp_path: Path,
) -> None:
    """LibreOffice, converting its own workbook to .xls without recalculating it (its default),
    stores 0 as the result of every formula giving text (fixtures/make_xls.py builds such a
    list: IDs by =G2, =TRIM(G3), ="341502"&…, 乡镇/村 filled down by one shared formula).
    Excel recalculates the file when it opens it. An independent probe's list so converted was
    read with every ID and most places 0: 32 warnings lost and 296 false YB02."""
    from tests.ingest.builders import FORMULA_ENROLLMENT

    shutil.copyfile(XLS_FIXTURES / "enrollment_formulas.xls", tmp_path / "参保名册.xls")
    staged = stage_source(ENROLLMENT, tmp_path, "2026-10")
    rows = staged.records.select("name", "id_number", "township", "village").rows()
    assert rows == FORMULA_ENROLLMENT
    assert staged.field_problems.is_empty()
    assert "保存的结果是 0" in staged.files["message"][0]


def _ref(row: int, column: int, *, relative: bool = False) -> bytes:
    """A BIFF8 cell reference token: PtgRef, or PtgRefN (shared) with relative row and column."""
    if relative:
        return bytes([0x2C]) + struct.pack("<hH", row, 0xC000 | (column & 0xFF))
    return bytes([0x24]) + struct.pack("<HH", row, 0xC000 | column)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (_ref(1, 6), "=G2"),
        (_ref(2, 6) + bytes([0x41]) + struct.pack("<H", 118), "=TRIM(G3)"),
        (b"\x17\x02\x0034" + _ref(1, 6) + b"\x08", '="34"&G2'),
        (b"\x17\x01\x01" + "镇".encode("utf-16-le"), '="镇"'),
        # a shared formula in C6 reading the cell above: row offset -1, column offset 0
        (_ref(-1, 0, relative=True), "=C5"),
        (_ref(1, 4) + _ref(1, 5) + b"\x04", "=E2-F2"),
        (_ref(1, 4) + b"\x22\x02" + struct.pack("<H", 102), None),  # VLOOKUP: not computed
        (b"\x3a" + b"\x00" * 6, None),  # a reference to another sheet
        (_ref(1, 4) + _ref(1, 5), None),  # two values left: no formula
    ],
)
def test_xls_formula_tokens_as_excel_writes_the_formula(tokens: bytes, expected) -> None:
    from pipelines.ingest.biff import formula_text

    assert formula_text(tokens, row=5, column=2) == expected
