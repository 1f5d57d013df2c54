"""Comparison: each candidate pair's features (ID, name, spelling, birth date, place…), computed once, as named levels."""

from __future__ import annotations

from enum import StrEnum

from pipelines.matching.ranks import Pass, enum_type
from pipelines.matching.workspace import Workspace


class IdLevel(StrEnum):
    """How the record's ID number relates to the member."""

    SAME = "same"  # the member holds the record's ID
    HOUSEHOLD = "household"  # (Pass.ID) the member shares a household with the ID's holder
    REPAIRED = "repaired"  # (Pass.REPAIR) one substitution or transposition from the member's
    OTHER = "other"  # the record's trusted ID is not the member's usable one: someone else
    NONE = "none"  # nothing to compare


class NameLevel(StrEnum):
    """How the names sound (on the keys of `names.name_keys`)."""

    EXACT = "exact"  # the same name key
    HOMOPHONE = "homophone"  # the same toneless pinyin (typed by ear)
    DIALECT = "dialect"  # the same pinyin once a local accent's confusions are folded
    OTHER = "other"  # none of these, or the member has no name
    MISSING = "missing"  # the record gives no name


class SpellingLevel(StrEnum):
    """How far apart the written name keys are (Levenshtein distance and lengths)."""

    SAME = "same"
    DROPPED = "dropped"  # a character dropped or added: 王秀 for 王秀英
    ONE_OFF = "one_off"  # one character other, three or more characters: 王季英 for 王秀英
    ONE_OFF_SHORT = "one_off_short"  # one character other on a two-character name: 王强, 王伟
    SINGLE = "single"  # one edit apart, but one name has a single character: too little to tell
    FAR = "far"  # two or more edits apart, or a name missing


ONE_EDIT = (SpellingLevel.DROPPED, SpellingLevel.ONE_OFF, SpellingLevel.ONE_OFF_SHORT, SpellingLevel.SINGLE)  # fmt: skip


class BirthLevel(StrEnum):
    """The record's birth date (the one the pass trusts, see `blocking.PASS_RECORDS`) against
    the member's."""

    AGREES = "agrees"
    UNKNOWN = "unknown"  # missing on either side
    DIFFERS = "differs"


class PlaceLevel(StrEnum):
    """The record's 乡镇 and 村 against the member's (suffixes such as 镇, 村委会 dropped)."""

    VILLAGE = "village"  # the same 村
    TOWNSHIP = "township"  # the same 乡镇; the record names no 村 (a per-township file)
    TOWNSHIP_ONLY = "township_only"  # the same 乡镇; the record's 村 is not on the member
    UNKNOWN = "unknown"  # nothing to compare
    DIFFERS = "differs"  # a 乡镇 or 村 on both sides differs


class AreaLevel(StrEnum):
    """The area code (first six digits) the record's ID still tells against the member's usable
    ID. A mistyped ID may carry its typo in the area code: one typo away still agrees."""

    AGREES = "agrees"
    UNKNOWN = "unknown"
    DIFFERS = "differs"


class RivalLevel(StrEnum):
    """For a near name: does anyone else in the member's household, or in the record's 村, carry
    the written name (the same name key or pinyin), their birth date not contradicting the
    record's? Siblings often differ in one character (辈分字). A rival a person ruled out
    (非本人) still is one: the name it explains does not become the member's."""

    UNRIVALLED = "unrivalled"
    RIVALLED = "rivalled"
    UNJUDGED = "unjudged"  # not a near name


class NamesakeLevel(StrEnum):
    """For a name one character off: does anyone in the record's 村 carry the written name (the
    record's birth date may be a sibling's, from the sibling's ID)?"""

    ABSENT = "absent"
    PRESENT = "present"
    UNJUDGED = "unjudged"


FEATURES: dict[str, type[StrEnum]] = {
    "id": IdLevel,
    "name": NameLevel,
    "spelling": SpellingLevel,
    "birth": BirthLevel,
    "place": PlaceLevel,
    "area": AreaLevel,
    "rival": RivalLevel,
    "namesake": NamesakeLevel,
}


def level_type(feature: str) -> str:
    """The DuckDB type of a feature's column: an ENUM of its levels."""
    return enum_type(FEATURES[feature])


def sql_in(column: str, levels: tuple[StrEnum, ...]) -> str:
    """SQL: `column` (a compared feature, never NULL) is at one of `levels`, written as briefly
    as the level's vocabulary allows."""
    others = tuple(level for level in type(levels[0]) if level not in levels)
    if len(levels) == 1:
        return f"{column} = '{levels[0]}'"
    if len(others) == 1:
        return f"{column} <> '{others[0]}'"
    negate, listed = (True, others) if len(others) < len(levels) else (False, levels)
    quoted = ", ".join(f"'{level}'" for level in listed)
    return f"{column} {'NOT IN' if negate else 'IN'} ({quoted})"


def _id_level(pass_: Pass) -> str:
    # Who holds each record's ID was found once (`ff_id_holders`, joined as `h`). In Pass.ID
    # another member was found through the holder's household; in Pass.REPAIR every pair is
    # one typo apart.
    found_through = {Pass.ID: IdLevel.HOUSEHOLD, Pass.REPAIR: IdLevel.REPAIRED}.get(pass_)
    if found_through is not None:
        return f"CASE WHEN h.r_id IS NOT NULL THEN '{IdLevel.SAME}' ELSE '{found_through}' END"
    # A comparison that cannot be made (an ID marked usable without its number) counts as other.
    return f"""
        CASE WHEN h.r_id IS NOT NULL THEN '{IdLevel.SAME}'
             WHEN NOT (r.id_trusted AND m.id_ok AND m.id18 <> r.id18) THEN '{IdLevel.NONE}'
             ELSE '{IdLevel.OTHER}' END"""


_NAME = f"""
    CASE WHEN r.nk IS NULL THEN '{NameLevel.MISSING}'
         WHEN r.nk = m.nk THEN '{NameLevel.EXACT}'
         WHEN r.py = m.py THEN '{NameLevel.HOMOPHONE}'
         WHEN r.dk = m.dk THEN '{NameLevel.DIALECT}'
         ELSE '{NameLevel.OTHER}' END"""
# Levenshtein distance over characters (DuckDB's, on code points) where the keys differ, then the
# lengths tell which one-edit kind it is.
_SPELLING = f"""
    CASE WHEN r.nk = m.nk THEN '{SpellingLevel.SAME}'
         WHEN r.nk IS NULL OR m.nk IS NULL OR levenshtein(r.nk, m.nk) > 1
         THEN '{SpellingLevel.FAR}'
         WHEN least(r.nlen, m.nlen) <= 1 THEN '{SpellingLevel.SINGLE}'
         WHEN r.nlen <> m.nlen THEN '{SpellingLevel.DROPPED}'
         WHEN r.nlen >= 3 THEN '{SpellingLevel.ONE_OFF}'
         ELSE '{SpellingLevel.ONE_OFF_SHORT}' END"""
_BIRTH = f"""
    CASE WHEN r.birth IS NULL OR m.birth IS NULL THEN '{BirthLevel.UNKNOWN}'
         WHEN r.birth = m.birth OR r.birth_alt = m.birth THEN '{BirthLevel.AGREES}'
         ELSE '{BirthLevel.DIFFERS}' END"""
_PLACE = f"""
    CASE WHEN r.town <> m.town OR r.village <> m.village THEN '{PlaceLevel.DIFFERS}'
         WHEN r.village = m.village THEN '{PlaceLevel.VILLAGE}'
         WHEN r.town = m.town AND r.village IS NULL THEN '{PlaceLevel.TOWNSHIP}'
         WHEN r.town = m.town THEN '{PlaceLevel.TOWNSHIP_ONLY}'
         ELSE '{PlaceLevel.UNKNOWN}' END"""
# A comparison that cannot be made (an ID marked usable without its number) counts as differing.
# What is checked is the area code, or every digit a destroyed ID kept for certain (its prefix).
_AREA = f"""
    CASE WHEN r.area_check IS NOT NULL AND m.id_ok
         THEN CASE WHEN starts_with(m.id18, r.area_check) THEN '{AreaLevel.AGREES}'
                   ELSE '{AreaLevel.DIFFERS}' END
         WHEN r.area_typo_check IS NOT NULL AND m.id_ok
         THEN CASE WHEN damerau_levenshtein(left(m.id18, 6), r.area_typo_check) <= 1
                   THEN '{AreaLevel.AGREES}' ELSE '{AreaLevel.DIFFERS}' END
         ELSE '{AreaLevel.UNKNOWN}' END"""
_LEVELS = {
    "name": _NAME,
    "spelling": _SPELLING,
    "birth": _BIRTH,
    "place": _PLACE,
    "area": _AREA,
}


def level_sql(feature: str, pass_: Pass) -> str:
    """SQL: the level of `feature` (id, name, spelling, birth, place or area) for the record `r`
    (with the evidence `pass_` trusts, `blocking.PASS_RECORDS`) and the member `m` of a pair of
    `pass_`, as `compare` computes it; the ID's level reads `h`, the pair's row of
    `ff_id_holders` (NULL: the member does not hold the record's ID)."""
    return _id_level(pass_) if feature == "id" else _LEVELS[feature]


def compare(
    ws: Workspace, pass_: Pass, round_: int, features: set[str], asked: dict[str, str]
) -> None:
    """Append to `ff_pair_features` the features of the pairs blocking found in round `round_`
    of `pass_`, each computed once.

    Only `features` (those the pass's scoring lines read, and the name and spelling) are
    compared; the others stay NULL. Record-side evidence comes from `ff_open_records`, which
    holds the birth date, area code and ID the pass trusts. First every pair gets its
    features read off both rows, the spelling included (an edit distance where the name keys
    differ); then rivals and namesakes (joins over the roster) for the near names a scoring
    line could read them for (`asked`: feature → SQL condition over `ff_pair_features f`).
    """
    this_round = f"f.pass = '{pass_}' AND f.round = {round_}"
    levels = {feature: level_sql(feature, pass_) for feature in ("id", *_LEVELS)}
    ws.con.execute(f"""
        INSERT INTO ff_pair_features
        SELECT p.pass, p.round, p.r_id, p.m_id,
               {", ".join(f"{sql if f in features else 'NULL'}" for f, sql in levels.items())},
               {"'unjudged'" if "rival" in features else "NULL"},
               {"'unjudged'" if "namesake" in features else "NULL"}
        FROM ff_candidate_pairs p
        JOIN ff_open_records r USING (r_id)
        JOIN ff_members m USING (m_id)
        LEFT JOIN ff_id_holders h USING (r_id, m_id)
        WHERE p.pass = '{pass_}' AND p.round = {round_}
    """)
    near = (
        f"f.name IN ('{NameLevel.DIALECT}', '{NameLevel.OTHER}') "
        f"AND (f.name = '{NameLevel.DIALECT}' OR {sql_in('f.spelling', ONE_EDIT)})"
    )
    if "rival" in features:
        _judge_rivals(ws, f"{this_round} AND {near} AND {asked.get('rival', 'true')}")
    if "namesake" in features:
        one_edit = sql_in("f.spelling", ONE_EDIT)
        _judge_namesakes(ws, f"{this_round} AND {one_edit} AND {asked.get('namesake', 'true')}")


def _judge_rivals(ws: Workspace, near: str) -> None:
    """Set `rival` for the near-name pairs of `ff_pair_features f` meeting `near`."""
    ws.con.execute(f"""
        UPDATE ff_pair_features f
        SET rival = CASE WHEN v.r_id IS NULL THEN '{RivalLevel.UNRIVALLED}'
                         ELSE '{RivalLevel.RIVALLED}' END
        FROM (SELECT f.r_id, f.m_id FROM ff_pair_features f WHERE {near}) n
        LEFT JOIN (
            -- who else might carry the written name: the member's household, and the
            -- record's 村 (in its 乡镇, where both are known)
            WITH near AS (
                SELECT f.r_id, f.m_id, m.household_id, r.nk, r.py, r.village, r.town, r.birth,
                       r.birth_alt
                FROM ff_pair_features f
                JOIN ff_open_records r USING (r_id) JOIN ff_members m USING (m_id)
                WHERE {near}
            ), others AS (
                SELECT n.*, x.m_id AS x_id
                FROM near n JOIN ff_members x ON x.household_id = n.household_id
                UNION ALL
                SELECT n.*, x.m_id
                FROM near n JOIN ff_members x ON x.village = n.village AND x.py = n.py
                WHERE n.town IS NULL OR x.town IS NULL OR x.town = n.town
                UNION ALL
                SELECT n.*, x.m_id
                FROM near n JOIN ff_members x ON x.village = n.village AND x.nk = n.nk
                WHERE n.town IS NULL OR x.town IS NULL OR x.town = n.town
            )
            SELECT DISTINCT o.r_id, o.m_id
            FROM others o JOIN ff_members x ON x.m_id = o.x_id
            WHERE o.x_id <> o.m_id AND (x.nk = o.nk OR x.py = o.py)
              AND (o.birth IS NULL OR x.birth IS NULL OR x.birth = o.birth
                   OR x.birth = o.birth_alt)
        ) v ON v.r_id = n.r_id AND v.m_id = n.m_id
        WHERE f.r_id = n.r_id AND f.m_id = n.m_id AND {near}
    """)


def _judge_namesakes(ws: Workspace, asked: str) -> None:
    """Set `namesake` for the pairs of `ff_pair_features f` meeting `asked`."""
    ws.con.execute(f"""
        UPDATE ff_pair_features f
        SET namesake = CASE WHEN k.r_id IS NULL THEN '{NamesakeLevel.ABSENT}'
                            ELSE '{NamesakeLevel.PRESENT}' END
        FROM (SELECT DISTINCT f.r_id FROM ff_pair_features f WHERE {asked}) a
        LEFT JOIN (
            WITH asked AS (
                SELECT DISTINCT r.r_id, r.village, r.nk, r.py
                FROM ff_pair_features f JOIN ff_open_records r USING (r_id)
                WHERE {asked} AND r.village IS NOT NULL
            )
            SELECT a.r_id FROM asked a SEMI JOIN ff_members x ON x.village = a.village AND x.nk = a.nk
            UNION
            SELECT a.r_id FROM asked a SEMI JOIN ff_members x ON x.village = a.village AND x.py = a.py
        ) k USING (r_id)
        WHERE f.r_id = a.r_id AND {asked}
    """)
