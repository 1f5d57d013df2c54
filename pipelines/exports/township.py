"""Township warning lists: the month's listing (new + still open warnings) and its CSV/XLSX files."""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipelines.exports.fastxlsx import (
    SPACE_CLASS,
    BulkWorkbook,
    BulkWorksheet,
    Cells,
    write_blocks,
)
from pipelines.feedback import VERDICTS
from pipelines.matching.ids import _STRIP_CHARS
from pipelines.rules.catalogue import MONITORED_TYPES, RULES
from pipelines.rules.deaths import about_the_dead, deceased
from pipelines.rules.spec import Direction, Scope
from pipelines.schema import LATEST_EARLIER_ROSTER
from pipelines.threads import map_in_threads
from pipelines.warehouse import scalar

EXPORT_COLUMNS = (
    "预警编号",
    "乡镇",
    "村",
    "网格",
    "网格员",
    "网格员电话",
    "户编号",
    "户主姓名",
    "户类型",
    "姓名",
    "证件号码",
    "与户主关系",
    "预警代码",
    "预警名称",
    "风险类型",
    "预警方向",
    "预警等级",
    "来源部门",
    "预警依据",
    "匹配方式",
    "匹配可信度",
    "状态",
    "首次预警月份",
    "核实截止日期",
    "核实结果",
    "核实说明",
    "核实人",
    "核实日期",
)
VERIFICATION_COLUMNS = ("核实结果", "核实说明", "核实人", "核实日期")
NEW, OPEN, OVERDUE = "新增", "待核实", "逾期"

# Listing: everything the township file shows, kept in the warehouse per month (IDs unmasked there,
# masked only when written out).
LISTING_SQL = f"""
    SELECT w.warning_id, h.township, h.village, h.grid, h.worker_name, h.worker_phone,
           w.household_id, h.head_name, h.household_type,
           coalesce(r.name, p.name) AS member_name, coalesce(r.id_number, p.id_number)
               AS id_number, coalesce(r.relation, p.relation) AS relation,
           w.rule, w.rule_name, w.risk_type, w.direction, w.level,
           w.department, w.evidence, w.method, w.confidence, w.member_key, w.source,
           w.record_keys
    FROM warnings w
    JOIN households h
      ON h.district = w.district AND h.month = w.month AND h.household_id = w.household_id
    LEFT JOIN roster_members r
      ON r.district = w.district AND r.month = w.month AND r.member_key = w.member_key
    -- a member who left the roster this month (GA01 of a death the village recorded first): as
    -- the latest earlier roster had them
    LEFT JOIN (SELECT member_key, name, id_number, relation FROM roster_members
               WHERE district = $district
                 AND month = {LATEST_EARLIER_ROSTER}
                 AND member_key IN (SELECT member_key FROM warnings
                                    WHERE district = $district AND month = $month)) p
      ON r.member_key IS NULL AND p.member_key = w.member_key
    WHERE w.district = $district AND w.month = $month
"""


@dataclass(frozen=True)
class ExportedFile:
    """One file that left the pipeline: what the export ledger records about it."""

    township: str | None  # None: a district file (summary, department workbook, unresolved list)
    path: Path
    rows: int
    sha256: str
    columns: tuple[str, ...] = ()
    ids_masked: bool | None = None  # None: the file holds no ID numbers at all
    # its size, where it is known before the file stands at `path` (township_files_ready)
    size: int | None = None


class ExportCheckError(RuntimeError):
    """A written file does not hold what the listing says it should: the export must not stand."""


# ---------------------------------------------------------------------------------------------
# Cell safety: every exported cell, CSV and XLSX alike, loses control characters and is capped in
# length; a CSV cell that a spreadsheet would read as a formula gets a leading ' (OWASP).

TEXT_LIMIT = 500  # characters of one exported text cell; the warehouse keeps the full value
ELLIPSIS = "…"
# ANSI/VT escape sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), two-byte ESC
# sequences, and the 8-bit CSI (0x9B): removed whole, so no "[31m" remnant is left behind
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_BREAKS = r"[\t\n\r\x0b\x0c\u2028\u2029]"  # become a space: words stay apart
# the rest of C0, DEL, C1, and the bidirectional overrides/isolates that reorder what is shown
_CONTROLS = r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
# a spreadsheet evaluates a cell starting with one of these (after blanks) as a formula
_FORMULA_START = r"^\s*[=+\-@]"


def clean_text(value: str, limit: int | None = TEXT_LIMIT) -> str:
    """One exported text: control characters and escape sequences out, at most `limit` chars."""
    text = re.sub(_CONTROLS, "", re.sub(_BREAKS, " ", re.sub(_ESCAPES, "", value)))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return text


def csv_text(value: str, limit: int | None = TEXT_LIMIT) -> str:
    """clean_text, and a leading ' where a spreadsheet would otherwise see a formula."""
    text = clean_text(value, limit)
    return "'" + text if re.match(_FORMULA_START, text) else text


# every character the three passes act on: an escape sequence opens with ESC or CSI (C0, C1)
_TOUCHED = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"


def _cleaned(frame: pl.DataFrame, names: list[str], limit: int) -> pl.DataFrame:
    """The text columns `names` cleaned (escape sequences and control characters out, breaks to
    spaces) and then capped at `limit` characters; in two passes, so that each regex runs once
    per cell (an eager select evaluates a reused expression again at every use). Only the columns
    that need it go through each pass, as one look at the column tells: the cleaning where a cell
    holds a character it acts on (_TOUCHED: few columns), the cap where a cell is longer than
    `limit` bytes (a character is at least one: no shorter cell can need it)."""
    if not names:
        return frame
    facts = frame.select(
        *(pl.col(n).str.contains(_TOUCHED).any().alias(f"t{i}") for i, n in enumerate(names)),
        *((pl.col(n).str.len_bytes().max() > limit).alias(f"l{i}") for i, n in enumerate(names)),
    ).row(0)
    touched = [n for n, acted_on in zip(names, facts[: len(names)], strict=True) if acted_on]
    long = [n for n, over in zip(names, facts[len(names) :], strict=True) if over]
    cleaned = frame.with_columns(
        pl.col(n).str.replace_all(_ESCAPES, "").str.replace_all(_BREAKS, " ")
        .str.replace_all(_CONTROLS, "")
        for n in touched
    )  # fmt: skip
    return cleaned.with_columns(
        pl.when(pl.col(n).str.len_chars() > limit)
        .then(pl.concat_str(pl.col(n).str.slice(0, limit - 1), pl.lit(ELLIPSIS)))
        .otherwise(pl.col(n))
        .alias(n)
        for n in long
    )


def export_frame(frame: pl.DataFrame, limit: int = TEXT_LIMIT) -> pl.DataFrame:
    """Text columns cleaned and capped for any export; numbers and dates stay as they are."""
    text = [n for n, t in frame.schema.items() if t == pl.String]
    return _cleaned(frame, text, limit) if text else frame


def csv_frame(frame: pl.DataFrame, limit: int = TEXT_LIMIT) -> pl.DataFrame:
    """Every cell as text, cleaned, capped and neutralised: the contract's "no cell can act as a
    formula" holds for numbers too (a negative amount is written '-5)."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List):
            col = col.list.eval(pl.element().cast(pl.String)).list.join("；")
        out.append(col.cast(pl.String).alias(name))
    text = _cleaned(frame.select(out), frame.columns, limit)
    return text.with_columns(
        pl.when(pl.col(n).str.contains(_FORMULA_START))
        .then(pl.concat_str(pl.lit("'"), pl.col(n)))
        .otherwise(pl.col(n))
        .alias(n)
        for n in text.columns
    )


_BOM = b"\xef\xbb\xbf"


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 with BOM (Excel opens it correctly), every cell safe."""
    return _BOM + csv_frame(frame).write_csv().encode("utf-8")


def csv_data_rows(path: Path) -> int:
    """Data rows of a written CSV, read back as a spreadsheet would (quoted newlines included).

    A line ends where a newline stands outside quotes: in the pieces between the file's quote
    marks, every other piece is outside (a doubled quote inside a quoted cell opens and closes an
    empty piece). UTF-8 never puts a quote or newline byte inside another character."""
    data = path.read_bytes()
    lines = sum(piece.count(b"\n") for piece in data.split(b'"')[::2])
    if data and not data.endswith(b"\n"):
        lines += 1  # the last line, unterminated
    return max(0, lines - 1)


def xlsx_data_rows(path: Path) -> int:
    """Data rows of the first sheet of a written workbook (every row below the header)."""
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    return len(re.findall(rb"<row [^>]*>\s*<c ", sheet)) - 1


def export_date_for(con: duckdb.DuckDBPyConnection, district: str, month: str, today: date) -> date:
    """The date a month was first exported (record_export): a rerun keeps it, so deadlines don't
    move; `today` for a month never exported."""
    existing = scalar(
        con,
        "SELECT export_date FROM export_runs WHERE district = ? AND month = ?",
        [district, month],
    )
    return existing or today


def record_export(
    con: duckdb.DuckDBPyConnection, district: str, month: str, export_date: date
) -> None:
    """The month's township lists are out (written last: a month whose export failed part-way has
    no row, so the next month knows its lists never went out), dated with its first export."""
    con.execute(
        "INSERT INTO export_runs SELECT ?, ?, ? WHERE NOT EXISTS ("
        "SELECT 1 FROM export_runs WHERE district = ? AND month = ?)",
        [district, month, export_date, district, month],
    )


def _earlier_listings(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    return con.sql(
        "SELECT * FROM listings WHERE district = $district AND month < $month",
        params={"district": district, "month": month},
    ).pl()


_HOUSEHOLD_COLUMNS = (
    "township", "village", "grid", "worker_name", "worker_phone", "head_name", "household_type"
)  # fmt: skip


def _as_in_roster(
    con: duckdb.DuckDBPyConnection, carried: pl.DataFrame, district: str, month: str
) -> pl.DataFrame:
    """Warnings carried from an earlier listing, with their household and member as M's roster
    has them (contract §5: 乡镇 … 与户主关系 from the roster): a member no longer under the key
    the warning was listed with is found by their ID, where one member of M's roster holds it
    (moved to another household, or the household's 户编号 re-keyed), and takes that member's
    household; a household's place, grid, worker, head and type are M's. A household gone from
    the roster keeps what it was listed with (the run says how many)."""
    if carried.is_empty():
        return carried
    params = {"district": district, "month": month}
    # only the members and households the carried warnings name (every holder of their IDs: a
    # member found by an ID two members hold is not found), not the whole roster
    con.register("_carried", carried.select("member_key", "household_id", "id_number"))
    try:
        members = con.sql(
            """SELECT member_key, household_id, name AS member_name, id_number, relation
               FROM roster_members WHERE district = $district AND month = $month
                 AND (member_key IN (SELECT member_key FROM _carried)
                      OR id_number IN (SELECT id_number FROM _carried))""",
            params=params,
        ).pl()
        con.register("_found", members.select("household_id"))
        households = con.sql(
            f"""SELECT household_id, {", ".join(_HOUSEHOLD_COLUMNS)}
                FROM households WHERE district = $district AND month = $month
                  AND household_id IN (SELECT household_id FROM _carried
                                       UNION SELECT household_id FROM _found)""",
            params=params,
        ).pl()
    finally:
        con.unregister("_carried")
        con.unregister("_found")
    by_id = (
        members.filter(pl.col("id_number").is_not_null())
        .filter(pl.len().over("id_number") == 1)
        .select("id_number", pl.col("member_key").alias("_moved_to"))
    )
    carried = (
        carried.join(by_id, on="id_number", how="left")
        .with_columns(
            pl.when(pl.col("member_key").is_in(members["member_key"].implode()))
            .then(pl.col("member_key"))
            .otherwise(pl.coalesce("_moved_to", "member_key"))
            .alias("member_key")
        )
        .drop("_moved_to")
    )
    return carried.update(members, on="member_key", how="left").update(
        households, on="household_id", how="left", include_nulls=True
    )


# a row `l` of M's listings carried from an earlier month whose household M's roster no longer
# has (_as_in_roster kept what it was listed with): counted by the run, named in the district's
# roster problems
GONE_HOUSEHOLD_SQL = """l.first_month < l.month AND NOT EXISTS (
    SELECT 1 FROM households h WHERE h.district = l.district AND h.month = l.month
       AND h.household_id = l.household_id)"""


# rules on monitored households only (帮扶, 精准): a warning of theirs carried to a month whose roster
# no longer has its household as 脱贫户 or 监测户 no longer applies (an independent probe: JY03
# 在校生未享受资助 still listed, 户类型 一般农户, after the household left monitoring)
MONITORED_ONLY_RULES = tuple(r.code for r in RULES if r.scope is Scope.MONITORED)


# carried warnings (household columns as M's roster has them) of a rule on monitored households
# whose household M's roster has, but not as monitored
OUT_OF_SCOPE = (
    pl.col("rule").is_in(MONITORED_ONLY_RULES)
    & pl.col("household_type").is_not_null()
    & ~pl.col("household_type").is_in(MONITORED_TYPES)
)


# 帮扶 rules (未参保, 在校生未享受资助, 重度残疾未享补贴) speak of a state of the member that the
# department's list shows again every month. A carried warning of one whose member M's list of that
# department shows otherwise (a row of theirs tied this month, the rule evaluated and neither
# warning nor undecided about them: 正常参保 now, 资助 是, 护理补贴 是, no longer 在读) would send a
# grid worker to verify what the data already says is over (an independent probe, indep19: an
# August 暂停 carried to a September whose list says 正常参保): it is not carried
RESOLVED_BY_DATA_RULES = {r.code: r.source for r in RULES if r.direction is Direction.SUPPORT}

_RESOLVED_SQL = """
    SELECT c.warning_id
    FROM _carried c JOIN _rule_sources s ON s.rule = c.rule
    WHERE c.member_key IS NOT NULL
      AND EXISTS (SELECT 1 FROM record_matches m
                  WHERE m.district = $district AND m.month = $month
                    AND m.source = s.source AND m.member_key = c.member_key)
      AND NOT EXISTS (SELECT 1 FROM rules_not_evaluated n
                      WHERE n.district = $district AND n.month = $month AND n.rule = c.rule)
      AND NOT EXISTS (SELECT 1 FROM rule_undecided u
                      WHERE u.district = $district AND u.month = $month AND u.rule = c.rule
                        AND u.member_key = c.member_key)
    -- a 未参保 warning's own year shown otherwise: M's list, whatever year it is mostly of (the
    -- year's list sent again in January, so YB02 is not evaluated), ties the member to a
    -- 正常参保 row of the year the warning said they had none for (indep36: December's YB02
    -- listed on in January though January's list, 2026's again, showed the member insured)
    UNION
    SELECT c.warning_id
    FROM _carried c
    WHERE c.member_key IS NOT NULL
      AND c.rule IN (SELECT rule FROM _rule_sources WHERE source = 'medical_enrollment')
      AND EXISTS (
          SELECT 1 FROM stg_medical_enrollment e
          JOIN record_matches m
            ON m.district = e.district AND m.month = e.month AND m.record_key = e.record_key
          WHERE e.district = $district AND e.month = $month AND m.member_key = c.member_key
            AND e.enroll_status = '正常参保'
            AND e.enroll_year = (SELECT CAST(substr(min(w.month), 1, 4) AS INTEGER)
                                 FROM warnings w
                                 WHERE w.district = $district AND w.warning_id = c.warning_id))
"""


def resolved_by_data(
    con: duckdb.DuckDBPyConnection, carried: pl.DataFrame, district: str, month: str
) -> set[str]:
    """Of carried warnings (their member as M's roster has them) whose member M does not warn
    again by the same rule, those of 帮扶 rules whose state M's list of the same department shows
    over (RESOLVED_BY_DATA_RULES)."""
    candidates = carried.filter(pl.col("rule").is_in(list(RESOLVED_BY_DATA_RULES))).select(
        "warning_id", "rule", "member_key"
    )
    if candidates.is_empty():
        return set()
    sources = pl.DataFrame(
        {"rule": list(RESOLVED_BY_DATA_RULES), "source": list(RESOLVED_BY_DATA_RULES.values())}
    )
    con.register("_carried", candidates)
    con.register("_rule_sources", sources)
    try:
        found = con.sql(_RESOLVED_SQL, params={"district": district, "month": month}).pl()
    finally:
        con.unregister("_carried")
        con.unregister("_rule_sources")
    return set(found["warning_id"].to_list())


def _carried(
    con: duckdb.DuckDBPyConnection,
    earlier: pl.DataFrame,
    current: pl.DataFrame,
    verified: set[str],
    *,
    district: str,
    month: str,
) -> pl.DataFrame:
    """The latest earlier listing's warnings still open (not verified since, not re-found this
    month), as M's roster has their households and members, those out of scope included."""
    carried = earlier.filter(
        (pl.col("month") == earlier["month"].max())
        & ~pl.col("warning_id").is_in(list(verified))
        & ~pl.col("warning_id").is_in(current["warning_id"].implode())
    ).drop("district", "month", "status", "first_month", "deadline")
    return _as_in_roster(con, carried, district, month)


@dataclass(frozen=True)
class CarriedSplit:
    """The latest earlier listing's open warnings: those listed again in M, and how many are not
    (their household no longer monitored: OUT_OF_SCOPE; their state over in M's data:
    resolved_by_data; a 帮扶 warning of M for the same member standing for them)."""

    listed: pl.DataFrame
    out_of_scope: int
    resolved: int
    superseded: int
    # person-level warnings about a member the data says died since (rules/deaths.py)
    deceased: int = 0


def _split_carried(
    con: duckdb.DuckDBPyConnection,
    carried: pl.DataFrame,
    current: pl.DataFrame,
    district: str,
    month: str,
) -> CarriedSplit:
    in_scope = carried.filter(~OUT_OF_SCOPE)
    # one warning per person (contract §4, 人): a 帮扶 warning the month raises again for the
    # member on new evidence (JY03 初中 then 高中, still without aid) stands for the carried one,
    # which is not listed beside it (indep20: the same student listed twice)
    again = current.filter(pl.col("rule").is_in(list(RESOLVED_BY_DATA_RULES)))
    still = in_scope.join(
        again.select("rule", "member_key").unique(), on=["rule", "member_key"], how="anti"
    )
    # a member the data says died since: no visit about their insurance, aid or car (indep41)
    about_them = about_the_dead(still, deceased(con, district, month))
    gone, still = still.filter(about_them), still.filter(~about_them)
    over = resolved_by_data(con, still, district, month)
    listed = still.filter(~pl.col("warning_id").is_in(list(over)))
    superseded = in_scope.height - still.height - gone.height
    return CarriedSplit(
        listed, carried.height - in_scope.height, len(over), superseded, gone.height
    )


def carried_not_listed(
    con: duckdb.DuckDBPyConnection, district: str, month: str, verified: set[str]
) -> CarriedSplit:
    """The latest earlier listing's open warnings split as M's listing splits them, for the run
    output: that listing and M's warnings are read, not M's whole listing built again."""
    params = {"district": district, "month": month}
    latest = con.sql(
        """SELECT * FROM listings WHERE district = $district AND month = (
               SELECT max(month) FROM listings WHERE district = $district AND month < $month)""",
        params=params,
    ).pl()
    current = con.sql(
        "SELECT warning_id, rule, member_key FROM warnings"
        " WHERE district = $district AND month = $month",
        params=params,
    ).pl()
    if latest.is_empty():
        return CarriedSplit(latest, 0, 0, 0)
    carried = _carried(con, latest, current, verified, district=district, month=month)
    return _split_carried(con, carried, current, district, month)


def build_listing(
    con: duckdb.DuckDBPyConnection,
    *,
    district: str,
    month: str,
    export_date: date,
    deadline_days: int,
    verified: set[str] | None = None,
    today: date | None = None,
) -> tuple[pl.DataFrame, str | None]:
    """This month's list: new warnings, plus earlier ones still awaiting verification.

    Returns the listing and the month it carried open warnings from (None when no earlier
    month was ever listed). A warning keeps the deadline it was first listed with; one a rerun
    of M lists for the first time (a department's file came late) is given `today` (the rerun's
    date; `export_date`, M's first export, when not given) + deadline_days: its township sees
    it only now (an independent probe's late YB01 came with a deadline already past).
    """
    verified = verified or set()
    current = con.sql(LISTING_SQL, params={"district": district, "month": month}).pl()
    earlier = _earlier_listings(con, district, month)
    carried_from: str | None = None
    if earlier.height:
        first_seen = earlier.group_by("warning_id").agg(
            pl.col("first_month").min(), pl.col("deadline").min()
        )
        carried_from = earlier["month"].max()
        carried = _carried(con, earlier, current, verified, district=district, month=month)
        carried = _split_carried(con, carried, current, district, month).listed
    else:
        first_seen = pl.DataFrame(
            schema={"warning_id": pl.String, "first_month": pl.String, "deadline": pl.Date}
        )
        carried = None
    current = current.filter(~pl.col("warning_id").is_in(list(verified)))
    # what M's lists already said (a rerun): the deadlines they gave stand
    listed_in_m = con.sql(
        "SELECT warning_id, deadline AS listed_deadline FROM listings"
        " WHERE district = $district AND month = $month",
        params={"district": district, "month": month},
    ).pl()
    first_listing = max(export_date, today or export_date) + timedelta(days=deadline_days)
    listing = (
        pl.concat([current, carried], how="diagonal_relaxed") if carried is not None else current
    )
    listing = (
        listing.join(first_seen, on="warning_id", how="left")
        .join(listed_in_m, on="warning_id", how="left")
        .with_columns(
            pl.col("first_month").fill_null(month),
            pl.coalesce("deadline", "listed_deadline", pl.lit(first_listing)).alias("deadline"),
        )
        .drop("listed_deadline")
        .with_columns(
            pl.when(pl.col("first_month") == month)
            .then(pl.lit(NEW))
            .when(pl.col("deadline") < export_date)
            .then(pl.lit(OVERDUE))
            .otherwise(pl.lit(OPEN))
            .alias("status")
        )
    )
    return listing, carried_from


# mask_id's characters to strip, its Python `\s` spelled out for polars' regex engine
_ID_STRIP = _STRIP_CHARS.replace(r"\s", SPACE_CLASS)


def mask_ids(ids: pl.Expr) -> pl.Expr:
    """mask_id of every ID of a column (null stays null), as one expression: first 6 + 8 '*' +
    last 4 of 18 characters, first 6 + 6 '*' + last 3 of 15, beyond 18 the first 6 and '*' for
    the rest, else the middle half hidden."""
    t = ids.cast(pl.String).str.replace_all(_ID_STRIP, "")
    n = t.str.len_chars().cast(pl.Int64)
    keep = n // 4

    def hidden(part: pl.Expr) -> pl.Expr:
        return part.str.replace_all(r"(?s).", "*")

    return (
        pl.when(n == 18)
        .then(pl.concat_str(t.str.head(6), pl.lit("*" * 8), t.str.tail(4)))
        .when(n == 15)
        .then(pl.concat_str(t.str.head(6), pl.lit("*" * 6), t.str.tail(3)))
        .when(n > 18)
        .then(pl.concat_str(t.str.head(6), hidden(t.str.slice(6))))
        .otherwise(
            pl.concat_str(
                t.str.head(keep), hidden(t.str.slice(keep, n - 2 * keep)), t.str.tail(keep)
            )
        )
    )


_ORDER = ["village", "grid", "household_id", "rule", "warning_id"]
# 村 and 网格 are sorted as a clerk counts: 一组, 二组, 三组 … 十组, 十一组 (and 2组 before 10组),
# not by the characters' codes (一组, 三组, 二组); the rest of a name as written
_COUNTED = ("village", "grid")
_NUMERAL = re.compile(r"[0-9０-９]+|[零〇一二两三四五六七八九十百千]+")
_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_UNIT = {"十": 10, "百": 100, "千": 1000}


def _numeral_value(numeral: str) -> int:
    """12 for 12 or １２, 十二; 20 for 二十; 105 for 一百零五; 2026 for 二〇二六 (digit by digit)."""
    if numeral[0] not in _DIGIT and numeral[0] not in _UNIT:
        return int(unicodedata.normalize("NFKC", numeral))
    if not any(c in _UNIT for c in numeral):
        return int("".join(str(_DIGIT[c]) for c in numeral))
    total = digit = 0
    for c in numeral:
        if c in _UNIT:
            total += (digit or 1) * _UNIT[c]
            digit = 0
        else:
            digit = _DIGIT[c]
    return total + digit


def counted_order(text: str) -> str:
    """A sort key for a name that numbers its part: each numeral as a zero-padded number."""
    return _NUMERAL.sub(lambda found: f"{_numeral_value(found[0]):010d}", text)


def _counted(column: str, values: pl.Series) -> pl.Expr:
    distinct = values.drop_nulls().unique().to_list()
    keys = {value: counted_order(value) for value in distinct}
    return pl.col(column).replace_strict(keys, default=None, return_dtype=pl.String)


def township_frame(listing: pl.DataFrame, *, mask: bool) -> pl.DataFrame:
    """The listing in the contract's export columns, sorted by 村, 网格, 户编号, 预警代码."""
    return _export_rows(listing, mask=mask, order=_ORDER)


def _export_rows(listing: pl.DataFrame, *, mask: bool, order: list[str]) -> pl.DataFrame:
    shown = mask_ids(pl.col("id_number")) if mask else pl.col("id_number")
    keys = {c: f"_order_{c}" for c in _COUNTED if c in order}
    return (
        listing.with_columns(
            shown.alias("_shown_id"),
            *(_counted(c, listing[c]).alias(key) for c, key in keys.items()),
        )
        .sort([keys.get(c, c) for c in order], nulls_last=True)
        .select(
            pl.col("warning_id").alias("预警编号"),
            pl.col("township").alias("乡镇"),
            pl.col("village").alias("村"),
            pl.col("grid").alias("网格"),
            pl.col("worker_name").alias("网格员"),
            pl.col("worker_phone").alias("网格员电话"),
            pl.col("household_id").alias("户编号"),
            pl.col("head_name").alias("户主姓名"),
            pl.col("household_type").alias("户类型"),
            pl.col("member_name").alias("姓名"),
            pl.col("_shown_id").alias("证件号码"),
            pl.col("relation").alias("与户主关系"),
            pl.col("rule").alias("预警代码"),
            pl.col("rule_name").alias("预警名称"),
            pl.col("risk_type").alias("风险类型"),
            pl.col("direction").alias("预警方向"),
            pl.col("level").alias("预警等级"),
            pl.col("department").alias("来源部门"),
            pl.col("evidence").alias("预警依据"),
            pl.col("method").alias("匹配方式"),
            pl.col("confidence").round(3).alias("匹配可信度"),
            pl.col("status").alias("状态"),
            pl.col("first_month").alias("首次预警月份"),
            pl.col("deadline").cast(pl.String).alias("核实截止日期"),
            *(pl.lit(None, dtype=pl.String).alias(c) for c in VERIFICATION_COLUMNS),
        )
    )


_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f\x7f-\x9f]+')
UNKNOWN_TOWNSHIP = "未知乡镇"
STEM_LIMIT = 40  # characters: a file name stays far below the 255-byte limit in UTF-8
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def safe_file_stem(township: str) -> str:
    return _UNSAFE.sub("_", clean_text(township, None)).strip("_. ") or UNKNOWN_TOWNSHIP


def _name_hash(township: str | None) -> str:
    raw = "\x00" if township is None else township
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]


def township_stems(townships: Iterable[str | None]) -> dict[str | None, str]:
    """A distinct, stable file stem per township: its own name where that is a safe file name,
    else the sanitised name plus 8 hex of the raw name's SHA-256 (`清水河街道/` →
    `清水河街道_1a2b3c4d`). Names that still meet (case or width differences, which Windows and
    macOS file systems fold) all take the hash. The same names give the same stems in every run."""
    stems: dict[str | None, str] = {}
    hashed: set[str | None] = set()
    for township in sorted(set(townships), key=lambda t: (t is None, t or "")):
        stem = UNKNOWN_TOWNSHIP if township is None else safe_file_stem(township)
        if stem.startswith("区级"):  # the district's own files start so: never mistaken for one
            stem = f"乡镇_{stem}"
        if township is not None and (
            stem != township or len(stem) > STEM_LIMIT or stem.upper() in _WINDOWS_RESERVED
        ):
            stem = f"{stem[:STEM_LIMIT]}_{_name_hash(township)}"
            hashed.add(township)
        stems[township] = stem

    def fold(stem: str) -> str:
        return unicodedata.normalize("NFKC", stem).casefold()

    groups: dict[str, list[str | None]] = {}
    for township, stem in stems.items():
        groups.setdefault(fold(stem), []).append(township)
    for members in groups.values():
        if len(members) > 1:
            for township in members:
                if township not in hashed:
                    stems[township] = f"{stems[township][:STEM_LIMIT]}_{_name_hash(township)}"
    if len({fold(s) for s in stems.values()}) != len(stems):
        raise ExportCheckError("两个乡镇的文件名相同，无法区分：请检查花名册中的乡镇名称")
    return stems


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def township_files(out_dir: Path) -> list[Path]:
    """The month's township files as they stand in `out_dir` (its other files are the
    district's: 区级…, 部门数据质量/)."""
    if not out_dir.is_dir():
        return []
    return [
        path
        for path in out_dir.iterdir()
        if path.is_file() and path.suffix in {".csv", ".xlsx"} and not path.name.startswith("区级")
    ]


# the folder beside exports/<M>/ where a run writes the month's files before they take the
# published ones' places: a township never finds a file half written (a run killed, a disk full)
# in exports/<M>/, and the files a previous run published stay until the new set is whole
_WRITING = ".{month}-{kind}正在写入"
# such a folder's name, whatever its month and kind (fangfan audit tells its files apart)
WRITING_FOLDER = re.compile(r"^\.\d{4}-\d{2}-.*正在写入$")


@contextmanager
def writing_beside(out_dir: Path, kind: str = "") -> Iterator[Path]:
    """An empty folder beside `out_dir` on its file system (one per `kind` of files), removed
    when done (one a killed run left is removed first)."""
    writing = out_dir.parent / _WRITING.format(month=out_dir.name, kind=kind)
    shutil.rmtree(writing, ignore_errors=True)
    writing.mkdir(parents=True)
    try:
        yield writing
    finally:
        shutil.rmtree(writing, ignore_errors=True)


def free_places(targets: Iterable[Path]) -> None:
    """Raise, naming it, where something other than a file stands at a place an export file goes
    (a folder named 东桥镇.xlsx): before any file is put in place, so none of the new set goes out
    beside the old (an independent fault probe, indep31, found half a set put out, and the
    failure told as an internal error)."""
    for target in targets:
        if target.exists() and not target.is_file():
            raise IsADirectoryError(
                errno.EISDIR, f"导出文件的位置被一个文件夹（或非普通文件）占用，请移走它：{target}"
            )


def put_in_place(moves: list[tuple[Path, Path]], replaced: Iterable[Path] = ()) -> None:
    """Each written file (written, published) moved to its published place, a rename: a reader
    sees the old file or the new one, never part of one; then each file of `replaced` (what an
    earlier run published in the set's place) that this set has none for is removed. Nothing
    moves when a place is taken by anything but a file (free_places)."""
    free_places(target for _, target in moves)
    earlier = list(replaced)  # as it stood before the moves
    for path, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    published = {target for _, target in moves}
    for stale in earlier:
        if stale not in published and stale.is_file():
            stale.unlink()


def _put_in_place(written: list[Path], out_dir: Path) -> list[Path]:
    """Each written file put in its place in `out_dir`, the township files of an earlier run
    that this one has none for removed. Returns the published paths."""
    published = [out_dir / path.name for path in written]
    put_in_place(list(zip(written, published, strict=True)), township_files(out_dir))
    return published


def write_township_files(
    listing: pl.DataFrame, out_dir: Path, *, mask: bool, xlsx: bool, export_date: date | None = None
) -> list[ExportedFile]:
    """One CSV (UTF-8 with BOM) and optionally one XLSX per township that has warnings, written
    and put in place at once (township_files_ready)."""
    with township_files_ready(listing, out_dir, mask=mask, xlsx=xlsx, export_date=export_date) as (
        files,
        publish,
    ):
        publish()
    return files


@contextmanager
def township_files_ready(
    listing: pl.DataFrame, out_dir: Path, *, mask: bool, xlsx: bool, export_date: date | None = None
) -> Iterator[tuple[list[ExportedFile], Callable[[], list[Path]]]]:
    """The township files written and read back beside exports/<M>/ (`out_dir`): each one's
    rows must be the rows the listing holds for its township (a file overwritten by another
    township's, or cut short, fails the export). Yields the files as they will stand in
    `out_dir`, and what puts them there: each takes its published namesake's place by a rename,
    and the files of townships without warnings any more go. Until it is called, and whatever
    fails or is killed before (the warehouse's record of the export, the ledger), the lists
    published before stay as they were: an independent probe (indep31) found files of 0 bytes
    and cut short in exports/<M>/ after a kill or a full disk, a rerun's kill deleting the lists
    published before, and lists left out by a run whose warehouse writes had failed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with writing_beside(out_dir) as writing:
        written = _write_township_files(listing, writing, mask=mask, xlsx=xlsx,
                                        export_date=export_date)  # fmt: skip
        files = [replace(f, path=out_dir / f.path.name) for f in written]
        yield files, lambda: _put_in_place([f.path for f in written], out_dir)


def _write_township_files(
    listing: pl.DataFrame,
    out_dir: Path,
    *,
    mask: bool,
    xlsx: bool,
    export_date: date | None,
) -> list[ExportedFile]:
    # the whole listing is masked, sorted, made safe and measured once, then cut per township:
    # sorted by township first, each township's rows are one run, in township_frame's order
    frame = _export_rows(listing, mask=mask, order=["township", *_ORDER])
    runs = frame.select(pl.col("乡镇").rle()).unnest("乡镇").rows()
    stems = township_stems(township for _, township in runs)
    start, spans = 0, {}
    for height, township in runs:
        spans[township] = (start, height)
        start += height
    ordered = sorted(spans, key=lambda t: stems[t])
    planned: list[tuple[str | None, Path, int, tuple[str, ...]]] = [
        (township, out_dir / f"{stems[township]}.csv", spans[township][1], tuple(frame.columns))
        for township in ordered
    ]

    def write_csv_files() -> None:
        safe_csv = csv_frame(frame)
        for township, csv_path, height, _ in planned:
            rows = safe_csv.slice(spans[township][0], height)
            csv_path.write_bytes(_BOM + rows.write_csv().encode("utf-8"))

    with ThreadPoolExecutor(max_workers=1) as pool:
        # the CSV files are written on a second thread while the workbooks are
        csv_files = pool.submit(write_csv_files)
        if xlsx:
            _write_township_workbooks(frame, out_dir, stems, spans, ordered, export_date)
        csv_files.result()
    if xlsx:
        planned = [
            entry
            for township, csv_path, height, columns in planned
            for entry in (
                (township, csv_path, height, columns),
                (township, out_dir / f"{stems[township]}.xlsx", height, columns),
            )
        ]
    # no file that fails the check is sent out: the published ones stay as they were
    verify_rows(planned, listed=listing.height)
    return [
        ExportedFile(township, path, rows, _sha256(path), columns, mask, path.stat().st_size)
        for township, path, rows, columns in planned
    ]


def _write_township_workbooks(
    frame: pl.DataFrame,
    out_dir: Path,
    stems: dict[str | None, str],
    spans: dict[str | None, tuple[int, int]],
    ordered: list[str | None],
    export_date: date | None,
) -> None:
    """One workbook per township: `spans` the townships' runs of rows in `frame`."""
    cells = export_frame(frame)
    lines = _row_lines(cells, [_WIDTHS.get(name, 12) for name in cells.columns])
    # every township's workbook is opened, all their rows go in in one pass, then each closes
    books: dict[str | None, tuple] = {}
    try:
        for township in spans:  # in the frame's order: the runs of write_blocks
            books[township] = _open_township_workbook(
                out_dir / f"{stems[township]}.xlsx", list(cells.columns),
                created=export_date,
            )  # fmt: skip
        write_blocks(
            [books[t][1] for t in spans], 1, _township_cells(cells), _heights(lines),
            [spans[t][1] for t in spans], [books[t][2] for t in spans],
        )  # fmt: skip
        for township in spans:
            shown = clean_text(township or UNKNOWN_TOWNSHIP, 100)
            _finish_township_sheet(
                books[township][1], list(cells.columns), spans[township][1],
                title=f"{shown}防返贫动态监测预警清单",
            )  # fmt: skip
    finally:
        # closing packs each workbook (XML, then zlib): the packing of two side by side
        map_in_threads(lambda book: book.close(), [books[t][0] for t in ordered if t in books])


def verify_rows(
    planned: list[tuple[str | None, Path, int, tuple[str, ...]]], *, listed: int
) -> None:
    """Read every written file back: rows on disk = rows listed for it, and every listed row is in
    exactly one CSV. Raises ExportCheckError naming the file."""
    paths = [path for _, path, _, _ in planned]
    if len(set(paths)) != len(paths):
        raise ExportCheckError("导出核对失败：两个乡镇写入了同一个文件")
    csv_total = 0
    for _, path, rows, _ in planned:
        found = csv_data_rows(path) if path.suffix == ".csv" else xlsx_data_rows(path)
        if found != rows:
            raise ExportCheckError(
                f"导出核对失败：{path.name} 中有 {found} 行，清单中该乡镇为 {rows} 行"
            )
        if path.suffix == ".csv":
            csv_total += found
    if csv_total != listed:
        raise ExportCheckError(f"导出核对失败：各乡镇 CSV 共 {csv_total} 行，清单为 {listed} 行")


# Widths (characters) chosen so that the whole list prints one page wide on A3 landscape at a
# readable size; long text wraps inside its cell.
_WIDTHS = {
    "预警编号": 19, "乡镇": 8, "村": 8, "网格": 12, "网格员": 7, "网格员电话": 12, "户编号": 18,
    "户主姓名": 7, "户类型": 7, "姓名": 7, "证件号码": 19, "与户主关系": 6, "预警代码": 6,
    "预警名称": 12, "风险类型": 10, "预警方向": 5, "预警等级": 5, "来源部门": 8, "预警依据": 36,
    "匹配方式": 14, "匹配可信度": 6, "状态": 5, "首次预警月份": 8, "核实截止日期": 11,
    "核实结果": 14, "核实说明": 18, "核实人": 7, "核实日期": 10,
}  # fmt: skip


LINE_HEIGHT = 15  # points per wrapped line at the default font size
MAX_ROW_HEIGHT = 409  # points: the tallest row Excel can show


def _lines(text: str, width: int) -> int:
    """Lines a wrapped cell needs: a Chinese character takes two of a column's width units."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return max(1, math.ceil(used / max(width - 1, 1)))


def _row_lines(frame: pl.DataFrame, widths: list[int]) -> pl.Series:
    """Per row, the most lines any of its cells needs: `_lines(str(value) or "", width)` for every
    cell, all columns in one expression (each distinct wide character found once)."""
    if not frame.width:
        return pl.Series(dtype=pl.Int64)
    texts = pl.DataFrame(
        [
            _cell_values(frame[name], numbers=()).alias(str(j))
            for j, name in enumerate(frame.columns)
        ]
    ).fill_null("")
    wide = _wide_class(texts)
    used = [
        pl.col(str(j)).str.len_chars().cast(pl.Int64)
        + (pl.col(str(j)).str.count_matches(wide).cast(pl.Int64) if wide else 0)
        for j in range(texts.width)
    ]
    lines = [
        (u / max(width - 1, 1)).ceil().cast(pl.Int64).clip(lower_bound=1)
        for u, width in zip(used, widths, strict=True)
    ]
    return texts.select(pl.max_horizontal(lines)).to_series()


def _wide_class(texts: pl.DataFrame) -> str:
    """A regex class of the characters in `texts` that take two width units (East Asian Wide or
    Fullwidth, as unicodedata says); "" when there are none."""
    if not texts.height:
        return ""
    # the distinct strings that hold a non-ASCII character (no ASCII character is wide)
    distinct = pl.concat([texts[name].unique() for name in texts.columns])
    distinct = distinct.filter(distinct.str.len_bytes() != distinct.str.len_chars())
    found = set(distinct.str.join("").item() or "") if len(distinct) else set()
    wide = sorted(ord(ch) for ch in found if unicodedata.east_asian_width(ch) in "WF")
    if not wide:
        return ""
    ranges, start, end = [], wide[0], wide[0]
    for point in wide[1:]:
        if point == end + 1:
            end = point
            continue
        ranges.append((start, end))
        start = end = point
    ranges.append((start, end))
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges) + "]"


_FLOAT = (pl.Float32, pl.Float64)
_INT_OR_FLOAT = (*_FLOAT, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32,
                 pl.UInt64)  # fmt: skip


def _cell_values(values: pl.Series, *, numbers: tuple) -> pl.Series:
    """A column as an exported cell shows it: the dtypes in `numbers` as they are, strings as they
    are, any other value as Python's str() of it (a date, a Decimal, True); None stays null."""
    if values.dtype in numbers or values.dtype == pl.String:
        return values
    return pl.Series(
        values.name, [None if v is None else str(v) for v in values.to_list()], dtype=pl.String
    )


def fixed_workbook(path: Path, created: date | None) -> BulkWorkbook:
    """An xlsxwriter workbook whose bytes depend only on its content (reruns give the same file);
    its sheets take whole blocks of rows (fastxlsx: the bytes of one write call per cell)."""
    # text stays text: nothing a cell holds becomes a formula, a number or a hyperlink; the
    # sheets' XML is assembled in memory, never in temporary files (names and IDs would sit in
    # the system's temp folder until the workbook closes, and stay there after a crash)
    workbook = BulkWorkbook(
        str(path),
        {
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "in_memory": True,
        },
    )
    moment = datetime.combine(created or date(2000, 1, 1), time())
    workbook.set_properties({"created": moment})
    return workbook


def write_sheet(workbook, name: str, frame: pl.DataFrame) -> None:
    """A plain table sheet: bold header, numbers as numbers, first row and column frozen; text
    cleaned of control characters and capped (export_frame)."""
    header = workbook.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    sheet = workbook.add_worksheet(name, worksheet_class=BulkWorksheet)
    frame = export_frame(frame)
    for col, column in enumerate(frame.columns):
        sheet.write_string(0, col, clean_text(str(column)), header)
        sheet.set_column(col, col, max(10, min(40, len(str(column)) * 2 + 2)))
    # numbers (not booleans) as numbers, everything else as its str(); None: no cell
    sheet.write_block(
        1, [Cells(_cell_values(frame[c], numbers=_INT_OR_FLOAT)) for c in frame.columns]
    )
    sheet.freeze_panes(1, 1)


def write_township_xlsx(
    frame: pl.DataFrame, path: Path, *, title: str, created: date | None = None
) -> None:
    """Print-ready workbook: frozen header, widths, text IDs, verification columns highlighted."""
    frame = export_frame(frame)
    lines = _row_lines(frame, [_WIDTHS.get(name, 12) for name in frame.columns])
    workbook, sheet, formats = _open_township_workbook(path, list(frame.columns), created=created)
    try:
        write_blocks([sheet], 1, _township_cells(frame), _heights(lines), [frame.height], [formats])
        _finish_township_sheet(sheet, list(frame.columns), frame.height, title=title)
    finally:
        workbook.close()


# the township workbook's formats, added in this order
_TOWNSHIP_FORMATS = {
    "header": {"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
               "valign": "vcenter"},
    "verify_header": {"bold": True, "bg_color": "#FFD966", "border": 1, "text_wrap": True},
    "cell": {"border": 1, "text_wrap": True, "valign": "top", "num_format": "@"},
    "verify_cell": {"border": 1, "bg_color": "#FFF2CC", "valign": "top", "num_format": "@"},
    "overdue": {"border": 1, "bg_color": "#F4B084", "bold": True},
    "red": {"border": 1, "font_color": "#C00000", "bold": True},
}  # fmt: skip


def _open_township_workbook(path: Path, columns: list[str], *, created: date | None):
    """A township workbook up to its rows: formats, the header row, column widths and formats.
    Returns the workbook, its sheet and its formats by name."""
    workbook = fixed_workbook(path, created)
    try:
        sheet = workbook.add_worksheet("预警清单", worksheet_class=BulkWorksheet)
        formats = {name: workbook.add_format(spec) for name, spec in _TOWNSHIP_FORMATS.items()}
        for col, name in enumerate(columns):
            verify = name in VERIFICATION_COLUMNS
            sheet.write_string(0, col, name, formats["verify_header" if verify else "header"])
            sheet.set_column(
                col, col, _WIDTHS.get(name, 12), formats["verify_cell" if verify else "cell"]
            )
        sheet.set_row(0, LINE_HEIGHT * max(_lines(name, _WIDTHS.get(name, 12)) for name in columns))
    except BaseException:
        workbook.close()
        raise
    return workbook, sheet, formats


def _heights(lines: pl.Series) -> list[int]:
    """Per row: as tall as its most wrapped cell, up to the tallest row Excel shows."""
    return [min(MAX_ROW_HEIGHT, LINE_HEIGHT * n) for n in lines.to_list()]


def _township_cells(frame: pl.DataFrame) -> list[Cells]:
    """The rows' cells: floats as numbers, everything else as its str(); the verification columns
    in their own colour, 逾期 and 红 standing out (formats by name: each workbook's own)."""
    marked = {"状态": (OVERDUE, "overdue"), "预警等级": ("红", "red")}
    cells = []
    for name in frame.columns:
        values = frame[name]
        special = ()
        if name in marked and values.dtype == pl.String:
            text, fmt = marked[name]
            special = (((values == text).fill_null(False), fmt),)
        fmt = "verify_cell" if name in VERIFICATION_COLUMNS else "cell"
        cells.append(Cells(_cell_values(values, numbers=_FLOAT), fmt, special))
    return cells


def _finish_township_sheet(sheet, columns: list[str], height: int, *, title: str) -> None:
    """The verdict list, frozen header, filter and the print setup."""
    title = clean_text(title, 200).replace("&", "&&")  # & starts a header code in Excel
    verdict_col = columns.index("核实结果")
    if height:
        sheet.data_validation(
            1, verdict_col, height, verdict_col, {"validate": "list", "source": list(VERDICTS)}
        )
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(height, 1), len(columns) - 1)
    sheet.set_landscape()
    sheet.set_paper(8)  # A3: 28 columns do not fit an A4 width at a readable size
    sheet.set_margins(left=0.3, right=0.3, top=0.5, bottom=0.5)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_header(f"&C{title}")
    sheet.set_footer("&C第 &P 页，共 &N 页")
