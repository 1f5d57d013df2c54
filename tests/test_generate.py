"""The synthetic district generator: layout, determinism, valid rosters, planted signals, truth that points right."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import unicodedata
from datetime import date
from pathlib import Path

import opencc
import pytest
from openpyxl import load_workbook
from pypinyin import lazy_pinyin

from pipelines.generate import core, generate
from pipelines.generate import ids as gen_ids
from pipelines.generate.common import age_on, chinese_number
from pipelines.generate.context import Context, Record
from pipelines.generate.messes import Messer
from pipelines.generate.names import HOMOPHONES, homophone, traditional
from pipelines.generate.population import build_district
from pipelines.generate.rules import RULES, Evaluator
from pipelines.generate.tables import BAD_DATES, BAD_MONTHS, write_source
from pipelines.sources import (
    ALL_SOURCE_KEYS,
    DEPARTMENT_KEYS,
    ID_HEADERS,
    NAME_HEADERS,
    normalise_header,
)

MONTH = "2026-10"
HISTORY = [f"2026-{m:02d}" for m in range(1, 10)]
T2S = opencc.OpenCC("t2s")


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("messy")
    return root, generate(root, [MONTH], members=3000, seed=3, messy=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    generate(root, [MONTH], members=1500, seed=3, messy=False)
    return root


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_decode(path.read_bytes()))))


def _read_any(path: Path, sheet: str) -> list[list[str]]:
    if path.suffix == ".csv":
        return _read_csv(path)
    workbook = load_workbook(path, read_only=True)
    rows = [
        ["" if c is None else str(c) for c in row]
        for row in workbook[sheet].iter_rows(values_only=True)
    ]
    workbook.close()
    return rows


def _truth(root: Path, month: str, name: str) -> list[dict[str, str]]:
    with (root / "truth" / month / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _roster_names(root: Path, month: str) -> dict[str, str]:
    names = {}
    for path in (root / "raw" / month / "roster").glob("*.csv"):
        rows = _read_csv(path)
        id_col, name_col = rows[0].index("证件号码"), rows[0].index("姓名")
        names.update({r[id_col]: r[name_col] for r in rows[1:]})
    return names


NAME_KEYS = {normalise_header(h) for h in NAME_HEADERS}
ID_KEYS = {normalise_header(h) for h in ID_HEADERS}


def _header_row(cells: list[list[str]]) -> int:
    return next(i for i, r in enumerate(cells) if any(normalise_header(c) in NAME_KEYS for c in r))


def _column(header: list[str], keys: set[str]) -> int:
    return next(j for j, c in enumerate(header) if normalise_header(c) in keys)


def _plain_name(cell: str) -> str:
    """Undo the harmless name messes: width, spaces, annotations, dots, traditional characters."""
    text = unicodedata.normalize("NFKC", cell)
    text = re.sub(r"[（(][^）)]*[）)]", "", text)
    text = re.sub(r"[\s·•.．・]", "", text)
    return T2S.convert(text)


# --- layout and determinism ------------------------------------------------------------------


def test_layout_has_every_source_and_the_claims_history(messy: tuple[Path, dict]) -> None:
    root, summary = messy
    month_dir = root / "raw" / MONTH
    assert sorted(p.name for p in month_dir.iterdir()) == sorted(ALL_SOURCE_KEYS)
    assert not any((month_dir / "feedback").iterdir())
    for source in (*DEPARTMENT_KEYS, "roster", "grid"):
        assert any((month_dir / source).iterdir()), source
    for month in HISTORY:
        assert [p.name for p in (root / "raw" / month).iterdir()] == ["medical_claims"]
        assert (root / "truth" / month / "record_truth.csv").exists()
    assert summary["months"] == [MONTH] and summary["history_months"] == HISTORY
    assert summary["members"] == 3000 and summary["townships"] == 20
    assert summary["files"] == sum(1 for p in (root / "raw").rglob("*") if p.is_file())
    truth_rows = sum(len(_truth(root, m, "record_truth.csv")) for m in [*HISTORY, MONTH])
    assert truth_rows == sum(summary["records"].values())


def test_department_volumes_follow_the_brief(messy: tuple[Path, dict]) -> None:
    _, summary = messy
    month = summary["records_by_month"][MONTH]
    assert 0.40 * 3000 <= month["medical_enrollment"] <= 0.55 * 3000
    assert 0.30 * 3000 <= month["medical_claims"] <= 0.45 * 3000
    small = sum(
        v for k, v in month.items() if k not in ("medical_claims", "medical_enrollment", "roster")
    )
    assert 0.1 * 3000 <= small <= 0.35 * 3000
    assert all(
        summary["records_by_month"][m]["medical_claims"] < month["medical_claims"] for m in HISTORY
    )


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    args = {"months": ["2026-10", "2026-11"], "members": 800, "messy": True}
    first = generate(tmp_path / "a", seed=11, **args)
    generate(tmp_path / "b", seed=11, **args)
    generate(tmp_path / "c", seed=12, **args)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    # later months of a multi-month scenario are complete; only the first gets the history
    assert sorted(p.name for p in (tmp_path / "a" / "raw" / "2026-11").iterdir()) == sorted(
        ALL_SOURCE_KEYS
    )
    assert set(first["expected_warnings"]) == {"2026-10", "2026-11"}


def test_forked_history_writer_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "serial", [MONTH], members=600, seed=5, messy=True)
    monkeypatch.setattr(core, "PARALLEL_MIN_MEMBERS", 0)
    assert 0 < core._forked_share(len(HISTORY), 1) < len(HISTORY)  # both processes write history
    generate(tmp_path / "forked", [MONTH], members=600, seed=5, messy=True)
    assert _digest(tmp_path / "serial") == _digest(tmp_path / "forked")


# --- the roster ------------------------------------------------------------------------------


def test_roster_ids_are_valid_unique_and_agree_with_sex_and_birth(messy: tuple[Path, dict]) -> None:
    root, _ = messy
    seen = set()
    for path in (root / "raw" / MONTH / "roster").glob("*.csv"):
        rows = _read_csv(path)
        header = rows[0]
        col = {
            name: header.index(name)
            for name in ("证件号码", "性别", "出生日期", "户类型", "与户主关系")
        }
        for row in rows[1:]:
            id_number = row[col["证件号码"]]
            assert gen_ids.is_valid(id_number), id_number
            assert id_number not in seen
            seen.add(id_number)
            assert (int(id_number[16]) % 2 == 1) == (row[col["性别"]] == "男")
            assert row[col["出生日期"]].replace("-", "") == id_number[6:14]
            assert row[col["户类型"]] in ("脱贫户", "监测户", "一般农户")
    assert len(seen) == 3000


def test_households_have_one_head_and_plausible_ages() -> None:
    district = build_district(2000, 3, date(2026, 10, 1), gen_ids.IdFactory())
    ref = date(2026, 10, 1)
    for household in range(district.households):
        members = list(district.household_members(household))
        relations = [district.m_relation[m] for m in members]
        assert relations.count("户主") == 1 and relations[0] == "户主"
        head_age = district.age(members[0], ref)
        for m, relation in zip(members, relations, strict=True):
            if relation in ("之父", "之母"):
                assert district.age(m, ref) > head_age
            if relation in ("之孙子", "之孙女"):
                assert district.age(m, ref) < head_age
    monitored = sum(1 for t in district.hh_type if t != "一般农户") / district.households
    assert 0.06 <= monitored <= 0.14
    assert district.namesakes  # same-name people in one village exist


# --- planted signals and expected warnings ---------------------------------------------------


def test_every_rule_has_an_expected_warning(messy: tuple[Path, dict]) -> None:
    root, summary = messy
    warnings = _truth(root, MONTH, "expected_warnings.csv")
    assert {w["rule"] for w in warnings} == set(RULES)
    assert set(summary["expected_warnings"][MONTH]) == set(RULES)
    for w in warnings:
        assert (w["member_id_number"] == "") == (RULES[w["rule"]][1] == "户")
        assert w["level"] in ("红", "黄", "绿")
    levels = {(w["rule"], w["level"]) for w in warnings}
    assert {
        ("YB01", "红"),
        ("YB01", "黄"),
        ("GA01", "红"),
        ("GA01", "黄"),
        ("ZJ01", "红"),
        ("YJ01", "红"),
    } <= levels
    assert any(w["recoverable"] == "false" for w in warnings)


def test_clean_mode_is_plain_utf8_csv_with_canonical_headers(clean: Path) -> None:
    month_dir = clean / "raw" / MONTH
    for source in DEPARTMENT_KEYS:
        for path in (month_dir / source).iterdir():
            assert path.suffix == ".csv"
            header = path.read_bytes().decode("utf-8").splitlines()[0].split(",")
            assert header[0] in ("姓名", "乡镇", "户主姓名") or source == "market"
    for row in _truth(clean, MONTH, "record_truth.csv"):
        assert row["mess"] in ("", "outside_roster", "out_of_district")
        assert (row["recoverable"] == "true") == (row["mess"] == "")
    assert _truth(clean, MONTH, "rejects_expected.csv") == []
    assert {w["rule"] for w in _truth(clean, MONTH, "expected_warnings.csv")} == set(RULES)


# --- messy features --------------------------------------------------------------------------


def test_messy_files_carry_the_contract_messes(messy: tuple[Path, dict]) -> None:
    root, _ = messy
    month_dir = root / "raw" / MONTH
    files = [p for s in DEPARTMENT_KEYS for p in (month_dir / s).iterdir()]
    encodings = set()
    for path in (p for p in files if p.suffix == ".csv"):
        data = path.read_bytes()
        try:
            data.decode("utf-8")
            encodings.add("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
        except UnicodeDecodeError:
            data.decode("gb18030")
            encodings.add("gb18030")
    assert encodings == {"utf-8", "utf-8-sig", "gb18030"}
    titled = totals = 0
    for path in (p for p in files if p.suffix == ".xlsx"):
        workbook = load_workbook(path, read_only=True)
        for sheet in workbook.worksheets:
            rows = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
            if rows and len(rows[0]) == 1 and re.search(r"20\d\d年\d{1,2}月", str(rows[0][0])):
                titled += 1
            totals += any(row and row[0] == "合计" for row in rows)
        workbook.close()
    assert titled and totals
    mess = ";".join(r["mess"] for r in _truth(root, MONTH, "record_truth.csv"))
    for tag in ("id_15", "id_sci", "id_missing", "id_fullwidth", "name_traditional", "name_homophone",
                "outside_roster", "out_of_district", "bad_row"):  # fmt: skip
        assert tag in mess, tag
    cells = "\n".join(_decode(p.read_bytes()) for p in files if p.suffix == ".csv")
    assert re.search(r"\b3\.4\d{4}E\+17\b", cells)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", cells)


def test_grid_workbooks_have_the_two_row_header(messy: tuple[Path, dict]) -> None:
    root, _ = messy
    books = sorted((root / "raw" / MONTH / "grid").glob("*.xlsx"))
    assert books
    workbook = load_workbook(books[0])
    sheet = workbook.worksheets[0]
    assert "防止返贫动态监测基层网格工作台账" in sheet["A1"].value
    assert re.match(r".+乡镇（街道、开发区）.+村防止返贫", sheet["A1"].value)
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A2:A3", "B2:B3", "C2:C3", "D2:H2", "I2:K2", "L2:L3"} <= merged
    assert [sheet.cell(3, c).value for c in range(4, 12)][:2] == ["姓名", "村民组长"]
    assert sheet.cell(3, 8).value == "联系电话" and sheet.cell(3, 11).value == "联系电话"
    last = [row for row in sheet.iter_rows(values_only=True) if any(row)]
    assert any(row[0] == "合计" for row in last) and str(last[-1][0]).startswith(("填报人", "备注"))


def test_every_roster_grid_has_a_ledger_row_unless_recorded_missing(
    messy: tuple[Path, dict],
) -> None:
    root, _ = messy
    ledger = set()
    for path in (root / "raw" / MONTH / "grid").iterdir():
        rows = _read_any(path, "网格台账")
        if path.suffix == ".csv":
            ledger |= {(r[0], r[1], r[2]) for r in rows[1:]}
            continue
        title = rows[0][0]
        township = next(t for t in _townships(root) if t[:2] in path.name and t in path.name)
        village = path.name.replace(township, "", 1)
        village = re.match(r"[_附件2：]*(.+?村)", village).group(1)
        assert village.removesuffix("村") in title
        ledger |= {(township, village, r[1]) for r in rows[3:] if r[1] and r[0] != "合计"}
    roster = set()
    for path in (root / "raw" / MONTH / "roster").glob("*.csv"):
        rows = _read_csv(path)
        grid_col = 3
        roster |= {(r[0], r[1], r[grid_col]) for r in rows[1:]}
    missing = {
        (r["township"], r["village"], r["grid"]) for r in _truth(root, MONTH, "grid_missing.csv")
    }
    assert missing and roster - ledger == missing


def _townships(root: Path) -> list[str]:
    return sorted(
        p.name.removeprefix("农户花名册_").removesuffix(".csv")
        for p in (root / "raw" / MONTH / "roster").iterdir()
    )


# --- truth points at the right rows ----------------------------------------------------------


@pytest.mark.parametrize("month", [MONTH, "2026-04"])
def test_truth_row_numbers_point_at_the_true_member(messy: tuple[Path, dict], month: str) -> None:
    root, _ = messy
    names = _roster_names(root, MONTH)
    tables: dict[tuple[str, str], tuple[list[list[str]], int]] = {}
    checked = {"csv": 0, "xlsx": 0}
    for row in _truth(root, month, "record_truth.csv"):
        if not row["member_id_number"] or "bad_row" in row["mess"]:
            continue
        path = root / "raw" / month / row["source"] / row["file"]
        key = (str(path), row["sheet"])
        if key not in tables:
            cells = _read_any(path, row["sheet"])
            tables[key] = (cells, _column(cells[_header_row(cells)], NAME_KEYS))
        cells, column = tables[key]
        written = cells[int(row["row_number"]) - 1][column]
        true_name = names[row["member_id_number"]]
        if "name_homophone" in row["mess"]:
            assert written != true_name and lazy_pinyin(written) == lazy_pinyin(true_name)
        else:
            assert _plain_name(written) == _plain_name(true_name), row
        checked[path.suffix[1:]] += 1
    assert checked["csv"] > 100 and (checked["xlsx"] > 20 or month != MONTH)


def test_rejects_point_at_the_bad_rows(messy: tuple[Path, dict]) -> None:
    root, _ = messy
    bad = {
        (r["file"], r["row_number"])
        for r in _truth(root, MONTH, "record_truth.csv")
        if "bad_row" in r["mess"]
    }
    rejects = _truth(root, MONTH, "rejects_expected.csv")
    assert bad == {(r["file"], r["row_number"]) for r in rejects}
    reasons = [r["reason"] for r in rejects]
    assert "姓名和证件号码均为空" in reasons
    assert any("无法识别为日期" in r for r in reasons) and any("不在允许范围" in r for r in reasons)
    for reject in rejects:
        path = root / "raw" / MONTH / reject["source"] / reject["file"]
        cells = _read_any(path, reject["sheet"])
        row = cells[int(reject["row_number"]) - 1]
        if "日期" in reject["reason"]:
            assert set(row) & {*BAD_DATES, *BAD_MONTHS}, row
        if reject["reason"] == "姓名和证件号码均为空":
            header = cells[_header_row(cells)]
            id_col = next(j for j, c in enumerate(header) if normalise_header(c) in ID_KEYS)
            assert row[_column(header, NAME_KEYS)] == "" and row[id_col] == ""


# --- building blocks -------------------------------------------------------------------------


def test_id_numbers_and_their_damage() -> None:
    assert gen_ids.is_valid("360426199101010071") and gen_ids.is_valid("120103198806018241")
    assert not gen_ids.is_valid("360426199101010072") and not gen_ids.is_valid("230307196304054513")
    assert gen_ids.to_15("360426199101010071") == "360426910101007"
    assert gen_ids.scientific("341502199001011234") == "3.41502E+17"
    assert gen_ids.rounded_text("341502199001011234") == "341502199001011000"
    rng = random.Random(1)
    valid = "34150219900101123" + gen_ids.check_char("34150219900101123")
    assert gen_ids.is_valid(valid)
    for _ in range(50):  # MOD 11-2 catches every single substitution and adjacent transposition
        typo = gen_ids.typo(valid, rng)
        assert typo != valid and typo[:10] == valid[:10] and not gen_ids.is_valid(typo)
        swapped = gen_ids.transposed(valid, rng)
        assert swapped and sorted(swapped) == sorted(valid) and not gen_ids.is_valid(swapped)
    assert (
        chinese_number(1) == "一" and chinese_number(10) == "十" and chinese_number(23) == "二十三"
    )


def test_name_messes_sound_or_read_the_same() -> None:
    rng = random.Random(2)
    for char, others in HOMOPHONES.items():
        assert all(lazy_pinyin(o) == lazy_pinyin(char) for o in others), char
    changed = homophone("王秀英", rng)
    assert changed and changed != "王秀英" and lazy_pinyin(changed) == lazy_pinyin("王秀英")
    assert traditional("刘国华") == "劉國華" and traditional("王一") is None


def _tiny_context() -> Context:
    factory = gen_ids.IdFactory()
    district = build_district(400, 9, date(2026, 10, 1), factory)
    return Context(district, 9, False, factory)


def _member(
    ctx: Context, focus: bool, age: int | None = None, day: date = date(2026, 10, 15)
) -> int:
    return next(
        m
        for m in range(ctx.district.members)
        if ctx.focus(m) == focus and (age is None or age_on(ctx.district.m_birth[m], day) == age)
    )


def test_rule_evaluator_thresholds() -> None:
    ctx = _tiny_context()
    evaluator = Evaluator(ctx)
    focus, other = _member(ctx, True, None), _member(ctx, False, None)
    market = lambda capital, role="法定代表人": (None, None, role, capital, date(2020, 1, 1))  # noqa: E731
    evaluator.add(
        "market",
        MONTH,
        [(Record(focus, market(4_990)), True), (Record(other, market(90_000)), True)],
    )
    assert not evaluator.hits[MONTH]
    evaluator.add("market", MONTH, [(Record(focus, market(5_000, "股东")), False)])
    (hit,) = evaluator.hits[MONTH].values()
    assert not hit.recoverable and hit.level == "绿"
    # JY02 window: the 12 months ending October 2026 start in November 2025
    student = lambda enrol: (None, None, "高校", "大一", "在读", enrol, True)  # noqa: E731
    evaluator.add("education", MONTH, [(Record(other, student(date(2025, 10, 1))), True)])
    assert not any(k[0] == "JY02" for k in evaluator.hits[MONTH])
    evaluator.add("education", MONTH, [(Record(other, student(date(2025, 11, 1))), True)])
    assert any(k[0] == "JY02" for k in evaluator.hits[MONTH])


def test_yb01_fires_only_in_the_month_the_threshold_is_reached() -> None:
    ctx = _tiny_context()
    evaluator = Evaluator(ctx)
    person = _member(ctx, False)
    claim = lambda fen: (None, None, None, None, None, None, None, fen, "住院")  # noqa: E731
    evaluator.add("medical_claims", "2026-09", [(Record(person, claim(1_000_000)), True)])
    evaluator.add("medical_claims", MONTH, [(Record(person, claim(999_999)), True)])
    assert not any(k[0] == "YB01" for k in _keys(evaluator, MONTH))  # 19,999.99 元
    evaluator.add("medical_claims", MONTH, [(Record(person, claim(2_000_001)), False)])
    warnings = [w for w in evaluator.warnings(MONTH) if w[0] == "YB01"]
    assert [(w[4], w[5]) for w in warnings] == [("false", "红")]  # 40,000 元 ≥ 2 × 20,000


def _keys(evaluator: Evaluator, month: str) -> list[tuple[str, int, int]]:
    return [(w[0], 0, 0) for w in evaluator.warnings(month)]


def test_a_bad_row_whose_identity_is_intact_still_counts_for_the_rules(tmp_path: Path) -> None:
    # contract §2: a row whose 出院日期 is unreadable is kept, the date null; YB01 adds its
    # 个人自付 like any other claim's (the truth had left such claims out of the year's sum)
    factory = gen_ids.IdFactory()
    ctx = Context(build_district(400, 9, date(2026, 10, 1), factory), 9, True, factory)
    # 就诊机构, 入院日期, 出院日期, four amounts in fen (个人自付 last), then 医疗类别
    claim = ("某卫生院", date(2026, 10, 3), date(2026, 10, 4), 5_000, 3_000, 0, 0, 1_234, "门诊")
    records = [Record(m, claim) for m in range(60)]
    out = write_source(ctx, Messer(ctx), "medical_claims", MONTH, records, tmp_path)
    bad = {row[3]: row[6] for row in out.truth if "bad_row" in row[6]}
    assert sorted(tag.split(";")[-1] for tag in bad.values()) == ["bad_date", "no_identity"]
    assert len(out.kept) == 59  # the row without a name and an ID is the one left out
    unread = [r for r, _ in out.kept if r.values[2] is None]
    assert len(unread) == 1 and unread[0].values[7] == 1_234


def test_an_enrollment_row_without_name_and_id_leaves_its_places_members_undecided() -> None:
    # contract §4: YB02 fires only when nothing in the list could be the member's; a row with
    # neither name nor ID saying 正常参保 could be anyone's of its 乡镇/村 (or 乡镇, without 村)
    ctx = _tiny_context()
    d = ctx.district
    focus = _member(ctx, True)
    household = d.m_hh[focus]
    township, village = d.hh_township[household], d.villages[d.hh_village[household]].name
    other = next(t for t in range(len(d.townships)) if t != township)

    def yb02(lost: list[tuple[str, int, str | None]]) -> bool:
        evaluator = Evaluator(ctx)
        evaluator.add("medical_enrollment", MONTH, [])
        rows = [(Record(-1, (2026, status, False)), t, v) for status, t, v in lost]
        evaluator.add_lost("medical_enrollment", MONTH, rows)
        return any(
            w[0] == "YB02" and w[1] == d.hh_id[household] and w[2] == d.m_id[focus]
            for w in evaluator.warnings(MONTH)
        )

    assert yb02([])
    assert yb02([("暂停", township, village), ("正常参保", other, None)])
    assert not yb02([("正常参保", township, village)])
    assert not yb02([("正常参保", township, None)])  # a file without a 村 column
