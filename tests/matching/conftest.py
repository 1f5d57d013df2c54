"""Fixture that runs the matcher on small frames registered in an in-memory DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl
import pytest

from pipelines.matching import blocking, matcher
from pipelines.matching.matcher import MatchResult, match_records
from pipelines.matching.workspace import Workspace
from tests.matching.builders import RECORD_SCHEMA, ROSTER_SCHEMA

Runner = Callable[..., MatchResult]


def _settle_nothing(ws: Workspace) -> None:
    ws.table("ff_settled", "SELECT NULL::BIGINT AS r_id, NULL::BIGINT AS m_id WHERE false")


def _sorted(result: MatchResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    return result.matches.sort("record_key"), result.unresolved.sort("record_key")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Register members, records and negative pairs in a fresh in-memory DuckDB and match.

    Every case is matched a second time the long way: no record settled before the search
    (decision.settle) and every pair blocking finds compared, whatever its ID level
    (scoring.id_levels). The shortcuts must change no outcome."""

    def _run(
        members: list[dict[str, Any]],
        records: list[dict[str, Any]],
        negatives: list[tuple[str, str, str]] | None = None,
        rejected: list[dict[str, Any]] | None = None,
    ) -> MatchResult:
        """`rejected`: roster rows the ingest rejected (the roster's `rejected` column)."""
        con = duckdb.connect()
        if rejected is None:
            roster = pl.DataFrame(members, schema=ROSTER_SCHEMA)
        else:
            flagged = [m | {"rejected": False} for m in members]
            flagged += [m | {"rejected": True} for m in rejected]
            roster = pl.DataFrame(flagged, schema=ROSTER_SCHEMA | {"rejected": pl.Boolean})
        con.register("roster_frame", roster)
        con.register("record_frame", pl.DataFrame(records, schema=RECORD_SCHEMA))
        con.execute("CREATE TABLE roster_members AS SELECT * FROM roster_frame")
        con.execute("CREATE TABLE match_input AS SELECT * FROM record_frame")
        con.register(
            "negative_frame",
            pl.DataFrame(
                negatives or [],
                schema={"source": pl.String, "record_key": pl.String, "member_key": pl.String},
                orient="row",
            ),
        )
        con.execute("CREATE TABLE negative_pairs AS SELECT * FROM negative_frame")
        result = match_records(con)
        with monkeypatch.context() as long_way:
            long_way.setattr(matcher, "settle", _settle_nothing)
            long_way.setattr(blocking, "id_levels", lambda pass_: None)
            searched = match_records(con)
        for short, long in zip(_sorted(result), _sorted(searched), strict=True):
            assert short.equals(long), "the shortcuts changed an outcome"
        keys = sorted(
            result.matches["record_key"].to_list() + result.unresolved["record_key"].to_list()
        )
        assert keys == sorted(r["record_key"] for r in records), "every record exactly once"
        con.close()
        return result

    return _run
