"""Bulk cell writing for xlsxwriter: blocks of rows in a few vectorised steps, giving the very bytes
that one `set_row` per row and one `write_string` / `write_number` per cell would give.

xlsxwriter spends ~20 µs of Python per cell (the write call, then its XML at close); 40,000
township rows are a million cells. Here the strings of a block are registered in the shared-string
table in the order the per-cell calls would register them, and the block's `<row>`/`<c>` XML is
built by polars string expressions from the templates xlsxwriter writes (worksheet._write_row /
_write_cell, xmlwriter._xml_string_element / _xml_number_element). Everything else (columns,
formats and their style indices, page setup, zip packaging) is xlsxwriter's own code.
`write_blocks` prepares many sheets (one block each, e.g. one per township workbook) in one pass.

A cell's style index is handed out by xlsxwriter only at close, the first time its format is
written: the prepared XML carries a placeholder per format, replaced at close after the formats
have been asked in the order of their first cells. A block holding something xlsxwriter treats
specially (NaN or ∞, a string it would cut, a row past the sheet, a zero row height), or a block
too small to be worth it, goes through the per-cell calls instead: the result and any error are
then xlsxwriter's own.

sharedStrings.xml is written the same way: plain strings by one expression, every string that
needs escaping or whitespace preservation by xlsxwriter's own `_write_si`.

Pinned against the per-cell calls by tests/test_export_speed_identity.py (xlsxwriter is locked in
uv.lock; a new version must pass those tests before it is taken).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.sharedstrings import SharedStrings
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import RowInfo, Worksheet

SPAN_ROWS = 16  # xlsxwriter's `spans` attribute covers blocks of 16 rows
# cells below which a block goes through the per-cell calls: a dozen polars steps cost more
SMALL_BLOCK = 2000
# a longer string may be cut by xlsxwriter (32,767 UTF-16 units): left to it
PLAIN_STRING_LIMIT = 32767 // 2
# a cell's style attribute until its format's index is known (at close); no sheet XML holds
# these characters otherwise (cell text lives in sharedStrings.xml)
_STYLE = "\x01{}\x02"
_SHARED_SPAN = "\x03"  # the spans of the 16 rows the block shares with rows written per cell

# Python's `\s` (xlsxwriter's leading/trailing whitespace test) spelled out for polars' regex
# engine; all of str.isspace() lies in the Basic Multilingual Plane (checked by the tests)
SPACE_CLASS = "".join(f"\\x{{{c:x}}}" for c in range(0x10000) if chr(c).isspace())
# a shared string xlsxwriter writes other than as <si><t>text</t></si>: XML escapes (and a rich
# string's "<r>"), control characters, _xHHHH_ look-alikes, the two non-characters, leading or
# trailing whitespace
SPECIAL_SI = (
    rf"[&<>\x00-\x08\x0b-\x1f\x{{fffe}}\x{{ffff}}]|_x[0-9a-fA-F]{{4}}_"
    rf"|^[{SPACE_CLASS}]|[{SPACE_CLASS}]$"
)


@dataclass(frozen=True)
class Cells:
    """One column of a block: `values` (String: shared strings; integer or float: numbers; null:
    no cell), the cells' format (None: the column's, as xlsxwriter falls back; a name: looked up
    per sheet, see write_blocks), and (mask, format) pairs of which the first true one wins."""

    values: pl.Series
    fmt: Format | str | None = None
    special: tuple[tuple[pl.Series, Format | str], ...] = ()

    @property
    def numeric(self) -> bool:
        return self.values.dtype.is_integer() or self.values.dtype.is_float()


@dataclass
class _Prepared:
    """A sheet's block, ready but for its style indices."""

    first_row: int
    height: int
    xml: str  # the block's <row> elements, style placeholders unresolved
    formats: list[Format | None]  # format role -> this sheet's format (None: no style)
    first_use: list[int]  # the roles the cells use, in the order of their first cell
    spans: dict[int, str]  # span key -> "lo:hi" of the block's cells
    column_formats: dict[int, Format | None]  # the column formats the cells fell back to
    row_attributes: dict[int | None, str]  # what each row height wrote after r= and spans=


def _v(j: int) -> str:
    return f"v{j}"


def _x(j: int) -> str:
    return f"x{j}"


def _f(j: int) -> str:
    return f"f{j}"


def _m(j: int, k: int) -> str:
    return f"m{j}_{k}"


class BulkWorksheet(Worksheet):
    """A worksheet that also takes a whole block of rows (`write_block`, `write_blocks`)."""

    def __init__(self) -> None:
        super().__init__()
        self._prepared: _Prepared | None = None

    def write_block(
        self,
        first_row: int,
        columns: Sequence[Cells],
        heights: Sequence[float] | None = None,
    ) -> None:
        """Rows first_row.. of `columns` (column 0 first): as if, row by row, `set_row(row,
        heights[i])` (when heights are given) and then, left to right, `write_string` /
        `write_number` for each non-null value. One block per sheet, below the rows written cell
        by cell, the columns' formats set before; nothing is written into or below it after."""
        columns = list(columns)
        write_blocks(
            [self], first_row, columns, heights, [len(columns[0].values) if columns else 0]
        )

    # -- the reference semantics, one xlsxwriter call per row and per cell ----------------------

    def _write_cell_by_cell(self, first_row, columns: list[Cells], heights) -> None:
        values = [c.values.to_list() for c in columns]
        masks = [[(m.to_list(), f) for m, f in c.special] for c in columns]
        for i in range(len(values[0]) if values else 0):
            row = first_row + i
            if heights is not None:
                self.set_row(row, heights[i])
            for col, cells in enumerate(columns):
                value = values[col][i]
                if value is None:
                    continue
                fmt = next((f for m, f in masks[col] if m[i]), cells.fmt)
                if cells.numeric:
                    self._write_number(row, col, value, fmt)
                else:
                    self._write_string(row, col, value, fmt)

    # -- at close --------------------------------------------------------------------------------

    def _write_sheet_data(self) -> None:
        block = self._prepared
        if block is None or self.dim_rowmin is None:
            super()._write_sheet_data()
            return
        for j, fmt in block.column_formats.items():
            current = self.col_info[j].column_format if j in self.col_info else None
            if current is not fmt:
                raise RuntimeError("a column's format changed after its block was written")
        if any(self._row_attributes(p) != a for p, a in block.row_attributes.items()):
            raise RuntimeError("the default row height changed after the block was written")
        end = block.first_row + block.height
        if any(r >= block.first_row for r, row in self.table.items() if row) or any(
            r >= end for r in self.row_info
        ):
            raise RuntimeError("a cell or row was written into or below the block after it")
        self._xml_start_tag("sheetData")
        self.row_spans = self._spans_with_earlier_rows(block)
        self._write_rows_before(block.first_row)
        # the formats are asked in the order of their first cells: that hands out their indices
        for number in block.first_use:
            if block.formats[number] is not None:
                block.formats[number]._get_xf_index()
        xml = block.xml
        if block.first_row % SPAN_ROWS:  # the 16 rows shared with the rows written per cell
            span = self.row_spans.get(block.first_row // SPAN_ROWS)
            xml = xml.replace(_SHARED_SPAN, f' spans="{span}"' if span else "")
        for number in block.first_use:
            fmt = block.formats[number]
            xml = xml.replace(
                _STYLE.format(number), "" if fmt is None else f' s="{fmt._get_xf_index()}"'
            )
        self.fh.write(xml)
        self._xml_end_tag("sheetData")

    def _spans_with_earlier_rows(self, block: _Prepared) -> dict[int, str]:
        spans = dict(block.spans)
        earlier: dict[int, tuple[int, int]] = {}
        for row_num, row in self.table.items():
            if row and row_num < block.first_row:
                key = row_num // SPAN_ROWS
                lo, hi = earlier.get(key, (min(row), max(row)))
                earlier[key] = (min(lo, min(row)), max(hi, max(row)))
        for key, (lo, hi) in earlier.items():
            if key in spans:  # the 16-row block shared with the block's first rows
                a, b = (int(x) - 1 for x in spans[key].split(":"))
                lo, hi = min(lo, a), max(hi, b)
            spans[key] = f"{lo + 1}:{hi + 1}"
        return spans

    def _write_rows_before(self, end: int) -> None:
        """xlsxwriter's own row loop (_write_rows) for the rows written cell by cell."""
        for row_num in range(self.dim_rowmin, min(end, self.dim_rowmax + 1)):
            if row_num in self.row_info or row_num in self.comments or self.table[row_num]:
                span = self.row_spans.get(row_num // SPAN_ROWS)
                info = self.row_info.get(row_num)
                if self.table[row_num]:
                    self._write_row(row_num, span, info)
                    for col_num in range(self.dim_colmin, self.dim_colmax + 1):
                        if col_num in self.table[row_num]:
                            self._write_cell(row_num, col_num, self.table[row_num][col_num])
                    self._xml_end_tag("row")
                else:
                    self._write_empty_row(row_num, span, info)

    def _row_attributes(self, pixels: int | None) -> str:
        """What _write_row writes after r= and spans= for a row of this height (no row format)."""
        height = self.default_row_height if pixels is None else pixels
        custom = height != self.original_row_height or (
            height == self.original_row_height and height != self.default_row_height
        )
        text = f' ht="{height * 0.75:.16g}"' if custom else ""
        text += ' customHeight="1"' if custom else ""
        if self.excel_version == 2010:
            text += ' x14ac:dyDescent="0.25"'
        return text


def write_blocks(
    sheets: Sequence[BulkWorksheet],
    first_row: int,
    columns: Sequence[Cells],
    heights: Sequence[float] | None,
    lengths: Sequence[int],
    formats: Sequence[Mapping[str, Format]] | None = None,
) -> None:
    """`columns` cut into consecutive runs of `lengths` rows, run i written to sheets[i] from
    first_row on: as if `sheets[i].write_block(first_row, <run i>, <its heights>)` were called
    for each sheet in turn. Every sheet lives in a workbook of its own (or nothing is written to
    their workbook between the blocks). A format given by name is formats[i][name] in sheet i."""
    columns = list(columns)
    total = sum(lengths)
    if len(sheets) != len(lengths) or any(len(c.values) != total for c in columns):
        raise ValueError("write_blocks: one run per sheet, the runs make up the columns")
    if heights is not None and len(heights) != total:
        raise ValueError("write_blocks: one height per row")
    for sheet in sheets:
        if sheet._prepared is not None or any(
            r >= first_row for r, row in sheet.table.items() if row
        ):
            raise ValueError("write_blocks: one block per sheet, below the rows written per cell")
    for cells in columns:
        if not cells.numeric and cells.values.dtype != pl.String:
            raise TypeError(f"write_blocks: {cells.values.dtype} is neither text nor a number")
    offsets = [sum(lengths[:i]) for i in range(len(lengths))]
    pixels = None if heights is None else [int(h * 4.0 / 3.0 + 0.5) for h in heights]
    data = pl.DataFrame(
        {_v(j): c.values for j, c in enumerate(columns)}
        | {
            _m(j, k): mask.fill_null(False)
            for j, c in enumerate(columns)
            for k, (mask, _) in enumerate(c.special, start=1)
        }
    )
    named = list(formats) if formats is not None else [{} for _ in sheets]
    if total * len(columns) < SMALL_BLOCK or not _bulk_safe(
        sheets[0], first_row, columns, data, pixels
    ):
        for g, (sheet, offset, length) in enumerate(zip(sheets, offsets, lengths, strict=True)):

            def own(fmt: Format | str | None, g: int = g) -> Format | None:
                return named[g][fmt] if isinstance(fmt, str) else fmt

            sheet._write_cell_by_cell(
                first_row,
                [
                    Cells(c.values.slice(offset, length), own(c.fmt),
                          tuple((m.slice(offset, length), own(f)) for m, f in c.special))
                    for c in columns
                ],
                None if heights is None else list(heights[offset : offset + length]),
            )  # fmt: skip
        return
    _Preparation(sheets, first_row, columns, data, pixels, lengths, offsets, named).run()


def _bulk_safe(
    sheet: Worksheet, first_row: int, columns: list[Cells], data: pl.DataFrame, pixels
) -> bool:
    """Nothing in the block that xlsxwriter would treat specially."""
    if first_row + data.height > sheet.xls_rowmax or len(columns) > sheet.xls_colmax:
        return False
    if pixels is not None and 0 in pixels:
        return False  # a zero height hides the row: left to set_row
    checks = [
        (pl.col(_v(j)).str.len_chars().max() <= PLAIN_STRING_LIMIT)
        if not c.numeric
        else pl.col(_v(j)).is_finite().all()
        for j, c in enumerate(columns)
        if not c.numeric or c.values.dtype.is_float()
    ]
    if not checks or not data.height:
        return True
    return all(v is not False for v in data.select(checks).row(0))


class _Preparation:
    """The vectorised work of write_blocks, for all its sheets at once."""

    def __init__(self, sheets, first_row, columns, data, pixels, lengths, offsets, named) -> None:
        self.sheets = list(sheets)
        self.named = named
        self.first_row = first_row
        self.columns = columns
        self.width = len(columns)
        self.pixels = pixels
        self.lengths = list(lengths)
        self.offsets = offsets
        group = pl.Series("g", [g for g, n in enumerate(lengths) for _ in range(n)], pl.UInt32)
        self.data = data.with_columns(group.alias("g")).with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).over("g").alias("r")
        )

    def run(self) -> None:
        self._rows_and_dimensions()
        self._register_strings()
        self._number_texts()
        self._format_codes()
        spans = self._spans()
        xml = self._xml(spans)
        first_use = self._first_use()
        for g, sheet in enumerate(self.sheets):
            used = [number for _, _, number in sorted(first_use[g])]
            sheet._prepared = _Prepared(
                first_row=self.first_row,
                height=self.lengths[g],
                xml=xml[g],
                formats=self.resolved[g],
                first_use=used,
                spans=spans[g],
                column_formats=self.fallbacks[g],
                row_attributes=self.row_attributes,
            )

    def _rows_and_dimensions(self) -> None:
        """set_row for every row (row info and size, rows in the dimensions), and each sheet's used
        range grown to its cells, as the per-cell _check_dimensions calls would grow it."""
        if self.pixels is not None:
            infos = {p: RowInfo(height=p) for p in set(self.pixels)}
            for sheet, offset, length in zip(self.sheets, self.offsets, self.lengths, strict=True):
                part = self.pixels[offset : offset + length]
                rows = range(self.first_row, self.first_row + length)
                sheet.row_info.update(zip(rows, (infos[p] for p in part), strict=True))
                sheet.row_sizes.update(zip(rows, ([p, False] for p in part), strict=True))
                if length:
                    sheet._check_dimensions(self.first_row, sheet.dim_colmin or 0)
                    sheet._check_dimensions(self.first_row + length - 1, sheet.dim_colmin or 0)
        if not self.width:
            return
        present = [pl.col(_v(j)).is_not_null() for j in range(self.width)]
        rows = pl.col("r").filter(pl.any_horizontal(present))
        extent = (
            self.data.group_by("g")
            .agg(rows.min().alias("lo"), rows.max().alias("hi"), *(p.any() for p in present))
            .sort("g")
        )
        for g, lo, hi, *held in extent.iter_rows():
            used = [j for j, h in enumerate(held) if h]
            if used:
                sheet = self.sheets[g]
                sheet._check_dimensions(self.first_row + lo, used[0])
                sheet._check_dimensions(self.first_row + hi, used[-1])

    def _register_strings(self) -> None:
        """Register each run's strings in its sheet's shared-string table row by row, left to
        right, as write_string would; x{j} = each string cell's index as text."""
        text = [j for j, c in enumerate(self.columns) if not c.numeric]
        n, width = self.data.height, len(text)
        if not text or not n:
            self.data = self.data.with_columns(pl.lit(None, pl.String).alias(_x(j)) for j in text)
            return
        # every string cell, column after column, with its run and its place in the run
        cells = pl.concat(
            [
                self.data.select(
                    pl.col(_v(j)).alias("s"), "g", (pl.col("r") * width + k).alias("p")
                )
                for k, j in enumerate(text)
            ]
        )
        firsts = cells.drop_nulls("s").group_by("g", "s").agg(pl.col("p").min()).sort("g", "p")
        sizes = dict(firsts.group_by("g").len().iter_rows())
        counts = dict(cells.group_by("g").agg(pl.col("s").count()).iter_rows())
        indices, offset = [], 0
        for g, sheet in enumerate(self.sheets):
            # the run's distinct strings in the order of their first cell: those its table does
            # not hold yet are numbered on from the table's count, in that order
            strings = firsts.get_column("s").slice(offset, sizes.get(g, 0))
            offset += len(strings)
            table = sheet.str_table
            known = table.string_table
            held = (
                strings.is_in(pl.Series(list(known), dtype=pl.String).implode())
                if known
                else pl.Series([False] * len(strings), dtype=pl.Boolean)
            )
            fresh = strings.filter(~held).to_list()
            number = (~held).cast(pl.Int64).cum_sum() - 1 + table.unique_count
            if held.any():
                number = number.scatter(held.arg_true(), [known[x] for x in strings.filter(held)])
            first = table.unique_count
            known.update(zip(fresh, range(first, first + len(fresh)), strict=True))
            table.unique_count += len(fresh)
            table.count += counts.get(g, 0)
            indices.append(
                pl.DataFrame(
                    {
                        "g": pl.repeat(g, len(strings), dtype=pl.UInt32, eager=True),
                        "s": strings,
                        "i": number.cast(pl.UInt32),
                    }
                )
            )
        found = cells.join(
            pl.concat(indices), on=["g", "s"], how="left", maintain_order="left"
        ).get_column("i").cast(pl.String)  # fmt: skip
        self.data = self.data.with_columns(
            found.slice(k * n, n).alias(_x(j)) for k, j in enumerate(text)
        )

    def _number_texts(self) -> None:
        """A number cell's <v>: the value as xlsxwriter formats it ({:.16G})."""
        self.data = self.data.with_columns(
            pl.Series(
                _x(j), [None if v is None else f"{v:.16G}" for v in c.values.to_list()], pl.String
            )
            for j, c in enumerate(self.columns)
            if c.numeric
        )

    def _format_codes(self) -> None:
        """f{j}: which of column j's formats each cell takes (0: its own; k: the k-th special, the
        first true mask winning). Formats are roles, numbered alike in every sheet: a Format
        object, a name looked up in the sheet's `formats`, or column j's format (the fallback of a
        cell without one); each sheet resolves them to its own Format objects."""
        self.data = self.data.with_columns(
            _code(j, len(c.special)).alias(_f(j)) for j, c in enumerate(self.columns) if c.special
        )
        self.roles: list[tuple[str, object]] = []
        numbers: dict[tuple[str, object], int] = {}
        objects: dict[int, Format] = {}

        def role(fmt: Format | str | None, j: int) -> int:
            if fmt is None:
                key: tuple[str, object] = ("column", j)
            elif isinstance(fmt, str):
                key = ("name", fmt)
            else:
                key = ("object", id(fmt))
                objects[id(fmt)] = fmt
            if key not in numbers:
                numbers[key] = len(self.roles)
                self.roles.append(key)
            return numbers[key]

        self.column_roles = [
            [role(c.fmt, j), *(role(f, j) for _, f in c.special)]
            for j, c in enumerate(self.columns)
        ]
        self.resolved: list[list[Format | None]] = []
        self.fallbacks: list[dict[int, Format | None]] = []
        for g, sheet in enumerate(self.sheets):
            resolved, fallbacks = [], {}
            for kind, value in self.roles:
                if kind == "column":
                    fmt = sheet.col_info[value].column_format if value in sheet.col_info else None
                    fallbacks[value] = fmt
                elif kind == "name":
                    fmt = self.named[g][value]
                else:
                    fmt = objects[value]
                resolved.append(fmt)
            self.resolved.append(resolved)
            self.fallbacks.append(fallbacks)

    def _style(self, j: int) -> pl.Expr:
        """Column j's style placeholder, per cell."""
        roles = self.column_roles[j]
        expr = pl.lit(_STYLE.format(roles[0]))
        for k in range(1, len(roles)):
            expr = pl.when(pl.col(_f(j)) == k).then(pl.lit(_STYLE.format(roles[k]))).otherwise(expr)
        return expr

    def _first_use(self) -> list[list[tuple[int, int, int]]]:
        """Per sheet: (row, column, role) of the first cell of each format role (row by row, left
        to right): the order in which the per-cell writes would have asked for the indices."""
        out: list[list[tuple[int, int, int]]] = [[] for _ in self.sheets]
        if not self.width or not self.data.height:
            return out
        exprs, keys = [], []
        for j, c in enumerate(self.columns):
            present = pl.col(_x(j)).is_not_null()
            for k in range(1 + len(c.special)):
                cond = present if not c.special else present & (pl.col(_f(j)) == k)
                exprs.append(pl.col("r").filter(cond).min().alias(str(len(keys))))
                keys.append((j, k))
        for g, *firsts in self.data.group_by("g").agg(exprs).iter_rows():
            seen: dict[int, tuple[int, int, int]] = {}
            for (j, k), row in zip(keys, firsts, strict=True):
                number = self.column_roles[j][k]
                if row is not None and (number not in seen or (row, j) < seen[number][:2]):
                    seen[number] = (row, j, number)
            out[g] = list(seen.values())
        return out

    def _spans(self) -> list[dict[int, str]]:
        """Per sheet, xlsxwriter's _calculate_spans over its run: per block of 16 rows, the lowest
        and highest column holding a cell (joined at close with the rows written per cell)."""
        out: list[dict[int, str]] = [{} for _ in self.sheets]
        if not self.width or not self.data.height:
            return out
        cols = [pl.when(pl.col(_x(j)).is_not_null()).then(pl.lit(j)) for j in range(self.width)]
        per_block = (
            self.data.group_by("g", ((pl.col("r") + self.first_row) // SPAN_ROWS).alias("key"))
            .agg(
                pl.min_horizontal(cols).min().alias("lo"), pl.max_horizontal(cols).max().alias("hi")
            )
            .drop_nulls()
        )
        for g, key, lo, hi in per_block.iter_rows():
            out[g][key] = f"{lo + 1}:{hi + 1}"
        return out

    def _xml(self, spans: list[dict[int, str]]) -> list[str]:
        """Each run's <row> elements (style placeholders to be resolved at close)."""
        sheet = self.sheets[0]
        self.row_attributes = {
            p: sheet._row_attributes(p) for p in (set(self.pixels) if self.pixels else {None})
        }
        if not self.data.height:
            return ["" for _ in self.sheets]
        head = (self.first_row // SPAN_ROWS) if self.first_row % SPAN_ROWS else None
        keyed = [
            (g, key, f' spans="{s}"')
            for g, per_sheet in enumerate(spans)
            for key, s in per_sheet.items()
            if key != head  # the 16 rows shared with the rows written per cell: known at close
        ]
        span_frame = pl.DataFrame(
            keyed, schema={"g": pl.UInt32, "key": pl.Int64, "span": pl.String}, orient="row"
        )
        frame = self.data.with_columns(
            (pl.col("r") + self.first_row + 1).cast(pl.String).alias("_r"),
            ((pl.col("r") + self.first_row) // SPAN_ROWS).alias("key"),
        ).join(span_frame, on=["g", "key"], how="left", maintain_order="left")
        # the shared 16-row block's span is resolved at close, as a placeholder of its own
        span = pl.col("span").fill_null("")
        if head is not None:
            span = pl.when(pl.col("key") == head).then(pl.lit(_SHARED_SPAN)).otherwise(span)
        known = self.row_attributes
        if self.pixels is None:
            attributes = pl.lit(known[None])
        else:
            frame = frame.with_columns(
                pl.Series("_ht", self.pixels, dtype=pl.Int64).replace_strict(
                    list(known), list(known.values()), return_dtype=pl.String
                )
            )
            attributes = pl.col("_ht")
        cells = [
            pl.concat_str(
                pl.lit(f'<c r="{xl_col_to_name(j)}'),
                pl.col("_r"),
                pl.lit('"'),
                self._style(j),
                pl.lit("><v>" if c.numeric else ' t="s"><v>'),
                pl.col(_x(j)),
                pl.lit("</v></c>"),
            )  # fmt: skip
            for j, c in enumerate(self.columns)
        ]
        has_cells = pl.any_horizontal(pl.col(_x(j)).is_not_null() for j in range(self.width))
        start = pl.concat_str(pl.lit('<row r="'), pl.col("_r"), pl.lit('"'), span, attributes)
        row = pl.when(has_cells).then(
            pl.concat_str(
                start, pl.lit(">"), pl.concat_str(cells, ignore_nulls=True), pl.lit("</row>")
            )
        )
        if self.pixels is not None:  # a row with a height and no cell: an empty <row/>
            row = row.otherwise(pl.concat_str(start, pl.lit("/>")))
        joined = dict(frame.group_by("g").agg(row.str.join("").alias("xml")).iter_rows())
        return [joined.get(g, "") for g in range(len(self.sheets))]


def _code(j: int, specials: int) -> pl.Expr:
    code = pl.lit(0, pl.UInt8)
    for k in range(specials, 0, -1):
        code = pl.when(pl.col(_m(j, k))).then(pl.lit(k, pl.UInt8)).otherwise(code)
    return code


class BulkSharedStrings(SharedStrings):
    """sharedStrings.xml with the plain strings written by one expression."""

    def _write_sst_strings(self) -> None:
        strings = pl.Series(self.string_table.string_array, dtype=pl.String)
        if strings.is_empty():
            return
        special = strings.str.contains(SPECIAL_SI)
        xml = pl.select(
            pl.when(~special).then(pl.concat_str(pl.lit("<si><t>"), strings, pl.lit("</t></si>")))
        ).to_series()
        positions = special.arg_true().to_list()
        if positions:
            fh, self.fh = self.fh, io.StringIO()
            pieces = []
            try:
                for position in positions:
                    self.fh.seek(0)
                    self.fh.truncate()
                    self._write_si(strings[position])
                    pieces.append(self.fh.getvalue())
            finally:
                self.fh = fh
            xml = xml.scatter(positions, pieces)
        self.fh.write(xml.str.join("").item())


class BulkPackager(Packager):
    def _write_shared_strings_file(self) -> None:
        sst = BulkSharedStrings()
        sst.string_table = self.workbook.str_table
        if not self.workbook.str_table.count:
            return
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()


class BulkWorkbook(Workbook):
    """An xlsxwriter Workbook whose worksheets take blocks (BulkWorksheet.write_block)."""

    worksheet_class = BulkWorksheet

    def _get_packager(self):
        return BulkPackager()
