"""Configuration: the contract's defaults, district overrides without code, the district key."""

from __future__ import annotations

import pytest

from pipelines.config import DataDir, district_key
from pipelines.rules.settings import load_rule_config


def test_defaults_are_the_contracts():
    config = load_rule_config()
    assert config["rules"]["YB01"]["threshold_monitored"] == 5000
    assert config["rules"]["YB01"]["threshold_general"] == 20000
    assert config["rules"]["YJ01"]["loss_threshold"] == 5000
    assert config["rules"]["SJ01"]["capital_threshold"] == 50
    assert config["export"]["deadline_days"] == 15 and config["export"]["mask_ids"] is True


def test_district_file_and_explicit_file_override_only_what_they_name(tmp_path):
    layout = DataDir(tmp_path)
    (tmp_path / "rules.toml").write_text(
        "[rules.YB01]\nthreshold_general = 15000\n", encoding="utf-8"
    )
    explicit = tmp_path / "proposal.toml"
    explicit.write_text("[export]\ndeadline_days = 7\n", encoding="utf-8")
    config = load_rule_config(layout, explicit)
    assert config["rules"]["YB01"]["threshold_general"] == 15000
    assert config["rules"]["YB01"]["threshold_monitored"] == 5000
    assert config["export"]["deadline_days"] == 7 and config["export"]["mask_ids"] is True
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_rule_config(layout, tmp_path / "missing.toml")


def test_district_key_order(tmp_path, monkeypatch):
    monkeypatch.delenv("FANGFAN_DISTRICT", raising=False)
    root = tmp_path / "jinan"
    root.mkdir()
    layout = DataDir(root)
    assert district_key(layout) == "jinan"
    (root / "rules.toml").write_text('[district]\nname = "金安区"\n', encoding="utf-8")
    assert district_key(layout) == "金安区"
    monkeypatch.setenv("FANGFAN_DISTRICT", "341502")
    assert district_key(layout) == "341502"
    assert district_key(layout, "explicit") == "explicit"


@pytest.mark.parametrize(
    ("written", "named"),
    [
        ('[rules.YB01]\nthreshold_monitored = "五千"\n', r"\[rules\.YB01\] threshold_monitored"),
        (
            "[rules.YJ01]\nloss_threshold =\n",
            "not a valid settings file.*第 2 行「loss_threshold =」",
        ),
        ('[rules.GA02]\nvehicle_types = "小型轿车"\n', r"\[rules\.GA02\] vehicle_types"),
        ('[levels]\nforce = { SL01 = "紫" }\n', r"\[levels\] force\.SL01"),
        ('[levels]\nforce = { SL1 = "红" }\n', r"\[levels\] force\.SL1"),
        ('[levels]\nred_rules = ["MZ2"]\n', r"\[levels\] red_rules"),
        ("[ages]\nlabour_min = 59\nlabour_max = 18\n", "labour_min 59 is above labour_max 18"),
        ('[ages]\nlabour_max = "60"\n', r"\[ages\] labour_max"),
        ('[export]\nmask_ids = "否"\n', r"\[export\] mask_ids"),
        ("[export]\ndeadline_days = 0\n", r"\[export\] deadline_days"),
        ("[ties]\nprecision_min_confidence = 99.5\n", r"\[ties\] precision_min_confidence"),
        ("[rules.JY02]\nwindow_months = 0\n", r"\[rules\.JY02\] window_months must be a whole"),
        ("[rules.JY02]\nwindow_months = 6.5\n", r"\[rules\.JY02\] window_months must be a whole"),
        # a section or key no setting has would change nothing, silently (indep33)
        ("[Export]\nmask_ids = false\n", r"\[Export\] 不是设置文件的一节.*是不是要写 \[export\]"),
        (
            "[daochu]\nmask_ids = false\n",
            r"\[daochu\] mask_ids = false：\[daochu\] 不是设置文件的一节",
        ),
        (
            "[rule.YB01]\nthreshold_monitored = 3000\n",
            r"threshold_monitored = 3000.*\[rules\.YB01\]",
        ),
        (
            "[export]\nmask_id = false\n",
            r"mask_id = false：mask_id 不是 \[export\] 的设置项.*mask_ids",
        ),
        ("[ages]\nlabor_min = 18\n", r"labor_min 不是 \[ages\] 的设置项.*labour_min"),
        ("[ties]\nprecision = 0.9\n", r"precision 不是 \[ties\].*precision_min_confidence"),
        ('[district]\nnmae = "金安区"\n', r"nmae 不是 \[district\] 的设置项.*name"),
        (
            "deadline_days = 30\n[export]\nxlsx = true\n",
            r"deadline_days = 30：不是任何一节的设置项.*\[export\]",
        ),
    ],
)
def test_a_setting_that_cannot_be_meant_is_refused_naming_file_and_key(tmp_path, written, named):
    """An independent probe's settings files: 五千 for a number, a level 紫 exported as written,
    working ages 59–18 taken (every RS01 lost), 是/否 for true/false silently ignored. Each is
    refused, naming the file and the key."""
    (tmp_path / "rules.toml").write_text(written, encoding="utf-8")
    with pytest.raises(ValueError, match=named) as error:
        load_rule_config(DataDir(tmp_path))
    assert "rules.toml" in str(error.value)


def test_the_settings_in_effect_name_each_value_changed_and_its_file(tmp_path, monkeypatch):
    """indep18: neither the run output nor the district summary said which thresholds a month's
    lists were made under. Each value a settings file changes is named with its default and the
    file; a value written as its default is no change; the district's name is not a setting."""
    from pipelines.rules.settings import settings_in_effect, settings_lines

    monkeypatch.delenv("FANGFAN_RULES", raising=False)
    root = tmp_path / "district"
    root.mkdir()
    data = DataDir(root)
    assert settings_lines(settings_in_effect(data)) == [
        "规则设置：全部为默认值（没有 rules.toml，也没有 --rules 文件）"
    ]
    (root / "rules.toml").write_text('[district]\nname = "金安区"\n', encoding="utf-8")
    assert settings_lines(settings_in_effect(data)) == [
        "规则设置：全部为默认值（rules.toml 没有改动默认值的项）"
    ]
    (root / "rules.toml").write_text(
        '[district]\nname = "金安区"\n[rules.YB01]\nthreshold_monitored = 8000\n'
        "threshold_general = 20000\n[levels]\nred_rules = []\n",
        encoding="utf-8",
    )
    explicit = tmp_path / "proposal.toml"
    explicit.write_text("[rules.YB01]\nred_multiple = 1.5\n", encoding="utf-8")
    rows = settings_in_effect(data, explicit)
    assert [(r["设置项"], r["本月取值"], r["默认值"]) for r in rows] == [
        ("levels.red_rules", "（空）", "MZ02"),
        ("rules.YB01.red_multiple", "1.5", "2"),
        ("rules.YB01.threshold_monitored", "8000", "5000"),
    ]
    # a file of the data directory as the district names it; one elsewhere by its path
    assert rows[1]["设置文件"] == str(explicit) and rows[2]["设置文件"] == "rules.toml"
    assert settings_lines(rows)[0] == f"规则设置：rules.toml、{explicit} 改动了 3 项"


def test_a_value_set_back_to_its_default_by_a_later_file_is_no_change(tmp_path, monkeypatch):
    from pipelines.rules.settings import settings_in_effect

    monkeypatch.delenv("FANGFAN_RULES", raising=False)
    (tmp_path / "rules.toml").write_text(
        "[rules.YB01]\nthreshold_monitored = 8000\nred_multiple = 1.5\n", encoding="utf-8"
    )
    explicit = tmp_path / "back.toml"
    explicit.write_text("[rules.YB01]\nthreshold_monitored = 5000\n", encoding="utf-8")
    rows = settings_in_effect(DataDir(tmp_path), explicit)
    assert [(r["设置项"], r["本月取值"]) for r in rows] == [("rules.YB01.red_multiple", "1.5")]


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "gbk", "utf-16"], ids=["notepad_utf8_bom", "gbk", "notepad_unicode"]
)
def test_a_settings_file_as_notepad_saves_it_is_read(tmp_path, monkeypatch, encoding):
    """Windows Notepad writes UTF-8 with a BOM, "ANSI" (GBK on a Chinese Windows) or "Unicode"
    (UTF-16), with CRLF: an independent probe (indep33) saw the BOM refused as a TOML error at
    line 1 and the GBK file as a UTF-8 error; each is the district's settings, read."""
    text = (
        '# 核实期限改为30天\r\n[export]\r\ndeadline_days = 30\r\n[district]\r\nname = "金安区"\r\n'
    )
    (tmp_path / "rules.toml").write_bytes(text.encode(encoding))
    assert load_rule_config(DataDir(tmp_path))["export"]["deadline_days"] == 30
    monkeypatch.delenv("FANGFAN_DISTRICT", raising=False)
    assert district_key(DataDir(tmp_path)) == "金安区"


def test_rules_toml_saved_as_rules_toml_txt_is_named_not_ignored(tmp_path):
    """Notepad saves rules.toml as rules.toml.txt unless told otherwise: the district's settings
    would be ignored and the lists made on the defaults (indep33). The run stops, saying so."""
    (tmp_path / "rules.toml.txt").write_text("[export]\ndeadline_days = 30\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\.toml\.txt.*改名为 rules\.toml"):
        load_rule_config(DataDir(tmp_path))
