"""Excel 97–2003 workbooks (.xls) read at the level of their records: what the cell reader
does not give.

An .xls is an OLE2 compound file whose "Workbook" stream is a run of BIFF8 records: the
workbook's globals (code page, one BOUNDSHEET per sheet), then each sheet's substream. Two
things are read here: the merged ranges (MERGEDCELLS), and the formulas whose stored result is
0 although the formula copies or joins text (read_sheets, one pass over each sheet).

LibreOffice, converting a workbook it did not recalculate (its default for files Excel or
LibreOffice saved) to .xls, stores 0 as the result of every formula that gives text: an ID
built as =G2 or ="341502"&…, a 乡镇 filled down as =C2. Excel recalculates such a file when it
opens it, and LibreOffice shows the IDs too; the cell reader sees 0. An independent probe's
enrollment list so converted was read with every ID and most places 0: 32 warnings lost, 296
false YB02. Those formulas are given back as text (read_sheets) for the reader to
compute as Excel would (formulas.evaluate_text, formulas.evaluate).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# a merged range: (first row, first column, last row, last column), 0-based and inclusive
Merge = tuple[int, int, int, int]
Cell = tuple[int, int]  # 0-based row, column

_BOF, _EOF, _CODEPAGE, _BOUNDSHEET = 0x0809, 0x000A, 0x0042, 0x0085
_MERGEDCELLS, _FORMULA, _SHRFMLA = 0x00E5, 0x0006, 0x04BC


def ole_stream(data: bytes, names: Sequence[str]) -> bytes:
    """One stream of an OLE2 compound file (the container of .xls), by name."""
    if not data.startswith(OLE_MAGIC):
        raise ValueError("not an OLE2 file")
    sector = 1 << struct.unpack_from("<H", data, 0x1E)[0]
    mini = 1 << struct.unpack_from("<H", data, 0x20)[0]
    fat_count, directory_start = struct.unpack_from("<II", data, 0x2C)
    cutoff, minifat_start, _, difat_start, difat_count = struct.unpack_from("<IIIII", data, 0x38)

    def sector_bytes(index: int) -> bytes:
        start = (index + 1) * sector
        return data[start : start + sector]

    difat = list(struct.unpack_from("<109I", data, 0x4C))
    next_difat = difat_start
    for _ in range(difat_count):
        if next_difat >= 0xFFFFFFFA:
            break
        block = struct.unpack(f"<{sector // 4}I", sector_bytes(next_difat))
        difat.extend(block[:-1])
        next_difat = block[-1]
    fat: list[int] = []
    for index in difat[:fat_count]:
        fat.extend(struct.unpack(f"<{sector // 4}I", sector_bytes(index)))

    def chain(start: int, table: list[int]) -> Iterator[int]:
        seen = 0
        while start < 0xFFFFFFFA and start < len(table) and seen <= len(table):
            yield start
            start = table[start]
            seen += 1

    directory = b"".join(sector_bytes(i) for i in chain(directory_start, fat))
    entries = []
    for offset in range(0, len(directory) - 127, 128):
        entry = directory[offset : offset + 128]
        length = struct.unpack_from("<H", entry, 0x40)[0]
        name = entry[: max(length - 2, 0)].decode("utf-16-le", errors="replace")
        kind = entry[0x42]
        start, size = struct.unpack_from("<II", entry, 0x74)
        entries.append((name, kind, start, size))
    root = next(e for e in entries if e[1] == 5)
    for wanted in names:
        for name, kind, start, size in entries:
            if kind != 2 or name != wanted:
                continue
            if size >= cutoff:
                return b"".join(sector_bytes(i) for i in chain(start, fat))[:size]
            minifat: list[int] = []
            for index in chain(minifat_start, fat):
                minifat.extend(struct.unpack(f"<{sector // 4}I", sector_bytes(index)))
            container = b"".join(sector_bytes(i) for i in chain(root[2], fat))
            return b"".join(container[i * mini : (i + 1) * mini] for i in chain(start, minifat))[
                :size
            ]
    raise ValueError("no workbook stream")


def records(stream: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    """(record type, record data) from a BIFF stream position on."""
    while offset + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, offset)
        yield kind, stream[offset + 4 : offset + 4 + length]
        offset += 4 + length


def _sheet_name(rest: bytes, length: int, codepage: str) -> str:
    if rest and rest[0] in (0, 1) and len(rest) >= 1 + length * (2 if rest[0] else 1):
        # BIFF8: a flags byte, then 8-bit or UTF-16 characters
        wide = rest[0] & 1
        chars = rest[1 : 1 + length * (2 if wide else 1)]
        return chars.decode("utf-16-le" if wide else "latin-1")
    return rest[:length].decode(codepage)  # BIFF5: the workbook's code page


def sheet_records(data: bytes) -> Iterator[tuple[str, Iterator[tuple[int, bytes]]]]:
    """Each worksheet's name (not a chart's or a macro sheet's) and its own records, those of a
    chart embedded in it left out."""
    stream = ole_stream(data, ("Workbook", "Book"))
    sheets: list[tuple[int, str]] = []
    codepage = "cp1252"
    for kind, body in records(stream, 0):
        if kind == _CODEPAGE and len(body) >= 2:  # names in BIFF5
            number = struct.unpack_from("<H", body)[0]
            codepage = {1200: "utf-16-le", 936: "gbk", 65001: "utf-8"}.get(number, f"cp{number}")
        elif kind == _BOUNDSHEET:  # where the sheet's records start, and its name
            offset, state, length = struct.unpack_from("<IHB", body)
            if state >> 8 == 0:  # a worksheet
                sheets.append((offset, _sheet_name(body[7:], length, codepage)))
        elif kind == _EOF:  # the globals end
            break

    def own(offset: int) -> Iterator[tuple[int, bytes]]:
        depth = 0
        for kind, body in records(stream, offset):
            if kind == _BOF:  # an embedded chart opens its own substream
                depth += 1
            elif kind == _EOF:
                depth -= 1
                if depth == 0:
                    return
            elif depth == 1:
                yield kind, body

    for offset, name in sheets:
        yield name, own(offset)


def read_sheets(data: bytes) -> dict[str, tuple[list[Merge], dict[Cell, str]]]:
    """Per sheet, in one pass over its records: its merged ranges (MERGEDCELLS), and the
    formula cells whose stored result is the number 0, as formula text (=G2, ="341502"&G2,
    =TRIM(G2), =C2) where a formula of the forms formulas.py computes (the others left out:
    their 0 stays as stored)."""
    found: dict[str, tuple[list[Merge], dict[Cell, str]]] = {}
    for name, sheet in sheet_records(data):
        merges: list[Merge] = []
        cells: dict[Cell, str] = {}
        shared: list[tuple[int, int, int, int, bytes]] = []
        pending: list[Cell] = []  # cells of a shared formula
        for kind, body in sheet:
            if kind == _MERGEDCELLS:
                (count,) = struct.unpack_from("<H", body)
                for i in range(count):
                    top, bottom, left, right = struct.unpack_from("<HHHH", body, 2 + 8 * i)
                    merges.append((top, left, bottom, right))
            elif kind == _SHRFMLA and len(body) >= 10:
                first, last, left, right = struct.unpack_from("<HHBB", body)
                (size,) = struct.unpack_from("<H", body, 8)
                shared.append((first, last, left, right, body[10 : 10 + size]))
            elif kind == _FORMULA and len(body) >= 22:
                row, column = struct.unpack_from("<HH", body)
                result = body[6:14]
                if result[6:8] == b"\xff\xff" or struct.unpack("<d", result)[0] != 0:
                    continue  # a text, truth value, error or a number other than 0: as stored
                (size,) = struct.unpack_from("<H", body, 20)
                tokens = body[22 : 22 + size]
                if tokens[:1] == b"\x01":  # PtgExp: a cell of a shared formula (SHRFMLA)
                    pending.append((row, column))
                elif (text := formula_text(tokens, row, column)) is not None:
                    cells[(row, column)] = text
        for row, column in pending:
            for first, last, left, right, tokens in shared:
                if first <= row <= last and left <= column <= right:
                    if (text := formula_text(tokens, row, column)) is not None:
                        cells[(row, column)] = text
                    break
        found[name] = (merges, cells)
    return found


# the functions formulas.py computes, by their number in BIFF's function table, and how many
# arguments a fixed one takes
_FUNCTIONS = {4: ("SUM", None), 27: ("ROUND", 2), 48: ("TEXT", 2), 65: ("DATE", 3),
              118: ("TRIM", 1), 336: ("CONCATENATE", None)}  # fmt: skip
_OPERATORS = {0x03: "+", 0x04: "-", 0x05: "*", 0x06: "/", 0x08: "&"}


def _column(number: int) -> str:
    letters = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def formula_text(tokens: bytes, row: int, column: int) -> str | None:
    """A BIFF8 formula (its parsed tokens, in reverse Polish order) as the text Excel shows in
    the formula bar, for the tokens formulas.py computes: numbers, text, cell references and
    ranges of the sheet (relative ones of a shared formula taken from the cell at `row`,
    `column`), + - * / &, brackets and _FUNCTIONS. None for any other token (another sheet, a
    name, IF, VLOOKUP …)."""
    stack: list[str] = []
    at = 0
    try:
        while at < len(tokens):
            ptg = tokens[at]
            at += 1
            if ptg in _OPERATORS:
                right, left = stack.pop(), stack.pop()
                stack.append(f"{left}{_OPERATORS[ptg]}{right}")
            elif ptg == 0x12:  # unary plus
                stack.append("+" + stack.pop())
            elif ptg == 0x13:  # unary minus
                stack.append("-" + stack.pop())
            elif ptg == 0x15:  # brackets
                stack.append(f"({stack.pop()})")
            elif ptg == 0x17:  # text
                length, wide = tokens[at], tokens[at + 1] & 1
                end = at + 2 + length * (2 if wide else 1)
                text = tokens[at + 2 : end].decode("utf-16-le" if wide else "latin-1")
                stack.append('"' + text.replace('"', '""') + '"')
                at = end
            elif ptg == 0x1E:  # a whole number
                stack.append(str(struct.unpack_from("<H", tokens, at)[0]))
                at += 2
            elif ptg == 0x1F:  # a number
                stack.append(repr(struct.unpack_from("<d", tokens, at)[0]))
                at += 8
            elif ptg == 0x19:  # an attribute: SUM of one argument, or spacing
                flags = tokens[at]
                at += 3
                if flags & 0x10:
                    stack.append(f"SUM({stack.pop()})")
                elif flags & ~0x41:  # IF, CHOOSE, jumps: not computed here
                    return None
            elif ptg in (0x24, 0x44, 0x64, 0x2C, 0x4C, 0x6C):  # a cell
                stack.append(_reference(tokens, at, ptg in (0x2C, 0x4C, 0x6C), row, column))
                at += 4
            elif ptg in (0x25, 0x45, 0x65):  # a range
                first, last, left, right = struct.unpack_from("<HHHH", tokens, at)
                stack.append(
                    f"{_column(left & 0x3FFF)}{first + 1}:{_column(right & 0x3FFF)}{last + 1}"
                )
                at += 8
            elif ptg in (0x21, 0x41, 0x61):  # a function of a fixed number of arguments
                number = struct.unpack_from("<H", tokens, at)[0]
                at += 2
                name, count = _FUNCTIONS.get(number, (None, None))
                if name is None or count is None:
                    return None
                arguments = stack[len(stack) - count :]
                del stack[len(stack) - count :]
                stack.append(f"{name}({','.join(arguments)})")
            elif ptg in (0x22, 0x42, 0x62):  # a function of as many arguments as it is given
                count, number = tokens[at], struct.unpack_from("<H", tokens, at + 1)[0] & 0x7FFF
                at += 3
                name, fixed = _FUNCTIONS.get(number, (None, None))
                if name is None or count > len(stack):
                    return None
                arguments = stack[len(stack) - count :]
                del stack[len(stack) - count :]
                stack.append(f"{name}({','.join(arguments)})")
            else:
                return None
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return "=" + stack[0] if len(stack) == 1 else None


def _reference(tokens: bytes, at: int, shared: bool, row: int, column: int) -> str:
    """A cell reference in A1 form. In a shared formula (PtgRefN) a relative row or column is
    an offset from the cell the formula stands in."""
    target_row, field = struct.unpack_from("<HH", tokens, at)
    target_column = field & 0xFF if shared else field & 0x3FFF
    if shared and field & 0x8000:  # row relative: a signed offset
        target_row = row + (target_row - 0x10000 if target_row >= 0x8000 else target_row)
    if shared and field & 0x4000:  # column relative: a signed 8-bit offset
        offset = target_column - 0x100 if target_column >= 0x80 else target_column
        target_column = column + offset
    return f"{_column(target_column)}{target_row + 1}"
