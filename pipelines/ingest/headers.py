"""Find the header row of a grid (one row, or a two-row merged header) and map columns to fields."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import polars as pl

from pipelines.ingest.parse import AREA_UNITS, NO_MARKS, NOTE_AFTER, YES_MARKS, parse_enum
from pipelines.sources import ID_HEADERS, NAME_HEADERS, Field, FieldType, normalise_header

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


# A unit written after a header in brackets (个人自付（元）, 注册资本（万元）, 家庭人口数（人）):
# the header is its field's, in that unit. Only units that say how to read the number: a
# bracket that says whose value it is (姓名（监护人）; 身份证号（户主） in a person-level list) is
# another column.
_BRACKETED = re.compile(NOTE_AFTER)
# the unit after a slash (个人自付/元), and square brackets as round ones (个人自付【元】, [元])
_SLASHED = re.compile(r"^(.+?)/([^/()]+)$")
_SQUARE = str.maketrans("【】[]〔〕", "()()()")
MONEY_UNITS = {
    "元": "元", "人民币元": "元", "元人民币": "元", "人民币": "元", "元/人民币": "元", "¥": "元",
    "元/月": "元", "元/年": "元", "元/人": "元", "元/人/月": "元", "元/户": "元", "万元": "万元",
    "千元": "千元",
}  # fmt: skip
_COUNT_UNITS = ("人", "口", "户", "个", "岁")


# how a date header shows the form it wants: 出生日期（年月日）, 入学年月（YYYY-MM）, 登记日期（格式：
# 20261005）, 发证日期（如2026-10-05）
_DATE_FORM = re.compile(r"^(?:格式|例如|如|例)?[:：]?[年月日号yYmMdD0-9/.\-]+$")


_YES_NO = frozenset((*YES_MARKS, *NO_MARKS))


def _choices(field: Field, unit: str) -> bool:
    """A bracket listing the field's values (在校状态（在读/辍学）, 是否享受资助（是/否）, （填是或否）,
    鉴定等级（A级、B级、C级、D级）): each part read as its cells are (parse_yes_no's marks,
    parse_enum's codes)."""
    listed = re.sub(r"^(?:请?填写?|请?选择?)", "", unit)
    parts = [part for part in re.split(r"[/、,，|或]", listed) if part]
    if len(parts) < 2:
        return False
    if field.type is FieldType.YESNO:
        # the marks a 是/否 cell is read by (parse_yes_no): 是否解决（已解决/未解决）, （Y/N）
        return all(part.upper() in _YES_NO for part in parts)
    if not field.allowed:
        return False
    read = parse_enum(pl.Series(parts, dtype=pl.String), field.allowed, field.synonyms)
    return bool(read.is_in(field.allowed).all())


# a template's note on any header (姓名（必填）, 证件号码（18位）, 身份证号（文本格式）)
_ANY_NOTE = re.compile(
    r"^(?:必填|必填项|选填|选填项|可选|非必填|[0-9]{2}位(?:数字)?|文本格式|文本)$"
)
# what a header may say after its field's name about that same column: the kind of place
# (所在乡镇（街道）, 乡镇/街道, 行政村（社区）, 村(居)), the kind of ID (证件号码（身份证）), that the
# name is the person's own (姓名（本人）); or another of the field's aliases (身份证号/证件号码)
_PLACE_KINDS = {
    "township": frozenset({"街道", "开发区", "办事处", "街道办事处", "镇", "乡", "乡镇"}),
    "village": frozenset({"社区", "居", "居委会", "村委会", "居委", "村"}),
}
_ID_KINDS = frozenset({"身份证", "居民身份证", "身份证号", "二代", "二代身份证"})
_OWN_NAME = frozenset({"本人", "全称", "中文"})


def _same_column(field: Field, unit: str) -> bool:
    parts = [part for part in re.split(r"[/、,，]", unit) if part]
    if not parts:
        return False
    aliases = {normalise_header(alias) for alias in field.headers}
    if all(part in aliases for part in parts):
        return True
    if field.name in _PLACE_KINDS:
        return all(part in _PLACE_KINDS[field.name] for part in parts)
    if field.type is FieldType.ID:
        # 身份证号（户主）: the 户主's ID, the file's own where the field takes 户主身份证号
        head = unit == "户主" and any(alias.startswith("户主") for alias in aliases)
        return unit in _ID_KINDS or head
    return field.type is FieldType.NAME and unit in _OWN_NAME


def _fits(field: Field, unit: str) -> bool:
    """A unit, a date form, the field's choices, a template's note, or more words on the same
    column (_same_column) a header may carry."""
    if _ANY_NOTE.match(unit) or _choices(field, unit) or _same_column(field, unit):
        return True
    if field.type is FieldType.AMOUNT:
        if field.unit == "平方米":
            return unit.upper() in AREA_UNITS
        return unit in MONEY_UNITS
    if field.type in (FieldType.DATE, FieldType.MONTH):
        return _DATE_FORM.match(unit) is not None
    if field.type is FieldType.YEAR:
        return unit in ("年", "年度") or re.fullmatch(r"20[0-9]{2}", unit) is not None  # （2026）
    return field.type is FieldType.INT and unit in _COUNT_UNITS


def header_unit(label: str) -> tuple[str, str | None]:
    """A header key without the unit after it, and that unit (None: no unit): in brackets of
    either kind (个人自付（元）, 个人自付【元】) or after a slash (个人自付/元); a template's 单位：
    before it is dropped (个人自付（单位：元）)."""
    text = label.translate(_SQUARE)
    match = _BRACKETED.match(text) or _SLASHED.match(text)
    if not match or not match[2]:
        return label, None
    return match[1], re.sub(r"^单位[:：]?", "", match[2]) or None


def money_unit(label: str) -> str | None:
    """The money unit (元, 万元, 千元) a header names after its field, if any."""
    return MONEY_UNITS.get(header_unit(label)[1] or "")


def _aliases_of(
    label: str, index: dict[str, list[tuple[str, int]]], fields: dict[str, Field]
) -> list[tuple[str, int]]:
    """The (field, alias priority) a header key names: as an alias, or as one with its unit."""
    if label in index:
        return index[label]
    base, unit = header_unit(label)
    if unit is None or base not in index:
        return []
    return [(name, priority) for name, priority in index[base] if _fits(fields[name], unit)]


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
    by_name = {field.name: field for field in fields}
    # the columns whose header is some alias, left to right (most rows scanned are data: none)
    aliased = [
        (column, aliases)
        for column, label in enumerate(labels)
        if label and (aliases := _aliases_of(label, index, by_name))
    ]
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
    if aliased:
        _take_role_id(labels, fields, assigned)
    return assigned


# the roles the contract's name headers name a person by (学生姓名, 患者姓名 …; 姓名 names none)
PERSON_ROLES = tuple(
    dict.fromkeys(
        h.removesuffix("姓名") for h in NAME_HEADERS if h != "姓名" and h.endswith("姓名")
    )
)
_ANY_PERSON = ("", "人员")  # a name header that names no one else: 姓名, 人员姓名
_ID_KEYS = tuple(normalise_header(alias) for alias in ID_HEADERS)


def _take_role_id(labels: Sequence[str], fields: Sequence[Field], assigned: dict[str, int]) -> None:
    """An ID column headed by the role its name column is headed by (学生姓名 beside 学生身份证号,
    患者姓名 beside 患者身份证号): that person's ID, where no ID header of the contract's is there.
    Beside a name that names no role (姓名), a role of the contract's name headers (学生身份证号)
    is the person's too, but for 户主: in a person-level list that is the head's ID, another
    column. The one such column is taken; two (学生身份证号 and 患者身份证号) leave it unread."""
    id_field = next((f for f in fields if f.type is FieldType.ID), None)
    name_column = assigned.get("name")
    if id_field is None or id_field.name in assigned or name_column is None:
        return
    name_base = header_unit(labels[name_column])[0]
    role = name_base.removesuffix("姓名") if name_base.endswith("姓名") else ""
    roles = [r for r in PERSON_ROLES if r != "户主"] if role in _ANY_PERSON else [role]
    taken = set(assigned.values())
    found = []
    for column, label in enumerate(labels):
        if column in taken or not label:
            continue
        base, unit = header_unit(label)
        if unit is not None and not _fits(id_field, unit):
            continue
        if any(base == r + alias for r in roles for alias in _ID_KEYS):
            found.append(column)
    if len(found) == 1:
        assigned[id_field.name] = found[0]


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
