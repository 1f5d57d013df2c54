"""Scoring table: which feature levels give a candidate pair which rank, 匹配方式 (METHODS) and ambiguity reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pipelines.matching.comparison import (
    ONE_EDIT,
    AreaLevel,
    BirthLevel,
    IdLevel,
    NameLevel,
    NamesakeLevel,
    PlaceLevel,
    RivalLevel,
    SpellingLevel,
    sql_in,
)
from pipelines.matching.labels import METHODS, REASONS
from pipelines.matching.ranks import Pass, Rank, enum_type, round_number
from pipelines.matching.workspace import Workspace

METHOD_TYPE = enum_type(METHODS)
REASON_TYPE = enum_type(REASONS)


@dataclass(frozen=True)
class Score:
    """One line of the scoring table: a pair of `pass_` whose features are at these levels (a
    feature not named: any level) gets `rank`; tied, it shows `method` (a METHODS code: tier,
    匹配方式, confidence; None: listed only, never tied); among several candidates of this rank,
    the record is ambiguous for `reason` (a REASONS code).

    `after`: the line counts only for a record without a candidate ranked stronger than this
    — evidence weak enough to be heard only when nothing stronger was found.
    """

    pass_: Pass
    rank: Rank
    method: str | None
    reason: str
    levels: dict[str, tuple[StrEnum, ...]] = field(default_factory=dict)
    after: Rank | None = None

    def condition(self) -> str:
        """The SQL condition over `ff_pair_features f` that a pair meets this line's levels."""
        terms = [sql_in(f"f.{feature}", levels) for feature, levels in self.levels.items()]
        return " AND ".join(terms) or "true"


def _line(
    pass_: Pass,
    rank: Rank,
    method: str | None,
    reason: str,
    *,
    after: Rank | None = None,
    **levels: StrEnum | tuple[StrEnum, ...],
) -> Score:
    as_tuples = {k: v if isinstance(v, tuple) else (v,) for k, v in levels.items()}
    return Score(pass_, rank, method, reason, as_tuples, after)


_NOT_DIFFERING = (BirthLevel.AGREES, BirthLevel.UNKNOWN)
_NOT_SINGLE = tuple(level for level in SpellingLevel if level is not SpellingLevel.SINGLE)


def _consistent(**levels: StrEnum | tuple[StrEnum, ...]) -> dict:
    """In the name pass nothing known on both sides may contradict — the birth date, 乡镇 or
    村, the area code the ID tells, a trusted ID that is someone else's — unless `levels` ask
    for more."""
    return {
        "birth": _NOT_DIFFERING,
        "place": (PlaceLevel.VILLAGE, PlaceLevel.TOWNSHIP, PlaceLevel.TOWNSHIP_ONLY, PlaceLevel.UNKNOWN),
        "area": (AreaLevel.AGREES, AreaLevel.UNKNOWN),
        "id": (IdLevel.SAME, IdLevel.NONE),
    } | levels  # fmt: skip


_TOWNSHIP = (PlaceLevel.TOWNSHIP, PlaceLevel.TOWNSHIP_ONLY)

ID, REPAIR, NAME = Pass.ID, Pass.REPAIR, Pass.NAME
EXACT, HOMOPHONE, DIALECT = NameLevel.EXACT, NameLevel.HOMOPHONE, NameLevel.DIALECT

SCORES: tuple[Score, ...] = (
    # --- Pass.ID: the record's ID is a member's ---------------------------------------------
    _line(ID, Rank.ID, "id", "duplicate_id", id=IdLevel.SAME, name=EXACT, birth=_NOT_DIFFERING),
    _line(ID, Rank.ID_HOMOPHONE, "id_homophone", "duplicate_id",
          id=IdLevel.SAME, name=HOMOPHONE, birth=_NOT_DIFFERING),
    # A child's claim filed under a parent's number: the ID finds the household, the name (and
    # the record's own birth date, where given) the member — when the holder is not the person.
    _line(ID, Rank.FAMILY, "family", "family_multiple", after=Rank.FAMILY,
          id=IdLevel.HOUSEHOLD, name=EXACT, birth=_NOT_DIFFERING),
    _line(ID, Rank.FAMILY_HOMOPHONE, "family_homophone", "family_multiple", after=Rank.FAMILY,
          id=IdLevel.HOUSEHOLD, name=HOMOPHONE, birth=_NOT_DIFFERING),
    _line(ID, Rank.ID_OTHER_BIRTH, "id", "duplicate_id",
          id=IdLevel.SAME, name=EXACT, birth=BirthLevel.DIFFERS),
    _line(ID, Rank.ID_HOMOPHONE_OTHER_BIRTH, "id_homophone", "duplicate_id",
          id=IdLevel.SAME, name=HOMOPHONE, birth=BirthLevel.DIFFERS),
    # A misspelt name under the right ID (形近字, a dropped or added character, an accent): the
    # holder is the person when nothing else was found and nobody fits the written name better.
    # A name of one character is too little to call near.
    _line(ID, Rank.ID_NEAR_NAME, "id_dialect", "duplicate_id", after=Rank.ID_NEAR_NAME,
          id=IdLevel.SAME, name=DIALECT, spelling=_NOT_SINGLE, birth=_NOT_DIFFERING,
          rival=RivalLevel.UNRIVALLED),
    _line(ID, Rank.ID_NEAR_NAME, "id_near_dropped", "duplicate_id", after=Rank.ID_NEAR_NAME,
          id=IdLevel.SAME, name=NameLevel.OTHER, spelling=SpellingLevel.DROPPED,
          birth=_NOT_DIFFERING, rival=RivalLevel.UNRIVALLED),
    _line(ID, Rank.ID_NEAR_NAME, "id_near", "duplicate_id", after=Rank.ID_NEAR_NAME,
          id=IdLevel.SAME, name=NameLevel.OTHER, spelling=SpellingLevel.ONE_OFF,
          birth=_NOT_DIFFERING, rival=RivalLevel.UNRIVALLED),
    _line(ID, Rank.ID_NEAR_NAME, "id_near_short", "duplicate_id", after=Rank.ID_NEAR_NAME,
          id=IdLevel.SAME, name=NameLevel.OTHER, spelling=SpellingLevel.ONE_OFF_SHORT,
          birth=_NOT_DIFFERING, rival=RivalLevel.UNRIVALLED),
    # No name: an ID alone is not enough; its holders are listed.
    _line(ID, Rank.LISTED, None, "no_name_for_id", id=IdLevel.SAME, name=NameLevel.MISSING),
    # --- Pass.REPAIR: the ID one typo from a member's, the name agreeing ----------------------
    _line(REPAIR, Rank.REPAIR, "repair", "repair_multiple", name=EXACT),
    _line(REPAIR, Rank.REPAIR_HOMOPHONE, "repair_homophone", "repair_multiple", name=HOMOPHONE),
    _line(REPAIR, Rank.REPAIR_NEAR_NAME, "repair_near", "repair_multiple",
          name=(DIALECT, NameLevel.OTHER), spelling=ONE_EDIT, rival=RivalLevel.UNRIVALLED),
    # --- Pass.NAME: the name with a birth date or a place ------------------------------------
    # A birth date agreeing outranks a 村, a 村 a 乡镇.
    _line(NAME, Rank.NAME_BIRTH, "name_birth_village", "same_name",
          name=EXACT, **_consistent(birth=BirthLevel.AGREES, place=PlaceLevel.VILLAGE)),
    _line(NAME, Rank.NAME_BIRTH, "name_birth_town", "same_name",
          name=EXACT, **_consistent(birth=BirthLevel.AGREES, place=_TOWNSHIP)),
    _line(NAME, Rank.NAME_BIRTH, "name_birth", "same_name",
          name=EXACT, **_consistent(birth=BirthLevel.AGREES, place=PlaceLevel.UNKNOWN)),
    _line(NAME, Rank.NAME_BIRTH_HOMOPHONE, "name_birth_village_homophone", "same_name",
          name=HOMOPHONE, **_consistent(birth=BirthLevel.AGREES, place=PlaceLevel.VILLAGE)),
    _line(NAME, Rank.NAME_BIRTH_HOMOPHONE, "name_birth_town_homophone", "same_name",
          name=HOMOPHONE, **_consistent(birth=BirthLevel.AGREES, place=_TOWNSHIP)),
    _line(NAME, Rank.NAME_BIRTH_HOMOPHONE, "name_birth_homophone", "same_name",
          name=HOMOPHONE, **_consistent(birth=BirthLevel.AGREES, place=PlaceLevel.UNKNOWN)),
    _line(NAME, Rank.NAME_BIRTH_DIALECT, "name_birth_village_dialect", "same_name",
          name=DIALECT, **_consistent(birth=BirthLevel.AGREES, place=PlaceLevel.VILLAGE)),
    _line(NAME, Rank.NAME_BIRTH_DIALECT, "name_birth_town_dialect", "same_name",
          name=DIALECT, **_consistent(birth=BirthLevel.AGREES, place=_TOWNSHIP)),
    _line(NAME, Rank.NAME_BIRTH_DIALECT, "name_birth_dialect", "same_name",
          name=DIALECT, **_consistent(birth=BirthLevel.AGREES, place=PlaceLevel.UNKNOWN)),
    _line(NAME, Rank.NAME_VILLAGE, "name_village", "same_name",
          name=EXACT, **_consistent(place=PlaceLevel.VILLAGE)),
    _line(NAME, Rank.NAME_VILLAGE_HOMOPHONE, "name_village_homophone", "same_name",
          name=HOMOPHONE, **_consistent(place=PlaceLevel.VILLAGE)),
    # A 乡镇 alone (a per-township file without 村) is a large block: only the same name ties.
    _line(NAME, Rank.NAME_TOWN, "name_town", "same_name",
          name=EXACT, **_consistent(place=PlaceLevel.TOWNSHIP)),
    # The accent level folds so much that with a 村 alone it finds someone else as often as
    # the person (on the bench: 2 right in 25); a homophone with a 乡镇 alone, 4 in 5 wrong.
    _line(NAME, Rank.LISTED, None, "near_name_only",
          name=DIALECT, **_consistent(place=PlaceLevel.VILLAGE)),
    _line(NAME, Rank.LISTED, None, "near_name_only",
          name=HOMOPHONE, **_consistent(place=PlaceLevel.TOWNSHIP)),
    # One character off within a 村 (形近字, a dropped or added character), for records the
    # lines above left without a candidate to tie. As likely someone else (without a birth
    # date, on the bench: 1 right in 4), and siblings share all but one character: tied only
    # when the birth date agrees and nobody in the 村 carries the written name.
    _line(NAME, Rank.NEAR_NAME_BIRTH_VILLAGE, "name_birth_village_near", "same_name",
          after=Rank.NEAR_NAME_BIRTH_VILLAGE, name=(HOMOPHONE, DIALECT, NameLevel.OTHER),
          spelling=ONE_EDIT, namesake=NamesakeLevel.ABSENT,
          **_consistent(place=PlaceLevel.VILLAGE, birth=BirthLevel.AGREES)),
    _line(NAME, Rank.LISTED, None, "near_name_only", after=Rank.NEAR_NAME_BIRTH_VILLAGE,
          name=(HOMOPHONE, DIALECT, NameLevel.OTHER), spelling=ONE_EDIT,
          **_consistent(place=PlaceLevel.VILLAGE)),
    # The holder of a record's ID whose name does not fit: listed, so that whoever resolves
    # the record by hand sees both sides.
    _line(NAME, Rank.LISTED, None, "id_name_conflict", id=IdLevel.SAME),
)  # fmt: skip


def uses(pass_: Pass, feature: str) -> bool:
    """Whether any line of `pass_` looks at `feature`."""
    return any(feature in s.levels for s in SCORES if s.pass_ is pass_)


def asks(pass_: Pass, feature: str) -> str | None:
    """SQL condition over `ff_pair_features f`: a line of `pass_` that reads `feature` could
    score the pair, its other levels met (None: no line reads it). A feature that costs a
    join over the roster is judged for these pairs only."""
    reading = [s for s in SCORES if s.pass_ is pass_ and feature in s.levels]
    if not reading:
        return None
    others = [
        " AND ".join(sql_in(f"f.{f}", levels) for f, levels in s.levels.items() if f != feature)
        or "true"
        for s in reading
    ]
    return "(" + " OR ".join(f"({condition})" for condition in others) + ")"


def id_levels(pass_: Pass) -> tuple[IdLevel, ...] | None:
    """The ID levels a line of `pass_` can score a pair at (None: some line reads any level). A
    pair at another level is never scored: it cannot be tied, listed or ranked against."""
    lines = [s for s in SCORES if s.pass_ is pass_]
    if any("id" not in s.levels for s in lines):
        return None
    return tuple(level for level in IdLevel if any(level in s.levels["id"] for s in lines))


def gate(pass_: Pass, after: Rank | None) -> str:
    """SQL condition on `r_id`: the record has no candidate of `pass_` ranked stronger than
    `after` (always true when `after` is None)."""
    if after is None:
        return "true"
    return (
        f"r_id NOT IN (SELECT r_id FROM ff_scored_pairs "
        f"WHERE pass = '{pass_}' AND rank < {int(after)})"
    )


def score(ws: Workspace, pass_: Pass, after: Rank | None) -> None:
    """Append to `ff_scored_pairs` the rank, method and reason of the pairs the lines of `pass_`
    score in round `after`: the ungated lines for the pairs blocking found in this round, the
    lines gated at `after` for every pair of a record that has no stronger candidate yet. A
    pair gets the strongest line it meets; a pair scored in two rounds keeps both rows (the
    decision takes its strongest)."""
    _score_with(ws, pass_, [s for s in SCORES if s.pass_ is pass_ and s.after is None],
                f"f.round = {round_number(after)}")  # fmt: skip
    if after is not None:
        lines = [s for s in SCORES if s.pass_ is pass_ and s.after == after]
        # the lines' own levels first: few pairs meet them, fewer need the gate's anti-join
        meets = " OR ".join(f"({s.condition()})" for s in lines)
        _score_with(ws, pass_, lines, f"({meets}) AND {gate(pass_, after)}")


def load(ws: Workspace) -> None:
    """Put the scoring table in `ff_score_lines`: line (its place in SCORES), rank, method,
    reason."""
    values = ", ".join(
        f"({i}, {int(s.rank)}, {'NULL' if s.method is None else repr(s.method)}, '{s.reason}')"
        for i, s in enumerate(SCORES)
    )
    ws.table(
        "ff_score_lines",
        f"""SELECT line, rank, method::{METHOD_TYPE} AS method, reason::{REASON_TYPE} AS reason
            FROM (VALUES {values}) t(line, rank, method, reason)""",
    )


def _score_with(ws: Workspace, pass_: Pass, lines: list[Score], pairs: str) -> None:
    if not lines:
        return
    # the strongest line a pair meets; among lines of one rank, the table's order decides
    ordered = sorted(lines, key=lambda s: (s.rank, SCORES.index(s)))
    which = " ".join(f"WHEN {s.condition()} THEN {SCORES.index(s)}" for s in ordered)
    ws.con.execute(f"""
        INSERT INTO ff_scored_pairs
        SELECT f.pass, f.r_id, f.m_id, t.rank, t.method, t.reason
        FROM (SELECT f.pass, f.r_id, f.m_id, CASE {which} END AS line
              FROM ff_pair_features f WHERE f.pass = '{pass_}' AND {pairs}) f
        JOIN ff_score_lines t USING (line)
    """)
