"""Blocking rules: the keys on which a department record and a roster member become a candidate pair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from pipelines.matching.comparison import level_sql, sql_in
from pipelines.matching.ids import CONVERTED15, USABLE_STATUSES
from pipelines.matching.ranks import Pass, Rank, round_number
from pipelines.matching.repair import checksum_neighbours, legacy_neighbours
from pipelines.matching.scoring import id_levels
from pipelines.matching.workspace import Workspace

# SQL: the statuses of an ID usable as it stands.
USABLE_ID = "(" + ", ".join(f"'{status}'" for status in USABLE_STATUSES) + ")"

# The records each pass searches for (`ff_open_records`), with the evidence it trusts about
# them: `birth`, and, for the name pass, the area code and ID that may rule a member out.
_SEARCHED = "r_id, nk, py, dk, nlen, id18, id_status, id_ok, town, village"
PASS_RECORDS: dict[Pass, str] = {
    # Every record not settled before the search (decision.settle). The ID's birth date is its
    # holder's: only the record's own one is evidence.
    Pass.ID: f"""
        SELECT {_SEARCHED}, own_birth AS birth, NULL::DATE AS birth_alt,
               NULL::VARCHAR AS area_check, NULL::VARCHAR AS area_typo_check, false AS id_trusted
        FROM ff_records WHERE r_id NOT IN (SELECT r_id FROM ff_settled)""",
    # Named records with an ID no member holds (an ID in the roster is no typo; a settled record's
    # is held); the ID's birth date stands in for a missing own one.
    Pass.REPAIR: f"""
        SELECT {_SEARCHED}, coalesce(own_birth, id_birth) AS birth, NULL::DATE AS birth_alt,
               NULL::VARCHAR AS area_check, NULL::VARCHAR AS area_typo_check, false AS id_trusted
        FROM ff_records
        WHERE nk IS NOT NULL AND id18 IS NOT NULL AND r_id NOT IN (SELECT r_id FROM ff_id_holders)""",
    # Named records neither settled nor given a candidate by the ID and repair passes. What
    # survives of the record's own ID narrows the search, but an ID that belongs to someone else
    # (a holder not ruled out) says nothing about this person: its birth date is then unused,
    # and the area code of any ID in the roster too. A usable ID no member holds rules out members
    # with another usable ID — unless it ends in 000: it may be an ID Excel rounded that
    # passed its checksum by chance (1 in 11), which the ingest cannot always tell. A mistyped
    # ID (bad checksum, bad date, invalid) may carry its typo in the area code: it rules out
    # only members whose area is more than one typo away. A destroyed ID rules out members
    # whose ID does not begin with the digits it kept for certain; one Excel rounded to …0|000
    # leaves two birth dates (`birth` and `birth_alt`, matcher.py: rounded_birth).
    Pass.NAME: f"""
        WITH searched AS (
            SELECT * FROM ff_records
            WHERE nk IS NOT NULL AND r_id NOT IN (SELECT r_id FROM ff_scored_pairs)
              AND r_id NOT IN (SELECT r_id FROM ff_settled)
        ), held AS (
            SELECT h.r_id, bool_or(n.r_id IS NULL) AS disputed
            FROM ff_id_holders h LEFT JOIN ff_ruled_out n USING (r_id, m_id)
            WHERE h.r_id IN (SELECT r_id FROM searched)
            GROUP BY h.r_id
        )
        SELECT {_SEARCHED},
               CASE WHEN h.disputed THEN r.own_birth
                    ELSE coalesce(r.own_birth, r.id_birth, r.rounded_birth, r.rounded_birth_alt)
               END AS birth,
               -- a rounded ID's day that is no date (…1131 0|000, November 30th rounded up)
               -- leaves the other as its one birth date
               CASE WHEN r.own_birth IS NULL AND NOT coalesce(h.disputed, false)
                         AND r.rounded_birth IS NOT NULL
                    THEN r.rounded_birth_alt END AS birth_alt,
               CASE WHEN h.r_id IS NULL THEN coalesce(r.surviving, r.area) END AS area_check,
               CASE WHEN h.r_id IS NULL AND r.area IS NULL THEN r.area_written END
                   AS area_typo_check,
               r.id_ok AND h.r_id IS NULL AND NOT r.id18 LIKE '%000' AS id_trusted
        FROM searched r LEFT JOIN held h USING (r_id)""",
}


@dataclass(frozen=True)
class BlockingRule:
    """Pairs of `pass_` found by `pairs`: SQL selecting `r_id, m_id` from the records searched
    (`{records}`) and the roster (`ff_members`), through the key relations named in `keys`.

    `after`: the rule runs only for records without a candidate ranked stronger than this
    (the scoring lines that can use its pairs are gated the same way).
    """

    pass_: Pass
    name: str
    finds: str
    pairs: str
    keys: tuple[str, ...] = ()
    after: Rank | None = None


BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule(
        Pass.ID, "id", "the member holding the record's ID number",
        "SELECT r.r_id, h.m_id FROM {records} r JOIN ff_id_holders h USING (r_id)",
    ),
    BlockingRule(
        Pass.ID, "id_household",
        "a member of the ID holder's household with the record's name or pinyin (a child's "
        "claim filed under a parent's ID)",
        """SELECT r.r_id, m.m_id
           FROM {records} r JOIN ff_id_holders h USING (r_id) JOIN ff_members x ON x.m_id = h.m_id
           JOIN ff_members m ON m.household_id = x.household_id AND (m.nk = r.nk OR m.py = r.py)
           WHERE m.id18 IS DISTINCT FROM r.id18""",
        after=Rank.FAMILY,
    ),
    BlockingRule(
        Pass.REPAIR, "repaired_id",
        "a member whose ID is the record's failing (or legacy) ID with one substitution or "
        "adjacent transposition undone",
        """SELECT r.r_id, m.m_id FROM {records} r
           JOIN ff_record_id_repairs v USING (r_id) JOIN ff_members m ON m.id18 = v.neighbour""",
        keys=("ff_record_id_repairs",),
    ),
    BlockingRule(
        Pass.REPAIR, "repaired_member_id",
        "a member whose failing ID, one typo undone, is the record's usable ID",
        """SELECT r.r_id, v.m_id FROM {records} r
           JOIN ff_member_id_repairs v ON v.neighbour = r.id18 WHERE r.id_ok""",
        keys=("ff_member_id_repairs",),
    ),
    # Equal pinyin implies an equal accent key, equal name keys almost always do (not for 周乾
    # against 周干, which OpenCC made of it): the name key and the accent key block.
    # the birth date, and the other one a rounded ID leaves (birth_alt: matcher.py's
    # rounded_birth), each its own equality join
    *(
        BlockingRule(
            Pass.NAME, f"{key_name}_{birth}", f"the same {key_said} and {birth_said}",
            f"SELECT r.r_id, m.m_id FROM {{records}} r "
            f"JOIN ff_members m ON m.birth = r.{birth} AND m.{key} = r.{key}",
        )  # fmt: skip
        for birth, birth_said in (
            ("birth", "birth date"),
            ("birth_alt", "the other birth date a rounded ID leaves"),
        )
        for key, key_name, key_said in (("nk", "name", "name key"), ("dk", "accent", "accent key"))
    ),
    BlockingRule(
        Pass.NAME, "name_village", "the same name key and 村",
        "SELECT r.r_id, m.m_id FROM {records} r JOIN ff_members m ON m.village = r.village AND m.nk = r.nk",
    ),
    BlockingRule(
        Pass.NAME, "accent_village", "the same accent key and 村",
        "SELECT r.r_id, m.m_id FROM {records} r JOIN ff_members m ON m.village = r.village AND m.dk = r.dk",
    ),
    BlockingRule(
        Pass.NAME, "name_township", "the same name key and 乡镇, for a record without 村",
        """SELECT r.r_id, m.m_id FROM {records} r
           JOIN ff_members m ON r.village IS NULL AND m.town = r.town AND m.nk = r.nk""",
    ),
    BlockingRule(
        Pass.NAME, "accent_township", "the same accent key and 乡镇, for a record without 村",
        """SELECT r.r_id, m.m_id FROM {records} r
           JOIN ff_members m ON r.village IS NULL AND m.town = r.town AND m.dk = r.dk""",
    ),
    BlockingRule(
        Pass.NAME, "id_holder", "the member holding the record's ID, though the name does not fit",
        "SELECT r.r_id, h.m_id FROM {records} r JOIN ff_id_holders h USING (r_id)",
    ),
    # Village blocks are large: cut by deletion keys (two names one edit apart share the name
    # or a one-deletion variant); comparison confirms the distance.
    BlockingRule(
        Pass.NAME, "near_name_village",
        "a 3–4 character name one character off (a dropped, added or other character) in the 村",
        """SELECT r.r_id, m.m_id FROM ff_record_deletion_keys r
           JOIN ff_member_deletion_keys m ON m.village = r.village AND m.dkey = r.dkey
           WHERE m.nk <> r.nk""",
        keys=("ff_record_deletion_keys", "ff_member_deletion_keys"),
        after=Rank.NEAR_NAME_BIRTH_VILLAGE,
    ),
)  # fmt: skip


def find_pairs(ws: Workspace, pass_: Pass, after: Rank | None, records: str) -> int:
    """Add to `ff_candidate_pairs`, as round `after` of `pass_`, the pairs the rules gated at
    `after` find for `records` (SQL for the records searched) that no earlier round of the
    pass found; return how many. A pair a person ruled out (非本人) is never a candidate, nor one
    whose ID level no scoring line of the pass reads (`scoring.id_levels`: in the name pass, a
    member whose usable ID is not the record's trusted one — most of the namesakes found for a
    record whose ID the roster does not hold)."""
    rules = [rule for rule in BLOCKING_RULES if rule.pass_ is pass_ and rule.after == after]
    if not rules:
        return 0
    for key in dict.fromkeys(key for rule in rules for key in rule.keys):
        _KEY_RELATIONS[key](ws, records)
    found = " UNION ".join(rule.pairs.format(records=records) for rule in rules)
    scorable = ""
    if (levels := id_levels(pass_)) is not None:
        scorable = f"""
        JOIN ff_open_records r USING (r_id) JOIN ff_members m USING (m_id)
        LEFT JOIN ff_id_holders h USING (r_id, m_id)
        WHERE {sql_in(f"({level_sql('id', pass_)})", levels)}"""
    [(count,)] = ws.con.execute(f"""
        INSERT INTO ff_candidate_pairs
        SELECT '{pass_}', {round_number(after)}, r_id, m_id
        FROM ({found}) p
        ANTI JOIN ff_ruled_out USING (r_id, m_id)
        ANTI JOIN (SELECT r_id, m_id FROM ff_candidate_pairs WHERE pass = '{pass_}') USING (r_id, m_id)
        {scorable}
    """).fetchall()
    return count


def _record_id_repairs(ws: Workspace, records: str) -> None:
    ids = ws.con.sql(f"SELECT r_id, id18, id_status FROM {records} WHERE id18 IS NOT NULL").pl()
    failing = ids.filter(~pl.col("id_status").is_in(USABLE_STATUSES))
    legacy = ids.filter(pl.col("id_status") == CONVERTED15)
    neighbours = pl.concat(
        [
            checksum_neighbours(failing["r_id"], failing["id18"]),
            legacy_neighbours(legacy["r_id"], legacy["id18"]),
        ]
    )
    ws.frame("ff_record_id_repairs", neighbours.rename({"key": "r_id"}))


def _member_id_repairs(ws: Workspace, records: str) -> None:
    # The typo may sit in the roster instead: a member's failing ID one edit from the record's.
    failing = ws.con.sql(
        "SELECT m_id, id18 FROM ff_members WHERE id18 IS NOT NULL AND NOT id_ok"
    ).pl()
    neighbours = checksum_neighbours(failing["m_id"], failing["id18"])
    ws.frame("ff_member_id_repairs", neighbours.rename({"key": "m_id"}))


def _deletion_keys(ws: Workspace, records: str) -> None:
    deletions = (
        "[nk] || [substring(nk, 1, i - 1) || substring(nk, i + 1) FOR i IN range(1, nlen + 1)]"
    )
    ws.table(
        "ff_record_deletion_keys",
        f"""SELECT r_id, village, nk, unnest({deletions}) AS dkey FROM {records}
            WHERE village IS NOT NULL AND nlen BETWEEN 3 AND 4""",
    )
    ws.table(
        "ff_member_deletion_keys",
        f"""SELECT m_id, village, nk, unnest({deletions}) AS dkey FROM ff_members
            WHERE nlen BETWEEN 3 AND 4
              AND village IN (SELECT DISTINCT village FROM ff_record_deletion_keys)""",
    )


_KEY_RELATIONS: dict[str, Callable[[Workspace, str], None]] = {
    "ff_record_id_repairs": _record_id_repairs,
    "ff_member_id_repairs": _member_id_repairs,
    "ff_record_deletion_keys": _deletion_keys,
    "ff_member_deletion_keys": lambda ws, records: None,  # made with ff_record_deletion_keys
}
