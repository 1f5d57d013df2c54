"""What offices and attackers send must not come out dangerous or lost (issue 8, items 3, 4, 8, 9):
no formula cells, no control characters, no shared file names, rows checked on disk, failed
files named where people look, no giant cells."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.config import DataDir
from pipelines.exports import township as township_module
from pipelines.exports.summary import summary_tables, write_district_files
from pipelines.exports.township import (
    TEXT_LIMIT,
    ExportCheckError,
    build_listing,
    clean_text,
    csv_frame,
    csv_text,
    export_date_for,
    export_frame,
    fixed_workbook,
    record_export,
    township_stems,
    verify_rows,
    write_township_files,
)
from pipelines.report import run_summary
from pipelines.rules.evaluate import evaluate_rules
from pipelines.sources import DEPARTMENT_KEYS, DEPARTMENT_SOURCES
from pipelines.warehouse import memory_warehouse, open_warehouse, replace_partition
from tests.conftest import DISTRICT, MONTH, World

FORMULA = re.compile(r"^\s*[=+\-@\t\r]")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ATTACKS = ["=1+1", "-1+1", "=cmd|'/Ccalc'!A0", "+SUM(A1)", "@SUM(1)", "\t=1+1", "\r=2"]


def _config() -> dict:
    from pipelines.rules.settings import load_rule_config

    return load_rule_config()


def _export(con, tmp_path: Path, *, evidence: str | None = None, xlsx: bool = True):
    warnings = evaluate_rules(
        con, district=DISTRICT, month=MONTH, config=_config(), received=set(DEPARTMENT_KEYS)
    ).warnings
    if evidence is not None:
        warnings = warnings.with_columns(pl.lit(evidence).alias("evidence"))
    replace_partition(con, "warnings", warnings, district=DISTRICT, month=MONTH)
    export_date = export_date_for(con, DISTRICT, MONTH, date(2026, 11, 3))
    listing, _ = build_listing(
        con, district=DISTRICT, month=MONTH, export_date=export_date, deadline_days=15
    )
    files = write_township_files(
        listing, tmp_path / MONTH, mask=True, xlsx=xlsx, export_date=export_date
    )
    replace_partition(con, "listings", listing.drop("record_keys"), district=DISTRICT, month=MONTH)
    record_export(con, DISTRICT, MONTH, export_date)
    return listing, files


def _hostile_world() -> World:
    """Roster and department cells as an attacker (or a careless export) would fill them."""
    world = World()
    for n, attack in enumerate(ATTACKS):
        household = world.household(township="东桥镇", village=attack if n % 2 else "王岗村")
        member = world.member(household, attack if n % 2 == 0 else "\x1b[2J\x1b[31m张三\x07")
        world.record("housing", member, grade="C")
    # a record the matcher could not tie: it goes to the district's unresolved list as sent
    household = world.household(township="东桥镇")
    one = world.member(household, "李四")
    two = world.member(household, "李四", relation="子女")
    world.ambiguous(
        "housing", [one, two], name="=HYPERLINK(\"http://x\",\"点我\")", village="-2+3",
        township="\x1b]0;title\x07东桥镇", grade="C",
    )  # fmt: skip
    return world


def _csv_cells(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


def _assert_safe_csv(path: Path) -> int:
    cells = [cell for row in _csv_cells(path) for cell in row]
    for cell in cells:
        assert not FORMULA.match(cell), f"{path.name}: live formula {cell!r}"
        assert not CONTROL.search(cell), f"{path.name}: control character in {cell!r}"
    return len(cells)


# --- item 3: formula injection and control characters --------------------------------------------


def test_no_csv_cell_can_act_as_a_formula_or_carry_control_characters(tmp_path):
    world = _hostile_world()
    con = memory_warehouse()
    world.build(con)
    _export(con, tmp_path)
    out = tmp_path / MONTH
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    csvs = sorted(out.glob("*.csv"))
    assert {p.name for p in csvs} >= {"东桥镇.csv", "区级汇总.csv", "区级_未匹配与待确认.csv"}
    for path in csvs:
        assert _assert_safe_csv(path)
    township = _csv_cells(out / "东桥镇.csv")
    shown = {cell for row in township[1:] for cell in row}
    assert "'=cmd|'/Ccalc'!A0" in shown and "'-1+1" in shown  # neutralised, not dropped
    assert "张三" in shown  # the escape sequences and BEL are gone, the name stays
    unresolved = _csv_cells(out / "区级_未匹配与待确认.csv")
    flat = {cell for row in unresolved for cell in row}
    assert '\'=HYPERLINK("http://x","点我")' in flat and "'-2+3" in flat
    assert "东桥镇" in flat  # the OSC title sequence is stripped whole


def test_xlsx_cells_are_text_without_control_characters(tmp_path):
    world = _hostile_world()
    con = memory_warehouse()
    world.build(con)
    _export(con, tmp_path)
    out = tmp_path / MONTH
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    books = [out / "东桥镇.xlsx", out / "区级汇总.xlsx", *sorted((out / "部门数据质量").glob("*"))]
    seen = set()
    for book in books:
        with zipfile.ZipFile(book) as archive:
            for name in archive.namelist():
                if name.startswith("xl/worksheets/sheet"):
                    assert b"<f>" not in archive.read(name), f"{book.name}: a formula cell"
        for sheet in openpyxl.load_workbook(book).worksheets:
            for row in sheet.iter_rows(values_only=True):
                for value in row:
                    if isinstance(value, str):
                        assert not CONTROL.search(value), (book.name, value)
                        seen.add(value)
    assert "=cmd|'/Ccalc'!A0" in seen  # shown as the text it is, never evaluated


def test_every_workbook_refuses_to_turn_strings_into_formulas(tmp_path):
    workbook = fixed_workbook(tmp_path / "x.xlsx", None)
    sheet = workbook.add_worksheet("s")
    sheet.write(0, 0, "=1+1")  # even the generic write keeps text as text
    sheet.write(1, 0, "http://example.org")
    workbook.close()
    sheet = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert sheet["A1"].data_type == "s" and sheet["A1"].value == "=1+1"
    assert sheet["A2"].hyperlink is None


@pytest.mark.parametrize(
    ("raw", "csv_shown"),
    [
        ("=1+1", "'=1+1"),
        ("-1+1", "'-1+1"),
        ("+86 138", "'+86 138"),
        ("@x", "'@x"),
        ("\t=1", "' =1"),
        ("\r-1", "' -1"),
        (" =1", "' =1"),
        ("\x1b[31m红\x1b[0m", "红"),
        ("a\x00b\x7fc\x85d\u202ee", "abcde"),
        ("\x9b31m红", "红"),  # the 8-bit CSI takes its parameters and final byte with it
        ("行一\n行二", "行一 行二"),
        ("正常文本", "正常文本"),
        ("2026-10-05", "2026-10-05"),
    ],
)
def test_csv_text_and_frame_agree(raw, csv_shown):
    assert csv_text(raw) == csv_shown
    assert csv_frame(pl.DataFrame({"v": [raw]}))["v"][0] == csv_shown


def test_columns_are_cleaned_and_capped_only_where_a_cell_needs_it_and_always_where_one_does():
    """Columns are passed through the cleaning only where a cell holds a character it acts on
    (township._TOUCHED), and through the cap only where a cell is longer than the limit in
    bytes: every character outside that class is one the cleaning leaves alone, and no cell of
    fewer bytes can have more characters, so skipping a column never keeps a control
    character, an escape, a break or an overlong cell."""
    outside = [chr(c) for c in range(0x3000) if not re.search(township_module._TOUCHED, chr(c))]
    assert {clean_text(c, None) for c in outside} == set(outside)
    frame = pl.DataFrame(
        {
            "plain": ["正常文本", "x" * (TEXT_LIMIT + 5), None],
            "dirty": ["a\x1b[31mb", "行一\u2028行二", "c\u202ed"],
            "empty": [None, None, None],
            # more bytes than the limit, fewer characters: not capped
            "wide": ["中" * (TEXT_LIMIT // 2), "中" * TEXT_LIMIT, "中" * (TEXT_LIMIT + 1)],
        }
    )
    shown = export_frame(frame)
    assert shown["plain"].to_list() == ["正常文本", "x" * (TEXT_LIMIT - 1) + "…", None]
    assert shown["wide"].to_list() == [
        "中" * (TEXT_LIMIT // 2), "中" * TEXT_LIMIT, "中" * (TEXT_LIMIT - 1) + "…"
    ]  # fmt: skip
    assert shown["dirty"].to_list() == ["ab", "行一 行二", "cd"]
    assert shown["empty"].to_list() == [None, None, None]


def test_numbers_starting_with_minus_are_neutralised_too():
    frame = pl.DataFrame({"金额": [-5.5, 3.0], "n": [-2, 1]})
    assert csv_frame(frame).rows() == [("'-5.5", "'-2"), ("3.0", "1")]


# --- item 4: two townships never share a file; rows on disk = rows listed -----------------------


def _two_qingshuihe() -> World:
    world = World()
    for township, count in (("清水河街道/", 3), ("清水河街道", 2)):
        for n in range(count):
            household = world.household(township=township)
            world.record("housing", world.member(household, f"成员{n}"), grade="D")
    return world


def test_townships_whose_names_sanitise_alike_get_their_own_files(tmp_path):
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    listing, files = _export(con, tmp_path)
    csvs = {f.path.name: f for f in files if f.path.suffix == ".csv"}
    assert len(csvs) == 2 and "清水河街道.csv" in csvs
    for name, exported in csvs.items():
        rows = _csv_cells(tmp_path / MONTH / name)[1:]
        assert len(rows) == exported.rows
        assert {r[1] for r in rows} == {exported.township}  # 乡镇 column: one township per file
    assert sum(f.rows for f in csvs.values()) == listing.height == 5
    # a rerun gives the same names and the same bytes
    again = {f.path.name: f.sha256 for f in _export(con, tmp_path)[1]}
    assert again == {f.path.name: f.sha256 for f in files}


def test_stems_are_stable_distinct_and_never_a_district_file():
    names = [
        "清水河街道/",
        "清水河街道",
        None,
        "未知乡镇",
        "区级汇总",
        "CON",
        "ABC镇",
        "abc镇",
        "ＡBC镇",
    ]
    stems = township_stems(names)
    assert stems == township_stems(list(reversed(names)))  # order of appearance does not matter
    folded = {s.casefold() for s in stems.values()}
    assert len(folded) == len(names)
    assert stems["清水河街道"] == "清水河街道"
    assert re.fullmatch(r"清水河街道_[0-9a-f]{8}", stems["清水河街道/"])
    assert not stems["区级汇总"].startswith("区级")
    assert stems["CON"] != "CON"
    assert len(township_stems(["镇" * 300])["镇" * 300]) < 60


def test_a_file_overwritten_by_another_township_fails_the_export(tmp_path, monkeypatch):
    """Today's bug, forced back: both townships get one stem. The read-back catches it."""
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    monkeypatch.setattr(
        township_module, "township_stems", lambda towns: dict.fromkeys(towns, "清水河街道")
    )
    with pytest.raises(ExportCheckError, match="导出核对失败"):
        _export(con, tmp_path)
    assert not list((tmp_path / MONTH).glob("清水河街道*"))  # nothing left to be sent out


def test_a_run_that_fails_while_writing_leaves_the_published_lists_whole(tmp_path, monkeypatch):
    """The township files are written beside exports/<M>/ and take the published ones' places
    only once all are written and read back. A run killed or failing mid-way (here: the disk
    fills while the workbooks are written) leaves the lists published before as they were, byte
    for byte, and no file half written; a folder a killed run left is cleared by the next run.
    An independent probe (indep31) found 0-byte and cut-short township workbooks in
    exports/<M>/ after a kill or a full disk, and a rerun's kill deleting the lists published
    before it."""
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    _, first = _export(con, tmp_path)
    published = {f.path.name: f.path.read_bytes() for f in first}
    month_dir = tmp_path / MONTH
    assert set(published) == {p.name for p in month_dir.iterdir()}

    def disk_full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(township_module, "_write_township_workbooks", disk_full)
    with pytest.raises(OSError, match="No space"):
        _export(con, tmp_path)
    assert {p.name: p.read_bytes() for p in month_dir.iterdir()} == published
    assert [p.name for p in tmp_path.iterdir()] == [MONTH]  # the writing folder went too
    monkeypatch.undo()
    # a folder a killed run left beside the month's: the next run clears it and publishes
    left = tmp_path / f".{MONTH}-正在写入"
    left.mkdir()
    (left / "清水河街道.xlsx").write_bytes(b"PK\x03\x04")
    _, again = _export(con, tmp_path)
    assert {f.path.name: f.sha256 for f in again} == {f.path.name: f.sha256 for f in first}
    assert [p.name for p in tmp_path.iterdir()] == [MONTH]


def _warned_world():
    """The two-township world in a memory warehouse with its month's warnings evaluated."""
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    warnings = evaluate_rules(
        con, district=DISTRICT, month=MONTH, config=_config(), received=set(DEPARTMENT_KEYS)
    ).warnings
    replace_partition(con, "warnings", warnings, district=DISTRICT, month=MONTH)
    return con


def test_lists_go_out_only_once_the_warehouse_and_the_ledger_hold_the_export(tmp_path, monkeypatch):
    """A run whose record of the export fails (a full disk as export_runs is written) leaves
    the lists published before, as its message says, and the ledger as it was: an independent
    fault probe (indep31) found the new lists in exports/<M>/ (and on the ledger) of a run whose
    warehouse writes had been rolled back, saying no new lists were made."""
    from pipelines import publishing
    from pipelines.exports.ledger import ledger_path
    from pipelines.publishing import Signature, publish_township_lists

    con = _warned_world()
    layout = DataDir(tmp_path)

    def publish() -> None:
        publish_township_lists(
            con, layout, district=DISTRICT, month=MONTH, today=date(2026, 11, 3),
            export_config=_config()["export"], signature=Signature(run_id=None, user="test"),
        )  # fmt: skip

    publish()
    month_dir = layout.exports(MONTH)
    published = {p.name: p.read_bytes() for p in month_dir.iterdir()}
    ledger = ledger_path(tmp_path).read_bytes()
    # the next run's listing differs (its files would too): a warning no longer open
    con.execute("DELETE FROM warnings WHERE rowid = (SELECT min(rowid) FROM warnings)")

    def disk_full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publishing, "record_export", disk_full)
    with pytest.raises(OSError, match="No space"):
        publish()
    assert {p.name: p.read_bytes() for p in month_dir.iterdir()} == published
    assert ledger_path(tmp_path).read_bytes() == ledger
    assert sorted(p.name for p in layout.exports(MONTH).parent.iterdir()) == [MONTH]
    monkeypatch.undo()
    publish()  # and the run after it puts the new set out
    assert {p.name: p.read_bytes() for p in month_dir.iterdir()} != published


@pytest.mark.parametrize("files", ["township", "district"])
def test_a_ledger_mirror_that_fails_takes_its_lines_back_and_nothing_goes_out(
    tmp_path, monkeypatch, files
):
    """The disk fills as the export ledger's entries are mirrored into the warehouse: the new
    files do not go out, so the ledger must not list them. An independent fault probe (indep31)
    found the ledger naming files no township received, and the audit calling the published
    ones changed after export. The lines are taken back; the head, the ledger and the published
    files stand as they were, the audit passes, and the next run logs and publishes."""
    from pipelines.exports import ledger as ledger_module
    from pipelines.exports.ledger import audit, head_path, ledger_path
    from pipelines.publishing import Signature, publish_district_files, publish_township_lists

    con = _warned_world()
    layout = DataDir(tmp_path)
    signature = Signature(run_id=None, user="test")

    def publish() -> None:
        publish_township_lists(
            con, layout, district=DISTRICT, month=MONTH, today=date(2026, 11, 3),
            export_config=_config()["export"], signature=signature,
        )  # fmt: skip
        if files == "district":
            publish_district_files(
                con, layout, district=DISTRICT, month=MONTH, today=date(2026, 11, 3),
                signature=signature,
            )  # fmt: skip

    publish()
    month_dir = layout.exports(MONTH)
    published = {p: p.read_bytes() for p in month_dir.rglob("*") if p.is_file()}
    ledger, head = ledger_path(tmp_path).read_bytes(), head_path(tmp_path).read_bytes()
    # the next run's files differ: a warning no longer open
    con.execute("DELETE FROM warnings WHERE rowid = (SELECT min(rowid) FROM warnings)")
    mirror = ledger_module.mirror_to_warehouse
    calls = []

    def disk_full_at_the_mirror(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if files == "township" or len(calls) == 2:  # the district files' own mirror
            raise OSError(28, "No space left on device")
        return mirror(*args, **kwargs)

    monkeypatch.setattr(ledger_module, "mirror_to_warehouse", disk_full_at_the_mirror)
    with pytest.raises(OSError, match="No space"):
        publish()
    monkeypatch.undo()
    now = {p: p.read_bytes() for p in month_dir.rglob("*") if p.is_file()}
    if files == "township":
        assert now == published
        assert ledger_path(tmp_path).read_bytes() == ledger
        assert head_path(tmp_path).read_bytes() == head
    else:  # the township lists went out, and are on the ledger; the district files did not
        township = {p for p in now if p.parent == month_dir and not p.name.startswith("区级")}
        assert {p: b for p, b in now.items() if p not in township} == {
            p: b for p, b in published.items() if p not in township
        }
    result = audit(tmp_path, layout.database)
    assert result.ok, result.text
    publish()
    assert audit(tmp_path, layout.database).ok
    assert {p: p.read_bytes() for p in month_dir.rglob("*") if p.is_file()} != published


def test_a_folder_where_a_list_goes_stops_the_export_before_any_file_goes_out(tmp_path):
    """A folder named 清水河街道.xlsx in exports/<M>/: the export stops naming it, before any of
    the new set takes a published file's place (an independent fault probe, indep31: five of
    the new files out beside the old ones, and the failure told as an internal error)."""
    from datetime import datetime

    from pipelines.notices import FailedRun, StepFailure, notice

    con = memory_warehouse()
    _two_qingshuihe().build(con)
    _, first = _export(con, tmp_path)
    # the last file put in place: every other one would have gone out before it
    last = sorted(f.path for f in first)[-1]
    # each file as published (a file put in place is another file: another inode)
    published = {f.path.name: f.path.stat().st_ino for f in first if f.path != last}
    last.unlink()
    last.mkdir()
    with pytest.raises(IsADirectoryError, match=last.name) as raised:
        _export(con, tmp_path)
    still = {p.name: p.stat().st_ino for p in (tmp_path / MONTH).iterdir() if p.is_file()}
    assert still == published
    failed = StepFailure("township_exports", errors=(("IsADirectoryError", str(raised.value)),))
    item = notice(FailedRun("run-1", "monthly_run", MONTH, "金安区", (failed,), "", datetime.now()))
    assert "程序内部错误" not in item.problem and last.name in item.problem


def test_a_township_without_warnings_any_more_loses_its_file_once_the_new_set_is_out(tmp_path):
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    _, first = _export(con, tmp_path)
    stale = tmp_path / MONTH / "东桥镇.csv"  # a township an earlier run of the month listed
    stale.write_bytes(b"\xef\xbb\xbf")
    (tmp_path / MONTH / "区级汇总.csv").write_bytes(b"x")  # the district's files are not its
    _export(con, tmp_path)
    names = {p.name for p in (tmp_path / MONTH).iterdir()}
    assert names == {f.path.name for f in first} | {"区级汇总.csv"}


def test_read_back_counts_rows_per_file(tmp_path):
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    listing, files = _export(con, tmp_path)
    planned = [(f.township, f.path, f.rows, f.columns) for f in files]
    verify_rows(planned, listed=listing.height)  # as written: fine
    path = next(f.path for f in files if f.path.name == "清水河街道.csv")
    path.write_bytes(path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[0] + b"\n")  # one row lost
    with pytest.raises(ExportCheckError, match="清水河街道.csv 中有 1 行"):
        verify_rows(planned, listed=listing.height)


# --- item 9: no giant cells ------------------------------------------------------------------------


def test_a_huge_evidence_cell_is_capped_in_exports_and_kept_whole_in_the_warehouse(tmp_path):
    con = memory_warehouse()
    _two_qingshuihe().build(con)
    huge = "危房" * 50_000  # 100,000 characters
    listing, files = _export(con, tmp_path, evidence=huge)
    assert set(listing["evidence"].str.len_chars()) == {100_000}
    stored = con.execute("SELECT DISTINCT length(evidence) FROM listings").fetchall()
    assert stored == [(100_000,)]
    rows = _csv_cells(tmp_path / MONTH / "清水河街道.csv")
    evidence = rows[0].index("预警依据")
    for row in rows[1:]:
        assert len(row[evidence]) == TEXT_LIMIT and row[evidence].endswith("…")
    sheet = openpyxl.load_workbook(tmp_path / MONTH / "清水河街道.xlsx").active
    for row in range(2, sheet.max_row + 1):
        assert len(sheet.cell(row, evidence + 1).value) == TEXT_LIMIT
        assert sheet.row_dimensions[row].height <= 409  # Excel's tallest row
    assert clean_text("x" * 10) == "x" * 10


# --- item 8: failed files named where people look -------------------------------------------------

FAILED_FILE = "参保名册_分号分隔.csv"
REASON = "找不到可识别的表头（第 1—20 行均不像表头）"


def _world_with_a_failed_file(con) -> None:
    world = World()
    household = world.household("脱贫户")
    world.record("housing", world.member(household, "王五"), grade="D")
    world.build(con)
    files = pl.DataFrame(
        {
            "source": ["medical_enrollment", "medical_enrollment", "housing"],
            "file": [FAILED_FILE, "正常.xlsx", "housing.csv"],
            "sheet": [None, "Sheet1", None],
            "status": ["failed", "ok", "ok"],
            "message": [REASON, None, None],
            "rows_read": [0, 3, 1],
            "rows_kept": [0, 3, 1],
            "rows_rejected": [0, 0, 0],
            "rows_skipped": [0, 0, 0],
        }
    )
    replace_partition(con, "ingest_files", files, district=DISTRICT, month=MONTH)
    status = pl.DataFrame(
        [
            {"source": s.key, "received": s.key != "water", "snapshot_month": MONTH,
             "files": 1, "records": 3 if s.key != "water" else 0, "rejected": 0}
            for s in DEPARTMENT_SOURCES
        ]
        + [
            {"source": k, "received": True, "snapshot_month": MONTH, "files": 1, "records": 1,
             "rejected": 0}
            for k in ("roster", "grid")
        ]
    )  # fmt: skip
    replace_partition(con, "source_status", status, district=DISTRICT, month=MONTH)


def test_district_files_published_before_stay_whole_when_a_rerun_fails_writing(
    tmp_path, monkeypatch
):
    """The district's files are written beside exports/<M>/ and put in place once all are
    written: a rerun failing (or killed) while it writes the department workbooks leaves the
    summary and 部门数据质量 published before as they were (an independent fault probe, indep31:
    a killed rerun left 部门数据质量 without its workbooks and a 区级汇总.xlsx of 22 bytes)."""
    con = memory_warehouse()
    _world_with_a_failed_file(con)
    out = tmp_path / MONTH

    def write() -> list:
        return write_district_files(
            con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
        )

    files = write()
    assert any(f.path.parent.name == "部门数据质量" for f in files)
    published = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {f.path.relative_to(out) for f in files} <= set(published)

    from pipelines.exports import departments

    opened = departments.fixed_workbook
    calls = []

    def disk_full_at_the_second(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(path)
        if len(calls) == 2:  # the first department's workbook written, the disk full at the next
            raise OSError(28, "No space left on device")
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(departments, "fixed_workbook", disk_full_at_the_second)
    with pytest.raises(OSError, match="No space"):
        write()
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == published
    assert [p.name for p in tmp_path.iterdir()] == [MONTH]
    monkeypatch.undo()
    assert {f.path for f in write()} == {f.path for f in files}


def test_failed_file_is_named_in_the_summary_and_the_department_workbook(tmp_path):
    con = memory_warehouse()
    _world_with_a_failed_file(con)
    out = tmp_path / MONTH
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    summary = openpyxl.load_workbook(out / "区级汇总.xlsx")
    assert summary.sheetnames[:2] == ["未报送与读取失败", "读取失败的文件"]  # seen first
    failed = [r for r in summary["读取失败的文件"].iter_rows(values_only=True)]
    assert any(FAILED_FILE in r and REASON in r for r in failed)
    missing = {r[0]: r for r in summary["未报送与读取失败"].iter_rows(values_only=True)}
    assert "部分文件读取失败" in missing["medical_enrollment"]
    assert any(
        "YB02 未参保" in str(v) and "不产生预警" in str(v) for v in missing["medical_enrollment"]
    )
    assert "未报送" in missing["water"]
    html = (out / "区级汇总.html").read_text(encoding="utf-8")
    assert FAILED_FILE in html and REASON in html
    received = {r[0]: r for r in summary["数据接收"].iter_rows(values_only=True)}
    assert received["feedback"][1:4] == ("乡镇", "乡镇核实结果", "未报送")  # none returned
    # contract §2: per file, rows read, kept and rejected (an independent district's check found
    # them per source only in the run output and the summary)
    per_file = list(summary["文件读取"].iter_rows(values_only=True))
    assert per_file[0][:7] == ("来源", "文件", "工作表", "状态", "读取行数", "保留行数", "退回行数")
    assert ("medical_enrollment", "正常.xlsx", "Sheet1", "已读取", 3, 3, 0) in [
        r[:7] for r in per_file
    ]
    assert ("medical_enrollment", FAILED_FILE, None, "读取失败", 0, 0, 0) in [
        r[:7] for r in per_file
    ]
    book = openpyxl.load_workbook(out / "部门数据质量" / f"{MONTH}_医保局_数据质量反馈.xlsx")
    rows = list(book["读取失败的文件"].iter_rows(values_only=True))
    assert any(FAILED_FILE in r and REASON in r for r in rows)
    overview = list(book["概况"].iter_rows(values_only=True))
    assert "medical_enrollment" in {r[2] for r in overview[1:]}


def test_failed_file_is_named_in_the_run_output(tmp_path):
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    with open_warehouse(layout.database) as con:
        _world_with_a_failed_file(con)
    text = run_summary(layout, DISTRICT, MONTH)
    line = next(line for line in text.splitlines() if FAILED_FILE in line)
    assert REASON in line and "medical_enrollment" in line
    assert any("YB02 未参保" in line and "不产生预警" in line for line in text.splitlines())
    assert any("water" in line and "SL01" in line for line in text.splitlines())


def test_a_terminal_escape_in_a_file_name_does_not_reach_the_terminal(tmp_path):
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    with open_warehouse(layout.database) as con:
        _world_with_a_failed_file(con)
        con.execute("UPDATE ingest_files SET file = '\x1b[2J坏.csv' WHERE status = 'failed'")
    text = run_summary(layout, DISTRICT, MONTH)
    assert "坏.csv" in text and "\x1b" not in text


def test_the_rosters_own_problems_are_counted_in_the_run_output(tmp_path):
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    with open_warehouse(layout.database) as con:
        _world_with_a_failed_file(con)
        findings = pl.DataFrame(
            {
                "kind": ["花名册证件号码被Excel改写"] * 3 + ["农户无网格台账"],
                "household_id": ["H1", "H1", "H2", "H3"],
                "member_key": ["H1|甲", "H1|乙", "H2|丙", "H3|丁"],
                "detail": ["…"] * 4,
            }
        )
        replace_partition(con, "roster_findings", findings, district=DISTRICT, month=MONTH)
    text = run_summary(layout, DISTRICT, MONTH)
    line = next(line for line in text.splitlines() if "花名册问题" in line)
    assert "花名册证件号码被Excel改写 3" in line and "农户无网格台账 1" in line
    assert "甲" not in text  # counts only, never a name


def test_the_district_is_told_where_each_roster_problem_is(tmp_path):
    """The run output counts the roster's problems and points to 区级_花名册问题.csv: one line per
    finding with its 乡镇, 村, 网格, 户编号 and the roster row behind it (file, row; the ID masked),
    so that the district knows which ledger or roster rows to check (an independent probe found
    only counts in the summary, and could not tell which grid had two 网格员)."""
    con = memory_warehouse()
    world = World()
    first = world.household(village="井冲村", grid="二组")
    second = world.household(village="井冲村", grid="二组")
    other = world.household(village="河口村", grid="一组")
    heads = [world.member(household, "王五") for household in (first, second, other)]
    world.build(con)
    con.execute(
        "UPDATE roster_members r SET record_key = v.k FROM (SELECT member_key, "
        "'roster|东桥镇花名册.xlsx|Sheet1|' || (row_number() OVER (ORDER BY member_key) + 3) AS k "
        "FROM roster_members) v WHERE r.member_key = v.member_key"
    )
    findings = pl.DataFrame(
        {
            "kind": ["网格员不唯一", "网格员不唯一", "花名册证件号码被Excel改写"],
            "household_id": [first, second, other],
            "member_key": heads,
            "detail": ["请核对网格台账", "请核对网格台账", "…"],
        }
    )
    replace_partition(con, "roster_findings", findings, district=DISTRICT, month=MONTH)
    assert summary_tables(con, DISTRICT, MONTH)["花名册问题"].select("问题", "数量").rows() == [
        ("网格员不唯一", 2), ("花名册证件号码被Excel改写", 1)
    ]  # fmt: skip
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=tmp_path, export_date=date(2026, 11, 3)
    )
    rows = list(
        csv.DictReader(io.StringIO((tmp_path / "区级_花名册问题.csv").read_text("utf-8-sig")))
    )
    assert [(r["问题"], r["村"], r["网格"], r["户编号"], r["行号"]) for r in rows] == [
        ("网格员不唯一", "井冲村", "二组", first, "4"),
        ("网格员不唯一", "井冲村", "二组", second, "5"),
        ("花名册证件号码被Excel改写", "河口村", "一组", other, "6"),
    ]
    assert {r["文件"] for r in rows} == {"东桥镇花名册.xlsx"} and rows[0]["姓名"] == "王五"
    assert "*" in rows[0]["证件号码"]


def test_a_file_of_another_months_events_is_named_in_the_run_output(tmp_path):
    """Last month's 户籍变动 sent again (or a cumulative one): its dates are not M's. The
    district is told which file, how many rows and which dates; a file of M's events is not
    named, nor a list of standing status (在保 低保 with old 变动日期)."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    world = World()
    household = world.household("一般农户")
    member = world.member(household, "王五")
    for day in range(1, 7):
        world.record("public_security", member, file="9月户籍变动.csv", change_type="迁入",
                      change_date=date(2026, 9, day))  # fmt: skip
        world.record("public_security", member, file="10月户籍变动.csv", change_type="迁入",
                      change_date=date(2026, 10, day))  # fmt: skip
        world.record("civil_affairs", member, file="在保名册.csv", assistance_type="低保",
                      change_type="在保", change_date=date(2020, 1, day))  # fmt: skip
    with open_warehouse(layout.database) as con:
        world.build(con)
    text = run_summary(layout, DISTRICT, MONTH)
    lines = text.splitlines()
    heading = next(i for i, line in enumerate(lines) if "日期多不在本月的文件" in line)
    assert (
        "9月户籍变动.csv" in lines[heading + 1] and "6 行中 6 行不在 2026-10" in lines[heading + 1]
    )
    assert "2026-09-01 至 2026-09-06" in lines[heading + 1]
    assert "10月户籍变动.csv" not in text and "在保名册.csv" not in text


def test_members_an_absence_rule_could_not_decide_are_counted_in_the_run_output(tmp_path):
    """无法判断 members are not sent to a township: the run says how many per rule, and names
    what blocks them as a whole list (a 乡镇 the enrollment list says nothing of) first."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    undecided = pl.DataFrame(
        {
            "rule": ["YB02"] * 3,
            "kind": ["无法判断"] * 3,
            "member_key": ["H1|甲", "H2|乙", "H2|乙"],
            "household_id": ["H1", "H2", "H2"],
            "source": ["medical_enrollment"] * 3,
            "record_key": [None, "medical_enrollment|a.csv||3", "medical_enrollment|a.csv||4"],
            "file": [None, "a.csv", "a.csv"],
            "sheet": [None, None, None],
            "row_number": [None, 3, 4],
            "reason": ["本月名单中没有三十铺镇的任何记录（该乡镇的名单可能未报送）", "…", "…"],
        }
    )
    with open_warehouse(layout.database) as con:
        World().build(con)
        replace_partition(con, "rule_undecided", undecided, district=DISTRICT, month=MONTH)
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("⚠ 无法判断"))
    assert lines[heading].endswith("YB02 2 人")
    assert lines[heading + 1] == (
        "  YB02 医保局：本月名单中没有三十铺镇的任何记录（该乡镇的名单可能未报送），1 人无法判断"
    )
    assert "甲" not in "\n".join(lines)  # counts only, never a name


def test_an_absence_rule_not_evaluated_on_a_list_that_came_is_said_in_the_run_output(tmp_path):
    """YB02 on last year's enrollment list (or one read in part): the run says the rule was not
    evaluated and why; a rule whose source did not come is said in the table already."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    with open_warehouse(layout.database) as con:
        World().build(con)
        replace_partition(
            con, "source_status",
            pl.DataFrame({"source": ["medical_enrollment", "vehicles"], "received": [True, False]}),
            district=DISTRICT, month=MONTH,
        )  # fmt: skip
        replace_partition(
            con, "rules_not_evaluated",
            pl.DataFrame({"rule": ["YB02", "GA02"],
                          "reason": ["医保局医保参保名册本月「参保年度」多不是本年度（…）", "未报送"]}),
            district=DISTRICT, month=MONTH,
        )  # fmt: skip
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    assert "⚠ YB02 本月未评估：医保局医保参保名册本月「参保年度」多不是本年度（…）" in lines
    assert not any(line.startswith("⚠ GA02") for line in lines)


def test_a_township_missing_from_the_roster_is_named_in_the_run_output(tmp_path):
    """三十铺镇's roster file not delivered: the roster has no household there though the grid
    ledger has grids there (or last month's roster had households there). On the 5,000-member
    district (seed 7) so sent, 296 members were simply gone: their department records unmatched,
    7 warnings missing, and the run said nothing but a smaller row count."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    world = World()
    world.member(world.household("一般农户", township="东桥镇"), "王五")
    grid = pl.DataFrame(
        {"township": ["东桥镇", "三十铺", "城北镇"], "village": ["王岗村", "北山村", "高庄村"],
         "grid": ["一组", "二组", "三组"]}
    )  # fmt: skip
    before = pl.DataFrame({"member_key": ["H9|x"], "household_id": ["H9"], "township": ["城北镇"]})
    # 城北镇's file came, but every row of it was rejected: that is not "not delivered"
    refused = pl.DataFrame(
        {"source": ["roster"], "file": ["城北镇农户花名册.xlsx"], "status": ["ok"],
         "rows_read": [214], "rows_kept": [0], "rows_rejected": [214]}
    )  # fmt: skip
    with open_warehouse(layout.database) as con:
        world.build(con)
        replace_partition(con, "stg_grid", grid, district=DISTRICT, month=MONTH)
        replace_partition(con, "roster_members", before, district=DISTRICT, month="2026-09")
        replace_partition(con, "ingest_files", refused, district=DISTRICT, month=MONTH,
                          extra_where=("source = ?", ["roster"]))  # fmt: skip
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    line = next(line for line in lines if "本月花名册中没有这些乡镇的农户" in line)
    assert "三十铺（网格台账中有；可能漏报了该乡镇的花名册）" in line
    assert (
        "城北镇（上月花名册、网格台账中有；花名册文件 城北镇农户花名册.xlsx 的 214 行全部被退回）"
        in line
    )
    assert "东桥镇" not in line


def test_a_file_whose_id_column_excel_rewrote_is_named_per_source_in_the_run_output(tmp_path):
    """An enrollment file opened in Excel and saved again (IDs turned into numbers, digits
    lost): nothing tells the district but the rows' own reasons, though the file's people are
    tied by name at best and YB02 may not decide them. The run names the source, its files and
    rows; a file with a destroyed ID here and there (a typing slip, in the quality workbook) is
    not counted, nor one with fewer than EXCEL_IDS_MIN_ROWS."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    world = World()
    member = world.member(world.household("脱贫户"), "王五")
    for n in range(8):  # 三十铺镇.csv: 6 of 8 IDs destroyed
        world.record("medical_enrollment", member, file="三十铺镇.csv",
                     id_status="destroyed" if n < 6 else "valid")  # fmt: skip
    for n in range(40):  # 东桥镇.csv: 5 of 40 destroyed (12.5 %): scattered
        world.record("medical_enrollment", member, file="东桥镇.csv",
                     id_status="destroyed" if n < 5 else "valid")  # fmt: skip
    for _ in range(4):  # 4 of 4, but only 4 rows
        world.record("education", member, file="学生.csv", id_status="destroyed")
    with open_warehouse(layout.database) as con:
        world.build(con)
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    heading = next(i for i, line in enumerate(lines) if "证件号码列被 Excel 改写为数字" in line)
    assert lines[heading + 1] == "  medical_enrollment 医保局：1 个文件，6 行"
    assert lines[heading + 2] == ""  # education's 4 rows are not named
    assert "三十铺镇.csv" not in "\n".join(lines)  # counted per source; files in the workbook


def _returned(con, files: dict[str, int], answers: list[tuple] = ()) -> None:
    """The month's returned verification files (file -> rows read) and the answers taken from
    them (warning_id, verdict, 核实日期, file, row), as the ingest leaves them."""
    replace_partition(
        con, "ingest_files",
        pl.DataFrame(
            {"source": ["feedback"] * len(files), "file": list(files),
             "status": ["ok"] * len(files), "rows_read": list(files.values())},
            schema_overrides={"rows_read": pl.Int64},
        ),
        district=DISTRICT, month=MONTH, extra_where=("source = ?", ["feedback"]),
    )  # fmt: skip
    if answers:
        replace_partition(
            con, "feedback_answers",
            pl.DataFrame(
                answers, orient="row",
                schema=["warning_id", "verdict", "verified_date", "file", "row_number"],
            ),
            district=DISTRICT, month=MONTH,
        )  # fmt: skip


def test_answers_not_taken_from_a_returned_list_are_named_per_file_in_the_run_output(tmp_path):
    """A township's returned list with 核实结果 written 属实 (none of the five) and an unknown
    预警编号: the answers are refused (the warnings come back 待核实), and until now only the
    warehouse's rejects said so. The run names each file with its counts per reason."""
    from pipelines.feedback import REJECT_UNKNOWN_ID, REJECT_UNKNOWN_VERDICT

    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    refused = pl.DataFrame(
        {
            "source": ["feedback"] * 3,
            "file": ["三十铺镇.xlsx", "三十铺镇.xlsx", "东桥镇.csv"],
            "row_number": [2, 3, 5],
            "field": ["verdict", "verdict", "warning_id"],
            "reason": [REJECT_UNKNOWN_VERDICT, REJECT_UNKNOWN_VERDICT, REJECT_UNKNOWN_ID],
            "raw_values": ['{"核实结果":"属实"}'] * 3,
        }
    )
    with open_warehouse(layout.database) as con:
        World().build(con)
        replace_partition(con, "rejects", refused, district=DISTRICT, month=MONTH,
                          extra_where=("source = ?", ["feedback"]))  # fmt: skip
        _returned(con, {"三十铺镇.xlsx": 12, "东桥镇.csv": 8})
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    # the month's returns counted even where every answer was taken (none here: no answers table)
    assert "乡镇反馈：2 个文件，20 行，采用核实结果 0 条，未采用 3 条" in lines
    heading = next(i for i, line in enumerate(lines) if "未采用的核实结果 3 条" in line)
    assert lines[heading + 1] == f"  三十铺镇.xlsx：2 条{REJECT_UNKNOWN_VERDICT}"
    assert lines[heading + 2] == f"  东桥镇.csv：1 条{REJECT_UNKNOWN_ID}"
    assert '核实结果":' not in "\n".join(lines)  # reasons, never the cells


def test_answers_not_taken_are_listed_row_by_row_for_the_district(tmp_path):
    """The run output counts refused answers per file; the district, telling each township what
    to answer again, needs the rows (an independent probe, indep32, found them only in the
    warehouse): 区级_未采用核实结果.csv names file, sheet, row, 预警编号, 乡镇, the 核实结果 as
    written and why; nothing of a person; gone again once a month has none."""
    from pipelines.exports.summary import FEEDBACK_CSV
    from pipelines.feedback import REJECT_OTHER_TOWNSHIP, REJECT_UNKNOWN_VERDICT

    con = memory_warehouse()
    World().build(con)
    refused = pl.DataFrame(
        {
            "source": ["feedback"] * 2,
            "file": ["东桥镇_9月核实结果.xlsx", "东桥镇_9月核实结果.xlsx"],
            "sheet": ["Sheet1", "Sheet1"],
            "row_number": [10, 4],
            "field": ["warning_id"] * 2,
            "reason": [REJECT_UNKNOWN_VERDICT, REJECT_OTHER_TOWNSHIP],
            "raw_values": [
                '{"预警编号":"GA01-784625CA4895","乡镇":"东桥镇","核实结果":"已核实"}',
                '{"预警编号":"SL01-1A","乡镇":"木厂镇","核实结果":"不属实"}',
            ],
        }
    )
    replace_partition(con, "rejects", refused, district=DISTRICT, month=MONTH,
                      extra_where=("source = ?", ["feedback"]))  # fmt: skip
    out = tmp_path / MONTH
    files = write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    (listed,) = [f for f in files if f.path.name == FEEDBACK_CSV]
    assert listed.rows == 2 and listed.ids_masked is None
    rows = list(csv.DictReader(io.StringIO((out / FEEDBACK_CSV).read_text("utf-8-sig"))))
    assert [
        (r["行号"], r["预警编号"], r["乡镇"], r["核实结果"], r["未采用原因"]) for r in rows
    ] == [
        ("4", "SL01-1A", "木厂镇", "不属实", REJECT_OTHER_TOWNSHIP),
        ("10", "GA01-784625CA4895", "东桥镇", "已核实", REJECT_UNKNOWN_VERDICT),
    ]
    assert all(r["文件"] == "东桥镇_9月核实结果.xlsx" and r["工作表"] == "Sheet1" for r in rows)
    con.execute("DELETE FROM rejects WHERE source = 'feedback'")
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    assert not (out / FEEDBACK_CSV).exists()


def test_answers_verified_after_their_deadline_are_counted_in_the_run_output(tmp_path):
    """An independent district's loop: a township's results dated after the 核实截止日期 were
    taken, and nothing said they came late. They are still taken (the answer stands), and the
    run counts them for the district to follow up."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    listed = pl.DataFrame(
        {"warning_id": ["ZJ01-a", "ZJ01-b"], "township": ["东桥镇"] * 2,
         "first_month": ["2026-09"] * 2, "deadline": [date(2026, 10, 20)] * 2,
         "status": ["新增"] * 2},
    )  # fmt: skip
    with open_warehouse(layout.database) as con:
        World().build(con)
        replace_partition(con, "listings", listed, district=DISTRICT, month="2026-09")
        _returned(
            con,
            {"东桥镇.xlsx": 2},
            [("ZJ01-a", "不属实", date(2026, 10, 18), "东桥镇.xlsx", 2),
             ("ZJ01-b", "不属实", date(2026, 10, 27), "东桥镇.xlsx", 3)],
        )  # fmt: skip
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    assert (
        "乡镇反馈：1 个文件，2 行，采用核实结果 2 条（其中 1 条核实日期晚于核实截止日期）" in lines
    )


def test_townships_that_returned_nothing_are_named_in_the_run_output(tmp_path):
    """An independent loop: one township of four returned nothing, and the run output counted
    only what came back. The district chases the silent ones, so they are named, with how many
    warnings their last list held."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    listed = pl.DataFrame(
        {"warning_id": ["ZJ01-a", "ZJ01-b", "ZJ01-c", "ZJ01-d"],
         "township": ["东桥镇", "木厂镇", "木厂镇", "施桥镇"], "first_month": ["2026-09"] * 4,
         "deadline": [date(2026, 10, 20)] * 4, "status": ["新增"] * 4},
    )  # fmt: skip
    with open_warehouse(layout.database) as con:
        World().build(con)
        replace_partition(con, "listings", listed, district=DISTRICT, month="2026-09")
    nothing = run_summary(layout, DISTRICT, MONTH).splitlines()
    assert (
        "⚠ 未返回核实结果的乡镇：东桥镇（上次清单 1 条），施桥镇（上次清单 1 条），木厂镇（上次清单 2 条）"
        in nothing
    )

    with open_warehouse(layout.database) as con:
        _returned(
            con,
            {"反馈1.xlsx": 1, "施桥镇.xlsx": 0},
            [("ZJ01-a", "不属实", date(2026, 10, 18), "反馈1.xlsx", 2)],
        )
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    # 东桥镇 answered (in a file not named after it); 施桥镇 sent a file, empty or refused
    assert "⚠ 未返回核实结果的乡镇：木厂镇（上次清单 2 条）" in lines


def test_rows_whose_id_is_not_usable_are_named_in_the_department_workbook(tmp_path):
    """Contract §2: a row carrying a destroyed ID is reported as such. The workbook had counted
    them (其中Excel损坏) without naming a row, though an independent probe's two such rows were
    tied by name and warned. Each is named with what is wrong and the ID as written, masked."""
    con = memory_warehouse()
    world = World()
    member = world.member(world.household("脱贫户"), "王五")
    world.record("education", member, file="初中.xlsx", id_status="destroyed", id_raw="3.41502E+17")
    world.record(
        "education", member, file="初中.xlsx", id_status="bad_checksum",
        id_raw="341502200101011235",
    )  # fmt: skip
    world.record("education", member, file="初中.xlsx")  # a valid one: not listed
    world.build(con)
    out = tmp_path / MONTH
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    book = openpyxl.load_workbook(out / "部门数据质量" / f"{MONTH}_教育局_数据质量反馈.xlsx")
    rows = list(book["学生名册_证件号码错误"].iter_rows(values_only=True))
    assert rows[0] == ("文件", "工作表", "行号", "问题", "证件号码（脱敏）")
    problems = {r[3].split("：")[0]: r[4] for r in rows[1:]}
    # named as the overview counts them (证件号码错误, 其中Excel损坏)
    assert problems == {"Excel损坏": "3.*******17", "证件号码错误": "341502********1235"}
    assert "341502200101011235" not in str(rows)


def test_each_department_workbook_names_its_own_sources_rows_only(tmp_path):
    """The rows to name (rejected, unreadable fields, unusable IDs) are read for every source at
    once and handed to each department by source: no row of another source's list, and each of
    a department's lists on its own sheet."""
    con = memory_warehouse()
    world = World()
    member = world.member(world.household("脱贫户"), "王五")
    world.record("education", member, file="初中.xlsx", id_status="destroyed", id_raw="3.41502E+17")
    world.record("disability", member, file="残疾人.xlsx", id_status="bad_date",
                 id_raw="341502200113321234")  # fmt: skip
    world.record("education", member, file="初中.xlsx")
    world.record("disability", member, file="残疾人.xlsx")
    world.build(con)
    rejects = pl.DataFrame(
        {"source": ["education", "disability"], "file": ["初中.xlsx", "残疾人.xlsx"],
         "sheet": [None, None], "row_number": [7, 9], "reason": ["姓名和证件号码都没有可用的值"] * 2},
        schema_overrides={"row_number": pl.Int64, "sheet": pl.String},
    )  # fmt: skip
    replace_partition(con, "rejects", rejects, district=DISTRICT, month=MONTH)
    out = tmp_path / MONTH
    write_district_files(
        con, district=DISTRICT, month=MONTH, out_dir=out, export_date=date(2026, 11, 3)
    )
    folder = out / "部门数据质量"

    def sheets(department: str) -> dict[str, list[tuple]]:
        book = openpyxl.load_workbook(folder / f"{MONTH}_{department}_数据质量反馈.xlsx")
        return {ws.title: list(ws.iter_rows(values_only=True))[1:] for ws in book.worksheets}

    education, disability = sheets("教育局"), sheets("残联")
    assert [r[:3] for r in education["学生名册_退回行"]] == [("初中.xlsx", None, 7)]
    assert [r[0] for r in education["学生名册_证件号码错误"]] == ["初中.xlsx"]
    disability_lists = [name for name in disability if name != "概况"]
    assert {name.split("_")[1] for name in disability_lists} == {"退回行", "证件号码错误"}
    rows = [r for name in disability_lists for r in disability[name]]
    assert {r[0] for r in rows} == {"残疾人.xlsx"}
    assert not any(r[0] == "残疾人.xlsx" for name, v in education.items() for r in v if r)


def test_a_township_is_undelivered_when_ledger_and_last_roster_name_it_however_spelled():
    """The month stops on a roster without a township that last month's roster had and the
    grid ledger still has, its name written with or without 镇 in either; a township only one of
    them names (the district's first month, or one merged away from the ledger) does not stop it."""
    from pipelines.roster import undelivered_townships

    con = memory_warehouse()
    roster = pl.DataFrame({"record_key": ["r1"], "township": ["东桥镇"]})
    replace_partition(con, "stg_roster", roster, district=DISTRICT, month=MONTH)
    grid = pl.DataFrame({"township": ["东桥镇", "三十铺镇", "木厂镇"]})
    replace_partition(con, "stg_grid", grid, district=DISTRICT, month=MONTH)
    before = pl.DataFrame(
        {"member_key": ["a", "b", "c"], "township": ["东桥镇", "三十铺", "城北镇"]}
    )
    replace_partition(con, "roster_members", before, district=DISTRICT, month="2026-09")
    assert undelivered_townships(con, DISTRICT, MONTH) == ["三十铺镇"]


def test_a_rule_not_evaluated_reads_so_in_the_run_output_not_as_zero(tmp_path):
    """水利 sent nothing: SL01 was not evaluated. The run output's count by rule said 0 for it, as
    if it had found nothing (an independent audit); it says 未评估."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    with open_warehouse(layout.database) as con:
        _world_with_a_failed_file(con)
        replace_partition(
            con,
            "rules_not_evaluated",
            pl.DataFrame({"rule": ["SL01"], "reason": ["水利局本月未报送water数据"]}),
            district=DISTRICT,
            month=MONTH,
        )
    text = run_summary(layout, DISTRICT, MONTH)
    assert re.search(r"SL01 \S+ 未评估", text) and not re.search(r"SL01 \S+ 0", text)
    assert re.search(r"ZJ01 \S+ 0", text)  # evaluated, found nothing: 0


def test_a_warning_answered_in_two_files_is_counted_once_in_the_run_output(tmp_path):
    """A township returned its list as CSV and as XLSX: 48 answers taken for 36 warnings read as
    48 warnings answered (an independent probe). The run output says how many warnings."""
    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    answered = date(2026, 10, 18)
    with open_warehouse(layout.database) as con:
        World().build(con)
        _returned(
            con,
            {"东桥镇.csv": 1, "东桥镇.xlsx": 2},
            [("ZJ01-a", "不属实", answered, "东桥镇.csv", 2),
             ("ZJ01-a", "不属实", answered, "东桥镇.xlsx", 2),
             ("ZJ01-b", "不属实", answered, "东桥镇.xlsx", 3)],
        )  # fmt: skip
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    assert any(
        line.startswith("乡镇反馈：2 个文件，3 行，采用核实结果 3 条（2 条预警") for line in lines
    )


def test_files_with_formulas_that_could_not_be_read_are_named_in_the_run_output(tmp_path):
    """A formula saved without its result that fangfan cannot compute (VLOOKUP to another
    sheet) is read as nothing and reported as a field problem: the run says which source's
    files hold such cells, so that the department resaves them (an independent probe found
    only the summary's 文件读取 sheet saying so)."""
    from pipelines.ingest.table import UNREAD_FORMULA

    layout = DataDir(tmp_path)
    layout.warehouse.mkdir(parents=True)
    world = World()
    world.member(world.household("脱贫户"), "王五")
    with open_warehouse(layout.database) as con:
        world.build(con)
    assert "含无法读取的公式" not in run_summary(layout, DISTRICT, MONTH)
    with open_warehouse(layout.database) as con:
        for row in (2, 3):
            con.execute(
                "INSERT INTO field_problems BY NAME SELECT ? AS district, ? AS month,"
                " 'medical_enrollment' AS source, '参保名册.xlsx' AS file, NULL AS sheet,"
                " ? AS row_number, 'k' AS record_key, 'village' AS field, ? AS reason,"
                " '=VLOOKUP(A2,Sheet2!A:B,2,0)' AS raw_value",
                [DISTRICT, MONTH, row, f"「村」{UNREAD_FORMULA}"],
            )
    lines = run_summary(layout, DISTRICT, MONTH).splitlines()
    heading = next(i for i, line in enumerate(lines) if "含无法读取的公式的文件" in line)
    assert "medical_enrollment 医保局：1 个文件，2 个单元格" in lines[heading + 1]
