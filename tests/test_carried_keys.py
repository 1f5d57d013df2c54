"""Two months, the first one's roster saved by Excel with its IDs destroyed (3.41502E+17): its
members are keyed by name that month and by ID the next. Every warning listed in the first month
and found again in the second continues (待核实, first listed in the first month): none is listed
again as new because its member's key changed (roster._carry_keys)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.definitions import MONTHLY_JOB, defs, district_partition, stage_claims_history
from pipelines.generate import generate

pytestmark = pytest.mark.e2e  # two whole months: CI runs it after the default suite

FIRST, SECOND = "2026-09", "2026-10"
NEW = "新增"


def _as_excel_shows(folder: Path) -> int:
    """Every 18-digit 证件号码 of the folder's CSV files rewritten as Excel's General format shows
    it (3.41502E+17), the files kept in their encoding and separator; returns how many."""
    destroyed = 0
    for path in sorted(folder.glob("*.csv")):
        raw = path.read_bytes()
        try:
            text, encoding = raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            text, encoding = raw.decode("gb18030"), "gb18030"
        first = text.split("\n", 1)[0]
        separator = "\t" if first.count("\t") > first.count(",") else ","
        rows = list(csv.reader(io.StringIO(text), delimiter=separator))
        header = next(i for i, row in enumerate(rows) if "证件号码" in (c.strip() for c in row))
        column = [c.strip() for c in rows[header]].index("证件号码")
        for row in rows[header + 1 :]:
            value = row[column].strip() if len(row) > column else ""
            if len(value) == 18 and value.isdigit():  # one ending in X stays text in Excel
                mantissa, exponent = f"{float(value):.5E}".split("E")
                row[column] = f"{mantissa.rstrip('0').rstrip('.')}E+{int(exponent)}"
                destroyed += 1
        out = io.StringIO()
        csv.writer(out, delimiter=separator, lineterminator="\r\n").writerows(rows)
        path.write_bytes(out.getvalue().encode(encoding))
    return destroyed


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("carried")
    root, home = base / "district", base / "dagster"
    generate(root, [FIRST, SECOND], members=3000, seed=7, messy=True)
    assert _as_excel_shows(root / "raw" / FIRST / "roster") > 2500
    home.mkdir()
    with (
        dg.instance_for_test(temp_dir=str(home)) as instance,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("FANGFAN_DATA_DIR", str(root))
        for month in (FIRST, SECOND):
            stage_claims_history(defs(), month, instance)
            result = (
                defs()
                .resolve_job_def(MONTHLY_JOB)
                .execute_in_process(partition_key=district_partition(month), instance=instance)
            )
            assert result.success, month
    return root


def _query(root: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(root / "warehouse" / "fangfan.duckdb"), read_only=True) as con:
        return con.sql(sql).pl()


def test_a_warning_found_again_after_the_roster_is_mended_continues(root: Path):
    # the first month's roster lost its IDs: its members were keyed by name
    findings = _query(
        root,
        f"SELECT count(*) AS n FROM roster_findings WHERE month = '{FIRST}'"
        " AND kind = '花名册证件号码被Excel改写'",
    )
    assert findings["n"][0] > 2500
    listed = _query(
        root,
        "SELECT month, rule, household_id, coalesce(member_name, '') AS member, status,"
        " first_month, evidence, warning_id FROM listings",
    )
    first = listed.filter(pl.col("month") == FIRST)
    second = listed.filter(pl.col("month") == SECOND)
    # the same warning: rule, household, member and evidence (a member may also have a new one)
    again = second.join(first, on=["rule", "household_id", "member", "evidence"], suffix="_before")
    # enough person warnings carried over for the check to mean something
    assert again.filter(pl.col("member") != "").height > 30
    relisted = again.filter((pl.col("status") == NEW) | (pl.col("first_month") != FIRST))
    assert relisted.is_empty(), relisted.select("rule", "status", "first_month").rows()
    assert (again["warning_id"] == again["warning_id_before"]).all()
