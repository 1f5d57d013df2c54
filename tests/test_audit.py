"""The export ledger (issue 8, item 10): every file that left is on record, chained, and
`fangfan audit` catches an edited export, a deleted or an edited ledger line."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main
from pipelines.config import DataDir
from pipelines.definitions import district_partition, district_summary, township_exports
from pipelines.exports.ledger import GENESIS, audit, head_path, ledger_path, verify_ledger
from pipelines.resources import FangfanResource
from pipelines.rules.evaluate import evaluate_rules
from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import open_warehouse, replace_partition
from tests.conftest import DISTRICT, MONTH
from tests.test_exports import _config, _world


def _materialize(root: Path, instance, user: str = "王科员") -> dg.ExecuteInProcessResult:
    fangfan = FangfanResource(data_dir=str(root), district=DISTRICT, export_date="2026-11-03")
    result = dg.materialize(
        [township_exports, district_summary],
        partition_key=district_partition(MONTH, fangfan, instance),
        instance=instance,
        resources={"fangfan": fangfan},
        tags={"dagster/user": user},
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A small district exported once through the two export assets; each test gets a copy."""
    root = tmp_path_factory.mktemp("audit") / "district"
    layout = DataDir(root)
    layout.warehouse.mkdir(parents=True)
    with open_warehouse(layout.database) as con:
        _world().build(con)
        warnings = evaluate_rules(
            con, district=DISTRICT, month=MONTH, config=_config(), received=set(DEPARTMENT_KEYS)
        ).warnings
        replace_partition(con, "warnings", warnings, district=DISTRICT, month=MONTH)
    with dg.instance_for_test() as instance:
        result = _materialize(root, instance)
    return root, result.run_id


@pytest.fixture
def district(exported, tmp_path) -> Path:
    copy = tmp_path / "district"
    shutil.copytree(exported[0], copy)
    return copy


def _lines(root: Path) -> list[bytes]:
    return ledger_path(root).read_bytes().splitlines()


def _audit(root: Path, capsys) -> tuple[int, str]:
    code = main(["audit", "--data-dir", str(root)])
    return code, capsys.readouterr().out


def test_every_written_file_is_on_the_ledger_with_who_when_what(exported, capsys):
    root, run_id = exported
    entries = [json.loads(line) for line in _lines(root)]
    on_disk = sorted(
        p.relative_to(root).as_posix() for p in (root / "exports").rglob("*") if p.is_file()
    )
    assert sorted(e["file"] for e in entries) == on_disk
    assert len(on_disk) >= 8  # 2 townships × CSV/XLSX, summary ×3, department workbook, …
    for entry in entries:
        path = root / entry["file"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["run_id"] == run_id and entry["user"] == "王科员" and entry["os_user"]
        assert entry["month"] == MONTH and entry["district"] == DISTRICT
        assert entry["time"] and entry["columns"] and entry["bytes"] == path.stat().st_size
    towns = {e["file"]: e for e in entries if e["township"]}
    assert towns["exports/2026-10/东桥镇.csv"]["rows"] == 4
    assert towns["exports/2026-10/东桥镇.csv"]["ids_masked"] is True
    assert towns["exports/2026-10/东桥镇.csv"]["columns"][0] == "预警编号"
    summary = next(e for e in entries if e["file"].endswith("区级汇总.xlsx"))
    assert summary["township"] is None and summary["ids_masked"] is None
    # a chain: numbered from 0, each line carrying the hash of the one before
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    assert entries[0]["prev"] == GENESIS
    for line, entry in zip(_lines(root), entries[1:], strict=False):
        assert entry["prev"] == hashlib.sha256(line).hexdigest()
    # mirrored in the warehouse, which a rebuild may lose; the ledger is outside it
    with duckdb.connect(str(DataDir(root).database), read_only=True) as con:
        mirrored = con.execute(
            "SELECT ledger_seq, entry_sha256 FROM export_log ORDER BY ledger_seq"
        ).fetchall()
    assert mirrored == [
        (i, hashlib.sha256(line).hexdigest()) for i, line in enumerate(_lines(root))
    ]
    assert not ledger_path(root).is_relative_to(DataDir(root).warehouse)
    code, out = _audit(root, capsys)
    assert code == 0, out
    assert "✓" in out and "东桥镇" in out and "木厂镇" in out and "2026-10" in out


def test_a_rerun_appends_and_rewrites_the_same_bytes(district, capsys):
    before = {p: p.read_bytes() for p in (district / "exports").rglob("*") if p.is_file()}
    count = len(_lines(district))
    with dg.instance_for_test() as instance:
        _materialize(district, instance, user="李科长")
    assert {p: p.read_bytes() for p in (district / "exports").rglob("*") if p.is_file()} == before
    entries = [json.loads(line) for line in _lines(district)]
    assert len(entries) == 2 * count  # every write is a leaving of the building
    assert {e["user"] for e in entries[count:]} == {"李科长"}
    assert _audit(district, capsys)[0] == 0


def test_a_one_byte_edit_to_an_exported_file_is_detected(district, capsys):
    path = district / "exports" / MONTH / "东桥镇.csv"
    data = bytearray(path.read_bytes())
    data[-5] = data[-5] ^ 1
    path.write_bytes(bytes(data))
    code, out = _audit(district, capsys)
    assert code == 1
    assert "东桥镇.csv" in out and "导出后被改动" in out


@pytest.mark.parametrize("which", [0, 3, -1])
def test_a_deleted_ledger_line_is_detected(district, capsys, which):
    lines = _lines(district)
    del lines[which]
    ledger_path(district).write_bytes(b"".join(line + b"\n" for line in lines))
    code, out = _audit(district, capsys)
    assert code == 1, out
    assert "删除" in out


def test_a_deleted_tail_with_a_forged_head_is_caught_by_the_warehouse_copy(district, capsys):
    lines = _lines(district)[:-2]
    ledger_path(district).write_bytes(b"".join(line + b"\n" for line in lines))
    head_path(district).write_text(
        json.dumps({"entries": len(lines), "last": hashlib.sha256(lines[-1]).hexdigest()})
    )
    assert verify_ledger(district).problems == []  # the file alone looks whole…
    code, out = _audit(district, capsys)
    assert code == 1 and "export_log" in out  # …the warehouse remembers two more


def test_an_edited_ledger_line_is_detected(district, capsys):
    lines = _lines(district)
    entry = json.loads(lines[2])
    entry["rows"] += 1  # someone "corrects" what left the building
    lines[2] = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
    ledger_path(district).write_bytes(b"".join(line + b"\n" for line in lines))
    code, out = _audit(district, capsys)
    assert code == 1
    assert "第 4 行" in out  # the next line no longer chains to it


def test_an_edited_line_with_its_hash_recomputed_downstream_is_still_caught(district):
    """Rewriting the whole chain after an edit needs the head and the warehouse forged too."""
    lines = _lines(district)
    entries = [json.loads(line) for line in lines]
    entries[1]["user"] = "别人"
    prev, rebuilt = GENESIS, []
    for entry in entries:
        entry["prev"] = prev
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
        prev = hashlib.sha256(line).hexdigest()
        rebuilt.append(line)
    ledger_path(district).write_bytes(b"".join(line + b"\n" for line in rebuilt))
    result = audit(district, DataDir(district).database)
    assert not result.ok
    assert "哈希不符" in result.text


def test_no_ledger_is_no_error_when_nothing_was_exported(tmp_path, capsys):
    code, out = _audit(tmp_path, capsys)
    assert code == 0 and "没有任何导出登记" in out


def test_the_export_date_is_not_the_ledger_time(exported):
    """The ledger keeps the wall-clock time of each write; the files keep their fixed export date
    (reruns stay byte-identical)."""
    entry = json.loads(_lines(exported[0])[0])
    assert entry["time"][:10] != "2026-11-03" or date.today() == date(2026, 11, 3)


def test_a_current_list_deleted_by_hand_is_named_not_taken_for_a_rerun_clearing_it(
    district, capsys
):
    """An independent probe deleted the township list in force by hand: the audit said nothing
    but a count, with the lists reruns cleared. A list the month's latest export did not write
    (a township left with nothing) is cleared, not a problem; one it did write and that is gone
    was deleted, and is named."""
    from pipelines.exports.ledger import entries_appended
    from pipelines.exports.township import ExportedFile

    month_dir = district / "exports" / MONTH
    old = month_dir / "旧镇.csv"
    shutil.copyfile(month_dir / "东桥镇.csv", old)
    with entries_appended(
        district, [ExportedFile("旧镇", old, 1, "", ("预警编号",))],
        district=DISTRICT, month=MONTH, run_id="an-earlier-run",
    ):  # fmt: skip
        pass
    with dg.instance_for_test() as instance:
        _materialize(district, instance)  # the rerun lists no one in 旧镇: its file is cleared
    assert not old.exists()
    code, out = _audit(district, capsys)
    assert code == 0 and "已清除）：1 个" in out
    (month_dir / "东桥镇.xlsx").unlink()
    code, out = _audit(district, capsys)
    assert code == 1 and "东桥镇.xlsx：导出后被删除" in out


def test_a_killed_exports_writing_folder_is_told_as_such_not_as_unregistered_files(
    district, capsys
):
    """An independent fault probe (indep31) killed a run while it wrote its files beside
    exports/<M>/: the audit listed them as files exported before the ledger or put there by hand.
    They never went out; the audit says what the folder is, and nothing published is wrong."""
    month_dir = district / "exports" / MONTH
    township = district / "exports" / f".{MONTH}-正在写入"
    own = district / "exports" / f".{MONTH}-区级正在写入" / "部门数据质量"
    for folder in (township, own):
        folder.mkdir(parents=True)
    shutil.copyfile(month_dir / "东桥镇.csv", township / "东桥镇.csv")
    shutil.copyfile(month_dir / "东桥镇.xlsx", own / "医保.xlsx")
    (month_dir / "手工放入.csv").write_text("x\n", encoding="utf-8")
    code, out = _audit(district, capsys)
    assert code == 0, out
    assert "没有登记的文件 1 个" in out and "手工放入.csv" in out
    assert out.count("中断的导出") == 2
    assert f"exports/.{MONTH}-正在写入 是" in out and f"exports/.{MONTH}-区级正在写入 是" in out
