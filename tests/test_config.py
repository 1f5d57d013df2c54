"""Configuration: the contract's defaults, district overrides without code, the district key."""

from __future__ import annotations

import pytest

from pipelines.config import DataDir, district_key, load_rule_config


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
