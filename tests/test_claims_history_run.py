"""The year's earlier claims months are staged as one Dagster run over each stretch of
consecutive months (not one run per month): every month is still its own partition in the UI,
with its own metadata, and a run that fails part-way records the months it did stage."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.assets import ingest as ingest_module
from pipelines.definitions import CLAIMS_HISTORY_JOB, build_definitions, stage_claims_history
from pipelines.generate import generate
from pipelines.ingest.history import CLAIMS
from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG, month_runs, partition_key
from pipelines.resources import FangfanResource

MONTH = "2026-06"  # five earlier months: enough for a gap and a failure part-way
EARLIER = [f"2026-{m:02d}" for m in range(1, 6)]


def test_month_runs_cut_at_gaps_and_cross_the_new_year():
    assert month_runs([]) == []
    assert month_runs(["2026-03"]) == [["2026-03"]]
    assert month_runs(["2026-01", "2026-02", "2026-04", "2026-05", "2026-06", "2026-09"]) == [
        ["2026-01", "2026-02"],
        ["2026-04", "2026-05", "2026-06"],
        ["2026-09"],
    ]
    assert month_runs(["2025-11", "2025-12", "2026-01"]) == [["2025-11", "2025-12", "2026-01"]]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("claims_history") / "district"
    generate(root, months=[MONTH], members=150, seed=5)
    return root


@pytest.fixture
def district(pristine: Path, tmp_path: Path) -> tuple[FangfanResource, dg.Definitions]:
    root = tmp_path / "district"
    shutil.copytree(pristine, root)
    fangfan = FangfanResource(data_dir=str(root))
    return fangfan, build_definitions(fangfan)


def _history_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=CLAIMS_HISTORY_JOB))
    return sorted(runs, key=lambda run: run.tags.get(RANGE_START_TAG, ""))


def _materialised(instance: dg.DagsterInstance, key: str) -> dict[str, list]:
    """partition → its materialisations of asset `key`."""
    found: dict[str, list] = {}
    for record in instance.fetch_materializations(dg.AssetKey(key), limit=1000).records:
        found.setdefault(record.partition_key, []).append(record.asset_materialization)
    return found


def _staged_rows(fangfan: FangfanResource, table: str) -> dict[str, int]:
    con = duckdb.connect(str(fangfan.layout.database), read_only=True)
    try:
        rows = con.execute(f"SELECT month, count(*) FROM {table} GROUP BY month").fetchall()
    finally:
        con.close()
    return dict(rows)


def test_the_earlier_months_are_one_run_and_each_month_keeps_its_own_metadata(district):
    fangfan, definitions = district
    code = fangfan.city.codes[0]
    with dg.instance_for_test() as instance:
        assert stage_claims_history(definitions, MONTH, instance, fangfan) == EARLIER

        (run,) = _history_runs(instance)
        assert run.tags[RANGE_START_TAG] == str(partition_key(EARLIER[0], code))
        assert run.tags[RANGE_END_TAG] == str(partition_key(EARLIER[-1], code))

        staged = _staged_rows(fangfan, f"stg_{CLAIMS}")
        assert sorted(staged) == EARLIER and len(set(staged.values())) > 1
        claims = _materialised(instance, CLAIMS)
        files = _materialised(instance, "ingest_files")
        accounted = _staged_rows(fangfan, "ingest_files")
        for month in EARLIER:
            key = str(partition_key(month, code))
            (claim,) = claims[key]  # once per month
            assert claim.metadata["rows_kept"].value == staged[month]  # its own month's count
            assert claim.metadata["months"].value == ", ".join(EARLIER)
            (accounting,) = files[key]
            assert accounting.metadata["rows"].value == accounted[month]
        # the checks judge the months together: one evaluation per run, over all their rows
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(CLAIMS), "staged_schema")]
        )[dg.AssetCheckKey(dg.AssetKey(CLAIMS), "staged_schema")]
        evaluation = check.event.dagster_event.event_specific_data
        assert evaluation.passed
        assert evaluation.metadata["rows_checked"].value == sum(staged.values())

        # nothing left to stage: no run at all
        assert stage_claims_history(definitions, MONTH, instance, fangfan) == []
        assert len(_history_runs(instance)) == 1


def test_months_already_staged_split_the_range(district):
    fangfan, definitions = district
    code = fangfan.city.codes[0]
    job = definitions.resolve_job_def(CLAIMS_HISTORY_JOB)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("district", [code])
        # staged on its own beforehand
        assert job.execute_in_process(
            partition_key=partition_key("2026-03", code), instance=instance
        ).success
        staged = stage_claims_history(definitions, MONTH, instance, fangfan)
        assert staged == ["2026-01", "2026-02", "2026-04", "2026-05"]
        ranges = [
            (run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG))
            for run in _history_runs(instance)
            if RANGE_START_TAG in run.tags
        ]
        assert ranges == [
            (str(partition_key("2026-01", code)), str(partition_key("2026-02", code))),
            (str(partition_key("2026-04", code)), str(partition_key("2026-05", code))),
        ]
        assert sorted(_staged_rows(fangfan, f"stg_{CLAIMS}")) == EARLIER
        assert sorted(_materialised(instance, CLAIMS)) == [
            str(partition_key(m, code)) for m in EARLIER
        ]


def test_a_run_failing_part_way_records_the_months_it_staged(district, monkeypatch):
    fangfan, definitions = district
    code = fangfan.city.codes[0]
    real = ingest_module.ingest_sources

    def failing_in_march(con, layout, sources, *, district, month):
        if month == "2026-03":
            raise OSError("disk gone")
        return real(con, layout, sources, district=district, month=month)

    with dg.instance_for_test() as instance:
        monkeypatch.setattr(ingest_module, "ingest_sources", failing_in_march)
        with pytest.raises(OSError, match="disk gone"):  # the step's own error
            stage_claims_history(definitions, MONTH, instance, fangfan)
        done = [str(partition_key(m, code)) for m in ("2026-01", "2026-02")]
        assert sorted(_materialised(instance, CLAIMS)) == done
        assert sorted(_materialised(instance, "ingest_files")) == done
        assert sorted(_staged_rows(fangfan, f"stg_{CLAIMS}")) == ["2026-01", "2026-02"]

        monkeypatch.setattr(ingest_module, "ingest_sources", real)
        assert stage_claims_history(definitions, MONTH, instance, fangfan) == EARLIER[2:]
        assert sorted(_materialised(instance, CLAIMS)) == [
            str(partition_key(m, code)) for m in EARLIER
        ]
