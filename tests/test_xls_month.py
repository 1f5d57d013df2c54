"""A department that saves its workbooks as legacy .xls goes through the whole month (issue 7)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.definitions import MONTHLY_JOB, defs, district_partition, stage_claims_history
from pipelines.generate import generate
from pipelines.ingest.stage import stage_source
from pipelines.scoring import produced_warnings, score
from pipelines.sources import SOURCES

MONTH = "2026-10"
FIXTURES = Path(__file__).parent / "fixtures" / "xls_month"
HOUSING = SOURCES["housing"]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """The fixtures' district, its housing workbooks swapped for the .xls saves of them."""
    root = tmp_path_factory.mktemp("xls") / "xls"
    generate(root, months=[MONTH], members=1500, seed=31, messy=True)
    folder = root / "raw" / MONTH / "housing"
    as_xlsx = stage_source(HOUSING, folder, MONTH).records
    for xls in sorted(FIXTURES.glob("*.xls")):
        (folder / f"{xls.stem}.xlsx").unlink()
        shutil.copy(xls, folder / xls.name)
    return root, as_xlsx


def _comparable(records: pl.DataFrame) -> pl.DataFrame:
    return (
        records.with_columns(pl.col("file").str.replace(r"\.xlsx?$", ""))
        .drop("record_key", "raw_extra")
        .sort("file", "row_number")
    )


def test_xls_workbooks_stage_like_the_xlsx_they_were_saved_from(district):
    root, as_xlsx = district
    staged = stage_source(HOUSING, root / "raw" / MONTH / "housing", MONTH)
    assert sum(f.endswith(".xls") for f in staged.records["file"].unique()) == len(
        list(FIXTURES.glob("*.xls"))
    )
    assert staged.rejects.height == 0 or set(staged.rejects["file"]).isdisjoint(
        {p.name for p in FIXTURES.glob("*.xls")}
    )
    assert _comparable(staged.records).equals(_comparable(as_xlsx))


@pytest.mark.e2e  # a whole month: CI runs it after the default suite
def test_the_month_runs_and_zj01_is_right_on_the_xls_townships(district, tmp_path):
    root, _ = district
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("FANGFAN_DATA_DIR", str(root))
        stage_claims_history(defs(), MONTH, instance)  # YB01: the year's earlier claims months
        result = (
            defs()
            .resolve_job_def(MONTHLY_JOB)
            .execute_in_process(partition_key=district_partition(MONTH), instance=instance)
        )
    assert result.success
    with duckdb.connect(str(root / "warehouse" / "fangfan.duckdb"), read_only=True) as con:
        district_key = con.execute("SELECT DISTINCT district FROM warnings").fetchall()[0][0]
        produced = produced_warnings(con, district_key, MONTH)
        from_xls = con.execute(
            "SELECT count(*) FROM warning_records WHERE source = 'housing' AND file LIKE '%.xls'"
        ).fetchall()[0][0]
    expected = pl.read_csv(root / "truth" / MONTH / "expected_warnings.csv", infer_schema=False)
    zj01 = score(produced, expected).filter(pl.col("rule") == "ZJ01").row(0, named=True)
    assert from_xls > 0
    assert zj01["precision"] == 1.0 and zj01["recall_recoverable"] == 1.0
