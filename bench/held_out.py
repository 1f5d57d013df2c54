"""A copy of the bench district at the held-out district's weight (issue 10), for one more timed
first run: M's files and the roster untouched, the earlier claims months keeping one data row in
`keep` of every CSV (their XLSX files whole). The held-out district's 222 MB of CSV hold a
1,000,000-member roster (at least ≈ 115 MB as the contract's required columns are written),
287k enrollment, 151k education and 39k disability rows: at most ≈ 70 MB are left for its ten
claims months and every other list, ≈ 90k claims rows a month at the fewest bytes a claims row
takes. One row in two of ours is ≈ 127k a month, and the copy's raw files stay ≈ 1.9× the
held-out's."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# a data row of a claims CSV: a date (2026-03-05, 2026/3/5, 2026.03.05, 20260305, 2026年, in
# UTF-8 or GBK) and most of the columns; the title, header, 合计 and note lines are kept
_DATE = re.compile(rb"20\d\d[-/.]\d|20\d{6}|20\d\d(?:\xe5\xb9\xb4|\xc4\xea)")
_TOTALS = ("合计".encode(), "合计".encode("gbk"))


def _thinned(data: bytes, keep: int) -> tuple[bytes, int, int]:
    lines = data.split(b"\n")
    kept, rows, left = [], 0, 0
    for number, line in enumerate(lines):
        row = (
            number >= 3
            and line.count(b",") >= 8
            and _DATE.search(line) is not None
            and not any(t in line for t in _TOTALS)
        )
        if row:
            rows += 1
            if rows % keep:
                continue
            left += 1
        kept.append(line)
    return b"\n".join(kept), rows, left


def held_out_copy(root: Path, scratch: Path, month: str, keep: int = 2) -> dict:
    """`scratch` made a copy of `root`'s raw files (hard links but for the thinned ones);
    returns the earlier claims rows before and after, and the copy's raw MB."""
    shutil.rmtree(scratch, ignore_errors=True)
    before = after = size = 0
    for path in sorted((root / "raw").rglob("*")):
        if path.is_dir():
            continue
        relative = path.relative_to(root)
        out = scratch / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        earlier_claims = relative.parts[1] < month and relative.parts[2] == "medical_claims"
        if earlier_claims and path.suffix.lower() == ".csv":
            data, rows, left = _thinned(path.read_bytes(), keep)
            out.write_bytes(data)
            before, after = before + rows, after + left
        else:
            os.link(path, out)
        size += out.stat().st_size
    return {"claims_rows_before": before, "claims_rows_after": after, "raw_mb": size / 1e6}
