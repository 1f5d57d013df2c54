"""Three months in a row with townships' answers made from the pipeline's own exports (issue 4)."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.config import DataDir
from pipelines.definitions import MONTHLY_JOB, defs, district_partition, stage_claims_history
from pipelines.generate import generate
from pipelines.report import run_summary

pytestmark = pytest.mark.e2e  # a whole multi-month run: CI runs it after the default suite

MONTHS = ("2026-08", "2026-09", "2026-10")
EXPORT_DATES = {"2026-08": "2026-09-06", "2026-09": "2026-10-06", "2026-10": "2026-11-06"}
DISTRICT = "lifecycle"


def _run(root: Path, month: str, instance) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FANGFAN_DATA_DIR", str(root))
        patch.setenv("FANGFAN_EXPORT_DATE", EXPORT_DATES[month])
        stage_claims_history(defs(), month, instance)  # YB01: the year's earlier claims months
        result = (
            defs()
            .resolve_job_def(MONTHLY_JOB)
            .execute_in_process(partition_key=district_partition(month), instance=instance)
        )
    assert result.success, month


def _read_export(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes()[3:].decode("utf-8"))))


def _query(root: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    with duckdb.connect(str(root / "warehouse" / "fangfan.duckdb"), read_only=True) as con:
        return con.sql(sql, params=params or []).pl()


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("months") / DISTRICT
    generate(root, months=list(MONTHS), members=3000, seed=11, messy=True)
    home = tmp_path_factory.mktemp("dagster_home")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        _run(root, "2026-08", instance)
        answers = _answer_august(root)
        _run(root, "2026-09", instance)
        september = _hashes(root / "exports" / "2026-09")
        september_listing = _query(
            root, "SELECT * FROM listings WHERE month = '2026-09' ORDER BY warning_id"
        )
        _run(root, "2026-10", instance)
        _run(root, "2026-09", instance)  # a rerun of September after October
        yield {
            "root": root,
            "answers": answers,
            "september_hashes": september,
            "september_listing": september_listing,
        }


def _answer_august(root: Path) -> dict:
    """The two busiest townships return August's list, filled in the ways clerks do."""
    exports = root / "exports" / "2026-08"
    files = sorted(
        (p for p in exports.glob("*.csv") if not p.name.startswith("区级")),
        key=lambda p: -len(_read_export(p)),
    )
    first, second = files[0], files[1]
    rows = _read_export(first)
    assert len(rows) >= 5
    feedback = root / "raw" / "2026-09" / "feedback"
    feedback.mkdir(parents=True, exist_ok=True)
    nonself = next(r for r in rows if r["预警代码"] not in {"YB01", "YB02"})
    others = [r for r in rows if r is not nonself]
    confirmed, refuted, twice = others[0], others[1], others[2]
    confirmed["核实结果"], confirmed["核实日期"] = (
        "属实－已纳入监测",
        "2026-09-10",
    )  # full-width dash
    refuted["核实结果"], refuted["核实日期"] = " 不属实 ", "2026.9.12"
    nonself["核实结果"], nonself["核实日期"] = "非本人", "2026/9/11"
    twice["核实结果"], twice["核实日期"] = "不属实", "2026-09-08"
    again = dict(twice, 核实结果="属实-已落实帮扶", 核实日期="2026-09-15")  # the later answer wins
    kept = [confirmed, refuted, nonself, twice, again, *others[3:5]]  # the rest deleted
    # columns reordered and one added, as a clerk's Excel does
    header = [
        "核实结果",
        "核实日期",
        "预警编号",
        "备注（村里填）",
        *[c for c in rows[0] if c not in {"核实结果", "核实日期", "预警编号"}],
    ]
    with (feedback / f"{first.stem}_核实反馈.csv").open(
        "w", encoding="gb18030", newline=""
    ) as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in kept:
            writer.writerow({**row, "备注（村里填）": "已入户"})
    # the second township answers per village in XLSX, with one row that is not theirs
    other_rows = _read_export(second)
    village = other_rows[0]["村"]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["预警编号", "乡镇", "村", "核实结果", "核实人", "核实日期"])
    sheet.append(
        [other_rows[0]["预警编号"], second.stem, village, "属实-无需纳入", "某某", "2026-09-20"]
    )
    sheet.append(
        [others[5]["预警编号"], first.stem, others[5]["村"], "不属实", "某某", "2026-09-20"]
    )
    sheet.append(["ZJ01-000000000000", second.stem, village, "不属实", "某某", "2026-09-20"])
    sheet.append(
        [other_rows[-1]["预警编号"], second.stem, village, "部分属实", "某某", "2026-09-20"]
    )
    workbook.save(feedback / f"{second.stem}{village}.xlsx")
    # September's housing/other department data repeats the record behind the 非本人 answer
    provenance = _query(
        root,
        "SELECT source, file FROM warning_records WHERE warning_id = ? AND month = '2026-08'",
        [nonself["预警编号"]],
    ).row(0)
    source, file = provenance
    target = root / "raw" / "2026-09" / source
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "raw" / "2026-08" / source / file, target / f"上月重报_{file}")
    return {
        "confirmed": confirmed["预警编号"],
        "refuted": refuted["预警编号"],
        "nonself": nonself["预警编号"],
        "twice": twice["预警编号"],
        "other_village": other_rows[0]["预警编号"],
        "wrong_township": others[5]["预警编号"],
        # kept blank, deleted, or answered by the wrong township: all still open
        "unanswered": [r["预警编号"] for r in others[3:]],
        "nonself_source": source,
    }


def test_answered_warnings_are_not_listed_again(scenario):
    root, answers = scenario["root"], scenario["answers"]
    for month in ("2026-09", "2026-10"):
        listed = set(
            _query(root, "SELECT warning_id FROM listings WHERE month = ?", [month])["warning_id"]
        )
        for key in ("confirmed", "refuted", "nonself", "twice", "other_village"):
            assert answers[key] not in listed, (month, key)
        assert set(answers["unanswered"]) <= listed


def test_open_warnings_carry_forward_as_overdue_with_their_first_month(scenario):
    root, answers = scenario["root"], scenario["answers"]
    rows = _query(
        root,
        "SELECT warning_id, status, first_month, deadline FROM listings WHERE month = '2026-10'",
    )
    carried = rows.filter(pl.col("warning_id").is_in(answers["unanswered"]))
    assert set(carried["status"]) == {"逾期"}
    assert set(carried["first_month"]) == {"2026-08"}
    assert {str(d) for d in carried["deadline"]} == {"2026-09-21"}
    assert set(rows.filter(pl.col("first_month") == "2026-10")["status"]) == {"新增"}
    # the township files show it too
    statuses = set()
    for path in (root / "exports" / "2026-10").glob("*.csv"):
        if not path.name.startswith("区级"):
            statuses |= {r["状态"] for r in _read_export(path)}
    assert {"新增", "逾期"} <= statuses


def test_feedback_rejects_and_the_latest_answer_wins(scenario):
    root, answers = scenario["root"], scenario["answers"]
    rejects = _query(
        root, "SELECT reason FROM rejects WHERE source = 'feedback' AND month = '2026-09'"
    )
    reasons = rejects["reason"].to_list()
    assert sum("其他乡镇" in r for r in reasons) == 1
    assert sum("预警编号不存在" in r for r in reasons) == 1
    assert sum("核实结果不是规定值" in r for r in reasons) == 1
    kept = _query(
        root,
        "SELECT warning_id, verdict FROM feedback_answers WHERE warning_id = ?",
        [answers["twice"]],
    )
    assert kept.height == 2  # both answers kept
    from pipelines.feedback import effective_verdicts

    with duckdb.connect(str(root / "warehouse" / "fangfan.duckdb"), read_only=True) as con:
        verdicts = dict(
            effective_verdicts(con, DISTRICT, "2026-10").select("warning_id", "verdict").rows()
        )
    assert verdicts[answers["twice"]] == "属实-已落实帮扶"
    assert verdicts[answers["confirmed"]] == "属实-已纳入监测"
    assert verdicts[answers["refuted"]] == "不属实"


def test_not_this_person_is_never_tied_again(scenario):
    root, answers = scenario["root"], scenario["answers"]
    pairs = _query(root, "SELECT * FROM negative_pairs WHERE warning_id = ?", [answers["nonself"]])
    assert pairs.height >= 1
    member = pairs["member_key"][0]
    source = answers["nonself_source"]
    repeated = _query(
        root,
        f"""SELECT s.record_key FROM stg_{source} s
            WHERE s.month = '2026-09' AND s.file LIKE '上月重报_%'
              AND md5(concat_ws('|', '{source}', coalesce(s.name, ''), coalesce(s.id_number, ''),
                      coalesce(s.township, ''), coalesce(s.village, ''))) IN
                  (SELECT identity_key FROM negative_pairs WHERE warning_id = ?)""",
        [answers["nonself"]],
    )
    assert repeated.height >= 1, "September repeats the record behind the 非本人 answer"
    ties = _query(
        root,
        "SELECT count(*) AS n FROM record_matches WHERE month = '2026-09' AND member_key = ?"
        " AND list_contains(?, record_key)",
        [member, repeated["record_key"].to_list()],
    )
    assert ties["n"][0] == 0
    unresolved = (
        (root / "exports" / "2026-09" / "区级_未匹配与待确认.csv").read_bytes()[3:].decode()
    )
    assert "非本人撤回" in unresolved


def test_september_rerun_after_october_gives_the_same_tables_and_files(scenario):
    root = scenario["root"]
    assert _hashes(root / "exports" / "2026-09") == scenario["september_hashes"]
    again = _query(root, "SELECT * FROM listings WHERE month = '2026-09' ORDER BY warning_id")
    assert again.equals(scenario["september_listing"])


def test_district_learns_answer_rates(scenario):
    root = scenario["root"]
    workbook = openpyxl.load_workbook(root / "exports" / "2026-10" / "区级汇总.xlsx")
    sheet = workbook["规则成效(累计)"]
    header = [c.value for c in sheet[1]]
    answered = sum(
        row[header.index("已核实")] or 0 for row in sheet.iter_rows(min_row=2, values_only=True)
    )
    assert answered == 5  # confirmed, refuted, nonself, twice (answered twice), other_village
    towns = workbook["乡镇核实(累计)"]
    assert towns.max_row >= 3


def test_first_month_says_nothing_was_run_before(scenario):
    text = run_summary(DataDir(scenario["root"]), DISTRICT, "2026-08")
    assert "此前没有运行过的月份" in text
