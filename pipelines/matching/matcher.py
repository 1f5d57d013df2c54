"""Matcher: ties each department record to one roster member, or says why it cannot.

Record linkage in four steps, one module each: blocking rules (`blocking.BLOCKING_RULES`) find
candidate pairs; comparison (`comparison.compare`) computes each pair's features as named
levels; the scoring table (`scoring.SCORES`) turns levels into a rank, a 匹配方式 and the reason
several candidates cannot be told apart; one decision step (`decision.decide`) ties, lists as
ambiguous or leaves unmatched. The search runs in passes (`ranks.Pass`: the ID, a repaired ID,
the name), each for the records the earlier ones found no candidate for. Records whose ID one
member holds under the same name (most of them) are settled before it (`decision.settle`): the
search would tie them to her alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.matching.blocking import (
    BLOCKING_RULES,
    PASS_RECORDS,
    USABLE_ID,
    find_pairs,
)
from pipelines.matching.comparison import FEATURES, compare, level_type
from pipelines.matching.decision import decide, settle
from pipelines.matching.ids import DESTROYED, USABLE_STATUSES
from pipelines.matching.labels import (
    CONFLICT_FACTOR,
    CONFLICT_SUFFIX,
    HOUSEHOLD_SUFFIX,
    METHODS,
    REASONS,
)
from pipelines.matching.names import name_keys
from pipelines.matching.places import TOWNSHIP_SUFFIXES, VILLAGE_SUFFIXES, suffix_pattern
from pipelines.matching.ranks import PASS_TYPE, Pass, round_number
from pipelines.matching.scoring import METHOD_TYPE, REASON_TYPE, SCORES, asks, gate, score, uses
from pipelines.matching.scoring import load as load_scoring_table
from pipelines.matching.workspace import TABLES, Workspace
from pipelines.warehouse import table_columns

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
# Statuses whose area code (id_area, or the ID's first six digits) is the one written: a usable
# ID, or one Excel rounded (its leading digits survive).
_AREA_INTACT = "(" + ", ".join(f"'{status}'" for status in (*USABLE_STATUSES, DESTROYED)) + ")"

MATCH_SCHEMA = {
    "record_key": pl.String,
    "member_key": pl.String,
    "household_id": pl.String,
    "tier": pl.Int8,
    "method": pl.String,
    "confidence": pl.Float64,
}
UNRESOLVED_SCHEMA = {
    "record_key": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "candidates": pl.List(pl.String),
}


@dataclass(frozen=True)
class MatchResult:
    """Ties (`matches`) and records that could not be tied to exactly one member (`unresolved`)."""

    matches: pl.DataFrame
    unresolved: pl.DataFrame


def match_records(
    con: duckdb.DuckDBPyConnection,
    records: str = "match_input",
    roster: str = "roster_members",
    negatives: str | None = "negative_pairs",
) -> MatchResult:
    """Tie every record of table `records` to at most one member of table `roster`.

    Every record comes back exactly once: in `matches` (with tier, 匹配方式 and 匹配可信度)
    or in `unresolved` (ambiguous with its candidates, or unmatched with the reason).
    Pairs in `negatives` (source, record_key, member_key) are never tied.
    """
    try:
        match_records_into(con, _OWN_OUTCOMES, records, roster, negatives)
        return outcome_frames(con, _OWN_OUTCOMES)
    finally:
        for table in _OWN_OUTCOMES:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


def outcome_frames(con: duckdb.DuckDBPyConnection, into: tuple[str, str]) -> MatchResult:
    """The outcome match_records_into left in `into`, as frames in the records' order."""
    matches, unresolved = (
        con.sql(f"SELECT * EXCLUDE (r_id) FROM {t} ORDER BY r_id").pl() for t in into
    )
    return MatchResult(
        matches=matches.cast(MATCH_SCHEMA),  # type: ignore[arg-type]
        unresolved=unresolved.cast(UNRESOLVED_SCHEMA),  # type: ignore[arg-type]
    )


# where match_records has match_records_into leave the outcome it hands back
_OWN_OUTCOMES = ("ff_outcome_matches", "ff_outcome_unresolved")


def match_records_into(
    con: duckdb.DuckDBPyConnection,
    into: tuple[str, str],
    records: str = "match_input",
    roster: str = "roster_members",
    negatives: str | None = "negative_pairs",
) -> None:
    """match_records, the outcome left in DuckDB: temp tables `into` = (ties, unresolved), created
    or replaced, with the columns of MATCH_SCHEMA and UNRESOLVED_SCHEMA and `r_id`, the record's
    place in `records` (the rows are not sorted by it: a caller orders them as it writes them).
    A caller that writes the outcome to the warehouse need not fetch it into Python."""
    outputs = [t for t in into if t not in _OWN_OUTCOMES]
    for table in (records, roster, negatives, *outputs):
        if table is not None and not _IDENTIFIER.match(table):
            raise ValueError(f"not a table name: {table!r}")
        if table is not None and table.split(".")[-1] in TABLES:
            raise ValueError(f"the matcher's working tables would hide table {table!r}")
    ws = Workspace(con)
    try:
        _prepare(ws, records, roster, negatives)
        settle(ws)
        for pass_ in Pass:
            _search(ws, pass_)
        decide(ws)
        _collect(ws, *into)
    finally:
        ws.close()


def _search(ws: Workspace, pass_: Pass) -> None:
    """One pass: block, compare and score, round by round. A round gated at a rank (`after`)
    searches only for the records that have no candidate ranked stronger yet."""
    # The ID pass searches for every record: a view costs less than a copy.
    (ws.view if pass_ is Pass.ID else ws.table)("ff_open_records", PASS_RECORDS[pass_])
    # The name and its spelling are always compared: the decision reads them too.
    features = {"name", "spelling"} | {feature for feature in FEATURES if uses(pass_, feature)}
    asked = {f: condition for f in ("rival", "namesake") if (condition := asks(pass_, f))}
    gates = {s.after for s in SCORES if s.pass_ is pass_} | {
        rule.after for rule in BLOCKING_RULES if rule.pass_ is pass_
    }
    for after in [None, *sorted(g for g in gates if g is not None)]:
        searched = f"(SELECT * FROM ff_open_records WHERE {gate(pass_, after)})"
        if find_pairs(ws, pass_, after, searched):
            compare(ws, pass_, round_number(after), features, asked)
        score(ws, pass_, after)


def _place(column: str, suffixes: tuple[str, ...]) -> str:
    # Clerks write 三十铺镇 or 三十铺, 北山村 or 北山村委会: compare the name without its suffix.
    pattern = suffix_pattern(suffixes)
    return f"nullif(regexp_replace(regexp_replace({column}, '\\s', '', 'g'), '{pattern}', ''), '')"


_TOWN = TOWNSHIP_SUFFIXES
_VILLAGE = VILLAGE_SUFFIXES


def _prepare(ws: Workspace, records: str, roster: str, negatives: str | None) -> None:
    con = ws.con
    distinct = con.sql(
        f"SELECT DISTINCT name FROM (SELECT name FROM {records} UNION ALL "
        f"SELECT name FROM {roster}) WHERE name IS NOT NULL"
    ).pl()
    ws.frame("ff_name_keys", name_keys(distinct["name"]))
    # a district writes a few hundred places: each spelling is cleaned once, then joined
    for table, column, suffixes, alias in (
        ("ff_towns", "township", _TOWN, "town"),
        ("ff_villages", "village", _VILLAGE, "village"),
    ):
        ws.table(
            table,
            f"""SELECT {column} AS written, {_place(column, suffixes)} AS {alias}
                FROM (SELECT {column} FROM {records} UNION SELECT {column} FROM {roster})
                WHERE {column} IS NOT NULL""",
        )

    birth_from_id = "try_strptime(substr({id}, 7, 8), '%Y%m%d')::DATE"
    # every certain digit of a destroyed ID (ids.normalise_ids), where the input carries it
    surviving = "s.id_prefix" if "id_prefix" in table_columns(con, records) else "NULL"
    # a destroyed ID's 15 kept digits ending in 0 (linkage.ROUNDED_ID_SQL): the birth date is
    # the one they tell or the one of the digits less one (…08260 may be …08259 rounded up)
    rounded = (
        "s.id_rounded::HUGEINT" if "id_rounded" in table_columns(con, records) else "NULL::HUGEINT"
    )
    rounded_birth = (
        "try_strptime(substr(lpad(({rounded} - {less})::VARCHAR, 15, '0'), 7, 8), '%Y%m%d')::DATE"
    )
    # a roster row the ingest rejected (its 户编号 destroyed …), where the roster carries them:
    # a candidate and a rival like any member, never tied and never listed (decision.decide)
    rejected = (
        "coalesce(s.rejected, false)" if "rejected" in table_columns(con, roster) else "false"
    )
    ws.table(
        "ff_members",
        f"""
        SELECT s.m_id,
               s.member_key::VARCHAR AS member_key,
               s.household_id::VARCHAR AS household_id,
               k.name_key AS nk, k.pinyin_key AS py, k.dialect_key AS dk,
               length(k.name_key) AS nlen,
               s.id_number AS id18,
               coalesce(s.id_status IN {USABLE_ID}, false) AS id_ok,
               coalesce(s.birth_date::DATE,
                        CASE WHEN s.id_status IN {USABLE_ID}
                             THEN {birth_from_id.format(id="s.id_number")} END) AS birth,
               t.town, v.village,
               coalesce(s.is_head, false) AS is_head,
               {rejected} AS rejected
        -- numbered before the join: a window over the joined rows would run on one thread
        FROM (SELECT (row_number() OVER ())::BIGINT AS m_id, * FROM {roster}) s
        LEFT JOIN ff_name_keys k ON s.name = k.name
        LEFT JOIN ff_towns t ON t.written = s.township
        LEFT JOIN ff_villages v ON v.written = s.village
        """,
    )
    ws.table(
        "ff_records",
        f"""
        SELECT s.r_id,
               s.record_key::VARCHAR AS record_key, s.source::VARCHAR AS source,
               k.name_key AS nk, k.pinyin_key AS py, k.dialect_key AS dk,
               length(k.name_key) AS nlen,
               s.id_number AS id18,
               coalesce(s.id_status, 'missing') AS id_status,
               coalesce(s.id_status IN {USABLE_ID}, false) AS id_ok,
               s.birth_date::DATE AS own_birth,
               coalesce(s.id_birth::DATE,
                        CASE WHEN s.id_status IN {USABLE_ID}
                             THEN {birth_from_id.format(id="s.id_number")} END) AS id_birth,
               {rounded_birth.format(rounded=rounded, less=0)} AS rounded_birth,
               {rounded_birth.format(rounded=rounded, less=1)} AS rounded_birth_alt,
               coalesce(s.id_area, left(s.id_number, 6)) AS area_written,
               CASE WHEN s.id_status IN {_AREA_INTACT}
                    THEN coalesce(s.id_area, left(s.id_number, 6)) END AS area,
               {surviving}::VARCHAR AS surviving,
               t.town, v.village,
               coalesce(s.household_level, false) AS hh_level
        FROM (SELECT (row_number() OVER ())::BIGINT AS r_id, * FROM {records}) s
        LEFT JOIN ff_name_keys k ON s.name = k.name
        LEFT JOIN ff_towns t ON t.written = s.township
        LEFT JOIN ff_villages v ON v.written = s.village
        """,
    )
    if negatives is None:
        ws.table("ff_ruled_out", "SELECT NULL::BIGINT AS r_id, NULL::BIGINT AS m_id WHERE false")
    else:
        ws.table(
            "ff_ruled_out",
            f"""
            SELECT DISTINCT r.r_id, m.m_id
            FROM {negatives} n
            JOIN ff_records r ON r.record_key = n.record_key
                          AND (n.source IS NULL OR r.source = n.source)
            JOIN ff_members m ON m.member_key = n.member_key
            """,
        )
    ws.table(
        "ff_id_holders",
        "SELECT r.r_id, m.m_id FROM ff_records r JOIN ff_members m ON m.id18 = r.id18",
    )
    load_scoring_table(ws)
    # What the passes add to, round by round.
    pair = f"NULL::{PASS_TYPE} AS pass, NULL::INTEGER AS round, NULL::BIGINT AS r_id, NULL::BIGINT AS m_id"
    ws.table("ff_candidate_pairs", f"SELECT {pair} WHERE false")
    levels = ", ".join(f"NULL::{level_type(feature)} AS {feature}" for feature in FEATURES)
    ws.table("ff_pair_features", f"SELECT {pair}, {levels} WHERE false")
    ws.table(
        "ff_scored_pairs",
        f"SELECT NULL::{PASS_TYPE} AS pass, NULL::BIGINT AS r_id, NULL::BIGINT AS m_id, "
        f"NULL::INTEGER AS rank, NULL::{METHOD_TYPE} AS method, NULL::{REASON_TYPE} AS reason "
        "WHERE false",
    )


def _collect(ws: Workspace, matches: str, unresolved: str) -> None:
    """The decisions as temp tables `matches` and `unresolved` (see match_records_into)."""
    con = ws.con
    ws.frame(
        "ff_method_labels",
        pl.DataFrame(
            {
                "code": list(METHODS),
                "tier": [m.tier for m in METHODS.values()],
                "label": [m.label for m in METHODS.values()],
                "confidence": [m.confidence for m in METHODS.values()],
            }
        ),
    )
    ws.frame(
        "ff_reason_texts", pl.DataFrame({"code": list(REASONS), "text": list(REASONS.values())})
    )
    # A name-based tie of a record whose ID belongs to someone else is worth less.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {matches} AS
        SELECT d.r_id, r.record_key::VARCHAR AS record_key,
               m.member_key::VARCHAR AS member_key, m.household_id::VARCHAR AS household_id,
               t.tier::TINYINT AS tier,
               (t.label || CASE WHEN c.r_id IS NOT NULL THEN ? ELSE '' END
                        || CASE WHEN r.hh_level THEN ? ELSE '' END
               )::VARCHAR AS method,
               round(t.confidence * CASE WHEN c.r_id IS NOT NULL THEN ? ELSE 1 END, 3)::DOUBLE
                   AS confidence
        FROM ff_decisions d
        JOIN ff_records r USING (r_id)
        JOIN ff_members m USING (m_id)
        JOIN ff_method_labels t ON t.code = d.method
        LEFT JOIN ff_disputed_ids c ON c.r_id = d.r_id
        WHERE d.status = 'matched'
        """,
        [CONFLICT_SUFFIX, HOUSEHOLD_SUFFIX, CONFLICT_FACTOR],
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {unresolved} AS
        WITH listed AS (
            SELECT d.r_id, list(m.member_key ORDER BY u.pos) AS candidates
            FROM (SELECT r_id, unnest(candidates) AS m_id,
                         generate_subscripts(candidates, 1) AS pos
                  FROM ff_decisions WHERE status <> 'matched') u
            JOIN ff_decisions d USING (r_id)
            JOIN ff_members m ON m.m_id = u.m_id
            WHERE NOT m.rejected
            GROUP BY d.r_id
        )
        SELECT d.r_id, r.record_key::VARCHAR AS record_key, d.status::VARCHAR AS status,
               x.text::VARCHAR AS reason,
               coalesce(l.candidates, []::VARCHAR[])::VARCHAR[] AS candidates
        FROM ff_decisions d
        JOIN ff_records r USING (r_id)
        JOIN ff_reason_texts x ON x.code = d.reason
        LEFT JOIN listed l ON l.r_id = d.r_id
        WHERE d.status <> 'matched'
    """)
