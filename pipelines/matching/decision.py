"""Decision: each record tied to its one strongest candidate, or left ambiguous or unmatched, with the reason."""

from __future__ import annotations

from pipelines.matching.comparison import ONE_EDIT, IdLevel, NameLevel, level_sql, sql_in
from pipelines.matching.ids import DESTROYED
from pipelines.matching.labels import METHODS
from pipelines.matching.ranks import Pass, Rank
from pipelines.matching.scoring import SCORES
from pipelines.matching.workspace import Workspace

_LISTED = int(Rank.LISTED)

# The scoring table's strongest line: the ID's holder under the same name (its own birth date, if
# the record gives one, not contradicting hers). Ungated and alone at the strongest rank.
SETTLING = next(s for s in SCORES if s.pass_ is Pass.ID and s.rank is Rank.ID)


def settle(ws: Workspace) -> None:
    """Fill `ff_settled` (r_id, m_id): the records whose ID exactly one member holds and whose
    pair with her meets SETTLING, she not ruled out (非本人) nor a rejected roster row.

    Such a record's search ends where it starts: the ID pass finds her alone (its other rules
    are gated behind her rank), scores her at the strongest rank, and no later pass searches a
    record with a candidate, so `decide` ties her with SETTLING's method. Most records are these
    (on the 1M bench, 832k of the year's 1.09M claims identities): they are tied without the
    passes, which search only the rest (blocking.PASS_RECORDS); each outcome is the same.
    """
    levels = ", ".join(f"{level_sql(f, Pass.ID)} AS {f}" for f in SETTLING.levels)
    ws.table(
        "ff_settled",
        f"""
        SELECT r_id, m_id FROM (
            SELECT h.r_id, h.m_id, {levels}
            FROM (SELECT r_id, any_value(m_id) AS m_id
                  FROM ff_id_holders GROUP BY r_id HAVING count(*) = 1) h
            -- the ID pass's evidence: the record's own birth date (blocking.PASS_RECORDS)
            JOIN (SELECT r_id, nk, py, dk, nlen, own_birth AS birth, NULL::DATE AS birth_alt
                  FROM ff_records) r
                USING (r_id)
            JOIN ff_members m USING (m_id)
            ANTI JOIN ff_ruled_out USING (r_id, m_id)
            WHERE NOT m.rejected
        ) f
        WHERE {SETTLING.condition()}
        """,
    )


def decide(ws: Workspace) -> None:
    """Fill `ff_decisions` (r_id, status, m_id, method, reason, candidates) for every record.

    Per record (its candidates all come from one pass), the candidates of the strongest rank
    short of LISTED win: one member there — or, for a household-level record, one household —
    is a tie; more is ambiguous, listing every candidate (strongest first). A record with
    candidates but none to tie is ambiguous too; one without any is unmatched, with the most
    telling reason.
    """
    _disputed_ids(ws)
    ws.table(
        "ff_decisions",
        _TIES_AND_AMBIGUITIES.format(
            listed=_LISTED, slip=_SLIP, birth_ties=_BIRTH_TIES, settling=SCORES.index(SETTLING)
        ),
    )
    ws.con.execute(_UNMATCHED.format(destroyed=DESTROYED))
    ws.con.execute(_NAMESAKES_SHOWN)
    ws.con.execute(_REJECTED_ROWS)


def _disputed_ids(ws: Workspace) -> None:
    # The name pass compares a record with the holders of its ID (not ruled out): the ID is
    # someone else's. A holder whose name is one character or an accent away from the
    # record's (a two-character name, too short for the ID pass to call near) is as likely the
    # person under a misspelt name as any namesake the name pass finds: `holder_near`.
    ws.table(
        "ff_disputed_ids",
        f"""
        SELECT r_id, bool_or(name = '{NameLevel.DIALECT}' OR {sql_in("spelling", ONE_EDIT)})
                   AS holder_near
        FROM ff_pair_features WHERE pass = '{Pass.NAME}' AND id = '{IdLevel.SAME}'
        GROUP BY r_id
        """,
    )


_TIES_AND_AMBIGUITIES = """
    WITH candidates AS (
        -- A record whose ID's holder carries a near name is not tied by name: every candidate
        -- is only listed.
        SELECT s.r_id, s.m_id, s.method, s.reason,
               CASE WHEN d.holder_near THEN {listed} ELSE s.rank END AS rank
        FROM ff_scored_pairs s LEFT JOIN ff_disputed_ids d USING (r_id)
    ), single AS (
        -- Most records have one candidate: tie them without the window and list machinery.
        SELECT r_id, any_value(m_id) AS m_id, any_value(method) AS method
        FROM candidates GROUP BY r_id HAVING count(*) = 1 AND min(rank) < {listed}
    ), per_pair AS (
        SELECT r_id, m_id, min(rank) AS rank,
               arg_min(method, rank) AS method, arg_min(reason, rank) AS reason
        FROM candidates WHERE r_id NOT IN (SELECT r_id FROM single)
        GROUP BY r_id, m_id
    ), ranked AS (
        SELECT p.*, m.household_id, m.is_head, m.rejected, r.hh_level,
               min(CASE WHEN p.rank < {listed} THEN p.rank END)
                   OVER (PARTITION BY p.r_id) AS best
        FROM per_pair p JOIN ff_members m USING (m_id) JOIN ff_records r USING (r_id)
    ), grouped AS (
        SELECT r_id, any_value(hh_level) AS hh_level,
               count(*) FILTER (WHERE rank = best) AS n_best,
               count(DISTINCT household_id) FILTER (WHERE rank = best) AS households,
               arg_min(m_id, {{'head': NOT is_head, 'm': m_id}})
                   FILTER (WHERE rank = best) AS pick,
               arg_min(method, {{'head': NOT is_head, 'm': m_id}})
                   FILTER (WHERE rank = best) AS method,
               -- the reason of the strongest candidates (one per rank in the scoring table)
               arg_min(reason, {{'rank': rank, 'm': m_id}}) AS reason,
               bool_or(rejected) FILTER (WHERE rank = best) AS rejected_rival,
               list(m_id ORDER BY rank, m_id) AS candidates
        FROM ranked GROUP BY r_id
    )
    -- A household-level record is tied to its household when its strongest candidates are all
    -- of one household; namesakes in several households are ambiguous (contract §3: name +
    -- 乡镇 + 村 must identify one member), even when one of them is the roster's 户主: a
    -- department's 户主 column may name the spouse or an adult child (the 户主 among them had
    -- been picked: two independent probes found a household warned for its namesake's house).
    -- A record whose ID is someone else's is ambiguous because of that conflict.
    , decided AS (
        SELECT g.r_id,
               CASE WHEN n_best = 1 OR (hh_level AND n_best > 0 AND households = 1)
                    THEN 'matched' ELSE 'ambiguous' END AS status,
               CASE WHEN n_best = 1 OR (hh_level AND n_best > 0 AND households = 1) THEN pick
               END AS m_id,
               method,
               CASE WHEN d.r_id IS NOT NULL THEN 'id_name_conflict'
                    WHEN n_best > 1 AND rejected_rival THEN 'rejected_rival'
                    ELSE g.reason END AS reason,
               candidates, d.r_id IS NOT NULL AS disputed
        FROM grouped g LEFT JOIN ff_disputed_ids d USING (r_id)
    )
    SELECT r_id, 'matched' AS status, m_id, method, NULL AS reason, NULL::BIGINT[] AS candidates
    FROM single
    UNION ALL
    -- A record whose ID is another member's is tied by its name only where its birth date
    -- agrees with the named member too (a tie of tier 4), or that ID is one slip of the hand
    -- from the named member's own (_SLIP): a name and 村 beside someone else's whole ID (a column
    -- slipped a row, the applicant's ID beside the beneficiary's name) could be either of them,
    -- and is listed for the district with both.
    SELECT r_id, CASE WHEN doubted THEN 'ambiguous' ELSE status END AS status,
           CASE WHEN doubted THEN NULL ELSE m_id END AS m_id, method, reason, candidates
    FROM (SELECT x.*, x.disputed AND x.status = 'matched' AND x.method NOT IN ({birth_ties})
                      AND NOT {slip} AS doubted
          FROM decided x
          LEFT JOIN ff_records r USING (r_id)
          LEFT JOIN ff_members p ON p.m_id = x.m_id)
    UNION ALL
    -- the records tied before the search (settle), with the method of the line they meet
    SELECT s.r_id, 'matched', s.m_id, t.method, NULL, NULL
    FROM ff_settled s JOIN ff_score_lines t ON t.line = {settling}
"""

# the methods that tie by name and birth date (tier 4)
_BIRTH_TIES = ", ".join(f"'{code}'" for code, method in METHODS.items() if method.tier == 4)
# SQL over the record `r` and the member `p` its name ties it to: the record's ID is the member's
# own mistyped once: at most two of the first 17 characters differ (a digit, two neighbours
# swapped, two digits of the sequence), or the month and day of birth are swapped
_SLIP = (
    "coalesce(hamming(left(r.id18, 17), left(p.id18, 17)) <= 2"
    " OR left(r.id18, 10) || substr(r.id18, 13, 2) || substr(r.id18, 11, 2)"
    " || substr(r.id18, 15, 3) = left(p.id18, 17), false)"
)

_UNMATCHED = """
    INSERT INTO ff_decisions
    SELECT r.r_id, 'unmatched', NULL, NULL,
           CASE
               WHEN r.nk IS NULL THEN 'no_name'
               -- its ID's holder (or a namesake) answered 非本人 for it: said, not taken for an
               -- ID the roster lacks (the department would be told its ID is wrong)
               WHEN r.r_id IN (SELECT r_id FROM ff_ruled_out) THEN 'ruled_out'
               WHEN r.id_status = '{destroyed}' THEN 'destroyed'
               WHEN r.area IS NOT NULL AND r.area NOT IN (
                   SELECT DISTINCT left(id18, 6) FROM ff_members WHERE id_ok
               ) THEN 'out_of_district'
               WHEN r.id18 IS NOT NULL AND r.id_ok THEN 'id_not_in_roster'
               WHEN r.id18 IS NOT NULL THEN 'bad_id'
               WHEN r.own_birth IS NULL AND r.id_birth IS NULL AND r.village IS NULL
                   THEN 'no_id_no_place'
               ELSE 'no_id_name_not_found'
           END,
           []::BIGINT[]
    FROM ff_records r
    WHERE r.r_id NOT IN (SELECT r_id FROM ff_decisions)
"""

# reasons of an unmatched record whose ID found nobody (another district's, the roster's nobody,
# or unreadable and not repaired) while its name may be a member's
ID_FOUND_NOBODY = ("out_of_district", "id_not_in_roster", "bad_id")

# Such a record is not tied by its name: the ID rules the namesake out (another birth date,
# another area). It is unmatched all the same, but the few members of its name in its 村 are
# listed with it, so the district sees whom to check it against (an independent probe, indep38,
# found "按姓名也未找到此人" beside the one member the name and 村 fit). A name many in the 村
# share (more than NAMESAKES_SHOWN) says little of whom the record is: none is listed
NAMESAKES_SHOWN = 3
_NAMESAKES_SHOWN = f"""
    UPDATE ff_decisions d SET candidates = c.candidates
    FROM (
        SELECT u.r_id, list(m.m_id ORDER BY m.m_id) AS candidates
        FROM (SELECT r.r_id, r.nk, r.village
              FROM ff_decisions x JOIN ff_records r ON r.r_id = x.r_id
              WHERE x.status = 'unmatched' AND x.reason IN {ID_FOUND_NOBODY}
                AND r.nk IS NOT NULL AND r.village IS NOT NULL) u
        JOIN ff_members m ON m.nk = u.nk AND m.village = u.village AND NOT m.rejected
        GROUP BY u.r_id HAVING count(*) <= {NAMESAKES_SHOWN}
    ) c
    WHERE d.r_id = c.r_id
"""

# A roster row the ingest rejected (its 户编号 destroyed by Excel …) is still someone of its
# village: the record it is the one candidate for is not tied (its member's row was not read), and
# a namesake it rivals is not tied either (rejected_rival). Such rows are never listed as
# candidates (they have no member to show); an ambiguity among them alone is unmatched.
_REJECTED_ROWS = """
    UPDATE ff_decisions d
    SET status = 'unmatched', m_id = NULL, method = NULL, reason = 'roster_rejected',
        candidates = []::BIGINT[]
    WHERE (d.status = 'matched' AND d.m_id IN (SELECT m_id FROM ff_members WHERE rejected))
       OR (d.status = 'ambiguous'
           AND d.r_id IN (SELECT u.r_id
                          FROM (SELECT r_id, unnest(candidates) AS m_id
                                FROM ff_decisions WHERE status = 'ambiguous') u
                          JOIN ff_members m USING (m_id)
                          GROUP BY u.r_id HAVING bool_and(m.rejected)))
"""
