"""The keyed roster against its definition, written out row by row in plain Python: member keys,
the first of a member given twice, heads, a household's places (the value most members give,
ties to the member listed first, the head first), grid routing by names without any kind of
space (the ledger's first row standing), the household type a member without one takes, and the
findings. Random rosters full of the cases that matter; both doors (build_roster on frames,
write_roster in the warehouse) give the same."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date

import polars as pl
import pytest

from pipelines.roster import HEAD_RELATIONS, HOUSEHOLD_PLACE, build_roster, write_roster
from pipelines.warehouse import memory_warehouse
from tests.test_roster import ROSTER_SCHEMA

GRID_SCHEMA = {"record_key": pl.String, "township": pl.String, "village": pl.String,
               "grid": pl.String, "worker_name": pl.String, "worker_phone": pl.String}  # fmt: skip
SPACES = [" ", "\u3000", "\u00a0", "\t", "\u2003", ""]
WHITESPACE = re.compile(r"\s+")  # Python's \s: Unicode whitespace (the test writes no \x1c-\x1f)


def _random_roster(rng: random.Random) -> tuple[list[dict], list[dict]]:
    towns, villages, grids = (
        ["东桥镇", "孙岗镇"],
        ["王岗村", "北山村", None],
        ["一组网格", "二组网格"],
    )
    rows, key = [], 0
    for h in range(rng.randint(5, 40)):
        household = f"H{h:03d}" if rng.random() > 0.02 else None
        head = f"户主{h}"
        town, village, grid = rng.choice(towns), rng.choice(villages), rng.choice(grids)
        for m in range(rng.randint(1, 5)):
            key += rng.randint(1, 11)  # record keys sort as text: "r|10" before "r|9"
            name = head if m == 0 else rng.choice([f"成员{h}-{m}", f"成员{h}-1", None])
            rows.append(
                {
                    "record_key": f"r|{key}",
                    "household_id": household,
                    "name": name,
                    "head_name": rng.choice([head, head, None]),
                    # no ID (or one Excel destroyed) often: namesakes then differ by birth
                    "id_number": rng.choice([f"ID{h}-{m}", f"ID{h}-0", f"ID{h + 1}-0", None, None]),
                    "id_birth": rng.choice([date(1970, 1, 1), None]),
                    "birth_date": rng.choice([date(1980, 2, 2), date(2004, 3, 3), None]),
                    "relation": rng.choice(["户主", "本人", "配偶", "子女", "户主之子", None])
                    if m
                    else rng.choice(["户主", "户 主", "户主（本人）", "家长", None]),
                    "township": town if rng.random() > 0.15 else rng.choice([*towns, None]),
                    "village": village if rng.random() > 0.15 else rng.choice(villages),
                    "group": rng.choice(["一组", "二组", None]),
                    "grid": grid if rng.random() > 0.1 else None,
                    "household_type": rng.choice(["脱贫户", "一般农户", "监测户", None]),
                }
            )
    rng.shuffle(rows)
    ledger = []
    for n in range(rng.randint(1, 8)):
        spaced = rng.choice(SPACES)
        ledger.append(
            {
                "record_key": f"g|{n}",
                "township": rng.choice(towns) + rng.choice(SPACES),
                "village": rng.choice(villages),
                # the ledger writes a grid as clerks do: 一组网格, 一组, 第一组, 1组
                "grid": rng.choice(grids)
                .replace("网格", rng.choice(["网格", ""]))
                .replace("一组", rng.choice(["一组", "第一组", "1组", "村民一组"]))
                .replace("组", "组" + spaced, 1),
                "worker_name": f"网格员{n}",
                "worker_phone": rng.choice([f"1380000{n:04d}", None]),
            }
        )
    return rows, ledger


def _bare(text: str | None) -> str:
    return WHITESPACE.sub("", text or "")


DIGITS_READ = {"1组": "一组", "2组": "二组"}


def _place_key(row: dict) -> tuple[str, str, str]:
    """乡镇, 村, 网格 as a person compares them: spaces aside; a grid's 网格 after its name, 第
    or 村民 before it, and its number in digits are no part of which grid it is."""
    grid = re.sub(r"^(第|村民)", "", re.sub(r"网格$", "", _bare(row["grid"])))
    return _bare(row["township"]), _bare(row["village"]), DIGITS_READ.get(grid, grid)


def _reference(rows: list[dict], ledger: list[dict]) -> tuple[dict, dict, Counter]:
    """members by member_key, households by household_id, findings as a multiset."""

    def birth_of(row: dict):
        return row["birth_date"] if row["birth_date"] is not None else row["id_birth"]

    # namesakes without an ID in one household, born on different days, are two members
    births: dict[tuple, set] = {}
    for row in rows:
        if row["id_number"] is None and birth_of(row) is not None:
            births.setdefault((row["household_id"], row["name"]), set()).add(birth_of(row))
    keyed = []
    for row in sorted(rows, key=lambda r: r["record_key"]):
        who = row["id_number"] if row["id_number"] is not None else row["name"]
        told_apart = len(births.get((row["household_id"], row["name"]), ())) > 1
        if row["id_number"] is None and who is not None and told_apart and birth_of(row):
            who = f"{who}|{birth_of(row).isoformat()}"
        member_key = (
            None if row["household_id"] is None or who is None else f"{row['household_id']}|{who}"
        )
        relation = (
            re.sub(r"[\s\u3000()（）]", "", row["relation"])
            if row["relation"] is not None
            else None
        )
        is_head = relation in HEAD_RELATIONS or (
            row["relation"] is None and row["name"] is not None and row["name"] == row["head_name"]
        )
        birth = row["birth_date"] if row["birth_date"] is not None else row["id_birth"]
        keyed.append(
            row
            | {"member_key": member_key, "is_head": is_head, "birth_date": birth,
               "_own_birth": row["birth_date"]}
        )  # fmt: skip
    copies = Counter(r["member_key"] for r in keyed)
    members, seen = [], set()
    for row in keyed:
        if row["member_key"] not in seen:
            seen.add(row["member_key"])
            members.append(row)
    findings = Counter()
    for row in members:
        if copies[row["member_key"]] > 1:
            findings[("同户重复成员", row["household_id"], row["member_key"])] += 1
    for row in members:
        # the roster's own birth date against the ID's
        own, from_id = row["_own_birth"], row["id_birth"]
        if row["id_number"] is not None and None not in (own, from_id) and own != from_id:
            findings[("出生日期与证件号码不符", row["household_id"], row["member_key"])] += 1
    ids = Counter(r["id_number"] for r in members if r["id_number"] is not None)
    for row in members:
        if row["id_number"] is not None and ids[row["id_number"]] > 1:
            findings[("花名册证件号码重复", row["household_id"], row["member_key"])] += 1
    listed_grid: dict[tuple, list[dict]] = {}
    for entry in ledger:
        listed_grid.setdefault(_place_key(entry), []).append(entry)

    def worker_of(place: dict) -> tuple[dict | None, bool]:
        """The grid's worker, and whether the ledger gives it two (then none)."""
        entries = listed_grid.get(_place_key(place), [])
        names = {e["worker_name"] for e in entries if e["worker_name"] is not None}
        if len(names) > 1:
            return None, True
        if not entries:
            return None, False
        first = {
            c: next((e[c] for e in entries if e[c] is not None), None)
            for c in ("worker_name", "worker_phone")
        }
        return first, False

    households = {}
    for household in {r["household_id"] for r in members}:
        listed = sorted(
            (r for r in members if r["household_id"] == household),
            key=lambda r: (not r["is_head"], r["record_key"]),
        )
        head_names = [r["head_name"] for r in listed if r["head_name"] is not None]
        head_relation = [r["name"] for r in listed if r["is_head"]]
        place = {}
        for column in HOUSEHOLD_PLACE:
            values = [r[column] for r in listed if r[column] is not None]
            counts = Counter(values)
            place[column] = (
                max(values, key=lambda v: (counts[v], -values.index(v))) if values else None
            )
        worker, two_workers = worker_of(place)
        households[household] = {
            "head_member_key": listed[0]["member_key"],
            "head_name": head_names[0]
            if head_names
            else (head_relation[0] if head_relation else None),
            **place,
            "members": len(listed),
            "worker_name": worker["worker_name"] if worker else None,
            "worker_phone": worker["worker_phone"] if worker else None,
        }
        if two_workers:
            findings[("网格员不唯一", household, listed[0]["member_key"])] += 1
        elif worker is None or (worker["worker_name"] is None and worker["worker_phone"] is None):
            findings[("农户无网格台账", household, listed[0]["member_key"])] += 1
        if place["household_type"] is None:
            findings[("户类型无法识别", household, listed[0]["member_key"])] += 1
        # every row of the 户编号 as written, copies too: two 乡镇 or two 村 named
        written = [r for r in rows if r["household_id"] == household]
        for column in ("township", "village"):
            if household is not None and len({r[column] for r in written} - {None}) > 1:
                findings[("同户分属不同乡镇或村", household, listed[0]["member_key"])] += 1
                break
    keyed_members = {
        r["member_key"]: {
            "record_key": r["record_key"],
            "is_head": r["is_head"],
            "birth_date": r["birth_date"],
            "household_type": r["household_type"]
            if r["household_type"] is not None
            else households[r["household_id"]]["household_type"],
        }
        for r in members
    }
    return keyed_members, households, findings


def _compare(members: pl.DataFrame, households: pl.DataFrame, findings: pl.DataFrame, expected):
    want_members, want_households, want_findings = expected
    got_members = {
        r["member_key"]: {
            k: r[k] for k in ("record_key", "is_head", "birth_date", "household_type")
        }
        for r in members.iter_rows(named=True)
    }
    assert members.height == len(want_members)
    assert got_members == want_members
    assert members["record_key"].to_list() == sorted(members["record_key"].to_list())
    got_households = {
        r["household_id"]: {k: v for k, v in r.items() if k != "household_id"}
        for r in households.iter_rows(named=True)
    }
    assert got_households == want_households
    assert Counter(findings.select("kind", "household_id", "member_key").rows()) == want_findings


@pytest.mark.parametrize("seed", range(12))
def test_the_keyed_roster_is_its_definition(seed):
    rows, ledger = _random_roster(random.Random(seed))
    staged = pl.DataFrame(rows, schema=ROSTER_SCHEMA)
    grid = pl.DataFrame(ledger, schema=GRID_SCHEMA)
    expected = _reference(rows, ledger)
    tables = build_roster(staged, grid)
    _compare(tables.members, tables.households, tables.findings, expected)

    # the warehouse's door: the same rows staged as a month, keyed and written there
    con = memory_warehouse()
    for table, frame in (("stg_roster", staged), ("stg_grid", grid)):
        con.register("_rows", frame)
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT 'd' AS district, '2026-10' AS month, * FROM _rows"
        )
        con.unregister("_rows")
    written = write_roster(con, "d", "2026-10", reuse=False)

    def table(name: str) -> pl.DataFrame:
        return con.sql(f"SELECT * EXCLUDE (district, month) FROM {name} ORDER BY rowid").pl()

    _compare(table("roster_members"), table("households"), table("roster_findings"), expected)
    assert written.members == len(expected[0])
