"""One rule, one spec: its settings in defaults.toml, its $parameters in its SQL, nothing orphaned."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import pipelines.rules
from pipelines.config import DataDir
from pipelines.rules.catalogue import MONITORED_TYPES, RULES, RULES_BY_CODE
from pipelines.rules.completeness import NOT_EVALUABLE, ROW_FLAGS
from pipelines.rules.evaluate import shared_parameters
from pipelines.rules.settings import DEFAULTS_FILE, load_rule_config
from pipelines.rules.spec import (
    AbsenceRule,
    Direction,
    Level,
    RecordRule,
    Scope,
    YearToDateRule,
    parameter_names,
)
from pipelines.sources import SOURCES

DEFAULTS = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
SHARED = set(shared_parameters(DEFAULTS, "test", "2026-10"))


def test_the_contracts_twenty_rules_each_one_spec():
    assert len(RULES) == 20 == len(RULES_BY_CODE)
    for rule in RULES:
        assert re.fullmatch(r"[A-Z]{2}\d{2}", rule.code)
        assert rule.source in SOURCES and rule.name and rule.risk_type
        assert isinstance(rule.level, Level) and isinstance(rule.scope, Scope)
        assert isinstance(rule.direction, Direction) and callable(rule.evidence)
    kinds = {rule.code: type(rule) for rule in RULES}
    assert kinds.pop("YB01") is YearToDateRule and kinds.pop("YB02") is AbsenceRule
    assert set(kinds.values()) == {RecordRule}
    assert [r.code for r in RULES if r.absence] == ["YB02"]


def test_every_rule_setting_in_defaults_is_a_parameter_of_its_spec_and_back():
    settings = DEFAULTS["rules"]
    assert set(settings) <= set(RULES_BY_CODE), "a [rules.X] table for no rule"
    for rule in RULES:
        table = settings.get(rule.code, {})
        assert set(table) == set(rule.params), f"[rules.{rule.code}] vs the spec's params"
        # each value converts to the type the spec binds
        assert rule.parameters(DEFAULTS).keys() == rule.params.keys()


def test_every_parameter_a_spec_declares_is_read_by_its_sql_and_no_other_is_needed():
    for rule in RULES:
        used = parameter_names(rule.sql())
        assert set(rule.params) <= used, f"{rule.code} declares a parameter its SQL never reads"
        assert used <= SHARED | set(rule.params), f"{rule.code} reads an undeclared $parameter"
        assert not set(rule.params) & SHARED, f"{rule.code} shadows a shared parameter"


def test_a_missing_setting_names_the_rule_and_the_key():
    config = copy.deepcopy(DEFAULTS)
    del config["rules"]["SJ01"]["capital_threshold"]
    with pytest.raises(KeyError, match=r"\[rules\.SJ01\] lacks capital_threshold"):
        RULES_BY_CODE["SJ01"].parameters(config)


def test_a_district_file_naming_an_unknown_rule_setting_is_refused(tmp_path):
    (tmp_path / "rules.toml").write_text("[rules.YJ01]\nloss_treshold = 3000\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\.toml.*\[rules\.YJ01\] loss_treshold"):
        load_rule_config(DataDir(tmp_path))
    (tmp_path / "rules.toml").write_text("[rules.XX99]\nlimit = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[rules\.XX99\]"):
        load_rule_config(DataDir(tmp_path))


def test_a_coded_value_setting_outside_the_columns_values_is_refused_and_a_subset_kept(tmp_path):
    # 小型越野客车 is no value of the vehicles' 车辆类型 (a cell saying it is a field problem):
    # listed, it would silently never match
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[rules.GA02]\nvehicle_types = ["小型轿车", "小型越野客车"]\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"\[rules\.GA02\] vehicle_types holds 小型越野客车"):
        load_rule_config(DataDir(tmp_path))
    rules.write_text('[rules.CL02]\nlevels = ["1级"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"levels holds 1级.*一级、二级、三级、四级"):
        load_rule_config(DataDir(tmp_path))
    rules.write_text('[rules.GA02]\nvehicle_types = ["小型轿车", "三轮汽车"]\n', encoding="utf-8")
    assert load_rule_config(DataDir(tmp_path))["rules"]["GA02"]["vehicle_types"] == [
        "小型轿车", "三轮汽车",
    ]  # fmt: skip


def test_monitored_household_types_are_written_once_in_the_rules_package():
    package = Path(pipelines.rules.__file__).parent
    spelled = [
        (path.name, line.strip())
        for path in sorted(package.glob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if any(f"'{t}'" in line or f'"{t}"' in line for t in MONITORED_TYPES)
    ]
    assert spelled == [("catalogue.py", 'MONITORED_TYPES = ("脱贫户", "监测户")')]


def test_the_jy02_window_is_its_setting(world, rule_config):
    household = world.household("一般农户")
    enrolled = {
        month: world.member(household, f"学生{month}", birth=date(2006, 1, 1), relation="之子")
        for month in (date(2025, 10, 1), date(2025, 11, 1), date(2026, 10, 1))
    }
    for month, member in enrolled.items():
        world.record("education", member, stage="高校", school_status="在读", enrol_month=month)

    def fired(window: int) -> set[date]:
        config = copy.deepcopy(rule_config)
        config["rules"]["JY02"]["window_months"] = window
        keys = set(world.evaluate(config).filter(pl.col("rule") == "JY02")["member_key"])
        return {month for month, member in enrolled.items() if member in keys}

    assert fired(12) == {date(2025, 11, 1), date(2026, 10, 1)}
    assert fired(13) == set(enrolled)
    assert fired(1) == {date(2026, 10, 1)}


def test_yb01_claims_with_an_unreadable_amount_are_not_evaluable_unless_the_household_fired(
    world, rule_config
):
    quiet = world.household("一般农户")
    unread = world.record("medical_claims", world.member(quiet), self_paid=None)
    world.problem(unread, "self_paid", "约三千")
    fired = world.household("一般农户")
    payer = world.member(fired)
    world.record("medical_claims", payer, self_paid=25_000.0)
    hidden = world.record("medical_claims", payer, self_paid=None)
    world.problem(hidden, "self_paid", "？")

    run = world.run(rule_config)

    assert set(run.warnings.filter(pl.col("rule") == "YB01")["household_id"]) == {fired}
    gaps = run.undecided.filter(pl.col("kind") == NOT_EVALUABLE)
    assert gaps.select("rule", "record_key", "household_id").rows() == [("YB01", unread, quiet)]
    assert "self_paid" in gaps["reason"][0]


# fields a condition reads whose null it takes as "this month" on purpose
_NULL_TOLERATED = {
    ("civil_affairs", "change_date"),  # MZ02: 临时救助 without a date is this month's
    ("hrss", "register_date"),  # RS01: the age on the month's first and last day must agree
    ("medical_enrollment", "enroll_year"),  # YB02: a list without 参保年度 is M's year's
    # GA02, SJ01, CL02: a record without a 状态 column or cell counts, as the contract reads it
    ("vehicles", "status"),
    ("market", "status"),
    ("disability", "status"),
}


def _decided_on(rule) -> set[str]:  # noqa: ANN001 - a RuleSpec
    """The staged fields a rule's condition reads."""
    if isinstance(rule, RecordRule):
        text = rule.where
    elif isinstance(rule, YearToDateRule):
        text = f"s.{rule.amount}"
    else:
        text = rule.present
    # ROW_FLAGS: enrollment_rows' own columns, not the list's (rules/completeness.py);
    # <date>_month_only: how much of that date was written (ingest/table.py month_only)
    read = set(re.findall(r"\b[se]\.(\w+)", text)) - {"record_key", *ROW_FLAGS}
    return {name.removesuffix("_month_only") for name in read}


def test_the_fields_rules_decide_on_are_marked_in_the_registry():
    """Field.decides makes a table without the column unknown for the rule (a field problem per
    row), not "no": every field a condition reads is marked (or required), and every marked
    field is read by a condition of its source."""
    used: dict[str, set[str]] = {}
    for rule in RULES:
        source = SOURCES[rule.source]
        fields = {f.name: f for f in source.fields}
        for name in _decided_on(rule):
            assert name in fields, (rule.code, name)
            used.setdefault(rule.source, set()).add(name)
            if (rule.source, name) in _NULL_TOLERATED:
                continue
            assert fields[name].decides or fields[name].required, (rule.code, name)
    for source in SOURCES.values():
        for f in source.fields:
            if f.decides:
                assert f.name in used.get(source.key, set()), (source.key, f.name)
