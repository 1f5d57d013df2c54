"""Formula cells a program saved without their result.

Excel and LibreOffice store each formula's last result beside it, and the reader reads that
result. A workbook written by a program (openpyxl, Apache POI: a department system's 导出Excel)
may hold the formula alone: the reader then sees a blank, while a person opening the file in
Excel sees the computed value. Those cells are found in the sheet's XML; the arithmetic a list
computes from its own row (个人自付 = E2-F2-G2-H2, SUM(E2:H2), a rate times a number) is
computed here as Excel would, exactly (Decimal), and so is the text a list copies or joins
from cells of its own sheet (=L2, =C3 for the 乡镇 above, =TRIM(L2), ="341502"&L2,
CONCATENATE, TEXT, DATE: evaluate_text); any other formula stays unread, and the typing reports
its text (=VLOOKUP(…)) as the field's problem, never as the field's value.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation

_FORMULA_START = re.compile(rb"<f[\s>/]")
_REF = re.compile(rb'\br="([A-Z]{1,3}[0-9]+)"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_TEXT = re.compile(rb"<f[^>]*>([^<]*)</f>")
_TOKEN = re.compile(
    r"\s*(?:(?P<range>\$?[A-Z]{1,3}\$?[0-9]+:\$?[A-Z]{1,3}\$?[0-9]+)"
    r"|(?P<ref>\$?[A-Z]{1,3}\$?[0-9]+)|(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"|(?P<sum>SUM\()|(?P<round>ROUND\()|(?P<op>[-+*/(),]))"
)
# a formula longer than this is no row's arithmetic
MAX_FORMULA = 200

Cell = tuple[int, int]  # 0-based row, column


_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]+)")


def cell_position(ref: str) -> Cell:
    """An A1 reference (anchored with $ or not) as its 0-based (row, column); ValueError else."""
    found = _CELL_REF.fullmatch(ref)
    if found is None:
        raise ValueError(ref)
    column = 0
    for letter in found[1].upper():
        column = column * 26 + ord(letter) - 64
    return int(found[2]) - 1, column - 1


# a workbook that asks to be recalculated when opened: its writer (xlsxwriter, openpyxl) stored
# no result it computed (xlsxwriter stores 0), so no stored result is taken
_RECALCULATE = re.compile(rb"<(?:\w+:)?calcPr\b[^>]*\bfullCalcOnLoad=\"(?:1|true)\"")


def recalculated_on_load(workbook_xml: bytes) -> bool:
    """The workbook (xl/workbook.xml) tells Excel to recompute every formula when it opens."""
    return _RECALCULATE.search(workbook_xml) is not None


def uncached_formulas(xml: bytes, *, stored: bool = True) -> dict[Cell, str]:
    """The formula cells of a sheet's XML that hold no result: (row, column) -> the formula's
    text ('' for a shared formula's dependent, which keeps no text of its own). `stored` False
    (a workbook recalculated on load): a stored 0 is no result either, being what xlsxwriter
    stores for a formula whose result its program did not give (a result it was given, an
    error value like #N/A included, is taken)."""
    found: dict[Cell, str] = {}
    match = _FORMULA_START.search(xml)
    while match:
        start = xml.rfind(b"<c ", 0, match.start())
        end = xml.find(b"</c>", match.start())
        if start < 0 or end < 0:
            break
        cell = xml[start:end]
        ref = _REF.search(cell)
        value = _VALUE.search(cell)
        result = value[1].strip() if value else b""
        if ref and (not result or (not stored and result in (b"0", b"0.0"))):
            text = _TEXT.search(cell)
            formula = html.unescape(text[1].decode("utf-8")) if text else ""
            found[cell_position(ref[1].decode())] = formula
        match = _FORMULA_START.search(xml, end)
    return found


def _tokens(formula: str, pattern: re.Pattern[str]) -> list[tuple[str, str]] | None:
    """The formula's tokens (kind, text) by `pattern`'s named groups; None for an empty or
    overlong formula, or a character no token starts with."""
    text = formula.strip().removeprefix("=")
    if not text or len(text) > MAX_FORMULA:
        return None
    tokens: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        token = pattern.match(text, at)
        if token is None or token.end() == at:
            return None
        kind = token.lastgroup or ""
        tokens.append((kind, token[kind]))
        at = token.end()
    return tokens


def evaluate(formula: str, value_of: Callable[[Cell], Decimal | None]) -> Decimal | None:
    """The formula's result where it is arithmetic on numbers and cells (+ - * /, brackets,
    SUM of cells and ranges, ROUND to some digits); None for anything else, a blank or text cell it reads, or a
    division by zero. Blank cells count as 0 inside SUM, as in Excel."""
    tokens = _tokens(formula.upper(), _TOKEN)
    if tokens is None:
        return None
    try:
        parser = _Parser(tokens, value_of)
        result = parser.expression()
        return result if parser.done() else None
    except (_NotArithmetic, InvalidOperation, DivisionByZero, ZeroDivisionError):
        return None


class _NotArithmetic(Exception):
    pass


class _Reading:
    """A formula's tokens read left to right: the parsers' common part."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def done(self) -> bool:
        return self.at == len(self.tokens)

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, text: str) -> bool:
        if self._peek() == ("op", text):
            self.at += 1
            return True
        return False


class _Parser(_Reading):
    """expression := term (('+'|'-') term)*; term := unary (('*'|'/') unary)*;
    unary := '-' unary | '+' unary | atom;
    atom := number | ref | '(' expression ')' | SUM(args) | ROUND(expression, expression)."""

    def __init__(
        self, tokens: list[tuple[str, str]], value_of: Callable[[Cell], Decimal | None]
    ) -> None:
        super().__init__(tokens)
        self.value_of = value_of

    def expression(self) -> Decimal:
        value = self._term()
        while True:
            if self._take("+"):
                value += self._term()
            elif self._take("-"):
                value -= self._term()
            else:
                return value

    def _term(self) -> Decimal:
        value = self._unary()
        while True:
            if self._take("*"):
                value *= self._unary()
            elif self._take("/"):
                value /= self._unary()
            else:
                return value

    def _unary(self) -> Decimal:
        if self._take("-"):
            return -self._unary()
        if self._take("+"):
            return self._unary()
        return self._atom()

    def _atom(self) -> Decimal:
        token = self._peek()
        if token is None:
            raise _NotArithmetic
        kind, text = token
        self.at += 1
        if kind == "number":
            return Decimal(text)
        if kind == "ref":
            value = self.value_of(cell_position(text))
            if value is None:
                raise _NotArithmetic  # a blank or text cell: Excel's result is not a sum here
            return value
        if kind == "sum":
            return self._sum()
        if kind == "round":
            return self._round()
        if (kind, text) == ("op", "("):
            value = self.expression()
            if not self._take(")"):
                raise _NotArithmetic
            return value
        raise _NotArithmetic

    def _round(self) -> Decimal:
        """ROUND(x, n): half away from zero, as Excel rounds; n a whole number (may be < 0)."""
        value = self.expression()
        if not self._take(","):
            raise _NotArithmetic
        digits = self.expression()
        if not self._take(")") or digits != digits.to_integral_value():
            raise _NotArithmetic
        return value.quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUND_HALF_UP)

    def _sum(self) -> Decimal:
        total = Decimal(0)
        while True:
            token = self._peek()
            if token is not None and token[0] == "range":
                self.at += 1
                first, last = (cell_position(part) for part in token[1].split(":"))
                for row in range(min(first[0], last[0]), max(first[0], last[0]) + 1):
                    for column in range(min(first[1], last[1]), max(first[1], last[1]) + 1):
                        total += self.value_of((row, column)) or 0
            else:
                total += self.expression()
            if self._take(")"):
                return total
            if not self._take(","):
                raise _NotArithmetic


# --- text: what a list copies or joins from its own cells -----------------------------------

_TEXT_TOKEN = re.compile(
    r'\s*(?:"(?P<string>(?:[^"]|"")*)"|(?P<function>[A-Z][A-Z0-9.]*)\('
    r"|(?P<ref>\$?[A-Z]{1,3}\$?[0-9]+)(?![0-9A-Z(!:])|(?P<number>[0-9]+(?:\.[0-9]+)?)"
    r"|(?P<op>[&,()]))"
)
# a number as & and TEXT(…, "0") write it: digits Excel keeps exactly (15 significant at most)
_EXACT_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?")
_DATE_CODES = re.compile(r"yyyy|yy|mm|m|dd|d|[^ymd]+", re.IGNORECASE)
_TEXT_FUNCTIONS = ("TRIM", "CONCATENATE", "TEXT", "DATE")

Value = str | Decimal | date


def evaluate_text(formula: str, text_of: Callable[[Cell], str | None]) -> str | None:
    """What Excel shows for a formula that copies or joins text: a reference to a cell of the
    sheet (=L2: the cell as read, 0 for a blank one, as Excel shows it), text in quotes, &,
    CONCATENATE, TRIM, TEXT(x, "0" / "@" / a date code of y, m, d) and DATE(y, m, d) (shown
    as 2026-10-05). `text_of`: a cell's text as read (None: blank; a formula cell's own
    result). None for anything else (another sheet, VLOOKUP, IF, arithmetic: evaluate's),
    or a number Excel would not show whole (more than 15 significant digits)."""
    tokens = _tokens(formula, _TEXT_TOKEN)
    if tokens is None:
        return None
    tokens = [(k, v.upper() if k in ("function", "ref") else v) for k, v in tokens]
    parser = _TextParser(tokens, text_of)
    try:
        value = parser.joined()
        if not parser.done():
            return None
        if len(tokens) == 1 and tokens[0][0] == "ref" and value == "":
            return "0"  # =L2 of a blank cell: Excel shows 0
        return _shown(value)
    except (_NotArithmetic, InvalidOperation, ValueError, OverflowError):
        return None


def _shown(value: Value) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        shown = format(value.normalize(), "f")
        if (
            not _EXACT_NUMBER.fullmatch(shown)
            or len(shown.replace("-", "").replace(".", "").lstrip("0")) > 15
        ):
            raise _NotArithmetic  # 3.41502E+17 in Excel: not a value to copy
        return shown
    return value


class _TextParser(_Reading):
    """joined := item ('&' item)*; item := text | number | ref | '(' joined ')' | f(args)."""

    def __init__(
        self, tokens: list[tuple[str, str]], text_of: Callable[[Cell], str | None]
    ) -> None:
        super().__init__(tokens)
        self.text_of = text_of

    def joined(self) -> Value:
        value = self._item()
        if self._peek() != ("op", "&"):
            return value
        parts = [_shown(value)]
        while self._take("&"):
            parts.append(_shown(self._item()))
        return "".join(parts)

    def _item(self) -> Value:
        if self.done():
            raise _NotArithmetic
        kind, text = self.tokens[self.at]
        self.at += 1
        if kind == "string":
            return text.replace('""', '"')
        if kind == "number":
            return Decimal(text)
        if kind == "ref":
            cell = self.text_of(cell_position(text))
            if cell is None:
                return ""
            return Decimal(cell) if _EXACT_NUMBER.fullmatch(cell) else cell
        if kind == "function" and text in _TEXT_FUNCTIONS:
            arguments = [self.joined()]
            while self._take(","):
                arguments.append(self.joined())
            if not self._take(")"):
                raise _NotArithmetic
            return getattr(self, f"_{text.lower()}")(*arguments)
        if (kind, text) == ("op", "("):
            value = self.joined()
            if not self._take(")"):
                raise _NotArithmetic
            return value
        raise _NotArithmetic

    @staticmethod
    def _trim(value: Value) -> str:
        return " ".join(part for part in _shown(value).split(" ") if part)

    @staticmethod
    def _concatenate(*values: Value) -> str:
        return "".join(_shown(v) for v in values)

    @staticmethod
    def _date(year: Value, month: Value, day: Value) -> date:
        if not all(
            isinstance(v, Decimal) and v == v.to_integral_value() for v in (year, month, day)
        ):
            raise _NotArithmetic
        return date(int(year), int(month), int(day))  # type: ignore[arg-type]

    @staticmethod
    def _text(value: Value, code: Value) -> str:
        if not isinstance(code, str):
            raise _NotArithmetic
        if code == "@":
            return _shown(value)
        if isinstance(value, date):
            pieces = {"yyyy": f"{value.year:04d}", "yy": f"{value.year % 100:02d}",
                      "mm": f"{value.month:02d}", "m": str(value.month),
                      "dd": f"{value.day:02d}", "d": str(value.day)}  # fmt: skip
            return "".join(pieces.get(p.lower(), p) for p in _DATE_CODES.findall(code))
        if code == "0" and isinstance(value, Decimal):
            return _shown(value.to_integral_value(rounding=ROUND_HALF_UP))
        raise _NotArithmetic
