"""Run settings: where the data lives and the rule configuration (defaults + district overrides)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

DATA_DIR_ENV = "FANGFAN_DATA_DIR"
DISTRICT_ENV = "FANGFAN_DISTRICT"
RULES_ENV = "FANGFAN_RULES"
EXPORT_DATE_ENV = "FANGFAN_EXPORT_DATE"
DEFAULTS_FILE = Path(__file__).parent / "rules" / "defaults.toml"


@dataclass(frozen=True)
class DataDir:
    """The contract's folder layout under one data directory."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def database(self) -> Path:
        return self.warehouse / "fangfan.duckdb"

    def exports(self, month: str) -> Path:
        return self.root / "exports" / month

    def source_folder(self, month: str, source: str) -> Path:
        return self.raw / month / source


def month_bounds(month: str) -> tuple[date, date]:
    """First day of M and first day of the next month."""
    year, mon = (int(part) for part in month.split("-"))
    start = date(year, mon, 1)
    end = date(year + mon // 12, mon % 12 + 1, 1)
    return start, end


def previous_month(month: str) -> str:
    """The month before `month` (YYYY-MM)."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def data_dir_from_env(default: str = "data") -> DataDir:
    return DataDir(Path(os.environ.get(DATA_DIR_ENV, default)).resolve())


def district_key(data_dir: DataDir, explicit: str = "") -> str:
    """The district every table is keyed by: an explicit key (FANGFAN_DISTRICT), else
    `[district] name` of <data dir>/rules.toml, else the data directory's name."""
    if explicit or os.environ.get(DISTRICT_ENV):
        return explicit or os.environ[DISTRICT_ENV]
    local = data_dir.root / "rules.toml"
    if local.is_file():
        name = tomllib.loads(local.read_text(encoding="utf-8")).get("district", {}).get("name")
        if name:
            return str(name)
    return data_dir.root.name


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_rule_config(data_dir: DataDir | None = None, rules_file: Path | None = None) -> dict:
    """Defaults, overlaid by <data dir>/rules.toml, overlaid by an explicit file (or FANGFAN_RULES)."""
    config = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    candidates: list[Path] = []
    if data_dir is not None:
        candidates.append(data_dir.root / "rules.toml")
    explicit = rules_file or (Path(os.environ[RULES_ENV]) if os.environ.get(RULES_ENV) else None)
    if explicit is not None:
        if not explicit.is_file():
            raise FileNotFoundError(f"rule configuration {explicit} does not exist")
        candidates.append(explicit)
    for path in candidates:
        if path.is_file():
            override = tomllib.loads(path.read_text(encoding="utf-8"))
            _check_rule_settings(path, override, config)
            config = _merge(config, override)
    return config


# list settings whose values are a coded field's values (sources.py `allowed`): a value outside
# them can never be in the staged column (a cell outside them is a field problem, 不可判断)
VALUE_SETTINGS = {
    ("GA02", "vehicle_types"): ("vehicles", "vehicle_type"),
    ("SJ01", "roles"): ("market", "role"),
    ("CL02", "levels"): ("disability", "disability_level"),
}


def _check_rule_settings(path: Path, override: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A `[rules.X]` setting that no rule reads is a typo that would silently change nothing;
    so is a value of a coded field's list (VALUE_SETTINGS) that the field never holds."""
    from pipelines.sources import SOURCES

    known = defaults["rules"]
    for code, table in override.get("rules", {}).items():
        if code not in known:
            raise ValueError(
                f"{path}: [rules.{code}] is no rule's settings (rules with settings: "
                f"{', '.join(known)})"
            )
        for name in table:
            if name not in known[code]:
                raise ValueError(
                    f"{path}: [rules.{code}] {name} is not a setting of {code} "
                    f"(settings: {', '.join(known[code])})"
                )
            if (code, name) in VALUE_SETTINGS:
                source, field_name = VALUE_SETTINGS[code, name]
                allowed = SOURCES[source].field(field_name).allowed
                outside = [v for v in table[name] if v not in allowed]
                if outside:
                    raise ValueError(
                        f"{path}: [rules.{code}] {name} holds {'、'.join(map(str, outside))}, "
                        f"which the {source} column never holds (values: {'、'.join(allowed)})"
                    )
