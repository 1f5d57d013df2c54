"""Roster members and households of one month, joined to the grid ledger for routing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.config import previous_month
from pipelines.matching.ids import BAD_CHECKSUM, BAD_DATE, DESTROYED, INVALID, MISSING
from pipelines.matching.places import TOWNSHIP_SUFFIXES, place_map
from pipelines.schema import rollback
from pipelines.staging import copy_month
from pipelines.warehouse import forget_build, read_frame, replace_partition, scalar, table_columns

# 与户主关系 of the head, as rosters write it (spaces and brackets aside: 户 主, 户主(本人))
HEAD_RELATIONS = ("户主", "本人", "户主本人", "本人户主", "家长")


@dataclass(frozen=True)
class RosterTables:
    members: pl.DataFrame
    households: pl.DataFrame
    findings: pl.DataFrame  # data-quality findings: kind, household_id, member_key, detail


@dataclass(frozen=True)
class RosterWritten:
    """What write_roster wrote for M: the members counted (not read back), the households and
    findings as written."""

    members: int
    households: pl.DataFrame
    findings: pl.DataFrame
    # the month whose keyed members were reused (same roster and grid fingerprints), None when
    # they were built now
    reused_from: str | None = None


# Rust's \s (polars) is Unicode White_Space; RE2's (DuckDB) is ASCII: spelled out here whole
_SPACE = r"[\t\n\x0B\f\r\x{85}\p{Z}]+"


def _key(column: str) -> str:
    """Join key for place and grid names: whitespace and full-width spaces ignored."""
    return f"regexp_replace(coalesce(\"{column}\", ''), '{_SPACE}', '', 'g')"


_NUMERALS = "一二三四五六七八九"


def _numeral(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十 (a 组 numbered as a person reads it)."""
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("" if tens == 1 else _NUMERALS[tens - 1]) + "十") + (
        _NUMERALS[ones - 1] if ones else ""
    )


def _numbered(expr: str) -> str:
    """SQL: a grid name 1组 … 39组 with its number as a person says it (一组 … 三十九组)."""
    numbered = " ".join(f"WHEN '{n}组' THEN '{_numeral(n)}组'" for n in range(1, 40))
    return f"(CASE {expr} {numbered} ELSE {expr} END)"


def _grid_key(column: str) -> str:
    """Join key for a grid's name: as _key, read as a person reads it: 一组网格, 一组, 第一组,
    村民一组 and 1组 are one grid (网格 after it, 第 or 村民 before it, its number in digits)."""
    return _numbered(
        f"regexp_replace(regexp_replace({_key(column)}, '网格$', ''), '^(第|村民)', '')"
    )


# a ledger row for several groups: 一、二组, 1、2组, 一组、二组, 一二组 is not (十二组 is one)
_GROUP_LIST = "、，,/和及"
_GROUP_NUMBER = "[0-9一二三四五六七八九十]+组?"
_SEVERAL_GROUPS = f"^{_GROUP_NUMBER}([{_GROUP_LIST}]{_GROUP_NUMBER})+$"


# what a household has once, read from its members: the value most of them give
HOUSEHOLD_PLACE = ("township", "village", "group", "grid", "household_type")
_HEAD = ", ".join(f"'{relation}'" for relation in HEAD_RELATIONS)
# what 与户主关系 may hold around the word without changing it: spaces of either width, brackets
_HEAD_NOISE = r"[\s\x{3000}()（）]"

FINDING = {
    "duplicate_member": (
        "同户重复成员",
        "同一户内证件号码重复（或无可用证件号码时，姓名与出生日期都相同），仅保留第一行",
    ),
    "duplicate_id": ("花名册证件号码重复", "同一证件号码出现在花名册多行，未自动处理"),
    "ungridded": ("农户无网格台账", "花名册的乡镇+村+网格在网格台账中找不到，预警无法派给网格员"),
    "no_worker": (
        "网格无网格员",
        "网格台账列了该户的乡镇+村+网格，但没有填村组网格员（姓名和电话都空）："
        "预警无法派给网格员，请补填台账",
    ),
    "two_workers": (
        "网格员不唯一",
        "网格台账对该户的乡镇+村+网格列了两位及以上网格员（如调走的和新来的、复制的台账），"
        "预警未派给网格员：请核对网格台账",
    ),
    "unusable_id": (
        "花名册证件号码缺失或有误",
        "证件号码为空，或校验位、出生日期不对：部门记录按证件号码找不到该成员，只能按姓名和出生日期"
        "识别；请在系统中核对补全",
    ),
    "destroyed_id": (
        "花名册证件号码被Excel改写",
        "证件号码已被 Excel 当作数字改写（科学计数法，或只剩前 15 位），原号码无法恢复；"
        "该成员暂按姓名和出生日期识别。请从系统重新导出花名册，证件号码列保存为文本",
    ),
    "split_place": (
        "同户分属不同乡镇或村",
        "同一户编号的行写了不同的乡镇或村（如两个乡镇的花名册文件都列了该户）：该户按户主所在行"
        "（或多数成员）的地点派发，请核对花名册",
    ),
    "birth_conflict": (
        "出生日期与证件号码不符",
        "花名册的出生日期与证件号码中的出生日期不同：年龄按花名册的出生日期计算，涉及年龄的预警"
        "（失业登记的 16–60 岁、家庭成员死亡的预警等级）可能因此不同；请核对后更正其中一个",
    ),
    "untyped": (
        "户类型无法识别",
        "该户成员的「户类型」都为空或无法识别（如一格写了两种类型）：只对重点户的规则和 MZ01 "
        "记为不可判断，YB01 按一般农户阈值；请核对后按 脱贫户/监测户/一般农户 填写",
    ),
}


# a household's members as listed: its head first, then in record order
_LISTED = "is_head DESC, record_key"
# the same order as one sortable text, for min()
_PLACE_IN_LIST = "(CASE WHEN is_head THEN '0' ELSE '1' END) || record_key"


def _born(birth: str) -> str:
    """SQL: what tells namesakes without a usable ID apart in a member key, `|YYYY-MM-DD`."""
    return f"'|' || strftime({birth}, '%Y-%m-%d')"


def _ledger_places(con: duckdb.DuckDBPyConnection, grid: str, where: str, params: tuple) -> None:
    """Temp table _ledger_places (matching.places.place_map): the grid ledger's 乡镇/村 on the
    roster's names where exactly one fits, read as a department's are (金安区东桥镇 → 东桥镇,
    马集村委会 or 先生店镇柏树村 → the roster's 马集村, 柏树村). A title's names are read the same way (ingest.grid), a flat
    ledger's 乡镇 and 村 cells only here, against the households' places (_heads)."""
    written = con.sql(
        f"SELECT DISTINCT township, village FROM {grid} {where}", params=list(params)
    ).pl()
    roster_places = con.sql('SELECT DISTINCT township, village, "group" FROM _heads').pl()
    con.register("_ledger_frame", place_map(written, roster_places))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _ledger_places AS SELECT * FROM _ledger_frame")
    finally:
        con.unregister("_ledger_frame")


def _key_roster(
    con: duckdb.DuckDBPyConnection,
    roster: str,
    grid: str,
    where: str = "",
    params: tuple = (),
    previous: tuple[str, tuple] | None = None,
) -> None:
    """Temp tables _members (one row per member_key, the first by record_key), _households (with
    their 网格员) and _findings, from the rows of tables `roster` and `grid` that `where` (with
    `params`) keeps. The grid ledger's first row (rowid) stands where a 乡镇+村+网格 is listed
    twice. `previous`: a query (with its parameters) of the members the district's latest
    earlier roster was keyed to (member_key, household_id, name, birth_date), whose keys are
    carried over (_carry_keys)."""
    _key_members(con, roster, where, params, previous)
    _route_households(con, grid, where, params)
    _find_problems(con, roster, where, params)


def _key_members(
    con: duckdb.DuckDBPyConnection,
    roster: str,
    where: str,
    params: tuple,
    previous: tuple[str, tuple] | None,
) -> None:
    """_members: the roster's rows keyed, one row per member_key (the first by record_key), the
    keys of the latest earlier roster carried over."""
    # A member without a usable ID is known by name; namesakes in one household without IDs
    # (a grandson named after his grandfather, IDs that Excel destroyed) are told apart by birth
    # date, which a person reading the roster would see. Only such households need the date.
    birth = "coalesce(r.birth_date, r.id_birth)"
    without_id = f"{where} {'AND' if where else 'WHERE'} id_number IS NULL"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _namesakes AS
        SELECT household_id, name FROM {roster} r {without_id}
        GROUP BY household_id, name HAVING count(DISTINCT {birth}) > 1""",
        list(params),
    )
    keyed = f"""
        SELECT r.* REPLACE ({birth} AS birth_date),
               r.household_id || '|' || coalesce(
                   r.id_number,
                   r.name || CASE WHEN n.name IS NOT NULL AND {birth} IS NOT NULL
                                  THEN {_born(birth)} ELSE '' END
               ) AS member_key,
               coalesce(CASE WHEN r.relation IN ({_HEAD}) THEN true
                             -- 户 主, 户主（本人）: spaces and brackets are looked past
                             WHEN r.relation SIMILAR TO '.*{_HEAD_NOISE}.*'
                             THEN regexp_replace(r.relation, '{_HEAD_NOISE}', '', 'g')
                                  IN ({_HEAD})
                             ELSE false END
                        OR (r.relation IS NULL AND r.name = r.head_name), false) AS is_head
        FROM {roster} r
        LEFT JOIN _namesakes n
          ON r.id_number IS NULL AND n.household_id = r.household_id AND n.name = r.name
        {where}"""
    # a member_key given twice is rare: its rows are found by one aggregate, not a window
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _repeated AS
        SELECT member_key, min(record_key) AS first_key, count(*) AS copies
        FROM ({keyed}) GROUP BY member_key HAVING count(*) > 1""",
        list(params),
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _members AS
        SELECT k.*, coalesce(r.copies, 1) AS _copies
        FROM ({keyed}) k LEFT JOIN _repeated r ON k.member_key IS NOT DISTINCT FROM r.member_key
        WHERE r.copies IS NULL OR k.record_key = r.first_key
        -- in the order roster_members is written in: sorting here, in a temp table, costs a
        -- fraction of sorting the rows on their way into the persistent table (1M: 1.3 s)
        ORDER BY k.record_key""",
        list(params),
    )
    if previous is not None:
        _carry_keys(con, *previous)


def _route_households(con: duckdb.DuckDBPyConnection, grid: str, where: str, params: tuple) -> None:
    """_heads and _households: each household once, its place the one most of its members give,
    and its 网格员 from the grid ledger's rows `where` keeps."""
    least = ", ".join(f'min("{c}") AS "{c}", max("{c}") AS "_max_{c}"' for c in HOUSEHOLD_PLACE)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _heads AS
        SELECT household_id,
               first(member_key ORDER BY {_LISTED}) AS head_member_key,
               coalesce(first(head_name ORDER BY {_LISTED}) FILTER (WHERE head_name IS NOT NULL),
                        first(name ORDER BY {_LISTED}) FILTER (WHERE is_head)) AS head_name,
               {least}, count(*)::UINTEGER AS members
        FROM _members GROUP BY household_id"""
    )
    # where members give different places, the value most of them give (blank ones aside);
    # between values given equally often, the one of the member listed first (the head first)
    differ = " OR ".join(f'"{c}" IS DISTINCT FROM "_max_{c}"' for c in HOUSEHOLD_PLACE)
    chosen = ",\n".join(
        f"(SELECT first(value ORDER BY n DESC, pos) FROM ("
        f' SELECT "{c}" AS value, count(*) AS n, min({_PLACE_IN_LIST}) AS pos'
        " FROM _members m"
        f' WHERE m.household_id = h.household_id AND "{c}" IS NOT NULL GROUP BY 1'
        f')) AS "{c}"'
        for c in HOUSEHOLD_PLACE
    )
    con.execute(
        f"""UPDATE _heads h SET {", ".join(f'"{c}" = v."{c}"' for c in HOUSEHOLD_PLACE)}
        FROM (SELECT h.household_id, {chosen} FROM _heads h WHERE {differ}) v
        WHERE h.household_id = v.household_id"""
    )
    _ledger_places(con, grid, where, params)
    places = ", ".join(f'h."{c}"' for c in HOUSEHOLD_PLACE)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _households AS
        -- each grid name keyed once (a district has thousands, its households 250k per 1M)
        WITH grids AS (
            SELECT township, village, grid, {_key("township")} AS _t, {_key("village")} AS _v,
                   {_grid_key("grid")} AS _g
            FROM (SELECT DISTINCT township, village, grid FROM _heads)
        ),
        -- a ledger titled with its village only (北山村防止返贫…台账) is of the 乡镇 that the
        -- roster's one village of that name is in; a village name two townships share is not
        -- guessed (its households are 农户无网格台账)
        villages AS (
            SELECT _v, min(_t) AS _t FROM (SELECT DISTINCT _t, _v FROM grids)
            GROUP BY _v HAVING count(*) = 1
        ),
        entries AS (
            SELECT CASE WHEN e._t = '' THEN coalesce(v._t, '') ELSE e._t END AS _t, e._v, e._g,
                   e.worker_name, e.worker_phone, e._order
            FROM (
                SELECT {_key("township")} AS _t, {_key("village")} AS _v,
                       {_grid_key("grid")} AS _g, worker_name, worker_phone, _order
                FROM (SELECT g.rowid AS _order, g.grid, g.worker_name, g.worker_phone,
                             coalesce(p.township, g.township) AS township,
                             coalesce(p.village, g.village) AS village
                      FROM {grid} g
                      LEFT JOIN _ledger_places p
                        ON p.t0 IS NOT DISTINCT FROM g.township
                       AND p.v0 IS NOT DISTINCT FROM g.village
                      {where})
            ) e
            LEFT JOIN villages v ON e._t = '' AND v._v = e._v
        ),
        -- a ledger row for several groups (一、二组) is each group's row too: a person reads its
        -- worker as the worker of each of them
        covered AS (
            SELECT _t, _v, _g, worker_name, worker_phone, _order FROM entries
            UNION ALL
            SELECT _t, _v, {_numbered("(regexp_replace(part, '组$', '') || '组')")},
                   worker_name, worker_phone, _order
            FROM (SELECT *, unnest(string_split_regex(_g, '[{_GROUP_LIST}]')) AS part
                  FROM entries WHERE regexp_matches(_g, '{_SEVERAL_GROUPS}'))
        ),
        -- a grid the ledger lists twice with two different workers (the one who left and the
        -- one who came, two villages' copies of a workbook) has no one worker: none is guessed
        ledger AS (
            SELECT _t, _v, _g,
                   CASE WHEN count(DISTINCT worker_name) <= 1
                        THEN first(worker_name ORDER BY worker_name IS NULL, _order) END
                       AS worker_name,
                   CASE WHEN count(DISTINCT worker_name) <= 1
                        THEN first(worker_phone ORDER BY worker_phone IS NULL, _order) END
                       AS worker_phone,
                   count(DISTINCT worker_name) > 1 AS _workers
            FROM covered GROUP BY _t, _v, _g
        )
        SELECT h.household_id, h.head_member_key, h.head_name, {places}, h.members,
               l.worker_name, l.worker_phone, coalesce(l._workers, false) AS _workers,
               l._g IS NOT NULL AS _listed
        FROM _heads h
        LEFT JOIN grids k
          ON k.township IS NOT DISTINCT FROM h.township AND k.village IS NOT DISTINCT FROM h.village
         AND k.grid IS NOT DISTINCT FROM h.grid
        LEFT JOIN ledger l ON l._t = k._t AND l._v = k._v AND l._g = k._g
        ORDER BY h.household_id NULLS FIRST""",
        list(params),
    )


def _find_problems(con: duckdb.DuckDBPyConnection, roster: str, where: str, params: tuple) -> None:
    """_findings: the roster's own problems (FINDING), from _members, _households and the roster's
    rows `where` keeps."""
    kinds = {kind: [f"'{text}'" for text in texts] for kind, texts in FINDING.items()}
    # frames built by hand (build_roster in tests) may carry no ID status
    columns = set(table_columns(con, "_members"))
    statused = "id_status" in columns
    destroyed = f"id_status = '{DESTROYED}'" if statused else "false"
    unusable = ", ".join(f"'{status}'" for status in (MISSING, BAD_CHECKSUM, BAD_DATE, INVALID))
    unusable = f"id_status IN ({unusable})" if statused else "false"
    # the roster's own birth date (kept in _members where written) against the usable ID's; one
    # written to its month only is compared by month
    if "birth_date_month_only" in columns:
        differs = """CASE WHEN coalesce(birth_date_month_only, false)
                          THEN strftime(birth_date, '%Y-%m') <> strftime(id_birth, '%Y-%m')
                          ELSE birth_date <> id_birth END"""
    else:
        differs = "birth_date <> id_birth"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _findings AS
        SELECT * FROM (
            SELECT {kinds["duplicate_member"][0]} AS kind, household_id, member_key,
                   {kinds["duplicate_member"][1]} AS detail, 1 AS part, record_key AS _order
            FROM _members WHERE _copies > 1
            UNION ALL
            SELECT {kinds["duplicate_id"][0]}, household_id, member_key,
                   {kinds["duplicate_id"][1]}, 2, record_key
            FROM _members
            WHERE id_number IS NOT NULL
            QUALIFY count(*) OVER (PARTITION BY id_number) > 1
            UNION ALL
            SELECT CASE WHEN _listed THEN {kinds["no_worker"][0]}
                        ELSE {kinds["ungridded"][0]} END,
                   household_id, head_member_key,
                   CASE WHEN _listed THEN {kinds["no_worker"][1]}
                        ELSE {kinds["ungridded"][1]} END, 3, household_id
            FROM _households
            WHERE worker_name IS NULL AND worker_phone IS NULL AND NOT _workers
            UNION ALL
            SELECT {kinds["two_workers"][0]}, household_id, head_member_key,
                   {kinds["two_workers"][1]}, 3, household_id
            FROM _households
            WHERE _workers
            UNION ALL
            SELECT {kinds["destroyed_id"][0]}, household_id, member_key,
                   {kinds["destroyed_id"][1]}, 4, record_key
            FROM _members
            WHERE {destroyed}
            UNION ALL
            SELECT {kinds["unusable_id"][0]}, household_id, member_key,
                   {kinds["unusable_id"][1]}, 4, record_key
            FROM _members
            WHERE {unusable}
            UNION ALL
            SELECT {kinds["birth_conflict"][0]}, household_id, member_key,
                   {kinds["birth_conflict"][1]}, 4, record_key
            FROM _members
            WHERE id_number IS NOT NULL AND id_birth IS NOT NULL AND birth_date IS NOT NULL
              AND {differs}
            UNION ALL
            SELECT {kinds["untyped"][0]}, household_id, head_member_key,
                   {kinds["untyped"][1]}, 5, household_id
            FROM _households
            WHERE household_type IS NULL
            UNION ALL
            -- every row of the household as written, copies too (the copy in another township's
            -- file is the one the members table drops): the places it names
            SELECT {kinds["split_place"][0]}, p.household_id, h.head_member_key,
                   {kinds["split_place"][1]} || '：' || p.places, 6, p.household_id
            FROM (SELECT household_id,
                         string_agg(DISTINCT concat_ws('', township, village), ' / '
                                    ORDER BY concat_ws('', township, village)) AS places
                  FROM {roster} {where} {"AND" if where else "WHERE"} household_id IN (
                      -- min/max, not count(DISTINCT): one cheap pass over the 1M rows
                      SELECT household_id FROM {roster} {where} GROUP BY household_id
                      HAVING min(township) <> max(township) OR min(village) <> max(village))
                  GROUP BY household_id) p
            JOIN _households h USING (household_id)
        ) ORDER BY part, _order""",
        [*params, *params],
    )


def _carry_keys(con: duckdb.DuckDBPyConnection, previous: str, params: tuple) -> None:
    """A member keeps the key the latest earlier roster gave them. The key is built from the ID,
    or from the name when the ID is unusable; so a roster whose IDs Excel destroyed one month
    (3.41502E+17) would key its members by name that month and by ID the next, and every warning
    about them would be listed again as new, their answers and 非本人 verdicts left behind.

    A member whose key the earlier roster gave keeps it, unless that key is a name (no usable
    ID) and the earlier member of that key was born on another day: a namesake, not the same
    person. A member without a kept key takes the earlier key of the one member of the same
    household, same name and a birth date that does not differ (the same day, or one side
    unknown) whose key was not kept, when that pairing is one to one both ways. A namesake whose
    name key was someone else's, and is not paired, is told apart by birth date
    (`…|YYYY-MM-DD`). Anyone else (new, moved, a namesake it cannot tell apart) keeps their own
    key."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _carried AS
        WITH earlier AS ({previous}),
        same AS (
            SELECT m.member_key,
                   coalesce(m.id_number IS NULL AND m.birth_date <> e.birth_date, false) AS clash
            FROM _members m JOIN earlier e USING (member_key)
        ),
        kept AS (SELECT member_key FROM same WHERE NOT clash),
        gone AS (SELECT * FROM earlier ANTI JOIN kept USING (member_key)),
        came AS (
            SELECT member_key, household_id, name, birth_date FROM _members
            ANTI JOIN kept USING (member_key)
        ),
        paired AS (
            SELECT c.member_key AS own_key, g.member_key AS new_key
            FROM came c JOIN gone g
              ON g.household_id = c.household_id AND g.name = c.name
             AND (g.birth_date IS NULL OR c.birth_date IS NULL OR g.birth_date = c.birth_date)
            QUALIFY count(*) OVER (PARTITION BY c.member_key) = 1
                AND count(*) OVER (PARTITION BY g.member_key) = 1
        )
        SELECT own_key, new_key FROM paired
        UNION ALL
        SELECT s.member_key, s.member_key || {_born("m.birth_date")}
        FROM same s JOIN _members m USING (member_key)
        WHERE s.clash AND NOT EXISTS (SELECT 1 FROM paired p WHERE p.own_key = s.member_key)""",
        list(params),
    )
    con.execute(
        """UPDATE _members SET member_key = c.new_key FROM _carried c
        WHERE _members.member_key = c.own_key"""
    )


# the members as written: the household's type where the member's own row gives none (set in
# _members once the households are built, so that the rows are read back in their order: by
# record_key, as _members was created)
_MEMBER_TYPES = """
    UPDATE _members SET household_type = h.household_type
    FROM _households h
    WHERE _members.household_id = h.household_id AND _members.household_type IS NULL
      AND h.household_type IS NOT NULL"""
_MEMBERS = "SELECT * EXCLUDE (_copies) FROM _members"
_FINDINGS = "SELECT kind, household_id, member_key, detail FROM _findings"
_TEMPS = ("_namesakes", "_repeated", "_carried", "_members", "_heads", "_households", "_findings")


def build_roster(
    staged_roster: pl.DataFrame, grid: pl.DataFrame, previous: pl.DataFrame | None = None
) -> RosterTables:
    """Members keyed by household + ID (or name), households with their 网格员, and findings:
    what write_roster writes, computed from frames (the rows of one month). `previous`: the
    members of the latest earlier month (member_key, household_id, name, birth_date), whose
    keys carry over (_carry_keys)."""
    con = duckdb.connect()
    try:
        # tables, not views: the grid's row order (rowid) decides between repeated entries
        con.execute("CREATE TABLE roster AS SELECT * FROM staged_roster")
        con.execute("CREATE TABLE ledger AS SELECT * FROM grid")
        if previous is not None:
            con.execute("CREATE TABLE earlier AS SELECT * FROM previous")
        _key_roster(
            con,
            "roster",
            "ledger",
            previous=None if previous is None else (_EARLIER.format(table="earlier"), ()),
        )
        con.execute(_MEMBER_TYPES)
        return RosterTables(
            con.sql(_MEMBERS).pl(),
            con.sql("SELECT * EXCLUDE (_workers, _listed) FROM _households").pl(),
            con.sql(_FINDINGS).pl(),
        )
    finally:
        con.close()


ROSTER_TABLES = ("roster_members", "households", "roster_findings")


def snapshot_fingerprints(
    con: duckdb.DuckDBPyConnection, district: str, month: str
) -> tuple[str | None, str | None]:
    """The fingerprints of M's staged roster and grid snapshots (None: not fingerprinted)."""
    found = dict(
        con.execute(
            "SELECT source, fingerprint FROM source_status WHERE district = ? AND month = ?"
            " AND source IN ('roster', 'grid')",
            [district, month],
        ).fetchall()
    )
    return found.get("roster"), found.get("grid")


# the members a month's keys carry over to the next (_carry_keys)
_EARLIER = "SELECT member_key, household_id, name, birth_date FROM {table}"
# previous_keys of a month keyed with no earlier roster in the warehouse
NO_EARLIER_ROSTER = "none"


@dataclass(frozen=True)
class Predecessor:
    """The latest earlier month whose roster was keyed (None: there is none), and what its keys
    are a function of (None: not known, so nothing keyed after it is reused)."""

    month: str | None
    digest: str | None


def predecessor(con: duckdb.DuckDBPyConnection, district: str, month: str) -> Predecessor:
    """The month M's keys carry over from, and a digest of its build: its snapshots'
    fingerprints, its member count and its own predecessor's digest (a chain: a member's key
    depends on every earlier roster it was carried through)."""
    rows = con.execute(
        "SELECT month, roster_fingerprint, grid_fingerprint, members, previous_keys"
        " FROM roster_builds WHERE district = ? AND month < ? ORDER BY month DESC LIMIT 1",
        [district, month],
    ).fetchall()
    if not rows:
        return Predecessor(None, NO_EARLIER_ROSTER)
    if None in rows[0]:
        return Predecessor(rows[0][0], None)
    return Predecessor(rows[0][0], hashlib.sha256(repr(rows[0]).encode()).hexdigest())


def reusable_build(
    con: duckdb.DuckDBPyConnection,
    district: str,
    month: str,
    roster_fp: str,
    grid_fp: str,
    earlier: Predecessor,
) -> str | None:
    """A month whose roster tables are the ones M would get: built from snapshots with these
    fingerprints, and either M itself keyed after the same predecessor, or that predecessor (the
    same roster carried over from its own keys keeps them all)."""
    if earlier.digest is None:
        return None
    rows = con.execute(
        "SELECT month FROM roster_builds WHERE district = ? AND roster_fingerprint = ?"
        " AND grid_fingerprint = ? AND ((month = ? AND previous_keys = ?) OR month = ?)"
        " ORDER BY month = ? DESC LIMIT 1",
        [district, roster_fp, grid_fp, month, earlier.digest, earlier.month, month],
    ).fetchall()
    return rows[0][0] if rows else None


def _read_tables(con: duckdb.DuckDBPyConnection, district: str, month: str) -> RosterWritten:
    """What write_roster hands the asset layer, read from M's written tables."""
    members = scalar(
        con,
        "SELECT count(*) FROM roster_members WHERE district = ? AND month = ?",
        [district, month],
    )
    households, findings = (
        read_frame(
            con,
            f"SELECT * EXCLUDE (district, month) FROM {table} WHERE district = ? AND month = ?",
            [district, month],
        )
        for table in ROSTER_TABLES[1:]
    )
    return RosterWritten(members, households, findings)


def _record_build(
    con: duckdb.DuckDBPyConnection,
    district: str,
    month: str,
    fingerprints: tuple[str | None, str | None],
    members: int,
    earlier: Predecessor,
) -> None:
    build = pl.DataFrame(
        {
            "roster_fingerprint": [fingerprints[0]],
            "grid_fingerprint": [fingerprints[1]],
            "members": [members],
            "previous_keys": [earlier.digest],
        },
        schema={
            "roster_fingerprint": pl.String,
            "grid_fingerprint": pl.String,
            "members": pl.Int64,
            "previous_keys": pl.String,
        },
    )
    replace_partition(con, "roster_builds", build, district=district, month=month)


def _write_keyed(
    con: duckdb.DuckDBPyConnection, district: str, month: str, earlier: Predecessor
) -> None:
    """M's staged roster and grid keyed in the warehouse (the keys of the `earlier` month's
    members carried over) and written over M's roster tables."""
    params = (district, month)
    previous = None
    if earlier.month is not None:
        members = "(SELECT * FROM roster_members WHERE district = ? AND month = ?)"
        previous = (_EARLIER.format(table=members), (district, earlier.month))
    _key_roster(con, "stg_roster", "stg_grid", "WHERE district = ? AND month = ?", params, previous)
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ROSTER_TABLES:
            con.execute(f"DELETE FROM {table} WHERE district = ? AND month = ?", list(params))
        con.execute(_MEMBER_TYPES)
        con.execute(f"INSERT INTO roster_members BY NAME {_MEMBERS}")
        con.execute(
            "INSERT INTO households BY NAME SELECT ? AS district, ? AS month, * EXCLUDE (_workers, _listed) FROM _households",
            list(params),
        )
        con.execute(
            f"INSERT INTO roster_findings BY NAME SELECT ? AS district, ? AS month, * FROM ({_FINDINGS})",
            list(params),
        )
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    finally:
        for temp in _TEMPS:
            con.execute(f"DROP TABLE IF EXISTS {temp}")


def write_roster(
    con: duckdb.DuckDBPyConnection, district: str, month: str, *, reuse: bool = True
) -> RosterWritten:
    """The month's staged roster and grid ledger into roster_members, households and
    roster_findings; members keep the keys the latest earlier roster gave them (_carry_keys).
    When M's tables would be those of a build from a roster and a grid with the same
    fingerprints (reusable_build), they are copied from it (or left as they are, when that
    month is M) instead of being keyed again (`reuse` False: always build)."""
    fingerprints = snapshot_fingerprints(con, district, month)
    earlier = predecessor(con, district, month)
    found = None
    if reuse and all(fingerprints):
        found = reusable_build(con, district, month, *fingerprints, earlier)
    if found is not None:
        if found != month:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in ROSTER_TABLES:
                    copy_month(con, table, district=district, source_month=found, month=month)
                con.execute("COMMIT")
            except Exception:
                rollback(con)
                raise
    else:
        forget_build(con, "roster_builds", district, month)
        _write_keyed(con, district, month, earlier)
    written = _read_tables(con, district, month)
    _record_build(con, district, month, fingerprints, written.members, earlier)
    return RosterWritten(written.members, written.households, written.findings, found)


# a township's name without its suffix (三十铺镇 → 三十铺), in SQL and in Python alike
TOWN_SUFFIX = f"({'|'.join(TOWNSHIP_SUFFIXES)})$"
# where a township the month's roster has no household of is found: M's grid ledger, and the
# roster of the month before
IN_GRID, IN_LAST_ROSTER = "网格台账", "上月花名册"


def township_gaps(
    con: duckdb.DuckDBPyConnection, district: str, month: str, *, members: str = "roster_members"
) -> list[tuple[str, list[str]]]:
    """Townships M's roster (`members`: roster_members, or the staged stg_roster before it is
    keyed) has no row of, though M's grid ledger has grids there or last month's roster had
    households there, each with where it was found (IN_GRID, IN_LAST_ROSTER): a township's roster
    file not delivered, or every row of it refused. Names compared bare (三十铺 and 三十铺镇 are
    one township)."""
    bare = f"regexp_replace(township, '{TOWN_SUFFIX}', '')"
    rows = con.execute(
        f"""WITH here AS (
                SELECT DISTINCT {bare} AS town FROM {members}
                WHERE district = ? AND month = ? AND township IS NOT NULL
            ), elsewhere AS (
                SELECT township, '{IN_GRID}' AS what FROM stg_grid
                WHERE district = ? AND month = ? AND township IS NOT NULL
                UNION ALL
                SELECT township, '{IN_LAST_ROSTER}' FROM roster_members
                WHERE district = ? AND month = ? AND township IS NOT NULL
            )
            SELECT township, list(DISTINCT what ORDER BY what)
            FROM elsewhere WHERE {bare} NOT IN (SELECT town FROM here)
            GROUP BY township ORDER BY township""",
        [district, month, district, month, district, previous_month(month)],
    ).fetchall()
    return [(town, list(found)) for town, found in rows]


def undelivered_townships(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[str]:
    """Townships whose households would be missing from M: last month's roster had households
    there and M's grid ledger still has grids there, but M's staged roster has no row of them.
    Their department records would go unmatched and their new warnings never be raised, so the
    month does not run on such a roster (a district's first month, or a township dropped from the
    grid ledger too, e.g. merged into another, is only said in the run output)."""
    # by bare name (the ledger's 三十铺镇 and last month's 三十铺 are one township), named as the
    # ledger writes it
    seen: dict[str, set[str]] = {}
    named: dict[str, str] = {}
    for town, found in township_gaps(con, district, month, members="stg_roster"):
        bare = re.sub(TOWN_SUFFIX, "", town)
        seen.setdefault(bare, set()).update(found)
        if IN_GRID in found or bare not in named:
            named[bare] = town
    return [named[bare] for bare, where in seen.items() if {IN_GRID, IN_LAST_ROSTER} <= where]
