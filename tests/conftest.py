"""Shared test helpers: a tiny warehouse built by hand, with every value under the test's control."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

import duckdb
import polars as pl
import pytest

from pipelines.config import previous_month
from pipelines.ingest.table import FIELD_PROBLEM_SCHEMA, REJECT_SCHEMA, record_schema
from pipelines.matching.labels import REASONS
from pipelines.rules.evaluate import RuleRun, evaluate_rules
from pipelines.sources import DEPARTMENT_SOURCES, SOURCES
from pipelines.warehouse import memory_warehouse, replace_partition

DISTRICT = "test"
MONTH = "2026-10"


def check_char(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


_serial = itertools.count(1)


def make_id(birth: date, *, area: str = "341502", male: bool = True) -> str:
    order = next(_serial) % 500 * 2 + (1 if male else 0)
    first17 = f"{area}{birth:%Y%m%d}{order:03d}"
    return first17 + check_char(first17)


@dataclass
class World:
    """Households, members and department records for one district and month."""

    month: str = MONTH
    # the `district` column of every table it builds (a city's districts each have their own)
    district: str = DISTRICT
    members: list[dict] = field(default_factory=list)
    households: list[dict] = field(default_factory=list)
    records: dict[str, list[dict]] = field(default_factory=dict)
    matches: list[dict] = field(default_factory=list)
    unresolved: list[dict] = field(default_factory=list)
    field_problems: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    # members of the month before's roster that M's no longer has (departed())
    earlier_members: list[dict] = field(default_factory=list)
    # months of M's year before M whose claims list the district never received (every other
    # one was: YB01's year is summed from all of them)
    claims_not_received: set[str] = field(default_factory=set)
    _household_serial: itertools.count = field(default_factory=lambda: itertools.count(1))

    def household(
        self,
        household_type: str = "一般农户",
        *,
        township: str = "东桥镇",
        village: str = "王岗村",
        grid: str = "一组网格",
    ) -> str:
        household_id = f"H{next(self._household_serial):06d}"
        self.households.append(
            {
                "household_id": household_id,
                "township": township,
                "village": village,
                "group": "一组",
                "grid": grid,
                "head_name": None,
                "head_member_key": None,
                "household_type": household_type,
                "members": 0,
                "worker_name": "网格员甲",
                "worker_phone": "13800000000",
            }
        )
        return household_id

    def member(
        self,
        household_id: str,
        name: str = "张三",
        *,
        birth: date = date(1980, 5, 1),
        relation: str = "户主",
        **values,
    ) -> str:
        """A roster member born on `birth` (their ID says so too); `values` are other columns of
        the member's row as written (birth_date, birth_date_month_only, id_birth …)."""
        id_number = make_id(birth)
        member_key = f"{household_id}|{id_number}"
        hh = next(h for h in self.households if h["household_id"] == household_id)
        hh["members"] += 1
        if relation == "户主":
            hh["head_name"], hh["head_member_key"] = name, member_key
        self.members.append(
            {
                "member_key": member_key,
                "household_id": household_id,
                "name": name,
                "id_number": id_number,
                "id_status": "valid",
                "birth_date": birth,
                "relation": relation,
                "is_head": relation == "户主",
                "township": hh["township"],
                "village": hh["village"],
                "household_type": hh["household_type"],
                **values,
            }
        )
        return member_key

    def record(
        self, source: str, member_key: str | None, *, month: str | None = None, **values
    ) -> str:
        """A department record of `source` tied (when member_key is given) to that member."""
        rows = self.records.setdefault(source, [])
        record_key = f"{source}|{source}.csv||{len(rows) + 2}"
        rows.append({"record_key": record_key, "month": month or self.month, **values})
        if member_key is not None:
            household_id = member_key.split("|")[0]
            self.matches.append(
                {
                    "month": month or self.month,
                    "source": source,
                    "record_key": record_key,
                    "member_key": member_key,
                    "household_id": household_id,
                    "tier": 1,
                    "method": "证件号码一致",
                    "confidence": 1.0,
                }
            )
        return record_key

    def departed(
        self,
        household_id: str,
        name: str,
        *,
        birth: date,
        relation: str = "之子",
        died: date | None = None,
        written: str | None = None,
    ) -> tuple[str, str]:
        """A member of the month before's roster whom M's roster no longer has, and 公安's 死亡
        row of them in M (under the name `written`, when given), unmatched in M with the reason
        the linkage gives it: the member's key and the row's record key."""
        id_number = make_id(birth)
        member_key = f"{household_id}|{id_number}"
        self.earlier_members.append(
            {"member_key": member_key, "household_id": household_id, "name": name,
             "id_number": id_number, "id_status": "valid", "birth_date": birth,
             "relation": relation, "is_head": relation == "户主"}
        )  # fmt: skip
        record_key = self.record(
            "public_security", None, name=written or name, id_number=id_number,
            id_status="valid", change_type="死亡", change_date=died,
        )  # fmt: skip
        # as the linkage leaves it: unmatched in M, its ID last month's (linkage._name_departed)
        self.unresolved.append(
            {"source": "public_security", "record_key": record_key, "status": "unmatched",
             "reason": REASONS["left_roster"], "candidates": []}
        )  # fmt: skip
        return member_key, record_key

    def ambiguous(self, source: str, candidates: list[str], **values) -> str:
        """A record the matcher could not tie: several members fit."""
        record_key = self.record(source, None, **values)
        self.unresolved.append(
            {"source": source, "record_key": record_key, "status": "ambiguous",
             "reason": "同名", "candidates": candidates}
        )  # fmt: skip
        return record_key

    def unmatched(self, source: str, **values) -> str:
        """A record the matcher tied to nobody."""
        record_key = self.record(source, None, **values)
        self.unresolved.append(
            {"source": source, "record_key": record_key, "status": "unmatched",
             "reason": "花名册中无此人", "candidates": []}
        )  # fmt: skip
        return record_key

    def problem(self, record_key: str, field_name: str, raw_value: str = "?") -> None:
        """A field of a kept record that could not be read (the record holds null there)."""
        source, file, _, row = record_key.split("|")
        self.field_problems.append(
            {"source": source, "file": file, "sheet": None, "row_number": int(row),
             "record_key": record_key, "field": field_name,
             "reason": f"「{field_name}」无法识别", "raw_value": raw_value}
        )  # fmt: skip

    def staged(self, source: str) -> pl.DataFrame:
        """Rows of one source with every staged column, typed as the ingest layer types them."""
        spec = SOURCES[source]
        schema = {"month": pl.String(), **record_schema(spec)}
        rows = [
            {k: r.get(k) for k in schema}
            | {
                "source": source,
                "id_status": r.get("id_status") or ("valid" if r.get("id_number") else "missing"),
                "file": r.get("file") or f"{source}.csv",
                "row_number": int(r["record_key"].rsplit("|", 1)[1]),
            }
            for r in self.records.get(source, [])
        ]
        return (
            pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
        )

    def build(self, con: duckdb.DuckDBPyConnection) -> None:
        months = {self.month} | {r["month"] for rows in self.records.values() for r in rows}
        for month in sorted(months):
            for source in (s.key for s in DEPARTMENT_SOURCES):
                frame = self.staged(source).filter(pl.col("month") == month).drop("month")
                replace_partition(con, f"stg_{source}", frame, district=self.district, month=month)
            matches = pl.DataFrame(
                [m for m in self.matches if m["month"] == month],
                schema={
                    "month": pl.String, "source": pl.String, "record_key": pl.String,
                    "member_key": pl.String, "household_id": pl.String, "tier": pl.Int8,
                    "method": pl.String, "confidence": pl.Float64,
                },
            ).drop("month")  # fmt: skip
            replace_partition(con, "record_matches", matches, district=self.district, month=month)
        unresolved = pl.DataFrame(
            self.unresolved,
            schema={"source": pl.String, "record_key": pl.String, "status": pl.String,
                    "reason": pl.String, "candidates": pl.List(pl.String)},
        )  # fmt: skip
        replace_partition(
            con, "unmatched_records", unresolved, district=self.district, month=self.month
        )
        problems = pl.DataFrame(self.field_problems, schema=FIELD_PROBLEM_SCHEMA)
        replace_partition(con, "field_problems", problems, district=self.district, month=self.month)
        rejects = pl.DataFrame(self.rejects, schema=REJECT_SCHEMA)
        replace_partition(con, "rejects", rejects, district=self.district, month=self.month)
        replace_partition(
            con,
            "roster_members",
            pl.DataFrame(self.members),
            district=self.district,
            month=self.month,
        )
        if self.earlier_members:
            replace_partition(
                con, "roster_members", pl.DataFrame(self.earlier_members), district=self.district,
                month=previous_month(self.month),
            )  # fmt: skip
        replace_partition(
            con,
            "households",
            pl.DataFrame(self.households),
            district=self.district,
            month=self.month,
        )
        for number in range(1, int(self.month[5:])):
            earlier = f"{self.month[:4]}-{number:02d}"
            received = earlier not in self.claims_not_received
            status = pl.DataFrame(
                {"source": ["medical_claims"], "received": [received], "files": [int(received)],
                 "records": [int(received)], "rejected": [0], "field_problems": [0]}
            )  # fmt: skip
            replace_partition(con, "source_status", status, district=self.district, month=earlier)

    def evaluate(self, config: dict, *, received: set[str] | None = None) -> pl.DataFrame:
        return self.run(config, received=received).warnings

    def run(self, config: dict, *, received: set[str] | None = None) -> RuleRun:
        """The whole evaluation: warnings, rules not evaluated, and undecided members/rows."""
        con = memory_warehouse()
        self.build(con)
        received = received if received is not None else {s.key for s in DEPARTMENT_SOURCES}
        return evaluate_rules(
            con, district=self.district, month=self.month, config=config, received=received
        )


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def rule_config() -> dict:
    from pipelines.rules.settings import load_rule_config

    return load_rule_config()


@pytest.fixture(autouse=True)
def _no_dead_dagster_instance_in_context():
    """Dagster keeps the entered instance's DefsStateStorage in a context variable (set by
    `DagsterInstance.__enter__`, reset to the value before by `__exit__`), and building
    Definitions reads it. An instance entered inside a generator that is never closed (a run
    stopped half-way, a context manager abandoned in a reference cycle) is exited whenever the
    garbage collector gets to it; if that happens while a later test has its own instance entered,
    the later `__exit__` restores the abandoned instance's storage, whose instance is then gone:
    the next test that builds Definitions fails with "Attempted to resolve undefined
    DagsterInstance weakref" (seen once in CI, in tests/test_sensors.py; reproduced with such a
    generator). A storage whose instance is gone belongs to no test: it is cleared before each
    test, and the test after which it was found gets a warning."""
    from dagster._core.storage.defs_state import base

    def dead() -> bool:
        storage = base.DefsStateStorage.get()
        if storage is None or not storage.has_instance:
            return False
        return storage._instance_weakref() is None

    if dead():
        base._current_storage.set(None)
    yield
    if dead():
        import warnings

        warnings.warn("this test left a garbage-collected Dagster instance entered", stacklevel=1)
