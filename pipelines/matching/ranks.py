"""Passes and ranks: the order in which the matcher seeks evidence, and how strongly it ties."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, StrEnum


class Pass(StrEnum):
    """The matcher looks for a record's person in three passes, each run only for the records
    the passes before it found no candidate for: all of a record's candidates come from one
    pass, and its ranks are compared only with each other."""

    ID = "id"  # the record's ID number is in the roster
    REPAIR = "repair"  # one typo apart: the record's ID and a member's
    NAME = "name"  # the name, with a birth date or a place


class Rank(IntEnum):
    """How strongly a candidate pair's evidence points at the member, strongest first.

    A record is tied to its one candidate of the strongest rank (a household-level record: to
    one household). `LISTED` candidates are shown to whoever resolves the record by hand and
    never tied.
    """

    # Pass.ID
    ID = 1  # the ID's holder, the same name
    ID_HOMOPHONE = 2  # the ID's holder, the same pinyin
    FAMILY = 3  # in the holder's household, the same name: a claim filed under a parent's ID
    FAMILY_HOMOPHONE = 4
    ID_OTHER_BIRTH = 5  # the ID's holder, the same name, but not the record's own birth date
    ID_HOMOPHONE_OTHER_BIRTH = 6
    ID_NEAR_NAME = 7  # the ID's holder under a near name, nobody fitting the written one better
    # Pass.REPAIR
    REPAIR = 8
    REPAIR_HOMOPHONE = 9
    REPAIR_NEAR_NAME = 10
    # Pass.NAME
    NAME_BIRTH = 11
    NAME_BIRTH_HOMOPHONE = 12
    NAME_BIRTH_DIALECT = 13
    NAME_VILLAGE = 14
    NAME_VILLAGE_HOMOPHONE = 15
    NAME_TOWN = 16  # the record names only its 乡镇
    NEAR_NAME_BIRTH_VILLAGE = 17  # one character off, the birth date and the 村 agreeing
    LISTED = 99


def round_number(after: Rank | None) -> int:
    """A pass searches in rounds, one per gate (see `scoring.Score.after`): the working tables
    tell them apart by the gate's rank, 0 for the ungated round."""
    return 0 if after is None else int(after)


def enum_type(values: Iterable[str]) -> str:
    """A DuckDB ENUM of `values`: how the working tables store a pass, a level, a method or a
    reason (one byte a row; a value outside them is refused)."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"ENUM({quoted})"


PASS_TYPE = enum_type(Pass)
