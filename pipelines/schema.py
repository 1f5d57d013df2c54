"""The warehouse, declared: every table with its columns, types, key and job; numbered migrations.

Every table exists from the moment a warehouse is opened for writing (`ensure_schema`): a fresh
warehouse is created whole from these declarations; an older one is brought to them by the
migrations it has not had yet (recorded in `schema_version`); a warehouse whose tables then differ
from the declarations is refused, naming the table and columns, never altered silently.

The staged tables' columns come from the source registry (what `pipelines.ingest` writes for a
source) and the file, reject and field-problem tables' from the ingest's own frame schemas, so a
registry change changes the declaration with it. Changing an existing table's shape takes a new
entry in MIGRATIONS (written idempotently, e.g. `ADD COLUMN IF NOT EXISTS`, because migration 1
brings an undeclared warehouse straight to the current declarations).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import duckdb
import polars as pl

from pipelines.ingest.grid import GRID_LEDGER, TICK_FIELDS
from pipelines.ingest.stage import FILE_SCHEMA
from pipelines.ingest.table import (
    FIELD_PROBLEM_SCHEMA,
    REJECT_IDENTITY,
    REJECT_SCHEMA,
    record_schema,
)
from pipelines.sources import DEPARTMENT_SOURCES, FEEDBACK, ROSTER, Source

PARTITION = ("district", "month")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's own spelling (information_schema.columns.data_type)


@dataclass(frozen=True)
class Table:
    """One warehouse table: what a row is (`key`), who writes it, and its columns."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    written_by: str  # the Dagster asset (or step) whose computation writes it
    # rows a write replaces beyond district + month (e.g. one source's rows of `rejects`)
    scope: tuple[str, ...] = ()
    append_only: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        columns = ", ".join(f'"{c.name}" {c.type}' for c in self.columns)
        return f"CREATE TABLE {self.name} ({columns})"


_POLARS_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Int8: "TINYINT",
    pl.UInt32: "UINTEGER",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
}


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction after a failed write. Where DuckDB has ended it already (a
    write that failed on a full disk or a read-only folder), there is nothing to undo: the
    error that ended it is the one to report, not "cannot rollback - no transaction is active"
    (which had hidden "No space left on device" from the team)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def sql_type(dtype: pl.DataType) -> str:
    """How DuckDB stores a polars column (and spells its type in information_schema)."""
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.List):
        return f"{sql_type(dtype.inner)}[]"
    return _POLARS_TYPES[type(dtype)]


def _from_frame_schema(schema: Mapping[str, pl.DataType]) -> tuple[Column, ...]:
    return tuple(Column(name, sql_type(dtype)) for name, dtype in schema.items())


def _columns(spec: str) -> tuple[Column, ...]:
    """`"name TYPE, name TYPE"` (types without commas inside)."""
    return tuple(Column(*part.split()) for part in spec.split(", "))


def _partitioned(*columns: Iterable[Column]) -> tuple[Column, ...]:
    return (
        Column("district", "VARCHAR"),
        Column("month", "VARCHAR"),
        *(c for cs in columns for c in cs),
    )


def staged_columns(source: Source) -> tuple[Column, ...]:
    """stg_<source>: district, month, then what the ingest writes for the source's registry entry."""
    ticks = TICK_FIELDS if source.key == GRID_LEDGER.key else ()
    registered = GRID_LEDGER if source.key == GRID_LEDGER.key else source
    return _partitioned(_from_frame_schema(record_schema(registered, ticks)))


def _staged(source: Source, written_by: str) -> Table:
    return Table(
        f"stg_{source.key}",
        f"{source.title}（{source.department}）：本月读入并类型化的行，一行一条保留的数据行",
        staged_columns(source),
        key=(*PARTITION, "record_key"),
        written_by=written_by,
    )


ANSWER_SCHEMA: dict[str, pl.DataType] = {
    "warning_id": pl.String(),
    "verdict": pl.String(),
    "verification_note": pl.String(),
    "verifier": pl.String(),
    "verified_date": pl.Date(),
    "file": pl.String(),
    "sheet": pl.String(),
    "row_number": pl.Int64(),
    "file_township": pl.String(),
}

_BY_SOURCE = ("source",)

TABLES: tuple[Table, ...] = (
    # ingest: one staged table per source, and the per-file accounting of every source
    _staged(ROSTER, "ingest"),
    _staged(GRID_LEDGER, "ingest"),
    *(_staged(source, "ingest") for source in DEPARTMENT_SOURCES),
    _staged(FEEDBACK, "ingest"),
    Table(
        "ingest_files",
        "per file (and sheet) of each source: status, message, rows read/kept/rejected/skipped/duplicate",
        _partitioned(_from_frame_schema(FILE_SCHEMA)),
        key=(*PARTITION, "source", "file", "sheet"),
        written_by="ingest",
        scope=_BY_SOURCE,
    ),
    Table(
        "rejects",
        "rows not kept (identity unusable, or refused by the feedback checks), with file, row and reason",
        _partitioned(_from_frame_schema(REJECT_SCHEMA)),
        key=(*PARTITION, "source", "file", "sheet", "row_number", "field"),
        written_by="ingest",
        scope=_BY_SOURCE,
    ),
    Table(
        "field_problems",
        "fields of kept rows that could not be read (null in the staged row), with the raw cell",
        _partitioned(_from_frame_schema(FIELD_PROBLEM_SCHEMA)),
        key=(*PARTITION, "source", "record_key", "field"),
        written_by="ingest",
        scope=_BY_SOURCE,
    ),
    Table(
        "source_status",
        "per source: received or not (未报送), the snapshot month used, files, rows kept and rejected, "
        "what the staged schema check found",
        _partitioned(
            _columns(
                "source VARCHAR, received BOOLEAN, snapshot_month VARCHAR, files BIGINT, "
                "records BIGINT, rejected BIGINT, field_problems BIGINT, fingerprint VARCHAR, "
                "schema_failures VARCHAR"
            )
        ),
        key=(*PARTITION, "source"),
        written_by="ingest",
        scope=_BY_SOURCE,
    ),
    Table(
        "feedback_answers",
        "the townships' answers that passed the checks (warning listed before, verdict, township)",
        _partitioned(_from_frame_schema(ANSWER_SCHEMA)),
        key=(*PARTITION, "file", "sheet", "row_number"),
        written_by="ingest",
    ),
    # identity
    Table(
        "roster_members",
        "roster members of the month with their stable member_key and head-of-household flag",
        _partitioned(
            _from_frame_schema(record_schema(ROSTER)),
            _columns("member_key VARCHAR, is_head BOOLEAN"),
        ),
        key=(*PARTITION, "member_key"),
        written_by="roster_members",
    ),
    Table(
        "households",
        "households of the month with their place, type and 网格员 from the grid ledger",
        _partitioned(
            _columns(
                "household_id VARCHAR, head_member_key VARCHAR, head_name VARCHAR, "
                "township VARCHAR, village VARCHAR, group VARCHAR, grid VARCHAR, "
                "household_type VARCHAR, members UINTEGER, worker_name VARCHAR, "
                "worker_phone VARCHAR"
            )
        ),
        key=(*PARTITION, "household_id"),
        written_by="roster_members",
    ),
    Table(
        "roster_builds",
        "what the month's roster tables were built from: the roster and grid snapshots' "
        "fingerprints (a later month with the same ones reuses the keyed members) and a digest "
        "of the earlier month whose members' keys were carried over",
        _partitioned(
            _columns(
                "roster_fingerprint VARCHAR, grid_fingerprint VARCHAR, members BIGINT, "
                "previous_keys VARCHAR"
            )
        ),
        key=PARTITION,
        written_by="roster_members",
    ),
    Table(
        "roster_findings",
        "roster data-quality findings: duplicate IDs, duplicate members, households without a grid, IDs Excel destroyed",
        _partitioned(
            _columns("kind VARCHAR, household_id VARCHAR, member_key VARCHAR, detail VARCHAR")
        ),
        key=(*PARTITION, "kind", "household_id", "member_key"),
        written_by="roster_members",
    ),
    Table(
        "match_builds",
        "what the month's ties were computed from: a fingerprint of the staged sources, the roster, "
        "the 非本人 pairs and the matcher's code (a rerun with the same one keeps the ties)",
        _partitioned(_columns("input_fingerprint VARCHAR, records BIGINT")),
        key=PARTITION,
        written_by="member_matches",
    ),
    Table(
        "rule_builds",
        "what the month's warnings were evaluated from: a fingerprint of the ties, the sources' "
        "status, the year's claims ties, earlier warnings, the rule settings and the rules' code "
        "(a rerun with the same one keeps the warnings)",
        _partitioned(_columns("input_fingerprint VARCHAR")),
        key=PARTITION,
        written_by="warnings",
    ),
    # matching
    Table(
        "record_matches",
        "department records tied to one roster member: tier, method, confidence "
        "(earlier claims months of the year: tied by medical_claims_ytd against M's roster)",
        _partitioned(
            _columns(
                "member_key VARCHAR, household_id VARCHAR, tier TINYINT, method VARCHAR, "
                "confidence DOUBLE, record_key VARCHAR, source VARCHAR"
            )
        ),
        key=(*PARTITION, "source", "record_key"),
        written_by="member_matches",
    ),
    Table(
        "unmatched_records",
        "department records tied to nobody: ambiguous (with candidates) or unmatched, and why",
        _partitioned(
            _columns(
                "status VARCHAR, reason VARCHAR, candidates VARCHAR[], record_key VARCHAR, "
                "source VARCHAR"
            )
        ),
        key=(*PARTITION, "source", "record_key"),
        written_by="member_matches",
    ),
    Table(
        "match_quality",
        "per source: records, ties, ambiguous, unmatched, ID repairs, rows read and rejected, tie rate",
        _partitioned(
            _columns(
                "source VARCHAR, records BIGINT, tied BIGINT, ambiguous BIGINT, unmatched BIGINT, "
                "id_repairs BIGINT, rows_read BIGINT, rows_rejected BIGINT, tie_rate DOUBLE"
            )
        ),
        key=(*PARTITION, "source"),
        written_by="match_quality",
    ),
    Table(
        "match_quality_reasons",
        "per source: unresolved records counted by status and reason",
        _partitioned(_columns("source VARCHAR, status VARCHAR, reason VARCHAR, records BIGINT")),
        key=(*PARTITION, "source", "status", "reason"),
        written_by="match_quality",
    ),
    # rules
    Table(
        "warnings",
        "the month's warnings: rule, subject, evidence (full text), match method, record keys",
        _partitioned(
            _columns(
                "warning_id VARCHAR, rule VARCHAR, rule_name VARCHAR, risk_type VARCHAR, "
                "direction VARCHAR, level VARCHAR, department VARCHAR, source VARCHAR, "
                "household_id VARCHAR, member_key VARCHAR, evidence VARCHAR, "
                "evidence_key VARCHAR, method VARCHAR, confidence DOUBLE, record_keys VARCHAR[]"
            )
        ),
        key=(*PARTITION, "warning_id"),
        written_by="warnings",
    ),
    Table(
        "warning_records",
        "provenance: each warning's department records with source, file, sheet and row",
        _partitioned(
            _columns(
                "warning_id VARCHAR, record_key VARCHAR, source VARCHAR, file VARCHAR, "
                "sheet VARCHAR, row_number BIGINT"
            )
        ),
        key=(*PARTITION, "warning_id", "record_key"),
        written_by="warnings",
    ),
    Table(
        "rule_undecided",
        "where the data could not decide: 无法判断 members and 不可判断 rows, with the row behind",
        _partitioned(
            _columns(
                "rule VARCHAR, kind VARCHAR, member_key VARCHAR, household_id VARCHAR, "
                "source VARCHAR, record_key VARCHAR, file VARCHAR, sheet VARCHAR, "
                "row_number BIGINT, reason VARCHAR"
            )
        ),
        key=(*PARTITION, "rule", "kind", "member_key", "record_key"),
        written_by="warnings",
    ),
    Table(
        "rules_not_evaluated",
        "rules not evaluated this month and why (the sources and files named)",
        _partitioned(_columns("rule VARCHAR, reason VARCHAR")),
        key=(*PARTITION, "rule"),
        written_by="warnings",
    ),
    # lifecycle and exports
    Table(
        "listings",
        "what each township file listed: the warning with status, first month and deadline",
        _partitioned(
            _columns(
                "warning_id VARCHAR, township VARCHAR, village VARCHAR, grid VARCHAR, "
                "worker_name VARCHAR, worker_phone VARCHAR, household_id VARCHAR, "
                "head_name VARCHAR, household_type VARCHAR, member_name VARCHAR, "
                "id_number VARCHAR, relation VARCHAR, rule VARCHAR, rule_name VARCHAR, "
                "risk_type VARCHAR, direction VARCHAR, level VARCHAR, department VARCHAR, "
                "evidence VARCHAR, method VARCHAR, confidence DOUBLE, member_key VARCHAR, "
                "source VARCHAR, first_month VARCHAR, deadline DATE, status VARCHAR"
            )
        ),
        key=(*PARTITION, "warning_id"),
        written_by="township_exports",
    ),
    Table(
        "export_runs",
        "the date a month was first exported (kept on reruns, so deadlines do not move)",
        _partitioned(_columns("export_date DATE")),
        key=PARTITION,
        written_by="township_exports",
    ),
    Table(
        "negative_pairs",
        "非本人 answers: record identities that may never again be tied to that member",
        _partitioned(
            _columns(
                "warning_id VARCHAR, source VARCHAR, record_key VARCHAR, record_month VARCHAR, "
                "identity_key VARCHAR, member_key VARCHAR"
            )
        ),
        key=(*PARTITION, "warning_id", "source", "record_key"),
        written_by="verification_feedback",
    ),
    Table(
        "export_log",
        "every file that left, mirrored from the append-only export ledger (read by fangfan audit)",
        _columns(
            "district VARCHAR, month VARCHAR, exported_at VARCHAR, township VARCHAR, "
            "file VARCHAR, rows BIGINT, sha256 VARCHAR, run_id VARCHAR, user VARCHAR, "
            "ids_masked BOOLEAN, ledger_seq BIGINT, entry_sha256 VARCHAR"
        ),
        key=("ledger_seq",),
        written_by="township_exports, district_summary",
        append_only=True,
    ),
)

SCHEMA_VERSION_TABLE = Table(
    "schema_version",
    "the migrations this warehouse has had (the highest version is its schema version)",
    _columns("version INTEGER, description VARCHAR, applied_at TIMESTAMP"),
    key=("version",),
    written_by="ensure_schema",
    append_only=True,
)

TABLE: dict[str, Table] = {t.name: t for t in (*TABLES, SCHEMA_VERSION_TABLE)}
# a step's memo of what it last built from (read by that step only, to reuse its result): no asset
MEMO_TABLES = frozenset({"roster_builds", "match_builds", "rule_builds"})


def staged_table(source_key: str) -> Table:
    return TABLE[f"stg_{source_key}"]


# ---------------------------------------------------------------------------------------------
# Migrations


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


@dataclass(frozen=True)
class _Adoption:
    """What migration 1 knows about warehouses written before the schema was declared."""

    # column types the code once wrote and writes no more: (old type, declared type)
    retyped: frozenset[tuple[str, str]] = frozenset(
        {
            ("DOUBLE", "DECIMAL(20,4)"),  # amounts were floats before issue 8 item 7
            ("DECIMAL(38,0)", "BIGINT"),  # match_quality's row sums came back from SQL as such
        }
    )
    # the value a column added since a table was first written has in its earlier rows
    backfill: dict[tuple[str, str], str] = field(
        default_factory=lambda: {("ingest_files", "rows_duplicate"): "0"}
    )


def _existing_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    existing: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        existing.setdefault(table, {})[column] = kind
    return existing


def _adopt_undeclared_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Tables the old code had not written yet are created; columns added to a table since it was
    first written are added (null, or their known value, in earlier rows); float amounts become
    DECIMAL(20,4) and SQL-sum row counts BIGINT."""
    adoption = _Adoption()
    existing = _existing_columns(con)
    for table in TABLES:
        have = existing.get(table.name)
        if have is None:
            con.execute(table.ddl())
            continue
        for column in table.columns:
            current = have.get(column.name)
            quoted = f'"{column.name}"'
            if current is None:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {quoted} {column.type}")
                value = adoption.backfill.get((table.name, column.name))
                if value is not None:
                    con.execute(f"UPDATE {table.name} SET {quoted} = {value}")
            elif (current, column.type) in adoption.retyped:
                con.execute(f"ALTER TABLE {table.name} ALTER COLUMN {quoted} TYPE {column.type}")


def _snapshot_fingerprints(con: duckdb.DuckDBPyConnection) -> None:
    """source_status gets the snapshot's fingerprint (null in earlier rows: never reused);
    roster_builds and match_builds are created (empty: the next run of each month computes)."""
    con.execute("ALTER TABLE source_status ADD COLUMN IF NOT EXISTS fingerprint VARCHAR")
    for table in ("roster_builds", "match_builds"):
        _create_if_missing(con, table)


def _stored_schema_checks(con: duckdb.DuckDBPyConnection) -> None:
    """source_status keeps what the staged schema check found when the rows were staged (null in
    earlier rows: a reuse of them checks the rows again)."""
    con.execute("ALTER TABLE source_status ADD COLUMN IF NOT EXISTS schema_failures VARCHAR")


# SQL: the month of the district's latest roster before M (NULL when none), with the query's
# $district and $month: where a member M's roster no longer has is looked up
LATEST_EARLIER_ROSTER = """(SELECT max(month) FROM roster_members
                            WHERE district = $district AND month < $month)"""


def _create_if_missing(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(TABLE[table].ddl().replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))


def _rule_builds(con: duckdb.DuckDBPyConnection) -> None:
    """rule_builds is created (empty: the next run of each month evaluates it)."""
    _create_if_missing(con, "rule_builds")


def _id_prefixes(con: duckdb.DuckDBPyConnection) -> None:
    """Every staged table gets id_prefix (null in earlier rows: the staging code changed, so the
    next run of each month stages them again)."""
    _add_declared_columns(con, lambda _, column: column == "id_prefix")


def _carried_keys(con: duckdb.DuckDBPyConnection) -> None:
    """roster_builds gets previous_keys (null in earlier rows: the next run of each month keys
    its roster again, carrying the earlier month's keys over)."""
    con.execute("ALTER TABLE roster_builds ADD COLUMN IF NOT EXISTS previous_keys VARCHAR")


def _month_only_dates(con: duckdb.DuckDBPyConnection) -> None:
    """Every staged date field, and the roster members' birth date, get their <field>_month_only
    column (null in earlier rows: the staging code changed, so the next run of each month stages
    them again)."""
    _add_declared_columns(con, lambda _, column: column.endswith("_month_only"))


def _department_birth_dates(con: duckdb.DuckDBPyConnection) -> None:
    """Every department's staged table gets birth_date and birth_date_month_only (null in earlier
    rows: the staging code changed, so the next run of each month stages them again)."""
    _add_declared_columns(
        con,
        lambda table, column: (
            table.startswith("stg_") and column in ("birth_date", "birth_date_month_only")
        ),
    )


def _department_remarks(con: duckdb.DuckDBPyConnection) -> None:
    """Every department's staged table gets remark (null in earlier rows: the staging code
    changed, so the next run of each month stages them again)."""
    _add_declared_columns(
        con, lambda table, column: table.startswith("stg_") and column == "remark"
    )


def _add_declared_columns(
    con: duckdb.DuckDBPyConnection, wanted: Callable[[str, str], bool]
) -> None:
    """Each declared column `wanted(table, column)` picks, with its declared type, added to its
    table where the warehouse lacks it (null in earlier rows)."""
    for table in TABLES:
        for column in table.columns:
            if wanted(table.name, column.name):
                con.execute(
                    f'ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS "{column.name}" {column.type}'
                )


def _held_things_keyed(con: duckdb.DuckDBPyConnection) -> None:
    """GA02, ZJ02 and SJ01 warnings written with an empty evidence key get the month of their
    newest record's registration date, read back from the month's staged rows behind them (as
    the rules now key them), so a car, property or company acquired after a verified warning
    is not taken for it. A warning whose rows are gone, or whose dates are blank, keeps ''."""
    held = (("GA02", "stg_vehicles", "register_date"),
            ("ZJ02", "stg_property", "register_date"),
            ("SJ01", "stg_market", "established_date"))  # fmt: skip
    for rule, table, column in held:
        con.execute(
            f"""UPDATE warnings SET evidence_key = coalesce(keyed.newest, '')
                FROM (SELECT w.district, w.month, w.warning_id,
                             strftime(max(s.{column}), '%Y-%m') AS newest
                      FROM warnings w JOIN {table} s
                        ON s.district = w.district AND s.month = w.month
                       AND list_contains(w.record_keys, s.record_key)
                      WHERE w.rule = $rule AND w.evidence_key = ''
                      GROUP BY ALL) keyed
                WHERE warnings.district = keyed.district AND warnings.month = keyed.month
                  AND warnings.warning_id = keyed.warning_id""",
            {"rule": rule},
        )


def _rejected_identities(con: duckdb.DuckDBPyConnection) -> None:
    """rejects gets the typed identity of each rejected row (null in earlier rows: the staging
    code changed, so the next run of each month stages them again)."""
    for name, dtype in REJECT_IDENTITY.items():
        con.execute(f"ALTER TABLE rejects ADD COLUMN IF NOT EXISTS {name} {sql_type(dtype)}")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "adopt a warehouse written before the schema was declared (tables created on first "
        "write): missing tables created, later columns added, float amounts → DECIMAL(20,4)",
        _adopt_undeclared_warehouse,
    ),
    Migration(
        2,
        "sources fingerprinted (source_status.fingerprint, roster_builds, match_builds): "
        "unchanged files are not read again, an unchanged roster is not keyed again, "
        "unchanged inputs are not matched again",
        _snapshot_fingerprints,
    ),
    Migration(
        3,
        "the staged schema check's findings kept with the source (source_status.schema_failures): "
        "a rerun that reuses unchanged files does not read their rows back to check them again",
        _stored_schema_checks,
    ),
    Migration(
        4,
        "rule evaluations fingerprinted (rule_builds): a rerun whose ties, sources, earlier "
        "warnings, rule settings and rules' code are unchanged keeps the month's warnings",
        _rule_builds,
    ),
    Migration(
        5,
        "a destroyed ID's certain digits kept (stg_*.id_prefix): the matcher rules out members "
        "whose ID does not begin with them",
        _id_prefixes,
    ),
    Migration(
        6,
        "members keep the keys the latest earlier roster gave them (roster_builds.previous_keys): "
        "a roster whose IDs Excel destroyed one month does not re-list their warnings as new",
        _carried_keys,
    ),
    Migration(
        7,
        "a date written without its day kept as such (stg_*.<date>_month_only, "
        "roster_members.birth_date_month_only): evidence says 2026年10月, not the 1st, and an age "
        "on such a date is decided only where every day of its month gives the same answer",
        _month_only_dates,
    ),
    Migration(
        8,
        "GA02, ZJ02 and SJ01 keyed by the registration month of the newest car, property or "
        "company (warnings.evidence_key read back from the staged rows): one acquired after a "
        "verified warning is listed, not merged into it",
        _held_things_keyed,
    ),
    Migration(
        9,
        "a rejected row keeps who it is, as far as its cells tell (rejects.name, id_number, "
        "id_status, birth_date, township, village, relation): a roster row rejected for its "
        "户编号 is a rival the matcher sees, so a namesake of another household is not tied",
        _rejected_identities,
    ),
    Migration(
        10,
        "a department record's own birth date kept where its file has one (stg_<department>."
        "birth_date, birth_date_month_only): namesakes without a usable ID told apart by it",
        _department_birth_dates,
    ),
    Migration(
        11,
        "a department record's 备注 kept (stg_<department>.remark): a row its 备注 calls void "
        "(作废, 非本辖区) or whose person it says died is 不可判断, not a visit",
        _department_remarks,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


class SchemaMismatch(RuntimeError):
    """The warehouse's tables are not the declared ones and no migration makes them so."""


def differences(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every way the warehouse differs from the declarations, one line each (empty: none)."""
    existing = _existing_columns(con)
    problems = []
    for table in (*TABLES, SCHEMA_VERSION_TABLE):
        have = existing.get(table.name)
        if have is None:
            problems.append(f"{table.name}: missing")
            continue
        want = {c.name: c.type for c in table.columns}
        for name, kind in want.items():
            if name not in have:
                problems.append(f"{table.name}.{name}: missing ({kind})")
            elif have[name] != kind:
                problems.append(f"{table.name}.{name}: {have[name]}, declared {kind}")
        problems += [f"{table.name}.{name}: not declared" for name in have if name not in want]
    return problems


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's version; 0 for tables written before the schema was declared, None for
    an empty warehouse."""
    existing = _existing_columns(con)
    if SCHEMA_VERSION_TABLE.name in existing:
        # fetchall: DuckDB 2.0 blocks a connection on a half-read result
        return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
    return 0 if set(existing) & set(TABLE) else None


def _stamp(con: duckdb.DuckDBPyConnection, version: int, description: str) -> None:
    con.execute(
        "INSERT INTO schema_version VALUES (?, ?, current_timestamp)", [version, description]
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Bring the warehouse to the declared schema in one transaction; returns what was done.

    Empty: every table created from the declarations. Older: each migration it has not had,
    in order. Raises SchemaMismatch when the tables still differ from the declarations."""
    done: list[str] = []
    con.execute("BEGIN TRANSACTION")
    try:
        version = schema_version(con)
        if version is None:
            for table in (*TABLES, SCHEMA_VERSION_TABLE):
                con.execute(table.ddl())
            _stamp(con, SCHEMA_VERSION, "created from the declarations")
            done.append(f"created schema version {SCHEMA_VERSION}")
        else:
            if version == 0:
                con.execute(SCHEMA_VERSION_TABLE.ddl())
            for migration in MIGRATIONS:
                if migration.version > version:
                    migration.apply(con)
                    _stamp(con, migration.version, migration.description)
                    done.append(f"migration {migration.version}: {migration.description}")
        problems = differences(con)
        if problems:
            raise SchemaMismatch(
                "仓库的表与声明不一致（需要一个新的迁移，见 pipelines/schema.py MIGRATIONS）：\n  "
                + "\n  ".join(problems)
            )
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return done


def markdown_table() -> str:
    """The table list of docs/DESIGN.md, generated from the declarations."""
    lines = ["| table | key | written by | what |", "| --- | --- | --- | --- |"]
    for table in TABLES:
        key = ", ".join(c for c in table.key if c not in PARTITION) or "—"
        lines.append(f"| `{table.name}` | {key} | `{table.written_by}` | {table.description} |")
    return "\n".join(lines)


def partition_rows(
    con: duckdb.DuckDBPyConnection, tables: Iterable[str], district: str, month: str
) -> dict[str, int]:
    """Rows of each declared partitioned table for one district and month (asset metadata: the
    UI shows, month by month, how much each step wrote)."""
    counts = {}
    for name in tables:
        table = TABLE[name]
        if table.append_only or "month" not in table.column_names:
            raise ValueError(f"not a declared partitioned table: {name!r}")
        # fetchall: DuckDB 2.0 blocks a connection on a half-read result
        counts[name] = con.execute(
            f"SELECT count(*) FROM {table.name} WHERE district = ? AND month = ?", [district, month]
        ).fetchall()[0][0]
    return counts
