"""The roster (农户花名册) in the wild habits: the identity anchor stays readable, its form varies."""

from __future__ import annotations

import random
from pathlib import Path

from ...sources import GROUP_HEADERS, ID_HEADERS, TOWNSHIP_HEADERS, VILLAGE_HEADERS
from . import forms
from .clean import Roster
from .departments import WildContext
from .habits import decorate_header, pick
from .sheets import Sheet, write_csv, write_xlsx

# clean header -> header choices a district's own system or a clerk uses
ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "乡镇": TOWNSHIP_HEADERS,
    "村": VILLAGE_HEADERS,
    "村民组": GROUP_HEADERS,
    "网格": ("网格", "村组网格名称"),
    "户编号": ("户编号",),
    "户主姓名": ("户主姓名",),
    "姓名": ("姓名", "人员姓名"),
    "证件号码": ID_HEADERS,
    "与户主关系": ("与户主关系",),
    "户类型": ("户类型",),
    "性别": ("性别",),
    "出生日期": ("出生日期",),
    "监测对象类别": ("监测对象类别",),
    "风险是否消除": ("风险是否消除",),
    "劳动技能": ("劳动技能",),
    "健康状况": ("健康状况",),
    "家庭人口数": ("家庭人口数",),
    "联系电话": ("联系电话",),
    "家庭年人均纯收入": ("家庭年人均纯收入",),
}
PLACES = ("乡镇", "村", "村民组")
ID_STYLE_CSV = {"plain": 6, "apostrophe": 2, "formula_text": 2, "tab": 2}
ID_STYLE_XLSX = {"plain": 3, "quote_prefix": 3, "text_format": 2}
ID_STRAY = {
    "lower_x": 5,
    "outer_spaces": 2,
    "full_space": 1,
    "zero_width": 1,
    "bidi": 1,
    "full_width": 1,
}
BLANK_FIRST_MONTH = {"联系电话": 0.05, "出生日期": 0.02}


def write_roster(
    ctx: WildContext, roster: Roster, month: str, folder: Path
) -> list[tuple[Path, str]]:
    """One file per township; returns (path, format) of every file written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    first_month = not ctx.months or month == ctx.months[0]
    for township in sorted(roster.by_township):
        rows = roster.by_township[township]
        rng = random.Random(f"{ctx.seed}|wild-roster|{township}")
        cells_rng = random.Random(f"{ctx.seed}|wild-roster|{township}|{month}")
        roll = rng.random()
        fmt = "csv" if roll < 0.5 else "xlsx" if roll < 0.85 else "xls"
        if fmt == "xls" and (not ctx.xls_possible or len(rows) > 65_000 - 10):
            fmt = "xlsx"
        workbook = fmt != "csv"
        clean_header = roster.header
        order = list(clean_header)
        if rng.random() < 0.25:
            order = [*PLACES, *rng.sample([h for h in order if h not in PLACES], len(order) - 3)]
        extras = [e for e, p in (("民族", 0.3), ("备注", 0.3)) if rng.random() < p]
        seq = rng.random() < 0.6
        headers = (
            (["序号"] if seq else [])
            + [decorate_header(rng, rng.choice(ROSTER_HEADERS[h]), workbook) for h in order]
            + extras
        )
        sheet = Sheet(rng.choice(("花名册", "Sheet1", township)), len(headers),
                      pad_decorations=rng.random() < 0.5)  # fmt: skip
        year, mon = (int(x) for x in month.split("-"))
        if rng.random() < (0.8 if workbook else 0.2):
            sheet.add("title", [f"金安区{township}农户花名册（{year}年{mon}月）"])
            if workbook:
                sheet.merges.append((0, 0, 0, len(headers) - 1))
        sheet.add("header", headers)
        first = len(sheet.rows)
        date_form = pick(rng, {"iso": 4, "slash": 2, "compact": 2, "chinese": 2, "dot": 1,
                               **({"date_cell": 4, "serial": 1} if workbook else {})})  # fmt: skip
        yes_no = pick(rng, {"shi_fou": 6, "tick_cross": 2, "y_n": 1})
        size_form = pick(
            rng, {"plain": 4, "float": 2, "ren": 2, **({"number": 3} if workbook else {})}
        )
        income_form = pick(rng, {"short": 4, "two": 2, "grouped": 2, "yuan": 2, "sign": 1,
                                 **({"number": 3} if workbook else {})})  # fmt: skip
        id_style = pick(rng, ID_STYLE_XLSX if workbook else ID_STYLE_CSV)
        pad_names = rng.random() < 0.2
        col = {h: i for i, h in enumerate(clean_header)}
        for index, row in enumerate(rows, start=1):
            member_id = row[col["证件号码"]]
            out: list[object] = (
                [forms.XCell("number", float(index)) if workbook else str(index)] if seq else []
            )
            for h in order:
                value = row[col[h]]
                if (
                    h in BLANK_FIRST_MONTH
                    and value
                    and first_month
                    and ctx.share("roster-late", h, member_id) < BLANK_FIRST_MONTH[h]
                ):
                    value = ""
                if value == "":
                    out.append("")
                elif h == "证件号码":
                    form = id_style if cells_rng.random() >= 0.04 else pick(cells_rng, ID_STRAY)
                    cell = forms.id_cell(value, form)
                    out.append(cell if cell is not None else forms.id_cell(value, id_style))
                    ctx.stats[f"roster_id:{form if cell is not None else id_style}"] += 1
                elif h == "出生日期":
                    out.append(forms.date_cell(_iso(value), date_form))
                elif h == "风险是否消除":
                    out.append(forms.yes_no_cell(value == "是", yes_no))
                elif h == "家庭人口数":
                    out.append(forms.int_cell(int(value), size_form))
                elif h == "家庭年人均纯收入":
                    out.append(forms.amount_cell(int(value) * 100, "元", income_form))
                elif h in ("姓名", "户主姓名") and pad_names and len(value) == 2:
                    out.append(forms.name_cell(value, "middle_full_space"))
                else:
                    out.append(value)
            out += ["汉族" if e == "民族" else "" for e in extras]
            sheet.add("data", out)
        if workbook and rng.random() < 0.6:
            _merge_places(sheet, headers, order, seq, first)
            ctx.stats["roster_merged_places"] += 1
        if rng.random() < 0.3:
            sheet.add(
                "note", [f"注：本花名册数据来源于全国防返贫监测信息系统，截至{year}年{mon}月底。"]
            )
        name = rng.choice((f"农户花名册_{township}", f"{township}农户花名册{year}{mon:02d}",
                           f"金安区{township}花名册"))  # fmt: skip
        path = folder / f"{name}.{'csv' if fmt == 'csv' else 'xlsx'}"
        if workbook:
            write_xlsx(path, sheet)
        else:
            encoding = rng.choice(("utf-8", "utf-8-sig", "gb18030"))
            write_csv(path, sheet, encoding, "\r\n" if rng.random() < 0.6 else "\n")
        ctx.stats[f"roster_file:{fmt}"] += 1
        written.append((path, fmt))
    return written


def _iso(text: str):  # noqa: ANN202 - a date
    from datetime import date

    return date.fromisoformat(text)


def _merge_places(
    sheet: Sheet, headers: list[str], order: list[str], seq: bool, first: int
) -> None:
    """乡镇, 村 and 村民组 as merged cells over the rows they cover (each within the one before)."""
    offset = 1 if seq else 0
    columns = [order.index(p) + offset for p in PLACES if p in order]
    end = len(sheet.rows)
    for depth, c in enumerate(columns):
        outer = columns[:depth]
        start = first
        key = [sheet.rows[first][k] for k in (*outer, c)]
        for r in range(first + 1, end + 1):
            current = [sheet.rows[r][k] for k in (*outer, c)] if r < end else None
            if current == key:
                continue
            if r - 1 > start:
                sheet.merges.append((start, c, r - 1, c))
            start, key = r, current  # type: ignore[assignment]
    # blank the covered cells only after every level is measured on the full values
    for r1, c1, r2, _ in sheet.merges:
        if r1 >= first:
            for r in range(r1 + 1, r2 + 1):
                sheet.rows[r][c1] = None
