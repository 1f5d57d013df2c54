"""Department place names mapped onto the roster's own spelling, never guessed."""

from __future__ import annotations

import polars as pl

from pipelines.matching.places import canonical_places

ROSTER = pl.DataFrame(
    {
        "township": ["东桥镇", "东桥镇", "三里桥街道", "木厂镇", "东河口镇"],
        "village": ["王岗村", "马集村", "桂花社区", "桂花村", "王岗村"],
    }
)


def test_department_spellings_map_to_roster_names():
    records = pl.DataFrame(
        {
            "record_key": list("abcdefg"),
            "township": [
                "东桥",
                "金安区东桥镇",
                "三里桥",
                "六安市金安区木厂镇",
                "东桥镇",
                "西乡",
                None,
            ],
            "village": ["王岗", "马集村委会", "桂花", "桂花 村", "不存在村", "王岗村", "王岗村"],
        }
    )
    out = canonical_places(records, ROSTER)
    assert out["township"].to_list() == [
        "东桥镇",
        "东桥镇",
        "三里桥街道",
        "木厂镇",
        "东桥镇",
        "西乡",
        None,
    ]
    assert out["village"].to_list() == [
        "王岗村",
        "马集村",
        "桂花社区",
        "桂花村",
        "不存在村",
        "王岗村",
        "王岗村",
    ]
    assert out.columns == records.columns


def test_ambiguous_keys_are_left_alone():
    roster = pl.DataFrame({"township": ["东桥镇", "东桥乡"], "village": ["甲村", "甲村"]})
    records = pl.DataFrame({"record_key": ["a"], "township": ["东桥"], "village": ["甲"]})
    out = canonical_places(records, roster)
    assert out.row(0) == ("a", "东桥", "甲")


def test_match_input_gets_roster_spellings_in_duckdb():
    import duckdb

    from pipelines.linkage import canonicalise_places

    con = duckdb.connect()
    # roster_input as prepare_match_views makes it: each member's 村民组 beside the village
    con.register("_r", ROSTER.with_columns(group=pl.lit("王岗组")))
    con.execute("CREATE TEMP TABLE roster_input AS SELECT * FROM _r")
    records = pl.DataFrame(
        {
            "record_key": ["a", "b", "c", "d"],
            "township": ["东桥", "东桥镇", None, "东桥镇"],
            "village": ["王岗", "马集村", "x", "马集村王岗组"],
        }
    )
    con.register("_m", records)
    con.execute("CREATE TEMP TABLE match_input AS SELECT * FROM _m")
    canonicalise_places(con)
    out = con.sql("SELECT * FROM match_input ORDER BY record_key").pl()
    assert out.rows() == [
        ("a", "东桥镇", "王岗村"),
        ("b", "东桥镇", "马集村"),
        ("c", None, "x"),
        ("d", "东桥镇", "马集村"),  # its group, by the roster's name
    ]


def _village_cells(township: str, cells: list[str]) -> pl.DataFrame:
    """Records of one township written with these 村 cells, keyed 0, 1, 2…"""
    return pl.DataFrame(
        {
            "record_key": [str(n) for n in range(len(cells))],
            "township": [township] * len(cells),
            "village": cells,
        }
    )


def test_a_village_cell_with_its_address_or_group_around_the_name_is_that_village():
    """Hand-made lists (住建, 应急, 水利: IDs often blank, matched by name and place) write the 村
    cell with its township before it or its 组 after it; such records went unmatched, and on a
    5,000-member district 9 of 98 warnings (ZJ01, YJ01, SL01) were lost."""
    roster = pl.DataFrame(
        {
            "township": ["三十铺镇", "三十铺镇", "三十铺镇", "东桥镇"],
            "village": ["北山村", "山村", "南岗社区", "马集村"],
        }
    )
    written = {
        "三十铺镇北山村": "北山村",
        "金安区三十铺镇北山村委会": "北山村",
        "北山村三组": "北山村",
        "北山村第3村民组": "北山村",
        "北山村村委会": "北山村",
        "南岗社区居委会": "南岗社区",
        "山村一组": "山村",  # not 北山村: the cell holds nothing before 山村
        "东北山村": "东北山村",  # another name: left as written
        "北山村东头": "北山村东头",  # not a committee or a 组
        "马集村二组": "马集村二组",  # a village of another township
    }
    records = _village_cells("三十铺", list(written))
    out = canonical_places(records, roster)
    assert out["village"].to_list() == list(written.values())
    assert set(out["township"]) == {"三十铺镇"}


def test_a_village_cell_naming_two_villages_is_not_guessed():
    roster = pl.DataFrame({"township": ["东桥镇", "东桥镇"], "village": ["王岗村", "马集村"]})
    records = pl.DataFrame(
        {"record_key": ["a"], "township": ["东桥镇"], "village": ["东桥镇王岗村马集村"]}
    )
    assert canonical_places(records, roster)["village"].to_list() == ["东桥镇王岗村马集村"]


def test_a_list_without_a_township_column_names_it_in_the_village_cell():
    """A 住建 list with only a 村 column holding 三十铺镇北山村: the township and village it names,
    where exactly one roster place fits (a village name both townships have needs the township)."""
    roster = pl.DataFrame(
        {
            "township": ["三十铺镇", "三十铺镇", "东桥镇", "东桥镇"],
            "village": ["北山村", "王岗村", "北山村", "马集村"],
        }
    )
    cells = ["三十铺镇北山村", "金安区东桥镇北山村三组", "马集村", "东桥马集村", "北山村"]
    records = pl.DataFrame(
        {"record_key": list("abcde"), "township": [None] * 5, "village": cells},
        schema={"record_key": pl.String, "township": pl.String, "village": pl.String},
    )
    out = canonical_places(records, roster)
    assert out.select("township", "village").rows() == [
        ("三十铺镇", "北山村"),
        ("东桥镇", "北山村"),
        (None, "马集村"),  # no township written: as before (the matcher's name pass decides)
        (None, "东桥马集村"),  # 东桥 is not the township's name as the roster writes it
        (None, "北山村"),
    ]


def test_a_village_cell_naming_one_of_its_groups_by_name_is_that_village():
    """A 村 cell with a group the roster's 村民组 column names (北山村王岗组: natural-village groups
    have names, not numbers), after the committee too, and a numbered group in full-width digits
    (北山村３组) are that village. A group the roster does not have there stays as written. On the
    100,000-member wild district such cells were left unread and their records (IDs often blank)
    matched by name alone or not at all."""
    roster = pl.DataFrame(
        {
            "township": ["三十铺镇", "三十铺镇", "三十铺镇", "东桥镇"],
            "village": ["北山村", "北山村", "南岗村", "马集村"],
            "group": ["王岗组", "李庄组", "王岗组", "张湾组"],
        }
    )
    written = {
        "北山村王岗组": "北山村",
        "北山村李庄组": "北山村",
        "北山村委会李庄组": "北山村",
        "北山村３组": "北山村",
        "北山村 王岗组": "北山村",
        "南岗村王岗组": "南岗村",
        "北山村张湾组": "北山村张湾组",  # 张湾组 is 马集村's, not 北山村's
        "北山村王岗": "北山村王岗",  # not a group
    }
    records = _village_cells("三十铺镇", list(written))
    out = canonical_places(records, roster)
    assert out["village"].to_list() == list(written.values())
    # without the groups (a caller passing only township and village) the named groups stay
    named = canonical_places(records, roster.drop("group"))["village"].to_list()
    assert named[:3] == ["北山村王岗组", "北山村李庄组", "北山村委会李庄组"]
    assert named[3] == "北山村"  # a numbered group needs no roster


def test_place_cells_as_clerks_write_them_name_the_roster_place():
    """Probe pl_pos (5,000-member district, 211 rows without an ID, 乡镇/村 rewritten): 65 records
    went unmatched, 6 ZJ01/YJ01 were lost and 19 enrolled monitored members got YB02, for a 乡镇
    written 三里桥街道办 or 城北镇人民政府, a 乡镇 cell holding its village (孙岗镇潘冲村, the 村 cell
    blank or repeating it), 许畈村委, a 组 after a dash or in brackets, 许畈一组."""
    roster = pl.DataFrame(
        {
            "township": ["三里桥街道", "城北镇", "孙岗镇", "孙岗镇", "城北镇", "东桥镇"],
            "village": ["潘岗村", "许畈村", "潘冲村", "山村", "北山村", "北山村"],
            "group": ["一组", "一组", "五畈组", "一组", "王岗组", "一组"],
        }
    )
    rows = [
        ("三里桥街道办", "潘岗村", "三里桥街道", "潘岗村"),
        ("城北镇人民政府", "许畈村", "城北镇", "许畈村"),
        ("孙岗镇潘冲村", None, "孙岗镇", "潘冲村"),
        ("孙岗镇潘冲村", "潘冲村", "孙岗镇", "潘冲村"),
        ("孙岗镇潘冲村", "山村", "孙岗镇潘冲村", "山村"),  # two villages named: no guess
        ("城北镇", "许畈村委", "城北镇", "许畈村"),
        ("城北镇", "许畈村-一组", "城北镇", "许畈村"),
        ("城北镇", "许畈村（一组）", "城北镇", "许畈村"),
        ("城北镇", "许畈一组", "城北镇", "许畈村"),
        ("孙岗镇", "潘冲五畈组", "孙岗镇", "潘冲村"),
        ("孙岗镇", "山一组", "孙岗镇", "山一组"),  # 山 alone is too short to be 山村
        ("城北镇", "东许畈一组", "城北镇", "东许畈一组"),  # another name
        ("城北镇", "许畈", "城北镇", "许畈村"),
        # no township: the village named alone, its township left to the matcher (two have it)
        (None, "北山村王岗组", None, "北山村"),
        (None, "北山村一组", None, "北山村"),
    ]
    records = pl.DataFrame(
        {
            "record_key": [str(i) for i in range(len(rows))],
            "township": [r[0] for r in rows],
            "village": [r[1] for r in rows],
        },
        schema={"record_key": pl.String, "township": pl.String, "village": pl.String},
    )
    out = canonical_places(records, roster)
    assert out.select("township", "village").rows() == [(r[2], r[3]) for r in rows]


def test_the_rosters_own_places_are_read_as_a_person_reads_them(tmp_path):
    """The roster names the district's places: a 乡镇 cell with the district before it
    (金安区东桥镇) is 东桥镇, a 村 cell with the committee after the name (北山村村委会, 北山村委会,
    城西社区居委会) is the village. An independent probe's household so written had its warning
    in a file of its own, 金安区东桥镇.csv, without 网格员, and a 村委会 cell lost a red ZJ01.
    Names that only look so are kept: 城区街道, 新区街道, 东北山村, 村委会 alone."""
    from pipelines.config import DataDir
    from pipelines.matching.places import plain_places, without_committee, without_county
    from pipelines.sources import ROSTER
    from pipelines.staging import stage_snapshot

    assert without_county("金安区东桥镇") == "东桥镇"
    assert without_county("六安市金安区木厂镇") == "木厂镇"
    assert [without_county(t) for t in ("城区街道", "新区街道", "东桥镇", None)] == [
        "城区街道", "新区街道", "东桥镇", None
    ]  # fmt: skip
    read = [without_committee(v) for v in ("北山村村委会", "北山村委会", "北山村民委员会",
                                           "城西社区居委会", "北山村", "东北山村", "村委会", None)]  # fmt: skip
    assert read == ["北山村", "北山村", "北山村", "城西社区", "北山村", "东北山村", "村委会", None]
    frame = pl.DataFrame(
        {"township": ["金安区东桥镇", "东桥镇"], "village": ["北山村村委会", "北山村"]}
    )
    assert plain_places(frame).rows() == [("东桥镇", "北山村"), ("东桥镇", "北山村")]

    folder = tmp_path / "raw" / "2026-10" / "roster"
    folder.mkdir(parents=True)
    header = "乡镇,村,村民组,网格,户编号,户主姓名,姓名,证件号码,与户主关系,户类型"
    rows = [
        "东桥镇,北山村,一组,一组,H1,张三,张三,341502198001010016,户主,脱贫户",
        "金安区东桥镇,北山村村委会,一组,一组,H2,李四,李四,341502198002020018,户主,一般农户",
    ]
    (folder / "东桥镇花名册.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    staged = stage_snapshot(DataDir(tmp_path), ROSTER, "2026-10").staged.records
    assert staged.select("township", "village").unique().rows() == [("东桥镇", "北山村")]
