"""The monthly roster snapshot (农户花名册) and the grid ledger (附件2) files."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import xlsxwriter

from .context import Context
from .geography import short_name
from .names import full_name
from .population import District

ROSTER_HEADERS = (
    "乡镇", "村", "村民组", "网格", "户编号", "户主姓名", "姓名", "证件号码", "与户主关系", "户类型", "性别",
    "出生日期", "监测对象类别", "风险是否消除", "劳动技能", "健康状况", "家庭人口数", "联系电话", "家庭年人均纯收入",
)  # fmt: skip
GRID_TITLE_TAIL = "防止返贫动态监测基层网格工作台账"
GRID_BLANK = "乡镇（街道、开发区）"
GRID_CSV_HEADERS = ("乡镇", "村", "村组网格名称", "农户数", "村组网格员姓名", "村组网格员电话", "村级网格员姓名",
                    "村级网格员职务", "村级网格员电话")  # fmt: skip
VILLAGE_TITLES = (
    "村党总支书记",
    "村委会主任",
    "村党总支副书记",
    "村委委员",
    "驻村工作队队员",
    "包村干部",
    "村文书",
)
OTHER_DUTIES = ("村民代表", "妇女组长", "保洁员", "护林员")
MISSING_GRID_RATE = 0.01
GRID_CSV_RATE = 0.15
FIXED_CREATED = datetime(2026, 1, 1)


def write_roster(ctx: Context, folder: Path, month: str) -> int:
    """One CSV per township; the roster is the clean identity anchor, only encodings and one header vary."""
    folder.mkdir(parents=True, exist_ok=True)
    d = ctx.district
    by_township: dict[int, list[int]] = {}
    for household in range(d.households):
        by_township.setdefault(d.hh_township[household], []).append(household)
    for township, households in sorted(by_township.items()):
        name = d.townships[township][1]
        rng = ctx.rng("roster_style", month, township)
        encoding, headers = "utf-8", list(ROSTER_HEADERS)
        if ctx.messy:
            encoding = rng.choices(("utf-8", "utf-8-sig", "gb18030"), (2, 6, 2))[0]
            if rng.random() < 0.5:
                headers[3] = "村组网格名称"
        path = folder / f"农户花名册_{name}.csv"
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n" if encoding == "gb18030" else "\n")
            writer.writerow(headers)
            writer.writerows(_roster_rows(d, households, name))
    return len(by_township)


def _roster_rows(d: District, households: list[int], township: str) -> list[tuple[object, ...]]:
    rows = []
    for household in households:
        grid = d.grids[d.hh_grid[household]]
        village = d.villages[grid.village].name
        head_name = d.m_name[d.hh_first[household]]
        shared = (township, village, grid.group, grid.name, d.hh_id[household], head_name)
        tail = (d.hh_type[household], d.hh_category[household], d.hh_eliminated[household])
        size, income = d.hh_size[household], d.hh_income[household]
        for m in d.household_members(household):
            birth = d.m_birth[m]
            rows.append((
                *shared, d.m_name[m], d.m_id[m], d.m_relation[m], tail[0], "男" if d.m_male[m] else "女",
                f"{birth.year:04d}-{birth.month:02d}-{birth.day:02d}", tail[1], tail[2], d.m_labor[m],
                d.m_health[m], size, d.m_phone[m], income,
            ))  # fmt: skip
    return rows


# --- grid ledger -------------------------------------------------------------------------------


@dataclass
class LedgerRow:
    grid: str
    households: int
    worker: str
    worker_phone: str
    group_leader: bool
    party_member: bool
    other_duty: str
    village_worker: str
    village_title: str
    village_phone: str


def build_ledger(ctx: Context) -> tuple[dict[int, list[LedgerRow]], list[tuple[str, str, str]]]:
    """Ledger rows per village, and the (township, village, grid) rows deliberately left out (messy)."""
    d = ctx.district
    rng = ctx.rng("grid")
    ledger: dict[int, list[LedgerRow]] = {}
    missing: list[tuple[str, str, str]] = []
    cadres: dict[int, list[tuple[str, str, str]]] = {}
    for grid in d.grids:
        village = d.villages[grid.village]
        if grid.village not in cadres:
            count = rng.randint(4, 7)
            cadres[grid.village] = [
                (
                    full_name(rng, rng.random() < 0.7, rng.randint(1965, 1995)),
                    VILLAGE_TITLES[i % 7],
                    _phone(rng),
                )
                for i in range(count)
            ]
        rows = ledger.setdefault(grid.village, [])
        if ctx.messy and rng.random() < MISSING_GRID_RATE:
            missing.append((d.townships[village.township][1], village.name, grid.name))
            continue
        household = grid.first_household + rng.randrange(grid.households)
        worker = d.hh_first[household]
        leader = rng.random() < 0.6
        cadre = cadres[grid.village][len(rows) % len(cadres[grid.village])]
        rows.append(LedgerRow(
            grid.name, grid.households, d.m_name[worker], d.m_phone[worker] or _phone(rng), leader,
            rng.random() < 0.35, "" if leader else rng.choice(OTHER_DUTIES), *cadre,
        ))  # fmt: skip
    if ctx.messy and not missing and len(d.grids) > 1:
        # always leave at least one grid out, so the pipeline's check has something to find
        grid = d.grids[rng.randrange(len(d.grids))]
        village = d.villages[grid.village]
        ledger[grid.village] = [r for r in ledger[grid.village] if r.grid != grid.name]
        missing.append((d.townships[village.township][1], village.name, grid.name))
    return ledger, missing


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"


def write_grid(ctx: Context, folder: Path, ledger: dict[int, list[LedgerRow]]) -> int:
    """One workbook per village laid out as 附件2 (some villages send the flat CSV form when messy)."""
    folder.mkdir(parents=True, exist_ok=True)
    d = ctx.district
    files = 0
    for village_index, rows in sorted(ledger.items()):
        village = d.villages[village_index]
        township = d.townships[village.township][1]
        rng = ctx.rng("grid_file", village_index)
        if ctx.messy and rng.random() < GRID_CSV_RATE:
            _grid_csv(
                folder / f"{township}{village.name}网格台账.csv", township, village.name, rows, rng
            )
        else:
            name = f"{township}{village.name}{GRID_TITLE_TAIL}.xlsx"
            if ctx.messy and rng.random() < 0.4:
                name = rng.choice((f"附件2：{township}{village.name}网格工作台账.xlsx",
                                   f"{township}_{village.name}_网格台账.xlsx"))  # fmt: skip
            _grid_workbook(
                folder / name,
                _grid_title(township, village.name, ctx.messy, rng),
                rows,
                ctx.messy,
                rng,
            )
        files += 1
    return files


def _grid_title(township: str, village: str, messy: bool, rng: random.Random) -> str:
    """The template's blanks filled in: with the full names (the doubled form) or the bare names."""
    roll = rng.random()
    if roll < 0.5:
        return f"{township}{GRID_BLANK}{village}村{GRID_TITLE_TAIL}"
    if roll < 0.85 or not messy:
        return f"{short_name(township)}{GRID_BLANK}{village.removesuffix('村')}村{GRID_TITLE_TAIL}"
    return f"{township}{village}{GRID_TITLE_TAIL}"


def _grid_workbook(
    path: Path, title: str, rows: list[LedgerRow], messy: bool, rng: random.Random
) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_numbers": False})
    workbook.set_properties({"created": FIXED_CREATED, "author": "金安区"})
    ws = workbook.add_worksheet("网格台账")
    bold = workbook.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1})
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    cell = workbook.add_format({"border": 1})
    ws.merge_range(0, 0, 0, 11, title, title_format)
    for col, text in ((0, "序号"), (1, "村组网格名称"), (2, "农户数"), (11, "备注")):
        ws.merge_range(1, col, 2, col, text, bold)
    ws.merge_range(1, 3, 1, 7, "村组网格员", bold)
    ws.merge_range(1, 8, 1, 10, "村级网格员", bold)
    other = "其他（职务）" if messy and rng.random() < 0.5 else "其他(职务)"
    for col, text in enumerate(
        ("姓名", "村民组长", "党员", other, "联系电话", "姓名", "职务", "联系电话"), start=3
    ):
        ws.write_string(2, col, text, bold)
    r = 3
    for n, row in enumerate(rows, start=1):
        ws.write_number(r, 0, n, cell)
        ws.write_string(r, 1, row.grid, cell)
        ws.write_number(r, 2, row.households, cell)
        values = (row.worker, "√" if row.group_leader else "", "√" if row.party_member else "", row.other_duty,
                  row.worker_phone, row.village_worker, row.village_title, row.village_phone, "")  # fmt: skip
        for col, value in enumerate(values, start=3):
            ws.write_string(r, col, value, cell)
        r += 1
    ws.write_string(r, 0, "合计", cell)
    ws.write_number(r, 2, sum(row.households for row in rows), cell)
    clerk = rows[0].village_worker if rows else full_name(rng, True, 1980)
    phone = rows[0].village_phone if rows else _phone(rng)
    ws.write_string(r + 1, 0, f"填报人：{clerk}　　　联系电话：{phone}")
    if messy and rng.random() < 0.3:
        ws.write_string(
            r + 2,
            0,
            "备注：1. 村组网格名称可根据村民小组名称确定。2. 网格员按照具体职务勾选对应项。",
        )
    ws.set_column(1, 1, 18)
    workbook.close()


def _grid_csv(
    path: Path, township: str, village: str, rows: list[LedgerRow], rng: random.Random
) -> None:
    encoding = rng.choice(("utf-8-sig", "gb18030"))
    headers = list(GRID_CSV_HEADERS)
    if rng.random() < 0.5:
        headers[2] = "网格"
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow((township, village, row.grid, row.households, row.worker, row.worker_phone,
                             row.village_worker, row.village_title, row.village_phone))  # fmt: skip
