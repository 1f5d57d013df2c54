"""Name keys for matching: a simplified-character key and a toneless pinyin key per distinct name."""

from __future__ import annotations

from functools import cache
from typing import overload

import opencc
import polars as pl
from pypinyin import Style, lazy_pinyin

# Separators clerks put inside names: the minority-name dot in its many look-alikes
# (·•.‧・･∙⋅ and full-width forms after NFKC) and any whitespace. They carry no identity.
_SEPARATORS = (
    r"[\s\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff65\u0387.\-\u2010\u2011\u2012\u2013\u2014]"
)


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _syllable(char: str) -> str:
    # One reading per character, not per phrase: a name is not a word, and the same
    # character must give the same key on both sides of a comparison.
    return lazy_pinyin(char, style=Style.NORMAL)[0].lower()


def _strip_separators(names: pl.Series) -> pl.Series:
    return names.str.replace_all(_SEPARATORS, "").str.to_lowercase()


def _simplify(stripped: list[str]) -> list[str]:
    # One OpenCC call over all names joined by newlines: the C++ side converts the batch
    # in one pass; newlines keep phrase matching from crossing name boundaries.
    converted = _t2s().convert("\n".join(stripped)).split("\n")
    if len(converted) != len(stripped):
        return [_t2s().convert(name) for name in stripped]
    return converted


def _pinyin(stripped: list[str]) -> list[str]:
    chars = set("".join(stripped))
    table = {ord(c): _syllable(c) + " " for c in chars}
    return [name.translate(table).rstrip() for name in stripped]


def _dialect(pinyin: pl.Series) -> pl.Series:
    # The confusions of Anhui (and most southern) Mandarin: retroflex and flat initials
    # (zh/z, ch/c, sh/s), n/l, and front/back nasal finals (an/ang, en/eng, in/ing).
    return (
        pinyin.str.replace_all(r"\b([zcs])h", "$1")
        .str.replace_all(r"\bl", "n")
        .str.replace_all(r"([aei])ng\b", "${1}n")
    )


def name_keys(names: pl.Series) -> pl.DataFrame:
    """Return `name, name_key, pinyin_key, dialect_key` for every distinct non-null name.

    `name_key`: separators and spaces removed, traditional characters simplified (OpenCC t2s),
    Latin letters lower-cased. `pinyin_key`: toneless pinyin, one syllable per character,
    space-separated, read from the unsimplified characters (OpenCC folds some name characters
    into others with another reading, e.g. 乾 → 干). `dialect_key`: the pinyin key with the
    sounds a clerk hearing a local accent confuses folded together (zh/z, n/l, in/ing, …).
    """
    unique = names.drop_nulls().unique().cast(pl.String)
    stripped = _strip_separators(unique).to_list()
    pinyin = pl.Series(_pinyin(stripped), dtype=pl.String)
    return pl.DataFrame(
        {
            "name": unique,
            "name_key": pl.Series(_simplify(stripped), dtype=pl.String),
            "pinyin_key": pinyin,
            "dialect_key": _dialect(pinyin),
        }
    )


def simplified_names(names: pl.Series) -> pl.DataFrame:
    """`name, name_key` for every distinct non-null name: the name as a person reads it (name_keys'
    `name_key`: 劉睿 and 刘睿, 阿依·木 and 阿依木 are one name), without the pinyin keys."""
    unique = names.drop_nulls().unique().cast(pl.String)
    stripped = _strip_separators(unique).to_list()
    return pl.DataFrame(
        {"name": unique, "name_key": pl.Series(_simplify(stripped), dtype=pl.String)}
    )


def _apply(names: pl.Series, column: str) -> pl.Series:
    keys = name_keys(names)
    mapped = names.cast(pl.String).replace_strict(
        keys["name"], keys[column], default=None, return_dtype=pl.String
    )
    return mapped.alias(column)


@overload
def name_key(names: str) -> str: ...
@overload
def name_key(names: pl.Series) -> pl.Series: ...
def name_key(names: str | pl.Series) -> str | pl.Series:
    """Simplified-character key of a name (or of every name in a Series, computed per distinct value)."""
    if isinstance(names, str):
        return _apply(pl.Series([names]), "name_key")[0]
    return _apply(names, "name_key")


@overload
def pinyin_key(names: str) -> str: ...
@overload
def pinyin_key(names: pl.Series) -> pl.Series: ...
def pinyin_key(names: str | pl.Series) -> str | pl.Series:
    """Toneless pinyin key of a name (or of every name in a Series, computed per distinct value)."""
    if isinstance(names, str):
        return _apply(pl.Series([names]), "pinyin_key")[0]
    return _apply(names, "pinyin_key")
