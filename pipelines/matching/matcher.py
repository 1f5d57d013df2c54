"""Tiered matcher: ties each department record to one roster member, or says why it cannot."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from pipelines.matching.labels import (
    CONFLICT_FACTOR,
    CONFLICT_SUFFIX,
    HOUSEHOLD_SUFFIX,
    METHODS,
    REASONS,
)
from pipelines.matching.names import name_keys
from pipelines.matching.repair import checksum_neighbours, legacy_neighbours

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_USABLE_ID = "('valid', 'converted15', 'disability20')"
# Statuses whose area code (id_area, or the ID's first six digits) is the one written: a usable
# ID, or one Excel rounded (its leading digits survive). A mistyped ID (bad checksum, bad date,
# invalid) may carry the typo in its area code — a swap across the area and the birth date
# damages both — so its area only rules out members whose area is more than one typo away.
_AREA_INTACT = "('valid', 'converted15', 'disability20', 'destroyed')"
# Ranks at or above this are listed as candidates of an unresolved record but never tied.
_LISTED_ONLY = 90
_TEMP_TABLES = (
    "_ff_names",
    "_ff_r",
    "_ff_m",
    "_ff_neg",
    "_ff_dec",
    "_ff_holder",
    "_ff_undecided_holder",
    "_ff_conflict",
    "_ff_cand",
    "_ff_open",
    "_ff_repair",
    "_ff_near_r",
    "_ff_near_m",
    "_ff_single",
)
_FRAMES = (
    "_ff_keys",
    "_ff_variants",
    "_ff_roster_variants",
    "_ff_near",
    "_ff_methods",
    "_ff_reasons",
)

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
    for table in (records, roster, negatives):
        if table is not None and not _IDENTIFIER.match(table):
            raise ValueError(f"not a table name: {table!r}")
    _drop_temp_tables(con)
    try:
        _prepare(con, records, roster, negatives)
        _exact_id_tier(con)
        _repair_tier(con)
        _name_tiers(con)
        _unmatched(con)
        return _collect(con)
    finally:
        _drop_temp_tables(con)


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    # Qualified: an unqualified DROP would fall through to a caller's table of the same name.
    for table in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    for frame in _FRAMES:
        con.unregister(frame)


def _not_negative(r_id: str, m_id: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM _ff_neg n WHERE n.r_id = {r_id} AND n.m_id = {m_id})"


def _place(column: str, suffixes: str) -> str:
    # Clerks write 三十铺镇 or 三十铺, 北山村 or 北山村委会: compare the name without its suffix.
    return (
        f"nullif(regexp_replace(regexp_replace({column}, '\\s', '', 'g'), '({suffixes})$', ''), '')"
    )


_TOWN = "街道办事处|街道|镇|乡"
_VILLAGE = "村民委员会|村委会|村"


def _prepare(
    con: duckdb.DuckDBPyConnection, records: str, roster: str, negatives: str | None
) -> None:
    distinct = con.sql(
        f"SELECT DISTINCT name FROM (SELECT name FROM {records} UNION ALL "
        f"SELECT name FROM {roster}) WHERE name IS NOT NULL"
    ).pl()
    con.register("_ff_keys", name_keys(distinct["name"]))
    con.execute("CREATE TEMP TABLE _ff_names AS SELECT * FROM _ff_keys")
    con.unregister("_ff_keys")

    birth_from_id = "try_strptime(substr({id}, 7, 8), '%Y%m%d')::DATE"
    con.execute(f"""
        CREATE TEMP TABLE _ff_m AS
        SELECT s.m_id,
               s.member_key::VARCHAR AS member_key,
               s.household_id::VARCHAR AS household_id,
               k.name_key AS nk, k.pinyin_key AS py, k.dialect_key AS dk,
               length(k.name_key) AS nlen,
               s.id_number AS id18,
               coalesce(s.id_status IN {_USABLE_ID}, false) AS id_ok,
               coalesce(s.birth_date::DATE,
                        CASE WHEN s.id_status IN {_USABLE_ID}
                             THEN {birth_from_id.format(id="s.id_number")} END) AS birth,
               {_place("s.township", _TOWN)} AS town,
               {_place("s.village", _VILLAGE)} AS village,
               coalesce(s.is_head, false) AS is_head
        -- numbered before the join: a window over the joined rows would run on one thread
        FROM (SELECT (row_number() OVER ())::BIGINT AS m_id, * FROM {roster}) s
        LEFT JOIN _ff_names k ON s.name = k.name
    """)
    con.execute(f"""
        CREATE TEMP TABLE _ff_r AS
        SELECT s.r_id,
               s.record_key::VARCHAR AS record_key, s.source::VARCHAR AS source,
               k.name_key AS nk, k.pinyin_key AS py, k.dialect_key AS dk,
               length(k.name_key) AS nlen,
               s.id_number AS id18,
               coalesce(s.id_status, 'missing') AS id_status,
               coalesce(s.id_status IN {_USABLE_ID}, false) AS id_ok,
               s.birth_date::DATE AS own_birth,
               coalesce(s.id_birth::DATE,
                        CASE WHEN s.id_status IN {_USABLE_ID}
                             THEN {birth_from_id.format(id="s.id_number")} END) AS id_birth,
               coalesce(s.id_area, left(s.id_number, 6)) AS area_written,
               CASE WHEN s.id_status IN {_AREA_INTACT}
                    THEN coalesce(s.id_area, left(s.id_number, 6)) END AS area,
               {_place("s.township", _TOWN)} AS town,
               {_place("s.village", _VILLAGE)} AS village,
               coalesce(s.household_level, false) AS hh_level
        FROM (SELECT (row_number() OVER ())::BIGINT AS r_id, * FROM {records}) s
        LEFT JOIN _ff_names k ON s.name = k.name
    """)
    if negatives is None:
        con.execute("CREATE TEMP TABLE _ff_neg (r_id BIGINT, m_id BIGINT)")
    else:
        con.execute(f"""
            CREATE TEMP TABLE _ff_neg AS
            SELECT DISTINCT r.r_id, m.m_id
            FROM {negatives} n
            JOIN _ff_r r ON r.record_key = n.record_key
                        AND (n.source IS NULL OR r.source = n.source)
            JOIN _ff_m m ON m.member_key = n.member_key
        """)
    con.execute("""
        CREATE TEMP TABLE _ff_dec (
            r_id BIGINT, status VARCHAR, m_id BIGINT, method VARCHAR, reason VARCHAR,
            candidates BIGINT[])
    """)
    con.execute("CREATE TEMP TABLE _ff_conflict (r_id BIGINT, m_id BIGINT, near BOOLEAN)")
    con.execute(
        "CREATE TEMP TABLE _ff_cand (r_id BIGINT, m_id BIGINT, rank INTEGER, "
        "method VARCHAR, reason VARCHAR)"
    )


def _near_pairs(con: duckdb.DuckDBPyConnection, pairs_sql: str) -> pl.DataFrame:
    """Keep the pairs whose name keys `a`, `b` are at most one edit apart.

    Only candidate pairs that blocking left reach Python; rapidfuzz scores them in one
    vectorised call on both cores.
    """
    pairs = con.sql(pairs_sql).pl().drop_nulls(["a", "b"])
    if pairs.height == 0:
        return pairs.select("r_id", "m_id")
    distance = process.cpdist(
        pairs["a"].to_list(),
        pairs["b"].to_list(),
        scorer=Levenshtein.distance,
        score_cutoff=1,
        workers=-1,
    )
    return pairs.filter(pl.Series(distance <= 1)).select("r_id", "m_id")


def _near_name_pairs(con: duckdb.DuckDBPyConnection, pairs_sql: str) -> pl.DataFrame:
    """The `r_id, m_id` pairs of `pairs_sql` whose names are near, as named levels.

    Levels: `dialect`, the names sound alike once a local accent's confusions are folded
    (王建玲 for 王建林); else one edit apart: `near_dropped`, a character dropped or added
    (王秀 for 王秀英), `near`, one character other on a name of three or more (王季英),
    `near_short`, on a two-character name (王强 for 王伟). A name reduced to one character is
    too little to call near. Returns `r_id, m_id, level`.
    """
    pairs = con.sql(f"""
        SELECT p.r_id, p.m_id, r.nk AS a, m.nk AS b, r.nlen, m.nlen AS m_nlen,
               coalesce(r.dk = m.dk, false) AS same_sound
        FROM ({pairs_sql}) p JOIN _ff_r r USING (r_id) JOIN _ff_m m USING (m_id)
        WHERE r.nk IS NOT NULL AND m.nk IS NOT NULL AND least(r.nlen, m.nlen) >= 2
    """).pl()
    distance = process.cpdist(
        pairs["a"].to_list(),
        pairs["b"].to_list(),
        scorer=Levenshtein.distance,
        score_cutoff=1,
        workers=-1,
    )
    one_edit = pl.Series(distance <= 1) if pairs.height else pl.Series([], dtype=pl.Boolean)
    return pairs.filter(pl.col("same_sound") | one_edit).select(
        "r_id",
        "m_id",
        level=pl.when("same_sound")
        .then(pl.lit("dialect"))
        .when(pl.col("nlen") != pl.col("m_nlen"))
        .then(pl.lit("near_dropped"))
        .when(pl.col("nlen") >= 3)
        .then(pl.lit("near"))
        .otherwise(pl.lit("near_short")),
    )


def _insert_unrivalled(
    con: duckdb.DuckDBPyConnection,
    pairs: pl.DataFrame,
    *,
    rank: int,
    reason: str,
    birth: str = "r.own_birth",
) -> None:
    """Add near-name pairs `r_id, m_id, method` to `_ff_cand`, each judged against its rivals:
    a near name is tied to an ID's holder only when nobody else in the holder's household, nor
    in the record's village, carries the written name better — the same name or the same
    pinyin. (A folded accent is no rival: it finds someone else as often as the person.)
    Siblings often differ in one character (辈分字): the record of one under the other's number
    stays a conflict.
    A rival whose birth date contradicts the record's (`birth`, an expression over `_ff_r r`)
    is not one; a rival a person ruled out (非本人) still is: the name it explains does not
    become the holder's.
    """
    con.register("_ff_near", pairs)
    con.execute(
        f"""
        INSERT INTO _ff_cand
        WITH near AS (
            SELECT n.r_id, n.m_id, n.method, h.household_id,
                   r.nk, r.py, r.village, r.town, {birth} AS own_birth
            FROM _ff_near n JOIN _ff_r r USING (r_id) JOIN _ff_m h USING (m_id)
        ), others AS (
            SELECT n.r_id, n.m_id, n.nk, n.py, n.own_birth, x.m_id AS x_id
            FROM near n JOIN _ff_m x ON x.household_id = n.household_id
            UNION ALL
            SELECT n.r_id, n.m_id, n.nk, n.py, n.own_birth, x.m_id
            FROM near n JOIN _ff_m x ON x.village = n.village AND x.py = n.py
            WHERE n.town IS NULL OR x.town IS NULL OR x.town = n.town
            UNION ALL
            SELECT n.r_id, n.m_id, n.nk, n.py, n.own_birth, x.m_id
            FROM near n JOIN _ff_m x ON x.village = n.village AND x.nk = n.nk
            WHERE n.town IS NULL OR x.town IS NULL OR x.town = n.town
        ), rivalled AS (
            SELECT DISTINCT o.r_id, o.m_id
            FROM others o JOIN _ff_m x ON x.m_id = o.x_id
            WHERE o.x_id <> o.m_id AND (x.nk = o.nk OR x.py = o.py)
              AND (o.own_birth IS NULL OR x.birth IS NULL OR x.birth = o.own_birth)
        )
        SELECT n.r_id, n.m_id, {rank}, n.method, ?
        FROM near n ANTI JOIN rivalled v ON v.r_id = n.r_id AND v.m_id = n.m_id
        """,
        [reason],
    )
    con.unregister("_ff_near")


def _decide(con: duckdb.DuckDBPyConnection) -> None:
    """Turn the candidates in `_ff_cand` into decisions, then empty it.

    Per record, the best (lowest) rank wins: one member there (or, for a household-level
    record, one household) is a tie; more is ambiguous, listing every candidate.
    """
    # Most records have one candidate: tie them without the window and list machinery.
    con.execute(f"""
        CREATE TEMP TABLE _ff_single AS
        SELECT r_id, any_value(m_id) AS m_id, any_value(method) AS method
        FROM _ff_cand GROUP BY r_id HAVING count(*) = 1 AND min(rank) < {_LISTED_ONLY}
    """)
    con.execute(
        "INSERT INTO _ff_dec SELECT r_id, 'matched', m_id, method, NULL, NULL FROM _ff_single"
    )
    con.execute(f"""
        INSERT INTO _ff_dec
        WITH per_pair AS (
            SELECT r_id, m_id, min(rank) AS rank,
                   arg_min(method, rank) AS method, arg_min(reason, rank) AS reason
            FROM _ff_cand WHERE r_id NOT IN (SELECT r_id FROM _ff_single)
            GROUP BY r_id, m_id
        ), ranked AS (
            SELECT p.*, m.household_id, m.is_head, r.hh_level,
                   min(CASE WHEN p.rank < {_LISTED_ONLY} THEN p.rank END)
                       OVER (PARTITION BY p.r_id) AS best
            FROM per_pair p JOIN _ff_m m USING (m_id) JOIN _ff_r r USING (r_id)
        ), grouped AS (
            SELECT r_id, any_value(hh_level) AS hh_level,
                   count(*) FILTER (WHERE rank = best) AS n_best,
                   count(DISTINCT household_id) FILTER (WHERE rank = best) AS households,
                   arg_min(m_id, {{'head': NOT is_head, 'm': m_id}})
                       FILTER (WHERE rank = best) AS pick,
                   arg_min(method, {{'head': NOT is_head, 'm': m_id}})
                       FILTER (WHERE rank = best) AS method,
                   count(DISTINCT household_id) FILTER (WHERE rank = best AND is_head)
                       AS head_households,
                   arg_min(m_id, m_id) FILTER (WHERE rank = best AND is_head) AS head_pick,
                   coalesce(any_value(reason) FILTER (WHERE rank = best),
                            any_value(reason)) AS reason,
                   list(m_id ORDER BY rank, m_id) AS candidates
            FROM ranked GROUP BY r_id
        )
        -- A household-level record names the 户主: among namesakes in several households, the
        -- one who is 户主 in the roster is meant.
        SELECT r_id,
               CASE WHEN n_best = 1 OR (hh_level AND n_best > 0
                                        AND (households = 1 OR head_households = 1))
                    THEN 'matched' ELSE 'ambiguous' END AS status,
               CASE WHEN n_best = 1 OR (hh_level AND n_best > 0 AND households = 1) THEN pick
                    WHEN hh_level AND n_best > 0 AND head_households = 1 THEN head_pick
               END AS m_id,
               method, reason, candidates
        FROM grouped
    """)
    con.execute("DELETE FROM _ff_cand")
    con.execute("DROP TABLE temp.main._ff_single")


def _exact_id_tier(con: duckdb.DuckDBPyConnection) -> None:
    """Tier 1 (the ID's holder, name agreeing) and tier 3 (another member of the holder's household)."""
    con.execute("""
        CREATE TEMP TABLE _ff_holder AS
        SELECT r.r_id, m.m_id, m.household_id,
               CASE WHEN r.nk = m.nk THEN 1 WHEN r.py = m.py THEN 2 ELSE 0 END AS lvl,
               n.r_id IS NOT NULL AS negative,
               coalesce(r.own_birth <> m.birth, false) AS birth_conflict
        FROM _ff_r r JOIN _ff_m m ON r.id18 = m.id18
        LEFT JOIN _ff_neg n ON n.r_id = r.r_id AND n.m_id = m.m_id
    """)
    con.execute("""
        INSERT INTO _ff_cand
        SELECT r_id, m_id, CASE WHEN birth_conflict THEN lvl + 4 ELSE lvl END,
               CASE lvl WHEN 1 THEN 'id' ELSE 'id_homophone' END, 'duplicate_id'
        FROM _ff_holder WHERE lvl > 0 AND NOT negative
    """)
    # A child's claim filed under a parent's number: the ID finds the household, the name
    # (and the record's own birth date, where given) finds the member.
    con.execute("""
        INSERT INTO _ff_cand
        WITH open AS (
            SELECT r_id FROM _ff_holder GROUP BY r_id
            HAVING NOT bool_or(lvl > 0 AND NOT negative AND NOT birth_conflict)
        ), households AS (
            SELECT DISTINCT h.r_id, h.household_id FROM _ff_holder h SEMI JOIN open USING (r_id)
        )
        SELECT h.r_id, m.m_id, CASE WHEN r.nk = m.nk THEN 3 ELSE 4 END,
               CASE WHEN r.nk = m.nk THEN 'family' ELSE 'family_homophone' END,
               'family_multiple'
        FROM households h
        JOIN _ff_r r USING (r_id)
        JOIN _ff_m m ON m.household_id = h.household_id
        LEFT JOIN _ff_neg n ON n.r_id = h.r_id AND n.m_id = m.m_id
        WHERE m.id18 IS DISTINCT FROM r.id18
          AND (r.nk = m.nk OR r.py = m.py)
          AND (r.own_birth IS NULL OR m.birth IS NULL OR r.own_birth = m.birth)
          AND n.r_id IS NULL
    """)
    # A misspelt name under the right ID (形近字, a dropped or added character, a local accent):
    # the holder is the person unless a rival fits the written name better. Records with a
    # household member of that name (or sound) are already family candidates; the holder with
    # a birth date other than the record's own is not the person.
    near = _near_name_pairs(
        con,
        """
        SELECT h.r_id, h.m_id
        FROM _ff_holder h JOIN _ff_r r USING (r_id) JOIN _ff_m m USING (m_id)
        WHERE h.lvl = 0 AND NOT h.negative AND NOT h.birth_conflict
          AND h.r_id NOT IN (SELECT r_id FROM _ff_cand)
        """,
    )
    near = near.select("r_id", "m_id", method=pl.lit("id_") + pl.col("level"))
    _insert_unrivalled(con, near, rank=7, reason="duplicate_id")
    _decide(con)
    # The ID's holder exists but nobody tied: an ID/name conflict. The holders are listed as
    # candidates if the name tiers cannot find exactly one person either. A holder whose name
    # is one character or one accent away from the record's (a two-character name, too short
    # for the near-name tie above) is as likely the person under a misspelt name as the
    # record's namesake is: `near` keeps the name tiers from tying such a record.
    con.execute("""
        CREATE TEMP TABLE _ff_undecided_holder AS
        SELECT * FROM _ff_holder WHERE r_id NOT IN (SELECT r_id FROM _ff_dec)
    """)
    near = _near_pairs(
        con,
        """
        SELECT h.r_id, h.m_id, r.nk AS a, m.nk AS b
        FROM _ff_undecided_holder h JOIN _ff_r r USING (r_id) JOIN _ff_m m USING (m_id)
        WHERE NOT h.negative AND r.dk IS DISTINCT FROM m.dk
        """,
    )
    con.register("_ff_near", near)
    con.execute("""
        INSERT INTO _ff_conflict
        SELECT h.r_id, h.m_id,
               r.dk = m.dk OR n.r_id IS NOT NULL
        FROM _ff_undecided_holder h JOIN _ff_r r USING (r_id) JOIN _ff_m m USING (m_id)
        LEFT JOIN _ff_near n ON n.r_id = h.r_id AND n.m_id = h.m_id
        WHERE NOT h.negative
    """)
    con.unregister("_ff_near")
    con.execute("""
        INSERT INTO _ff_dec
        SELECT r_id, 'ambiguous', NULL, NULL, 'no_name_for_id',
               list(m_id ORDER BY m_id)
        FROM _ff_conflict c
        WHERE r_id IN (SELECT r_id FROM _ff_r WHERE nk IS NULL)
        GROUP BY r_id
    """)


def _repair_tier(con: duckdb.DuckDBPyConnection) -> None:
    """Tier 2: an ID not in the roster, one substitution or adjacent transposition away from a
    member's ID, tied only when that member's name agrees."""
    open_ids = con.sql("""
        SELECT r_id, id18, id_status FROM _ff_r
        WHERE id18 IS NOT NULL AND nk IS NOT NULL
          AND r_id NOT IN (SELECT r_id FROM _ff_holder)
    """).pl()
    failing = open_ids.filter(~pl.col("id_status").is_in(["valid", "converted15", "disability20"]))
    legacy = open_ids.filter(pl.col("id_status") == "converted15")
    variants = pl.concat(
        [
            checksum_neighbours(failing["r_id"], failing["id18"]),
            legacy_neighbours(legacy["r_id"], legacy["id18"]),
        ]
    )
    # The typo may sit in the roster instead: a member's failing ID one edit from the record's.
    roster_bad = con.sql("SELECT m_id, id18 FROM _ff_m WHERE id18 IS NOT NULL AND NOT id_ok").pl()
    con.register("_ff_variants", variants)
    con.register("_ff_roster_variants", checksum_neighbours(roster_bad["m_id"], roster_bad["id18"]))
    con.execute("""
        CREATE TEMP TABLE _ff_repair AS
        SELECT DISTINCT v.key AS r_id, m.m_id
        FROM _ff_variants v JOIN _ff_m m ON m.id18 = v.neighbour
        UNION
        SELECT r.r_id, v.key AS m_id
        FROM _ff_roster_variants v JOIN _ff_r r ON r.id18 = v.neighbour
        WHERE r.id_ok AND r.nk IS NOT NULL AND r.r_id NOT IN (SELECT r_id FROM _ff_holder)
    """)
    con.unregister("_ff_variants")
    con.unregister("_ff_roster_variants")
    con.execute(f"""
        INSERT INTO _ff_cand
        SELECT p.r_id, p.m_id, CASE WHEN r.nk = m.nk THEN 1 ELSE 2 END,
               CASE WHEN r.nk = m.nk THEN 'repair' ELSE 'repair_homophone' END,
               'repair_multiple'
        FROM _ff_repair p JOIN _ff_r r USING (r_id) JOIN _ff_m m USING (m_id)
        WHERE (r.nk = m.nk OR r.py = m.py) AND {_not_negative("p.r_id", "p.m_id")}
    """)
    near = _near_pairs(
        con,
        f"""
        SELECT p.r_id, p.m_id, r.nk AS a, m.nk AS b
        FROM _ff_repair p JOIN _ff_r r USING (r_id) JOIN _ff_m m USING (m_id)
        WHERE r.nk <> m.nk AND r.py <> m.py AND {_not_negative("p.r_id", "p.m_id")}
        """,
    ).with_columns(method=pl.lit("repair_near"))
    # the repaired ID's birth date is the record's own (unless the typo sits in it)
    _insert_unrivalled(
        con,
        near,
        rank=3,
        reason="repair_multiple",
        birth="coalesce(r.own_birth, r.id_birth)",
    )
    con.execute("DROP TABLE temp.main._ff_repair")
    # A million rows no longer needed: what later tiers need is in _ff_undecided_holder.
    con.execute("DROP TABLE temp.main._ff_holder")
    _decide(con)


def _name_tiers(con: duckdb.DuckDBPyConnection) -> None:
    """Tiers 4 (name + birth date) and 5 (name + village) for every record still open."""
    # What survives of a record's own ID narrows the search. An ID that belongs to someone
    # else (a conflict) says nothing about this person, so its birth date and area are unused.
    con.execute("""
        CREATE TEMP TABLE _ff_open AS
        SELECT r.r_id, r.nk, r.py, r.dk, r.nlen, r.town, r.village, r.id18,
               c.r_id IS NOT NULL AS conflict,
               coalesce(c.near, false) AS conflict_near,
               CASE WHEN c.r_id IS NULL THEN coalesce(r.own_birth, r.id_birth)
                    ELSE r.own_birth END AS birth,
               CASE WHEN c.r_id IS NULL AND h.r_id IS NULL THEN r.area END AS area,
               CASE WHEN c.r_id IS NULL AND h.r_id IS NULL AND r.area IS NULL
                    THEN r.area_written END AS area_mistyped,
               -- a usable ID that no member holds: a member with another usable ID is
               -- someone else. Unless it ends in 000: it may be an ID Excel rounded that
               -- passed its checksum by chance (1 in 11), which the ingest cannot always tell.
               r.id_ok AND h.r_id IS NULL AND NOT r.id18 LIKE '%000' AS id_trusted
        FROM _ff_r r
        LEFT JOIN (SELECT r_id, bool_or(near) AS near FROM _ff_conflict GROUP BY r_id) c
            USING (r_id)
        -- every holder of a record still open is in this small table
        LEFT JOIN (SELECT DISTINCT r_id FROM _ff_undecided_holder) h USING (r_id)
        WHERE r.nk IS NOT NULL AND r.r_id NOT IN (SELECT r_id FROM _ff_dec)
    """)
    consistent = f"""
        (o.birth IS NULL OR m.birth IS NULL OR o.birth = m.birth)
        AND (o.town IS NULL OR m.town IS NULL OR o.town = m.town)
        AND (o.village IS NULL OR m.village IS NULL OR o.village = m.village)
        AND (o.area IS NULL OR NOT m.id_ok OR left(m.id18, 6) = o.area)
        AND (o.area_mistyped IS NULL OR NOT m.id_ok
             OR damerau_levenshtein(left(m.id18, 6), o.area_mistyped) <= 1)
        AND NOT (o.id_trusted AND m.id_ok AND m.id18 <> o.id18)
        AND {_not_negative("o.r_id", "m.m_id")}
    """
    # Name levels: the same name key, the same pinyin (typed by ear), the same pinyin once the
    # accent's confusions are folded (zh/z, n/l, in/ing). A birth date agreeing outranks a
    # village, a village a township. The accent level folds so much that, with a village
    # alone, it finds someone else as often as the person (on the bench: 2 right in 25):
    # listed, not tied.
    con.execute(f"""
        INSERT INTO _ff_cand
        WITH pairs AS (
            -- equal pinyin implies an equal accent key, equal name keys almost always do
            -- (not for 周乾 against 周干, which OpenCC made of it)
            SELECT o.r_id, m.m_id FROM _ff_open o JOIN _ff_m m ON m.birth = o.birth AND m.dk = o.dk
            UNION
            SELECT o.r_id, m.m_id FROM _ff_open o JOIN _ff_m m ON m.birth = o.birth AND m.nk = o.nk
            UNION
            SELECT o.r_id, m.m_id FROM _ff_open o
            JOIN _ff_m m ON m.village = o.village AND m.dk = o.dk
            UNION
            SELECT o.r_id, m.m_id FROM _ff_open o
            JOIN _ff_m m ON m.village = o.village AND m.nk = o.nk
            UNION
            SELECT o.r_id, m.m_id FROM _ff_open o
            JOIN _ff_m m ON o.village IS NULL AND m.town = o.town AND m.dk = o.dk
            UNION
            SELECT o.r_id, m.m_id FROM _ff_open o
            JOIN _ff_m m ON o.village IS NULL AND m.town = o.town AND m.nk = o.nk
        ), scored AS (
            SELECT p.r_id, p.m_id,
                   CASE WHEN o.nk = m.nk THEN 0 WHEN o.py = m.py THEN 1 ELSE 2 END AS level,
                   o.birth IS NOT NULL AND m.birth IS NOT NULL AS birth_eq,
                   o.village IS NOT NULL AND o.village = m.village AS village_eq,
                   o.town IS NOT NULL AND o.town = m.town AS town_eq,
                   o.village IS NULL AS village_unknown
            FROM pairs p JOIN _ff_open o USING (r_id) JOIN _ff_m m USING (m_id)
            WHERE {consistent}
        )
        SELECT r_id, m_id,
               CASE WHEN birth_eq THEN 1 + level
                    WHEN village_eq AND level < 2 THEN 5 + level
                    WHEN NOT village_eq AND level = 0 THEN 7
                    ELSE {_LISTED_ONLY} END,
               CASE WHEN birth_eq
                    THEN 'name_birth'
                         || CASE WHEN village_eq THEN '_village'
                                 WHEN town_eq THEN '_town' ELSE '' END
                    WHEN village_eq THEN 'name_village'
                    ELSE 'name_town' END
               || ['', '_homophone', '_dialect'][level + 1],
               CASE WHEN birth_eq OR (village_eq AND level < 2) OR level = 0 THEN 'same_name'
                    ELSE 'near_name_only' END
        FROM scored
        -- A township alone (a per-township file without 村) is a large block: only the same
        -- name ties there; a homophone is listed (on the bench 4 in 5 were someone else).
        WHERE birth_eq OR village_eq OR (town_eq AND village_unknown AND level < 2)
    """)
    # One-character edits (形近字, a dropped or added character) on 3–4 character names, within
    # a village, for records the phonetic keys left without any candidate. Village blocks are
    # large: they are cut by deletion keys (two names one edit apart share the name or a
    # one-deletion variant) before rapidfuzz confirms the distance.
    con.execute(f"""
        CREATE TEMP TABLE _ff_near_r AS
        SELECT r_id, village, nk, unnest(
                   [nk] || [substring(nk, 1, i - 1) || substring(nk, i + 1) FOR i IN range(1, nlen + 1)]
               ) AS dkey
        FROM _ff_open
        WHERE village IS NOT NULL AND nlen BETWEEN 3 AND 4
          AND r_id NOT IN (SELECT r_id FROM _ff_cand WHERE rank < {_LISTED_ONLY})
    """)
    con.execute("""
        CREATE TEMP TABLE _ff_near_m AS
        SELECT m_id, village, unnest(
                   [nk] || [substring(nk, 1, i - 1) || substring(nk, i + 1) FOR i IN range(1, nlen + 1)]
               ) AS dkey
        FROM _ff_m
        WHERE nlen BETWEEN 3 AND 4 AND village IN (SELECT DISTINCT village FROM _ff_near_r)
    """)
    near = _near_pairs(
        con,
        """
        SELECT DISTINCT r.r_id, k.m_id, r.nk AS a, m.nk AS b
        FROM _ff_near_r r
        JOIN _ff_near_m k ON k.village = r.village AND k.dkey = r.dkey
        JOIN _ff_m m ON m.m_id = k.m_id
        WHERE m.nk <> r.nk
        """,
    )
    con.register("_ff_near", near)
    # One character off within a village is as likely someone else (on the bench, without a
    # birth date: 1 right in 4), and siblings share all but one character (辈分字). It is tied
    # only when the birth date agrees and nobody in the village carries the record's name
    # with another birth date (the record's birth may be a sibling's, from the sibling's ID);
    # otherwise it is listed for a person to decide.
    con.execute(f"""
        INSERT INTO _ff_cand
        WITH scored AS (
            SELECT n.r_id, n.m_id,
                   o.birth IS NOT NULL AND m.birth IS NOT NULL
                   AND NOT EXISTS (
                       SELECT 1 FROM _ff_m x
                       WHERE x.village = o.village AND (x.nk = o.nk OR x.py = o.py)
                   ) AS confirmed
            FROM _ff_near n JOIN _ff_open o USING (r_id) JOIN _ff_m m USING (m_id)
            WHERE {consistent}
        )
        SELECT r_id, m_id, CASE WHEN confirmed THEN 9 ELSE {_LISTED_ONLY} END,
               'name_birth_village_near',
               CASE WHEN confirmed THEN 'same_name' ELSE 'near_name_only' END
        FROM scored
    """)
    con.unregister("_ff_near")
    con.execute("DROP TABLE temp.main._ff_near_r")
    con.execute("DROP TABLE temp.main._ff_near_m")
    con.execute(f"""
        UPDATE _ff_cand SET rank = {_LISTED_ONLY}
        WHERE r_id IN (SELECT r_id FROM _ff_open WHERE conflict_near)
    """)
    # A conflict record lists the ID's holders too, so that whoever resolves it by hand sees
    # both sides; they never win (listed-only rank).
    con.execute(f"""
        INSERT INTO _ff_cand
        SELECT r_id, m_id, {_LISTED_ONLY}, NULL, 'id_name_conflict' FROM _ff_conflict
        WHERE r_id IN (SELECT r_id FROM _ff_open)
    """)
    _decide(con)
    con.execute("""
        UPDATE _ff_dec SET reason = 'id_name_conflict'
        WHERE status = 'ambiguous' AND r_id IN (SELECT r_id FROM _ff_open WHERE conflict)
    """)


def _unmatched(con: duckdb.DuckDBPyConnection) -> None:
    """Every record still without a decision is unmatched, with the most telling reason."""
    con.execute("""
        INSERT INTO _ff_dec
        SELECT r.r_id, 'unmatched', NULL, NULL,
               CASE
                   WHEN r.nk IS NULL THEN 'no_name'
                   WHEN r.id_status = 'destroyed' THEN 'destroyed'
                   WHEN r.area IS NOT NULL AND r.area NOT IN (
                       SELECT DISTINCT left(id18, 6) FROM _ff_m WHERE id_ok
                   ) THEN 'out_of_district'
                   WHEN r.id18 IS NOT NULL AND r.id_ok THEN 'id_not_in_roster'
                   WHEN r.id18 IS NOT NULL THEN 'bad_id'
                   WHEN r.own_birth IS NULL AND r.id_birth IS NULL AND r.village IS NULL
                       THEN 'no_id_no_place'
                   ELSE 'no_id_name_not_found'
               END,
               []::BIGINT[]
        FROM _ff_r r
        WHERE r.r_id NOT IN (SELECT r_id FROM _ff_dec)
    """)


def _collect(con: duckdb.DuckDBPyConnection) -> MatchResult:
    methods = pl.DataFrame(
        {
            "code": list(METHODS),
            "tier": [m.tier for m in METHODS.values()],
            "label": [m.label for m in METHODS.values()],
            "confidence": [m.confidence for m in METHODS.values()],
        }
    )
    reasons = pl.DataFrame({"code": list(REASONS), "text": list(REASONS.values())})
    con.register("_ff_methods", methods)
    con.register("_ff_reasons", reasons)
    matches = con.sql(
        """
        SELECT r.record_key, m.member_key, m.household_id,
               t.tier::TINYINT AS tier,
               t.label || CASE WHEN c.r_id IS NOT NULL THEN ? ELSE '' END
                       || CASE WHEN r.hh_level THEN ? ELSE '' END AS method,
               round(t.confidence * CASE WHEN c.r_id IS NOT NULL THEN ? ELSE 1 END, 3)
                   AS confidence
        FROM _ff_dec d
        JOIN _ff_r r USING (r_id)
        JOIN _ff_m m USING (m_id)
        JOIN _ff_methods t ON t.code = d.method
        LEFT JOIN (SELECT DISTINCT r_id FROM _ff_conflict) c ON c.r_id = d.r_id
        WHERE d.status = 'matched'
        ORDER BY d.r_id
        """,
        params=[CONFLICT_SUFFIX, HOUSEHOLD_SUFFIX, CONFLICT_FACTOR],
    ).pl()
    unresolved = con.sql("""
        WITH listed AS (
            SELECT d.r_id, list(m.member_key ORDER BY u.pos) AS candidates
            FROM (SELECT r_id, unnest(candidates) AS m_id,
                         generate_subscripts(candidates, 1) AS pos
                  FROM _ff_dec WHERE status <> 'matched') u
            JOIN _ff_dec d USING (r_id)
            JOIN _ff_m m ON m.m_id = u.m_id
            GROUP BY d.r_id
        )
        SELECT r.record_key, d.status, x.text AS reason,
               coalesce(l.candidates, []::VARCHAR[]) AS candidates
        FROM _ff_dec d
        JOIN _ff_r r USING (r_id)
        JOIN _ff_reasons x ON x.code = d.reason
        LEFT JOIN listed l ON l.r_id = d.r_id
        WHERE d.status <> 'matched'
        ORDER BY d.r_id
    """).pl()
    return MatchResult(
        matches=matches.cast(MATCH_SCHEMA),  # type: ignore[arg-type]
        unresolved=unresolved.cast(UNRESOLVED_SCHEMA),  # type: ignore[arg-type]
    )
