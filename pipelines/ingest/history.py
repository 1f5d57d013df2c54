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


# SQL (parameters $district, $month): the numbers of the months of M's year before M whose claims
# the warehouse does not hold (no folder when they were staged, nothing usable read, or never
# staged), comma-separated, NULL when there is none: YB01's year is summed without them
MISSING_CLAIMS_MONTHS_SQL = f"""(
    SELECT string_agg(n::VARCHAR, ',' ORDER BY n)
    FROM range(1, CAST(substr($month, 6, 2) AS INTEGER)) AS r(n)
    WHERE NOT EXISTS (
        SELECT 1 FROM source_status c
        WHERE c.district = $district AND c.source = '{CLAIMS}' AND c.received
          AND c.records > 0 AND c.month = substr($month, 1, 5) || lpad(n::VARCHAR, 2, '0')))"""


def missing_claims_months(con: duckdb.DuckDBPyConnection, district: str, month: str) -> list[int]:
    """The months (numbers) of M's year before M that YB01's sum goes without
    (MISSING_CLAIMS_MONTHS_SQL)."""
    ((found,),) = con.execute(
        f"SELECT {MISSING_CLAIMS_MONTHS_SQL}", {"district": district, "month": month}
    ).fetchall()
    return [int(n) for n in found.split(",")] if found else []


def _runs(numbers: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def month_span(numbers: list[int]) -> str:
    """Month numbers as a reader writes them: [1, 2, 3, 5] → 1—3、5月; [7] → 7月."""
    return "、".join(f"{r[0]}—{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in _runs(numbers)) + "月"


def month_folders(year: str, numbers: list[int]) -> str:
    """The raw/ month folders of those months: 2026-01 至 2026-03、2026-07."""
    return "、".join(
        f"{year}-{r[0]:02d}" + (f" 至 {year}-{r[-1]:02d}" if len(r) > 1 else "")
        for r in _runs(numbers)
    )
