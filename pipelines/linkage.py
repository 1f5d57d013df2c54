"""Record linkage of a month: the matcher's input built from staged tables, its ties written back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.feedback import IDENTITY_SQL, content_sql
from pipelines.fingerprints import code_digest
from pipelines.matching.ids import clean_id_expr
from pipelines.matching.labels import REASONS
from pipelines.matching.matcher import match_records_into
from pipelines.matching.places import place_map
from pipelines.schema import LATEST_EARLIER_ROSTER, rollback
from pipelines.sources import DEPARTMENT_KEYS, DEPARTMENT_SOURCES
from pipelines.warehouse import (
    built_from,
    fetch_one,
    forget_build,
    read_frame,
    replace_partition,
    scalar,
    table_columns,
)

CLAIMS = "medical_claims"


def _record_select(
    source_key: str, household_level: bool, columns: set[str], answered: bool = False
) -> str:
    # record keys repeat across months (same file name, same row): the matcher's key carries the
    # month, so several months can be matched in one pass. `columns`: the staged table's.
    # The record's own birth date where the department's file has one (sources.
    # DEPARTMENT_BIRTH_DATE, 出生日期); without it the matcher reads what survives of the ID.
    # `answered`: a 非本人 answer concerns a record of the source: what each record says is keyed
    # (content_key, feedback.content_sql), else not computed.
    birth_date = "birth_date::DATE" if "birth_date" in columns else "CAST(NULL AS DATE)"
    if "birth_date_month_only" in columns:
        # 出生年月 1990-05: the day unknown, so no birth date to tell or rule anyone out by
        birth_date = f"CASE WHEN birth_date_month_only THEN NULL ELSE {birth_date} END"
    name = household_name_sql() if household_level and "name_raw" in columns else "name"
    id_raw = "id_raw::VARCHAR" if "id_raw" in columns else "CAST(NULL AS VARCHAR)"
    id_prefix = "id_prefix::VARCHAR" if "id_prefix" in columns else "CAST(NULL AS VARCHAR)"
    id_rounded = ROUNDED_ID_SQL if "id_raw" in columns else "CAST(NULL AS VARCHAR)"
    return f"""
        SELECT month || '#' || record_key AS record_key, record_key AS source_record_key, month,
               '{source_key}' AS source, {name} AS name, id_number, id_status, id_birth, id_area,
               {id_prefix} AS id_prefix, {id_rounded} AS id_rounded,
               {birth_date} AS birth_date, township, village,
               {str(household_level).lower()} AS household_level, {id_raw} AS id_raw,
               {content_sql(source_key, "x") if answered else "NULL::VARCHAR"} AS content_key
        FROM stg_{source_key} x WHERE district = $district AND list_contains($months, month)
    """


# A destroyed ID as Excel rounds an 18-digit number: 15 significant digits and 000. When the
# 15th is 0 (…0826 0|000), its true first 15 digits are those or those less one (…0825 9|5xx
# rounded up), and its birth date is one of two days: the ingest keeps no birth date (its certain
# digits stop inside the day), the matcher tries both (matching/matcher.py: rounded_birth). The
# kept digits go to the matcher as `id_rounded` (the raw cell does not). An independent probe
# (indep30) found such IDs, one destroyed ID in ten, never tied though the name and the
# surviving digits tell the person: 9 of 74 warnings of a district whose files LibreOffice
# re-saved with the IDs as numbers.
ROUNDED_ID_SQL = """CASE WHEN id_status = 'destroyed' AND id_birth IS NULL
                          AND regexp_full_match(coalesce(id_raw::VARCHAR, ''), '[0-9]{14}0000')
                     THEN left(id_raw::VARCHAR, 15) END"""


# A household-level list's 户主 cell as clerks write it. A bracketed note saying that the name is
# someone acting for the household (王波（代）, 魏强（村民组长）, 赵文（村干部代报）) names no one of
# the household: the cell is left as written, so that it ties nobody and is listed for the
# district, never tied to the agent's own household. The household written around its head's name
# (王强户, 户主王强, 户主：王强) is that name.
_AGENT_NOTE = (
    r"[(（\[【〔][^)）\]】〕]*(代|组长|干部|书记|主任|网格员|村委)[^)）\]】〕]*[)）\]】〕]"
)


def household_name_sql() -> str:
    """SQL over a staged household-level row: the name the matcher searches for (see _AGENT_NOTE)."""
    bare = r"regexp_replace(regexp_replace(name, '^户主[:：]?(.{2,})$', '\1'), '^(.{2,})户$', '\1')"
    return f"CASE WHEN regexp_matches(name_raw, '{_AGENT_NOTE}') THEN name_raw ELSE {bare} END"


def keep_mistyped_ids(con: duckdb.DuckDBPyConnection) -> None:
    """An ID cell of 18 digits (or X) that the ingest cannot use because its birth date is not
    a date or an X sits in its body — a mistyped digit, two digits swapped across the area code
    and the birth date, the check X swapped inward — keeps those 18 characters in match_input
    (as a bad checksum's do), so that the matcher's repair tier can find the ID they are one
    typo from. Its status stays what the ingest said: the matcher never treats it as usable.
    """
    rows = con.sql(
        "SELECT record_key, id_raw FROM match_input "
        "WHERE id_number IS NULL AND id_status IN ('bad_date', 'invalid') AND id_raw IS NOT NULL"
    ).pl()
    kept = rows.select("record_key", id_number=clean_id_expr("id_raw")).filter(
        pl.col("id_number").str.contains(r"^[0-9X]{18}$")
    )
    if kept.is_empty():
        return
    con.register("_kept_ids", kept)
    try:
        con.execute(
            """UPDATE match_input SET id_number = k.id_number FROM _kept_ids k
               WHERE match_input.record_key = k.record_key"""
        )
    finally:
        con.unregister("_kept_ids")


# The roster's rows the ingest rejected (a 户编号 Excel destroyed, a 村 left blank) are people of
# the district all the same: the matcher sees them as candidates it never ties (matcher: the
# `rejected` column), so that a department record for one of them is not tied to a namesake of
# another household, nor told its ID is missing. A rejected row that a kept one repeats (the
# same ID, or without one the same name in the same place: a township file beside the 汇总 that
# holds it intact) is that member, not a rival. Each is its own household, and may be the 户主.
_REJECTED_MEMBERS = """
    SELECT 'rejected|' || x.file || '|' || coalesce(x.sheet, '') || '|' || x.row_number
               AS member_key,
           'rejected|' || x.file || '|' || coalesce(x.sheet, '') || '|' || x.row_number
               AS household_id,
           x.name, x.id_number, x.id_status, x.birth_date, x.township, x.village,
           NULL AS "group", x.relation, true AS is_head, true AS rejected
    FROM rejects x
    WHERE x.district = $district AND x.month = $month AND x.source = 'roster'
      AND (x.name IS NOT NULL OR x.id_number IS NOT NULL)
      -- two anti-joins on equalities (one with an OR would compare every pair)
      AND NOT EXISTS (SELECT 1 FROM roster_members m
                      WHERE m.district = $district AND m.month = $month
                        AND m.id_number = x.id_number)
      AND NOT (x.id_number IS NULL
               AND EXISTS (SELECT 1 FROM roster_members m
                           WHERE m.district = $district AND m.month = $month
                             AND m.name = x.name
                             AND m.township IS NOT DISTINCT FROM x.township
                             AND m.village IS NOT DISTINCT FROM x.village))
"""


def prepare_match_views(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    roster_month: str,
    sources: list[str],
) -> None:
    """Temp views the pure matcher reads: match_input, roster_input, negative_input."""
    by_key = {s.key: s for s in DEPARTMENT_SOURCES}
    answered = _answered_sources(con, district, max(months))
    selects = [
        _record_select(
            key,
            by_key[key].household_level,
            set(table_columns(con, f"stg_{key}")),
            answered=key in answered,
        )
        for key in sources
    ]
    # no department sent anything: an empty input of the same shape
    union = " UNION ALL ".join(selects) or (
        "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS source_record_key, "
        "NULL::VARCHAR AS month, NULL::VARCHAR AS source, NULL::VARCHAR AS name, "
        "NULL::VARCHAR AS id_number, NULL::VARCHAR AS id_status, NULL::DATE AS id_birth, "
        "NULL::VARCHAR AS id_area, NULL::VARCHAR AS id_prefix, NULL::VARCHAR AS id_rounded, "
        "NULL::DATE AS birth_date, "
        "NULL::VARCHAR AS township, "
        "NULL::VARCHAR AS village, NULL::BOOLEAN AS household_level, NULL::VARCHAR AS id_raw, "
        "NULL::VARCHAR AS content_key "
        "WHERE $district IS NULL AND $months IS NULL"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE match_input AS {union}",
        {"district": district, "months": months},
    )
    params = {"district": district, "month": max(months)}
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE roster_input AS
            SELECT member_key, household_id, name, id_number, id_status, birth_date, township,
                   village, "group", relation, is_head, false AS rejected
            FROM roster_members WHERE district = $district AND month = $month
            UNION ALL {_REJECTED_MEMBERS}""",
        {"district": district, "month": roster_month},
    )
    # 非本人 verdicts up to this month forbid their records being tied to that member: the same
    # person's record (identity) saying the same (content: the verdict's own row, where it is
    # still staged; where not, every record of the identity, as before)
    _verdict_contents(con, district, max(months), answered)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE negative_input AS
            SELECT DISTINCT i.source, i.record_key, n.member_key
            FROM match_input i
            JOIN negative_pairs n
              ON n.district = $district AND n.month <= $month
             AND n.identity_key = {IDENTITY_SQL.format(s="i")}
            LEFT JOIN _verdict_contents v
              ON v.source = n.source AND v.record_key = n.record_key
             AND v.record_month = n.record_month
            WHERE v.content_key IS NULL OR v.content_key = i.content_key""",
        params,
    )
    # after the 非本人 identities, which are those of the staged rows
    keep_mistyped_ids(con)
    con.execute("ALTER TABLE match_input DROP COLUMN id_raw")
    con.execute("ALTER TABLE match_input DROP COLUMN content_key")
    canonicalise_places(con)


def _answered_sources(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    """The department sources a 非本人 answer up to `month` concerns a record of."""
    return [
        source
        for (source,) in con.execute(
            "SELECT DISTINCT source FROM negative_pairs WHERE district = ? AND month <= ?",
            [district, month],
        ).fetchall()
        if source in DEPARTMENT_KEYS
    ]


def _verdict_contents(
    con: duckdb.DuckDBPyConnection, district: str, month: str, answered: list[str]
) -> None:
    """Temp table _verdict_contents (source, record_key, record_month, content_key): what each
    record a 非本人 answer up to `month` was about says (feedback.content_sql), read from its
    staged row (`answered`: the sources such records are of)."""
    parts = [
        f"""SELECT DISTINCT '{source}' AS source, x.record_key, x.month AS record_month,
                   {content_sql(source, "x")} AS content_key
            FROM stg_{source} x
            SEMI JOIN (SELECT record_key, record_month FROM negative_pairs
                       WHERE district = $district AND month <= $month AND source = '{source}') n
              ON x.record_key = n.record_key AND x.month = n.record_month
            WHERE x.district = $district"""
        for source in answered
    ]
    empty = (
        "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS record_key, "
        "NULL::VARCHAR AS record_month, NULL::VARCHAR AS content_key WHERE false"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _verdict_contents AS "
        + (" UNION ALL ".join(parts) if parts else empty),
        {"district": district, "month": month} if parts else None,
    )


def canonicalise_places(con: duckdb.DuckDBPyConnection) -> None:
    """Department 乡镇/村 spellings mapped onto the roster's names (only distinct pairs travel)."""
    pairs = con.sql("SELECT DISTINCT township, village FROM match_input").pl()
    # with the roster's groups: a 村 cell may name one after its village (北山村王岗组)
    roster_places = con.sql('SELECT DISTINCT township, village, "group" FROM roster_input').pl()
    read = place_map(pairs, roster_places)
    if read.is_empty():
        return
    con.register("_place_map", read)
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE match_input AS
               SELECT m.* REPLACE (coalesce(p.township, m.township) AS township,
                                   coalesce(p.village, m.village) AS village)
               FROM match_input m
               LEFT JOIN _place_map p
                 ON m.township IS NOT DISTINCT FROM p.t0 AND m.village IS NOT DISTINCT FROM p.v0"""
        )
    finally:
        con.unregister("_place_map")


def run_matching(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    roster_month: str,
    sources: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ties and unresolved records of `sources` in `months` matched against one roster, record by
    record (match_each_record), as frames in the records' order; frames carry `month`."""
    match_each_record(
        con, district=district, months=months, roster_month=roster_month, sources=sources
    )
    return _outcome_frames(con, "record_key", "t.r_id")


def match_each_record(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    roster_month: str,
    sources: list[str],
) -> None:
    """The records of `sources` in `months` matched against one roster, record by record; the
    outcomes stay in DuckDB (OUTCOMES, by match_input's record_key). A month's records seldom
    repeat one another: searching each distinct identity once, as match_identities does for the
    year's claims, costs more than it saves here."""
    prepare_match_views(
        con, district=district, months=months, roster_month=roster_month, sources=sources
    )
    match_records_into(con, OUTCOMES, "match_input", "roster_input", "negative_input")


def match_identities(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    roster_month: str,
    sources: list[str],
) -> None:
    """The records of `sources` in `months` matched against one roster, each distinct identity
    once (the year's claims repeat a patient's identity claim after claim, month after month, and
    searching the identities IDENTITY_BATCH at a time bounds the matcher's memory, however many
    months are tied): the outcomes stay in DuckDB (OUTCOMES, by match_input's identity) until
    they are written (_write_outcomes) or read (record_outcomes) record by record."""
    prepare_match_views(
        con, district=district, months=months, roster_month=roster_month, sources=sources
    )
    distinct_identities(con)
    _match_identities(con)
    con.execute("DROP TABLE temp.main.match_identities")


def record_outcomes(
    con: duckdb.DuckDBPyConnection, month: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ties and unresolved records of the last match_identities (of one month of it), every record
    with its identity's outcome, in the records' own order; frames carry `month`."""
    return _outcome_frames(con, "identity", "m.position", month)


# the matcher's outcome, left in DuckDB (temp tables): ties, unresolved records
OUTCOMES = ("outcome_ties", "outcome_unresolved")
# each outcome table, the warehouse table its rows go to, and the column a run's metadata reads
OUTCOME_TARGETS = (
    ("outcome_ties", "record_matches", "tier"),
    ("outcome_unresolved", "unmatched_records", "status"),
)


def _outcome_rows(con: duckdb.DuckDBPyConnection, table: str, key: str, order: str) -> str:
    """SQL: the records of match_input, each with the outcome in `table` (one of OUTCOMES) of its
    `key` (record_key: searched alone; identity: searched once with those alike, KEYED_INPUT's),
    its own record key, source and month, and `ord` (`order`: the records' order)."""
    outcome = [c for c in table_columns(con, table) if c not in ("record_key", "r_id")]
    records = KEYED_INPUT if key == "identity" else "match_input"
    return f"""SELECT m.source_record_key AS record_key, {", ".join(f"t.{c}" for c in outcome)},
                      m.source, m.month, {order} AS ord
               FROM {records} m JOIN {table} t ON t.record_key = m.{key}"""


def _outcome_frames(
    con: duckdb.DuckDBPyConnection, key: str, order: str, month: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return tuple(  # type: ignore[return-value]
        con.sql(
            f"SELECT * EXCLUDE (ord) FROM ({_outcome_rows(con, table, key, order)})"
            " WHERE $month IS NULL OR month = $month ORDER BY ord",
            params={"month": month},
        ).pl()
        for table in OUTCOMES
    )


def _write_outcomes(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    months: list[str],
    key: str,
    order: str,
    source: str | None = None,
) -> dict[str, MonthTies]:
    """The last matching's outcomes (OUTCOMES, by match_input's `key`) written as each record's
    row of record_matches or unmatched_records under its own month, each month's rows in the
    records' order (`order`), replacing the months' rows (of `source` only, when given), in one
    transaction. DuckDB writes them itself: they never come into Python, but for the column a
    run's metadata reads (MonthTies)."""
    params: dict = {"d": district, "months": months}
    written = "district = $d AND list_contains($months, month)"
    if source is not None:
        written, params = f"{written} AND source = $s", {**params, "s": source}
    counted: dict[str, dict[str, pl.DataFrame]] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, target, column in OUTCOME_TARGETS:
            con.execute(f"DELETE FROM {target} WHERE {written}", params)
            con.execute(
                f"""INSERT INTO {target} BY NAME
                    SELECT $d AS district, * EXCLUDE (ord)
                    FROM ({_outcome_rows(con, table, key, order)})
                    ORDER BY month, ord""",
                {"d": district},
            )
            # what the run's metadata reads, from the rows just written (not a second join)
            kept = con.sql(
                f"SELECT month, {column} FROM {target} WHERE {written}", params=params
            ).pl()
            counted[column] = {
                m: part.drop("month")
                for (m,), part in kept.partition_by("month", as_dict=True).items()
            }
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    for table in OUTCOMES:  # written: let go
        con.execute(f"DROP TABLE temp.main.{table}")
    empty = {"tier": pl.DataFrame(schema={"tier": pl.Int8}),
             "status": pl.DataFrame(schema={"status": pl.String})}  # fmt: skip
    return {
        m: MonthTies(*(counted[c].get(m, empty[c]) for c in ("tier", "status"))) for m in months
    }


# what the matcher reads of a record (match_input's columns but its keys): records alike in all
# of them get the same outcome, since every decision is made per record (GROUP BY r_id)
_IDENTITY_COLUMNS = (
    "source", "name", "id_number", "id_status", "id_birth", "id_area", "id_prefix", "id_rounded",
    "birth_date", "township", "village", "household_level",
)  # fmt: skip


# match_input with each record's identity (its key in match_identities) and position
KEYED_INPUT = "match_input_keyed"
# an identity's key: DuckDB's 64-bit hash of its columns, checked to stand for one identity
# alone; where two identities share one (about 1 in 10^7 districts at 1M), every identity is
# keyed by the MD5 of its columns as JSON instead (1 s more on 2.3M rows)
_IDENTITY_KEYS = ("hash({columns})", "md5(to_json([{listed}]))")


def distinct_identities(con: duckdb.DuckDBPyConnection) -> None:
    """The records of match_input collapsed to their distinct identities (match_identities):
    a claims month repeats the same patient's row once per claim, and the year's earlier months
    repeat it again, so the matcher searches each identity once. A record that a 非本人 answer
    concerns keeps an identity of its own (its record key), so that the answer rules out that
    member for it alone, exactly as before. KEYED_INPUT is match_input with `identity` and
    `position`."""
    columns = ", ".join(_IDENTITY_COLUMNS)
    listed = ", ".join(f"{c}::VARCHAR" for c in _IDENTITY_COLUMNS)
    for key in _IDENTITY_KEYS:
        identity = f"""CASE WHEN m.record_key IN (SELECT record_key FROM negative_input)
                            THEN m.record_key
                            ELSE 'i#' || {key.format(columns=columns, listed=listed)}
                       END"""
        # `position`: the record's row in match_input (its rowid). A view, not match_input made
        # again with the two columns: its 2.3M rows of the year's claims were written a second
        # time (1.1 s of the ties at 1M) for a key computed as fast where it is read
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {KEYED_INPUT} AS
                SELECT m.*, m.rowid AS position, {identity} AS identity FROM match_input m"""
        )
        # grouped by the columns themselves: a key shared by two identities shows twice
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE match_identities AS
                SELECT identity AS record_key, {columns}, first
                FROM (SELECT identity, {columns}, min(position) AS first
                      FROM {KEYED_INPUT} GROUP BY identity, {columns})
                ORDER BY first"""
        )
        shared = scalar(con, "SELECT count(*) - count(DISTINCT record_key) FROM match_identities")
        if shared == 0:
            return
    raise AssertionError("two record identities share an MD5 key")  # distinct JSON texts


# identities searched in one pass: the matcher's memory is that of this many records, however
# many months of claims are tied at once. A month's own matching searches about as many records
# (1.1M on the 1M bench district); the bench's nine earlier claims months hold 1.09M identities:
# one pass of them took 13.1 s and 2.13 GiB peak, two passes of 600k 14.5 s and 2.17 GiB
IDENTITY_BATCH = 1_200_000


def _match_identities(con: duckdb.DuckDBPyConnection) -> None:
    """match_identities through the matcher into OUTCOMES, IDENTITY_BATCH at a time (each identity
    is decided on its own, so any split gives the same outcome)."""
    identities = scalar(con, "SELECT count(*) FROM match_identities")
    if identities <= IDENTITY_BATCH:
        match_records_into(con, OUTCOMES, "match_identities", "roster_input", "negative_input")
        return
    parts = ("outcome_batch_ties", "outcome_batch_unresolved")
    try:
        # numbered only when there is more than one batch: numbering 1M identities is a sort
        con.execute(
            "CREATE OR REPLACE TEMP TABLE match_identities AS"
            f" SELECT *, (row_number() OVER (ORDER BY first) - 1) // {IDENTITY_BATCH} AS batch"
            " FROM match_identities ORDER BY first"
        )
        for batch in range(-(-identities // IDENTITY_BATCH)):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE match_identity_batch AS"
                " SELECT * EXCLUDE (batch) FROM match_identities WHERE batch = ?",
                [batch],
            )
            match_records_into(con, parts, "match_identity_batch", "roster_input", "negative_input")
            for part, whole in zip(parts, OUTCOMES, strict=True):
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {whole} AS SELECT * FROM {part}"
                    if batch == 0
                    else f"INSERT INTO {whole} SELECT * FROM {part}"
                )
    finally:
        for table in ("match_identity_batch", *parts):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


def staged_sources(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    """The department sources with staged rows in the month."""
    return [
        s.key
        for s in DEPARTMENT_SOURCES
        if scalar(
            con,
            f"SELECT count(*) FROM stg_{s.key} WHERE district = ? AND month = ?",
            [district, month],
        )
    ]


def untied_claim_months(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    """Months of M's year before M whose claims are staged but tied by no run yet (no run of
    their own month: claims delivered for the year-to-date sum only)."""
    rows = con.execute(
        """SELECT DISTINCT month FROM stg_medical_claims
           WHERE district = $d AND month >= $y AND month < $m
             AND month NOT IN (SELECT DISTINCT month FROM record_matches
                               WHERE district = $d AND source = 'medical_claims')
           ORDER BY month""",
        {"d": district, "y": f"{month[:4]}-01", "m": month},
    ).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class MonthTies:
    """What one matching pass wrote of a month, as a run's metadata reads it: the ties' tiers
    (`matches`) and the unresolved records' statuses (`unresolved`)."""

    matches: pl.DataFrame
    unresolved: pl.DataFrame
    # the month's ties stood: its inputs were those it was last matched from (match_builds)
    reused: bool = False


# the code the ties of a month depend on beyond the staged rows and the roster (those are
# fingerprinted by pipelines.staging, whose code fingerprint covers the ingest and the roster)
_MATCH_CODE = ("matching/*.py", "linkage.py", "feedback.py")


def match_fingerprint(
    con: duckdb.DuckDBPyConnection, district: str, month: str, sources: list[str]
) -> str | None:
    """What M's ties are a function of: every matched source's staged-folder fingerprint, the
    fingerprints M's roster tables were built from, the 非本人 pairs up to M and the matcher's
    code. None when one of them is not fingerprinted (then the month is matched)."""
    staged = con.execute(
        "SELECT source, fingerprint FROM source_status WHERE district = ? AND month = ?"
        " AND list_contains(?, source) ORDER BY source",
        [district, month, sources],
    ).fetchall()
    built = con.execute(
        "SELECT roster_fingerprint, grid_fingerprint, previous_keys, members FROM roster_builds"
        " WHERE district = ? AND month = ?",
        [district, month],
    ).fetchall()
    members = scalar(
        con,
        "SELECT count(*) FROM roster_members WHERE district = ? AND month = ?",
        [district, month],
    )
    if len(staged) != len(sources) or any(fp is None for _, fp in staged):
        return None
    if len(built) != 1 or None in built[0] or built[0][3] != members:
        return None
    negatives = fetch_one(
        con,
        "SELECT count(*), coalesce(sum(hash(warning_id, source, record_key, record_month,"
        " identity_key, member_key, month) % 1000000007), 0)"
        " FROM negative_pairs WHERE district = ? AND month <= ?",
        [district, month],
    )
    digest = hashlib.sha256(code_digest(_MATCH_CODE))
    digest.update(repr((staged, built[0], negatives)).encode())
    return digest.hexdigest()


def _ties_of(con: duckdb.DuckDBPyConnection, district: str, month: str) -> MonthTies:
    def column(table: str, name: str) -> pl.DataFrame:
        return read_frame(
            con, f"SELECT {name} FROM {table} WHERE district = ? AND month = ?", [district, month]
        )

    return MonthTies(
        column("record_matches", "tier"), column("unmatched_records", "status"), reused=True
    )


def match_month(
    con: duckdb.DuckDBPyConnection, district: str, month: str, *, reuse: bool = True
) -> MonthTies:
    """Every department record of M tied to one member of M's roster, or listed as unresolved;
    written to record_matches and unmatched_records. When M was matched before from the same
    inputs (match_fingerprint), its ties stand and are read back (`reuse` False: always match)."""
    sources = staged_sources(con, district, month)
    fingerprint = match_fingerprint(con, district, month, sources)
    if reuse and built_from(con, "match_builds", district, month, fingerprint):
        return _ties_of(con, district, month)
    # the month's ties are no one's until they are all written (a run stopped in between
    # leaves nothing a later run could take for them)
    forget_build(con, "match_builds", district, month)
    match_each_record(con, district=district, months=[month], roster_month=month, sources=sources)
    ties = _write_outcomes(con, district=district, months=[month], key="record_key", order="t.r_id")
    _name_departed(con, district, month)
    build = pl.DataFrame(
        {
            "input_fingerprint": [fingerprint],
            "records": [ties[month].matches.height + ties[month].unresolved.height],
        },
        schema={"input_fingerprint": pl.String, "records": pl.Int64},
    )
    replace_partition(con, "match_builds", build, district=district, month=month)
    return ties[month]


def _name_departed(con: duckdb.DuckDBPyConnection, district: str, month: str) -> None:
    """An unmatched record whose ID M's roster lacks but the latest earlier roster has says so:
    the member left the roster (a death the village recorded before 公安's row came, a move
    away), where it had read as if the department's ID were wrong. Its reason is the district's
    to read; GA01 reads it too (RecordRule.departed: a death the roster already shows)."""
    con.execute(
        f"""UPDATE unmatched_records u SET reason = $departed
            FROM (SELECT DISTINCT i.source_record_key AS record_key, i.source
                  FROM match_input i JOIN roster_members e
                    ON e.district = $district AND e.id_number = i.id_number
                   AND e.month = {LATEST_EARLIER_ROSTER}) x
            WHERE u.district = $district AND u.month = $month AND u.record_key = x.record_key
              AND u.source = x.source AND u.reason = $missing""",
        {"district": district, "month": month, "departed": REASONS["left_roster"],
         "missing": REASONS["id_not_in_roster"]},
    )  # fmt: skip


def tie_earlier_claims(
    con: duckdb.DuckDBPyConnection, district: str, month: str, months: list[str]
) -> dict[str, MonthTies]:
    """Claims of earlier months of the year that no run tied (`months`, untied_claim_months),
    tied against M's roster (the one the YB01 sum is for) and written under their own month. The
    months are matched together: a patient's identity, repeated month after month, is searched
    once, and memory stays that of IDENTITY_BATCH identities."""
    if not months:
        return {}
    match_identities(con, district=district, months=months, roster_month=month, sources=[CLAIMS])
    return _write_outcomes(
        con, district=district, months=months, key="identity", order="m.position", source=CLAIMS
    )
