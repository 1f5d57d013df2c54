"""The matcher's working tables: DuckDB temp tables named for what they hold, dropped in one place."""

from __future__ import annotations

import duckdb
import polars as pl

# Every temp table the matcher creates. An input table of one of these names is refused: the
# matcher's table would hide it.
TABLES = (
    "ff_name_keys",  # name → name key, pinyin key, accent key
    "ff_towns",  # each township as written → the name compared bare (no 镇/乡/街道, no spaces)
    "ff_villages",  # each village as written → likewise (no 村/居委会…)
    "ff_records",  # the department records, numbered (r_id), with name keys and places compared bare
    "ff_members",  # the roster members, numbered (m_id), likewise
    "ff_ruled_out",  # record–member pairs a person answered 非本人 for: never compared
    "ff_id_holders",  # who in the roster holds each record's ID number
    "ff_settled",  # records tied before the search: their ID's one holder, the same name
    "ff_open_records",  # the records the current pass searches for, with the evidence it trusts
    "ff_record_id_repairs",  # blocking keys: repairs of the records' failing IDs
    "ff_member_id_repairs",  # blocking keys: repairs of the members' failing IDs
    "ff_record_deletion_keys",  # blocking keys: a name and its one-character deletions
    "ff_member_deletion_keys",
    "ff_candidate_pairs",  # every pair blocking found: pass, round, r_id, m_id
    "ff_pair_features",  # one row per candidate pair: its features, as levels
    "ff_score_lines",  # the scoring table (scoring.SCORES): line, rank, method, reason
    "ff_scored_pairs",  # rank, method and reason of each pair the scoring table scores
    "ff_disputed_ids",  # records of the name pass whose ID another person holds
    "ff_decisions",  # per record: matched, ambiguous or unmatched, with the reason
    "ff_method_labels",  # METHODS as a table
    "ff_reason_texts",  # REASONS as a table
    "ff_outcome_matches",  # match_records: the outcome it hands back (not the workspace's own)
    "ff_outcome_unresolved",
)
_FRAME = "_ff_frame"


class Workspace:
    """The temp tables of one `match_records` call. Each is created under its name in `TABLES`
    (never with OR REPLACE, so that a caller's temp table of that name is never replaced) and
    `close` drops exactly the ones this call created."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._created: dict[str, str] = {}  # name → TABLE or VIEW

    def table(self, name: str, sql: str, params: list | None = None) -> None:
        """(Re)create temp table `name` as the result of `sql`."""
        self._create("TABLE", name, f"AS {sql}", params)

    def view(self, name: str, sql: str) -> None:
        """(Re)create `name` as a temp view of `sql`: for a relation cheaper to recompute than
        to copy."""
        self._create("VIEW", name, f"AS {sql}")

    def _create(self, kind: str, name: str, body: str, params: list | None = None) -> None:
        if name not in TABLES:
            raise ValueError(f"not a workspace table: {name}")
        if name in self._created:
            self.con.execute(f"DROP {self._created.pop(name)} temp.main.{name}")
        self.con.execute(f"CREATE TEMP {kind} {name} {body}", params)
        self._created[name] = kind

    def frame(self, name: str, frame: pl.DataFrame) -> None:
        """(Re)create temp table `name` holding `frame`."""
        self.con.register(_FRAME, frame)
        try:
            self.table(name, f"SELECT * FROM {_FRAME}")
        finally:
            self.con.unregister(_FRAME)

    def close(self) -> None:
        # Qualified: an unqualified DROP would fall through to a caller's table of the same name.
        for name, kind in reversed(self._created.items()):
            self.con.execute(f"DROP {kind} IF EXISTS temp.main.{name}")
        self._created.clear()
