"""Find the header row of a grid (one row, or a two-row merged header) and map columns to fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import polars as pl

from pipelines.sources import Field, normalise_header

# how far down a title block may push the header
SCAN_ROWS = 15
SEQUENCE_HEADERS = ("序号", "编号", "No", "NO", "no", "序")


@dataclass(frozen=True)
class Header:
    """Where the header is and what each column means."""

    rows: tuple[int, ...]  # 0-based positions in the grid of the header row(s)
    labels: tuple[str, ...]  # per cell column: the comparable header key ('' when unlabelled)
    fields: dict[str, int]  # field name -> cell column index

    @property
    def body_start(self) -> int:
        return self.rows[-1] + 1

    def column_of(self, field: str) -> int | None:
        return self.fields.get(field)

    def sequence_columns(self) -> list[int]:
        """Columns headed 序号: their numbers alone do not make a row data."""
        return [i for i, label in enumerate(self.labels) if label in SEQUENCE_HEADERS]


@cache
def _alias_index(fields: tuple[Field, ...]) -> dict[str, list[tuple[str, int]]]:
    """Header key -> [(field, alias priority)] for every alias of every field."""
    index: dict[str, list[tuple[str, int]]] = {}
    for field in fields:
        for priority, alias in enumerate(field.headers):
            index.setdefault(normalise_header(alias), []).append((field.name, priority))
    return index


def assign_fields(labels: Sequence[str], fields: Sequence[Field]) -> dict[str, int]:
    """Field -> column. Each field takes the free column whose header is its highest-priority
    alias (姓名 before 户主姓名 unless the source lists 户主姓名 first); leftmost on a tie."""
    index = _alias_index(tuple(fields))
    # the columns whose header is some alias, left to right (most rows scanned are data: none)
    aliased = [(column, index[label]) for column, label in enumerate(labels) if label in index]
    claimed: set[int] = set()
    assigned: dict[str, int] = {}
    for field in fields if aliased else ():
        best: tuple[int, int] | None = None
        for column, aliases in aliased:
            if column in claimed:
                continue
            for name, priority in aliases:
                if name == field.name and (best is None or priority < best[0]):
                    best = (priority, column)
        if best is not None:
            assigned[field.name] = best[1]
            claimed.add(best[1])
    return assigned


def _row_keys(row: Sequence[str | None]) -> list[str]:
    return [normalise_header(cell) for cell in row]


def _combined_labels(parent: list[str], child: list[str], known: set[str]) -> list[str]:
    """Two header rows -> one key per column: parent+child, else child, else parent.

    A merged parent cell (村组网格员 over 姓名/…/联系电话) holds its text in its first column
    only; it is carried right over the columns that have a child label.
    """
    labels: list[str] = []
    carried = ""
    for top, bottom in zip(parent, child, strict=True):
        if top:
            carried = top
        elif not bottom:
            carried = ""
        above = top or (carried if bottom else "")
        candidates = [above + bottom if above and bottom and above != bottom else "", bottom, above]
        labels.append(
            next((c for c in candidates if c in known), next((c for c in candidates if c), ""))
        )
    return labels


def find_header(
    cells: pl.DataFrame, columns: Sequence[str], fields: Sequence[Field]
) -> Header | None:
    """The header among the first rows: the row (or row pair) mapping the most fields.

    A two-row header wins only when it maps more fields than either of its rows alone, so a
    title row above a plain header is never mistaken for a parent row.
    """
    head = cells.select(columns).head(SCAN_ROWS + 1).rows()
    if not head:
        return None
    known = set(_alias_index(tuple(fields)))
    keys = [_row_keys(row) for row in head]
    best: Header | None = None
    best_score = 0
    single_scores: list[int] = []
    for position, row in enumerate(keys[:SCAN_ROWS]):
        assigned = assign_fields(row, fields)
        single_scores.append(len(assigned))
        if len(assigned) > best_score:
            best, best_score = Header((position,), tuple(row), assigned), len(assigned)
    for position in range(min(SCAN_ROWS, len(keys) - 1)):
        labels = _combined_labels(keys[position], keys[position + 1], known)
        assigned = assign_fields(labels, fields)
        alone = max([single_scores[position], *single_scores[position + 1 : position + 2]])
        if len(assigned) > alone and len(assigned) > best_score:
            best, best_score = (
                Header((position, position + 1), tuple(labels), assigned),
                len(assigned),
            )
    return best
