"""The matcher's input built from staged tables: several months in one pass, empty months."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines import linkage
from pipelines.linkage import run_matching
from pipelines.matching.ids import normalise_ids
from pipelines.warehouse import memory_warehouse, replace_partition
from tests.conftest import make_id


def _roster(con, id_number: str) -> None:
    member = pl.DataFrame(
        {
            "member_key": [f"H1|{id_number}"], "household_id": ["H1"], "name": ["张三"],
            "id_number": [id_number], "id_status": ["valid"], "birth_date": [date(1980, 1, 1)],
            "township": ["东桥镇"], "village": ["王岗村"], "relation": ["户主"], "is_head": [True],
        }
    )  # fmt: skip
    replace_partition(con, "roster_members", member, district="d", month="2026-10")


def test_same_record_key_in_two_months_is_matched_once_per_month():
    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    claim = pl.DataFrame(
        {
            "record_key": ["medical_claims|a.csv||2"], "name": ["张三"], "id_number": [id_number],
            "id_status": ["valid"], "id_birth": [date(1980, 1, 1)], "id_area": ["341502"],
            "township": ["东桥"], "village": ["王岗"],
        }
    )  # fmt: skip
    for month in ("2026-08", "2026-09"):
        replace_partition(con, "stg_medical_claims", claim, district="d", month=month)
    matches, unresolved = run_matching(
        con, district="d", months=["2026-08", "2026-09"], roster_month="2026-10",
        sources=["medical_claims"],
    )  # fmt: skip
    assert unresolved.is_empty()
    assert sorted(matches.select("month", "record_key", "member_key").rows()) == [
        ("2026-08", "medical_claims|a.csv||2", f"H1|{id_number}"),
        ("2026-09", "medical_claims|a.csv||2", f"H1|{id_number}"),
    ]


def _swap_across_area_and_birth(id_number: str) -> str:
    # 341502|1980… → 341501|2980…: the area's last digit and the year's first swapped
    return id_number[:5] + id_number[6] + id_number[5] + id_number[7:]


def _staged_claim(id_number: str | None, **fields) -> pl.DataFrame:
    row = {
        "record_key": "medical_claims|a.csv||2", "name": "张三", "id_raw": None,
        "id_number": id_number, "id_status": "valid", "id_birth": date(1980, 1, 1),
        "id_area": "341502", "township": "东桥", "village": None,
    } | fields  # fmt: skip
    types = {"id_birth": pl.Date, "birth_date": pl.Date}
    return pl.DataFrame([row], schema={key: types.get(key, pl.String) for key in row})


def test_a_bad_date_id_keeps_its_18_characters_for_repair():
    # The ingest reads 341501298001… as a bad date (year 2980) and keeps no id_number; the
    # match input keeps the characters, and the matcher repairs the swap (tier 2).
    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    written = _swap_across_area_and_birth(id_number)
    staged = _staged_claim(
        None, id_raw=f" {written} ", id_status="bad_date", id_birth=None, id_area=written[:6]
    )
    replace_partition(con, "stg_medical_claims", staged, district="d", month="2026-10")
    matches, unresolved = run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=["medical_claims"]
    )
    assert unresolved.is_empty()
    assert matches.select("member_key", "tier").rows() == [(f"H1|{id_number}", 2)]
    assert "id_raw" not in con.sql("SELECT * FROM match_input").columns


def test_a_non_me_verdict_on_a_kept_id_still_applies():
    # 非本人 identities are those of the staged rows (no id_number for a bad date): the kept
    # characters must not change the identity the verdict was recorded under.
    from pipelines.feedback import IDENTITY_SQL

    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    written = _swap_across_area_and_birth(id_number)
    staged = _staged_claim(None, id_raw=written, id_status="bad_date", id_birth=None)
    replace_partition(con, "stg_medical_claims", staged, district="d", month="2026-10")
    identity = con.execute(
        f"SELECT {IDENTITY_SQL.format(s='s')} FROM "
        "(SELECT 'medical_claims' AS source, * FROM stg_medical_claims) s"
    ).fetchall()[0][0]
    verdict = pl.DataFrame({"identity_key": [identity], "member_key": [f"H1|{id_number}"]})
    replace_partition(con, "negative_pairs", verdict, district="d", month="2026-09")
    matches, _ = run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=["medical_claims"]
    )
    assert matches.is_empty()


def test_a_non_id_cell_is_not_kept():
    con = memory_warehouse()
    _roster(con, make_id(date(1980, 1, 1)))
    staged = _staged_claim(None, id_raw="3415021980汉字", id_status="invalid", id_birth=None)
    replace_partition(con, "stg_medical_claims", staged, district="d", month="2026-10")
    run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=["medical_claims"]
    )
    assert con.sql("SELECT id_number FROM match_input").fetchall() == [(None,)]


def test_a_departments_birth_date_reaches_the_matcher():
    """A department file's 出生日期 (sources.DEPARTMENT_BIRTH_DATE) is the record's own birth date:
    a record without an ID is tied by name + birth date + 乡镇, one born another day is not. One
    written to its month only (出生年月 1980-01) tells nothing: neither ties nor rules out."""
    con = memory_warehouse()
    _roster(con, make_id(date(1980, 1, 1)))
    staged = _staged_claim(
        None, id_status="missing", id_birth=None, id_area=None, birth_date=date(1980, 1, 1)
    )
    other = staged.with_columns(
        pl.lit("medical_claims|a.csv||3").alias("record_key"),
        pl.lit(date(1981, 1, 1)).alias("birth_date"),
    )
    monthly = staged.with_columns(
        pl.lit("medical_claims|a.csv||4").alias("record_key"),
        pl.lit(True).alias("birth_date_month_only"),
    )
    replace_partition(
        con,
        "stg_medical_claims",
        pl.concat([staged, other, monthly], how="diagonal"),
        district="d",
        month="2026-10",
    )
    matches, unresolved = run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=["medical_claims"]
    )
    assert matches.select("record_key", "tier", "method").rows()[0] == (
        "medical_claims|a.csv||2",
        4,
        "姓名+出生日期+乡镇",
    )
    assert "medical_claims|a.csv||3" in unresolved["record_key"].to_list()
    assert con.sql(
        "SELECT birth_date FROM match_input WHERE source_record_key LIKE '%||4'"
    ).fetchall() == [(None,)]


def test_without_a_birth_date_the_input_has_none():
    con = memory_warehouse()
    _roster(con, make_id(date(1980, 1, 1)))
    staged = _staged_claim(None, id_status="missing", id_birth=None, id_area=None)
    replace_partition(con, "stg_medical_claims", staged, district="d", month="2026-10")
    run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=["medical_claims"]
    )
    assert con.sql("SELECT birth_date FROM match_input").fetchall() == [(None,)]


def test_a_month_without_department_data_matches_nothing():
    con = memory_warehouse()
    _roster(con, make_id(date(1980, 1, 1)))
    matches, unresolved = run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=[]
    )
    assert matches.is_empty() and unresolved.is_empty()


def test_identities_are_searched_in_batches_with_the_outcome_of_one_pass(monkeypatch):
    # the year's claims months are tied together: IDENTITY_BATCH bounds the matcher's memory,
    # and any split of the identities gives the outcome of one pass, in the records' order

    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    variants = [
        _staged_claim(id_number),
        _staged_claim(None, id_status="missing", id_birth=None, id_area=None),
        _staged_claim(id_number, name="李四"),
        _staged_claim(
            id_number[:-1] + ("0" if id_number[-1] != "0" else "1"), id_status="bad_checksum"
        ),
        _staged_claim(None, name="王五", id_status="missing", id_birth=None, id_area=None),
    ]
    for n, month in enumerate(("2026-01", "2026-02", "2026-03")):
        rows = pl.concat([variants[(n + i) % 5] for i in range(7)]).with_columns(
            record_key=pl.format("medical_claims|a.csv||{}", pl.int_range(2, 9))
        )
        replace_partition(con, "stg_medical_claims", rows, district="d", month=month)
    months = ["2026-01", "2026-02", "2026-03"]
    args = {
        "district": "d",
        "months": months,
        "roster_month": "2026-10",
        "sources": ["medical_claims"],
    }
    linkage.match_identities(con, **args)
    one_pass = linkage.record_outcomes(con)
    monkeypatch.setattr(linkage, "IDENTITY_BATCH", 2)
    searched: list[int] = []
    match_records_into = linkage.match_records_into

    def counted(con, into, records, *args):
        searched.append(con.sql(f"SELECT count(*) FROM {records}").fetchall()[0][0])
        return match_records_into(con, into, records, *args)

    monkeypatch.setattr(linkage, "match_records_into", counted)
    linkage.match_identities(con, **args)
    batched = linkage.record_outcomes(con)
    assert batched[0].equals(linkage.record_outcomes(con, None)[0])
    by_month = linkage.record_outcomes(con, "2026-02")
    assert set(by_month[0]["month"]) | set(by_month[1]["month"]) == {"2026-02"}
    assert by_month[0].height + by_month[1].height == 7
    assert searched == [2, 2, 1]  # 5 identities of 21 records
    for together, split in zip(one_pass, batched, strict=True):
        assert together.equals(split)
    assert one_pass[0].height + one_pass[1].height == 21
    assert {m for m in one_pass[0]["month"]} == set(months)


def test_records_alike_are_searched_once_and_each_gets_the_outcome():
    # A patient's claims repeat their identity once per claim: the matcher searches it once,
    # and every record comes back, in its own order, with what a search of its own would give.
    from pipelines.linkage import match_identities, prepare_match_views, record_outcomes
    from pipelines.matching.matcher import match_records

    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    rows = [
        _staged_claim(id_number),  # the patient's ID
        _staged_claim(None, id_status="missing", id_birth=None, id_area=None),  # name only
        _staged_claim(id_number, name="李四"),  # the ID of someone else's name
        _staged_claim(None, name=None, id_status="missing", id_birth=None, id_area=None),
    ]
    claims = pl.concat([rows[i % 4] for i in (0, 1, 0, 2, 3, 0, 1, 2)]).with_columns(
        record_key=pl.format("medical_claims|a.csv||{}", pl.int_range(2, 10))
    )
    replace_partition(con, "stg_medical_claims", claims, district="d", month="2026-10")
    args = {"district": "d", "months": ["2026-10"], "roster_month": "2026-10"}
    match_identities(con, **args, sources=["medical_claims"])
    matches, unresolved = record_outcomes(con)
    assert con.sql(f"SELECT count(DISTINCT identity) FROM {linkage.KEYED_INPUT}").fetchall() == [
        (4,)
    ]

    prepare_match_views(con, **args, sources=["medical_claims"])  # each record on its own
    alone = match_records(con, "match_input", "roster_input", "negative_input")
    for together, own in ((matches, alone.matches), (unresolved, alone.unresolved)):
        own = own.with_columns(pl.col("record_key").str.replace("^2026-10#", ""))
        assert together.drop("source", "month").equals(own), together
    assert matches.height + unresolved.height == 8
    assert matches["record_key"].to_list() == sorted(
        matches["record_key"], key=lambda k: int(k.split("||")[1])
    )


def test_identities_keyed_alike_by_the_hash_are_told_apart(monkeypatch):
    # identities are keyed by a 64-bit hash of their columns; were two to share one, every
    # identity is keyed again (MD5 of the columns), and the outcome is the same

    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)
    rows = [
        _staged_claim(id_number),
        _staged_claim(None, id_status="missing", id_birth=None, id_area=None),
        _staged_claim(id_number, name="李四"),
        _staged_claim(None, name=None, id_status="missing", id_birth=None, id_area=None),
    ]
    claims = pl.concat([rows[i % 4] for i in (0, 1, 0, 2, 3, 0, 1, 2)]).with_columns(
        record_key=pl.format("medical_claims|a.csv||{}", pl.int_range(2, 10))
    )
    replace_partition(con, "stg_medical_claims", claims, district="d", month="2026-10")
    args = {"district": "d", "months": ["2026-10"], "roster_month": "2026-10",
            "sources": ["medical_claims"]}  # fmt: skip

    def identities() -> list[str]:
        return [
            r[0]
            for r in con.sql(
                f"SELECT identity FROM {linkage.KEYED_INPUT} ORDER BY position"
            ).fetchall()
        ]

    linkage.match_identities(con, **args)
    hashed, keys = linkage.record_outcomes(con), identities()
    assert len(set(keys)) == 4 and all(k.startswith("i#") for k in keys)

    # a "hash" every identity shares: the second key takes over
    shared = ("hash(source)", linkage._IDENTITY_KEYS[1])
    monkeypatch.setattr(linkage, "_IDENTITY_KEYS", shared)
    linkage.match_identities(con, **args)
    rekeyed, keys_again = linkage.record_outcomes(con), identities()
    assert len(set(keys_again)) == 4 and not set(keys_again) & set(keys)
    for first, second in zip(hashed, rekeyed, strict=True):
        assert first.equals(second)

    monkeypatch.setattr(linkage, "_IDENTITY_KEYS", shared[:1])  # no key that tells them apart
    with pytest.raises(AssertionError, match="share"):
        linkage.match_identities(con, **args)


def test_a_record_of_someone_last_months_roster_had_says_they_left_it():
    """A 公安 死亡 row for a member the village already took off M's roster is unmatched; its
    reason had said the ID is not in the roster (read as a department's wrong ID)."""
    from pipelines.linkage import match_month
    from pipelines.matching.labels import REASONS

    con = memory_warehouse()
    gone, stays, stranger = (make_id(date(1960 + i, 3, 1)) for i in range(3))
    for month, ids in (("2026-09", (gone, stays)), ("2026-10", (stays,))):
        members = pl.DataFrame(
            {"member_key": [f"H1|{i}" for i in ids], "household_id": ["H1"] * len(ids),
             "name": ["王五" if i == gone else "王六" for i in ids], "id_number": list(ids),
             "id_status": ["valid"] * len(ids), "township": ["东桥镇"] * len(ids),
             "village": ["王岗村"] * len(ids), "relation": ["户主"] * len(ids),
             "is_head": [i == stays for i in ids]}
        )  # fmt: skip
        replace_partition(con, "roster_members", members, district="d", month=month)
    deaths = pl.DataFrame(
        {"record_key": ["public_security|a.csv||2", "public_security|a.csv||3"],
         "name": ["王五", "赵七"], "id_number": [gone, stranger], "id_status": ["valid"] * 2,
         "change_type": ["死亡"] * 2}
    )  # fmt: skip
    replace_partition(con, "stg_public_security", deaths, district="d", month="2026-10")

    match_month(con, "d", "2026-10")

    reasons = dict(con.execute("SELECT record_key, reason FROM unmatched_records").fetchall())
    assert reasons == {
        "public_security|a.csv||2": REASONS["left_roster"],
        "public_security|a.csv||3": REASONS["id_not_in_roster"],
    }


def test_a_roster_row_rejected_for_its_household_number_is_a_rival_not_a_tie():
    """东桥镇's roster file had its 户编号 destroyed by Excel: its rows are rejected. A household
    row naming 王东辉 of 新庄村 without its 乡镇 was tied to the 王东辉 heading a household of 木厂镇's
    新庄村 (the wrong household warned). The rejected rows are rivals now; one that a kept row
    repeats (the 汇总 holding it intact) is that member, not a rival."""
    from pipelines.linkage import match_month
    from pipelines.matching.labels import REASONS

    con = memory_warehouse()
    kept, ghost, both = (make_id(date(1966 + i, 12, 26)) for i in range(3))
    members = pl.DataFrame(
        {"member_key": [f"H1|{kept}", f"H2|{both}"], "household_id": ["H1", "H2"],
         "name": ["王东辉", "李四"], "id_number": [kept, both], "id_status": ["valid"] * 2,
         "township": ["木厂镇", "木厂镇"], "village": ["新庄村", "新庄村"],
         "relation": ["户主"] * 2, "is_head": [True] * 2}
    )  # fmt: skip
    replace_partition(con, "roster_members", members, district="d", month="2026-10")
    reason = "「户编号」已被 Excel 当作数字改写"
    rejects = pl.DataFrame(
        {"source": ["roster"] * 3, "file": ["东桥镇.csv"] * 3, "row_number": [95, 96, 97],
         "field": ["household_id"] * 3, "reason": [reason] * 3,
         "name": ["王东辉", "李四", "赵六"], "id_number": [ghost, both, None],
         "id_status": ["valid", "valid", "missing"], "township": ["东桥镇"] * 3,
         "village": ["新庄村"] * 3, "relation": ["户主", "户主", "之子"]}
    )  # fmt: skip
    replace_partition(con, "rejects", rejects, district="d", month="2026-10")
    rows = pl.DataFrame(
        {"record_key": ["water|a.csv||24", "water|a.csv||25", "water|a.csv||26"],
         "name": ["王东辉", "李四", "赵六"], "name_raw": ["王东辉", "李四", "赵六"],
         "id_status": ["missing"] * 3, "village": ["新庄村"] * 3}
    )  # fmt: skip
    replace_partition(con, "stg_water", rows, district="d", month="2026-10")

    match_month(con, "d", "2026-10")

    tied = dict(con.execute("SELECT record_key, member_key FROM record_matches").fetchall())
    assert tied == {"water|a.csv||25": f"H2|{both}"}  # the rejected 李四 is the kept one
    unresolved = con.execute(
        "SELECT record_key, status, reason, candidates FROM unmatched_records ORDER BY 1"
    ).fetchall()
    assert unresolved == [
        ("water|a.csv||24", "ambiguous", REASONS["rejected_rival"], [f"H1|{kept}"]),
        ("water|a.csv||26", "unmatched", REASONS["roster_rejected"], []),
    ]


def test_a_non_me_verdict_rules_out_that_record_not_the_persons_next_one():
    """Contract §5: 非本人 tells the matcher never to tie *that department record* to that member
    again. The same vehicle sent again in October stays ruled out; another vehicle of hers (an
    independent probe: other plate, type and date) is another record and is tied. A verdict whose
    row is no longer staged rules out every record of the identity, as before."""
    from pipelines.feedback import IDENTITY_SQL

    con = memory_warehouse()
    id_number = make_id(date(1980, 1, 1))
    _roster(con, id_number)

    def vehicle(row: int, plate: str, kind: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "record_key": [f"vehicles|v.csv||{row}"], "name": ["张三"],
                "id_number": [id_number], "id_status": ["valid"], "id_birth": [date(1980, 1, 1)],
                "id_area": ["341502"], "township": ["东桥镇"], "village": ["王岗村"],
                "plate": [plate], "vehicle_type": [kind],
            }
        )  # fmt: skip

    replace_partition(
        con, "stg_vehicles", vehicle(2, "皖N10000", "小型轿车"), district="d", month="2026-09"
    )
    october = pl.concat([vehicle(2, "皖N10000", "小型轿车"), vehicle(18, "皖N9Z999", "轻型货车")])
    replace_partition(con, "stg_vehicles", october, district="d", month="2026-10")
    identity = con.execute(
        f"SELECT {IDENTITY_SQL.format(s='s')} FROM (SELECT 'vehicles' AS source, * FROM "
        "stg_vehicles WHERE month = '2026-09') s"
    ).fetchall()[0][0]
    verdict = pl.DataFrame(
        {
            "warning_id": ["GA02-1"], "source": ["vehicles"], "record_key": ["vehicles|v.csv||2"],
            "record_month": ["2026-09"], "identity_key": [identity],
            "member_key": [f"H1|{id_number}"],
        }
    )  # fmt: skip
    replace_partition(con, "negative_pairs", verdict, district="d", month="2026-10")

    def tied() -> list[str]:
        matches, _ = run_matching(
            con, district="d", months=["2026-10"], roster_month="2026-10", sources=["vehicles"]
        )
        return sorted(matches["record_key"].to_list())

    assert tied() == ["vehicles|v.csv||18"]
    # the verdict's own row gone from the warehouse: the identity is ruled out whole
    con.execute("DELETE FROM stg_vehicles WHERE month = '2026-09'")
    assert tied() == []


def _with_check(first17: str) -> str:
    from tests.conftest import check_char

    return first17 + check_char(first17)


def test_an_id_excel_rounded_to_a_0_is_tied_by_the_name_and_either_birth_date_it_leaves():
    """Excel keeps 15 significant digits: …19860826|010|x is stored …198608260|000, and
    …19550427|991|x, rounded up, …195504280|000. The 15th digit 0 may be a 9 rounded up, so the
    birth date is one of two days and the ingest keeps none; the name with either day ties (as a
    name and a birth date do), a namesake born on the other day is a rival, one born on neither
    is no one. An independent probe (indep30) found such IDs never tied, the record 未匹配 though
    its name and surviving digits tell the person: one destroyed ID in ten."""
    con = memory_warehouse()
    people = {
        "任睿涛": _with_check("34150219860826010"),  # stored …08260|000: 0826 or 0825
        "卢丽杭": _with_check("34150219550427991"),  # rounded up: stored …04280|000
        "王志": _with_check("34150219700301020"),  # stored …03010|000: 0301 or 0300 (no day)
        "李娜": _with_check("34150219881110030"),  # and a namesake born 1988-11-09: rivals
        "周平": _with_check("34150219660101040"),  # and a namesake born 1966-03-01
        "唐欣": _with_check("34150219611130971"),  # rounded up to …1131 0|000: no such day
    }
    rows = [(name, number, "H" + str(i)) for i, (name, number) in enumerate(people.items())]
    rows.append(("李娜", _with_check("34150219881109050"), "H9"))
    rows.append(("周平", _with_check("34150219660301060"), "H8"))
    roster = pl.DataFrame(
        {
            "member_key": [f"{h}|{n}" for _, n, h in rows], "household_id": [h for *_, h in rows],
            "name": [name for name, *_ in rows], "id_number": [n for _, n, _ in rows],
            "id_status": ["valid"] * len(rows),
            "birth_date": [date(int(n[6:10]), int(n[10:12]), int(n[12:14])) for _, n, _ in rows],
            "township": ["东桥镇"] * len(rows), "village": ["王岗村"] * len(rows),
            "relation": ["户主"] * len(rows), "is_head": [True] * len(rows),
        }
    )  # fmt: skip
    replace_partition(con, "roster_members", roster, district="d", month="2026-10")
    stored = {name: number[:15] + "000" for name, number in people.items()}
    stored["卢丽杭"] = "341502195504280000"
    stored["周平"] = "341502196605050000"  # someone else: 0505 or 0504, neither 周平's day
    stored["唐欣"] = "341502196111310000"
    read = normalise_ids(pl.Series(list(stored.values())), damaged=pl.Series([True] * 6))
    assert read["id_status"].to_list() == ["destroyed"] * 6
    assert read["id_birth"].to_list() == [None] * 6  # the ingest keeps no birth date
    claims = pl.concat(
        _staged_claim(
            None,
            record_key=f"medical_claims|a.csv||{i + 2}",
            name=name,
            id_raw=raw,
            id_status="destroyed",
            id_birth=None,
            id_area=ids["id_area"],
            id_prefix=ids["id_prefix"],
            township=None,
        )  # fmt: skip
        for i, ((name, raw), ids) in enumerate(
            zip(stored.items(), read.iter_rows(named=True), strict=True)
        )
    )
    replace_partition(con, "stg_medical_claims", claims, district="d", month="2026-10")
    matches, unresolved = run_matching(
        con, district="d", months=["2026-10"], roster_month="2026-10", sources=["medical_claims"]
    )
    tied = dict(zip(matches["record_key"], matches["member_key"], strict=True))
    assert tied == {
        "medical_claims|a.csv||2": f"H0|{people['任睿涛']}",
        "medical_claims|a.csv||3": f"H1|{people['卢丽杭']}",
        "medical_claims|a.csv||4": f"H2|{people['王志']}",
        "medical_claims|a.csv||7": f"H5|{people['唐欣']}",  # found by the indep30 rerun
    }
    assert set(matches["method"]) == {"姓名+出生日期"}
    listed = dict(zip(unresolved["record_key"], unresolved["status"], strict=True))
    assert listed == {
        "medical_claims|a.csv||5": "ambiguous",
        "medical_claims|a.csv||6": "unmatched",
    }
    # the year's claims are searched as identities: two rounded IDs are two identities, even
    # where their certain digits are the same
    linkage.tie_earlier_claims(con, "d", "2026-10", ["2026-10"])
    by_identity = con.sql(
        "SELECT record_key, member_key FROM record_matches WHERE district = 'd' ORDER BY 1"
    ).fetchall()
    assert dict(by_identity) == tied
