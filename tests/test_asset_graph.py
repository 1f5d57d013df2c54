"""The asset graph answers a newcomer: for the township files of a month of a district, every
asset upstream and the months each is read for (always of the same district); the cross-month
flows are declared partition mappings over the month × district partitions."""

from __future__ import annotations

import dagster as dg
import pytest
import toposort

from pipelines.city.schema import CITY_TABLES
from pipelines.definitions import build_definitions, defs
from pipelines.partitions import (
    district_of,
    district_partitions,
    month_of,
    monthly_partitions,
    partition_key,
)
from pipelines.schema import MEMO_TABLES, TABLES
from pipelines.sources import DEPARTMENT_KEYS

MONTH = "2026-10"
EVERY_MONTH_SO_FAR = ("2021-01", MONTH)  # the partitions start in 2021-01
DISTRICT = "341502"
OTHER = "341503"


@pytest.fixture(scope="module", autouse=True)
def _districts():
    """Two districts known to the instance the mappings are resolved against."""
    from dagster._core.definitions.partitions.context import partition_loading_context

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(district_partitions.name, [DISTRICT, OTHER])
        with partition_loading_context(dynamic_partitions_store=instance):
            yield


def _graph():
    return defs().resolve_asset_graph()


def _months(graph, child: dg.AssetKey, parent: dg.AssetKey, month: str) -> set[str]:
    """The months of `parent` that `child`'s partition (`month`, DISTRICT) reads (its partition
    mapping); every one of them is DISTRICT's own."""
    result = graph.get_parent_partition_keys_for_child(
        partition_key(month, DISTRICT), parent, child
    )
    keys = result.partitions_subset.get_partition_keys()
    assert {district_of(key) for key in keys} <= {DISTRICT}, (child, parent)
    return {month_of(key) for key in keys}


def _span(months: set[str]) -> tuple[str, str]:
    return min(months), max(months)


def upstream_reads(graph, key: str, month: str) -> dict[str, tuple[str, str]]:
    """Every asset upstream of `key` (transitively), with the span of months read of it by the
    steps on the way when `key` is made for `month`; each step runs for `month` (months before M
    reach the file through the self-dependencies, asserted below)."""
    reads: dict[str, set[str]] = {}
    frontier, seen = [dg.AssetKey(key)], set()
    while frontier:
        child = frontier.pop()
        if child in seen:
            continue
        seen.add(child)
        for parent in graph.get(child).parent_keys:
            reads.setdefault(parent.to_user_string(), set()).update(
                _months(graph, child, parent, month)
            )
            frontier.append(parent)
    return {name: _span(months) for name, months in reads.items()}


def test_a_township_file_names_every_asset_and_month_it_is_made_from():
    reads = upstream_reads(_graph(), "township_exports", MONTH)
    this_month = (MONTH, MONTH)
    expected = {
        # the listing behind the file: this month's warnings on this month's households, the
        # answers so far, the first export date, and last month's listing (open warnings)
        "listings": ("2026-09", MONTH),
        "warnings": ("2026-09", MONTH),  # a warning keeps the id of the one it continues
        "households": this_month,
        "roster_members": ("2026-09", MONTH),  # members keep the keys last month's gave them
        "export_runs": this_month,
        "feedback_answers": EVERY_MONTH_SO_FAR,
        # the rules' inputs
        "record_matches": ("2025-11", MONTH),  # M's ties, and the year's earlier claims months
        "unmatched_records": this_month,
        "medical_claims_ytd": this_month,
        "source_status": ("2025-11", MONTH),
        "ingest_files": this_month,
        "rejects": this_month,
        "field_problems": this_month,
        # staged rows: M's for matching and the rules; the year's earlier claims for YB01
        # (2025-11…2026-09 declared, those of 2026 read); and, for the 非本人 answers so far,
        # the rows behind the answered warnings, staged in any earlier month
        **{key: EVERY_MONTH_SO_FAR for key in DEPARTMENT_KEYS},
        # matching's inputs: the roster, and every 非本人 answer so far
        "roster": this_month,
        "grid": this_month,
        "negative_pairs": EVERY_MONTH_SO_FAR,
    }
    assert reads == expected


def test_cross_month_flows_are_declared_partition_mappings():
    graph = _graph()

    def months(child: str, parent: str) -> tuple[str, str]:
        return _span(_months(graph, dg.AssetKey(child), dg.AssetKey(parent), MONTH))

    # the lifecycle carries forward month to month through the listing itself
    assert months("listings", "listings") == ("2026-09", "2026-09")
    assert months("warnings", "warnings") == ("2026-09", "2026-09")
    assert months("match_quality", "match_quality") == ("2026-09", "2026-09")
    # members keep last month's keys, which carry those of the months before it
    assert months("roster_members", "roster_members") == ("2026-09", "2026-09")
    # year-to-date claims: an asset of its own over the earlier months (those of M's year are
    # read), never a side effect of staging month M
    assert months("medical_claims_ytd", "medical_claims") == ("2025-11", "2026-09")
    assert not graph.get(dg.AssetKey("medical_claims")).parent_keys  # staging reads raw/<M>/ only
    assert months("record_matches", "medical_claims") == (MONTH, MONTH)
    # 非本人 answers of every month so far forbid ties; the records behind them are earlier rows
    assert months("record_matches", "negative_pairs") == EVERY_MONTH_SO_FAR
    assert months("negative_pairs", "feedback_answers") == EVERY_MONTH_SO_FAR
    assert months("negative_pairs", "medical_claims") == ("2021-01", "2026-09")


def test_the_returned_lists_edge_would_close_a_cycle_dagster_refuses():
    """Reading last month's listing when this month's answers come in (feedback ← listings M−1)
    cannot be declared: feedback → matches → warnings → listings would close a cycle of assets,
    which Dagster 1.13 refuses even across months (only an asset may depend on its own earlier
    partitions). The ingest step reads it undeclared; its description says so."""
    graph = _graph()
    assert dg.AssetKey("listings") not in graph.get(dg.AssetKey("feedback")).parent_keys
    assert "listings" in graph.get(dg.AssetKey("feedback")).description
    keys = {key: set(graph.get(key).parent_keys) for key in graph.get_all_asset_keys()}
    keys[dg.AssetKey("feedback")].add(dg.AssetKey("listings"))
    keys[dg.AssetKey("record_matches")].add(dg.AssetKey("feedback"))  # 非本人 → matching
    with pytest.raises(toposort.CircularDependencyError):
        list(toposort.toposort(keys))
    # as declared, the graph sorts: jobs and backfills can be planned
    assert graph.toposorted_asset_keys


def test_every_table_another_step_reads_is_an_asset():
    graph = _graph()
    tables = {
        graph.get(key).metadata.get("dagster/table_name"): key.to_user_string()
        for key in graph.get_all_asset_keys()
    }
    memos = MEMO_TABLES  # a step's memo of what it last built from: no asset
    declared = {t.name for t in TABLES if not t.append_only} - memos
    assert declared <= set(tables), declared - set(tables)
    assert not memos & set(tables)
    assert tables["stg_medical_claims"] == "medical_claims"
    assert tables["record_matches"] == "record_matches"


def test_asset_graph_shape_keys_groups_and_checks():
    graph = _graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert groups == {
        "ingest": {"roster", "grid", *DEPARTMENT_KEYS, "feedback", "feedback_answers",
                   "rejects", "ingest_files", "field_problems", "source_status"},
        "identity": {"roster_members", "households", "roster_findings"},
        "lifecycle": {"negative_pairs"},
        "matching": {"record_matches", "unmatched_records", "medical_claims_ytd",
                     "match_quality", "match_quality_reasons"},
        "rules": {"warnings", "warning_records", "rule_undecided", "rules_not_evaluated"},
        "exports": {"listings", "export_runs", "township_exports", "district_summary",
                    "department_quality_workbooks", "unresolved_records_list",
                    "cross_district_list"},
        "city": {"cross_district_ties", "cross_district_roster_findings",
                 "cross_district_warnings"},
    }  # fmt: skip
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    checked_sources = {"roster", "grid", *DEPARTMENT_KEYS}
    assert checks == {
        *((s, "staged_schema") for s in checked_sources),
        *((s, "row_accounting") for s in checked_sources),
        ("match_quality", "tie_rate_stable"),
        ("match_quality", "reject_rate_low"),
        ("district_summary", "ran_on_time"),  # late months (pipelines/operations.py)
    }
    definitions = defs()
    for key in checked_sources:
        specs = definitions.resolve_assets_def(key).check_specs
        assert all(spec.blocking for spec in specs), key  # a bad month stops before matching


def test_the_steps_are_the_computations_that_write_several_tables():
    definitions = defs()
    steps = {
        key.to_user_string(): definitions.resolve_assets_def(key).op.name
        for key in definitions.resolve_asset_graph().get_all_asset_keys()
    }
    assert steps["record_matches"] == steps["unmatched_records"] == "member_matches"
    assert steps["listings"] == steps["export_runs"] == steps["township_exports"]
    assert steps["township_exports"] == "township_exports"
    assert steps["department_quality_workbooks"] == "district_summary"
    assert steps["medical_claims"] == steps["rejects"] == steps["feedback"] == "ingest"
    assert steps["negative_pairs"] == "verification_feedback"
    assert steps["cross_district_ties"] == steps["cross_district_roster_findings"]
    assert steps["cross_district_ties"] == steps["cross_district_warnings"]
    written_by = {t.name: t.written_by for t in TABLES}
    written_by |= {f"city.{t.name}": t.written_by for t in CITY_TABLES}
    for key, step in steps.items():
        table = (
            definitions.resolve_asset_graph()
            .get(dg.AssetKey(key))
            .metadata.get("dagster/table_name")
        )
        if table:
            assert written_by[table] == step, (table, step)


def test_settings_come_as_a_resource():
    from pipelines.resources import FangfanResource

    fangfan = FangfanResource(data_dir="/somewhere", export_date="2026-11-06")
    definitions = build_definitions(fangfan)
    resource = definitions.resources["fangfan"]
    assert resource.data_dir == "/somewhere" and resource.export_date == "2026-11-06"


def test_the_city_reads_every_district_of_its_month():
    """The city assets are partitioned by month only; month M of the city reads month M of
    every district, and nothing of the districts' other months."""
    graph = _graph()
    city = dg.AssetKey("cross_district_ties")
    assert graph.get(city).partitions_def == monthly_partitions
    for parent in ("roster_members", "unmatched_records", "vehicles"):
        result = graph.get_parent_partition_keys_for_child(MONTH, dg.AssetKey(parent), city)
        keys = set(result.partitions_subset.get_partition_keys())
        assert keys == {str(partition_key(MONTH, DISTRICT)), str(partition_key(MONTH, OTHER))}
    # a district's month reads no other district (identity on the district dimension)
    listings = dg.AssetKey("listings")
    result = graph.get_parent_partition_keys_for_child(
        partition_key(MONTH, OTHER), listings, listings
    )
    assert set(result.partitions_subset.get_partition_keys()) == {
        str(partition_key("2026-09", OTHER))
    }


def test_every_asset_and_check_is_described_in_the_district_teams_language():
    """The UI is the district data team's: an asset or check described in English alone (16
    tables and most checks had been, an independent probe of the UI found) tells them little."""
    import re

    chinese = re.compile(r"[\u4e00-\u9fff]")
    graph = defs().resolve_asset_graph()
    english = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if not chinese.search(graph.get(key).description or "")
    ]
    assert english == []
    described = {
        key.name: (graph.get_check_spec(key).description or "") for key in graph.asset_check_keys
    }
    assert described and not [name for name, text in described.items() if not chinese.search(text)]
