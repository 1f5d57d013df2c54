"""The declared warehouse: every table created up front, staged tables from the registry,
numbered migrations bring an old warehouse to the declarations, docs/DESIGN.md lists them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import linkage
from pipelines.ingest.grid import GRID_LEDGER, TICK_FIELDS
from pipelines.ingest.table import record_schema
from pipelines.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    TABLE,
    TABLES,
    SchemaMismatch,
    differences,
    ensure_schema,
    markdown_table,
    sql_type,
    staged_table,
)
from pipelines.sources import DEPARTMENT_SOURCES, FEEDBACK, ROSTER
from pipelines.staging import ACCOUNTING_TABLES
from pipelines.warehouse import memory_warehouse, replace_partition, table_columns

REPO = Path(__file__).resolve().parents[1]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?"
            " ORDER BY ordinal_position",
            [table],
        ).fetchall()
    )


def test_a_new_warehouse_has_every_declared_table_with_its_types():
    con = duckdb.connect()
    assert ensure_schema(con) == [f"created schema version {SCHEMA_VERSION}"]
    for table in TABLES:
        assert _columns(con, table.name) == {c.name: c.type for c in table.columns}, table.name
        assert set(table.key) <= set(table.column_names), table.name
        assert table.description and table.written_by
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert ensure_schema(con) == []  # opening it again changes nothing


def test_staged_tables_are_the_registrys_sources():
    for source, ticks in (
        *((s, ()) for s in (ROSTER, *DEPARTMENT_SOURCES, FEEDBACK)),
        (GRID_LEDGER, TICK_FIELDS),
    ):
        declared = staged_table(source.key).columns
        expected = {"district": "VARCHAR", "month": "VARCHAR"} | {
            name: sql_type(dtype) for name, dtype in record_schema(source, ticks).items()
        }
        assert {c.name: c.type for c in declared} == expected, source.key
    amounts = [c for c in staged_table("medical_claims").columns if c.name == "self_paid"]
    assert amounts[0].type == "DECIMAL(20,4)"


def _old_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse as the code before the declared schema left it: tables created on first write
    from the frames (float amounts, no rows_duplicate, an export_log from before the ledger
    chain, SQL-sum row counts), tables it had not written yet missing, no schema_version."""
    claims = ", ".join(
        f'"{c.name}" {"DOUBLE" if c.type.startswith("DECIMAL") else c.type}'
        for c in staged_table("medical_claims").columns
    )
    con.execute(f"CREATE TABLE stg_medical_claims ({claims})")
    con.execute(
        "INSERT INTO stg_medical_claims (district, month, record_key, self_paid)"
        " VALUES ('d', '2026-09', 'medical_claims|a.csv||2', 15927.21)"
    )
    con.execute(
        "CREATE TABLE ingest_files (district VARCHAR, month VARCHAR, source VARCHAR, "
        "file VARCHAR, sheet VARCHAR, status VARCHAR, message VARCHAR, rows_read BIGINT, "
        "rows_kept BIGINT, rows_rejected BIGINT, rows_skipped BIGINT)"
    )
    con.execute(
        "INSERT INTO ingest_files VALUES "
        "('d', '2026-09', 'medical_claims', 'a.csv', NULL, 'ok', NULL, 3, 2, 1, 0)"
    )
    con.execute(
        "CREATE TABLE export_log (district VARCHAR, month VARCHAR, exported_at VARCHAR, "
        "township VARCHAR, file VARCHAR, rows BIGINT, sha256 VARCHAR, run_id VARCHAR, "
        "user VARCHAR)"
    )
    con.execute(
        "INSERT INTO export_log VALUES "
        "('d', '2026-09', '2026-10-06T00:00:00', '东桥镇', '东桥镇.csv', 3, 'ab', 'r', 'u')"
    )
    con.execute(
        "CREATE TABLE match_quality (district VARCHAR, month VARCHAR, source VARCHAR, "
        "records BIGINT, tied BIGINT, ambiguous BIGINT, unmatched BIGINT, id_repairs BIGINT, "
        "rows_read DECIMAL(38,0), rows_rejected DECIMAL(38,0), tie_rate DOUBLE)"
    )
    con.execute(
        "INSERT INTO match_quality VALUES ('d', '2026-09', 'hrss', 10, 9, 0, 1, 0, 12, 2, 0.9)"
    )


def test_an_old_warehouse_is_migrated_to_the_declarations():
    con = duckdb.connect()
    _old_warehouse(con)
    assert "rejects: missing" in differences(con)
    assert "ingest_files.rows_duplicate: missing (BIGINT)" in differences(con)
    assert "stg_medical_claims.self_paid: DOUBLE, declared DECIMAL(20,4)" in differences(con)

    done = ensure_schema(con)

    assert [line.split(":")[0] for line in done] == [f"migration {m.version}" for m in MIGRATIONS]
    assert differences(con) == []
    assert con.execute("SELECT version FROM schema_version").fetchall() == [
        (m.version,) for m in MIGRATIONS
    ]
    # the rows written before are all there, in the declared types
    assert con.execute("SELECT rows_duplicate FROM ingest_files").fetchall() == [(0,)]
    assert con.execute("SELECT rows_read FROM match_quality").fetchall() == [(12,)]
    assert con.execute("SELECT file, ledger_seq FROM export_log").fetchall() == [
        ("东桥镇.csv", None)
    ]
    # amounts are exact now: the old float and two new decimals reach 20,000 exactly
    amounts = pl.Series("self_paid", ["2188.78", "1884.01"]).str.to_decimal(scale=4)
    frame = pl.DataFrame({"record_key": ["k1", "k2"], "self_paid": amounts.cast(pl.Decimal(20, 4))})
    replace_partition(con, "stg_medical_claims", frame, district="d", month="2026-10")
    total = con.execute("SELECT sum(self_paid) FROM stg_medical_claims").fetchone()[0]
    assert total == Decimal("20000.0000")
    assert ensure_schema(con) == []


def test_a_shape_no_migration_explains_is_refused_and_nothing_is_changed():
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("ALTER TABLE warnings ALTER COLUMN confidence TYPE VARCHAR")
    con.execute("ALTER TABLE listings ADD COLUMN note VARCHAR")
    with pytest.raises(SchemaMismatch) as error:
        ensure_schema(con)
    message = str(error.value)
    assert "warnings.confidence: VARCHAR, declared DOUBLE" in message
    assert "listings.note: not declared" in message
    assert _columns(con, "listings")["note"] == "VARCHAR"  # reported, never dropped or altered


def test_writes_go_to_declared_tables_only():
    con = memory_warehouse()
    with pytest.raises(ValueError, match="not a declared partitioned table"):
        replace_partition(con, "t", pl.DataFrame({"a": [1]}), district="d", month="2026-10")
    with pytest.raises(ValueError, match="not a declared"):
        replace_partition(con, "export_log", pl.DataFrame(), district="d", month="2026-10")
    with pytest.raises(duckdb.BinderException, match="nickname"):
        replace_partition(
            con, "export_runs", pl.DataFrame({"nickname": ["x"]}), district="d", month="2026-10"
        )


def test_design_doc_lists_the_declared_tables():
    design = (REPO / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    start = "<!-- tables: generated by pipelines.schema.markdown_table() -->\n"
    end = "\n<!-- end of tables -->"
    assert start in design and end in design
    listed = design.split(start, 1)[1].split(end, 1)[0]
    assert listed == markdown_table(), "regenerate the table list from pipelines/schema.py"


def _python_files() -> list[Path]:
    return sorted((REPO / "pipelines").rglob("*.py"))


def test_every_table_the_code_writes_is_declared():
    written: set[str] = set()
    # the matcher writes only its own temporary workspace (pipelines/matching/), never the warehouse
    for path in (p for p in _python_files() if "matching" not in p.parts):
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'replace_partition\(\s*con,\s*"(\w+)"', text))
        written |= {
            f"stg_{s.key}"
            for s in (ROSTER, GRID_LEDGER, *DEPARTMENT_SOURCES, FEEDBACK)
            if 'f"stg_{' in text and "replace_partition" in text
        }
        written |= {
            name
            for name in re.findall(r"INSERT INTO (\w+)", text)
            if not name.startswith("_") and name not in {"match_input"}
        }
    written |= set(ACCOUNTING_TABLES)  # written in a loop over the names (pipelines/staging.py)
    # the matcher's outcomes, written by DuckDB in a loop over the names (pipelines/linkage.py)
    written |= {target for _, target, _ in linkage.OUTCOME_TARGETS}
    assert written <= set(TABLE), written - set(TABLE)
    assert {"listings", "export_runs", "negative_pairs", "record_matches"} <= written


def test_no_module_asks_whether_a_declared_table_exists():
    """Every table is declared and created whole (ensure_schema): a `table_exists` guard would be
    a second, silent answer to a question the schema already settles."""
    askers = {
        path.relative_to(REPO).as_posix()
        for path in _python_files()
        if "table_exists(" in path.read_text(encoding="utf-8")
        and path.relative_to(REPO).as_posix() != "pipelines/warehouse.py"
    }
    assert not askers, askers


def test_replay_refuses_a_warehouse_older_than_the_schema():
    from pipelines.rules.replay import OutdatedWarehouse, replay

    con = duckdb.connect()
    con.execute("CREATE TABLE source_status (district VARCHAR, month VARCHAR, source VARCHAR)")
    with pytest.raises(OutdatedWarehouse, match="fangfan run"):
        replay(con, district="d", first="2026-01", last="2026-02", current={}, proposed={})
    con = memory_warehouse()
    assert replay(con, district="d", first="2026-01", last="2026-02", current={}, proposed={})


def test_migration_8_keys_earlier_held_thing_warnings_by_their_newest_registration():
    con = memory_warehouse()
    con.execute("UPDATE schema_version SET version = 7")  # a warehouse at version 7
    vehicles = pl.DataFrame(
        {"record_key": ["v|a.csv||2", "v|a.csv||3", "v|a.csv||4"],
         "register_date": [date(2021, 3, 9), date(2024, 11, 2), None]}
    )  # fmt: skip
    replace_partition(con, "stg_vehicles", vehicles, district="d", month="2026-08")
    warnings = pl.DataFrame(
        {"warning_id": ["GA02-A", "GA02-B", "ZJ02-C", "YJ01-D"],
         "rule": ["GA02", "GA02", "ZJ02", "YJ01"],
         "evidence_key": ["", "", "", ""],
         "record_keys": [["v|a.csv||2", "v|a.csv||3"], ["v|a.csv||4"], ["p|gone.csv||2"],
                         ["v|a.csv||2"]]}
    )  # fmt: skip
    replace_partition(con, "warnings", warnings, district="d", month="2026-08")

    assert [line.split(":")[0] for line in ensure_schema(con)] == [
        "migration 8",
        "migration 9",
        "migration 10",
        "migration 11",
    ]

    keys = dict(con.execute("SELECT warning_id, evidence_key FROM warnings").fetchall())
    # the newest of the two cars; a blank date, rows gone, or another rule: left as written
    assert keys == {"GA02-A": "2024-11", "GA02-B": "", "ZJ02-C": "", "YJ01-D": ""}


def test_migration_9_gives_rejects_the_rejected_rows_identity():
    """A warehouse at version 8 has rejects without who the rejected row is: the columns are
    added (null in earlier rows), and the schema agrees with the declarations again."""
    from pipelines.ingest.table import REJECT_IDENTITY

    con = memory_warehouse()
    for name in REJECT_IDENTITY:
        con.execute(f"ALTER TABLE rejects DROP COLUMN {name}")
    con.execute("UPDATE schema_version SET version = 8")
    con.execute(
        "INSERT INTO rejects (district, month, source, file, row_number, field, reason) "
        "VALUES ('d', '2026-08', 'roster', 'a.csv', 2, 'household_id', '?')"
    )

    assert [line.split(":")[0] for line in ensure_schema(con)] == [
        "migration 9",
        "migration 10",
        "migration 11",
    ]
    assert set(REJECT_IDENTITY) <= set(table_columns(con, "rejects"))
    assert con.execute("SELECT name, id_number FROM rejects").fetchall() == [(None, None)]


@pytest.mark.parametrize(
    ("before", "columns", "migrations"),
    [
        # 10: a department record's own birth date (出生日期)
        (9, ("birth_date", "birth_date_month_only"), ["migration 10", "migration 11"]),
        # 11: a department row's 备注
        (10, ("remark",), ["migration 11"]),
    ],
)
def test_migrations_give_departments_staged_rows_their_declared_columns(
    before: int, columns: tuple[str, ...], migrations: list[str]
):
    """A warehouse at an earlier version has department tables without a column declared since:
    it is added (null in earlier rows: the next run stages its month again), the roster's tables
    are left as they were, and the schema agrees with the declarations again."""
    con = memory_warehouse()
    for table in ("stg_disability", "stg_medical_claims"):
        for name in columns:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    con.execute(f"UPDATE schema_version SET version = {before}")
    replace_partition(
        con, "stg_disability", pl.DataFrame({"record_key": ["d|a.csv||2"]}), district="d",
        month="2026-08",
    )  # fmt: skip

    assert [line.split(":")[0] for line in ensure_schema(con)] == migrations
    assert set(columns) <= set(table_columns(con, "stg_disability"))
    # the roster has its own birth date; a 备注 is no roster field
    assert "remark" not in table_columns(con, "stg_roster")
    assert con.execute(f"SELECT {columns[0]} FROM stg_disability").fetchall() == [(None,)]
