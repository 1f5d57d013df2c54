"""A household's place is the value most of its members give (computed only where they differ),
equally common values decided by the first member in record order, the head first: the same
every time."""

from __future__ import annotations

import random

import polars as pl

from pipelines.roster import HOUSEHOLD_PLACE, build_roster
from tests.test_roster import ROSTER_SCHEMA, grid


def _most_common(members: pl.DataFrame) -> pl.DataFrame:
    """What a clerk would write: per household, the value most members give (blanks aside);
    between equally common values, the first one in record order, the head's first."""
    out = []
    for (household,), rows in members.group_by("household_id", maintain_order=True):
        rows = rows.sort("record_key").sort("is_head", descending=True, maintain_order=True)
        chosen = {"household_id": household}
        for column in HOUSEHOLD_PLACE:
            values = [v for v in rows[column].to_list() if v is not None]
            counts = {v: values.count(v) for v in values}
            chosen[column] = (
                max(values, key=lambda v: (counts[v], -values.index(v))) if values else None
            )
        out.append(chosen)
    return pl.DataFrame(
        out, schema={"household_id": pl.String} | {c: pl.String for c in HOUSEHOLD_PLACE}
    )


def test_places_are_the_members_most_common_values():
    rng = random.Random(3)
    towns, villages = ["东桥镇", "孙岗镇", None], ["王岗村", "北山村", None]
    rows = []
    for h in range(400):
        size = rng.randint(1, 6)
        # most households agree; some differ, some have blanks, some tie
        town, village = rng.choice(towns[:2]), rng.choice(villages[:2])
        for m in range(size):
            mixed = rng.random() < 0.2
            rows.append(
                (f"r|{h}|{m}", f"H{h}", f"人{h}-{m}", f"人{h}-0", f"ID{h}-{m}", None, None,
                 "户主" if m == 0 else "子女",
                 rng.choice(towns) if mixed else town, rng.choice(villages) if mixed else village,
                 rng.choice(["一组", "二组", None]) if mixed else "一组",
                 "一组网格", rng.choice(["脱贫户", "一般农户"]) if mixed else "一般农户")
            )  # fmt: skip
    staged = pl.DataFrame(rows, schema=ROSTER_SCHEMA, orient="row")
    tables = build_roster(staged, grid([("东桥镇", "王岗村", "一组网格", "甲", "1")]))
    members = tables.members.drop("household_type").join(
        staged.select("record_key", "household_type"), on="record_key"
    )
    expected = _most_common(members).sort("household_id")
    got = tables.households.select("household_id", *HOUSEHOLD_PLACE).sort("household_id")
    assert got.equals(expected)
    # the same again: ties are broken the same way every time
    again = build_roster(staged, grid([("东桥镇", "王岗村", "一组网格", "甲", "1")]))
    assert again.households.equals(tables.households)
    assert got.filter(pl.col("township").is_null()).height < got.height
