"""The matcher's tables read as data: blocking rules, scoring lines, ranks and working tables."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.matching.blocking import BLOCKING_RULES
from pipelines.matching.comparison import FEATURES
from pipelines.matching.labels import METHODS, REASONS
from pipelines.matching.matcher import match_records
from pipelines.matching.ranks import Pass, Rank
from pipelines.matching.scoring import SCORES
from pipelines.matching.workspace import TABLES
from tests.matching.builders import RECORD_SCHEMA, ROSTER_SCHEMA, make_id, member, record

# The tiers each pass's ties may have (see labels.METHODS).
_TIERS = {Pass.ID: {1, 3}, Pass.REPAIR: {2}, Pass.NAME: {4, 5}}


def test_scoring_lines_name_known_methods_reasons_and_levels() -> None:
    for line in SCORES:
        assert line.reason in REASONS, line
        if line.rank is Rank.LISTED:
            assert line.method is None, line
        else:
            assert METHODS[line.method].tier in _TIERS[line.pass_], line
        for feature, levels in line.levels.items():
            assert all(level in FEATURES[feature] for level in levels), (line, feature)


def test_ranks_belong_to_one_pass_and_listed_is_the_weakest() -> None:
    passes: dict[Rank, set[Pass]] = {}
    for line in SCORES:
        passes.setdefault(line.rank, set()).add(line.pass_)
    assert all(len(p) == 1 for rank, p in passes.items() if rank is not Rank.LISTED)
    assert max(Rank) is Rank.LISTED


def test_a_gated_rule_feeds_lines_gated_the_same_way() -> None:
    for rule in BLOCKING_RULES:
        if rule.after is not None:
            assert any(s.pass_ is rule.pass_ and s.after == rule.after for s in SCORES), rule
    for line in SCORES:
        if line.after is not None:
            # a gate is a rank of the line's own pass
            assert any(s.pass_ is line.pass_ and s.rank == line.after for s in SCORES), line


def test_every_pass_blocks() -> None:
    assert {rule.pass_ for rule in BLOCKING_RULES} == set(Pass)
    assert len({rule.name for rule in BLOCKING_RULES}) == len(BLOCKING_RULES)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return set(con.sql("SELECT table_name FROM duckdb_tables()").pl()["table_name"]) | set(
        con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").pl()["view_name"]
    )


def _inputs(con: duckdb.DuckDBPyConnection, records: str = "match_input") -> None:
    father = make_id("19700101", 11)
    con.register(
        "roster_frame", pl.DataFrame([member("H1|f", "刘建国", father)], schema=ROSTER_SCHEMA)
    )
    con.register(
        "record_frame", pl.DataFrame([record("r", "刘建国", father)], schema=RECORD_SCHEMA)
    )
    con.execute("CREATE TABLE roster_members AS SELECT * FROM roster_frame")
    con.execute(f"CREATE TABLE {records} AS SELECT * FROM record_frame")
    con.unregister("roster_frame")
    con.unregister("record_frame")


def test_working_tables_are_dropped_and_a_callers_namesake_survives() -> None:
    con = duckdb.connect()
    _inputs(con)
    # a caller's own temp table named like one of the matcher's is refused, never replaced
    con.execute("CREATE TEMP TABLE ff_decisions AS SELECT 42 AS answer")
    before = _tables(con)
    with pytest.raises(duckdb.CatalogException):
        match_records(con, negatives=None)
    assert _tables(con) == before
    assert con.sql("SELECT answer FROM ff_decisions").fetchall() == [(42,)]
    con.execute("DROP TABLE ff_decisions")
    before = _tables(con)
    assert match_records(con, negatives=None).matches["member_key"].to_list() == ["H1|f"]
    assert _tables(con) == before


def test_an_input_named_like_a_working_table_is_refused() -> None:
    con = duckdb.connect()
    _inputs(con, records=TABLES[0])
    with pytest.raises(ValueError, match="working tables"):
        match_records(con, records=TABLES[0], negatives=None)
