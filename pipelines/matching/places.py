"""Place names: a department's 乡镇/村 spelling mapped onto the roster's own names."""

from __future__ import annotations

import re
import unicodedata

import polars as pl

# administrative prefixes a department may put before the township, and suffixes it may drop
_PREFIX = r"^(?:.{2,7}?省)?(?:.{2,7}?市)?(?:.{2,7}?[区县])?"
# The one list of what a township or village name may end with (the matcher, the grid ledger's
# titles and the department spellings all read these). Longest first: an alternation takes the
# first that fits.
TOWNSHIP_SUFFIXES = ("街道办事处", "街道办", "街道", "办事处", "开发区", "镇", "乡")
VILLAGE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会", "村委", "居委", "社区", "村")


def suffix_pattern(suffixes: tuple[str, ...]) -> str:
    """A regular expression (Python, polars and DuckDB alike) for a name ending in one of them."""
    return f"(?:{'|'.join(suffixes)})$"


_TOWNSHIP_SUFFIX = suffix_pattern(TOWNSHIP_SUFFIXES)
# the township's government named for the township (三十铺镇人民政府, 三里桥街道办事处 is a suffix)
_GOVERNMENT = r"(?:人民政府|政府)$"
_VILLAGE_SUFFIX = suffix_pattern(VILLAGE_SUFFIXES)


# the district's (or the city's and the district's) name before a township's: 金安区先生店镇
COUNTY = re.compile(r"^[\u4e00-\u9fff]+?(?:省|市|区|县|旗)")


def without_county(township: str | None) -> str | None:
    """金安区先生店镇 (the district's, or the city's and the district's, name before the
    township's, as a title or a 乡镇 cell may give it) → 先生店镇; a name that is a township
    without it is kept (城区街道 is not 街道)."""
    while township and (cut := COUNTY.match(township)):
        rest = township[cut.end() :]
        if not (re.search(_TOWNSHIP_SUFFIX, rest) and re.sub(_TOWNSHIP_SUFFIX, "", rest)):
            break
        township = rest
    return township


# a village's committee written after its name: 北山村村委会, 北山村委会, 北山村民委员会,
# 城西社区居委会 are 北山村 and 城西社区
_COMMITTEE_AFTER = re.compile(
    r"^(.+?(?:村|社区))(?:村民委员会|居民委员会|村委会|居委会|民委员会|村委|居委|委会|委)$"
)


def without_committee(village: str | None) -> str | None:
    """The village a 村 cell names when its committee follows the name (北山村村委会 → 北山村)."""
    found = _COMMITTEE_AFTER.match(village) if village else None
    return found[1] if found else village


def plain_places(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` (the roster's staged rows) with 乡镇 and 村 as a person reads them: the district's
    name before a township dropped (金安区东桥镇 → 东桥镇), a village's committee after its name
    (北山村村委会 → 北山村). The roster names the district's places: a household written so is
    in the township and village the others name plainly, and its township's file is theirs."""
    columns = {"township": without_county, "village": without_committee}
    read = {
        column: {
            written: plain
            for written in frame[column].drop_nulls().unique().to_list()
            if (plain := reader(written)) != written
        }
        for column, reader in columns.items()
        if column in frame.columns
    }
    return frame.with_columns(
        pl.col(column).replace(mapping) for column, mapping in read.items() if mapping
    )


def _base(expr: pl.Expr) -> pl.Expr:
    return expr.str.normalize("NFKC").str.replace_all(r"[\s\u3000]+", "")


def township_key(expr: pl.Expr) -> pl.Expr:
    return (
        _base(expr)
        .str.replace(_PREFIX, "")
        .str.replace(_GOVERNMENT, "")
        .str.replace(_TOWNSHIP_SUFFIX, "")
    )


def village_key(expr: pl.Expr) -> pl.Expr:
    return _base(expr).str.replace(_VILLAGE_SUFFIX, "")


def canonical_places(records: pl.DataFrame, roster_places: pl.DataFrame) -> pl.DataFrame:
    """`records` with township/village replaced by the roster's spelling where exactly one fits.

    records: record_key, township, village. roster_places: distinct township, village, and
    optionally `group` (the roster's 村民组: a 村 cell may name one after its village).
    A name that fits no roster place, or more than one, is left as the department wrote it.
    """
    towns = (
        roster_places.select("township")
        .unique()
        .with_columns(township_key(pl.col("township")).alias("_tkey"))
        .filter(pl.col("_tkey").is_unique())  # two townships with one key: no guess
    )
    villages = (
        roster_places.select("township", "village")
        .unique()
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
    )
    with_village = pl.concat(
        [with_village, _written_around(with_village, roster_places)], how="horizontal"
    ).with_columns(
        pl.coalesce("_town_in", "township").alias("township"),
        pl.coalesce("_village", "_village_in", "village").alias("village"),
    )
    # a 乡镇 cell holding the township and its village (三十铺镇北山村), the 村 cell blank or
    # naming that village: read as a 村 cell without a township
    in_town = _written_around(
        with_village.select(
            pl.lit(None, pl.String).alias("township"),
            pl.when(pl.col("_town").is_null()).then(pl.col("township")).alias("village"),
            pl.lit(None, pl.String).alias("_village"),
        ),
        roster_places,
    )
    agrees = pl.col("village").is_null() | (
        village_key(pl.col("village")) == village_key(pl.col("_village_in"))
    )
    with_village = (
        pl.concat([with_village.drop("_town_in", "_village_in"), in_town], how="horizontal")
        .with_columns(ok=pl.col("_town_in").is_not_null() & agrees.fill_null(False))
        .with_columns(
            pl.when("ok").then("_town_in").otherwise("township").alias("township"),
            pl.when("ok").then("_village_in").otherwise("village").alias("village"),
        )
    )
    return with_village.select(records.columns)


def place_map(written: pl.DataFrame, roster_places: pl.DataFrame) -> pl.DataFrame:
    """(t0, v0: a 乡镇 and 村 as `written` holds them, distinct; township, village: the roster's
    spelling) for each pair canonical_places reads as another: what a department's records or
    the grid ledger's rows are joined to (NULL-safe on t0, v0) to stand on the roster's places."""
    pairs = written.select("township", "village").unique()
    read = canonical_places(pairs, roster_places)
    return (
        pairs.select(pl.col("township").alias("t0"), pl.col("village").alias("v0"))
        .with_columns(read["township"], read["village"])
        .filter(
            pl.col("t0").ne_missing(pl.col("township")) | pl.col("v0").ne_missing(pl.col("village"))
        )
    )


# What a clerk may write around a village's own name in its 村 cell: its township or more of the
# address before it (三十铺镇北山村, 金安区三十铺镇北山村), its committee or a 组 after it (北山村委会,
# 北山村三组, 北山村第3村民组, or a group of that village by the roster's own name: 北山村王岗组).
# Anything else (东北山村) is another name, never this village's.
_BEFORE_VILLAGE = rf"^(?:.*(?:省|市|区|县|{'|'.join(TOWNSHIP_SUFFIXES)}))?$"
_COMMITTEE = r"(?:委会|民委员会|村委会|村民委员会|居委会|居民委员会|委)?"
_AFTER_VILLAGE = (
    rf"^{_COMMITTEE}(?:第?[0-9一二三四五六七八九十]{{1,3}}(?:组|队|村民组|村民小组|居民组))?$"
)


def _compact(text: str) -> str:
    """A cell as compared with the roster's names: NFKC (北山村３组 is 北山村3组), no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _names_group_after(after: str, groups: set[str]) -> bool:
    """The text after a village's name is its committee, a numbered 组, or one of its groups."""
    # a 组 set off by a dash or in brackets (北山村-三组, 北山村（王岗组）) is that 组
    after = re.sub(r"^([^-—－_(（]*)[-—－_]?[(（]?(.*?)[)）]?$", r"\1\2", after)
    return bool(re.match(_AFTER_VILLAGE, after)) or re.sub(f"^{_COMMITTEE}", "", after) in groups


def _written_around(keyed: pl.DataFrame, roster_places: pl.DataFrame) -> pl.DataFrame:
    """Per row, the roster township and village its 村 cell names (`_town_in`, `_village_in`):
    the village of its (roster-spelt) township whose full name the cell holds with only an
    address before it or a committee or 组 after it (_BEFORE_VILLAGE, _names_group_after: the
    roster's groups of that village where `roster_places` has a `group` column); for a row
    without a township, the one whose township's roster name ends that address (三十铺镇北山村;
    东桥马集村 does not name 东桥镇).
    Nulls where the cell already fits a village's key, or none or two fit. A village inside
    another's name (山村 in 北山村) does not count against the longer one."""
    # township -> compared village name -> (roster's, whether a 组 must follow): the full name,
    # and the name without its suffix where a 组 follows (许畈一组 for 许畈村一组)
    names: dict[str, dict[str, tuple[str, bool]]] = {}
    for town, village in (
        roster_places.select("township", "village").drop_nulls().unique().iter_rows()
    ):
        bare = re.sub(_VILLAGE_SUFFIX, "", _compact(village))
        # a one-character name without its 村 (山 of 山村) is too short to stand for it
        if len(bare) >= 2 and bare != _compact(village):
            names.setdefault(town, {}).setdefault(bare, (village, True))
        names.setdefault(town, {})[_compact(village)] = (village, False)
    groups: dict[tuple[str, str], set[str]] = {}
    if "group" in roster_places.columns:
        for town, village, group in (
            roster_places.select("township", "village", "group").drop_nulls().unique().iter_rows()
        ):
            groups.setdefault((town, village), set()).add(_compact(group))
    found: list[tuple[str | None, str] | None] = []
    for town, written, mapped in keyed.select("township", "village", "_village").iter_rows():
        if mapped is not None or written is None or (town is not None and town not in names):
            found.append(None)
            continue
        cell = _compact(written)
        fits = [
            (place, village, at)
            for place in ([town] if town is not None else names)
            for compared, (village, bare) in names[place].items()
            for at in [cell.find(compared)]
            if at >= 0
            and re.match(_BEFORE_VILLAGE, cell[:at])
            and _names_group_after(
                after := cell[at + len(compared) :], groups.get((place, village), set())
            )
            and (not bare or (after != "" and re.sub(f"^{_COMMITTEE}", "", after) == after))
        ]
        # a row without a township: the township's roster name must end the address before the
        # village; with nothing before it, the village's name alone (its township left unknown,
        # as for a cell that is only that name: the matcher's name pass decides)
        named = list(
            dict.fromkeys(
                (p, v) for p, v, at in fits if town is not None or cell[:at].endswith(_compact(p))
            )
        )
        alone = {v for p, v, at in fits if town is None and at == 0}
        longest = [f for f in named if not any(f != o and f[1] in o[1] for o in named)]
        alone = {v for v in alone if not any(v != o and v in o for o in alone)}
        if longest:
            found.append(longest[0] if len(longest) == 1 else None)
        else:
            found.append((None, alone.pop()) if len(alone) == 1 else None)
    return pl.DataFrame(
        {
            "_town_in": [f[0] if f else None for f in found],
            "_village_in": [f[1] if f else None for f in found],
        },
        schema={"_town_in": pl.String, "_village_in": pl.String},
    )
