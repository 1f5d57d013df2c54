"""A file as rows of cells with merges, written as CSV, XLSX, or XLS through LibreOffice."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from .forms import RawCsv, XCell

FIXED_CREATED = datetime(2026, 1, 1)
XLS_MAX_ROWS = 65_000  # Excel 97-2003 stops at 65,536 rows
SOFFICE_TIMEOUT = 3600


@dataclass
class Sheet:
    """Rows of cells (str, XCell or None) and what each row is: title, header, data, total, note."""

    name: str
    width: int
    rows: list[list[object]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    pad_decorations: bool = True  # CSV: title and note lines padded to the table's width

    def add(self, kind: str, cells: list[object]) -> int:
        """Append a row; returns its 1-based row number (what a person sees in Excel)."""
        self.rows.append(cells)
        self.kinds.append(kind)
        return len(self.rows)


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, XCell):
        raise TypeError("a typed workbook cell cannot go into a CSV")
    return cell if isinstance(cell, str) else str(cell)


def _field(text: str) -> str:
    """RFC 4180 quoting where needed; RawCsv cells go in as they are."""
    if isinstance(text, RawCsv):
        return text
    if any(c in text for c in _NEEDS_QUOTES):
        return '"' + text.replace('"', '""') + '"'
    return text


_NEEDS_QUOTES = (",", '"', "\r", "\n")


def write_csv(path: Path, sheet: Sheet, encoding: str, newline: str) -> None:
    """One physical line per row (no cell holds a line break, so line numbers are row numbers)."""
    with path.open("w", encoding=encoding, newline="") as handle:
        for kind, cells in zip(sheet.kinds, sheet.rows, strict=True):
            texts = [_text(c) for c in cells]
            if any("\n" in t or "\r" in t for t in texts):
                raise ValueError("a CSV cell with a line break would shift the row numbers")
            if kind in ("title", "subtitle", "note", "blank") and not sheet.pad_decorations:
                while texts and texts[-1] == "":
                    texts.pop()
            elif len(texts) < sheet.width:
                texts += [""] * (sheet.width - len(texts))
            handle.write(",".join(_field(t) for t in texts) + newline)


class _Formats:
    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.workbook = workbook
        self.cache: dict[tuple[object, ...], object] = {}

    def get(self, **props: object) -> object:
        key = tuple(sorted(props.items()))
        if key not in self.cache:
            self.cache[key] = self.workbook.add_format(dict(props)) if props else None
        return self.cache[key]


def write_xlsx(path: Path, sheet: Sheet, leading_sheet: str = "") -> None:
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    workbook.set_properties({"created": FIXED_CREATED, "author": "金安区"})
    formats = _Formats(workbook)
    if leading_sheet:
        workbook.add_worksheet(leading_sheet).write_string(
            0, 0, "填报说明：本表按月报送，请勿改动表头。"
        )
    ws = workbook.add_worksheet(sheet.name)
    ws.set_column(0, max(0, sheet.width - 1), 13)
    covered: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in sheet.merges:
        kind = sheet.kinds[r1]
        fmt = formats.get(**_style(kind), valign="vcenter", align="center")
        value = sheet.rows[r1][c1]
        if r1 == r2 and c1 == c2:
            continue
        ws.merge_range(r1, c1, r2, c2, "", fmt)
        _write(ws, formats, r1, c1, value, _style(kind) | {"valign": "vcenter", "align": "center"})
        covered.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
    for r, (kind, cells) in enumerate(zip(sheet.kinds, sheet.rows, strict=True)):
        style = _style(kind)
        for c, value in enumerate(cells):
            if (r, c) in covered or value is None or value == "":
                continue
            _write(ws, formats, r, c, value, style)
    workbook.close()


def _style(kind: str) -> dict[str, object]:
    if kind == "header":
        return {"bold": True, "border": 1, "text_wrap": True}
    if kind == "title":
        return {"bold": True, "font_size": 14}
    if kind in ("data", "total"):
        return {"border": 1}
    return {}


def _write(ws: object, formats: _Formats, r: int, c: int, value: object, style: dict) -> None:
    if isinstance(value, XCell):
        props = dict(style)
        if value.num_format:
            props["num_format"] = value.num_format
        if value.quote_prefix:
            props["quote_prefix"] = True
        fmt = formats.get(**props)
        if value.kind == "number":
            ws.write_number(r, c, value.value, fmt)  # type: ignore[attr-defined]
        elif value.kind in ("date", "datetime"):
            day = value.value
            moment = day if isinstance(day, datetime) else datetime(day.year, day.month, day.day)  # type: ignore[union-attr]
            ws.write_datetime(r, c, moment, fmt)  # type: ignore[attr-defined]
        else:
            ws.write_string(r, c, str(value.value), fmt)  # type: ignore[attr-defined]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(r, c, value, formats.get(**style))  # type: ignore[attr-defined]
    elif isinstance(value, date):
        raise TypeError("dates go into workbooks as XCell")
    else:
        ws.write_string(r, c, str(value), formats.get(**style))  # type: ignore[attr-defined]


# --- .xls through LibreOffice --------------------------------------------------------------------


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_to_xls(jobs: list[tuple[Path, Path]]) -> list[bool]:
    """Convert each (xlsx, xls target) in ONE LibreOffice call; the xlsx is removed where it worked.

    A private LibreOffice profile keeps this call away from any other LibreOffice running on
    the machine. Returns, per job, whether the .xls was written (else the .xlsx stays).
    """
    program = soffice()
    if not jobs or program is None:
        return [False] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="fangfan-xls-") as tmp:
        inbox, outbox = Path(tmp) / "in", Path(tmp) / "out"
        inbox.mkdir()
        outbox.mkdir()
        names = []
        for i, (source, _) in enumerate(jobs):
            name = f"{i:06d}"
            shutil.copyfile(source, inbox / f"{name}.xlsx")
            names.append(name)
        command = [
            program, f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--norestore",
            "--convert-to", "xls", "--outdir", str(outbox),
            *(str(inbox / f"{n}.xlsx") for n in names),
        ]  # fmt: skip
        try:
            subprocess.run(
                command, check=False, capture_output=True, timeout=SOFFICE_TIMEOUT, cwd=tmp
            )
        except (OSError, subprocess.TimeoutExpired):
            return [False] * len(jobs)
        done = []
        for name, (source, target) in zip(names, jobs, strict=True):
            result = outbox / f"{name}.xls"
            if result.is_file() and result.stat().st_size > 0:
                shutil.move(result, target)
                source.unlink()
                done.append(True)
            else:
                done.append(False)
        return done
