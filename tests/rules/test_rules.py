"""Every rule of the catalogue at and around its threshold, inside and outside its scope."""

from __future__ import annotations

import copy
from datetime import date

import polars as pl

from pipelines.rules.evaluate import warning_id


def fired(warnings: pl.DataFrame, rule: str) -> pl.DataFrame:
    return warnings.filter(pl.col("rule") == rule)


def subjects(warnings: pl.DataFrame, rule: str, column: str = "household_id") -> set[str]:
    return set(fired(warnings, rule)[column].to_list())


def test_yb01_fires_in_the_month_the_year_to_date_sum_reaches_the_threshold(world, rule_config):
    general = world.household("一般农户")
    g = world.member(general)
    world.record("medical_claims", g, month="2026-03", self_paid=12_000.0)
    world.record("medical_claims", g, self_paid=8_000.0)  # 20,000 exactly in October
    below = world.household("一般农户")
    b = world.member(below)
    world.record("medical_claims", b, self_paid=19_999.99)
    monitored = world.household("脱贫户")
    m = world.member(monitored)
    world.record("medical_claims", m, self_paid=5_000.0)
    already = world.household("一般农户")  # crossed in September: not again in October
    a = world.member(already)
    world.record("medical_claims", a, month="2026-09", self_paid=25_000.0)
    world.record("medical_claims", a, self_paid=1_000.0)
    last_year = world.household("一般农户")  # last year's spending does not count
    y = world.member(last_year)
    world.record("medical_claims", y, month="2025-12", self_paid=30_000.0)
    world.record("medical_claims", y, self_paid=100.0)

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "YB01") == {general, monitored}
    evidence = fired(warnings, "YB01").filter(pl.col("household_id") == general)["evidence"][0]
    assert (
        evidence == "2026年1—10月家庭个人自付医疗费用合计 20,000.00 元，达到一般农户阈值 20,000 元"
    )


def test_yb01_a_blank_amount_that_could_decide_is_not_taken_for_zero(world, rule_config):
    """Contract §2: a blank amount is unknown, not zero. A claim of the month whose 个人自付 is
    blank could bring a 脱贫户 at 4,400 元 over 5,000: 不可判断 for the district (it had been
    summed as 0 without a word). Bounded by its 医疗总费用 (个人自付 cannot exceed it), a blank
    of a 300 元 claim cannot; nor can any blank where the known sum already crossed (a warning:
    the household is over the threshold whatever the blank was)."""

    def household(*claims: dict) -> str:
        member = world.member(world.household("脱贫户"))
        for claim in claims:
            world.record("medical_claims", member, **claim)
        return member.split("|")[0]

    known = {"month": "2026-09", "self_paid": 4_000.0, "total_cost": 9_000.0}
    now = {"self_paid": 400.0, "total_cost": 1_000.0}
    unbounded = household(known, now, {"self_paid": None, "total_cost": None})
    bounded_over = household(known, now, {"self_paid": None, "total_cost": 2_000.0})
    household(known, now, {"self_paid": None, "total_cost": 300.0})  # at most 4,700: decided
    # a blank of August could have made the household cross in October as well
    earlier = household(known, {"month": "2026-08", "self_paid": None, "total_cost": 700.0}, now)
    crossed = household(known, {"self_paid": 1_000.0, "total_cost": 3_000.0},
                        {"month": "2026-05", "self_paid": None, "total_cost": 9_000.0})  # fmt: skip
    household(known, {"month": "2026-09", "self_paid": None, "total_cost": None})  # none in M
    run = world.run(rule_config)
    assert subjects(run.warnings, "YB01") == {crossed}
    undecided = run.undecided.filter(pl.col("rule") == "YB01")
    assert set(undecided["household_id"]) == {unbounded, bounded_over, earlier}
    assert "「个人自付」为空或无法识别（金额不详）" in undecided["reason"][0]


def test_yb01_sums_the_household_not_the_person_and_is_red_at_twice_the_threshold(
    world, rule_config
):
    household = world.household("监测户")
    head = world.member(household)
    child = world.member(household, "张小", birth=date(2010, 1, 1), relation="之子")
    world.record("medical_claims", head, self_paid=3_000.0)
    world.record("medical_claims", child, self_paid=2_500.0)
    red = world.household("一般农户")
    r = world.member(red)
    world.record("medical_claims", r, self_paid=40_000.0)

    warnings = fired(world.evaluate(rule_config), "YB01")

    assert set(warnings["household_id"]) == {household, red}
    assert warnings.filter(pl.col("household_id") == household)["level"][0] == "黄"
    assert warnings.filter(pl.col("household_id") == red)["level"][0] == "红"
    # one 户-level warning carries both records
    assert len(warnings.filter(pl.col("household_id") == household)["record_keys"][0]) == 2


def test_yb01_counts_a_claim_sent_again_once(world, rule_config):
    """An export window that overlapped, or a 补报 file: a claim whose twin (ID, name,
    institution, dates and amounts) another file of the year holds, filed outside its month or
    twice in one month, counts once, where it came first. A line written again under itself in
    one file counts once too: it may be a second claim or the same one pasted twice (a probe
    district's copy-pasted lines raised 3 false YB01 and doubled 3 amounts), so where counting it
    twice would decide, the household is 不可判断 for the district. Claims whose dates are
    unknown stay apart."""
    stay = {"institution": "金安区人民医院", "admission_date": date(2026, 9, 20),
            "discharge_date": date(2026, 9, 28), "total_cost": 30_000.0, "self_paid": 12_000.0}  # fmt: skip

    def claim(member: str, month: str, file: str, **changes: object) -> None:
        world.record("medical_claims", member, month=month, file=file, **(stay | changes))

    resent = world.household("一般农户")
    r = world.member(resent)
    claim(r, "2026-09", "9月.csv")
    claim(r, "2026-10", "10月.csv")  # September's claim again: 12,000 + 7,000 in all
    claim(r, "2026-10", "10月.csv", discharge_date=date(2026, 10, 3), self_paid=7_000.0)
    twice_in_october = world.household("一般农户")  # September's claim in two of October's files
    t = world.member(twice_in_october)
    claim(t, "2026-10", "区级.csv", self_paid=15_000.0)
    claim(t, "2026-10", "乡镇.csv", self_paid=15_000.0)
    one_file = world.household("一般农户")  # a line twice in one file: once, and undecided
    o = world.member(one_file)
    claim(o, "2026-10", "10月.csv", self_paid=10_000.0)
    claim(o, "2026-10", "10月.csv", self_paid=10_000.0)
    in_two_files = world.household("一般农户")  # an October claim in October's two files
    i = world.member(in_two_files)
    october = {"admission_date": date(2026, 10, 2), "discharge_date": date(2026, 10, 9)}
    claim(i, "2026-10", "10月.csv", self_paid=15_000.0, **october)
    claim(i, "2026-10", "10月（补报）.csv", self_paid=15_000.0, **october)
    undated = world.household("一般农户")  # what tells them apart unknown: both count
    u = world.member(undated)
    claim(u, "2026-10", "a.csv", discharge_date=None, self_paid=10_000.0)
    claim(u, "2026-10", "b.csv", discharge_date=None, self_paid=10_000.0)

    # a claim reversed (冲销: its amounts negated) and settled again later: the new settlement
    # counts (it had been dropped as a copy of the first, the household short of its threshold)
    # (the rows here carry no ID or name: each household's claims are told apart by institution)
    august = {"admission_date": date(2026, 8, 10), "discharge_date": date(2026, 8, 15),
              "institution": "六安市人民医院"}  # fmt: skip
    settled_again = world.household("一般农户")
    a = world.member(settled_again)
    claim(a, "2026-08", "8月.csv", **august)
    claim(a, "2026-09", "9月.csv", total_cost=-30_000.0, self_paid=-12_000.0, **august)
    claim(a, "2026-10", "10月.csv", **august)  # settled again: 12,000 in all
    claim(a, "2026-10", "10月.csv", discharge_date=date(2026, 10, 3), self_paid=9_000.0)
    # a window that overlapped sends August's claim and its reversal again: still nothing
    window = world.household("一般农户")
    w = world.member(window)
    august |= {"institution": "金安区中医院"}
    claim(w, "2026-08", "8月.csv", **august)
    claim(w, "2026-08", "8月.csv", total_cost=-30_000.0, self_paid=-12_000.0, **august)
    claim(w, "2026-09", "9月.csv", **august)
    claim(w, "2026-09", "9月.csv", total_cost=-30_000.0, self_paid=-12_000.0, **august)
    claim(
        w,
        "2026-10",
        "10月.csv",
        **august | {"discharge_date": date(2026, 10, 3)},
        self_paid=9_000.0,
    )

    run = world.run(rule_config)
    assert subjects(run.warnings, "YB01") == {undated, settled_again}
    evidence = fired(run.warnings, "YB01").filter(pl.col("household_id") == settled_again)
    assert "21,000.00 元" in evidence["evidence"][0]
    undecided = run.undecided.filter(pl.col("rule") == "YB01")
    assert undecided["household_id"].unique().to_list() == [one_file]
    assert undecided["reason"][0].startswith("同一文件中有完全相同的结算行")


def test_yb01_threshold_comes_from_configuration(world, rule_config):
    household = world.household("一般农户")
    member = world.member(household)
    world.record("medical_claims", member, self_paid=15_000.0)
    assert fired(world.evaluate(rule_config), "YB01").is_empty()
    lowered = copy.deepcopy(rule_config)
    lowered["rules"]["YB01"]["threshold_general"] = 15_000
    assert subjects(world.evaluate(lowered), "YB01") == {household}


def test_yb02_monitored_member_without_normal_enrollment(world, rule_config):
    monitored = world.household("脱贫户")
    enrolled = world.member(monitored, "甲")
    suspended = world.member(monitored, "乙", relation="配偶")
    missing = world.member(monitored, "丙", relation="之子")
    last_year = world.member(monitored, "丁", relation="之女")
    general = world.household("一般农户")
    world.member(general, "戊")  # not monitored: out of scope even though not enrolled
    world.record("medical_enrollment", enrolled, enroll_year=2026, enroll_status="正常参保")
    world.record("medical_enrollment", suspended, enroll_year=2026, enroll_status="暂停")
    world.record("medical_enrollment", last_year, enroll_year=2025, enroll_status="正常参保")

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "YB02", "member_key") == {suspended, missing, last_year}
    text = fired(warnings, "YB02").filter(pl.col("member_key") == suspended)["evidence"][0]
    assert "暂停" in text


def test_yb02_spares_members_who_may_own_an_ambiguous_enrollment_record(world, rule_config):
    first = world.household("脱贫户")
    twin_a = world.member(first, "王芳")
    other = world.household("监测户")
    twin_b = world.member(other, "王芳")
    alone = world.member(other, "李强", relation="配偶")
    world.ambiguous(
        "medical_enrollment", [twin_a, twin_b], enroll_year=2026, enroll_status="正常参保"
    )
    world.ambiguous("medical_enrollment", [alone], enroll_year=2026, enroll_status="暂停")
    warnings = world.evaluate(rule_config)
    assert subjects(warnings, "YB02", "member_key") == {alone}


def test_yb02_not_evaluated_when_enrollment_not_received(world, rule_config):
    world.member(world.household("脱贫户"))
    from pipelines.sources import DEPARTMENT_KEYS

    warnings = world.evaluate(rule_config, received=set(DEPARTMENT_KEYS) - {"medical_enrollment"})
    assert fired(warnings, "YB02").is_empty()


def test_civil_affairs_rules(world, rule_config):
    general = world.household("一般农户")
    g = world.member(general)
    poor = world.household("脱贫户")
    p = world.member(poor)
    world.record("medical_enrollment", p, enroll_year=2026, enroll_status="正常参保")
    world.record(
        "civil_affairs",
        g,
        assistance_type="低保",
        change_type="新增",
        change_date=date(2026, 10, 3),
    )
    world.record("civil_affairs", p, assistance_type="特困", change_type="新增")  # not 一般农户
    world.record("civil_affairs", p, assistance_type="低保", change_type="退出")
    world.record("civil_affairs", g, assistance_type="低保", change_type="退出")  # MZ03 重点 only
    world.record("civil_affairs", g, assistance_type="临时救助", change_type="新增",
                 change_date=date(2026, 10, 9), amount=3000.0)  # fmt: skip
    world.record("civil_affairs", p, assistance_type="临时救助", change_date=date(2026, 8, 1))

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "MZ01") == {general}
    assert subjects(warnings, "MZ03") == {poor}
    assert subjects(warnings, "MZ02") == {general}
    assert fired(warnings, "MZ02")["level"][0] == "红"
    assert "3,000.00 元" in fired(warnings, "MZ02")["evidence"][0]


def test_education_rules(world, rule_config):
    general = world.household("一般农户")
    dropout = world.member(general, "甲", birth=date(2012, 1, 1), relation="之子")
    high = world.member(general, "乙", birth=date(2009, 1, 1), relation="之女")
    fresh = world.member(general, "丙", birth=date(2007, 1, 1), relation="之子")
    old = world.member(general, "丁", birth=date(2005, 1, 1), relation="之女")
    poor = world.household("监测户")
    aided = world.member(poor, "戊", birth=date(2012, 1, 1))
    unaided = world.member(poor, "己", birth=date(2012, 1, 1), relation="之子")
    for key in (aided, unaided):
        world.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    world.record("education", dropout, stage="初中", school_status="辍学")
    world.record("education", high, stage="高中", school_status="辍学")  # not compulsory
    world.record(
        "education", fresh, stage="高校", school_status="在读", enrol_month=date(2025, 11, 1)
    )
    world.record(
        "education", old, stage="高校", school_status="在读", enrol_month=date(2025, 10, 1)
    )
    world.record("education", aided, stage="小学", school_status="在读", aided=True)
    world.record("education", unaided, stage="小学", school_status="在读", aided=False)
    world.record("education", high, stage="高中", school_status="在读", aided=False)  # 一般农户

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "JY01", "member_key") == {dropout}
    assert subjects(warnings, "JY02", "member_key") == {fresh}  # 2025-11..2026-10 window
    assert subjects(warnings, "JY03", "member_key") == {unaided}
    assert fired(warnings, "JY03")["level"][0] == "绿"
    assert fired(warnings, "JY03")["evidence"][0] == "小学在读，未享受学生资助"


def test_jy03_without_a_stage_says_no_none(world, rule_config):
    """indep42: a list without a 学段 column still says who is 在读 without aid; its evidence had
    read "None在读，未享受学生资助" in a township's file."""
    poor = world.household("脱贫户")
    pupil = world.member(poor, "庚", birth=date(2013, 1, 1), relation="之子")
    world.record("medical_enrollment", pupil, enroll_year=2026, enroll_status="正常参保")
    world.record("education", pupil, stage=None, school_status="在读", aided=False)
    warnings = world.evaluate(rule_config)
    assert fired(warnings, "JY03")["evidence"].to_list() == ["在读，未享受学生资助"]


def test_ga01_death_level_and_risk_type_follow_working_age(world, rule_config):
    household = world.household("一般农户")
    worker = world.member(household, "甲", birth=date(1970, 1, 1))
    elder = world.member(household, "乙", birth=date(1950, 1, 1), relation="之父")
    sixty = world.member(household, "丙", birth=date(1966, 10, 10), relation="之母")
    world.record("public_security", worker, change_type="死亡", change_date=date(2026, 10, 2))
    world.record("public_security", elder, change_type="死亡", change_date=date(2026, 10, 2))
    world.record("public_security", sixty, change_type="死亡", change_date=date(2026, 10, 10))
    world.record("public_security", worker, change_type="迁出")

    warnings = fired(world.evaluate(rule_config), "GA01")
    by_member = {r["member_key"]: r for r in warnings.iter_rows(named=True)}

    assert set(by_member) == {worker, elder, sixty}
    assert by_member[worker]["level"] == "红" and by_member[worker]["risk_type"] == "缺劳动力"
    assert by_member[elder]["level"] == "黄" and by_member[elder]["risk_type"] == "其他"
    assert by_member[sixty]["level"] == "红"  # 60 on the day: inside 16–60


def test_no_other_person_warning_about_a_member_the_data_says_died(world, rule_config):
    """indep41: a member who died in October also had YB02 (not on the enrollment list), CL02 and
    GA02 in the township's list beside the household's GA01; a dead pupil JY03: visits about a
    dead person. Only GA01 is raised for them; the household's rules and a living member's stay."""
    household = world.household("脱贫户")
    dead = world.member(household, "甲", birth=date(1970, 1, 1))
    living = world.member(household, "乙", birth=date(1972, 1, 1), relation="配偶")
    world.record("public_security", dead, change_type="死亡", change_date=date(2026, 10, 12))
    for member in (dead, living):
        world.record("vehicles", member, vehicle_type="小型轿车", register_date=date(2020, 1, 1))
        world.record("disability", member, disability_level="一级", care_subsidy=False)
    world.record(
        "emergency", dead, disaster_date=date(2026, 10, 3), loss=9000, house_collapsed=False
    )

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "GA01", "member_key") == {dead}
    for rule in ("YB02", "GA02", "CL02"):
        assert subjects(warnings, rule, "member_key") == {living}, rule
    assert subjects(warnings, "YJ01") == {household}  # the household's, named by the dead head


def test_a_death_answered_not_true_lets_the_members_other_rules_speak(world, rule_config):
    """September's GA01 for 甲, unanswered, still speaks in October: no YB02 for her. Answered
    不属实 (she is alive), her YB02 is raised again."""
    from pipelines.rules.evaluate import evaluate_rules
    from pipelines.sources import DEPARTMENT_KEYS
    from pipelines.warehouse import memory_warehouse, replace_partition
    from tests.conftest import DISTRICT, MONTH

    household = world.household("脱贫户")
    member = world.member(household, "甲", birth=date(1970, 1, 1))
    insured = world.member(household, "乙", birth=date(1972, 1, 1), relation="配偶")
    world.record("medical_enrollment", insured, enroll_year=2026, enroll_status="正常参保")
    death = warning_id("GA01", member, "'死亡'")
    con = memory_warehouse()
    world.build(con)
    september = {"warning_id": [death], "rule": ["GA01"], "household_id": [household],
                 "member_key": [member]}  # fmt: skip
    replace_partition(con, "warnings", pl.DataFrame(september), district=DISTRICT, month="2026-09")

    def yb02() -> set[str]:
        run = evaluate_rules(
            con, district=DISTRICT, month=MONTH, config=rule_config, received=set(DEPARTMENT_KEYS)
        )
        return subjects(run.warnings, "YB02", "member_key")

    assert yb02() == set()
    answer = {"warning_id": [death], "verdict": ["不属实"], "file": ["a.csv"], "row_number": [2]}
    replace_partition(con, "feedback_answers", pl.DataFrame(answer), district=DISTRICT, month=MONTH)
    assert yb02() == {member}


def test_a_row_its_remark_calls_void_is_not_a_visit(world, rule_config):
    """indep42: rows whose 备注 said 作废, 作废（录入错误）, 已死亡 or 非本辖区 were sent to townships
    (7 false warnings, 2 红). Such a row is 不可判断 for the district, its 备注 named; 未作废 is no
    doubt; 公安's own 备注 of a death is the event; a household's house stays the household's
    whatever its 备注 says of the head."""
    household = world.household("脱贫户")
    head = world.member(household, "甲", birth=date(1970, 1, 1))
    void, dead, kept = (
        world.member(household, name, birth=date(1975, 1, 1), relation="之弟")
        for name in ("乙", "丙", "丁")
    )
    car = {"vehicle_type": "小型轿车", "register_date": date(2020, 1, 1)}
    world.record("vehicles", void, **car, remark="作废（录入错误）")
    world.record("vehicles", dead, **car, remark="车主已死亡")
    world.record("vehicles", kept, **car, remark="未作废，正常使用")
    world.record("public_security", head, change_type="死亡", change_date=date(2026, 10, 3),
                 remark="死亡")  # fmt: skip
    world.record("housing", head, grade="D", remark="户主已故")
    world.record("civil_affairs", head, assistance_type="临时救助", amount=800,
                 change_date=date(2026, 10, 9), remark="非本辖区")  # fmt: skip

    run = world.run(rule_config)

    assert subjects(run.warnings, "GA02", "member_key") == {kept}
    assert subjects(run.warnings, "GA01", "member_key") == {head}
    assert subjects(run.warnings, "ZJ01") == {household}
    assert fired(run.warnings, "MZ02").is_empty()
    undecided = run.undecided.filter(pl.col("rule").is_in(["GA02", "MZ02"]))
    reasons = sorted(undecided["reason"].to_list())
    assert reasons == [
        "备注写明「作废（录入错误）」：此行是否有效无法判断",
        "备注写明「车主已死亡」：此行是否有效无法判断",
        "备注写明「非本辖区」：此行是否有效无法判断",
    ]


def test_ga01_a_death_written_with_its_month_only_says_the_month_and_guesses_no_age(
    world, rule_config
):
    """变动日期 2026-10 is some day of October, not the 1st: the evidence says 2026年10月, and a
    member turning 61 on 2026-10-20 was 60 (红, 缺劳动力) or 61 that day: as for a member whose age
    is unknown (黄, 其他, no age given). A full date reads and decides as before."""
    household = world.household("一般农户")
    worker = world.member(household, "甲", birth=date(1970, 1, 1))
    turning = world.member(household, "乙", birth=date(1965, 10, 20), relation="之父")
    dated = world.member(household, "丙", birth=date(1965, 10, 20), relation="之母")
    october = {"change_type": "死亡", "change_date": date(2026, 10, 1)}
    world.record("public_security", worker, **october, change_date_month_only=True)
    world.record("public_security", turning, **october, change_date_month_only=True)
    world.record("public_security", dated, change_type="死亡", change_date=date(2026, 10, 5))

    warnings = fired(world.evaluate(rule_config), "GA01")
    by_member = {r["member_key"]: r for r in warnings.iter_rows(named=True)}

    assert by_member[worker]["evidence"] == "2026年10月户籍注销（死亡），时年56岁"
    assert by_member[worker]["level"] == "红" and by_member[worker]["risk_type"] == "缺劳动力"
    assert by_member[turning]["evidence"] == "2026年10月户籍注销（死亡）"
    assert by_member[turning]["level"] == "黄" and by_member[turning]["risk_type"] == "其他"
    assert by_member[dated]["evidence"] == "2026年10月5日户籍注销（死亡），时年60岁"
    assert by_member[dated]["level"] == "红" and by_member[dated]["risk_type"] == "缺劳动力"


def test_a_death_or_registration_without_its_date_guesses_no_age(world, rule_config):
    """A blank 变动日期 or 登记日期 is some day of M, not its 1st: a member turning 16 on
    2026-10-15 died at 15 or 16 (黄, 其他, no age given; it had said 时年15岁), and one turning 31
    that month registered at 30 or 31 (warned, no age given). A member of the same age all month
    still has it said."""
    household = world.household("一般农户")
    turning = world.member(household, "甲", birth=date(2010, 10, 15))
    adult = world.member(household, "乙", birth=date(1970, 1, 1), relation="之父")
    thirty = world.member(household, "丙", birth=date(1995, 10, 20), relation="之母")
    # of the same age as `adult`, alive (no warning is raised about a member who died)
    worker = world.member(household, "丁", birth=date(1970, 1, 1), relation="之叔")
    world.record("public_security", turning, change_type="死亡")
    world.record("public_security", adult, change_type="死亡")
    world.record("hrss", thirty, register_type="失业登记")
    world.record("hrss", worker, register_type="失业登记")

    warnings = world.evaluate(rule_config)
    deaths = {r["member_key"]: r for r in fired(warnings, "GA01").iter_rows(named=True)}
    registered = dict(fired(warnings, "RS01").select("member_key", "evidence").iter_rows())

    assert deaths[turning]["evidence"] == "本月户籍注销（死亡）"
    assert deaths[turning]["level"] == "黄" and deaths[turning]["risk_type"] == "其他"
    assert deaths[adult]["evidence"] == "本月户籍注销（死亡），时年56岁"
    assert deaths[adult]["level"] == "红"
    assert registered == {thirty: "本月办理失业登记", worker: "本月办理失业登记，时年56岁"}


def test_rs01_a_registration_written_with_its_month_only_says_the_month(world, rule_config):
    """登记日期 2026年10月: a member aged 40 all month is warned, the evidence naming the month the
    clerk wrote (not 2026年10月1日); a full date still names its day."""
    household = world.household("一般农户")
    forty = world.member(household, "甲", birth=date(1986, 3, 1))
    dated = world.member(household, "乙", birth=date(1986, 3, 1), relation="之妻")
    world.record("hrss", forty, register_type="失业登记", register_date=date(2026, 10, 1),
                 register_date_month_only=True)  # fmt: skip
    world.record("hrss", dated, register_type="失业登记", register_date=date(2026, 10, 5))

    warnings = fired(world.evaluate(rule_config), "RS01")
    evidence = dict(warnings.select("member_key", "evidence").iter_rows())

    assert evidence == {
        forty: "2026年10月办理失业登记，时年40岁",
        dated: "2026年10月5日办理失业登记，时年40岁",
    }


def test_precision_rules_fire_only_for_monitored_households(world, rule_config):
    poor = world.household("脱贫户")
    p = world.member(poor)
    world.record("medical_enrollment", p, enroll_year=2026, enroll_status="正常参保")
    general = world.household("一般农户")
    g = world.member(general)
    for key in (p, g):
        world.record("vehicles", key, vehicle_type="小型轿车", plate="皖N00001")
        world.record("property", key, location="某小区", floor_area=98.5)
        world.record("public_servants", key, employer="某单位")
        world.record("market", key, role="股东", capital=50.0, entity_name="某公司")
    warnings = world.evaluate(rule_config)
    for rule in ("GA02", "ZJ02", "CZ01", "SJ01"):
        assert subjects(warnings, rule) == {poor}, rule
        assert fired(warnings, rule)["level"][0] == "绿"


def test_ga02_vehicle_types_and_sj01_capital_threshold(world, rule_config):
    poor = world.household("监测户")
    members = [world.member(poor, f"成员{i}", relation="之子") for i in range(6)]
    for key in members:
        world.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    world.record("vehicles", members[0], vehicle_type="轻型货车")
    world.record("vehicles", members[1], vehicle_type="三轮汽车")
    world.record("vehicles", members[2], vehicle_type="摩托车")
    world.record("market", members[3], role="法定代表人", capital=49.99)
    world.record("market", members[4], role="经营者", capital=500.0)
    world.record("market", members[5], role="法定代表人", capital=50.0)
    warnings = world.evaluate(rule_config)
    assert subjects(warnings, "GA02", "member_key") == {members[0]}
    assert subjects(warnings, "SJ01", "member_key") == {members[5]}


def test_a_car_company_or_card_that_has_ended_raises_nothing(world, rule_config):
    """The 交警 system exports 机动车状态, 市场监管 登记状态, 残联 证件状态 beside the contract's
    columns: a car 注销 or 报废 years ago, a company 吊销, a card 注销 (its holder died) is no
    longer the member's, and would send a worker to ask about it. A status that has not ended
    (正常, 逾期未检验, 达到报废标准, 吊销 not: 存续, 在业), a blank one, or none: the record counts."""
    poor = world.household("监测户")
    statuses = {
        "vehicles": ("注销", "已报废", "强制注销", "E", "EG", "报废注销",
                     "正常", "逾期未检验", "达到报废标准", "A", None),
        "market": ("注销", "吊销", "吊销未注销", "撤销", "存续", "在业", "开业", "未注销", None),
        "disability": ("注销", "持证", "正常", None),
    }  # fmt: skip
    counted = {}
    for source, written in statuses.items():
        for n, status in enumerate(written):
            member = world.member(poor, f"{source}{n}", relation="之子")
            world.record("medical_enrollment", member, enroll_year=2026, enroll_status="正常参保")
            values = {
                "vehicles": {"vehicle_type": "小型轿车"},
                "market": {"role": "股东", "capital": 80.0},
                "disability": {"disability_level": "一级", "care_subsidy": False},
            }[source]
            world.record(source, member, status=status, **values)
            if status not in ("注销", "已报废", "强制注销", "E", "EG", "报废注销", "吊销",
                              "吊销未注销", "撤销"):  # fmt: skip
                counted.setdefault(source, set()).add(member)
    warnings = world.evaluate(rule_config)
    assert subjects(warnings, "GA02", "member_key") == counted["vehicles"]
    assert subjects(warnings, "SJ01", "member_key") == counted["market"]
    assert subjects(warnings, "CL02", "member_key") == counted["disability"]
    assert len(counted["vehicles"]) == 5 and len(counted["market"]) == 5


def test_housing_disability_emergency_hrss_petition_water(world, rule_config):
    general = world.household("一般农户")
    head = world.member(general, "甲", birth=date(1970, 3, 1))
    young = world.member(general, "乙", birth=date(2010, 11, 1), relation="之子")
    old = world.member(general, "丙", birth=date(1965, 9, 1), relation="之父")
    poor = world.household("脱贫户")
    p = world.member(poor)
    world.record("medical_enrollment", p, enroll_year=2026, enroll_status="正常参保")
    world.record("housing", head, grade="D", appraisal_date=date(2026, 10, 1))
    world.record("housing", p, grade="B")
    world.record("disability", head, issue_date=date(2026, 10, 31), disability_level="三级")
    world.record("disability", young, issue_date=date(2026, 9, 30), disability_level="一级",
                 care_subsidy=False)  # fmt: skip
    world.record(
        "disability", p, issue_date=date(2020, 1, 1), disability_level="二级", care_subsidy=False
    )
    world.record("emergency", head, loss=4_999.0, house_collapsed=False)
    world.record("emergency", p, loss=100.0, house_collapsed=True)
    world.record("hrss", young, register_type="失业登记", register_date=date(2026, 10, 31))  # 15
    world.record(
        "hrss", old, register_type="失业登记", register_date=date(2026, 8, 31)
    )  # 60, 61 by Sep
    world.record("hrss", head, register_type="就业登记", register_date=date(2026, 10, 1))
    world.record("hrss", p, register_type="失业登记", register_date=date(2026, 10, 1))
    world.record("petition", head, register_date=date(2026, 10, 15))
    world.record("petition", p, register_date=date(2026, 9, 15))
    world.record("water", head, resolved=False, problem_type="水量不足")
    world.record("water", p, resolved=True)

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "ZJ01") == {general}
    assert fired(warnings, "ZJ01")["level"][0] == "红"
    assert subjects(warnings, "CL01", "member_key") == {head}
    assert subjects(warnings, "CL02", "member_key") == {p}  # 重点 only
    assert subjects(warnings, "YJ01") == {poor}
    assert fired(warnings, "YJ01")["level"][0] == "红"
    assert subjects(warnings, "RS01", "member_key") == {old, p}
    assert subjects(warnings, "XF01") == {general}
    # the month to visit in named (indep40: a warning carried unanswered into November's list
    # had said 本月须走访 there)
    assert (
        fired(warnings, "XF01")["evidence"][0] == "2026年10月15日有信访登记，须于2026年10月内走访"
    )
    assert subjects(warnings, "SL01") == {general}


def test_household_rule_names_the_member_in_the_record(world, rule_config):
    household = world.household("一般农户")
    world.member(household, "户主甲")
    spouse = world.member(household, "配偶乙", relation="配偶")
    world.record("emergency", spouse, loss=8_000.0, disaster_type="洪涝")
    warnings = fired(world.evaluate(rule_config), "YJ01")
    assert warnings["member_key"].to_list() == [spouse]
    assert warnings["evidence"][0] == "本月受灾（洪涝），直接经济损失 8,000.00 元"


def test_warning_ids_are_stable_and_escalation_makes_a_new_id(world, rule_config):
    household = world.household("一般农户")
    member = world.member(household)
    world.record("housing", member, grade="C")
    first = fired(world.evaluate(rule_config), "ZJ01")["warning_id"][0]
    again = fired(world.evaluate(rule_config), "ZJ01")["warning_id"][0]
    assert first == again == warning_id("ZJ01", household, "!1C")
    world.records["housing"][0]["grade"] = "D"
    escalated = fired(world.evaluate(rule_config), "ZJ01")["warning_id"][0]
    assert escalated != first


def test_unmatched_records_never_fire(world, rule_config):
    household = world.household("一般农户")
    world.member(household)
    world.record("housing", None, grade="D")
    world.record("public_security", None, change_type="死亡")
    assert world.evaluate(rule_config).is_empty()


def test_a_household_whose_type_the_roster_does_not_say_is_undecided_for_rules_that_need_it(
    world, rule_config
):
    """户类型 blank or unreadable in the roster (the household kept, contract §2): a 重点 rule and
    MZ01 (一般农户 only) cannot tell whether they apply, so its rows are 不可判断 for the district,
    never a warning nor nothing; a 全部 rule that does not read the type fires as for anyone;
    YB01 takes the 一般农户 threshold and says why, and a sum between the two thresholds is
    不可判断."""
    untyped = world.household(None)
    u = world.member(untyped)
    world.record("civil_affairs", u, assistance_type="低保", change_type="新增")  # MZ01
    world.record("civil_affairs", u, assistance_type="低保", change_type="退出")  # MZ03 重点
    world.record("vehicles", u, vehicle_type="小型轿车")  # GA02 重点
    world.record("public_security", u, change_type="死亡", change_date=date(2026, 10, 2))  # GA01
    world.record("medical_claims", u, self_paid=21_000.0)  # YB01 at the general threshold
    typed = world.household("一般农户")
    t = world.member(typed)
    world.record("vehicles", t, vehicle_type="小型轿车")  # 一般农户: GA02 does not apply
    between = world.household(None)  # 8,000 元: over a 脱贫户's threshold, under a 一般农户's
    world.record("medical_claims", world.member(between), self_paid=8_000.0)
    low = world.household(None)  # under both: nothing to say
    world.record("medical_claims", world.member(low), self_paid=3_000.0)

    result = world.run(rule_config)

    assert {w["rule"] for w in result.warnings.iter_rows(named=True)} == {"GA01", "YB01"}
    assert fired(result.warnings, "YB01")["evidence"][0] == (
        "2026年1—10月家庭个人自付医疗费用合计 21,000.00 元，"
        "达到一般农户阈值 20,000 元（花名册中该户的户类型无法识别）"
    )
    undecided = result.undecided.filter(pl.col("kind") == "不可判断")
    # YB02 (重点, an absence rule): each untyped household's member missing from the list
    absent = undecided.filter(pl.col("rule") == "YB02")
    assert sorted(absent["household_id"].to_list()) == sorted([untyped, between, low])
    undecided = undecided.filter(pl.col("rule") != "YB02")
    assert sorted(undecided["rule"].to_list()) == ["GA02", "MZ01", "MZ03", "YB01"]
    assert set(undecided["household_id"].to_list()) == {untyped, between}
    assert undecided.filter(pl.col("rule") == "YB01")["household_id"].to_list() == [between]
    assert undecided["reason"].str.contains("户类型").all()


def test_a_blank_field_a_rule_decides_on_is_unknown_not_no(world, rule_config):
    """直接经济损失 blank (contract §2: a blank amount is unknown, not 0) beside 房屋倒塌 否, a blank
    房屋倒塌 beside a loss under 5,000, a 法定代表人's blank 注册资本, a blank 发证日期: none can be
    decided, so each is 不可判断 for the district, naming the blank column; before, each was
    taken for "no" without a word. A blank that does not matter decides as usual: a collapsed
    house with a blank loss fires, a 监事 with a blank 注册资本 (no role the rule names) does not."""
    poor = world.household("脱贫户")
    collapsed_blank_loss, unknown_loss, unknown_collapse, capital, role, issued = (
        world.member(poor, name) for name in "甲乙丙丁戊己"
    )
    world.record("emergency", collapsed_blank_loss, loss=None, house_collapsed=True)
    world.record("emergency", unknown_loss, loss=None, house_collapsed=False)
    world.record("emergency", unknown_collapse, loss=4_999.99, house_collapsed=None)
    world.record("market", capital, role="法定代表人", capital=None, entity_name="某公司")
    world.record("market", role, role="监事", capital=None, entity_name="某公司")
    world.record("disability", issued, issue_date=None, disability_level="三级")

    result = world.run(rule_config)

    assert subjects(result.warnings, "YJ01", "member_key") == {collapsed_blank_loss}
    assert fired(result.warnings, "SJ01").is_empty() and fired(result.warnings, "CL01").is_empty()
    undecided = result.undecided.filter(pl.col("kind") == "不可判断")
    reasons = {(r["rule"], r["member_key"]): r["reason"] for r in undecided.iter_rows(named=True)}
    assert set(reasons) == {
        ("YJ01", unknown_loss), ("YJ01", unknown_collapse), ("SJ01", capital), ("CL01", issued)
    }  # fmt: skip
    assert reasons[("YJ01", unknown_loss)].startswith("「直接经济损失（元）」为空")
    assert reasons[("YJ01", unknown_collapse)].startswith("「房屋倒塌」为空")
    assert reasons[("SJ01", capital)].startswith("「注册资本（万元）」为空")
    assert reasons[("CL01", issued)].startswith("「发证日期」为空")


def test_yb01_sums_the_year_in_the_household_the_roster_has_the_member_in_now(world, rule_config):
    """Earlier months were tied against their own month's roster. A household whose 户编号 was
    re-keyed since, or a member who moved to another household, had their earlier claims summed
    under a household id M's roster no longer has: the year started again from zero (a 5,120 元
    脱贫户 not warned; a 11,000 元 one 黄 for December's 6,549 alone, on an independent loop)."""
    rekeyed = world.household("脱贫户")
    r = world.member(rekeyed, "钱一")
    id_r = r.split("|")[1]
    world.record("medical_claims", f"OLD-1|{id_r}", month="2026-04", self_paid=3_000.0)
    world.record("medical_claims", r, self_paid=2_500.0)  # 5,500 over the year
    crossed = world.household("脱贫户")  # crossed in September under its old number
    c = world.member(crossed, "孙二")
    world.record("medical_claims", f"OLD-2|{c.split('|')[1]}", month="2026-09", self_paid=6_000.0)
    world.record("medical_claims", c, self_paid=100.0)
    left = world.household("一般农户")  # the household a member split from, still there
    stays = world.member(left, "李三")
    split = world.household("脱贫户")
    s = world.member(split, "李四", relation="户主", birth=date(1990, 2, 2))
    world.record("medical_claims", f"{left}|{s.split('|')[1]}", month="2026-05", self_paid=4_000.0)
    world.record("medical_claims", s, self_paid=1_500.0)  # 5,500 in the household she heads now
    world.record("medical_claims", stays, self_paid=16_500.0)  # 16,500, not 20,500: no warning

    warnings = world.evaluate(rule_config)

    assert subjects(warnings, "YB01") == {rekeyed, split}
    evidence = dict(fired(warnings, "YB01").select("household_id", "evidence").iter_rows())
    assert "合计 5,500.00 元" in evidence[rekeyed] and "合计 5,500.00 元" in evidence[split]


def test_ga01_for_a_member_the_village_took_off_the_roster_before_the_death_row_came(
    world, rule_config
):
    """An independent loop: three December deaths had been taken off December's roster already,
    so 公安's rows tied nobody and no GA01 was raised (one of them a 40-year-old's: 红). The
    member is found in the latest earlier roster by ID and name, in a household M's roster still
    has; a row whose name disagrees stays unmatched."""
    from pipelines.rules.spec import DEPARTED_METHOD

    household = world.household("一般农户")
    world.member(household, "周一", birth=date(1955, 1, 1))
    son, died = world.departed(household, "周二", birth=date(1986, 4, 2), died=date(2026, 10, 9))
    world.departed(household, "吴四", birth=date(1950, 6, 6), relation="之母", written="吴三")

    ga01 = fired(world.evaluate(rule_config), "GA01")

    assert ga01.select("member_key", "household_id", "level", "method").rows() == [
        (son, household, "红", DEPARTED_METHOD)
    ]
    assert ga01["record_keys"][0].to_list() == [died]
    assert ga01["evidence"][0] == "2026年10月9日户籍注销（死亡），时年40岁"


def test_mz02_is_red_by_the_settings_red_rules_which_a_district_can_empty(world, rule_config):
    """The contract's level mapping is configuration. MZ02's 红 had been built into the rule, so
    red_rules = [] changed nothing (9 warnings 红 on an independent probe)."""
    household = world.household("一般农户")
    member = world.member(household)
    world.record("civil_affairs", member, assistance_type="临时救助", change_date=date(2026, 10, 3))
    assert fired(world.evaluate(rule_config), "MZ02")["level"].to_list() == ["红"]
    emptied = copy.deepcopy(rule_config)
    emptied["levels"]["red_rules"] = []
    assert fired(world.evaluate(emptied), "MZ02")["level"].to_list() == ["黄"]


def test_a_red_multiple_written_with_decimals_is_red_exactly_at_its_line(world, rule_config):
    """1.1 × 3,000 is 3,300.00: a year's sum of exactly that is 红 (in binary floats the line
    was 3,300.0000000000005, and the household came out 黄); a cent below it is 黄."""
    settings = copy.deepcopy(rule_config)
    settings["rules"]["YB01"] |= {"threshold_monitored": 3_000, "red_multiple": 1.1}
    at_line, below = world.household("监测户"), world.household("监测户")
    for household, october in ((at_line, 2_300.0), (below, 2_299.99)):
        member = world.member(household)
        world.record("medical_claims", member, self_paid=1_000.0)
        world.record("medical_claims", member, self_paid=october)
    warnings = fired(world.evaluate(settings), "YB01")
    level = dict(zip(warnings["household_id"], warnings["level"], strict=True))
    assert level == {at_line: "红", below: "黄"}


def test_a_yb01_warning_keeps_its_id_whatever_level_the_settings_give_it(world, rule_config):
    """An independent probe (indep33) reran a month with red_multiple 2 → 1.5 and saw the same
    household's YB01 listed under a new 预警编号: the level was part of its evidence key. The
    warning is the household's crossing of the threshold in the year; its level is the
    settings'. A threshold written with cents is said with them (20000.01 had read 20,000)."""
    household = world.household("一般农户")
    member = world.member(household)
    world.record("medical_claims", member, self_paid=20_000.01)
    world.record("medical_claims", member, self_paid=12_000.0)
    settings = copy.deepcopy(rule_config)
    settings["rules"]["YB01"]["threshold_general"] = 20_000.01
    yellow = fired(world.evaluate(settings), "YB01")
    settings["rules"]["YB01"]["red_multiple"] = 1.5
    red = fired(world.evaluate(settings), "YB01")
    assert (yellow["level"].to_list(), red["level"].to_list()) == (["黄"], ["红"])
    assert yellow["warning_id"].to_list() == red["warning_id"].to_list()
    assert "达到一般农户阈值 20,000.01 元" in red["evidence"][0]


def test_loss_and_capital_thresholds_written_with_decimals_hold_at_the_line(world, rule_config):
    settings = copy.deepcopy(rule_config)
    settings["rules"]["YJ01"]["loss_threshold"] = 4_999.99
    settings["rules"]["SJ01"]["capital_threshold"] = 50.1
    poor = world.household("监测户")
    at_loss, below_loss = world.household("一般农户"), world.household("一般农户")
    world.record("emergency", world.member(at_loss), loss=4_999.99)
    world.record("emergency", world.member(below_loss), loss=4_999.98)
    owners = [world.member(poor, f"成员{i}", relation="之子") for i in range(2)]
    for key in owners:
        world.record("medical_enrollment", key, enroll_year=2026, enroll_status="正常参保")
    world.record("market", owners[0], role="股东", capital=50.1)
    world.record("market", owners[1], role="股东", capital=50.09)
    warnings = world.evaluate(settings)
    assert subjects(warnings, "YJ01") == {at_loss}
    assert subjects(warnings, "SJ01", "member_key") == {owners[0]}
