"""The source registry: aliases, required fields, and the spellings departments use for values."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from pipelines.ingest.parse import parse_enum
from pipelines.sources import DEPARTMENT_SOURCES, SOURCES, FieldType, normalise_header


def test_every_synonym_names_an_allowed_value():
    for source in SOURCES.values():
        for field in source.fields:
            # a 是/否 field's own words read as 是 or 否 (房屋倒塌: 倒塌 is 是)
            allowed = ("是", "否") if field.type is FieldType.YESNO else field.allowed
            for written, value in field.synonyms:
                assert value in allowed, (source.key, field.name, written)


def test_department_spellings_become_the_contracts_values():
    cases = {
        ("education", "stage"): (
            ["本科", " 普高 ", "高职", "小学"],
            ["高校", "高中", "高校", "小学"],
        ),
        ("roster", "household_type"): (
            ["普通农户", "脱贫户", "边缘易致贫户", "突发严重困难户", "一般户", "建档立卡脱贫户"],
            ["一般农户", "脱贫户", "监测户", "监测户", "一般农户", "脱贫户"],
        ),
        ("civil_affairs", "assistance_type"): (
            [
                "农村低保",
                "特困供养",
                "低保户",
                "特困供养人员",
                "临时性救助",
                "分散特困",
                "集中特困",
                "特困人员（分散供养）",
                "五保户",
                "城市低保",
            ],
            ["低保", "特困", "低保", "特困", "临时救助", "特困", "特困", "特困", "特困", "低保"],
        ),
        ("civil_affairs", "change_type"): (["注销", "退出（死亡）"], ["退出", "退出"]),
        ("disability", "disability_level"): (
            ["1级", "二级", "壹级", "Ⅲ级", "四", "二级（重度）"],
            ["一级", "二级", "一级", "三级", "四级", "二级"],
        ),
        ("housing", "grade"): (["c级", "D", "C级危房", "D级（危房）"], ["C", "D", "C", "D"]),
        ("hrss", "register_type"): (["登记失业"], ["失业登记"]),
        ("education", "school_status"): (["已毕业"], ["毕业"]),
    }
    for (source, name), (written, expected) in cases.items():
        field = SOURCES[source].field(name)
        assert parse_enum(pl.Series(written), field.allowed, field.synonyms).to_list() == expected


def test_unknown_values_stay_unknown_to_be_rejected():
    field = SOURCES["education"].field("stage")
    assert parse_enum(pl.Series(["大学生"]), field.allowed, field.synonyms).to_list() == ["大学生"]
    # a note in brackets does not make an unknown value known
    assert parse_enum(pl.Series(["大学生（本科）"]), field.allowed, field.synonyms).to_list() == [
        "大学生(本科)"
    ]


def test_household_level_sources_prefer_the_head_name_column():
    for source in DEPARTMENT_SOURCES:
        first = source.field("name").headers[0]
        assert first == ("户主姓名" if source.household_level else "姓名"), source.key


def test_header_normalisation_folds_decorations():
    assert normalise_header(" 直接经济损失(元)*\n") == normalise_header("直接经济损失（元）")


def test_amount_units_follow_the_cell_then_the_column():
    from pipelines.ingest.parse import parse_amount

    capital = SOURCES["market"].field("capital")
    assert capital.unit == "万元"
    assert parse_amount(pl.Series(["50万元", "500000元", "49.9"]), unit=capital.unit).to_list() == [
        Decimal("50"),
        Decimal("50"),
        Decimal("49.9"),
    ]
    assert parse_amount(pl.Series(["5万元", "1,234.5元", ""]), unit="元").to_list() == [
        Decimal("50000"),
        Decimal("1234.5"),
        None,
    ]


def test_a_second_alias_column_fills_blanks_of_text_fields_only(tmp_path):
    from pipelines.ingest.stage import stage_source

    folder = tmp_path / "roster"
    folder.mkdir()
    (folder / "merged.csv").write_text(
        "乡镇,村,村民组,网格,村组网格名称,户编号,户主姓名,姓名,证件号码,与户主关系,户类型\n"
        "东桥镇,王岗村,一组,一组网格,,H1,张三,张三,,户主,一般农户\n"
        "东桥镇,王岗村,二组,,二组网格,H2,李四,李四,,户主,一般农户\n",
        encoding="utf-8",
    )
    staged = stage_source(SOURCES["roster"], folder, "2026-10")
    assert staged.rejects.is_empty()
    assert staged.records.sort("household_id")["grid"].to_list() == ["一组网格", "二组网格"]
