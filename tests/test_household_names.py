"""A household-level list's 户主 cell as the matcher reads it (linkage.household_name_sql)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.linkage import household_name_sql


@pytest.mark.parametrize(
    ("name", "raw", "searched"),
    [
        ("王强", "王强", "王强"),
        ("王强户", "王强户", "王强"),  # the household written around its head's name
        ("户主王强", "户主王强", "王强"),
        ("户主:王强", "户主：王强", "王强"),
        ("王户", "王户", "王户"),  # two characters: a name, not a suffix
        ("王芳", "王芳（户主之妻）", "王芳"),  # the member's relation: the member
        # someone acting for the household names no one of it: left as written, tied to nobody
        ("王波", "王波(代)", "王波(代)"),
        ("魏强", "魏强（村民组长）", "魏强（村民组长）"),
        ("赵文", "赵文（村干部代报）", "赵文（村干部代报）"),
        (None, None, None),
    ],
)
def test_household_name(name: str | None, raw: str | None, searched: str | None) -> None:
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {household_name_sql()} FROM (SELECT ?::VARCHAR AS name, ?::VARCHAR AS name_raw)",
        [name, raw],
    ).fetchall()
    assert got == [(searched,)]
