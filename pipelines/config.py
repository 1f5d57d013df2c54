"""Run settings: where the data lives, the district it is, and month arithmetic (the rule
configuration, defaults + district overrides, is pipelines/rules/settings.py)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DATA_DIR_ENV = "FANGFAN_DATA_DIR"
DISTRICT_ENV = "FANGFAN_DISTRICT"
RULES_ENV = "FANGFAN_RULES"
EXPORT_DATE_ENV = "FANGFAN_EXPORT_DATE"


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
