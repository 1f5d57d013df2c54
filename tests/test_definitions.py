"""The Dagster definitions: load without a warehouse, every asset and check, one writer pool."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import build_resource, defs
from pipelines.resources import WRITER_POOL
from pipelines.sources import ALL_SOURCE_KEYS


def test_definitions_load_with_every_asset_and_check(tmp_path, monkeypatch):
    monkeypatch.setenv("FANGFAN_DATA_DIR", str(tmp_path / "nowhere"))
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    sources = set(ALL_SOURCE_KEYS) - {"feedback"}
    assert sources | {"verification_feedback", "roster_members", "member_matches", "match_quality",
                      "warnings", "township_exports", "district_summary"} == keys  # fmt: skip
    assert len(graph.asset_check_keys) == 2 * len(sources) + 2
    assert not (tmp_path / "nowhere").exists()  # loading opens no warehouse


def test_every_asset_is_monthly_and_queues_for_the_one_writer():
    definitions = defs()
    for key in definitions.resolve_asset_graph().get_all_asset_keys():
        asset = definitions.resolve_assets_def(key)
        assert asset.op.pool == WRITER_POOL, key
        assert isinstance(asset.partitions_def, dg.MonthlyPartitionsDefinition), key
        assert asset.partitions_def.timezone == "Asia/Shanghai"


def test_schedule_is_off_until_the_district_turns_it_on():
    schedule = defs().resolve_schedule_def("monthly_run_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule.startswith("0 2 6 ")


def test_resource_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("FANGFAN_DATA_DIR", raising=False)
    assert build_resource().data_dir.endswith("data")
    monkeypatch.setenv("FANGFAN_DATA_DIR", str(tmp_path))
    assert isinstance(build_resource().data_dir, dg.EnvVar)
