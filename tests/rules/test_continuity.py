"""A warning keeps its id when next month's extract leaves a secondary field blank or fills it."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.rules.continuity import keys_agree, merged_key
from pipelines.rules.evaluate import evaluate_rules, warning_id
from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import memory_warehouse, replace_partition
from tests.conftest import DISTRICT, MONTH


@pytest.mark.parametrize(
    ("this", "earlier", "agree"),
    [
        ("2026-09-03|未倒塌", "2026-09-03|未倒塌", True),
        ("|未倒塌", "2026-09-03|未倒塌", True),  # the date left blank this month
        ("2026-09-03|未倒塌", "|未倒塌", True),  # filled in this month
        ("2026-10-20|未倒塌", "2026-09-03|未倒塌", False),  # another disaster
        ("2026-09-03|倒塌", "2026-09-03|未倒塌", False),  # escalated: the house collapsed
        ("2026-09-03|!0未倒塌", "2026-09-03|!1倒塌", True),  # reported weaker: not news
        ("2026-09-03|!1倒塌", "2026-09-03|!0未倒塌", False),  # stronger: a new warning
        ("!1C", "!2D", True),  # re-appraised D -> C after a verified D: not listed again
        ("!2D", "!1C", False),  # C -> D is stronger evidence: a new warning
        ("2026", "2027", False),  # a part that differs: another warning
        ("", "初中", True),
        ("a|b", "a", False),
        # indep40: the same event re-sent with its day corrected (within a week) is no news
        ("2026-08-16", "2026-08-15", True),
        ("2026-10-01|!0未倒塌", "2026-09-30|!0未倒塌", True),
        ("2026-09-10", "2026-09-03", True),
        ("2026-09-11", "2026-09-03", False),  # eight days: another event
        ("2026-09", "2026-08", False),  # months (a thing registered) are not days
    ],
)
def test_keys_agree_on_every_part_both_know(this, earlier, agree):
    assert keys_agree(this, earlier) is agree


def test_merged_key_fills_what_this_month_left_blank():
    assert merged_key("|未倒塌", "2026-09-03|未倒塌") == "2026-09-03|未倒塌"
    assert merged_key("!1C", "!2D") == "!2D"  # stays as strong as first listed


def _evaluate_after(world, rule_config, earlier: list[dict]) -> pl.DataFrame:
    con = memory_warehouse()
    world.build(con)
    frame = pl.DataFrame(earlier).with_columns(pl.lit(None, dtype=pl.String).alias("member_key"))
    replace_partition(con, "warnings", frame, district=DISTRICT, month="2026-09")
    return evaluate_rules(
        con, district=DISTRICT, month=MONTH, config=rule_config, received=set(DEPARTMENT_KEYS)
    ).warnings


def _disaster(world, disaster_date):
    household = world.household()
    head = world.member(household, "赵四")
    world.record("emergency", head, disaster_date=disaster_date, loss=8000, house_collapsed=False)
    return household


def test_a_verified_warning_keeps_its_id_when_the_date_is_left_blank(world, rule_config):
    household = _disaster(world, None)
    september = warning_id("YJ01", household, "2026-09-03|!0未倒塌")
    warnings = _evaluate_after(
        world,
        rule_config,
        [{"warning_id": september, "rule": "YJ01", "household_id": household,
          "evidence_key": "2026-09-03|!0未倒塌"}],
    )  # fmt: skip
    row = warnings.filter(pl.col("rule") == "YJ01").row(0, named=True)
    assert row["warning_id"] == september
    assert row["evidence_key"] == "2026-09-03|!0未倒塌"


def test_another_disaster_is_a_new_warning(world, rule_config):
    household = _disaster(world, date(2026, 10, 20))
    september = warning_id("YJ01", household, "2026-09-03|!0未倒塌")
    warnings = _evaluate_after(
        world,
        rule_config,
        [{"warning_id": september, "rule": "YJ01", "household_id": household,
          "evidence_key": "2026-09-03|!0未倒塌"}],
    )  # fmt: skip
    assert warnings.filter(pl.col("rule") == "YJ01")["warning_id"].to_list() != [september]


def test_an_event_re_sent_with_its_day_corrected_keeps_its_warning(world, rule_config):
    """indep40: an unemployment registration of 08-15, re-sent next month as 08-16, had become a
    second RS01 beside the carried one (two visits for one registration), or a new one after the
    first was verified. Its day within a week of the earlier warning's, it is that warning."""
    household = world.household()
    member = world.member(household, "周七", birth_date=date(1990, 5, 12))
    world.record("hrss", member, register_type="失业登记", register_date=date(2026, 10, 16))
    earlier_key = "2026-10-15"
    earlier = warning_id("RS01", member, earlier_key)
    september = [{"warning_id": earlier, "rule": "RS01", "household_id": household,
                  "evidence_key": earlier_key}]  # fmt: skip
    row = _evaluate_after_person(world, rule_config, september, member, "RS01")
    assert row["warning_id"] == earlier
    assert row["evidence_key"] == "2026-10-16"  # the corrected day speaks
    # eight days from it: another registration, another warning
    world.records["hrss"][0]["register_date"] = date(2026, 10, 23)
    assert (
        _evaluate_after_person(world, rule_config, september, member, "RS01")["warning_id"]
        != earlier
    )


def test_a_blank_credit_code_keeps_the_market_warning(world, rule_config):
    household = world.household("脱贫户")
    owner = world.member(household, "钱五")
    record = {"role": "法定代表人", "capital": 80, "entity_name": "某某商贸有限公司"}
    world.record("market", owner, credit_code="91341502MA2N000001", **record)
    first = world.evaluate(rule_config).filter(pl.col("rule") == "SJ01")["warning_id"][0]
    world.records["market"][0]["credit_code"] = None
    world.records["market"][0]["entity_name"] = "某某商贸"  # respelt
    second = world.evaluate(rule_config).filter(pl.col("rule") == "SJ01")["warning_id"][0]
    assert first == second


def _holder(world, household_type="脱贫户"):
    household = world.household(household_type)
    return world.member(household, "孙六")


@pytest.mark.parametrize(
    ("rule", "source", "column", "values"),
    [
        ("GA02", "vehicles", "register_date", {"vehicle_type": "小型轿车"}),
        ("ZJ02", "property", "register_date", {"floor_area": 96.5}),
        ("SJ01", "market", "established_date", {"role": "股东", "capital": 120}),
    ],
)
def test_a_thing_acquired_since_a_verified_warning_is_a_new_warning(
    world, rule_config, rule, source, column, values
):
    """A second car, property or company is news; the one verified is not listed again."""
    member = _holder(world)
    world.record(source, member, **{column: date(2023, 4, 18)}, **values)
    first = world.evaluate(rule_config).filter(pl.col("rule") == rule).row(0, named=True)
    assert first["evidence_key"] == "2023-04"
    # the same thing, next month written with its month only: the same warning
    world.records[source][0][column] = date(2023, 4, 1)
    world.records[source][0][f"{column}_month_only"] = True
    earlier = [{"warning_id": first["warning_id"], "rule": rule,
                "household_id": member.split("|")[0], "evidence_key": "2023-04"}]  # fmt: skip
    again = _evaluate_after_person(world, rule_config, earlier, member, rule)
    assert again["warning_id"] == first["warning_id"]
    # a second one registered since (smaller: the newest speaks, not the largest)
    smaller = {**values, "capital": 60} if rule == "SJ01" else values
    world.record(source, member, **{column: date(2026, 9, 30)}, **smaller)
    second = _evaluate_after_person(world, rule_config, earlier, member, rule)
    assert second["warning_id"] != first["warning_id"]
    assert second["evidence_key"] == "2026-09"
    assert "2026年9月30日" in second["evidence"]
    # a warning written before the rule was keyed ('' agrees with any month) keeps its id
    legacy = [{**earlier[0], "evidence_key": ""}]
    carried = _evaluate_after_person(world, rule_config, legacy, member, rule)
    assert carried["warning_id"] == first["warning_id"]
    assert carried["evidence_key"] == "2026-09"


def _evaluate_after_person(world, rule_config, earlier, member, rule) -> dict:
    con = memory_warehouse()
    world.build(con)
    frame = pl.DataFrame(earlier).with_columns(pl.lit(member).alias("member_key"))
    replace_partition(con, "warnings", frame, district=DISTRICT, month="2026-09")
    warnings = evaluate_rules(
        con, district=DISTRICT, month=MONTH, config=rule_config, received=set(DEPARTMENT_KEYS)
    ).warnings
    return warnings.filter(pl.col("rule") == rule).row(0, named=True)
