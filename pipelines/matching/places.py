"""Place names: a department's 乡镇/村 spelling mapped onto the roster's own names."""

from __future__ import annotations

import polars as pl

# administrative prefixes a department may put before the township, and suffixes it may drop
_PREFIX = r"^(?:.{2,7}?省)?(?:.{2,7}?市)?(?:.{2,7}?[区县])?"
# The one list of what a township or village name may end with (the matcher, the grid ledger's
# titles and the department spellings all read these). Longest first: an alternation takes the
# first that fits.
TOWNSHIP_SUFFIXES = ("街道办事处", "街道", "办事处", "开发区", "镇", "乡")
VILLAGE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会", "社区", "村")


def suffix_pattern(suffixes: tuple[str, ...]) -> str:
    """A regular expression (Python, polars and DuckDB alike) for a name ending in one of them."""
    return f"(?:{'|'.join(suffixes)})$"


_TOWNSHIP_SUFFIX = suffix_pattern(TOWNSHIP_SUFFIXES)
_VILLAGE_SUFFIX = suffix_pattern(VILLAGE_SUFFIXES)


def _base(expr: pl.Expr) -> pl.Expr:
    return expr.str.normalize("NFKC").str.replace_all(r"[\s\u3000]+", "")


def township_key(expr: pl.Expr) -> pl.Expr:
    return _base(expr).str.replace(_PREFIX, "").str.replace(_TOWNSHIP_SUFFIX, "")


def village_key(expr: pl.Expr) -> pl.Expr:
    return _base(expr).str.replace(_VILLAGE_SUFFIX, "")


def canonical_places(records: pl.DataFrame, roster_places: pl.DataFrame) -> pl.DataFrame:
    """`records` with township/village replaced by the roster's spelling where exactly one fits.

    records: record_key, township, village. roster_places: distinct township, village.
    A name that fits no roster place, or more than one, is left as the department wrote it.
    """
    towns = (
        roster_places.select("township")
        .unique()
        .with_columns(township_key(pl.col("township")).alias("_tkey"))
        .filter(pl.col("_tkey").is_unique())  # two townships with one key: no guess
    )
    villages = (
        roster_places.unique()
        .with_columns(village_key(pl.col("village")).alias("_vkey"))
        .filter(pl.struct("township", "_vkey").is_unique())
        .rename({"township": "_town", "village": "_village"})
    )
    keyed = records.with_columns(
        township_key(pl.col("township")).alias("_tkey"),
        village_key(pl.col("village")).alias("_vkey"),
    )
    with_town = keyed.join(
        towns.rename({"township": "_town"}), on="_tkey", how="left"
    ).with_columns(pl.coalesce("_town", "township").alias("township"))
    with_village = with_town.join(
        villages, left_on=["township", "_vkey"], right_on=["_town", "_vkey"], how="left"
    ).with_columns(pl.coalesce("_village", "village").alias("village"))
    return with_village.select(records.columns)
