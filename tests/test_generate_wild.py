"""The generator's mess profiles: heavy (the normal messes, more often) and wild (other clerks'
habits, written by an independent writer): forms present, truth consistent, same seed same files."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipelines.cli import build_parser
from pipelines.generate import generate
from pipelines.generate import messes as normal_messes
from pipelines.generate.wild import district, mess_profile, sheets
from pipelines.generate.wild.forms import XCell
from pipelines.sources import ID_HEADERS, NAME_HEADERS, TOWNSHIP_HEADERS, VILLAGE_HEADERS

MONTH = "2026-10"
MEMBERS = 2000
SEED = 7
REAL_SOFFICE = sheets.soffice
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@pytest.fixture(scope="module")
def no_libreoffice():
    """The default tests never need LibreOffice: the .xls files fall back to .xlsx."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(district, "soffice", lambda: None)
        mp.setattr(sheets, "soffice", lambda: None)
        yield


@pytest.fixture(scope="module")
def wild(tmp_path_factory: pytest.TempPathFactory, no_libreoffice: None) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("wild")
    return root, generate(root, [MONTH], members=MEMBERS, seed=SEED, messy="wild")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    generate(root, [MONTH], members=MEMBERS, seed=SEED, messy=False)
    return root


# --- reading the files back, independently of the writer -----------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def _rows(path: Path, sheet: str = "") -> list[list[object]]:
    """Cells as a person sees them row by row (merged cells: the value sits in the first cell)."""
    if path.suffix == ".csv":
        return [list(r) for r in csv.reader(io.StringIO(_decode(path.read_bytes())[0]))]
    workbook = load_workbook(path, read_only=True)
    ws = workbook[sheet] if sheet else workbook.worksheets[-1]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    workbook.close()
    return rows


def _cells(root: Path) -> list[object]:
    out: list[object] = []
    for path in sorted((root / "raw" / MONTH).glob("*/*")):
        if path.parent.name == "grid":
            continue
        for row in _rows(path):
            out += [c for c in row if c is not None and c != ""]
    return out


def _header_key(text: object) -> str:
    return re.sub(r"[\s*]", "", unicodedata.normalize("NFKC", str(text or "")))


def _check_char(body: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def _id(cell: object) -> str:
    """What a person reads in an ID cell ('' if the number was lost to Excel or left blank)."""
    if cell is None or isinstance(cell, (int, float)):
        return ""
    text = unicodedata.normalize("NFKC", str(cell))
    text = re.sub(r"[\s\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff'\"“”=]", "", text)
    text = text.replace("×", "X").upper()
    if re.fullmatch(r"\d{15}", text):
        body = text[:6] + "19" + text[6:]
        return body + _check_char(body)
    return text if re.fullmatch(r"\d{17}[\dX]", text) else ""


def _name(cell: object) -> str:
    """A name as a person reads it: without spaces and without notes such as （已故）."""
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", str(cell or "")))
    return re.sub(r"[(【][^)】]*[)】]$", "", text)


def _truth(root: Path, month: str, name: str) -> list[dict[str, str]]:
    with (root / "truth" / month / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


# --- the profiles ----------------------------------------------------------------------------------


def test_profile_names_and_the_cli_flag() -> None:
    assert [mess_profile(m) for m in (False, None, True, "normal", "heavy", "wild")] == [
        "", "", "normal", "normal", "heavy", "wild",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        mess_profile("messier")
    parse = build_parser().parse_args
    assert parse(["generate", "--out", "x", "--month", MONTH, "--messy"]).messy == "normal"
    assert parse(["generate", "--out", "x", "--month", MONTH, "--messy", "wild"]).messy == "wild"
    assert parse(["generate", "--out", "x", "--month", MONTH]).messy is None


def test_heavy_has_more_messes_and_leaves_the_normal_profile_alone(tmp_path: Path) -> None:
    def messes(root: Path) -> Counter[str]:
        tags: Counter[str] = Counter()
        for row in _truth(root, MONTH, "record_truth.csv"):
            tags.update(t for t in row["mess"].split(";") if t.startswith(("id_", "name_")))
        return tags

    generate(tmp_path / "before", [MONTH], members=800, seed=4, messy=True)
    summary = generate(tmp_path / "heavy", [MONTH], members=800, seed=4, messy="heavy")
    generate(tmp_path / "after", [MONTH], members=800, seed=4, messy="normal")
    assert summary["messy"] == "heavy"
    assert _digest(tmp_path / "before") == _digest(tmp_path / "after")  # rates restored
    normal, heavy = (
        sum(messes(tmp_path / "before").values()),
        sum(messes(tmp_path / "heavy").values()),
    )
    assert 1.8 * normal < heavy < 3.2 * normal
    assert normal_messes._ID_CUM[-1] < 0.2
    # the same district and the same planted signals: only the messes differ
    assert _truth(tmp_path / "heavy", MONTH, "expected_warnings.csv")


# --- wild: forms --------------------------------------------------------------------------------


WILD_TEXT_FORMS = {
    # years
    "year 2026.0": r"^20\d\d\.0$",
    "year 2026年": r"^20\d\d年$",
    "year 2026年度": r"^20\d\d年度\s*$",
    "full-width year": r"^[２][０][１２][０-９](年度)?$",
    # dates
    "date 2026/10/5": r"^\d{4}/\d{1,2}/\d{1,2}$",
    "date 2026.10.05": r"^\d{4}\.\d{2}\.\d{2}$",
    "date 20261005": r"^20[12]\d[01]\d[0-3]\d$",
    "date 2026年10月5日": r"^\d{4}年\d{1,2}月\d{1,2}日$",
    "date 2026-10-05 00:00:00": r"^\d{4}-\d{2}-\d{2} 00:00:00$",
    # a database's or a formal document's dates, whole files of them (habits._later_habits)
    "date 05-10月-26 (Oracle, Chinese)": r"^\d\d-\d{1,2}月 ?-\d\d$",
    "date 05-OCT-26 (Oracle)": r"^\d\d-[A-Z]{3}-\d\d$",
    "date 二〇二六年十月五日": r"^[〇一二三四五六七八九]{4}年[一二三四五六七八九十]+月[一二三四五六七八九十]+日$",
    # places written as a hand-made list writes them
    "village with its township before it": r"^\S+[镇乡道]\S+村$",
    "village with its 组 after it": r"^\S+村\S+组$",
    "place written 同上": r"^(同上|〃)$",
    # months
    "month 2025.09": r"^20\d\d\.\d\d$",
    "month 2025年9月": r"^20\d\d年\d{1,2}月$",
    "month 202509": r"^20[12]\d[01]\d$",
    # amounts
    "amount 1,234.50": r"^\d{1,3}(,\d{3})+\.\d\d$",
    "amount 1234.5元": r"^\d+(\.\d+)?元$",
    "amount ￥1,234": r"^￥[\d,]+(\.\d+)?$",
    "amount 0.5万元": r"^\d+(\.\d+)?万元$",
    "amount 500000元 in 万元": r"^\d{5,}元$",
    "amount full-width": r"^[０-９]+[．.][０-９]+",
    "value in full-width spaces": r"^\u3000.*\S.*|.*\S\u3000$",
    # yes / no
    "yes/no √×": r"^[√×]$",
    "yes/no Y/N": r"^[YN]$",
    # integers stored as floats
    "int 3.0": r"^\d{1,2}\.0$",
    "int 3人": r"^\d+人$",
    # IDs
    "ID 'text": r"^'\d{17}[\dX]$",
    'ID ="text"': r'^="\d{17}[\dX]"$',
    "ID tab": r"^\t\d{17}[\dX]$",
    "ID 15 digits": r"^\d{15}$",
    "ID lower x": r"^\d{17}x$",
    "ID full-width": r"^[０-９]{17}[０-９Ｘ]$",
    "ID invisible marks": r"^[\u200b\u202d]?\d{17}[\dX][\u200b\u202c]?$",
    "ID scientific": r"^\d\.\d{5}E\+17$",
    # names
    "two-character name padded": r"^\w\u3000\w$",
}


def test_wild_files_carry_every_form(wild: tuple[Path, dict]) -> None:
    root, summary = wild
    cells = _cells(root)
    texts = [c for c in cells if isinstance(c, str)]
    missing = [
        label
        for label, pattern in WILD_TEXT_FORMS.items()
        if not any(re.search(pattern, t) for t in texts)
    ]
    assert not missing, missing
    assert any(isinstance(c, datetime) for c in cells)  # date cells
    assert any(isinstance(c, (int, float)) and 30_000 < c < 50_000 for c in cells)  # serials
    assert any(isinstance(c, float) and c > 1e17 for c in cells)  # an ID Excel rounded
    assert summary["messy"] == "wild" and summary["xls"] == 0 and "xls_note" in summary
    forms = summary["wild_forms"]
    for key in (
        "id:quote_prefix",
        "two_row_header",
        "merged_location_cells",
        "roster_merged_places",
    ):
        assert forms.get(key), key


def test_wild_layouts(wild: tuple[Path, dict]) -> None:
    root, _ = wild
    raw = root / "raw" / MONTH
    per_source = {p.name: list(p.iterdir()) for p in raw.iterdir() if p.is_dir()}
    assert any(len(files) == 1 for s, files in per_source.items() if s not in ("feedback",))
    assert any(len(files) > 5 for s, files in per_source.items() if s not in ("grid", "roster"))
    files = [f for s, fs in per_source.items() if s != "grid" for f in fs]
    assert {f.suffix for f in files} == {".csv", ".xlsx"}
    assert any(_decode(f.read_bytes())[1] == "gb18030" for f in files if f.suffix == ".csv")
    headers: set[str] = set()
    merged_places = two_row = quote_prefix = titled = 0
    for path in (f for f in files if f.suffix == ".xlsx"):
        workbook = load_workbook(path)
        ws = workbook.worksheets[-1]
        titled += ws.cell(1, 1).value is not None and "名" in str(ws.cell(1, 1).value)
        for rng in ws.merged_cells.ranges:
            top = ws.cell(rng.min_row, rng.min_col).value
            if rng.max_row > rng.min_row and rng.min_col == rng.max_col and rng.min_row > 4:
                merged_places += 1  # a 乡镇/村 cell over data rows
            if rng.min_row == rng.max_row and rng.max_col > rng.min_col and top in (
                "救助情况", "受灾情况", "费用情况（元）", "学籍信息", "残疾情况", "参保信息",
            ):  # fmt: skip
                two_row += 1
        for row in ws.iter_rows(max_row=12):
            headers.update(_header_key(c.value) for c in row if isinstance(c.value, str))
            quote_prefix += sum(1 for c in row if c.quotePrefix)
        for row in ws.iter_rows(min_row=5, max_row=60):
            quote_prefix += sum(1 for c in row if c.quotePrefix)
    assert merged_places and two_row and quote_prefix and titled
    # other aliases than the first, for names, IDs and places
    assert headers & set(NAME_HEADERS[1:]) and headers & set(ID_HEADERS[1:])
    assert headers & {_header_key(h) for h in TOWNSHIP_HEADERS[1:] + VILLAGE_HEADERS[1:]}
    assert headers & {"结算日期", "直接经济损失", "注册资本"} or headers & {"出生日期", "民族"}


# --- wild: truth --------------------------------------------------------------------------------


def _locate(root: Path, month: str, row: dict[str, str], cache: dict) -> list[object]:
    key = (row["source"], row["file"], row["sheet"])
    if key not in cache:
        path = root / "raw" / month / row["source"] / row["file"]
        cache[key] = _rows(path, row["sheet"])
    return cache[key][int(row["row_number"]) - 1]


def _columns(rows: list[list[object]]) -> tuple[int, int]:
    """(name column, ID column) from the first row that has both headers."""
    names = {_header_key(h) for h in NAME_HEADERS}
    ids = {_header_key(h) for h in ID_HEADERS}
    for row in rows[:8]:
        keys = [_header_key(c) for c in row]
        found_ids = [i for i, k in enumerate(keys) if k in ids]
        found_names = [i for i, k in enumerate(keys) if k in names]
        if found_ids and found_names:
            # a person-level file with a 户主姓名 column names the person in 姓名
            person = [i for i in found_names if keys[i] != "户主姓名"]
            return (person or found_names)[0], found_ids[0]
    raise AssertionError("no header row")


def test_wild_truth_points_at_the_true_member(wild: tuple[Path, dict], clean: Path) -> None:
    root, _ = wild
    roster: dict[str, tuple[str, str, str]] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for path in (clean / "raw" / MONTH / "roster").glob("*.csv"):
        for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
            roster[r["证件号码"]] = (r["乡镇"], r["村"], r["姓名"])
            counts[(r["乡镇"], r["村"], r["姓名"])] += 1
    cache: dict = {}
    headers: dict = {}
    checked = by_name = 0
    for month in sorted(p.name for p in (root / "truth").iterdir()):
        for row in _truth(root, month, "record_truth.csv"):
            member = row["member_id_number"]
            if not member:
                continue
            cells = _locate(root, month, row, cache)
            key = (row["source"], row["file"], row["sheet"])
            if key not in headers:
                headers[key] = _columns(cache[key])
            name_at, id_at = headers[key]
            assert _name(cells[name_at]) == roster[member][2], row
            read = _id(cells[id_at])
            if "name_unique" in row["mess"]:
                assert read == "" and counts[roster[member]] == 1, row
                by_name += 1
            else:
                assert read == member, (row, cells[id_at])
            checked += 1
    assert checked > 3000 and by_name > 10


def test_wild_keeps_the_clean_truth(wild: tuple[Path, dict], clean: Path) -> None:
    root, summary = wild
    for name in ("expected_warnings.csv", "rejects_expected.csv", "grid_missing.csv"):
        assert (root / "truth" / MONTH / name).read_bytes() == (
            clean / "truth" / MONTH / name
        ).read_bytes()
    for month in sorted(p.name for p in (clean / "truth").iterdir()):
        wild_rows = _truth(root, month, "record_truth.csv")
        clean_rows = _truth(clean, month, "record_truth.csv")

        def who(rows: list[dict[str, str]]) -> Counter[tuple[str, ...]]:
            return Counter((r["source"], r["household_id"], r["member_id_number"], r["recoverable"])
                           for r in rows)  # fmt: skip

        assert who(wild_rows) == who(clean_rows), month
    locations = {(r["source"], r["file"], r["sheet"], r["row_number"])
                 for r in _truth(root, MONTH, "record_truth.csv")}  # fmt: skip
    assert len(locations) == len(_truth(root, MONTH, "record_truth.csv"))
    assert summary["records"]["market"] == sum(1 for r in clean_rows if r["source"] == "market")


def test_unreadable_cells_only_where_no_rule_looks(wild: tuple[Path, dict]) -> None:
    root, _ = wild
    expected = _truth(root, MONTH, "expected_warnings.csv")
    households = {(district.RULE_SOURCES[w["rule"]], w["household_id"]) for w in expected}
    rows = [r for r in _truth(root, MONTH, "record_truth.csv") if "field_unreadable" in r["mess"]]
    assert rows
    for r in rows:
        assert (
            r["source"] != "medical_claims" and (r["source"], r["household_id"]) not in households
        )


def test_wild_is_deterministic(tmp_path: Path, no_libreoffice: None) -> None:
    generate(tmp_path / "a", [MONTH], members=400, seed=3, messy="wild")
    generate(tmp_path / "b", [MONTH], members=400, seed=3, messy="wild")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert not (tmp_path / "a" / district.SCRATCH).exists()


def test_codes_blank_in_the_first_month_are_filled_in_the_next(
    tmp_path: Path, no_libreoffice: None
) -> None:
    months = ["2026-09", "2026-10"]
    generate(tmp_path, months, members=2000, seed=2, messy="wild")
    codes: dict[str, dict[tuple[str, str], str]] = {}
    names = {_header_key(h) for h in NAME_HEADERS}
    for month in months:
        seen: dict[tuple[str, str], str] = {}
        for path in (tmp_path / "raw" / month / "market").iterdir():
            rows = _rows(path)
            at = next(i for i, r in enumerate(rows) if "统一社会信用代码" in map(_header_key, r))
            keys = [_header_key(c) for c in rows[at]]
            entity, code = keys.index("主体名称"), keys.index("统一社会信用代码")
            name = next(i for i, k in enumerate(keys) if k in names)
            for r in rows[at + 1 :]:
                if len(r) > code and r[entity] and r[name]:
                    seen[(_name(r[entity]), _name(r[name]))] = _name(r[code])
        codes[month] = seen
    later_filled = [k for k, v in codes["2026-09"].items() if not v and codes["2026-10"].get(k)]
    later_blank = [k for k, v in codes["2026-09"].items() if v and codes["2026-10"].get(k) == ""]
    assert later_filled and later_blank
    tags = Counter(
        t for r in _truth(tmp_path, "2026-09", "record_truth.csv") for t in r["mess"].split(";")
    )
    assert tags["blank_first_month:credit_code"] and tags["blank_first_month:plate"]

    # the registers are standing lists: last month's SJ01 / GA02 / ZJ01 are expected again
    def expected(month: str, rule: str) -> set[tuple[str, str]]:
        rows = _truth(tmp_path, month, "expected_warnings.csv")
        return {(w["household_id"], w["member_id_number"]) for w in rows if w["rule"] == rule}

    for rule in ("SJ01", "GA02"):
        assert expected("2026-09", rule) <= expected("2026-10", rule), rule
    # a house appraised again may have a new grade: most C/D houses stay listed
    kept = expected("2026-09", "ZJ01") & expected("2026-10", "ZJ01")
    assert len(kept) > 0.6 * len(expected("2026-09", "ZJ01"))
    carried = [r for r in _truth(tmp_path, "2026-10", "record_truth.csv") if "carried" in r["mess"]]
    assert {r["source"] for r in carried} == {"market", "vehicles", "housing"}


# --- .xls through LibreOffice ---------------------------------------------------------------------


@pytest.mark.skipif(sheets.soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_xls_conversion_keeps_titles_merges_and_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastexcel

    monkeypatch.setattr(sheets, "soffice", REAL_SOFFICE)

    sheet = sheets.Sheet("低保", 4)
    sheet.add("title", ["金安区2026年10月低保变动名册"])
    sheet.merges.append((0, 0, 0, 3))
    sheet.add("header", ["乡镇", "姓名", "证件号码", "变动日期"])
    sheet.add(
        "data",
        [
            "三十铺镇",
            "张　三",
            XCell("text", "341502199001011234", "", True),
            XCell("number", 46300),
        ],
    )
    sheet.add(
        "data",
        [None, "李四", "'34150219900101123X", XCell("date", date(2026, 10, 5), "yyyy-mm-dd")],
    )
    sheet.merges.append((2, 0, 3, 0))
    source = tmp_path / "a.xlsx"
    sheets.write_xlsx(source, sheet)
    done = sheets.convert_to_xls([(source, tmp_path / "a.xls")])
    assert done == [True] and not source.exists()
    frame = fastexcel.read_excel(tmp_path / "a.xls").load_sheet(0, header_row=None).to_polars()
    values = [[str(v) for v in row] for row in frame.rows()]
    assert values[0][0] == "金安区2026年10月低保变动名册"
    assert values[2][0] == "三十铺镇" and values[2][2] == "341502199001011234"


def test_profiles_side_by_side() -> None:
    import polars as pl

    from pipelines.scoring import format_profile_scores, score

    expected = pl.DataFrame(
        {"rule": ["YB02", "SJ01"], "household_id": ["h1", "h2"],
         "member_id_number": ["m1", "m2"], "recoverable": ["true", "true"]}
    )  # fmt: skip
    produced = pl.DataFrame(
        {"rule": ["YB02", "YB02"], "household_id": ["h1", "h9"], "member_id_number": ["m1", "m9"]}
    )
    text = format_profile_scores(
        {"normal": score(expected.drop("recoverable"), expected), "wild": score(produced, expected)}
    )
    lines = {line.split()[0]: line for line in text.splitlines()[2:]}
    assert "normal" in text.splitlines()[0] and "wild" in text.splitlines()[0]
    assert lines["YB02"].split() == ["YB02", "1.000", "1.000", "1.000", "0.500", "1.000", "0.667"]
    assert lines["SJ01"].split() == ["SJ01", "1.000", "1.000", "1.000", "—", "0.000", "0.000"]
    assert lines["合计"].split()[-3:] == ["0.500", "0.500", "0.500"]
