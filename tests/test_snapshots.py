"""Roster and grid are snapshots: a month without one uses the latest earlier month's, never a later."""

from __future__ import annotations

from pipelines.staging import latest_snapshot_folder


def test_latest_earlier_snapshot_stands_in(tmp_path):
    raw = tmp_path / "raw"
    for month in ("2026-08", "2026-10"):
        (raw / month / "grid").mkdir(parents=True)
    (raw / "2026-09" / "roster").mkdir(parents=True)
    assert latest_snapshot_folder(raw, "2026-10", "grid") == (raw / "2026-10" / "grid", "2026-10")
    assert latest_snapshot_folder(raw, "2026-09", "grid") == (raw / "2026-08" / "grid", "2026-08")
    assert latest_snapshot_folder(raw, "2026-07", "grid") is None  # a later one never stands in
    assert latest_snapshot_folder(raw, "2026-12", "roster") == (
        raw / "2026-09" / "roster",
        "2026-09",
    )
