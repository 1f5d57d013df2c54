"""When the data cannot decide: absence rules' undecidable members and rows a rule cannot evaluate.

Contract §4: a rule that fires because a member is *absent* from a source (YB02) fires only when
nothing in that source's month could be the member's. Members for whom something could be are
listed for the district as 无法判断 with the row that blocked the decision, never sent to a
township. A rule that needs a field that is unreadable for a row skips that row and counts it as
不可判断. A source whose month is missing, empty or has an unreadable file is no evidence of
anyone's absence at all.
"""

from __future__ import annotations

import re

import duckdb
import polars as pl

from pipelines.matching.ids import MISSING, USABLE_STATUSES
from pipelines.matching.names import name_keys, simplified_names
from pipelines.matching.places import canonical_places, township_key, village_key
from pipelines.schema import TABLE
from pipelines.sources import SOURCES
from pipelines.warehouse import scalar

UNDECIDABLE = "无法判断"  # an absence rule cannot tell whether the member is absent
NOT_EVALUABLE = "不可判断"  # a row the rule needs a field of, and that field is unreadable

UNDECIDED_SCHEMA: dict[str, pl.DataType] = {
    "rule": pl.String(),
    "kind": pl.String(),
    "member_key": pl.String(),
    "household_id": pl.String(),
    "source": pl.String(),
    "record_key": pl.String(),
    "file": pl.String(),
    "sheet": pl.String(),
    "row_number": pl.Int64(),
    "reason": pl.String(),
}


def empty_undecided() -> pl.DataFrame:
    return pl.DataFrame(schema=UNDECIDED_SCHEMA)


def with_provenance(frame: pl.DataFrame) -> pl.DataFrame:
    """source, file, sheet, row_number taken apart from record_key (source|file|sheet|row)."""
    split = pl.col("record_key").str.split("|")
    source = split.list.get(0, null_on_oob=True)
    return frame.with_columns(
        # a row that blocks as a whole list (no record: a 乡镇 the list says nothing of) names
        # its source itself
        (pl.coalesce(source, pl.col("source")) if "source" in frame.columns else source).alias(
            "source"
        ),
        split.list.get(1, null_on_oob=True).alias("file"),
        split.list.get(2, null_on_oob=True).replace("", None).alias("sheet"),
        split.list.get(3, null_on_oob=True).cast(pl.Int64, strict=False).alias("row_number"),
    )


def _undecided(frame: pl.DataFrame, rule: str, kind: str) -> pl.DataFrame:
    if frame.is_empty():
        return empty_undecided()
    frame = with_provenance(
        frame.with_columns(pl.lit(rule).alias("rule"), pl.lit(kind).alias("kind"))
    )
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in UNDECIDED_SCHEMA.items()
    )


def source_gaps(con: duckdb.DuckDBPyConnection, district: str, month: str) -> dict[str, str]:
    """Sources whose month is no evidence of anyone's absence, with the reason in plain Chinese:
    not received, a file that could not be read (named), or no data row at all."""
    gaps: dict[str, str] = {}
    status = con.sql(
        "SELECT source, received FROM source_status WHERE district = $d AND month = $m",
        params={"d": district, "m": month},
    ).pl()
    failed = con.sql(
        """SELECT source, string_agg(file, '、' ORDER BY file) AS files FROM ingest_files
           WHERE district = $d AND month = $m AND status IN ('failed', 'partial')
           GROUP BY source""",
        params={"d": district, "m": month},
    ).pl()
    failed_files = dict(failed.iter_rows())
    not_evidence = _enrollment_not_evidence(con, district, month)
    for source, received in status.iter_rows():
        if not received:
            gaps[source] = "未报送"
        elif source in failed_files:
            gaps[source] = f"读取失败或不完整（{failed_files[source]}）"
        elif not _has_rows(con, source, district, month):
            gaps[source] = "无数据行（空文件）"
    for source, reason in not_evidence.items():
        gaps.setdefault(source, reason)
    return gaps


# an enrollment list that is no evidence of anyone's absence though it was read: last year's
# list sent again (most of a file's readable 参保年度 another year's), or the exceptions only
# (未参保, 暂停) sent for the whole 参保名册 (fewer than half the stated rows 正常参保, in a file or
# in the whole list). By either, every monitored member would be "not enrolled this year".
NOT_EVIDENCE_MIN_ROWS = 5
FILES_SHOWN = 3


def _enrollment_not_evidence(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> dict[str, str]:
    year = int(month[:4])
    # per file, in one pass: its rows, years, statuses, last row, and whom its ties are (each
    # staged row has one tie at most, each tie one member: the joins add no rows)
    files = con.sql(
        """SELECT e.file, count(*) AS rows, count(e.enroll_year) AS dated,
                  count(*) FILTER (WHERE e.enroll_year = ?) AS inside,
                  mode(e.enroll_year) AS common, count(e.enroll_status) AS stated,
                  count(*) FILTER (WHERE e.enroll_status = '正常参保') AS enrolled,
                  max(e.row_number) AS last, count(r.member_key) AS tied,
                  count(*) FILTER (WHERE r.is_head) AS heads,
                  count(e.subsidized) AS subsidy_stated,
                  count(*) FILTER (WHERE e.subsidized) AS subsidised,
                  count(*) FILTER (WHERE r.household_type = '一般农户') AS general
           FROM stg_medical_enrollment e
           LEFT JOIN record_matches m
             ON m.district = e.district AND m.month = e.month AND m.record_key = e.record_key
           LEFT JOIN roster_members r
             ON r.district = m.district AND r.month = m.month AND r.member_key = m.member_key
           WHERE e.district = ? AND e.month = ?
           GROUP BY e.file ORDER BY e.file""",
        params=[year, district, month],
    ).pl()
    files = list(files.iter_rows(named=True))
    partial = _enrollment_partial(files)
    if partial:
        return {"medical_enrollment": partial}
    stale = [
        (
            f"{f['file']}：{f['dated']} 行中 {f['dated'] - f['inside']} 行不是 {year} 年"
            f"（多为 {f['common']} 年）",
            f["common"],
        )
        for f in files
        if f["dated"] >= NOT_EVIDENCE_MIN_ROWS and f["inside"] * 2 < f["dated"]
    ]
    if stale:
        # last year's list sent again, or the coming year's 征缴 list (October on: 2027's drive)
        which = (
            "往年" if all(c is None or c < year for _, c in stale) else "其他年度（如下一年度征缴）"
        )
        shown = _files_shown([line for line, _ in stale])
        return {
            "medical_enrollment": f"「参保年度」多不是本年度（{shown}），可能报送了{which}的名单"
        }
    counts = [(f["file"], f["stated"], f["enrolled"]) for f in files]
    exceptions = [
        f"{file}：{stated} 行中只有 {enrolled} 行为正常参保"
        for file, stated, enrolled in counts
        if stated and enrolled * 2 < stated
    ]
    stated_in_all = sum(stated for _, stated, _ in counts)
    enrolled_in_all = sum(enrolled for _, _, enrolled in counts)
    # one file of many, or the whole list of small files
    whole = stated_in_all >= NOT_EVIDENCE_MIN_ROWS and enrolled_in_all * 2 < stated_in_all
    one = any(
        stated >= NOT_EVIDENCE_MIN_ROWS and enrolled * 2 < stated for _, stated, enrolled in counts
    )
    if whole or one:
        return {
            "medical_enrollment": (
                f"正常参保的行不到一半（{_files_shown(exceptions)}），可能只报送了未参保或暂停的"
                "人员，不是完整的参保名册"
            )
        }
    return {}


# A list that is not the per-person 参保名册 is no evidence that a member missing from it is not
# enrolled: a list of 户 (its rows tied to households' heads: the heads' names and IDs, a 参保人数
# beside them), a list without a readable 参保状态 (the 已参保 or the 未参保 list: it cannot tell
# which), a sheet cut at the last row a workbook holds. On the 5,000-member district so sent,
# YB02 gave 355 warnings (351 false), 193 (all false) and 43 (38 false).
SHEET_LIMITS = (65_536, 1_048_576)
# a file whose tied rows are this share households' heads, of at least HEADS_MIN_ROWS tied rows,
# lists 户 (a per-person list's rows are heads about one time in three: 3.2 people a household)
HEADS_SHARE = 0.9
HEADS_MIN_ROWS = 20
# a file of at least this many rows with a readable 资助参保, every one 是 (a full list's rows are
# mostly 否: 76–77 % on every generated district), lists the subsidised only
SUBSIDY_MIN_ROWS = 20


def _enrollment_partial(files: list[dict]) -> str | None:
    """Why the list (`files`: _enrollment_not_evidence's per-file counts) is not the per-person
    参保名册, or None."""
    by_household = [
        f"{f['file']}：{f['tied']} 行中 {f['heads']} 行是户主"
        for f in files
        if f["tied"] >= HEADS_MIN_ROWS and f["heads"] >= HEADS_SHARE * f["tied"]
    ]
    if by_household:
        return (
            f"是以户为单位的名单（{_files_shown(by_household)}），不是逐人的参保名册，"
            "看不出户内哪些人未参保"
        )
    # a sheet filled to the last row an .xls (65,536) or .xlsx (1,048,576) holds: the export was
    # cut there, the rest of the list lost
    cut = [f"{f['file']}：正好 {f['last']} 行" for f in files if f["last"] in SHEET_LIMITS]
    if cut:
        return f"名单被截断（{_files_shown(cut)}，达到表格行数上限），其余行未报送"
    # a file of a few rows without it, or a whole list without it however its files are cut
    none_stated = (
        sum(f["stated"] for f in files) == 0
        and sum(f["rows"] for f in files) >= NOT_EVIDENCE_MIN_ROWS
    )
    unstated = [
        f"{f['file']}：{f['rows']} 行都没有可读的「参保状态」"
        for f in files
        if f["stated"] == 0 and (none_stated or f["rows"] >= NOT_EVIDENCE_MIN_ROWS)
    ]
    if unstated:
        return f"没有可读的「参保状态」（{_files_shown(unstated)}），看不出是已参保还是未参保的名单"
    # the 资助参保 people only (医保's 资助参保人员名单 sent for the 参保名册): every readable 资助参保
    # 是, with people of 一般农户 on it, so not chosen by household type (a list of the monitored
    # households' members, all subsidised, still speaks of each of them). A monitored member who
    # pays their own contribution is missing from it: on the 5,000-member district so sent, YB02
    # gave 31 warnings, 26 false
    stated = sum(f["subsidy_stated"] for f in files)
    all_subsidised = (
        stated >= SUBSIDY_MIN_ROWS
        and stated == sum(f["subsidised"] for f in files)
        and any(f["general"] for f in files)
    )
    subsidised_only = [
        f"{f['file']}：{f['subsidy_stated']} 行都是资助参保"
        for f in files
        if f["subsidy_stated"]
        and f["subsidised"] == f["subsidy_stated"]
        and f["general"]
        and (all_subsidised or f["subsidy_stated"] >= SUBSIDY_MIN_ROWS)
    ]
    if subsidised_only:
        return (
            f"只有资助参保的人员（{_files_shown(subsidised_only)}），可能报送的是资助参保人员名单，"
            "不是完整的参保名册，自行缴费参保的人不在其中"
        )
    return None


def _files_shown(lines: list[str]) -> str:
    shown = "；".join(lines[:FILES_SHOWN])
    more = len(lines) - FILES_SHOWN
    return shown + (f"；另有 {more} 个文件" if more > 0 else "")


def _has_rows(con: duckdb.DuckDBPyConnection, source: str, district: str, month: str) -> bool:
    table = f"stg_{source}"
    if table not in TABLE:  # every source's staged table is declared (pipelines/schema.py)
        return False
    found = scalar(
        con,
        f"SELECT count(*) > 0 FROM (SELECT 1 FROM {table} WHERE district = ? AND month = ? LIMIT 1)",
        [district, month],
    )
    return bool(found)


def fields_of(where: str) -> list[str]:
    """The staged columns a rule's condition reads (s.<column>)."""
    return sorted(set(re.findall(r"\bs\.([a-z_]+)", where)))


def not_evaluable_rows(
    con: duckdb.DuckDBPyConnection, rule: str, matched_sql: str, params: dict, where: str
) -> pl.DataFrame:
    """Rows of a record rule whose condition is unknown because a field it reads is unreadable.

    `matched_sql` is the rule's own query with `where` replaced by this test, so scope and ties
    are the rule's.
    """
    rows = con.sql(matched_sql, params=params).pl()
    if rows.is_empty():
        return empty_undecided()
    return _undecided(
        rows.select(
            pl.col("record_keys").list.first().alias("record_key"),
            "member_key",
            "household_id",
            pl.col("reason"),
        ),
        rule,
        NOT_EVALUABLE,
    )


def unreadable_sql(fields) -> str:  # noqa: ANN001 - field names
    """SQL: the staged row `s` has a field problem in one of `fields` (written, not readable)."""
    listed = ", ".join(f"'{f}'" for f in fields)
    return f"""s.record_key IN (
        SELECT fp.record_key FROM field_problems fp
        WHERE fp.district = $district AND fp.month = $month AND fp.field IN ({listed}))"""


NOT_EVALUABLE_REASON_SQL = """(
    SELECT string_agg(fp.reason, '；' ORDER BY fp.field) FROM field_problems fp
    WHERE fp.district = s.district AND fp.month = s.month AND fp.record_key = s.record_key)"""


# --- YB02 and any future absence rule over the enrollment list ---------------------------------

# A row that could be a 正常参保 record of the year: status 正常参保 or unknown, year M's or unknown.
_COULD_ENROL = (
    "(e.enroll_status IS NULL OR e.enroll_status = '正常参保') "
    "AND (e.enroll_year IS NULL OR e.enroll_year = $year)"
)

# M's rows with the member each is tied to (TIE_COLUMNS; NULL: tied to no one), and whether the
# row's 参保年度 was unreadable (ROW_FLAGS), joined once: the queries of YB02 read the ties of
# 456k rows four times over (0.9 s of YB02's 2.0 s at 1M when each joined record_matches)
TIE_COLUMNS = ("tied_member", "tied_method", "tied_confidence")
ROW_FLAGS = ("year_unreadable", *TIE_COLUMNS)
ENROLLMENT_SQL = """
    CREATE OR REPLACE TEMP TABLE enrollment_rows AS
    SELECT s.*, fy.record_key IS NOT NULL AS year_unreadable, m.member_key AS tied_member,
           m.method AS tied_method, m.confidence AS tied_confidence
    FROM stg_medical_enrollment s
    LEFT JOIN (SELECT DISTINCT record_key FROM field_problems
               WHERE district = $district AND month = $month AND field = 'enroll_year') fy
      ON fy.record_key = s.record_key
    LEFT JOIN record_matches m
      ON m.district = $district AND m.month = $month AND m.record_key = s.record_key
    WHERE s.district = $district AND s.month = $month
"""


def _tied_in_the_year(*statuses: str) -> str:
    """SQL: the members tied to a row of M's year (a blank year: the list is the year's) whose
    参保状态 is one of `statuses`."""
    listed = ", ".join(f"'{status}'" for status in statuses)
    return f"""
    SELECT DISTINCT e.tied_member AS member_key
    FROM enrollment_rows e
    WHERE e.tied_member IS NOT NULL AND e.enroll_status IN ({listed})
      AND (e.enroll_year = $year OR (e.enroll_year IS NULL AND NOT e.year_unreadable))
"""


# members tied to a row that says 正常参保 for M's year
ENROLLED_SQL = _tied_in_the_year("正常参保")

MONITORED_SQL = """
    SELECT r.member_key, r.household_id, r.name, r.id_number, r.birth_date, r.township, r.village
    FROM roster_members r
    JOIN households h
      ON h.district = r.district AND h.month = r.month AND h.household_id = r.household_id
    WHERE r.district = $district AND r.month = $month AND list_contains($monitored, h.household_type)
"""


def _no_area(alias: str) -> str:
    """SQL: the row's destroyed ID kept no certain digits, or fewer than its area code
    (3.41502E+17 keeps 34150): to the homophone check it is a row without an ID."""
    return f"({alias}.id_prefix IS NULL OR length({alias}.id_prefix) < 6)"


# an unresolved row's ID that is not one as written: none, destroyed, or a typo (bad checksum or
# date, invalid); only what survives of it is evidence
_UNUSABLE_ID = "(u.id_number IS NULL OR u.id_status NOT IN ({usable}))".format(
    usable=", ".join(f"'{status}'" for status in USABLE_STATUSES)
)

# a row's 乡镇/村 (places p) agree with the member's, or are not written: "乡镇/村相符或未填". A
# 乡镇 (村) written as no township (village of it) of the roster could be any whose name it holds
# (东河口镇山郢, 东河口山郢 for 东河口镇 山郢村): unread, it is no evidence against theirs
_PLACE_AGREES = """(p.township IS NULL OR p.township = o.township
     OR (NOT p.town_known AND contains(p.written, o.town_key)))
 AND (p.village IS NULL OR p.village = o.village
     OR (NOT p.village_known AND contains(p.written, o.village_key)))"""

# A place is thinly covered when fewer than a quarter of its monitored members are listed of
# what the list's share over the district gives, and the Chernoff bound on so few by chance,
# exp(−n·KL(q‖p)) for q listed of n at share p, is below 1e-4 (n·KL ≥ ln 10⁴). On every
# generated district the least-covered village holds 0.83 of its share or more (5 of 6 listed
# on the 5,000-member district, 448 of 454 at 1M); three monitored members unlisted at a share
# of 0.93 stay chance (n·KL 8.0), five do not (13.3)
_THIN_QUARTER = 4
_THIN_BOUND = 9.21
_THIN = f"""s.listed * {_THIN_QUARTER} < s.members * t.share
          AND CASE WHEN t.share >= 1 THEN true
                   ELSE s.members * (
                       CASE WHEN s.listed = 0 THEN 0
                            ELSE s.listed / s.members * ln(s.listed / s.members / t.share) END
                       + (1 - s.listed / s.members) * ln((1 - s.listed / s.members) / (1 - t.share))
                   ) >= {_THIN_BOUND} END"""

# the list's rows rejected for want of a name and an ID that say, in a cell of their own, that
# someone is insured (正常参保 and the words read as it): whoever of its 乡镇/村 it is, it may be
# theirs. Rows that say nothing of the kind are not evidence (a template's blank rows carry
# their village; a 暂停 row is no one's enrolment).
ENROLL_STATUS = SOURCES["medical_enrollment"].field("enroll_status")
_ENROLLED_WORDS = sorted(
    {"正常参保"} | {written for written, read in ENROLL_STATUS.synonyms if read == "正常参保"}
)
# a rejected row's key, as a kept row's record_key is written (source|file|sheet|row)
_REJECT_KEY = "source || '|' || file || '|' || coalesce(sheet, '') || '|' || row_number"
NAMELESS_REJECTS_SQL = f"""
    SELECT {_REJECT_KEY} AS record_key, township, village
    FROM rejects
    WHERE district = $district AND month = $month AND source = 'medical_enrollment'
      AND name IS NULL AND id_number IS NULL
      AND coalesce(list_has_any(
          list_transform(json_extract_string(raw_values, '$.*'),
                         lambda v: regexp_replace(coalesce(v, ''), '\\s', '', 'g')),
          {_ENROLLED_WORDS}), false)
"""

BLOCKING_SQL = f"""
    WITH monitored AS ({MONITORED_SQL}),
    enrolled AS ({ENROLLED_SQL}),
    open_members AS (
        SELECT m.*, k.name_key, pk.town_key, pk.village_key
        FROM monitored m LEFT JOIN name_keys k ON k.name = m.name
        LEFT JOIN place_keys pk
          ON pk.township IS NOT DISTINCT FROM m.township AND pk.village IS NOT DISTINCT FROM m.village
        WHERE m.member_key NOT IN (SELECT member_key FROM enrolled)
    ),
    tied AS (
        SELECT e.tied_member AS member_key, e.record_key,
               CASE WHEN e.enroll_status IS NULL THEN '该成员的参保记录「参保状态」为空或无法识别'
                    ELSE '该成员的正常参保记录「参保年度」无法识别' END AS reason
        FROM enrollment_rows e
        WHERE e.tied_member IS NOT NULL AND {_COULD_ENROL}
    ),
    -- rows tied to nobody (unmatched) or to no one member (ambiguous): either may be theirs
    unresolved AS (
        SELECT u.status, u.candidates, k.name_key, e.*
        FROM unmatched_records u
        JOIN enrollment_rows e ON e.record_key = u.record_key
        LEFT JOIN name_keys k ON k.name = e.name
        WHERE u.district = $district AND u.month = $month AND {_COULD_ENROL}
    ),
    ambiguous AS (
        SELECT unnest(candidates) AS member_key, record_key,
               '一条可能为正常参保的记录无法唯一匹配，候选人含该成员' AS reason
        FROM unresolved WHERE status = 'ambiguous'
    ),
    by_id AS (
        SELECT o.member_key, u.record_key, '一条未能唯一匹配的记录的证件号码与该成员一致' AS reason
        FROM unresolved u JOIN open_members o ON u.id_number = o.id_number
    ),
    by_surviving_id AS (
        SELECT o.member_key, u.record_key,
               '一条未能唯一匹配的记录的证件号码已损坏或有误，残存部分（地区码/出生日期）与该成员一致'
                   AS reason
        FROM unresolved u JOIN open_members o
          ON u.id_birth = o.birth_date
         AND (u.id_area IS NULL OR u.id_area = left(o.id_number, 6))
        WHERE {_UNUSABLE_ID} AND u.id_birth IS NOT NULL
          AND (u.name IS NULL OR u.name_key = o.name_key)
    ),
    -- no birth date survived (rounding carried into it), but the certain digits still reach
    -- into it: area, year and month at least
    by_surviving_digits AS (
        SELECT o.member_key, u.record_key,
               '一条未能唯一匹配的记录的证件号码已损坏，确定残存的前 ' || length(u.id_prefix)
                   || ' 位与该成员的证件号码一致' AS reason
        FROM unresolved u JOIN open_members o
          ON left(o.id_number, 12) = left(u.id_prefix, 12)
         AND starts_with(o.id_number, u.id_prefix)
        WHERE u.id_number IS NULL AND u.id_birth IS NULL AND length(u.id_prefix) >= 12
          AND (u.name IS NULL OR u.name_key = o.name_key)
    ),
    by_name AS (
        SELECT o.member_key, u.record_key,
               '一条未能唯一匹配的记录的姓名与该成员相同，乡镇/村相符或未填' AS reason
        FROM unresolved u
        JOIN places p ON p.record_key = u.record_key
        JOIN open_members o
          ON u.name_key = o.name_key
         AND {_PLACE_AGREES}
    ),
    -- a row with no usable ID, the member's very name and 乡镇 but another 村, where no one of
    -- that name lives: the list's 村 may be where the member lived before (a household moved
    -- within its 乡镇); it may be theirs, so it is no evidence that they are absent
    by_name_moved AS (
        SELECT o.member_key, u.record_key,
               '一条未能唯一匹配、没有可用证件号码的记录的姓名与该成员相同、乡镇相同，所写的村'
                   || '没有此人（可能是迁居前的村）' AS reason
        FROM unresolved u
        JOIN places p ON p.record_key = u.record_key
        JOIN open_members o
          ON u.name_key = o.name_key AND p.township = o.township AND p.village <> o.village
        WHERE {_UNUSABLE_ID}
          AND NOT EXISTS (
              SELECT 1 FROM roster_members r
              WHERE r.district = $district AND r.month = $month AND r.name = u.name
                AND r.township = p.township AND r.village = p.village)
    ),
    -- a row with no ID left at all, its name sounding like the member's (汪桂贞 for 汪桂珍: the
    -- matcher leaves such a row unmatched without a place or ID that agrees)
    by_sound AS (
        SELECT o.member_key, u.record_key,
               '一条未能唯一匹配、没有可用证件号码的记录的姓名与该成员同音，乡镇/村相符或未填'
                   AS reason
        FROM unresolved u
        JOIN places p ON p.record_key = u.record_key
        JOIN sound_keys su ON su.name = u.name
        JOIN sound_keys so ON so.pinyin_key = su.pinyin_key
        JOIN open_members o
          ON o.name = so.name
         AND {_PLACE_AGREES}
        WHERE u.id_number IS NULL AND {_no_area("u")}
          AND (u.id_prefix IS NULL OR o.id_number IS NULL OR starts_with(o.id_number, u.id_prefix))
          AND (u.id_birth IS NULL OR u.id_birth = o.birth_date)
    ),
    -- a row without a name whose ID, written, tells nothing certain (destroyed, a typo in its
    -- birth date): it could be anyone of its 乡镇/村 (a list whose name column was not read is
    -- all such rows, and its file is read only in part: no evidence of absence at all)
    by_place AS (
        SELECT o.member_key, u.record_key,
               '一条没有姓名、证件号码也无法辨认的记录，乡镇/村与该成员相符或未填' AS reason
        FROM unresolved u
        JOIN places p ON p.record_key = u.record_key
        JOIN open_members o
          ON {_PLACE_AGREES}
         AND (u.id_area IS NULL OR o.id_number IS NULL OR u.id_area = left(o.id_number, 6))
         AND (u.id_prefix IS NULL OR o.id_number IS NULL OR starts_with(o.id_number, u.id_prefix))
        WHERE u.name IS NULL AND {_UNUSABLE_ID} AND u.id_status <> '{MISSING}' AND u.id_birth IS NULL
          AND (u.id_prefix IS NULL OR length(u.id_prefix) < 12)
    ),
    by_reject AS (
        SELECT o.member_key, x.record_key,
               '一条被退回的行（无可用姓名或证件号码）含该成员的证件号码' AS reason
        FROM (
            SELECT {_REJECT_KEY} AS record_key,
                   upper(unnest(regexp_extract_all(raw_values, '[0-9]{{17}}[0-9Xx]'))) AS id_number
            FROM rejects
            WHERE district = $district AND month = $month AND source = 'medical_enrollment'
        ) x JOIN open_members o ON x.id_number = o.id_number
    ),
    -- a row rejected without a name and an ID that says someone is insured: whoever of its
    -- 乡镇/村 it is, it may be theirs, as a nameless row whose ID kept nothing (by_place)
    by_rejected_place AS (
        SELECT o.member_key, x.record_key,
               '一条被退回的行（没有可用的姓名和证件号码），乡镇/村与该成员相符或未填' AS reason
        FROM ({NAMELESS_REJECTS_SQL}) x
        JOIN places p ON p.record_key = x.record_key
        JOIN open_members o ON {_PLACE_AGREES}
    ),
    -- the 乡镇 the list speaks of: those of the members its rows are tied to, and those its
    -- unresolved rows name. A 乡镇 it says nothing of (its file not delivered) is no evidence of
    -- anyone's absence there: its members are 无法判断, the list itself the blocking "row"
    -- the members the list's rows are tied to
    -- of M's year (a blank year: the list is the year's): a township whose rows are all of
    -- another year (its part of last year's list sent again) says nothing of this one (indep36:
    -- 东桥镇's rows all 2026 in January 2027 gave 438 YB02, every monitored member there)
    listed AS (
        SELECT DISTINCT tied_member AS member_key FROM enrollment_rows
        WHERE tied_member IS NOT NULL AND (enroll_year IS NULL OR enroll_year = $year)
    ),
    -- the 乡镇 of members tied to rows of another year: named as such where nothing else covers it
    other_years AS (
        SELECT DISTINCT r.township
        FROM enrollment_rows e
        JOIN roster_members r
          ON r.district = $district AND r.month = $month AND r.member_key = e.tied_member
        WHERE e.enroll_year <> $year
    ),
    covered AS (
        SELECT DISTINCT r.township, r.village
        FROM listed l
        JOIN roster_members r
          ON r.district = $district AND r.month = $month AND r.member_key = l.member_key
        UNION SELECT DISTINCT p.township, p.village FROM places p
        LEFT JOIN enrollment_rows e ON e.record_key = p.record_key
        WHERE (p.township IS NOT NULL OR p.village IS NOT NULL)
          AND (e.enroll_year IS NULL OR e.enroll_year = $year)
        UNION SELECT DISTINCT r.township, r.village
        FROM (SELECT unnest(candidates) AS member_key FROM unresolved) c
        JOIN roster_members r
          ON r.district = $district AND r.month = $month AND r.member_key = c.member_key
    ),
    -- a 乡镇 or 村 the list speaks of only by a stray row or two (an outsider placed there, a
    -- member registered in another township's file) while its monitored members are missing:
    -- fewer than a quarter of them listed of what the list's share over the district gives, and
    -- too few to be chance (thin_coverage). On the 5,000-member district, two villages cut from
    -- 施桥镇's file, one row left in each, gave 34 YB02, 29 false
    shares AS (
        SELECT mo.township, mo.village, count(*) AS members, count(l.member_key) AS listed
        FROM monitored mo LEFT JOIN listed l ON l.member_key = mo.member_key
        WHERE mo.township IS NOT NULL
        GROUP BY GROUPING SETS ((mo.township), (mo.township, mo.village))
    ),
    thin AS (
        SELECT s.township, s.village,
               '本月名单中' || s.township || coalesce(s.village, '') || '的重点户成员只有 '
                   || s.listed || ' 人有记录（按全区比例应约 '
                   || CAST(round(s.members * t.share) AS BIGINT) || ' 人），'
                   || CASE WHEN s.village IS NULL THEN '该乡镇的名单可能未报送或不完整'
                           ELSE '该村的记录可能缺漏' END AS reason
        FROM shares s,
             (SELECT sum(listed) / sum(members) AS share FROM shares WHERE village IS NULL) t
        WHERE {_THIN}
    ),
    -- members whose own row of M's year says they are not insured (暂停, 未参保): the list is not
    -- silent about them, however thinly it covers their 乡镇 (a township sending only its
    -- 未参保人员名单 names those it lists; the others are the ones it may have left out)
    stated AS ({_tied_in_the_year("暂停", "未参保")}),
    -- likewise a 村 of a 乡镇 it speaks of (the township's file without that village's rows);
    -- a row placed in the 乡镇 without its 村 speaks of the 乡镇, not of a 村 (a village's rows
    -- missing is no less so for one row elsewhere without its 村: by_name and the others still
    -- judge that row against each member)
    uncovered AS (
        SELECT o.member_key, NULL::VARCHAR AS record_key,
               CASE WHEN o.township NOT IN (SELECT township FROM covered WHERE township IS NOT NULL)
                    THEN CASE WHEN o.township IN (SELECT township FROM other_years)
                              THEN '本月名单中' || o.township || '的记录都不是 '
                                   || CAST($year AS VARCHAR)
                                   || ' 年度的（该乡镇可能报送了往年或下一年度的名单）'
                              ELSE '本月名单中没有' || o.township
                                   || '的任何记录（该乡镇的名单可能未报送）' END
                    ELSE coalesce(tt.reason, tv.reason, '本月名单中没有' || o.township
                                  || o.village || '的任何记录（该村的记录可能缺漏）') END AS reason
        FROM open_members o
        LEFT JOIN thin tt ON tt.village IS NULL AND tt.township = o.township
        LEFT JOIN thin tv ON tv.village = o.village AND tv.township = o.township
        WHERE o.township IS NOT NULL
          AND o.member_key NOT IN (SELECT member_key FROM stated)
          -- a list that places nobody at all is judged as a whole (source_gaps, the blocks)
          AND EXISTS (SELECT 1 FROM covered WHERE township IS NOT NULL)
          AND (o.township NOT IN (SELECT township FROM covered WHERE township IS NOT NULL)
               OR tt.township IS NOT NULL OR tv.village IS NOT NULL
               OR (o.village IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM covered c
                   WHERE (c.township = o.township OR c.township IS NULL)
                     AND c.village = o.village)))
    ),
    blocking AS (
        SELECT * FROM uncovered UNION ALL
        SELECT * FROM tied UNION ALL SELECT * FROM ambiguous UNION ALL SELECT * FROM by_id
        UNION ALL SELECT * FROM by_surviving_id UNION ALL SELECT * FROM by_surviving_digits
        UNION ALL SELECT * FROM by_name UNION ALL SELECT * FROM by_name_moved
        UNION ALL SELECT * FROM by_sound
        UNION ALL SELECT * FROM by_place UNION ALL SELECT * FROM by_reject
        UNION ALL SELECT * FROM by_rejected_place
    )
    SELECT DISTINCT b.member_key, o.household_id, b.record_key, b.reason,
           'medical_enrollment' AS source
    FROM blocking b JOIN open_members o ON o.member_key = b.member_key
    ORDER BY b.member_key, b.record_key
"""


def prepare_enrollment(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """enrollment_rows: M's staged enrollment rows, each flagged when its 参保年度 is unreadable."""
    con.execute(ENROLLMENT_SQL, {k: v for k, v in params.items() if f"${k}" in ENROLLMENT_SQL})


def _unresolved_places(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """places: unresolved enrollment rows' 乡镇/村 mapped onto the roster's own spellings."""
    rows = con.sql(
        f"""SELECT e.record_key, e.township, e.village
            FROM unmatched_records u JOIN enrollment_rows e ON e.record_key = u.record_key
            WHERE u.district = $district AND u.month = $month
            UNION ALL SELECT record_key, township, village FROM ({NAMELESS_REJECTS_SQL})""",
        params={"district": params["district"], "month": params["month"]},
    ).pl()
    roster_places = con.sql(
        'SELECT DISTINCT township, village, "group" FROM roster_members '
        "WHERE district = $district AND month = $month",
        params={"district": params["district"], "month": params["month"]},
    ).pl()
    # a 乡镇/村 without a Chinese character names no place (0, a formula's stored 0, -, a
    # number): not written, so no evidence against the member's (_PLACE_AGREES)
    rows = rows.with_columns(
        pl.when(pl.col(c).str.contains(r"\p{Han}")).then(pl.col(c)).alias(c)
        for c in ("township", "village")
    )
    # the row's own text, to look for a roster place's name in where it names none
    rows = rows.with_columns(
        pl.concat_str(
            [pl.col(c).fill_null("").str.replace_all(r"\s", "") for c in ("township", "village")]
        ).alias("written")
    )
    places = canonical_places(rows, roster_places) if rows.height else rows
    known = roster_places.select("township", "village").unique()
    places = places.with_columns(
        pl.col("township").is_in(known["township"].implode()).alias("town_known"),
        pl.struct("township", "village")
        .is_in(known.select(pl.struct("township", "village")).to_series().implode())
        .alias("village_known"),
    )
    keys = known.with_columns(
        township_key(pl.col("township")).alias("town_key"),
        village_key(pl.col("village")).alias("village_key"),
    )
    for name, frame in (("places", places), ("place_keys", keys)):
        con.register("_frame", frame)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _frame")
        finally:
            con.unregister("_frame")


def _name_keys(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """name_keys: each name of an unresolved enrollment row or a monitored member, as a person
    reads it (simplified_names): a row written 劉睿 has the name of member 刘睿."""
    sql = f"""SELECT e.name FROM unmatched_records u
              JOIN enrollment_rows e ON e.record_key = u.record_key
              WHERE u.district = $district AND u.month = $month
              UNION SELECT name FROM ({MONITORED_SQL})"""
    names = con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()
    keys = simplified_names(names["name"])
    con.register("_name_keys", keys)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE name_keys AS SELECT * FROM _name_keys")
    finally:
        con.unregister("_name_keys")


def _sound_keys(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """sound_keys: the toneless pinyin of each name of an unresolved row left without any ID and
    of each monitored member the list does not show enrolled (a few: the names the homophone
    check reads, not the whole roster's)."""
    sql = f"""SELECT e.name FROM unmatched_records u
              JOIN enrollment_rows e ON e.record_key = u.record_key
              WHERE u.district = $district AND u.month = $month
                AND e.id_number IS NULL AND {_no_area("e")}
              UNION SELECT name FROM ({MONITORED_SQL})
              WHERE member_key NOT IN ({ENROLLED_SQL})"""
    names = con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()
    keys = name_keys(names["name"]).select("name", "pinyin_key")
    con.register("_sound_keys", keys)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE sound_keys AS SELECT * FROM _sound_keys")
    finally:
        con.unregister("_sound_keys")


def blocked_members(con: duckdb.DuckDBPyConnection, params: dict) -> pl.DataFrame:
    """Monitored members without a 正常参保 record for whom some row of the month could be one:
    member_key, household_id, record_key (the blocking row) and the reason.

    A row blocks a member when it is tied to them, when it is ambiguous with them among its
    candidates, and when it is unmatched or ambiguous and carries their ID, what survives of it,
    or their name (as a person reads it) with their 乡镇/村 (contract §4); a row left without
    any ID also when its name sounds like theirs (a misheard or mistyped name: 汪桂贞, 汪桂珍)."""
    _unresolved_places(con, params)
    _name_keys(con, params)
    _sound_keys(con, params)
    sql = BLOCKING_SQL
    return con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()


def undecidable(blocked: pl.DataFrame, rule: str) -> pl.DataFrame:
    return _undecided(blocked, rule, UNDECIDABLE)


def not_evaluable(rows: pl.DataFrame, rule: str) -> pl.DataFrame:
    """Members (member_key, household_id, source, reason; no record) a rule cannot judge for a
    field of their own that is unreadable: 不可判断."""
    return _undecided(rows, rule, NOT_EVALUABLE)
