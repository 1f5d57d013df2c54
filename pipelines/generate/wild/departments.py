"""Department files in the wild habits: one clean source-month in, wild files and their truth out."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ...sources import SOURCES
from . import forms
from .clean import EXTRA, CleanRow, Roster, field_kind
from .habits import CELL_FORMS, DECORATIVE, GROUPS, ID_STRAY, TEXT_FORMS, Habit, choose_habit, pick
from .sheets import Sheet, write_csv, write_xlsx

# codes a department may leave blank one month and fill in the next (or the other way round)
LATE_CODES = {"market": "credit_code", "vehicles": "plate"}
BLANK_FIRST_MONTH = 0.3  # of the records that carry such a code: blank in the first month
BLANK_LATER = 0.15  # …: filled in the first month, blank in the later ones
UNREADABLE = 0.004
SUBTOTALS = 0.25  # district-wide files: a 小计 row under each township  # of rows no rule needs: one date or year written so a person reads it two ways
ROUND_IN_WAN = 0.2  # of round 元 amounts: written in 万元 (5000 -> 0.5万元)
NATIONS = ("汉族",) * 30 + ("回族",)
NOTES = ("已核实", "外出务工", "电话联系不上", "本人已确认")


@dataclass
class WildContext:
    """What every wild file of the district needs: seed, roster, months and where rules look."""

    seed: int
    roster: Roster
    months: list[str]  # the requested months (not the claims history)
    sensitive: dict[str, set[str]]  # source -> households some expected warning rests on
    xls_possible: bool
    stats: Counter[str] = field(default_factory=Counter)

    def unit_rng(self, *parts: object) -> random.Random:
        return random.Random("|".join(str(p) for p in (self.seed, "wild", *parts)))

    def share(self, *parts: object) -> float:
        """A stable number in [0, 1) for a record: the same answer every month."""
        digest = hashlib.sha256("|".join(str(p) for p in (self.seed, *parts)).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class Written:
    path: Path
    habit: Habit
    truth: list[tuple[object, ...]]


def write_department(
    ctx: WildContext,
    source: str,
    month: str,
    rows: list[CleanRow],
    clean_keys: list[str],
    folder: Path,
) -> list[Written]:
    """All files of one source and month; each with the truth rows of its data rows."""
    folder.mkdir(parents=True, exist_ok=True)
    split = ctx.unit_rng("split", source).random() < 0.55
    units: dict[str, list[CleanRow]] = {}
    for row in rows:
        units.setdefault(row.township if split else "全区", []).append(row)
    out = []
    for unit in sorted(units):
        habit = choose_habit(
            ctx.seed, source, month, unit, clean_keys, len(units[unit]), ctx.xls_possible
        )
        writer = _FileWriter(ctx, source, month, unit, habit)
        out.append(writer.write(units[unit], folder))
    return out


def file_name(source: str, month: str, unit: str, habit: Habit, rng: random.Random) -> str:
    registry = SOURCES[source]
    year, mon = (int(x) for x in month.split("-"))
    ext = "xlsx" if habit.fmt == "xls" else habit.fmt  # an .xls is converted from its .xlsx later
    if unit == "全区":
        stem = rng.choice(
            (f"金安区{registry.title}{year}年{mon}月", f"{registry.department}{year}.{mon:02d}{registry.title}",
             f"{registry.title}_{year}{mon:02d}_全区")
        )  # fmt: skip
    else:
        stem = rng.choice(
            (f"{unit}{registry.title}{year}年{mon}月", f"{mon}月{registry.title}（{unit}）",
             f"{registry.title}-{unit}-{year}{mon:02d}")
        )  # fmt: skip
    return f"{stem}.{ext}"


class _FileWriter:
    def __init__(self, ctx: WildContext, source: str, month: str, unit: str, habit: Habit) -> None:
        self.ctx, self.source, self.month, self.unit, self.h = ctx, source, month, unit, habit
        self.registry = SOURCES[source]
        self.rng = ctx.unit_rng("rows", source, month, unit)
        self.kinds = {key: self._kind(key) for key, _ in habit.columns}
        self.with_village = any(k == "village" for k, _ in habit.columns)
        self.first_month = month == ctx.months[0] if ctx.months else True
        self.stats = ctx.stats
        # the later habits' own draws (habits._later_habits): the rows' other draws stay as they were
        self.later_rng = ctx.unit_rng("later", source, month, unit)
        self._above: dict[str, str] = {}  # the place cells of the row above, as their values

    def _kind(self, key: str) -> str:
        if key in DECORATIVE or key == "case_no":
            return "decorative"
        if key == "name":
            return "name"
        if key == "id_number":
            return "id"
        return field_kind(self.source, key)

    # --- the file --------------------------------------------------------------------------------
    def write(self, rows: list[CleanRow], folder: Path) -> Written:
        h = self.h
        name = file_name(
            self.source,
            self.month,
            self.unit,
            h,
            self.ctx.unit_rng("name", self.source, self.month, self.unit),
        )
        keys = [k for k, _ in h.columns]
        if h.merge_location:
            rows = sorted(
                rows, key=lambda r: (r.values.get("township") or "", r.values.get("village") or "")
            )
        sheet = Sheet(h.sheet if h.workbook else "", len(keys), pad_decorations=h.pad_decorations)
        for title in h.titles:
            sheet.add("title" if not sheet.rows else "subtitle", [title])
            if h.workbook and len(keys) > 1:
                sheet.merges.append((len(sheet.rows) - 1, 0, len(sheet.rows) - 1, len(keys) - 1))
        if h.titles and h.blank_after_title:
            sheet.add("blank", [])
        self._header(sheet, keys)
        first_data = len(sheet.rows)
        truth: list[tuple[object, ...]] = []
        sheet_name = h.sheet if h.workbook else ""
        subtotals = self.unit == "全区" and self.rng.random() < SUBTOTALS
        blank_rows = 0.0 if h.merge_location else self.rng.choice((0.0, 0.0, 0.004))
        block: list[CleanRow] = []
        for index, row in enumerate(rows, start=1):
            if subtotals and block and row.township != block[-1].township:
                sheet.add("total", self._total(block, keys, "小计"))
                block = []
                self._above = {}  # 同上 never reaches over a 小计
            block.append(row)
            if blank_rows and self.rng.random() < blank_rows:
                sheet.add("blank", [])
                self.stats["blank_row"] += 1
                self._above = {}
            cells, tags = self._row(index, row)
            row_number = sheet.add("data", cells)
            mess = ";".join(t for t in (row.mess, *tags) if t)
            recoverable = row.recoverable
            truth.append((self.source, name, sheet_name, row_number, row.household_id, row.member_id,
                          mess, recoverable))  # fmt: skip
        if subtotals and block:
            sheet.add("total", self._total(block, keys, "小计"))
            self.stats["subtotal_rows"] += 1
        if h.merge_location:
            self._merge_places(sheet, keys, first_data)
        if h.total_row:
            sheet.add("total", self._total(rows, keys, self.rng.choice(("合计", "总计", "合  计"))))
        for note in h.notes:
            sheet.add("note", [note])
        path = folder / name
        if h.workbook:
            write_xlsx(path, sheet, h.leading_sheet)
        else:
            write_csv(path, sheet, h.encoding, h.newline)
        self.stats[f"file:{h.fmt}"] += 1
        return Written(path, h, truth)

    def _header(self, sheet: Sheet, keys: list[str]) -> None:
        headers = [text for _, text in self.h.columns]
        if not self.h.two_row:
            sheet.add("header", headers)
            return
        top: list[object] = list(headers)
        bottom: list[object] = [None] * len(headers)
        r = len(sheet.rows)
        spans = []
        for title, members in GROUPS[self.source]:
            at = [i for i, k in enumerate(keys) if k in members]
            if len(at) < 2 or at != list(range(at[0], at[-1] + 1)):
                continue
            for i in at:
                bottom[i], top[i] = headers[i], None
            top[at[0]] = title
            spans.append((at[0], at[-1]))
        sheet.add("header", top)
        sheet.add("header", bottom)
        grouped = {i for a, b in spans for i in range(a, b + 1)}
        for a, b in spans:
            sheet.merges.append((r, a, r, b))
        for i in range(len(keys)):
            if i not in grouped:
                sheet.merges.append((r, i, r + 1, i))  # a single column's header over both rows
        self.stats["two_row_header"] += 1

    def _merge_places(self, sheet: Sheet, keys: list[str], first: int) -> None:
        """乡镇 (and 村 within it) in one merged cell over the rows they cover."""
        for key in ("township", "village"):
            if key not in keys:
                continue
            col = keys.index(key)
            outer = keys.index("township") if key == "village" and "township" in keys else None
            start = first
            end = len(sheet.rows)
            for r in range(first + 1, end + 1):
                same = (
                    r < end
                    and self._place(sheet.rows[r][col]) == self._place(sheet.rows[start][col])
                    and (
                        outer is None
                        or self._place(sheet.rows[r][outer])
                        == self._place(sheet.rows[start][outer])
                    )
                )
                if same:
                    continue
                if r - 1 > start and self._place(sheet.rows[start][col]):
                    text = self._place(sheet.rows[start][col])
                    sheet.rows[start][col] = text
                    for k in range(start + 1, r):
                        sheet.rows[k][col] = None
                    sheet.merges.append((start, col, r - 1, col))
                    self.stats["merged_location_cells"] += 1
                start = r

    @staticmethod
    def _place(cell: object) -> str:
        return str(cell).strip().strip(forms.FULL_SPACE) if cell else ""

    def _total(self, rows: list[CleanRow], keys: list[str], label: str) -> list[object]:
        cells: list[object] = [""] * len(keys)
        cells[0] = label
        for i, key in enumerate(keys):
            if self.kinds[key] == "amount":
                total = sum(v for r in rows if isinstance(v := r.values.get(key), int))
                cells[i] = (
                    forms.XCell("number", total / 100) if self.h.workbook else f"{total / 100:.2f}"
                )
            elif key == "name" and i:
                cells[i] = f"共{len(rows)}{'户' if self.registry.household_level else '人'}"
        return cells

    # --- one row ---------------------------------------------------------------------------------
    def _row(self, index: int, row: CleanRow) -> tuple[list[object], list[str]]:
        tags: list[str] = []
        values = dict(row.values)
        self._late_codes(row, values, tags)
        unreadable = self._unreadable_field(row, values)
        cells: list[object] = []
        for key, _ in self.h.columns:
            kind = self.kinds[key]
            if key == unreadable:
                cells.append(self._unreadable_cell(kind, values[key]))
                tags.append(f"field_unreadable:{key}")
                continue
            if kind == "id":
                cell, tag = self._id(row, values.get("id_number"))
                if tag:
                    tags.append(tag)
            elif kind == "name":
                cell = self._name(str(values.get("name") or ""), values)
            elif kind == "decorative":
                cell = self._decorative(key, index, row, values)
            else:
                cell = self._value(key, kind, values.get(key))
                if key == "village" and self.h.village_form and values.get("village"):
                    cell = self._village(cell, row, values, tags)
            cells.append(cell)
        if self.h.ditto:
            self._ditto(cells, values, tags)
        return cells, tags

    def _village(
        self, cell: object, row: CleanRow, values: dict[str, object], tags: list[str]
    ) -> object:
        """The 村 cell in the clerk's village form, around whatever padding it had; the 组 is the
        row's own, else its member's in the roster (a natural village's name: 王岗组)."""
        village = str(values["village"])
        member = self.ctx.roster.members.get(row.member_id)
        group = values.get("group") or (
            member.group if member and member.village == village else ""
        )
        written = forms.village_cell(
            village, str(values.get("township") or ""), str(group or ""), self.h.village_form
        )
        self.stats[f"village:{self.h.village_form}"] += 1
        tags.append(f"village_{self.h.village_form}")
        return str(cell).replace(village, written, 1)

    def _ditto(self, cells: list[object], values: dict[str, object], tags: list[str]) -> None:
        """A place cell the same as the one above it written 同上 (most of the time)."""
        for i, (key, _) in enumerate(self.h.columns):
            if key not in ("township", "village"):
                continue
            value = str(values.get(key) or "")
            same = value and self._above.get(key) == value
            if same and self.later_rng.random() < 0.8:
                cells[i] = self.later_rng.choice(("同上", "同上", "〃"))
                self.stats[f"ditto:{key}"] += 1
                tags.append(f"ditto_{key}")
            self._above[key] = value

    def _late_codes(self, row: CleanRow, values: dict[str, object], tags: list[str]) -> None:
        """A code the department fills in only later (or drops later): same records every month."""
        key = LATE_CODES.get(self.source)
        if key and values.get(key):
            share = self.ctx.share(
                "late", self.source, row.member_id or values.get("name"), values[key]
            )
            if share < BLANK_FIRST_MONTH and self.first_month:
                values[key] = None
                tags.append(f"blank_first_month:{key}")
            elif (
                BLANK_FIRST_MONTH <= share < BLANK_FIRST_MONTH + BLANK_LATER
                and not self.first_month
            ):
                values[key] = None
                tags.append(f"blank_later_month:{key}")

    def _sensitive(self, row: CleanRow) -> bool:
        """Could a warning rest on this row? Claims add up (any of them), and any household an
        expected warning of this source names. A 重点 member's enrollment row with an unreadable
        year is not one: the member is enrolled (no YB02 expected) and the contract asks for
        无法判断 there, never a warning."""
        if self.source == "medical_claims" or not row.household_id:
            return True
        return row.household_id in self.ctx.sensitive.get(self.source, set())

    def _unreadable_field(self, row: CleanRow, values: dict[str, object]) -> str | None:
        if self.rng.random() >= UNREADABLE or self._sensitive(row):
            return None
        options = [
            k for k, _ in self.h.columns
            if self.kinds[k] in ("date", "year") and isinstance(values.get(k), (date, int))
            and (self.kinds[k] == "year" or forms.ambiguous_date(values[k]) is not None)  # type: ignore[arg-type]
        ]  # fmt: skip
        return self.rng.choice(options) if options else None

    def _unreadable_cell(self, kind: str, value: object) -> str:
        self.stats[f"unreadable:{kind}"] += 1
        if kind == "year":
            return f"{int(value) % 100:02d}"  # type: ignore[call-overload]
        return forms.ambiguous_date(value) or ""  # type: ignore[arg-type]

    def _id(self, row: CleanRow, id_number: object) -> tuple[object, str]:
        h, rng = self.h, self.rng
        if not id_number:
            return "", ""
        text = str(id_number)
        member = (
            row.member_id and row.member_id == text and row.member_id in self.ctx.roster.members
        )
        if member and (h.blank_ids or h.destroyed_ids):
            roll = rng.random()
            if roll < h.blank_ids + h.destroyed_ids and self.ctx.roster.unique_name(
                text, self.with_village
            ):
                if roll < h.blank_ids:
                    self.stats["id:blank"] += 1
                    return rng.choice(("", "", "无", "/")), "id_blank_name_unique"
                self.stats["id:destroyed"] += 1
                return forms.destroyed_id(text, h.workbook), "id_destroyed_name_unique"
        form = h.id_style
        if rng.random() < h.id_stray:
            form = pick(rng, _stray_ids(h))
        cell = forms.id_cell(text, form)
        if cell is None:
            form, cell = h.id_style, forms.id_cell(text, h.id_style)
        self.stats[f"id:{form}"] += 1
        return cell, ("" if form == "plain" else f"id_{form}")

    def _name(self, name: str, values: dict[str, object]) -> str:
        form = self.h.name_pad if len(name) == 2 else ""
        if self.rng.random() < 0.02:
            form = self.rng.choice(("trailing_space", "leading_full_space"))
        if form:
            self.stats[f"name:{form}"] += 1
        cell = forms.name_cell(name, form)
        if values.get("change_type") == "死亡" and self.source == "public_security":
            if self.rng.random() < 0.3:
                self.stats["name:annotation"] += 1
                cell += self.rng.choice(("（已故）", "(死亡)", "【已死亡】"))
        elif self.registry.household_level and self.rng.random() < 0.03:
            self.stats["name:annotation"] += 1
            cell += self.rng.choice(("（户主）", "(户主)"))
        return cell

    def _decorative(self, key: str, index: int, row: CleanRow, values: dict[str, object]) -> object:
        rng, wb = self.rng, self.h.workbook
        id18 = row.member_id or str(values.get("id_number") or "")
        member = self.ctx.roster.members.get(row.member_id)
        if key == "seq":
            return forms.XCell("number", float(index)) if wb else str(index)
        if key == "sex":
            return ("男" if int(id18[16]) % 2 else "女") if len(id18) == 18 else ""
        if key == "birth":
            if len(id18) != 18:
                return ""
            born = date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
            return self._value("birth", "date", born)
        if key == "phone":
            return member.phone if member else ""
        if key == "nation":
            return rng.choice(NATIONS)
        if key == "relation":
            return member.relation if member else ""
        if key == "head_name":
            return member.head_name if member else str(values.get("name") or "")
        if key == "head_id":  # a second ID column, of the 户主: not the person's
            head = self.ctx.roster.heads.get(member.household_id) if member else None
            return head or id18
        if key == "note":
            return rng.choice(NOTES) if rng.random() < 0.05 else ""
        if key == "audit":
            return "已审核"
        if key == "updated":
            year, mon = (int(x) for x in self.month.split("-"))
            return f"{year}-{mon:02d}-{rng.randint(1, 28):02d} {rng.randint(8, 17):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        if key == "case_no":
            return self._case_number(row)
        return ""

    def _case_number(self, row: CleanRow) -> str:
        """A stable secondary code, left blank in the first month for some records."""
        anchor = row.household_id or row.member_id
        share = self.ctx.share("case", self.source, anchor)
        if share < BLANK_FIRST_MONTH and self.first_month:
            self.stats["case_no:blank_first_month"] += 1
            return ""
        year = self.month[:4]
        if self.source == "disability" and len(row.member_id) == 18:
            return f"{row.member_id}{int(share * 7) + 1}{int(share * 400) % 4 + 1}"
        return f"JA{year}{int(share * 10**6):06d}"

    # --- typed values ----------------------------------------------------------------------------
    def _value(self, key: str, kind: str, value: object) -> object:
        if value is None:
            return ""
        h, rng = self.h, self.rng
        stray = h.stray and rng.random() < h.stray
        if kind == "amount":
            unit = self.registry.field(key).unit if not key.startswith(EXTRA) else "元"
            form = h.forms["amount:" + unit]
            if unit == "元" and value and value % 10_000 == 0 and rng.random() < ROUND_IN_WAN:  # type: ignore[operator]
                form = "wan"
            elif stray:
                form = rng.choice(
                    tuple(forms.AMOUNT_TABLES[unit])
                    + (tuple(forms.AMOUNT_CELL) if h.workbook else ())
                )
            cell = forms.amount_cell(value, unit, form)  # type: ignore[arg-type]
            self.stats[f"amount:{unit}:{form}"] += 1
        elif kind in ("date", "month", "year", "int"):
            form = h.forms[kind]
            if stray:
                form = rng.choice(
                    TEXT_FORMS[kind] + (CELL_FORMS.get(kind, ()) if h.workbook else ())
                )
            elif (
                kind == "date"
                and h.date_export
                # a date of birth is never written with two digits of its year (1920 or 2020)
                and (key != "birth" or h.date_export not in forms.TWO_DIGIT_YEAR)
            ):
                form = h.date_export
            render = {"date": forms.date_cell, "month": forms.month_cell, "year": forms.year_cell,
                      "int": forms.int_cell}[kind]  # fmt: skip
            cell = render(value, form)  # type: ignore[operator]
            self.stats[f"{kind}:{form}"] += 1
        elif kind == "yesno":
            form = h.forms["yesno"]
            if stray:
                form = rng.choice(TEXT_FORMS["yesno"])
            cell = forms.yes_no_cell(bool(value), form)
            self.stats[f"yesno:{form}"] += 1
        elif kind == "enum":
            form = (
                h.forms["enum"]
                if not stray
                else rng.choice(("padded", "full_width", "grade_suffix"))
            )
            if form == "grade_suffix" and self.source != "housing":
                form = "plain"
            cell = forms.enum_cell(str(value), form, rng)
            if cell != value:
                self.stats[f"enum:{form}"] += 1
        else:
            cell = str(value)
            if stray and kind in ("location", "text"):
                cell = forms.padded(cell, rng)
                self.stats[f"{kind}:padded"] += 1
            return cell
        if isinstance(cell, str) and stray and rng.random() < 0.3:
            self.stats["padded_value"] += 1
            return forms.padded(cell, rng)
        return cell


def _stray_ids(h: Habit) -> dict[str, float]:
    weights = dict(ID_STRAY)
    if h.workbook:
        weights["quote_prefix"] = 2
    else:
        weights["apostrophe"] = 1
        weights["formula_text"] = 1
    return weights
