"""Name keys: simplified characters, separators and spaces ignored, toneless and dialect pinyin."""

from __future__ import annotations

import polars as pl

from pipelines.matching.names import name_key, name_keys, pinyin_key


def test_traditional_characters_are_simplified() -> None:
    assert name_key("劉銘") == "刘铭"
    assert name_key("張偉") == name_key("张伟")


def test_minority_dots_and_spaces_are_ignored() -> None:
    forms = [
        "买买提·艾力",
        "买买提•艾力",
        "买买提.艾力",
        "买买提・艾力",
        "买买提 艾力",
        "买买提艾力",
    ]
    assert {name_key(form) for form in forms} == {"买买提艾力"}


def test_homophones_share_a_pinyin_key() -> None:
    assert pinyin_key("王秀英") == pinyin_key("王秀瑛") == "wang xiu ying"
    assert pinyin_key("刘明") == pinyin_key("劉銘")
    assert pinyin_key("刘明") != pinyin_key("刘敏")


def test_pinyin_is_read_before_simplification() -> None:
    # OpenCC folds 乾 into 干 (gan); the name is still read qian.
    assert pinyin_key("周乾") == "zhou qian"


def test_dialect_key_folds_accent_confusions() -> None:
    keys = name_keys(pl.Series(["王建林", "王建玲", "张成", "张辰", "刘兰", "刘南", "王建国"]))
    dialect = dict(zip(keys["name"], keys["dialect_key"], strict=True))
    assert dialect["王建林"] == dialect["王建玲"]
    assert dialect["张成"] == dialect["张辰"]
    assert dialect["刘兰"] == dialect["刘南"]
    assert dialect["王建林"] != dialect["王建国"]


def test_series_are_keyed_per_distinct_value_and_keep_nulls() -> None:
    names = pl.Series(["劉銘", None, "刘明", "劉銘"])
    assert name_key(names).to_list() == ["刘铭", None, "刘明", "刘铭"]
    assert pinyin_key(names).to_list() == ["liu ming", None, "liu ming", "liu ming"]
    assert name_keys(names).height == 2
