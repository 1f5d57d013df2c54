"""The grid ledger (附件2): title-row 乡镇/村 in both filled forms, two-row header, ticks, flat CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.checks.schemas import schema_failures
from pipelines.ingest.grid import parse_ledger_title, stage_grid
from pipelines.sources import GRID
from tests.ingest.builders import write_csv, write_ledger

MONTH = "2026-10"
TAIL = "防止返贫动态监测基层网格工作台账"
ROWS = [
    (1, "北山组第一网格", 45, "张三", "√", None, None, "13800000001", "李四", "村支书", "13900000001", None),
    (2, "北山组第二网格", 38, "王五", None, "√", "妇女主任", 13800000002, "李四", "村支书", "13900000001", "新设"),
    (3,),  # a numbered template row left empty
]  # fmt: skip


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (f"三十铺镇乡镇（街道、开发区）北山村村{TAIL}", ("三十铺镇", "北山村")),
        (f"三十铺镇（街道、开发区）北山村{TAIL}", ("三十铺镇", "北山村")),
        (f"三十铺镇 乡镇（街道、开发区） 北山村 村{TAIL}", ("三十铺镇", "北山村")),
        (f"清水河街道乡镇（街道、开发区）城北社区村{TAIL}", ("清水河街道", "城北社区")),
        (f"孙岗乡镇（街道、开发区）孙畈村{TAIL}", ("孙岗", "孙畈村")),  # bare names in the blanks
        (f"_____ 乡镇（街道、开发区） _____ 村{TAIL}", (None, None)),
        (f"三十铺镇北山村{TAIL}", ("三十铺镇", "北山村")),
        # the district's (and city's) name before the township's: a probe district's ledgers so
        # titled had routed 5 warnings to nobody (乡镇 read as 金安区先生店镇)
        (f"金安区先生店镇乡镇（街道、开发区）丁集村村{TAIL}", ("先生店镇", "丁集村")),
        (f"六安市金安区先生店镇丁集村{TAIL}", ("先生店镇", "丁集村")),
        (f"城区街道乡镇（街道、开发区）城北社区村{TAIL}", ("城区街道", "城北社区")),
        (f"新市镇乡镇（街道、开发区）北山村村{TAIL}", ("新市镇", "北山村")),
        # the template's blank lines left around the clerk's words; an underscore inside a name
        # is the name's own (an independent probe's 新区_东片 had lost its ledger)
        (f"___三十铺镇___乡镇（街道、开发区）__北山村__村{TAIL}", ("三十铺镇", "北山村")),
        (f"三十铺镇_乡镇（街道、开发区）_北山村_村{TAIL}", ("三十铺镇", "北山村")),
        (f"新区_东片乡镇（街道、开发区）=西岭村村{TAIL}", ("新区_东片", "=西岭村")),
    ],
)
def test_title_blanks_filled_by_the_clerk(title: str, expected: tuple) -> None:
    assert parse_ledger_title(title) == expected


def test_ledger_workbooks_in_both_title_forms(tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    write_ledger(folder / "a.xlsx", f"三十铺镇乡镇（街道、开发区）北山村村{TAIL}", ROWS)
    write_ledger(folder / "b.xlsx", f"三十铺镇（街道、开发区）南岗村{TAIL}", ROWS)
    staged = stage_grid(folder, MONTH)
    records = staged.records.sort("file", "row_number")
    assert records.select("file", "township", "village").unique().sort("file").rows() == [
        ("a.xlsx", "三十铺镇", "北山村"),
        ("b.xlsx", "三十铺镇", "南岗村"),
    ]
    first, second = records.row(0, named=True), records.row(1, named=True)
    assert (first["row_number"], second["row_number"]) == (4, 5)
    assert first["grid"] == "北山组第一网格" and first["households"] == 45
    assert (first["worker_name"], first["worker_phone"]) == ("张三", "13800000001")
    assert (first["village_worker_name"], first["village_worker_title"]) == ("李四", "村支书")
    assert first["village_worker_phone"] == "13900000001"
    assert first["worker_is_group_leader"] is True and first["worker_is_party_member"] is False
    assert second["worker_is_group_leader"] is False and second["worker_is_party_member"] is True
    assert second["worker_other_title"] == "妇女主任" and second["note"] == "新设"
    assert second["worker_phone"] == "13800000002"  # a number cell


def test_totals_notes_and_empty_template_rows_are_not_grids(tmp_path: Path) -> None:
    write_ledger(tmp_path / "grid" / "a.xlsx", f"三十铺镇（街道、开发区）北山村{TAIL}", ROWS)
    staged = stage_grid(tmp_path / "grid", MONTH)
    assert staged.records.height == 2 and staged.rejects.is_empty()
    row = staged.files.row(0, named=True)
    # title, two header rows, empty row 3, 合计, 填报人, two 备注 lines
    assert (row["rows_read"], row["rows_kept"], row["rows_skipped"]) == (2, 2, 8)
    assert "赵六" not in staged.records.write_csv()


def test_blank_title_falls_back_to_the_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    write_ledger(
        folder / "椿树镇_东河村网格台账.xlsx", f"____乡镇（街道、开发区）____村{TAIL}", ROWS
    )
    staged = stage_grid(folder, MONTH)
    assert staged.records.select("township", "village").unique().rows() == [("椿树镇", "东河村")]


def test_bare_township_in_the_title_takes_the_full_name_from_file_or_folder(tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    write_ledger(
        folder / "孙岗镇_孙畈村_网格台账.xlsx", f"孙岗乡镇（街道、开发区）孙畈村{TAIL}", ROWS
    )
    write_ledger(folder / "台账1.xlsx", f"椿树乡镇（街道、开发区）东河村{TAIL}", ROWS)
    write_ledger(folder / "台账2.xlsx", f"椿树镇乡镇（街道、开发区）西湾村村{TAIL}", ROWS)
    write_ledger(folder / "台账3.xlsx", f"翁墩乡镇（街道、开发区）北岗村{TAIL}", ROWS)
    staged = stage_grid(folder, MONTH)
    places = set(staged.records.select("township", "village").unique().rows())
    # 翁墩 has no full name anywhere in the folder: it stays as the clerk wrote it
    assert places == {
        ("孙岗镇", "孙畈村"),
        ("椿树镇", "东河村"),
        ("椿树镇", "西湾村"),
        ("翁墩", "北岗村"),
    }


def test_a_title_naming_the_village_only_is_read(tmp_path: Path) -> None:
    """北山村防止返贫…台账: the file had failed (无法确定乡镇), its grids' warnings routed to no
    worker; the 乡镇 is left to the roster, which places the village (tests/test_roster.py)."""
    folder = tmp_path / "grid"
    write_ledger(folder / "台账.xlsx", f"北山村{TAIL}", ROWS)
    other = [(1, "南岗组网格", 30, "赵六", None, None, None, "13800000009", "钱七", "主任", "1")]
    write_ledger(folder / "台账2.xlsx", f"金安区南岗村{TAIL}", other)
    staged = stage_grid(folder, MONTH)
    assert set(staged.files["status"]) == {"ok"}
    assert set(staged.records.select("township", "village").unique().rows()) == {
        (None, "北山村"),
        (None, "南岗村"),
    }


def test_ledger_without_any_place_fails_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    write_ledger(folder / "台账.xlsx", f"____乡镇（街道、开发区）____村{TAIL}", ROWS)
    row = stage_grid(folder, MONTH).files.row(0, named=True)
    assert row["status"] == "failed" and "台账.xlsx" in row["message"]


def test_flat_csv_form(tmp_path: Path) -> None:
    header = ("乡镇", "村", "网格", "农户数", "村组网格员姓名", "村组网格员电话", "村级网格员姓名")
    header += ("村级网格员职务", "村级网格员电话")
    rows = [
        header,
        ("翁墩乡", "西湾村", "一组", "30", "孙七", "13811111111", "周八", "主任", "13922222222"),
    ]
    write_csv(tmp_path / "grid" / "网格.csv", rows, "gb18030")
    staged = stage_grid(tmp_path / "grid", MONTH)
    row = staged.records.row(0, named=True)
    assert (row["township"], row["village"], row["grid"], row["households"]) == (
        "翁墩乡",
        "西湾村",
        "一组",
        30,
    )
    assert row["worker_phone"] == "13811111111" and row["village_worker_title"] == "主任"
    assert row["worker_is_group_leader"] is None  # the CSV form has no tick columns
    assert row["id_status"] == "missing"
    assert schema_failures(GRID, staged.records).height == 0


def test_a_mobile_number_is_read_as_its_eleven_digits(tmp_path: Path) -> None:
    """Clerks write a 网格员's mobile with spaces, dashes or the country code; the township's file
    shows the number (an independent probe's '+86 13934420038' reached the file as
    '+86 13934420038 with the formula guard's quote). A landline and anything else as written."""
    header = ("乡镇", "村", "网格", "村组网格员姓名", "村组网格员电话", "村级网格员电话")
    rows = [
        header,
        ("翁墩乡", "西湾村", "一组", "孙七", "+86 139 3442 0038", "151-9686-1229"),
        ("翁墩乡", "西湾村", "二组", "周八", "0564-3312345", "１５１ ９６８６ １２２９"),
        # no number: a dash or 无 is blank, not a '-' in the township's file (an independent
        # probe's ledger wrote - for a 网格员 without a phone)
        ("翁墩乡", "西湾村", "三组", "吴九", "-", "无"),
        ("翁墩乡", "西湾村", "四组", "郑十", " — ", "／"),
    ]
    write_csv(tmp_path / "grid" / "网格.csv", rows, "utf-8")
    staged = stage_grid(tmp_path / "grid", MONTH).records
    assert staged.select("worker_phone", "village_worker_phone").rows() == [
        ("13934420038", "15196861229"),
        ("0564-3312345", "15196861229"),
        (None, None),
        (None, None),
    ]


def test_missing_grid_folder_is_not_received(tmp_path: Path) -> None:
    assert not stage_grid(tmp_path / "grid", MONTH).received


def test_the_month_hands_the_grid_to_the_ledger_reader(tmp_path: Path) -> None:
    from pipelines.config import DataDir
    from pipelines.ingest.stage import stage_source
    from pipelines.staging import stage_month

    folder = tmp_path / "raw" / MONTH / "grid"
    write_ledger(folder / "a.xlsx", f"三十铺镇（街道、开发区）北山村{TAIL}", ROWS)
    staged = stage_month(DataDir(tmp_path), GRID, MONTH).staged
    assert staged.records["village"].to_list() == ["北山村", "北山村"]
    # the plain table reader would take the title row for data: it refuses the ledger
    with pytest.raises(ValueError, match="stage_grid"):
        stage_source(GRID, folder, MONTH)
