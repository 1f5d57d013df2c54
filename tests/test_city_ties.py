"""A city of two tiny districts (the project's generator, people moved between them) through
month × district partitions in-process: each district's exports are byte for byte those of a
plain single-district run of the same data, and the city asset finds the moved people."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.city.districts import load_city
from pipelines.city.generate import generate_city, score_city
from pipelines.city.pickup import CROSS_DISTRICT_CSV, ROUTED, TWICE, cross_district_rows
from pipelines.city.schema import read_city
from pipelines.definitions import (
    CITY_JOB,
    DISTRICT_TAG,
    MONTHLY_JOB,
    build_definitions,
    district_partition,
    district_tags,
    register_districts,
)
from pipelines.partitions import partition_key
from pipelines.resources import FangfanResource

# whole multi-month runs of two districts (and of each alone): CI runs them after the default
# suite (make test-e2e)
pytestmark = pytest.mark.e2e

MONTH = "2026-01"  # January: no earlier claims months to stage, one run per district
NEXT = "2026-02"
EXPORT_DATE = "2026-02-06"
MEMBERS = 250
MOVED = 6
DUPLICATES = 2


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("city")
    root = base / "city"
    generate_city(
        root, districts=2, members=MEMBERS, month=MONTH, moved=MOVED, duplicates=DUPLICATES
    )
    # the same data, each district on its own (the README's layout), before anything ran
    singles = {}
    for code in load_city(root).codes:
        singles[code] = base / "single" / code
        shutil.copytree(root / code, singles[code])
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        fangfan = FangfanResource(data_dir=str(root), export_date=EXPORT_DATE)
        definitions = build_definitions(fangfan)
        codes = load_city(root).codes
        assert register_districts(instance, codes) == codes
        monthly = definitions.resolve_job_def(MONTHLY_JOB)
        runs = {}
        for code in codes:
            result = monthly.execute_in_process(
                partition_key=partition_key(MONTH, code),
                instance=instance,
                tags=district_tags(code),
            )
            assert result.success, code
            runs[code] = result.dagster_run
        city_run = definitions.resolve_job_def(CITY_JOB).execute_in_process(
            partition_key=MONTH, instance=instance
        )
        assert city_run.success
        for code, folder in singles.items():
            single = FangfanResource(data_dir=str(folder), export_date=EXPORT_DATE)
            result = (
                build_definitions(single)
                .resolve_job_def(MONTHLY_JOB)
                .execute_in_process(
                    partition_key=district_partition(MONTH, single, instance), instance=instance
                )
            )
            assert result.success, code
        yield root, singles, runs, instance


def test_each_districts_exports_match_a_single_district_run_byte_for_byte(city):
    root, singles, _, _ = city
    for code, single in singles.items():
        in_city = _files(root / code / "exports")
        alone = _files(single / "exports")
        assert in_city, code
        assert in_city.keys() == alone.keys(), code
        assert [k for k in in_city if in_city[k] != alone[k]] == [], code


def test_each_district_keeps_its_own_warehouse_and_runs_carry_the_district(city):
    root, _, runs, _ = city
    for code, run in runs.items():
        assert run.tags[DISTRICT_TAG] == code
        assert run.tags["dagster/partition/district"] == code
        assert run.tags["dagster/partition/month"] == MONTH
        database = root / code / "warehouse" / "fangfan.duckdb"
        with duckdb.connect(str(database), read_only=True) as con:
            names = {
                r[0] for r in con.sql("SELECT DISTINCT district FROM roster_members").fetchall()
            }
        assert names == {load_city(root).district(code).name}


def test_the_city_finds_the_moved_people(city):
    root, _, _, _ = city
    score = score_city(root, MONTH)
    assert score["moved_records"] == MOVED
    assert score["moved_found"] == MOVED and score["ties_not_in_truth"] == 0, score
    assert score["roster_duplicates"] >= DUPLICATES
    assert score["roster_duplicates_found"] == score["roster_duplicates"], score


def test_a_routed_record_stays_with_its_members_own_household(city):
    """Each tie is stored under the member's district, household and township: a township of
    that district sees its own household, and no township of the sending district sees it."""
    root, _, _, _ = city
    database = load_city(root).database
    ties = read_city(database, "cross_district_ties", MONTH)
    assert ties.height == MOVED
    for code in load_city(root).codes:
        mine = ties.filter(pl.col("district_code") == code)
        with duckdb.connect(
            str(root / code / "warehouse" / "fangfan.duckdb"), read_only=True
        ) as con:
            households = con.sql(
                "SELECT household_id, township FROM households WHERE month = ?", params=[MONTH]
            ).pl()
        placed = mine.join(households, on=["household_id", "township"], how="inner")
        assert placed.height == mine.height, code
        assert (mine["from_code"] != code).all()
    findings = read_city(database, "cross_district_roster_findings", MONTH)
    # a person on two rosters is a finding for both districts
    for id_number in findings["id_number"].unique():
        assert findings.filter(pl.col("id_number") == id_number)["district_code"].n_unique() == 2


def test_the_district_picks_the_ties_up_next_month_with_the_source_district(city):
    """Month M+1 of a district lists what the city routed to it in M (来源区县 named), IDs masked;
    a month without ties of the month before writes no such file."""
    root, _, _, _ = city
    database = load_city(root).database
    for district in load_city(root).districts:
        assert not (district.layout.exports(MONTH) / CROSS_DISTRICT_CSV).exists()
        rows = cross_district_rows(database, district.name, NEXT)
        routed = rows.filter(pl.col("类别") == ROUTED)
        assert routed.height == MOVED // 2, district.code
        other = next(d.name for d in load_city(root).districts if d.code != district.code)
        assert set(routed["来源区县"]) == {other}
        assert routed["说明"].str.contains(f"来源区县：{other}").all()
        assert rows.filter(pl.col("类别") == TWICE).height >= 1


def test_the_city_evaluates_the_receiving_districts_rules_over_routed_records(city):
    root, _, _, _ = city
    database = load_city(root).database
    warnings = read_city(database, "cross_district_warnings", MONTH)
    assert warnings.height >= 1
    ties = read_city(database, "cross_district_ties", MONTH)
    for row in warnings.iter_rows(named=True):
        assert "（来源区县：" in row["evidence"]
        # the subject is a member of the receiving district, its record another district's row
        # (a year's sum also counts the household's own rows: tests/test_city_routing.py)
        mine = ties.filter(pl.col("district") == row["district"])
        assert row["household_id"] in set(mine["household_id"])
        senders = {key.split("|")[1].split("/")[0] for key in row["record_keys"] if "/" in key}
        assert senders <= set(mine["from_district"])
        assert senders or row["rule"] == "YB01"


def test_the_next_months_run_lists_routed_warnings_and_the_cross_district_file(city):
    """Month M+1 of the receiving district: the routed warnings are in its warnings and in the
    township file of the member's own township (来源区县 in the evidence); the district file
    lists every routed record, IDs masked, on the ledger."""
    root, _, _, instance = city
    routed = read_city(load_city(root).database, "cross_district_warnings", MONTH)
    code = routed["district_code"].value_counts(sort=True)["district_code"][0]
    district = load_city(root).district(code)
    # the next month's delivery: the same extracts again
    shutil.copytree(district.layout.raw / MONTH, district.layout.raw / NEXT)
    fangfan = FangfanResource(data_dir=str(root), export_date="2026-03-06")
    result = (
        build_definitions(fangfan)
        .resolve_job_def(MONTHLY_JOB)
        .execute_in_process(partition_key=partition_key(NEXT, district.code), instance=instance)
    )
    assert result.success
    mine = routed.filter(pl.col("district_code") == code)
    with duckdb.connect(str(district.layout.database), read_only=True) as con:
        listed = con.sql(
            "SELECT w.warning_id, w.evidence, h.township FROM warnings w "
            "JOIN households h USING (district, month, household_id) "
            "WHERE w.month = ? AND w.evidence LIKE '%来源区县%'",
            params=[NEXT],
        ).pl()
        sources = con.sql(
            "SELECT DISTINCT file FROM warning_records WHERE month = ? AND file LIKE '%/%'",
            params=[NEXT],
        ).pl()
    # a routed warning gives way to one the district raised itself for the same rule and subject
    assert listed.height >= 1 and set(listed["warning_id"]) <= set(mine["warning_id"])
    assert sources.height >= 1
    for row in listed.iter_rows(named=True):
        township_csv = district.layout.exports(NEXT) / f"{row['township']}.csv"
        assert "来源区县：" in township_csv.read_bytes().decode("utf-8-sig")
    written = district.layout.exports(NEXT) / CROSS_DISTRICT_CSV
    text = written.read_bytes().decode("utf-8-sig")
    assert (
        text.count(ROUTED)
        == read_city(load_city(root).database, "cross_district_ties", MONTH, district.name).height
    )
    assert "来源区县：" in text
    ledger = (district.layout.root / "ledger" / "export_ledger.jsonl").read_text(encoding="utf-8")
    assert CROSS_DISTRICT_CSV in ledger
    # IDs masked (first 6 + 8 '*' + last 4), as in every district file
    ids = pl.read_csv(written, infer_schema=False)["证件号码"]
    assert ids.str.contains(r"^\d{6}\*{8}[\dX]{4}$").all()
