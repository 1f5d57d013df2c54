"""An unchanged roster snapshot is not read and keyed again: the month reuses the keyed members of
the month whose roster and grid had the same fingerprint, and gets exactly the rows a fresh build
gives. A snapshot that differs in one cell is read and keyed anew. A rerun reads no unchanged
department folder again, keeps the ties when nothing they depend on changed, and keeps the
month's warnings when nothing their evaluation depends on changed."""

from __future__ import annotations

import shutil

import duckdb
import polars as pl
import pytest

from pipelines import fingerprints
from pipelines.city.routing import add_routed_warnings
from pipelines.config import DataDir
from pipelines.evaluation import ROUTED_METHOD, RULE_TABLES, evaluate_month, rules_fingerprint
from pipelines.fingerprints import code_digest
from pipelines.generate import generate
from pipelines.linkage import match_fingerprint, match_month, staged_sources
from pipelines.roster import ROSTER_TABLES, write_roster
from pipelines.rules.settings import load_rule_config
from pipelines.sources import DEPARTMENT_SOURCES, GRID, ROSTER, SOURCES
from pipelines.staging import folder_fingerprint, ingest_source
from pipelines.warehouse import memory_warehouse

FIRST, SAME, CHANGED, LATER = "2026-10", "2026-11", "2026-12", "2027-01"
DISTRICT = "d"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    root = tmp_path_factory.mktemp("reuse") / "district"
    generate(root, [FIRST], members=1500, seed=7, messy=True)
    raw = root / "raw"
    for month in (SAME, CHANGED, LATER):  # LATER: FIRST's files again, after CHANGED's
        for source in (ROSTER.key, GRID.key):
            shutil.copytree(raw / FIRST / source, raw / month / source)
    # one cell of one roster file differs in CHANGED: a name in the first data row
    path = next(p for p in sorted((raw / CHANGED / ROSTER.key).iterdir()) if p.suffix == ".csv")
    raw_bytes = path.read_bytes()
    encoding = "utf-8-sig" if raw_bytes.startswith(b"\xef\xbb\xbf") else "gb18030"
    lines = raw_bytes.decode(encoding).splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.count(",") > 5 and i > 0)
    cells = lines[row].split(",")
    name = next(i for i, cell in enumerate(cells) if cell and "\u4e00" <= cell[0] <= "\u9fff")
    cells[name] = cells[name][:1] + "某" + cells[name][1:]
    lines[row] = ",".join(cells)
    path.write_bytes("".join(lines).encode(encoding))
    return DataDir(root)


def _month(con: duckdb.DuckDBPyConnection, layout: DataDir, month: str, *, reuse: bool = True):
    staged = [
        ingest_source(con, layout, source, district=DISTRICT, month=month, reuse=reuse)
        for source in (ROSTER, GRID)
    ]
    return staged, write_roster(con, DISTRICT, month, reuse=reuse)


def _rows(con: duckdb.DuckDBPyConnection, table: str, month: str) -> pl.DataFrame:
    return con.sql(
        f"SELECT * EXCLUDE (month) FROM {table} WHERE district = ? AND month = ? ORDER BY ALL",
        params=[DISTRICT, month],
    ).pl()


def test_fingerprint_is_the_files_content(layout: DataDir):
    raw = layout.raw
    first = folder_fingerprint(raw / FIRST / ROSTER.key)
    assert first == folder_fingerprint(raw / SAME / ROSTER.key)
    assert first != folder_fingerprint(raw / CHANGED / ROSTER.key)


@pytest.fixture
def fresh_code_digest():
    code_digest.cache_clear()
    yield
    code_digest.cache_clear()


def test_a_library_upgrade_changes_every_fingerprint(
    layout: DataDir, monkeypatch, fresh_code_digest
):
    # a newer DuckDB or polars may read or compute differently: nothing it did not make is reused
    folder = layout.raw / FIRST / ROSTER.key
    before = folder_fingerprint(folder)
    assert folder_fingerprint(folder) == before
    version = fingerprints.metadata.version
    monkeypatch.setattr(
        fingerprints.metadata, "version", lambda name: "99.0" if name == "polars" else version(name)
    )
    code_digest.cache_clear()
    assert folder_fingerprint(folder) != before


def test_an_unchanged_roster_reuses_the_keyed_members_with_identical_rows(layout: DataDir):
    con = memory_warehouse()
    staged, tables = _month(con, layout, FIRST)
    assert [s.reused_from for s in staged] == [None, None] and tables.reused_from is None
    staged, tables = _month(con, layout, SAME)
    assert [s.reused_from for s in staged] == [FIRST, FIRST]
    assert tables.reused_from == FIRST
    assert tables.members == _rows(con, "roster_members", SAME).height > 1000

    # the same months computed from the files, nothing reused (SAME's keys carried over from
    # FIRST's, as in `con`)
    fresh = memory_warehouse()
    _month(fresh, layout, FIRST, reuse=False)
    _month(fresh, layout, SAME, reuse=False)
    for table in (*ROSTER_TABLES, "stg_roster", "stg_grid", "source_status", "ingest_files",
                  "rejects", "field_problems", "roster_builds"):  # fmt: skip
        reused, computed = _rows(con, table, SAME), _rows(fresh, table, SAME)
        assert reused.height == computed.height, table
        assert reused.equals(computed), table
    # what the asset layer is handed is what a fresh build gives (rows in any order)
    rebuilt = write_roster(fresh, DISTRICT, SAME, reuse=False)
    assert tables.members == rebuilt.members
    for mine, theirs in zip(
        (tables.households, tables.findings), (rebuilt.households, rebuilt.findings), strict=True
    ):
        assert mine.select(theirs.columns).sort(pl.all()).equals(theirs.sort(pl.all()))

    # the same month again: nothing is copied or rebuilt, the rows stay
    before = _rows(con, "roster_members", SAME)
    staged, tables = _month(con, layout, SAME)
    assert [s.reused_from for s in staged] == [SAME, SAME] and tables.reused_from == SAME
    assert _rows(con, "roster_members", SAME).equals(before)


def test_a_roster_changed_in_one_cell_is_read_and_keyed_again(layout: DataDir):
    con = memory_warehouse()
    _month(con, layout, FIRST)
    staged, tables = _month(con, layout, CHANGED)
    roster, grid = staged
    assert roster.reused_from is None and grid.reused_from == FIRST
    assert tables.reused_from is None
    fresh = memory_warehouse()
    _month(fresh, layout, CHANGED, reuse=False)
    assert _rows(con, "roster_members", CHANGED).equals(_rows(fresh, "roster_members", CHANGED))
    assert not _rows(con, "roster_members", CHANGED).equals(_rows(con, "roster_members", FIRST))


def test_a_build_is_reused_only_where_its_keys_are_those_the_month_would_carry(layout: DataDir):
    """Members keep the keys the latest earlier roster gave them, so a month's keyed members are
    a function of that roster too: a month's own build stands while its predecessor is the
    same, the predecessor's build is copied when the files are the same (its keys carry over to
    themselves), and an older month with the same files is not taken for either."""
    con = memory_warehouse()
    _month(con, layout, FIRST)
    _month(con, layout, CHANGED)
    _, later = _month(con, layout, LATER)  # FIRST's files, but CHANGED's keys carried over
    assert later.reused_from is None
    _, same = _month(con, layout, SAME)  # FIRST's files, FIRST the month before: copied
    assert same.reused_from == FIRST
    _, again = _month(con, layout, SAME)  # the same predecessor: the month's own build stands
    assert again.reused_from == SAME

    fresh = memory_warehouse()
    for month in (FIRST, CHANGED, LATER, SAME):
        _month(fresh, layout, month, reuse=False)
    for month in (LATER, SAME):
        assert _rows(con, "roster_members", month).equals(_rows(fresh, "roster_members", month))
        assert _rows(con, "roster_builds", month).equals(_rows(fresh, "roster_builds", month))

    # the predecessor's build changed (here: it is gone): SAME is keyed again, as a fresh build
    con.execute("DELETE FROM roster_builds WHERE month = ?", [FIRST])
    _, alone = _month(con, layout, SAME)
    assert alone.reused_from is None
    lone = memory_warehouse()
    _month(lone, layout, SAME, reuse=False)
    assert _rows(con, "roster_builds", SAME).equals(_rows(lone, "roster_builds", SAME))


def test_a_rerun_reads_no_unchanged_department_file_again(layout: DataDir):
    con = memory_warehouse()
    source = SOURCES["medical_enrollment"]
    first = ingest_source(con, layout, source, district=DISTRICT, month=FIRST)
    before = {t: _rows(con, t, FIRST) for t in ("stg_medical_enrollment", "source_status")}
    again = ingest_source(con, layout, source, district=DISTRICT, month=FIRST)
    assert first.reused_from is None and again.reused_from == FIRST
    assert again.kept == first.kept > 0 and again.staged.records.is_empty()  # not read back
    # the schema check's finding is kept with the source: the reuse reports what staging found
    assert again.schema_failures is not None and first.schema_failures is not None
    assert again.schema_failures.equals(first.schema_failures)
    for table, rows in before.items():
        assert _rows(con, table, FIRST).equals(rows), table
    # rows staged before the finding was kept (migration 3 leaves it null): read back, checked
    con.execute("UPDATE source_status SET schema_failures = NULL WHERE month = ?", [FIRST])
    older = ingest_source(con, layout, source, district=DISTRICT, month=FIRST)
    assert older.reused_from == FIRST and older.kept == first.kept
    assert older.schema_failures is not None and older.schema_failures.equals(first.schema_failures)
    # a month with no folder of its own is not received, whatever an earlier month had
    absent = ingest_source(con, layout, source, district=DISTRICT, month=SAME)
    assert not absent.staged.received and absent.reused_from is None


def test_a_rerun_with_the_same_inputs_keeps_the_ties_a_new_input_rematches(layout: DataDir):
    con = memory_warehouse()
    for source in (ROSTER, GRID, *DEPARTMENT_SOURCES):
        ingest_source(con, layout, source, district=DISTRICT, month=FIRST)
    write_roster(con, DISTRICT, FIRST)
    first = match_month(con, DISTRICT, FIRST)
    tables = {t: _rows(con, t, FIRST) for t in ("record_matches", "unmatched_records")}
    sources = staged_sources(con, DISTRICT, FIRST)
    fingerprint = match_fingerprint(con, DISTRICT, FIRST, sources)
    assert fingerprint is not None and first.matches.height > 0

    again = match_month(con, DISTRICT, FIRST)  # same inputs: nothing matched or written
    assert again.reused and not first.reused
    for mine, theirs in ((again.matches, first.matches), (again.unresolved, first.unresolved)):
        assert mine.select(theirs.columns).sort(pl.all()).equals(theirs.sort(pl.all()))
    fresh = match_month(con, DISTRICT, FIRST, reuse=False)  # what matching now gives
    assert fresh.matches.sort(pl.all()).equals(first.matches.sort(pl.all()))
    for table, rows in tables.items():
        assert _rows(con, table, FIRST).equals(rows), table

    # a 非本人 answer is a new input: the fingerprint moves, the month is matched again
    con.execute(
        "INSERT INTO negative_pairs (district, month, warning_id, source, record_key,"
        " identity_key, member_key) VALUES (?, ?, 'W1', 'hrss', 'k', 'i', 'm')",
        [DISTRICT, FIRST],
    )
    assert match_fingerprint(con, DISTRICT, FIRST, sources) != fingerprint


def _warnings_month(layout: DataDir) -> duckdb.DuckDBPyConnection:
    con = memory_warehouse()
    for source in (ROSTER, GRID, *DEPARTMENT_SOURCES):
        ingest_source(con, layout, source, district=DISTRICT, month=FIRST)
    write_roster(con, DISTRICT, FIRST)
    match_month(con, DISTRICT, FIRST)
    return con


def _same_run(mine, theirs) -> bool:
    return (
        mine.warnings.sort("warning_id").equals(theirs.warnings.sort("warning_id"))
        and mine.undecided.sort(pl.all()).equals(theirs.undecided.sort(pl.all()))
        and mine.not_evaluated == theirs.not_evaluated
    )


def test_a_rerun_with_the_same_inputs_keeps_the_warnings(layout: DataDir, tmp_path):
    con = _warnings_month(layout)
    config = load_rule_config()
    first = evaluate_month(con, DISTRICT, FIRST, config)
    tables = {t: _rows(con, t, FIRST) for t in RULE_TABLES}
    assert not first.reused and first.warnings.height > 0 and first.undecided.height > 0

    again = evaluate_month(con, DISTRICT, FIRST, config)  # nothing evaluated or written
    assert again.reused and _same_run(again, first)
    fresh = evaluate_month(con, DISTRICT, FIRST, config, reuse=False)  # what evaluation now gives
    assert not fresh.reused and _same_run(fresh, first)
    for table, rows in tables.items():
        assert _rows(con, table, FIRST).equals(rows), table

    # a warning another district's records raised, added by an earlier run: not part of the
    # reused evaluation, and taken out again when this run's city has none for the month
    routed = first.warnings.head(1).with_columns(
        pl.lit("R-1").alias("warning_id"), pl.lit(ROUTED_METHOD).alias("method")
    )
    con.register("_routed", routed)
    con.execute(
        f"INSERT INTO warnings (district, month, {', '.join(routed.columns)})"
        f" SELECT '{DISTRICT}', '{FIRST}', * FROM _routed"
    )
    assert _same_run(evaluate_month(con, DISTRICT, FIRST, config), first)
    assert add_routed_warnings(con, tmp_path / "no-city.duckdb", DISTRICT, FIRST, SAME) == 0
    assert _rows(con, "warnings", FIRST).equals(tables["warnings"])


@pytest.mark.parametrize(
    "change",
    ["threshold", "field_problem", "earlier_warning", "negative_pair", "source_status",
     "earlier_roster", "answer"],
)  # fmt: skip
def test_a_changed_input_of_the_rules_evaluates_the_month_again(layout: DataDir, change: str):
    con = _warnings_month(layout)
    config = load_rule_config()
    evaluate_month(con, DISTRICT, FIRST, config)
    fingerprint = rules_fingerprint(con, DISTRICT, FIRST, config)
    assert fingerprint is not None
    if change == "threshold":
        config["rules"]["YB01"] = {**config["rules"]["YB01"], "threshold_general": 1.0}
    elif change == "field_problem":
        con.execute(
            "INSERT INTO field_problems (district, month, source, record_key, field)"
            " VALUES (?, ?, 'hrss', 'hrss|x.csv||2', 'registered_on')",
            [DISTRICT, FIRST],
        )
    elif change == "earlier_warning":
        con.execute(
            "INSERT INTO warnings (district, month, warning_id, rule, household_id)"
            " VALUES (?, '2026-09', 'W-0', 'ZJ01', 'h')",
            [DISTRICT],
        )
    elif change == "negative_pair":  # the ties no longer stand: nothing is reused until rematched
        con.execute(
            "INSERT INTO negative_pairs (district, month, warning_id, source, record_key,"
            " identity_key, member_key) VALUES (?, ?, 'W1', 'hrss', 'k', 'i', 'm')",
            [DISTRICT, FIRST],
        )
    elif change == "answer":  # a death answered 不属实 lets the member's other rules speak
        con.execute(
            "INSERT INTO feedback_answers (district, month, warning_id, verdict, file, sheet,"
            " row_number) VALUES (?, ?, 'GA01-X', '不属实', 'a.csv', NULL, 2)",
            [DISTRICT, FIRST],
        )
    elif change == "earlier_roster":  # GA01 reads it for members M's roster no longer has
        con.execute(
            "INSERT INTO roster_builds (district, month, roster_fingerprint, grid_fingerprint)"
            " VALUES (?, '2026-09', 'r', 'g')",
            [DISTRICT],
        )
    else:  # an earlier claims month of the year staged since
        con.execute(
            "INSERT INTO source_status (district, month, source, received, fingerprint)"
            " VALUES (?, '2026-03', 'medical_claims', true, 'f')",
            [DISTRICT],
        )
    assert rules_fingerprint(con, DISTRICT, FIRST, config) != fingerprint
    rerun = evaluate_month(con, DISTRICT, FIRST, config)
    assert not rerun.reused
    again = evaluate_month(con, DISTRICT, FIRST, config)
    assert again.reused is (change != "negative_pair")
