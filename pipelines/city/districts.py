"""Which districts one deployment serves, and where each keeps its data (no Dagster here).

A data root is one of:

- a city declared by `districts.toml` at the root:

      [[district]]
      code = "341502"          # the partition key of the district dimension (no | , [ ] ...)
      name = "金安区"            # the `district` column of every table of its warehouse
      data_dir = "341502"      # relative to the root, or absolute; the contract's layout

- a city of one folder per district under the root: each sub-folder holding `raw/` is a
  district (code = the folder's name, name = its `rules.toml` `[district] name`, else the
  folder's name);
- a single district (the README's layout: `raw/` under the root, or nothing yet): one district
  whose code and name are its district key (`pipelines.config.district_key`).

Each district keeps its own warehouse (`<data dir>/warehouse/fangfan.duckdb`), exports/ and
ledger/; a city adds the city warehouse `<root>/warehouse/city.duckdb` (pipelines/city/ties.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.config import DataDir, district_key, read_settings

DISTRICTS_FILE = "districts.toml"
CITY_DATABASE = "city.duckdb"
# Dagster refuses these in a key of a multi-partitioned asset
_FORBIDDEN = ("|", ",", "[", "]", "...", "\n", "\r", "\t")


@dataclass(frozen=True)
class District:
    code: str
    name: str
    data_dir: Path

    @property
    def layout(self) -> DataDir:
        return DataDir(self.data_dir)


@dataclass(frozen=True)
class City:
    """The districts of a data root; `single` when the root is one district's data directory."""

    root: Path
    districts: tuple[District, ...]
    single: bool

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.districts]

    def district(self, code: str) -> District:
        for district in self.districts:
            if district.code == code:
                return district
        raise KeyError(
            f"区县 {code!r} 不在 {self.root} 声明的区县中（{', '.join(self.codes) or '无'}）"
        )

    @property
    def database(self) -> Path:
        """The city warehouse: cross-district ties and findings (read by the districts)."""
        return self.root / "warehouse" / CITY_DATABASE


def check_code(code: str) -> str:
    if not code or any(bad in code for bad in _FORBIDDEN):
        raise ValueError(f"区县代码 {code!r} 不能为空，也不能含有 | , [ ] ... 或换行")
    return code


def _declared(root: Path) -> tuple[District, ...]:
    path = root / DISTRICTS_FILE
    entries = read_settings(path).get("district", [])
    if not entries:
        raise ValueError(f"{path}: 没有 [[district]] 条目")
    districts = []
    for entry in entries:
        missing = [k for k in ("code", "name", "data_dir") if not entry.get(k)]
        if missing:
            raise ValueError(f"{path}: 区县条目 {entry} 缺少 {', '.join(missing)}")
        data_dir = Path(entry["data_dir"])
        data_dir = (data_dir if data_dir.is_absolute() else root / data_dir).resolve()
        districts.append(District(check_code(str(entry["code"])), str(entry["name"]), data_dir))
    return _distinct(tuple(districts), str(path))


def _distinct(districts: tuple[District, ...], where: str) -> tuple[District, ...]:
    """`districts`, refused when two share a code or a name: the name is the `district` column
    of every table and how the city tells districts apart, so two districts under one name would
    take each other's cross-district rows (a person's death routed to a household of the other
    district with the same 户编号)."""
    for what, field in (("代码", "code"), ("名称", "name")):
        values = [getattr(d, field) for d in districts]
        shared = sorted({v for v in values if values.count(v) > 1})
        if shared:
            owners = "；".join(
                f"{v}：{', '.join(str(d.data_dir) for d in districts if getattr(d, field) == v)}"
                for v in shared
            )
            raise ValueError(f"{where}: 区县{what}重复（{owners}），每个区县须有自己的{what}")
    return districts


def _rules_name(folder: Path) -> str:
    local = folder / "rules.toml"
    if not local.is_file():
        return ""
    return str(read_settings(local).get("district", {}).get("name", ""))


def load_city(root: Path | str, explicit_district: str = "") -> City:
    """The districts under `root` (see the module's docstring); `explicit_district` names the
    single district's key (`--district`, FANGFAN_DISTRICT) and is ignored by a city."""
    root = Path(root).resolve()
    if (root / DISTRICTS_FILE).is_file():
        return City(root, _declared(root), single=False)
    if not (root / "raw").is_dir() and root.is_dir():
        folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "raw").is_dir())
        if folders:
            districts = tuple(
                District(check_code(p.name), _rules_name(p) or p.name, p.resolve()) for p in folders
            )
            where = f"{root}（各区县文件夹 rules.toml 的 [district] name）"
            return City(root, _distinct(districts, where), single=False)
    key = district_key(DataDir(root), explicit_district)
    return City(root, (District(check_code(key), key, root),), single=True)
