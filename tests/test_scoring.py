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
