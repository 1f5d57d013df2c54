"""The Dagster definitions: load without a warehouse, every district asset month × district in
the one writer pool, the city assets monthly, jobs."""

from __future__ import annotations

import dagster as dg

from pipelines.city.schema import CITY_TABLES
from pipelines.definitions import (
    CITY_JOB,
    CLAIMS_HISTORY_JOB,
    MONTHLY_JOB,
    build_resource,
    configured_resource,
    defs,
)
from pipelines.partitions import district_partitions, month_district_partitions, monthly_partitions
from pipelines.resources import WRITER_POOL
from pipelines.schema import MEMO_TABLES, TABLES
from pipelines.sources import ALL_SOURCE_KEYS


def test_definitions_load_with_every_asset_and_check(tmp_path, monkeypatch):
    monkeypatch.setenv("FANGFAN_DATA_DIR", str(tmp_path / "nowhere"))
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    memos = MEMO_TABLES
    tables = {t.name for t in TABLES if not t.name.startswith("stg_") and not t.append_only}
    tables -= memos
    files = {"township_exports", "district_summary", "department_quality_workbooks",
             "unresolved_records_list", "medical_claims_ytd", "cross_district_list"}  # fmt: skip
    city = {t.name for t in CITY_TABLES}
    assert keys == set(ALL_SOURCE_KEYS) | tables | files | city
    sources = set(ALL_SOURCE_KEYS) - {"feedback"}
    assert len(graph.asset_check_keys) == 2 * len(sources) + 3  # + match quality ×2, lateness
    assert not (tmp_path / "nowhere").exists()  # loading opens no warehouse


def test_every_district_asset_is_month_by_district_and_queues_for_the_one_writer():
    definitions = defs()
    city = {t.name for t in CITY_TABLES}
    for key in definitions.resolve_asset_graph().get_all_asset_keys():
        asset = definitions.resolve_assets_def(key)
        if key.to_user_string() in city:
            # read-only on the districts' warehouses, writes the city's own
            assert asset.partitions_def == monthly_partitions, key
            continue
        assert asset.op.pool == WRITER_POOL, key
        partitions = asset.partitions_def
        assert isinstance(partitions, dg.MultiPartitionsDefinition), key
        dimensions = {d.name: d.partitions_def for d in partitions.partitions_defs}
        assert dimensions["month"] == monthly_partitions, key
        assert dimensions["district"] == district_partitions, key
        assert monthly_partitions.timezone == "Asia/Shanghai"
        assert isinstance(district_partitions, dg.DynamicPartitionsDefinition)


def test_the_monthly_job_is_one_district_and_the_city_job_one_month():
    monthly = defs().resolve_job_def(MONTHLY_JOB)
    assert monthly.partitions_def == month_district_partitions
    city = defs().resolve_job_def(CITY_JOB)
    assert city.partitions_def == monthly_partitions
    assert {k.to_user_string() for k in city.asset_layer.selected_asset_keys} == {
        t.name for t in CITY_TABLES
    }


def test_the_claims_history_job_stages_only_claims_and_their_accounting():
    job = defs().resolve_job_def(CLAIMS_HISTORY_JOB)
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert selected == {
        "medical_claims",
        "rejects",
        "ingest_files",
        "field_problems",
        "source_status",
    }
    assert defs().resolve_job_def(MONTHLY_JOB).partitions_def is not None


def test_schedule_is_off_until_the_district_turns_it_on():
    schedule = defs().resolve_schedule_def("monthly_run_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule.startswith("0 2 6 ")


def test_resource_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("FANGFAN_DATA_DIR", raising=False)
    assert build_resource().data_dir.endswith("data")
    monkeypatch.setenv("FANGFAN_DATA_DIR", str(tmp_path))
    assert isinstance(build_resource().data_dir, dg.EnvVar)


def test_the_resource_configured_outside_a_run_closes_the_instance_it_opened(monkeypatch, tmp_path):
    """Initialising the resource opens an ephemeral Dagster instance; left open, its SQLite
    connection went to the garbage collector after its engine ('Exception during reset …
    Cannot operate on a closed database' at the end of CI's e2e phase)."""
    from dagster._core.storage.runs.in_memory import InMemoryRunStorage

    opened: list[InMemoryRunStorage] = []
    original = InMemoryRunStorage.__init__

    def recording(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(InMemoryRunStorage, "__init__", recording)
    monkeypatch.setenv("FANGFAN_DATA_DIR", str(tmp_path))
    resource = configured_resource()
    assert resource.layout.root == tmp_path
    assert opened and all(storage._held_conn.closed for storage in opened)
