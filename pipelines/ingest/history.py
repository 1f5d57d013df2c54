"""Which earlier months of the year YB01 still needs: claims in raw/ but not yet in the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb

CLAIMS = "medical_claims"


def claims_months_to_ingest(
    con: duckdb.DuckDBPyConnection | None, raw: Path, district: str, month: str
) -> list[str]:
    """Months of M's year before M with a claims folder in raw/ that the warehouse has not staged
    (`con` None: no warehouse yet, so every such month)."""
    earlier = sorted(
        p.parent.name for p in raw.glob(f"{month[:4]}-*/{CLAIMS}") if p.parent.name < month
    )
    if con is None or not earlier:
        return earlier
    staged = {
        row[0]
        for row in con.execute(
            "SELECT month FROM source_status WHERE district = ? AND source = ?",
            [district, CLAIMS],
        ).fetchall()
    }
    return [m for m in earlier if m not in staged]
