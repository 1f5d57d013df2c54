"""Department files: per-township layouts, formats and decorations, written as CSV or XLSX with truth rows."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from ..sources import ID_HEADERS, SOURCES, FieldType
from .common import excel_serial, parse_month, shift_month
from .context import EXTRA_COLUMNS, Context, Record, value_fields
from .messes import Messer
from .names import full_name

BIG_SOURCES = frozenset({"medical_claims", "medical_enrollment"})
NAME_ALIASES = {
    "medical_claims": ("姓名", "患者姓名", "参保人姓名"),
    "medical_enrollment": ("姓名", "参保人姓名"),
    "civil_affairs": ("姓名", "救助对象姓名"),
    "education": ("学生姓名", "姓名"),
}
LAYOUTS: dict[str, tuple[str, ...]] = {
    "medical_claims": ("seq", "name", "id_number", "sex", "township", "village", "x0", "institution",
                       "admission_date", "discharge_date", "total_cost", "fund_paid",
                       "critical_illness_paid", "assistance_paid", "self_paid", "note"),
    "medical_enrollment": ("seq", "name", "id_number", "township", "village", "x0", "enroll_year",
                           "enroll_status", "subsidized", "note"),
    "civil_affairs": ("seq", "township", "village", "group", "name", "id_number", "relation",
                      "assistance_type", "change_type", "covered_people", "amount", "change_date", "note"),
    "education": ("seq", "name", "sex", "id_number", "student_no", "school", "stage", "grade",
                  "school_status", "enrol_month", "aided", "township", "village", "note"),
    "public_security": ("seq", "name", "id_number", "sex", "change_type", "change_date", "address",
                        "township", "village", "note"),
    "vehicles": ("seq", "name", "id_number", "plate", "vehicle_type", "register_date", "township",
                 "village", "note"),
    "housing": ("seq", "township", "village", "group", "name", "id_number", "x0", "grade",
                "appraisal_date", "note"),
    "property": ("seq", "name", "id_number", "location", "floor_area", "register_date", "x0", "township",
                 "village", "note"),
    "disability": ("seq", "name", "id_number", "sex", "category", "disability_level", "issue_date",
                   "living_subsidy", "care_subsidy", "township", "village", "note"),
    "emergency": ("seq", "township", "village", "group", "name", "id_number", "disaster_type",
                  "disaster_date", "x0", "loss", "house_collapsed", "note"),
    "hrss": ("seq", "name", "id_number", "sex", "register_type", "register_date", "township", "village",
             "note"),
    "public_servants": ("seq", "name", "id_number", "sex", "employer", "position", "hire_date",
                        "township", "note"),
    "market": ("seq", "entity_name", "credit_code", "name", "id_number", "role", "capital",
               "established_date", "township", "village", "note"),
    "petition": ("seq", "name", "id_number", "township", "village", "matter", "register_date", "note"),
    "water": ("seq", "township", "village", "group", "name", "id_number", "problem_type", "resolved", "note"),
}  # fmt: skip
DECORATIVE = {"seq": "序号", "sex": "性别", "relation": "与户主关系", "note": "备注"}
OPTIONAL_IN_MESSY = {"seq", "sex", "relation", "group", "note", "village"}
YUAN_FIELDS = frozenset(
    (
        "total_cost",
        "fund_paid",
        "critical_illness_paid",
        "assistance_paid",
        "self_paid",
        "amount",
        "loss",
    )
)

# rows that must be rejected: an impossible date in the field rules use, or an unknown code
BAD_DATE_FIELD = {
    "medical_claims": "discharge_date", "civil_affairs": "change_date", "education": "enrol_month",
    "public_security": "change_date", "vehicles": "register_date", "housing": "appraisal_date",
    "property": "register_date", "disability": "issue_date", "emergency": "disaster_date",
    "hrss": "register_date", "public_servants": "hire_date", "market": "established_date",
    "petition": "register_date",
}  # fmt: skip
BAD_ENUM = {
    "medical_enrollment": ("enroll_status", "待核实"), "civil_affairs": ("assistance_type", "其他救助"),
    "education": ("stage", "成人教育"), "public_security": ("change_type", "注销"),
    "housing": ("grade", "E"), "disability": ("disability_level", "五级"),
    "hrss": ("register_type", "退休登记"), "market": ("role", "监事"), "water": ("resolved", "待定"),
}  # fmt: skip
BAD_DATES = ("2026-13-45", "2026-02-30", "2026年13月5日", "2026.00.12", "20261345")
BAD_MONTHS = ("2025-13", "2025年13月", "202500")
BAD_ROW_RATE = 0.001
AMOUNT_BLANK_RATE = 0.01
FIXED_CREATED = datetime(2026, 1, 1)

DATE_STYLES = ("iso", "slash", "dot", "compact", "chinese", "cell", "serial")
DATE_WEIGHTS_CSV = (35, 20, 10, 10, 10, 0, 0)
DATE_WEIGHTS_XLSX = (25, 15, 8, 7, 8, 25, 12)
MONTH_STYLES = ("iso", "dot", "compact", "chinese", "slash")
AMOUNT_STYLES = ("plain", "short", "thousands", "yuan")


@dataclass
class Style:
    """How one file looks: format, encoding, header words, cell formats and decorations."""

    xlsx: bool = False
    encoding: str = "utf-8"
    newline: str = "\n"
    date_style: str = "iso"
    month_style: str = "iso"
    amount_style: str = "plain"
    xlsx_numbers: bool = True
    mixed_dates: float = 0.0
    title: str = ""
    subtitle: bool = False
    blank_after_title: bool = False
    total_row: bool = False
    notes: bool = False
    blank_rows: float = 0.0
    leading_sheet: bool = False
    sheet: str = ""
    columns: list[tuple[str, str]] = field(default_factory=list)  # (token, header text)


@dataclass
class SourceOutput:
    """What writing one source for one month produced."""

    files: int = 0
    rows: int = 0
    truth: list[tuple[object, ...]] = field(default_factory=list)
    rejects: list[tuple[object, ...]] = field(default_factory=list)
    # the rows a pipeline keeps: (the record as written, recoverable)
    kept: list[tuple[Record, bool]] = field(default_factory=list)
    # rows written without a name and an ID: (the record, its 乡镇 index, its 村 as written, or
    # None where the file has no 村 column)
    lost: list[tuple[Record, int, str | None]] = field(default_factory=list)


def write_source(
    ctx: Context, messer: Messer, source: str, month: str, records: list[Record], folder: Path
) -> SourceOutput:
    """Write one file per township for a source and month; return truth rows and the rows a pipeline keeps."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = ctx.rng("render", source, month)
    records = _shuffled(records, rng)
    bad = _choose_bad_rows(ctx, rng, source, month, records)
    by_township: dict[int, list[int]] = {}
    for index, record in enumerate(records):
        by_township.setdefault(ctx.township(record.person), []).append(index)
    out = SourceOutput()
    for township in sorted(by_township):
        indices = by_township[township]
        style = choose_style(ctx, source, month, township)
        name = _file_name(ctx, source, month, township, style)
        writer = _FileWriter(ctx, messer, source, month, style, name, township, rng)
        for index in indices:
            writer.add(records[index], bad.get(index, ""), out)
        writer.finish(folder / name)
        out.files += 1
    out.rows = len(records)
    return out


def _shuffled(records: list[Record], rng: random.Random) -> list[Record]:
    """Department order is not roster order. Sorting on random keys is much faster than shuffle()."""
    keys = [rng.random() for _ in records]
    return [records[i] for i in sorted(range(len(records)), key=keys.__getitem__)]


def _choose_bad_rows(
    ctx: Context, rng: random.Random, source: str, month: str, records: list[Record]
) -> dict[int, str]:
    if not ctx.messy or len(records) < 30:
        return {}
    kinds = ["no_identity"]
    kinds += ["bad_date"] if source in BAD_DATE_FIELD else []
    kinds += ["bad_enum"] if source in BAD_ENUM else []
    count = max(len(kinds), round(len(records) * BAD_ROW_RATE))
    chosen: dict[int, str] = {}
    for _ in range(count * 20):  # random probes: planted and protected rows are skipped
        if len(chosen) == count:
            break
        index = rng.randrange(len(records))
        record = records[index]
        if (
            index not in chosen
            and not record.planted
            and not _protected(ctx, source, month, record)
        ):
            chosen[index] = kinds[len(chosen) % len(kinds)]
    return chosen


def _protected(ctx: Context, source: str, month: str, record: Record) -> bool:
    """Rows whose loss would itself raise a warning (YB02: a monitored member's enrollment)."""
    return (
        source == "medical_enrollment"
        and ctx.focus(record.person)
        and record.values[1] == "正常参保"
        and record.values[0] == parse_month(month)[0]
    )


# --- style -------------------------------------------------------------------------------------


def choose_style(ctx: Context, source: str, month: str, township: int) -> Style:
    """Clean mode: canonical headers in UTF-8 CSV. Messy: everything a department might send."""
    layout = LAYOUTS[source]
    registry = SOURCES[source]
    if not ctx.messy:
        columns = [
            (t, _canonical_header(source, t))
            for t in layout
            if t not in OPTIONAL_IN_MESSY - {"village"}
        ]
        return Style(columns=columns)
    rng = ctx.rng("style", source, month, township)
    big = source in BIG_SOURCES
    year, mon = parse_month(month)
    history = month < ctx.district.ref.strftime("%Y-%m")
    xlsx = rng.random() < ((0.01 if history else 0.05) if big else 0.4)
    style = Style(xlsx=xlsx)
    style.encoding = (
        "utf-8" if xlsx else rng.choices(("utf-8", "utf-8-sig", "gb18030"), (4, 3, 3))[0]
    )
    style.newline = "\r\n" if style.encoding == "gb18030" or rng.random() < 0.4 else "\n"
    style.date_style = rng.choices(DATE_STYLES, DATE_WEIGHTS_XLSX if xlsx else DATE_WEIGHTS_CSV)[0]
    style.month_style = rng.choice(MONTH_STYLES)
    style.amount_style = rng.choices(AMOUNT_STYLES, (5, 2, 2, 2))[0]
    style.xlsx_numbers = xlsx and rng.random() < 0.8
    style.mixed_dates = 0.03 if rng.random() < 0.3 else 0.0
    township_name = ctx.district.townships[township][1]
    if rng.random() < (0.75 if xlsx else 0.25):
        style.title = rng.choice(
            (f"金安区{year}年{mon}月{registry.title}", f"{township_name}{year}年{mon}月{registry.title}",
             f"金安区{registry.title}（{year}年{mon}月）")
        )  # fmt: skip
        style.subtitle = rng.random() < 0.5
        style.blank_after_title = rng.random() < 0.3
    style.total_row = rng.random() < (0.6 if xlsx else 0.15)
    style.notes = rng.random() < (0.5 if xlsx else 0.1)
    style.blank_rows = 0.003 if rng.random() < 0.3 else 0.0
    style.leading_sheet = xlsx and rng.random() < 0.1
    style.sheet = (
        registry.title
        if style.leading_sheet
        else rng.choice(("Sheet1", township_name, registry.title))
    )
    keep = {
        "seq": rng.random() < (0.8 if xlsx else 0.25),
        "sex": rng.random() < 0.4,
        "relation": rng.random() < 0.7,
        "group": rng.random() < 0.3,
        "note": rng.random() < 0.3,
        "village": registry.household_level or rng.random() < 0.85,
    }
    for token in layout:
        if keep.get(token, True):
            header = _messy_header(rng, source, token, xlsx)
            style.columns.append((token, header))
    return style


def _canonical_header(source: str, token: str) -> str:
    if token in DECORATIVE:
        return DECORATIVE[token]
    if token.startswith("x"):
        return EXTRA_COLUMNS[source][int(token[1:])]
    return SOURCES[source].field(token).headers[0]


def _messy_header(rng: random.Random, source: str, token: str, xlsx: bool) -> str:
    registry = SOURCES[source]
    if token == "name":
        default = ("户主姓名",) if registry.household_level else ("姓名", "人员姓名")
        header = rng.choice(NAME_ALIASES.get(source, default))
    elif token in DECORATIVE or token.startswith("x"):
        header = _canonical_header(source, token)
    else:
        # the contract's ID aliases: a household-level source also takes the 户主's
        # (sources.HEAD_ID_HEADERS), which this generator never writes
        headers = ID_HEADERS if token == "id_number" else registry.field(token).headers
        header = headers[0] if rng.random() < 0.5 else rng.choice(headers)
    if rng.random() < 0.12:
        header = _decorate(rng, header, xlsx)
    return header


def _decorate(rng: random.Random, header: str, xlsx: bool) -> str:
    """Spaces, a line break, a trailing *, or the other width of brackets, as typed in real templates."""
    choices = ["space", "star", "pad"]
    if "（" in header or "(" in header:
        choices.append("brackets")
    if xlsx and len(header) >= 4:
        choices.append("newline")
    kind = rng.choice(choices)
    if kind == "space" and len(header) >= 2:
        return header[0] + " " + header[1:]
    if kind == "star":
        return header + "*"
    if kind == "brackets":
        return header.translate(str.maketrans("（）()", "()（）"))
    if kind == "newline":
        cut = len(header) // 2
        return header[:cut] + "\n" + header[cut:]
    return f" {header} "


def _file_name(ctx: Context, source: str, month: str, township: int, style: Style) -> str:
    year, mon = parse_month(month)
    title = SOURCES[source].title
    township_name = ctx.district.townships[township][1]
    ext = "xlsx" if style.xlsx else "csv"
    if not ctx.messy:
        return f"{township_name}_{title}_{year}{mon:02d}.{ext}"
    rng = ctx.rng("file_name", source, month, township)
    return rng.choice(
        (f"{township_name}_{title}_{year}{mon:02d}.{ext}", f"{township_name}{title}（{year}年{mon}月）.{ext}",
         f"金安区{township_name}{year}年{mon}月{title}.{ext}")
    )  # fmt: skip


# --- cells -------------------------------------------------------------------------------------


def format_date(day: date, style: str) -> str:
    if style == "slash":
        return f"{day.year}/{day.month}/{day.day}"
    if style == "dot":
        return f"{day.year}.{day.month:02d}.{day.day:02d}"
    if style == "compact":
        return f"{day.year:04d}{day.month:02d}{day.day:02d}"
    if style == "chinese":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def format_month(day: date, style: str) -> str:
    if style == "dot":
        return f"{day.year}.{day.month:02d}"
    if style == "compact":
        return f"{day.year:04d}{day.month:02d}"
    if style == "chinese":
        return f"{day.year}年{day.month}月"
    if style == "slash":
        return f"{day.year}/{day.month}"
    return f"{day.year:04d}-{day.month:02d}"


def short_amount(value: int) -> str:
    """1234.50 -> 1234.5, 1200.00 -> 1200: how a clerk's spreadsheet shows money."""
    return f"{value / 100:.2f}".rstrip("0").rstrip(".")


class _FileWriter:
    """One file: rows are collected as records, then rendered column by column and written.

    Rendering per column (one list comprehension per column, formatted values cached by value)
    is what keeps a million-member district within minutes.
    """

    def __init__(
        self,
        ctx: Context,
        messer: Messer,
        source: str,
        month: str,
        style: Style,
        file_name: str,
        township: int,
        rng: random.Random,
    ) -> None:
        self.ctx, self.messer, self.source, self.month = ctx, messer, source, month
        self.township, self.township_name = township, ctx.district.townships[township][1]
        self.style, self.file_name, self.rng = style, file_name, rng
        self.registry = SOURCES[source]
        self.fields = value_fields(source)
        self.width = len(style.columns)
        self.has_village = any(t == "village" for t, _ in style.columns)
        self.sheet = style.sheet if style.xlsx else ""
        self.amount_indices = [
            i for i, f in enumerate(self.fields) if self.registry.field(f).type is FieldType.AMOUNT
        ]
        self.head: list[tuple[str, list[object]]] = []
        self.persons: list[int] = []
        self.names: list[str] = []
        self.id_cells: list[object] = []
        self.values: list[tuple[object, ...]] = []
        self.blank_before: set[int] = set()  # data rows preceded by a stray blank line
        if style.title:
            self.head.append(("title", [style.title]))
            if style.subtitle:
                department = self.registry.department
                year, mon = parse_month(shift_month(month, 1))
                cells: list[object] = [f"填报单位：金安区{department}（盖章）"]
                cells += [""] * max(0, self.width - 3) + [f"填报日期：{year}年{mon}月5日"]
                self.head.append(("subtitle", cells))
            if style.blank_after_title:
                self.head.append(("blank", []))
        self.head.append(("header", [header for _, header in style.columns]))
        self.next_row = len(self.head) + 1

    def add(self, record: Record, bad: str, out: SourceOutput) -> None:
        """Mess up the row's identity (and maybe an amount, or the whole row); record its truth."""
        ctx, rng = self.ctx, self.rng
        person = record.person
        annotation = ""
        if (
            self.source == "public_security"
            and record.values[0] == "死亡"
            and ctx.messy
            and rng.random() < 0.3
        ):
            annotation = "（已故）"
        protect = _protected(ctx, self.source, self.month, record)
        name, id_cell, tags, recoverable = self.messer.identity(
            rng, person, self.source, self.registry.household_level, self.has_village, self.style.xlsx,
            protect, record.force, annotation,
        )  # fmt: skip
        values = record.values
        if (
            ctx.messy
            and not record.planted
            and self.amount_indices
            and rng.random() < AMOUNT_BLANK_RATE
        ):
            values = _with(values, rng.choice(self.amount_indices), None)
            record = record._replace(values=values)
            tags = [*tags, "amount_blank"]
        reject_field, reason = "", ""
        if bad:
            name, id_cell, values, reject_field, reason = self._spoil(bad, name, id_cell, values)
            tags = [*tags, "bad_row", bad]
            if bad == "no_identity":
                village = self.ctx.village_name(person) if self.has_village else None
                out.lost.append((record, self.township, village))
            else:
                # the identity is intact: a pipeline keeps the row with the spoiled field unread
                # (contract §2), and every rule that does not need that field still reads it (a
                # claim whose 出院日期 is 2026-02-30 counts towards YB01's sum)
                out.kept.append(
                    (record._replace(values=_with(record.values, self.fields.index(reject_field), None)),
                     recoverable)
                )  # fmt: skip
        if self.style.blank_rows and rng.random() < self.style.blank_rows:
            self.blank_before.add(len(self.persons))
            self.next_row += 1
        row_number = self.next_row
        self.next_row += 1
        self.persons.append(person)
        self.names.append(name)
        self.id_cells.append(id_cell)
        self.values.append(values)
        d = ctx.district
        household, member = (d.hh_id[d.m_hh[person]], d.m_id[person]) if person >= 0 else ("", "")
        out.truth.append((self.source, self.file_name, self.sheet, row_number, household, member,
                          ";".join(tags), "false" if bad or not recoverable else "true"))  # fmt: skip
        if bad:
            out.rejects.append(
                (self.source, self.file_name, self.sheet, row_number, reject_field, reason)
            )
        else:
            out.kept.append((record, recoverable))

    def _spoil(
        self, bad: str, name: str, id_cell: object, values: tuple[object, ...]
    ) -> tuple[str, object, tuple[object, ...], str, str]:
        """Make a row that must be rejected; returns the new cells and the expected reject reason."""
        if bad == "no_identity":
            return "", "", values, "name", "姓名和证件号码均为空"
        if bad == "bad_date":
            field_name = BAD_DATE_FIELD[self.source]
            spec = self.registry.field(field_name)
            text = self.rng.choice(BAD_MONTHS if spec.type is FieldType.MONTH else BAD_DATES)
            values = _with(values, self.fields.index(field_name), text)
            return name, id_cell, values, field_name, f"{spec.headers[0]}无法识别为日期"
        field_name, unknown = BAD_ENUM[self.source]
        header = self.registry.field(field_name).headers[0]
        values = _with(values, self.fields.index(field_name), unknown)
        return name, id_cell, values, field_name, f"{header}取值“{unknown}”不在允许范围"

    # --- columns -------------------------------------------------------------------------------
    def _column(self, token: str) -> list[object]:
        ctx, d, n = self.ctx, self.ctx.district, len(self.persons)
        xlsx = self.style.xlsx
        if token == "name":
            return list(self.names)
        if token == "id_number":
            return list(self.id_cells)
        if token == "seq":
            return list(range(1, n + 1)) if xlsx else [str(i) for i in range(1, n + 1)]
        if token == "sex":
            return ["男" if ctx.male(p) else "女" for p in self.persons]
        if token == "relation":
            return [d.m_relation[p] if p >= 0 else "" for p in self.persons]
        if token == "note":
            return [""] * n
        if token == "township":
            return [self.township_name] * n  # files are split by township
        if token == "village":
            return [ctx.village_name(p) for p in self.persons]
        if token == "group":
            return [ctx.group_name(p) for p in self.persons]
        if token.startswith("x"):
            return self._plain([v[len(self.fields) + int(token[1:])] for v in self.values])
        index = self.fields.index(token)
        raw = [v[index] for v in self.values]
        kind = self.registry.field(token).type
        if kind is FieldType.DATE:
            return self._dates(raw)
        if kind is FieldType.MONTH:
            style = "cell" if xlsx and self.style.date_style == "cell" else self.style.month_style
            return _by_value(raw, lambda day: day if style == "cell" else format_month(day, style))
        if kind is FieldType.AMOUNT:
            return self._amounts(raw, token in YUAN_FIELDS)
        if kind is FieldType.YESNO:
            return [YES_NO.get(v, v) for v in raw]  # type: ignore[call-overload]
        return self._plain(raw)

    def _plain(self, raw: list[object]) -> list[object]:
        if self.style.xlsx:
            return ["" if v is None else v for v in raw]
        return ["" if v is None else v if isinstance(v, str) else str(v) for v in raw]

    def _dates(self, raw: list[object]) -> list[object]:
        style = self.style.date_style

        def render(day: date) -> object:
            return (
                day
                if style == "cell"
                else excel_serial(day)
                if style == "serial"
                else format_date(day, style)
            )

        cells = _by_value(raw, render)
        if self.style.mixed_dates:
            rng, share = self.rng, self.style.mixed_dates
            for i, day in enumerate(raw):
                if isinstance(day, date) and rng.random() < share:
                    cells[i] = format_date(day, rng.choice(DATE_STYLES[:5]))
        return cells

    def _amounts(self, raw: list[object], yuan: bool) -> list[object]:
        if self.style.xlsx and self.style.xlsx_numbers:
            return ["" if v is None else v / 100 for v in raw]  # type: ignore[operator]
        style = self.style.amount_style
        if style == "plain" or (style == "yuan" and not yuan):
            return ["" if v is None else f"{v / 100:.2f}" for v in raw]  # type: ignore[operator]
        if style == "thousands":
            return ["" if v is None else f"{v / 100:,.2f}" for v in raw]  # type: ignore[operator]
        if style == "yuan":
            return ["" if v is None else f"{v / 100:.2f}元" for v in raw]  # type: ignore[operator]
        return ["" if v is None else short_amount(v) for v in raw]  # type: ignore[arg-type]

    def _total_row(self) -> list[object]:
        cells: list[object] = [""] * self.width
        cells[0] = "合计"
        n = len(self.persons)
        for position, (token, _) in enumerate(self.style.columns):
            if token == "name" and position:
                cells[position] = f"共{n}{'户' if self.registry.household_level else '人'}"
            elif token in self.fields and self.fields.index(token) in self.amount_indices:
                index = self.fields.index(token)
                total = sum(v[index] for v in self.values if isinstance(v[index], int))  # type: ignore[misc]
                cells[position] = self._amounts([total], token in YUAN_FIELDS)[0]
        return cells

    def finish(self, path: Path) -> None:
        columns = [self._column(token) for token, _ in self.style.columns]
        tail: list[tuple[str, list[object]]] = []
        if self.style.total_row:
            tail.append(("total", self._total_row()))
        if self.style.notes:
            department = self.registry.department
            tail.append(
                (
                    "note",
                    [
                        f"注：本表数据由金安区{department}提供，仅用于防止返贫动态监测数据比对，请勿外传。"
                    ],
                )
            )
            rng = self.ctx.rng("notes", self.source, self.month, self.file_name)
            clerk, checker = full_name(rng, True, 1980), full_name(rng, False, 1985)
            tail.append(("note", [f"制表人：{clerk}　　审核人：{checker}"]))
        data = zip(*columns, strict=True)
        if self.blank_before:
            data = _with_blanks(data, self.blank_before, self.width)
        if self.style.xlsx:
            write_xlsx(
                path, self.head, data, tail, self.width, self.style.sheet, self.style.leading_sheet
            )
        else:
            write_csv(
                path, self.head, data, tail, self.width, self.style.encoding, self.style.newline
            )


YES_NO: dict[object, str] = {True: "是", False: "否", None: ""}


def _by_value(raw: list[object], render: Callable[[date], object]) -> list[object]:
    """Render each distinct date once; blanks stay blank and spoiled text passes through."""
    cache: dict[object, object] = {}
    for value in set(raw):
        cache[value] = render(value) if isinstance(value, date) else "" if value is None else value
    return [cache[v] for v in raw]


def _with_blanks(
    rows: Iterable[tuple[object, ...]], before: set[int], width: int
) -> Iterable[tuple[object, ...]]:
    blank = ("",) * width
    for index, row in enumerate(rows):
        if index in before:
            yield blank
        yield row


def _with(values: tuple[object, ...], index: int, value: object) -> tuple[object, ...]:
    return values[:index] + (value,) + values[index + 1 :]


# --- writers -----------------------------------------------------------------------------------


def write_csv(
    path: Path,
    head: list[tuple[str, list[object]]],
    data: Iterable[tuple[object, ...]],
    tail: list[tuple[str, list[object]]],
    width: int,
    encoding: str,
    newline: str,
) -> None:
    """Every physical line is one row: titles and notes are padded like Excel's CSV export."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerows(_padded(cells, width) for _, cells in head)
        writer.writerows(data)
        writer.writerows(_padded(cells, width) for _, cells in tail)


def _padded(cells: list[object], width: int) -> list[object]:
    return cells + [""] * (width - len(cells))


def write_xlsx(
    path: Path,
    head: list[tuple[str, list[object]]],
    data: Iterable[tuple[object, ...]],
    tail: list[tuple[str, list[object]]],
    width: int,
    sheet: str,
    leading_sheet: bool,
) -> None:
    workbook = xlsxwriter.Workbook(
        str(path),
        {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
         "strings_to_urls": False},
    )  # fmt: skip
    workbook.set_properties({"created": FIXED_CREATED, "author": "金安区"})
    if leading_sheet:
        notes = workbook.add_worksheet("填表说明")
        notes.write_string(0, 0, "填表说明：请按模板填写，证件号码请设置为文本格式。")
    ws = workbook.add_worksheet(sheet)
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    header_format = workbook.add_format(
        {"bold": True, "text_wrap": True, "border": 1, "align": "center"}
    )
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    id_number_format = workbook.add_format({"num_format": "0"})
    ws.set_column(0, width - 1, 14)
    rows = [*((kind, cells) for kind, cells in head), *(("data", row) for row in data), *tail]
    for r, (kind, cells) in enumerate(rows):
        if kind == "title":
            ws.merge_range(r, 0, r, max(1, width - 1), str(cells[0]), title_format)
            continue
        fmt = header_format if kind == "header" else None
        for c, value in enumerate(cells):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                ws.write_string(r, c, value, fmt)
            elif isinstance(value, date):
                ws.write_datetime(r, c, datetime(value.year, value.month, value.day), date_format)
            elif isinstance(value, float) and value > 1e15:
                ws.write_number(r, c, value, id_number_format)  # an ID Excel turned into a number
            else:
                ws.write_number(r, c, value)  # type: ignore[arg-type]
    workbook.close()
