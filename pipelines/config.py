"""Run settings: where the data lives, the district it is, and month arithmetic (the rule
configuration, defaults + district overrides, is pipelines/rules/settings.py)."""

from __future__ import annotations

import codecs
import os
import re
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


# Windows Notepad saves a file named rules.toml as rules.toml.txt unless told otherwise
NOTEPAD_SUFFIX = ".txt"


def settings_text(path: Path) -> str:
    """A settings file's text as an office PC writes it: UTF-8 with or without BOM (Notepad's
    UTF-8 has one), UTF-16 with BOM (Notepad's "Unicode"), else GBK/GB18030 (Notepad's ANSI on
    a Chinese Windows). An independent probe (indep33) saw Notepad's BOM called a TOML error
    at line 1 and a GBK file a UTF-8 error, neither naming the file or what to do."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decoded(path, data, "utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decoded(path, data, "gb18030")


def _decoded(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: 不是 UTF-8 或 GBK 编码的文本，读不出（请用记事本打开，另存为 UTF-8）"
        ) from None


def read_settings(path: Path) -> dict:
    """A settings file (rules.toml, districts.toml) read as TOML; a file that is not valid TOML
    is refused naming the file and the line as written (`loss_threshold =`: the key a value is
    missing for), so the district sees which setting to mend."""
    text = settings_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"at line (\d+)", str(error))
        lines = text.splitlines()
        at = ""
        if found and 0 < int(found[1]) <= len(lines):
            at = f"：第 {found[1]} 行「{lines[int(found[1]) - 1].strip()}」"
        raise ValueError(f"{path}: not a valid settings file ({error}){at}") from None


def data_dir_from_env(default: str = "data") -> DataDir:
    return DataDir(Path(os.environ.get(DATA_DIR_ENV, default)).resolve())


def district_key(data_dir: DataDir, explicit: str = "") -> str:
    """The district every table is keyed by: an explicit key (FANGFAN_DISTRICT), else
    `[district] name` of <data dir>/rules.toml, else the data directory's name."""
    if explicit or os.environ.get(DISTRICT_ENV):
        return explicit or os.environ[DISTRICT_ENV]
    local = data_dir.root / "rules.toml"
    if local.is_file():
        try:
            name = read_settings(local).get("district", {}).get("name")
        except ValueError:
            name = None  # the rule settings' own check refuses the file, naming it
        if name:
            return str(name)
    return data_dir.root.name
