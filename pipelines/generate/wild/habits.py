"""How one clerk lays out one file: format, encoding, titles, headers, column order, cell forms.

A habit is drawn per source and file unit (the district, or one township) from a stream that
does not depend on the month, so the same clerk sends the same kind of file every month; a few
choices (the mix of stray forms, the format now and then) change from month to month.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ...sources import GROUP_HEADERS, ID_HEADERS, SOURCES, TOWNSHIP_HEADERS, VILLAGE_HEADERS
from . import forms
from .clean import EXTRA

BIG_SOURCES = frozenset({"medical_claims", "medical_enrollment"})
XLSX_MAX_ROWS = 120_000

NAME_HEADERS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "medical_claims": ("姓名", "患者姓名", "参保人姓名", "人员姓名"),
    "medical_enrollment": ("姓名", "参保人姓名", "人员姓名"),
    "civil_affairs": ("姓名", "救助对象姓名", "申请人姓名"),
    "education": ("学生姓名", "姓名"),
}
# decorative columns: key -> header choices
DECORATIVE: dict[str, tuple[str, ...]] = {
    "seq": ("序号",),
    "sex": ("性别",),
    "birth": ("出生日期", "出生年月日"),
    "phone": ("联系电话", "联系方式"),
    "nation": ("民族",),
    "relation": ("与户主关系",),
    "head_name": ("户主姓名",),
    "head_id": ("户主身份证号", "户主身份证号码", "户主证件号码"),
    "note": ("备注",),
    "audit": ("审核状态",),
    "updated": ("更新时间",),
}
CASE_NUMBERS: dict[str, tuple[str, ...]] = {  # a secondary code some extracts carry
    "housing": ("鉴定编号", "鉴定报告编号"),
    "water": ("排查编号",),
    "disability": ("残疾人证号",),
}
# two-row headers: a merged group cell over these fields, the field headers below it
GROUPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "medical_claims": (("就诊信息", ("institution", "admission_date", "discharge_date")),
                       ("费用情况（元）", ("total_cost", "fund_paid", "critical_illness_paid",
                                          "assistance_paid", "self_paid"))),
    "medical_enrollment": (("参保信息", ("enroll_year", "enroll_status", "subsidized")),),
    "civil_affairs": (("救助情况", ("assistance_type", "change_type", "covered_people", "amount",
                                   "change_date")),),
    "education": (("学籍信息", ("student_no", "school", "stage", "grade", "school_status",
                                "enrol_month", "aided")),),
    "public_security": (("变动情况", ("change_type", "change_date", "address")),),
    "vehicles": (("车辆信息", ("plate", "vehicle_type", "register_date")),),
    "housing": (("鉴定情况", ("grade", "appraisal_date")),),
    "property": (("房屋信息", ("location", "floor_area", "register_date")),),
    "disability": (("残疾情况", ("category", "disability_level", "issue_date")),
                   ("享受补贴情况", ("living_subsidy", "care_subsidy"))),
    "emergency": (("受灾情况", ("disaster_type", "disaster_date", "loss", "house_collapsed")),),
    "hrss": (("登记情况", ("register_type", "register_date")),),
    "public_servants": (("任职情况", ("employer", "position", "hire_date")),),
    "market": (("市场主体情况", ("entity_name", "credit_code", "role", "capital",
                                "established_date")),),
    "petition": (("信访情况", ("matter", "register_date")),),
    "water": (("排查情况", ("problem_type", "resolved")),),
}  # fmt: skip

TEXT_FORMS = {
    "date": tuple(forms.DATE_TEXT),
    "month": tuple(forms.MONTH_TEXT),
    "year": tuple(forms.YEAR_TEXT),
    "int": tuple(forms.INT_TEXT),
    "yesno": tuple(forms.YES_NO_PAIRS),
}
CELL_FORMS = {
    "date": tuple(forms.DATE_CELL),
    "month": tuple(forms.MONTH_CELL),
    "year": tuple(forms.YEAR_CELL),
    "int": tuple(forms.INT_CELL),
    "amount": tuple(forms.AMOUNT_CELL),
}
# the dominant form of a file; "wan" (0.5万元) is only ever a stray form: it fits round amounts only
AMOUNT_MAIN = {
    "元": ("two", "short", "grouped", "yuan", "grouped_yuan", "spaced_yuan", "sign", "sign_half",
          "sign_short", "full_width", "full_width_yuan"),
    "万元": ("two", "short", "wan", "wanyuan", "in_yuan", "in_yuan_grouped", "full_width"),
    "平方米": ("two", "short", "pingfangmi", "square_metre_sign", "m2", "full_width"),
}  # fmt: skip
# forms a whole file can be written in; the rest show up as stray cells only
MAIN_WEIGHTS = {
    "date": {"iso": 4, "iso_unpadded": 1, "slash": 3, "slash_padded": 1, "dot": 2, "compact": 2,
             "chinese": 3, "chinese_padded": 1, "datetime_text": 2, "full_width": 0.5,
             "full_width_iso": 0.3, "date_cell": 5, "date_cell_cn": 2, "datetime_cell": 2, "serial": 2},
    "month": {"iso": 3, "dot": 3, "chinese": 3, "chinese_padded": 1, "compact": 2, "slash": 1,
              "first_day": 1, "full_width": 0.5, "month_cell": 3, "month_cell_cn": 2},
    "year": {"plain": 3, "float": 2, "nian": 2, "niandu": 2, "full_width": 1,
             "full_width_niandu": 0.3, "number": 3, "number_text": 1},
    "int": {"plain": 4, "float": 2, "ren": 2, "full_width": 0.5, "number": 3},
    "yesno": {"shi_fou": 8, "tick_cross": 3, "y_n": 2, "y_n_lower": 0.5, "full_width_y_n": 0.5},
}  # fmt: skip
ID_STYLE_CSV = {"plain": 10, "apostrophe": 3, "formula_text": 2, "tab": 2, "outer_spaces": 1,
                "bidi": 1, "zero_width": 1}  # fmt: skip
ID_STYLE_XLSX = {"plain": 6, "quote_prefix": 4, "text_format": 3}
ID_STRAY = {"lower_x": 4, "full_width": 2, "outer_spaces": 2, "full_space": 1, "grouped": 1,
            "zero_width": 1, "bidi": 1, "legacy_15": 2, "double_quotes": 1, "times_x": 0.5}  # fmt: skip


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


@dataclass
class Habit:
    fmt: str = "csv"  # csv / xlsx / xls
    encoding: str = "utf-8"
    newline: str = "\r\n"
    titles: list[str] = field(default_factory=list)
    blank_after_title: bool = False
    two_row: bool = False
    merge_location: bool = False
    total_row: bool = False
    notes: list[str] = field(default_factory=list)
    pad_decorations: bool = True
    sheet: str = "Sheet1"
    leading_sheet: str = ""
    columns: list[tuple[str, str]] = field(default_factory=list)  # (key, header text)
    forms: dict[str, str] = field(default_factory=dict)  # kind (or amount unit) -> main form
    stray: float = 0.0  # share of cells written in another form of their kind
    id_style: str = "plain"
    id_stray: float = 0.05
    destroyed_ids: float = 0.0
    blank_ids: float = 0.0
    name_pad: str = ""
    # drawn from a stream of their own (_later_habits), so the habits above stay as they were
    date_export: str = ""  # a whole file's dates in a database's or a document's form
    village_form: str = ""  # the 村 cell with its township, committee or 组 around the name
    ditto: bool = False  # a 乡镇/村 cell repeating the one above written 同上

    @property
    def workbook(self) -> bool:
        return self.fmt in ("xlsx", "xls")


def decorate_header(rng: random.Random, text: str, workbook: bool) -> str:
    """Spaces, a trailing *, the other width of brackets, a line break (workbooks only)."""
    if rng.random() >= 0.15:
        return text
    kinds = ["star", "inner_space", "outer_space"]
    if any(b in text for b in "（）()"):
        kinds.append("brackets")
    if workbook and len(text) >= 4:
        kinds.append("line_break")
    kind = rng.choice(kinds)
    if kind == "star":
        return text + "*"
    if kind == "inner_space" and len(text) >= 2:
        return text[0] + rng.choice((" ", forms.FULL_SPACE)) + text[1:]
    if kind == "outer_space":
        return f" {text} "
    if kind == "brackets":
        return text.translate(str.maketrans("（）()", "()（）"))
    if kind == "line_break":
        cut = len(text) // 2
        return text[:cut] + "\n" + text[cut:]
    return text


def field_header(rng: random.Random, source: str, key: str) -> str:
    registry = SOURCES[source]
    if key == "name":
        if registry.household_level:
            return "户主姓名" if rng.random() < 0.8 else "姓名"
        return rng.choice(NAME_HEADERS_BY_SOURCE.get(source, ("姓名", "人员姓名")))
    if key == "id_number":
        return rng.choice(ID_HEADERS)
    if key == "township":
        return rng.choice(TOWNSHIP_HEADERS)
    if key == "village":
        return rng.choice(VILLAGE_HEADERS)
    if key == "group":
        return rng.choice(GROUP_HEADERS)
    if key in DECORATIVE:
        return rng.choice(DECORATIVE[key])
    if key == "case_no":
        return rng.choice(CASE_NUMBERS[source])
    if key.startswith(EXTRA):
        return key[len(EXTRA) :]
    headers = registry.field(key).headers
    # other aliases than the first one, often
    return rng.choice(headers) if len(headers) > 1 and rng.random() < 0.6 else headers[0]


def choose_habit(
    seed: int,
    source: str,
    month: str,
    unit: str,
    clean_keys: list[str],
    rows: int,
    xls_possible: bool,
) -> Habit:
    """The habit of the clerk who writes `source` for `unit` (a township, or 全区)."""
    rng = random.Random(f"{seed}|wild-habit|{source}|{unit}")
    monthly = random.Random(f"{seed}|wild-habit|{source}|{unit}|{month}")
    registry = SOURCES[source]
    h = Habit()
    big = source in BIG_SOURCES
    roll = rng.random()
    if monthly.random() < 0.15:
        roll = monthly.random()  # this month the file came from another machine
    h.fmt = (
        ("csv" if roll < 0.85 else "xlsx" if roll < 0.97 else "xls")
        if big
        else ("csv" if roll < 0.4 else "xlsx" if roll < 0.78 else "xls")
    )
    if h.fmt == "xls" and (not xls_possible or rows > 65_000 - 20):
        h.fmt = "xlsx"
    if h.fmt == "xlsx" and rows > XLSX_MAX_ROWS:
        h.fmt = "csv"
    h.encoding = rng.choices(("utf-8", "utf-8-sig", "gb18030"), (3, 3.5, 3.5))[0]
    h.newline = "\r\n" if rng.random() < 0.6 else "\n"
    year, mon = (int(x) for x in month.split("-"))
    place = "金安区" if unit == "全区" else unit
    if rng.random() < (0.8 if h.workbook else 0.3):
        h.titles.append(
            rng.choice(
                (f"{place}{registry.department}{year}年{mon}月{registry.title}",
                 f"{registry.title}（{place}，{year}年{mon}月）",
                 f"{year}年{mon}月份{place}{registry.title}汇总表")
            )
        )  # fmt: skip
        if rng.random() < 0.5:
            nxt_year, nxt_mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
            h.titles.append(
                rng.choice(
                    (f"填报单位（盖章）：金安区{registry.department}　　　　填报时间：{nxt_year}年{nxt_mon}月3日",
                     f"统计时间：{year}年{mon}月1日至{year}年{mon}月底",
                     f"乡镇（盖章）：{place}　　　　　　填表日期：{nxt_year}年{nxt_mon}月2日",
                     "单位：元、人" if any(k in clean_keys for k in ("self_paid", "amount", "loss"))
                     else f"数据来源：{registry.department}业务系统")
                )
            )  # fmt: skip
        h.blank_after_title = rng.random() < 0.3
    h.pad_decorations = rng.random() < 0.6
    h.two_row = h.workbook and source in GROUPS and rng.random() < 0.3
    h.total_row = rng.random() < (0.5 if h.workbook else 0.15)
    if rng.random() < (0.5 if h.workbook else 0.15):
        clerk = rng.choice(("王", "李", "张", "刘", "陈", "杨")) + rng.choice(
            ("静", "伟", "敏", "磊", "芳")
        )
        h.notes.append(
            rng.choice(
                ("说明：本表数据由业务系统导出，仅供防止返贫动态监测比对使用。",
                 "注：证件号码已与户籍系统核对，如有疑问请与我单位联系。",
                 f"1. 本表统计截至{year}年{mon}月底；2. 金额单位为元。")
            )
        )  # fmt: skip
        h.notes.append(
            f"填表人：{clerk}　　审核人：　　联系电话：0564-33{rng.randrange(10**5):05d}"
        )
    h.sheet = rng.choice(("Sheet1", registry.title, f"{mon}月", place))
    if h.workbook and rng.random() < 0.1:
        h.leading_sheet = "填报说明"
        h.sheet = registry.title  # the data sheet is then named for the data (contract §2)
    h.merge_location = h.workbook and rng.random() < 0.55
    h.columns = _columns(rng, source, clean_keys, h)
    h.forms = _forms(rng, h)
    h.stray = rng.choice((0.0, 0.0, 0.03, 0.08))
    h.id_style = pick(rng, ID_STYLE_XLSX if h.workbook else ID_STYLE_CSV)
    h.id_stray = rng.choice((0.03, 0.06, 0.12))
    h.destroyed_ids = rng.choice((0.0, 0.01, 0.03)) if not registry.household_level else 0.01
    h.blank_ids = rng.choice((0.25, 0.45, 0.6)) if registry.household_level else 0.0
    h.name_pad = rng.choice(("middle_full_space", "middle_spaces")) if rng.random() < 0.3 else ""
    _later_habits(random.Random(f"{seed}|wild-habit-later|{source}|{unit}"), source, h)
    return h


# a clerk's habits met in files after the first wild profile was written (database exports'
# dates, 村 cells with their address or 组, 同上)
EXPORT_DATE_WEIGHTS = {"oracle_cn": 4, "oracle_en": 2, "excel_dmy": 1, "sas": 1,
                       "two_digit_chinese": 1, "chinese_numerals": 1}  # fmt: skip
VILLAGE_FORM_WEIGHTS = {"with_township": 3, "committee": 2, "committee_full": 1, "with_group": 3,
                        "address": 1}  # fmt: skip


def _later_habits(rng: random.Random, source: str, h: Habit) -> None:
    """The later habits of the clerk: each drawn whatever applies, so one habit's presence never
    moves another's draw. Without a 乡镇 column when the 村 cell names the township."""
    registry = SOURCES[source]
    export = pick(rng, EXPORT_DATE_WEIGHTS)
    if rng.random() < (0.1 if h.workbook else 0.2):
        h.date_export = export
    form = pick(rng, VILLAGE_FORM_WEIGHTS)
    keys = [k for k, _ in h.columns]
    if "village" in keys and rng.random() < (0.2 if registry.household_level else 0.06):
        h.village_form = form
    without_township = rng.random() < 0.5
    if h.village_form in forms.VILLAGE_FORMS_WITH_TOWNSHIP and without_township:
        h.columns = [(k, text) for k, text in h.columns if k != "township"]
    ditto = rng.random() < 0.12
    h.ditto = ditto and not h.merge_location and any(k in keys for k in ("township", "village"))


def _columns(
    rng: random.Random, source: str, clean_keys: list[str], h: Habit
) -> list[tuple[str, str]]:
    registry = SOURCES[source]
    keys = list(clean_keys)
    if "village" in keys and not registry.household_level and rng.random() < 0.1:
        keys.remove("village")  # 村 is optional for person-level files
    extras = [k for k in keys if k.startswith(EXTRA)]
    for extra in extras:
        if rng.random() < 0.25:
            keys.remove(extra)
    decorative = {
        "sex": 0.35,
        "birth": 0.2,
        "phone": 0.15,
        "nation": 0.1,
        "note": 0.3,
        "audit": 0.1,
        "updated": 0.1,
    }
    if not registry.household_level:
        decorative["relation"] = 0.2
    if source == "civil_affairs":
        decorative["head_name"] = 0.4
    added = [k for k, p in decorative.items() if rng.random() < p]
    if "head_name" in added and rng.random() < 0.5:
        added.append("head_id")  # the 户主's ID beside the person's: not an ID alias
    if source in CASE_NUMBERS and rng.random() < 0.7:
        added.append("case_no")
    if "village" in keys and rng.random() < 0.3:
        added.append("group")
    # identity first (either order of name/ID/places), then the fields, then what was added
    identity = [k for k in ("name", "id_number") if k in keys]
    places = [k for k in ("township", "village") if k in keys] + (
        ["group"] if "group" in added else []
    )
    body = [k for k in keys if k not in identity and k not in places]
    added = [k for k in added if k != "group"]
    if rng.random() < 0.5:
        order = places + identity + body + added
    else:
        order = identity + body + added + places
    if not h.two_row and rng.random() < 0.3:
        rng.shuffle(order)  # columns in an order of the clerk's own
    elif h.two_row:
        order = _grouped_order(source, order)
    if rng.random() < 0.65:
        order = ["seq", *order]
    return [(k, decorate_header(rng, field_header(rng, source, k), h.workbook)) for k in order]


def _grouped_order(source: str, order: list[str]) -> list[str]:
    """Each group's fields next to each other, where the first of them was."""
    out: list[str] = []
    placed: set[str] = set()
    for key in order:
        if key in placed:
            continue
        group = next((g for _, g in GROUPS[source] if key in g), None)
        members = [k for k in (group or (key,)) if k in order]
        out += members
        placed.update(members)
    return out


def _forms(rng: random.Random, h: Habit) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for kind, weights in MAIN_WEIGHTS.items():
        allowed = {k: w for k, w in weights.items() if h.workbook or k in TEXT_FORMS[kind]}
        chosen[kind] = pick(rng, allowed)
    for unit, names in AMOUNT_MAIN.items():
        options = list(names) + (["number", "number_grouped", "number_text"] if h.workbook else [])
        weights = [6 if o in ("two", "number") else 1 for o in options]
        chosen["amount:" + unit] = rng.choices(options, weights)[0]
    chosen["enum"] = rng.choices(("plain", "padded", "full_width", "grade_suffix"), (12, 1, 1, 1))[
        0
    ]
    return chosen
