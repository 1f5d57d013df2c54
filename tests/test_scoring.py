"""Scoring warnings against truth: person rules compare members, household rules households."""

from __future__ import annotations

import polars as pl

from pipelines.scoring import score


def test_precision_and_recall_per_rule():
    expected = pl.DataFrame(
        {
            "rule": ["ZJ01", "ZJ01", "GA02", "GA02"],
            "household_id": ["H1", "H2", "H3", "H3"],
            "member_id_number": ["", "", "A", "B"],
            "recoverable": ["true", "false", "true", "true"],
        }
    )
    produced = pl.DataFrame(
        {
            "rule": ["ZJ01", "ZJ01", "GA02", "GA02"],
            "household_id": ["H1", "H9", "H3", "H3"],
            # a household rule names some member; only the household counts
            "member_id_number": ["X", "Y", "A", "C"],
        }
    )
    table = {r["rule"]: r for r in score(produced, expected).iter_rows(named=True)}
    assert table["ZJ01"]["true_positives"] == 1
    assert table["ZJ01"]["precision"] == 0.5 and table["ZJ01"]["recall"] == 0.5
    assert table["ZJ01"]["recall_recoverable"] == 1.0
    assert table["GA02"]["true_positives"] == 1 and table["GA02"]["produced"] == 2
    assert table["YB01"]["precision"] is None and table["YB01"]["expected"] == 0


def test_match_scoring_per_tier_and_recall_over_recoverable():
    from pipelines.scoring import score_matches

    truth = pl.DataFrame(
        {
            "record_key": ["a", "b", "c", "d", "e", "f"],
            "source": ["x"] * 6,
            "true_member": ["H1|1", "H1|2", "H2|3", None, "H3|4", "H4|5"],
            "true_household": ["H1", "H1", "H2", None, "H3", "H4"],
            "recoverable": [True, True, True, True, False, True],
            "bad_row": [False] * 5 + [True],
        }
    )
    matches = pl.DataFrame(
        {
            "record_key": ["a", "b", "d", "c"],
            "member_key": ["H1|1", "H1|9", "H7|7", "H2|8"],
            "household_id": ["H1", "H1", "H7", "H2"],
            "tier": [1, 1, 5, 4],
            "method": ["证件号码一致", "证件号码一致", "姓名+村", "姓名+村（户级）"],
        }
    )
    table = {r["tier"]: r for r in score_matches(matches, truth).iter_rows(named=True)}
    assert (table["1"]["ties"], table["1"]["correct"]) == (2, 1)
    assert table["5"]["precision"] == 0.0  # an outsider tied to someone: wrong
    assert table["4"]["correct"] == 1  # household-level: the right household is enough
    overall = table["all"]
    assert (overall["ties"], overall["correct"]) == (4, 2)
    assert overall["recall"] == 2 / 3  # a, b, c are recoverable members; e is not; f is a bad row


def test_a_member_whose_roster_id_excel_destroyed_is_scored_by_what_survives_of_it():
    """A roster saved by Excel (3.41502E+17) leaves its members without IDs: a warning about one
    counts as right when exactly one expected member of its rule and household has an ID that
    begins with the surviving digits and carries the member's birth date."""
    from datetime import date

    expected = pl.DataFrame(
        {
            "rule": ["GA01", "JY02", "CL01", "CL01", "RS01"],
            "household_id": ["H1", "H1", "H2", "H2", "H3"],
            "member_id_number": [
                "341502198212213370",
                "341502200711146934",
                "341502199001011234",
                "341502199001015678",  # twins: not told apart
                "341502196005054321",
            ],  # fmt: skip
            "recoverable": ["true"] * 5,
        }
    )
    produced = pl.DataFrame(
        {
            "rule": ["GA01", "JY02", "CL01", "RS01"],
            "household_id": ["H1", "H1", "H2", "H3"],
            "member_id_number": [None, None, None, None],
            "member_id_prefix": ["3415021982122", "341502", "3415021990010", "3415029"],
            "member_birth": [date(1982, 12, 21), None, date(1990, 1, 1), date(1960, 5, 5)],
        },
        schema_overrides={"member_id_number": pl.String},
    )
    table = {r["rule"]: r for r in score(produced, expected).iter_rows(named=True)}
    assert table["GA01"]["true_positives"] == 1  # prefix and birth date agree
    assert table["JY02"]["true_positives"] == 1  # the area alone, one member expected
    assert table["CL01"]["true_positives"] == 0  # twins: two IDs fit, none is chosen
    assert table["RS01"]["true_positives"] == 0  # the surviving digits are another's
    # a birth date that differs rules the member out
    other = produced.with_columns(member_birth=pl.lit(date(1983, 1, 1)))
    assert score(other, expected).filter(pl.col("rule") == "GA01")["true_positives"][0] == 0
