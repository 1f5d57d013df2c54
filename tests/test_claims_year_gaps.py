"""YB01 sums the household's self-paid costs over the calendar year (contract §4), from the claims
of each earlier month's folder. A district that starts mid-year, or a month whose claims never
came, sums fewer months: the warning's evidence says which months it did not sum, and the district
is told in the run output and the summary, never a total "1—10月" that was not read (an
independent probe of the year's turn found a November warning claiming January–November, with no
claims before November, and nothing telling the district)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.cli import main
from pipelines.exports.summary import source_problems
from pipelines.generate import generate
from pipelines.ingest.history import CLAIMS, missing_claims_months, month_folders, month_span
from pipelines.warehouse import memory_warehouse, replace_partition
from tests.conftest import World

MONTH = "2026-05"


def _yb01(warnings: pl.DataFrame) -> list[str]:
    return warnings.filter(pl.col("rule") == "YB01")["evidence"].to_list()


def test_month_span_writes_months_as_a_reader_does():
    assert month_span([1]) == "1月"
    assert month_span([1, 2, 3, 4]) == "1—4月"
    assert month_span([4, 1, 2, 7, 9, 10]) == "1—2、4、7、9—10月"
    assert month_folders("2026", [1, 2, 3, 7]) == "2026-01 至 2026-03、2026-07"


def test_yb01_evidence_names_the_months_it_could_not_sum(rule_config):
    world = World(month="2026-10", claims_not_received={"2026-01", "2026-02", "2026-03", "2026-07"})
    member = world.member(world.household("脱贫户"))
    world.record("medical_claims", member, month="2026-05", self_paid=2_000.0)
    world.record("medical_claims", member, self_paid=3_000.0)

    assert _yb01(world.evaluate(rule_config)) == [
        "2026年1—10月家庭个人自付医疗费用合计 5,000.00 元"
        "（其中1—3、7月的医保结算明细未收到，未计入），达到脱贫户阈值 5,000 元"
    ]


def test_yb01_evidence_in_january_is_of_january_alone(rule_config):
    world = World(month="2026-01")
    world.record("medical_claims", world.member(world.household("脱贫户")), self_paid=5_000.0)

    assert _yb01(world.evaluate(rule_config)) == [
        "2026年1月家庭个人自付医疗费用合计 5,000.00 元，达到脱贫户阈值 5,000 元"
    ]


def _status(con: duckdb.DuckDBPyConnection, month: str, *, received: bool, records: int) -> None:
    frame = pl.DataFrame(
        {"source": [CLAIMS], "received": [received], "files": [1], "records": [records],
         "rejected": [0], "field_problems": [0]}
    )  # fmt: skip
    replace_partition(con, "source_status", frame, district="d", month=month)


def test_a_month_counts_as_summed_only_when_its_claims_came_and_held_rows():
    con = memory_warehouse()
    _status(con, "2026-01", received=True, records=900)
    _status(con, "2026-02", received=True, records=0)  # a file with no usable row
    _status(con, "2026-03", received=False, records=0)  # no folder when it was staged
    _status(con, "2026-05", received=True, records=800)  # M itself: not an earlier month
    _status(con, "2025-04", received=True, records=700)  # another year's April
    assert missing_claims_months(con, "d", "2026-05") == [2, 3, 4]
    assert missing_claims_months(con, "other", "2026-05") == [1, 2, 3, 4]
    assert missing_claims_months(con, "d", "2026-01") == []

    problems = source_problems(con, "d", "2026-05").filter(pl.col("来源") == CLAIMS)
    assert problems["状态"].to_list() == ["本年此前月份未收到"]
    assert "本年2—4月的医保结算明细未收到（raw/ 下 2026-02 至 2026-04 没有" in problems["说明"][0]
    assert problems["涉及规则"].to_list() == ["YB01 医疗自付费用高"]
    for month in ("2026-02", "2026-03", "2026-04"):
        _status(con, month, received=True, records=10)
    assert source_problems(con, "d", "2026-05").filter(pl.col("来源") == CLAIMS).is_empty()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("year_gaps") / "district"
    generate(root, months=[MONTH], members=300, seed=11)
    return root


def _yb01_evidence(root: Path) -> list[str]:
    with duckdb.connect(str(root / "warehouse" / "fangfan.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT evidence FROM warnings WHERE rule = 'YB01' AND month = ?", [MONTH]
        ).fetchall()
    return [evidence for (evidence,) in rows]


def _summary_rows(root: Path) -> dict[str, tuple]:
    """The summary's sheet of sources not received (none when every source came)."""
    book = openpyxl.load_workbook(root / "exports" / MONTH / "区级汇总.xlsx", read_only=True)
    if "未报送与读取失败" not in book.sheetnames:
        return {}
    return {r[0]: r for r in book["未报送与读取失败"].iter_rows(values_only=True)}


def test_a_first_run_without_the_years_first_months_says_so_and_a_rerun_with_them_does_not(
    pristine: Path, tmp_path: Path, monkeypatch, capsys
):
    """End to end, as a district starting in May: January to March have no claims folder. The
    run output and the summary name them; once the folders are put back, a rerun of May stages
    them and says nothing more."""
    root = tmp_path / "district"
    shutil.copytree(pristine, root)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FANGFAN_DATA_DIR", raising=False)
    monkeypatch.delenv("FANGFAN_DISTRICT", raising=False)
    kept = tmp_path / "kept"
    for number in (1, 2, 3):
        shutil.move(root / "raw" / f"2026-{number:02d}" / CLAIMS, kept / f"{number}")

    assert main(["run", "--month", MONTH, "--data-dir", str(root)]) == 0
    said = capsys.readouterr().out
    assert "本年此前月份未收到：本年1—3月的医保结算明细未收到" in said
    assert "本年1—3月的医保结算明细未收到" in _summary_rows(root)[CLAIMS][6]
    first = _yb01_evidence(root)
    assert first and all("（其中1—3月的医保结算明细未收到，未计入）" in e for e in first)

    for number in (1, 2, 3):
        shutil.move(kept / f"{number}", root / "raw" / f"2026-{number:02d}" / CLAIMS)
    assert main(["run", "--month", MONTH, "--data-dir", str(root)]) == 0
    said = capsys.readouterr().out
    assert "YB01 需要全年累计" in said and "医保结算明细未收到" not in said
    assert CLAIMS not in _summary_rows(root)
    again = _yb01_evidence(root)
    assert again and not any("未收到" in e for e in again)
