"""Roster members and households: keys, heads, grid routing, reported data-quality findings."""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.roster import build_roster

ROSTER_SCHEMA = {
    "record_key": pl.String,
    "household_id": pl.String,
    "name": pl.String,
    "head_name": pl.String,
    "id_number": pl.String,
    "id_birth": pl.Date,
    "birth_date": pl.Date,
    "relation": pl.String,
    "township": pl.String,
    "village": pl.String,
    "group": pl.String,
    "grid": pl.String,
    "household_type": pl.String,
}


def roster(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ROSTER_SCHEMA, orient="row")


def grid(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"township": pl.String, "village": pl.String, "grid": pl.String,
                "worker_name": pl.String, "worker_phone": pl.String},
        orient="row",
    )  # fmt: skip


BIRTH = date(1980, 1, 1)


def routed(tables) -> dict[str, str | None]:
    """household_id -> the 网格员 its warnings go to."""
    return dict(tables.households.select("household_id", "worker_name").iter_rows())


def test_households_get_their_grid_worker_and_head():
    tables = build_roster(
        roster(
            [
                ("r|2", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "东桥镇", "王岗村", "一组", "一组 网格", "脱贫户"),
                ("r|3", "H1", "李四", "张三", "A2", BIRTH, date(1982, 2, 2), "配偶", "东桥镇", "王岗村", "一组", "一组 网格", "脱贫户"),
                ("r|4", "H2", "王五", "王五", None, None, None, "户主", "东桥镇", "王岗村", "二组", "二组网格", "一般农户"),
            ]
        ),
        grid([("东桥镇", "王岗村", "一组网格", "网格员甲", "13800000001")]),
    )  # fmt: skip
    households = {r["household_id"]: r for r in tables.households.iter_rows(named=True)}
    assert households["H1"]["worker_name"] == "网格员甲"  # whitespace in 网格 ignored
    assert households["H1"]["head_name"] == "张三"
    assert households["H1"]["head_member_key"] == "H1|A1"
    assert households["H2"]["worker_name"] is None
    members = {r["member_key"]: r for r in tables.members.iter_rows(named=True)}
    assert set(members) == {"H1|A1", "H1|A2", "H2|王五"}  # no ID: keyed by name within household
    assert members["H1|A1"]["birth_date"] == BIRTH  # from the ID when the roster has none
    assert members["H1|A2"]["birth_date"] == date(1982, 2, 2)
    assert members["H1|A1"]["is_head"] and not members["H1|A2"]["is_head"]
    findings = tables.findings
    assert findings.filter(pl.col("kind") == "农户无网格台账")["household_id"].to_list() == ["H2"]


def test_duplicate_ids_are_reported_not_resolved():
    tables = build_roster(
        roster(
            [
                ("r|2", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "组", "网", "一般农户"),
                ("r|3", "H2", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "组", "网", "一般农户"),
                ("r|4", "H2", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "组", "网", "一般农户"),
            ]
        ),
        grid([("镇", "村", "网", "甲", "1")]),
    )  # fmt: skip
    kinds = tables.findings.group_by("kind").len()
    counts = dict(kinds.iter_rows())
    assert counts["花名册证件号码重复"] == 2  # both households keep their member
    assert counts["同户重复成员"] == 1
    assert tables.members.height == 2


def test_grid_keys_ignore_spaces_and_read_a_grid_as_a_person_does_and_two_workers_are_none():
    """Grid names joined as a person reads them: spaces of every kind, 网格 after the name,
    第 or 村民 before it, its number in digits (三组网格 in the roster is 3组, 第三组 in the
    ledger; a probe district's ledgers so written had routed 8 warnings to nobody). A grid the
    ledger lists twice with two workers (the one who left and the one who came; a workbook
    copied from the next village) has no one worker: none is guessed (the first had stood, and
    on a probe district 姚岗村's warnings went to 储店村's worker), and it is a finding."""
    tables = build_roster(
        roster(
            [
                ("r|1", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "东桥镇", "王岗村", "一组", "一组\u00a0网格", "一般农户"),
                ("r|2", "H2", "李四", "李四", "A2", BIRTH, None, "户主", "东桥镇", "北山村", "二组", "二组\u3000网格", "一般农户"),
                ("r|3", "H3", "王五", "王五", "A3", BIRTH, None, None, "东桥镇", "北山村", "三组", "三组\t网格", "一般农户"),
                ("r|4", "H4", "赵六", "赵六", "A4", BIRTH, None, "户主", "东桥镇", "北山村", "四组", "四组网格", "一般农户"),
                ("r|5", "H5", "钱七", "钱七", "A5", BIRTH, None, "户主", "东桥镇", "北山村", "五组", "村民五组", "一般农户"),
            ]
        ),
        grid(
            [
                ("东桥镇", "王岗村", "一组网格", "网格员甲", "1"),
                ("东桥镇", "王岗村", "一组 网格", "网格员乙", "2"),  # listed again, another worker
                ("东桥镇 ", "北山村", "二组网格", "网格员丙", "3"),
                ("东桥镇", "北山村", "3组", "网格员丁", "4"),
                ("东桥镇", "北山村", "第四组", "网格员戊", None),
                ("东桥镇", "北山村", "四组网格", "网格员戊", "5"),  # the same worker again
                ("东桥镇", "北山村", "五组", "网格员己", "6"),
            ]
        ),
    )  # fmt: skip
    workers = {r[0]: r[1:] for r in tables.households.select(
        "household_id", "worker_name", "worker_phone").iter_rows()}  # fmt: skip
    assert workers == {"H1": (None, None), "H2": ("网格员丙", "3"), "H3": ("网格员丁", "4"),
                       "H4": ("网格员戊", "5"), "H5": ("网格员己", "6")}  # fmt: skip
    heads = dict(tables.members.select("member_key", "is_head").iter_rows())
    assert heads["H3|A3"]  # no relation given: the head by the household's head name
    assert tables.findings.filter(pl.col("kind") == "农户无网格台账").is_empty()
    two = tables.findings.filter(pl.col("kind") == "网格员不唯一")
    assert two["household_id"].to_list() == ["H1"]


def test_a_ledger_naming_its_village_only_routes_where_the_village_is_the_districts_only_one():
    """A ledger titled 北山村防止返贫…台账 gives no 乡镇: its grids are the roster's 北山村's
    when one township has a village so named; 王岗村 of two townships is not guessed."""
    tables = build_roster(
        roster(
            [
                ("r|1", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "东桥镇", "北山村", "一组", "一组网格", "一般农户"),
                ("r|2", "H2", "李四", "李四", "A2", BIRTH, None, "户主", "东桥镇", "王岗村", "一组", "一组网格", "一般农户"),
                ("r|3", "H3", "王五", "王五", "A3", BIRTH, None, "户主", "城北镇", "王岗村", "一组", "一组网格", "一般农户"),
            ]
        ),
        grid([(None, "北山村", "一组网格", "网格员甲", "1"), (None, "王岗村", "一组网格", "网格员乙", "2")]),
    )  # fmt: skip
    workers = routed(tables)
    assert workers == {"H1": "网格员甲", "H2": None, "H3": None}
    unrouted = tables.findings.filter(pl.col("kind") == "农户无网格台账")
    assert sorted(unrouted["household_id"]) == ["H2", "H3"]


def test_a_flat_ledgers_places_are_read_as_a_departments_are():
    """The flat ledger's 乡镇 and 村 cells, written as clerks write them (the district before the
    township, the committee after the village, the township before it), are the roster's places
    (README: 金安区东桥镇 → 东桥镇, 马集村委会 → 马集村, 三十铺镇北山村 → 北山村). An independent
    probe's three flat ledgers so written had left 12 warnings without 网格员. A name two of the
    roster's places fit (王岗 for 王岗村 and 王岗社区) is not guessed."""
    tables = build_roster(
        roster(
            [
                ("r|1", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "东桥镇", "马集村", "一组", "一组", "一般农户"),
                ("r|2", "H2", "李四", "李四", "A2", BIRTH, None, "户主", "东桥镇", "石板村", "三组", "三组", "一般农户"),
                ("r|3", "H3", "王五", "王五", "A3", BIRTH, None, "户主", "先生店镇", "柏树村", "一组", "一组", "一般农户"),
                ("r|4", "H4", "赵六", "赵六", "A4", BIRTH, None, "户主", "先生店镇", "柏树村", "二组", "二组", "一般农户"),
                ("r|5", "H5", "钱七", "钱七", "A5", BIRTH, None, "户主", "城北镇", "王岗村", "一组", "一组", "一般农户"),
                ("r|6", "H6", "孙八", "孙八", "A6", BIRTH, None, "户主", "城北镇", "王岗社区", "一组", "一组", "一般农户"),
            ]
        ),
        grid(
            [
                ("东桥镇", "马集村委会", "一组", "网格员甲", "1"),
                ("金安区东桥镇", "石板村", "三组", "网格员乙", "2"),
                ("先生店镇", "先生店镇柏树村", "一组", "网格员丙", "3"),
                ("先生店镇", "柏树村村委会", "二组", "网格员丁", "4"),
                ("城北镇", "王岗", "一组", "网格员戊", "5"),
            ]
        ),
    )  # fmt: skip
    workers = routed(tables)
    assert workers == {
        "H1": "网格员甲", "H2": "网格员乙", "H3": "网格员丙", "H4": "网格员丁", "H5": None, "H6": None
    }  # fmt: skip
    # the places of the households are the roster's, as written there
    places = tables.households.select("household_id", "township", "village").rows()
    assert ("H2", "东桥镇", "石板村") in places and ("H3", "先生店镇", "柏树村") in places
    unrouted = tables.findings.filter(pl.col("kind") == "农户无网格台账")
    assert sorted(unrouted["household_id"]) == ["H5", "H6"]


def test_a_member_given_twice_keeps_the_row_that_sorts_first():
    # record keys sort as text ("r|10" before "r|9"), as they did when the roster was keyed
    tables = build_roster(
        roster(
            [
                ("r|9", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "组", "网", "脱贫户"),
                ("r|10", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "组", "网", "一般农户"),
                ("r|11", "H1", "李四", "张三", None, None, None, None, "镇", "村", "组", "网", None),
            ]
        ),
        grid([("镇", "村", "网", "甲", "1")]),
    )  # fmt: skip
    members = {r["member_key"]: r for r in tables.members.iter_rows(named=True)}
    assert members["H1|A1"]["record_key"] == "r|10"
    assert members["H1|A1"]["household_type"] == "一般农户"
    # a member without a type takes the household's: the value its members give
    assert members["H1|李四"]["household_type"] == "一般农户"
    assert tables.members["record_key"].to_list() == ["r|10", "r|11"]
    duplicate = tables.findings.filter(pl.col("kind") == "同户重复成员")
    assert duplicate.select("household_id", "member_key").rows() == [("H1", "H1|A1")]


def test_namesakes_without_ids_are_told_apart_by_birth_and_destroyed_ids_reported():
    """A roster whose IDs Excel destroyed (saved "as shown": 3.41502E+17) keys its members by
    name; a grandson named after his father is still a member of his own (his birth date tells
    them apart), true repeats still collapse, and every destroyed ID is reported."""
    rows = [
        ("r|1", "H1", "汪家宝", "汪家宝", None, None, date(1962, 10, 26), "户主"),
        ("r|2", "H1", "汪宇航", "汪家宝", None, None, date(1994, 5, 18), "之子"),
        ("r|3", "H1", "汪宇航", "汪家宝", None, None, date(2024, 1, 8), "之孙子"),
        ("r|4", "H2", "李四", "李四", None, None, BIRTH, "户主"),
        ("r|5", "H2", "李四", "李四", None, None, BIRTH, "户主"),  # the same row twice
        ("r|6", "H2", "李娜", "李四", "ID6", BIRTH, None, "之女"),
    ]
    frame = roster([(*r, "镇", "村", "组", "网", "脱贫户") for r in rows]).with_columns(
        id_status=pl.Series(["destroyed"] * 5 + ["valid"]),
    )
    tables = build_roster(frame, grid([("镇", "村", "网", "甲", "1")]))
    keys = tables.members["member_key"].to_list()
    assert keys == [
        "H1|汪家宝",
        "H1|汪宇航|1994-05-18",
        "H1|汪宇航|2024-01-08",
        "H2|李四",
        "H2|ID6",
    ]
    findings = tables.findings.group_by("kind").agg(pl.col("member_key").sort())
    found = dict(findings.iter_rows())
    assert found["同户重复成员"] == ["H2|李四"]
    assert found["花名册证件号码被Excel改写"] == [
        "H1|汪宇航|1994-05-18", "H1|汪宇航|2024-01-08", "H1|汪家宝", "H2|李四"
    ]  # fmt: skip


def _earlier(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"member_key": pl.String, "household_id": pl.String, "name": pl.String,
                "birth_date": pl.Date},
        orient="row",
    )  # fmt: skip


def test_members_keep_the_keys_last_months_roster_gave_them():
    """A roster whose IDs Excel destroyed one month keyed its members by name; the next month's
    intact roster keys them by ID. Each member keeps the key they had (their warnings continue,
    their answers still apply), both ways; a namesake is never taken for them."""
    old, young = date(1950, 3, 1), date(2026, 1, 8)
    earlier = _earlier([
        ("H1|张三", "H1", "张三", BIRTH),  # keyed by name: its ID was destroyed
        ("H1|ID2", "H1", "李四", date(1985, 1, 1)),  # keyed by ID, destroyed this month
        ("H1|ID3", "H1", "王五", date(1990, 1, 1)),  # keyed by ID both months
        ("H2|赵六", "H2", "赵六", old),  # keyed by name; a grandson of his name is born
        ("H3|周九", "H3", "周九", None),  # one earlier member for two now: not told apart
        ("H4|钱八", "H4", "钱八", BIRTH),  # moved to another household: not followed
    ])  # fmt: skip
    rows = [
        ("r|1", "H1", "张三", "张三", "ID1", BIRTH, BIRTH, "户主"),
        ("r|2", "H1", "李四", "张三", None, None, date(1985, 1, 1), "配偶"),
        ("r|3", "H1", "王五", "张三", "ID3", None, date(1990, 1, 1), "之子"),
        ("r|4", "H1", "孙七", "张三", "ID4", None, date(2020, 1, 1), "之孙子"),  # new
        ("r|5", "H2", "赵六", "赵六", "ID5", old, old, "户主"),
        ("r|6", "H2", "赵六", "赵六", None, None, young, "之孙子"),
        ("r|7", "H3", "周九", "周九", "ID7", None, date(1970, 1, 1), "户主"),
        ("r|8", "H3", "周九", "周九", "ID8", None, date(1995, 1, 1), "之子"),
        ("r|9", "H5", "钱八", "钱八", "ID9", None, BIRTH, "户主"),
    ]
    frame = roster([(*r, "镇", "村", "组", "网", "脱贫户") for r in rows])
    tables = build_roster(frame, grid([("镇", "村", "网", "甲", "1")]), earlier)
    keys = dict(zip(tables.members["record_key"], tables.members["member_key"], strict=True))
    assert keys == {
        "r|1": "H1|张三",  # now with an ID, still the member the name key named
        "r|2": "H1|ID2",  # now without one, still the member the ID key named
        "r|3": "H1|ID3",
        "r|4": "H1|ID4",
        "r|5": "H2|赵六",  # the grandfather keeps his key
        "r|6": "H2|赵六|2026-01-08",  # his namesake grandson is someone else
        "r|7": "H3|ID7",
        "r|8": "H3|ID8",
        "r|9": "H5|ID9",
    }
    heads = dict(
        zip(tables.households["household_id"], tables.households["head_member_key"], strict=True)
    )
    assert heads["H1"] == "H1|张三" and heads["H2"] == "H2|赵六"
    # without an earlier roster the keys are the month's own
    fresh = build_roster(frame, grid([("镇", "村", "网", "甲", "1")]))
    assert fresh.members["member_key"].to_list()[:2] == ["H1|ID1", "H1|李四"]


def test_a_head_written_as_rosters_write_it_is_the_head_and_an_untyped_household_is_a_finding():
    """与户主关系 of the head written 户 主, 户主（本人）, 家长 (a probe roster written from the
    contract): each had made the household headless, and a headless household's name-only ties
    (住建, 应急, 水利 lists) cannot be settled between namesakes. A household whose members' 户类型
    are all blank or unreadable is kept (contract §2) and reported: no 重点 rule can tell."""
    tables = build_roster(
        roster(
            [
                ("r|2", "H1", "张三", "张三", "A1", BIRTH, None, "户 主", "东桥镇", "王岗村", "一组", "一组网格", "脱贫户"),
                ("r|3", "H1", "李四", "张三", "A2", BIRTH, None, "妻", "东桥镇", "王岗村", "一组", "一组网格", "脱贫户"),
                ("r|4", "H2", "王五", "王五", "A3", BIRTH, None, "户主（本人）", "东桥镇", "王岗村", "二组", "一组网格", None),
                ("r|5", "H2", "王六", "王五", "A4", BIRTH, None, "之子", "东桥镇", "王岗村", "二组", "一组网格", None),
                ("r|6", "H3", "赵七", "赵七", "A5", BIRTH, None, "家长", "东桥镇", "王岗村", "二组", "一组网格", "一般农户"),
                ("r|7", "H3", "赵八", "赵七", "A6", BIRTH, None, "户主之子", "东桥镇", "王岗村", "二组", "一组网格", None),
            ]
        ),
        grid([("东桥镇", "王岗村", "一组网格", "网格员甲", "13800000001")]),
    )  # fmt: skip
    heads = dict(tables.members.select("member_key", "is_head").iter_rows())
    assert heads == {"H1|A1": True, "H1|A2": False, "H2|A3": True, "H2|A4": False,
                     "H3|A5": True, "H3|A6": False}  # fmt: skip
    types = dict(tables.households.select("household_id", "household_type").iter_rows())
    assert types == {"H1": "脱贫户", "H2": None, "H3": "一般农户"}  # H3 from the member who says
    untyped = tables.findings.filter(pl.col("kind") == "户类型无法识别")
    assert untyped["household_id"].to_list() == ["H2"]


def test_a_household_written_in_two_townships_is_a_finding_naming_both():
    """A probe's household listed in two townships' roster files under one 户编号: its copy in
    the second file was dropped as a repeated member without a word on the places, and which
    township got its warnings depended on how the files sorted."""
    tables = build_roster(
        roster(
            [
                ("r|1", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "东桥镇", "王岗村", "组", "网", "脱贫户"),
                ("r|2", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "木厂镇", "桂花村", "组", "网", "脱贫户"),
                ("r|3", "H2", "李四", "李四", "A2", BIRTH, None, "户主", "东桥镇", "王岗村", "组", "网", "脱贫户"),
            ]
        ),
        grid([("东桥镇", "王岗村", "网", "甲", "1")]),
    )  # fmt: skip
    split = tables.findings.filter(pl.col("kind") == "同户分属不同乡镇或村")
    assert split.select("household_id", "member_key").rows() == [("H1", "H1|A1")]
    assert split["detail"][0].endswith("：东桥镇王岗村 / 木厂镇桂花村")


def test_a_member_without_a_usable_id_is_a_finding_the_district_sees():
    """A roster member whose 证件号码 is blank or fails its check is kept (known by name and
    birth date) and reported: an independent probe's 武国强 (脱贫户, ID cell empty) was kept with
    no word anywhere. A destroyed ID keeps its own finding."""
    statuses = {"A1": "valid", None: "missing", "B2": "bad_checksum", "C3": "destroyed"}
    frame = roster(
        [
            ("r|1", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "组", "网", "脱贫户"),
            ("r|2", "H1", "武国强", "张三", None, None, BIRTH, "之子", "镇", "村", "组", "网", "脱贫户"),
            ("r|3", "H2", "李四", "李四", "B2", None, None, "户主", "镇", "村", "组", "网", "一般农户"),
            ("r|4", "H3", "王五", "王五", "C3", None, None, "户主", "镇", "村", "组", "网", "一般农户"),
        ]
    ).with_columns(pl.col("id_number").replace_strict(statuses, default="missing").alias("id_status"))  # fmt: skip
    tables = build_roster(frame, grid([("镇", "村", "网", "甲", "1")]))
    kinds = dict(tables.findings.group_by("kind").agg(pl.col("member_key").sort()).iter_rows())
    assert kinds == {
        "花名册证件号码缺失或有误": ["H1|武国强", "H2|B2"],
        "花名册证件号码被Excel改写": ["H3|C3"],
    }


def test_a_birth_date_the_id_contradicts_is_a_finding():
    """indep41: the roster said 赵金建 was 66, his ID 51; ages are the roster's (contract §4), so
    his RS01 was not raised, and the district was told nothing. The contradiction is a finding;
    a roster date written to its month only is compared by its month."""
    born = date(1975, 3, 8)
    frame = roster(
        [
            ("r|1", "H1", "赵金建", "赵金建", "A1", born, date(1960, 3, 8), "户主", "镇", "村", "组", "网", "一般农户"),
            ("r|2", "H1", "赵一", "赵金建", "A2", born, born, "之子", "镇", "村", "组", "网", "一般农户"),
            ("r|3", "H1", "赵二", "赵金建", "A3", born, date(1975, 3, 1), "之女", "镇", "村", "组", "网", "一般农户"),
            ("r|4", "H1", "赵三", "赵金建", None, None, date(1999, 1, 1), "之女", "镇", "村", "组", "网", "一般农户"),
        ]
    ).with_columns(birth_date_month_only=pl.Series([False, False, True, False]))  # fmt: skip
    tables = build_roster(frame, grid([("镇", "村", "网", "甲", "1")]))
    conflicts = tables.findings.filter(pl.col("kind") == "出生日期与证件号码不符")
    assert conflicts["member_key"].to_list() == ["H1|A1"]


def test_a_grid_the_ledger_lists_without_a_worker_is_named_so_not_as_missing():
    """The ledger lists 四组 with its 村组网格员 blank: the household has no 网格员, and the
    district is told the ledger's row is empty, not that the grid is missing from the ledger."""
    tables = build_roster(
        roster(
            [
                ("r|1", "H1", "张三", "张三", "A1", BIRTH, None, "户主", "镇", "村", "四组", "四组", "脱贫户"),
                ("r|2", "H2", "李四", "李四", "A2", BIRTH, None, "户主", "镇", "村", "五组", "五组", "脱贫户"),
            ]
        ),
        grid([("镇", "村", "四组", None, None)]),
    )  # fmt: skip
    kinds = dict(tables.findings.select("household_id", "kind").iter_rows())
    assert kinds == {"H1": "网格无网格员", "H2": "农户无网格台账"}


def test_a_ledger_row_for_several_groups_is_each_groups_worker():
    """一、二组 in the ledger while the roster keeps 一组 and 二组 apart: a person reads the row's
    worker as the worker of both (an independent probe's 6 households had gone without one).
    1、3组 and 五组、六组 alike; 十二组 is one group; a group the ledger also lists with another
    worker has two, and none is guessed."""
    rows = [
        ("H1", "一组"), ("H2", "二组"), ("H3", "三组"), ("H4", "一组网格"),
        ("H5", "五组"), ("H6", "六组"), ("H7", "十二组"), ("H8", "七组"),
    ]  # fmt: skip
    tables = build_roster(
        roster(
            [
                (f"r|{n}", household, f"人{n}", f"人{n}", f"A{n}", BIRTH, None, "户主", "镇",
                 "村", grid_name, grid_name, "一般农户")
                for n, (household, grid_name) in enumerate(rows)
            ]
        ),
        grid(
            [
                ("镇", "村", "一、二组", "网格员甲", "1"),
                ("镇", "村", "1、3组", "网格员甲", "1"),
                ("镇", "村", "五组、六组", "网格员乙", "2"),
                ("镇", "村", "十二组", "网格员丙", "3"),
                ("镇", "村", "六组", "网格员丁", "4"),
            ]
        ),
    )  # fmt: skip
    workers = routed(tables)
    assert workers == {
        "H1": "网格员甲", "H2": "网格员甲", "H3": "网格员甲", "H4": "网格员甲",
        "H5": "网格员乙", "H6": None, "H7": "网格员丙", "H8": None,
    }  # fmt: skip
    two = tables.findings.filter(pl.col("kind") == "网格员不唯一")
    assert two["household_id"].to_list() == ["H6"]
