"""The rule configuration: rules/defaults.toml, overlaid by the district's rules.toml and an
explicit file, each checked against the rule catalogue before any data is read."""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pipelines.config import NOTEPAD_SUFFIX, RULES_ENV, DataDir, read_settings
from pipelines.rules.catalogue import RULES_BY_CODE
from pipelines.rules.spec import exact
from pipelines.sources import SOURCES

DEFAULTS_FILE = Path(__file__).parent / "defaults.toml"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _settings_files(data_dir: DataDir | None, rules_file: Path | None) -> list[Path]:
    """The settings files read over the defaults, in order: <data dir>/rules.toml, then an
    explicit file (or FANGFAN_RULES)."""
    candidates: list[Path] = []
    if data_dir is not None:
        local = data_dir.root / "rules.toml"
        saved_as = local.with_name(local.name + NOTEPAD_SUFFIX)
        if not local.is_file() and saved_as.is_file():
            # the district wrote settings it means to apply: running on the defaults would
            # make lists under settings nobody chose (an independent probe, indep33)
            raise ValueError(
                f"{saved_as}: 记事本保存时在文件名后加了 {NOTEPAD_SUFFIX}，fangfan 只读 {local.name}："
                f"请把它改名为 {local.name}（资源管理器中先勾选“文件扩展名”）后再运行"
            )
        candidates.append(local)
    explicit = rules_file or (Path(os.environ[RULES_ENV]) if os.environ.get(RULES_ENV) else None)
    if explicit is not None:
        if not explicit.is_file():
            raise FileNotFoundError(f"rule configuration {explicit} does not exist")
        candidates.append(explicit)
    return [path for path in candidates if path.is_file()]


def load_rule_config(data_dir: DataDir | None = None, rules_file: Path | None = None) -> dict:
    """Defaults, overlaid by <data dir>/rules.toml, overlaid by an explicit file (or FANGFAN_RULES)."""
    config = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    for path in _settings_files(data_dir, rules_file):
        override = read_settings(path)
        _check_known(path, override, config)
        _check_rule_settings(path, override, config)
        config = _merge(config, override)
        _check_other_settings(path, override, config)
    return config


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(map(str, value)) if value else "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


# the item headers a district summary and run output show for the settings in effect
SETTINGS_COLUMNS = ("设置项", "本月取值", "默认值", "设置文件")


def settings_in_effect(
    data_dir: DataDir | None = None, rules_file: Path | None = None
) -> list[dict[str, str]]:
    """What a month's lists were made under, as the district summary's 规则设置 sheet and the run
    output say it: each value a settings file changes from defaults.toml (the last file to set
    it named), or one row saying the defaults were used. [district] (the district's name) is
    not a rule's setting."""
    defaults = _flat(tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8")))
    rows: dict[str, dict[str, str]] = {}
    files = _settings_files(data_dir, rules_file)

    def named(path: Path) -> str:
        # within the data directory, as the district writes it (rules.toml): the summary of a
        # district is the same wherever its folder is (a city's, or the district run alone)
        root = data_dir.root if data_dir is not None else None
        return str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)

    for path in files:
        for key, value in _flat(read_settings(path)).items():
            if key.startswith("district."):
                continue
            if defaults.get(key) == value:  # written as the default, or set back to it
                rows.pop(key, None)
                continue
            # a table's items one by one (force = {SJ01 = "黄"}: levels.force.SJ01)
            rows[key] = dict(zip(SETTINGS_COLUMNS, (
                key, _shown(value), _shown(defaults[key]) if key in defaults else "无",
                named(path),
            ), strict=True))  # fmt: skip
    if not rows:
        read = "、".join(map(named, files)) or DEFAULTS_FILE.name
        return [dict(zip(SETTINGS_COLUMNS, ("全部", "默认", "默认", read), strict=True))]
    return [rows[key] for key in sorted(rows)]


def settings_lines(rows: list[dict[str, str]]) -> list[str]:
    """settings_in_effect as the run output's lines."""
    if rows[0]["设置项"] == "全部":
        if rows[0]["设置文件"] == DEFAULTS_FILE.name:
            return ["规则设置：全部为默认值（没有 rules.toml，也没有 --rules 文件）"]
        return [f"规则设置：全部为默认值（{rows[0]['设置文件']} 没有改动默认值的项）"]
    files = "、".join(dict.fromkeys(r["设置文件"] for r in rows))
    return [f"规则设置：{files} 改动了 {len(rows)} 项"] + [
        f"  {r['设置项']} = {r['本月取值']}（默认 {r['默认值']}）" for r in rows
    ]


LEVELS = ("红", "黄", "绿")


def _check_other_settings(path: Path, override: dict[str, Any], merged: dict[str, Any]) -> None:
    """The district's [export], [ages], [ties] and [levels] values in `override` are of their
    kind and make sense with the settings they are merged into (a level none of 红/黄/绿, a
    working age from 59 to 18, 是/否 for true/false): refused, naming the file and the key,
    before any data is read; never used as written or ignored."""

    def fail(key: str, why: str) -> None:
        raise ValueError(f"{path}: {key} {why}")

    export = override.get("export", {})
    for key in ("mask_ids", "xlsx"):
        if key in export and not isinstance(export[key], bool):
            fail(f"[export] {key}", f"must be true or false, not {export[key]!r}")
    days = export.get("deadline_days")
    if "deadline_days" in export and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366
    ):
        fail("[export] deadline_days", f"must be a whole number of days (1–366), not {days!r}")
    for key, value in override.get("ages", {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 120:
            fail(f"[ages] {key}", f"must be a whole age (0–120), not {value!r}")
    ages = merged["ages"]
    if ages["labour_min"] > ages["labour_max"]:
        fail("[ages]", f"labour_min {ages['labour_min']} is above labour_max {ages['labour_max']}")
    ties = override.get("ties", {})
    share = ties.get("precision_min_confidence")
    if "precision_min_confidence" in ties and (
        isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1
    ):
        fail("[ties] precision_min_confidence", f"must be a number from 0 to 1, not {share!r}")
    levels = override.get("levels", {})
    red = levels.get("red_rules", [])
    if not isinstance(red, list) or any(code not in RULES_BY_CODE for code in red):
        fail(
            "[levels] red_rules", f"must list rule codes ({', '.join(RULES_BY_CODE)}), not {red!r}"
        )
    force = levels.get("force", {})
    if not isinstance(force, dict):
        fail("[levels] force", f'must be a table like {{ SL01 = "黄" }}, not {force!r}')
    for code, level in force.items():
        if code not in RULES_BY_CODE:
            fail(f"[levels] force.{code}", "is no rule")
        if level not in LEVELS:
            fail(f"[levels] force.{code}", f"must be one of {'/'.join(LEVELS)}, not {level!r}")


# list settings whose values are a coded field's values (sources.py `allowed`): a value outside
# them can never be in the staged column (a cell outside them is a field problem, 不可判断)
VALUE_SETTINGS = {
    ("GA02", "vehicle_types"): ("vehicles", "vehicle_type"),
    ("SJ01", "roles"): ("market", "role"),
    ("CL02", "levels"): ("disability", "disability_level"),
}


# tables whose keys are the district's own (rule codes), checked by the settings they belong to
_OPEN_TABLES = {("rules",), ("levels", "force")}


def _check_known(path: Path, override: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Every section and key of `override` is one defaults.toml has: a misspelled one ([Export],
    mask_id, deadline, a key written above every section) would silently change nothing, and
    the lists would be made under settings the district did not choose (an independent probe,
    indep33, found ten such files run on the defaults). Refused naming the file and the key,
    with the setting it most likely means."""
    known = _flat(defaults)
    sections = {key.rsplit(".", 1)[0] for key in known if "." in key}

    def check(table: dict[str, Any], at: tuple[str, ...]) -> None:
        for key, value in table.items():
            here = (*at, key)
            name = ".".join(here)
            if here in _OPEN_TABLES:
                continue  # its own check refuses a value of the wrong kind
            if isinstance(value, dict) and name in sections:
                check(value, here)
            elif name not in known or isinstance(value, dict):
                raise ValueError(f"{path}: {_unknown(name, value, known, sections)}")

    check(override, ())


def _unknown(name: str, value: Any, known: dict[str, Any], sections: set[str]) -> str:
    """Why `name` is no setting, and which setting it most likely is; the line as written first
    (`[rule.YB01] threshold_monitored = 3000`), so the district finds it in the file."""
    if isinstance(value, dict):
        inner, leaf = _first_leaf(value)
        table = ".".join((name, *inner[:-1]))
        written = f"[{table}] {inner[-1]} = {_toml(leaf)}" if inner else f"[{name}]"
        said = (
            f"{written}：[{name}] 不是设置文件的一节（各节："
            + "、".join(f"[{s}]" for s in sorted(sections))
            + "）"
        )
        # [rule.YB01]: the table meant is the one ending like the one written
        guess = _guess(table, sorted(sections)) or _guess(name, sorted(sections))
        if guess is not None:
            said += f"；是不是要写 [{guess}]"
    else:
        section, _, key = name.rpartition(".")
        written = f"{key} = {_toml(value)}"
        said = (
            written
            + (
                f"：{key} 不是 [{section}] 的设置项"
                if section in sections
                else "：不是任何一节的设置项"
            )
            + "，不会起作用"
        )
        guess = _guess(name, list(known))
        if guess is not None:
            where, _, item = guess.rpartition(".")
            said += f"；是不是要写 [{where}] 下的 {item}" if where else f"；是不是要写 {item}"
    return said + "（各项及默认值见 pipelines/rules/defaults.toml）"


def _first_leaf(table: dict[str, Any]) -> tuple[tuple[str, ...], Any]:
    """The path to the first value that is not a table, and that value (nothing: an empty one)."""
    for key, value in table.items():
        if isinstance(value, dict):
            inner, leaf = _first_leaf(value)
            return (key, *inner), leaf
        return (key,), value
    return (), None


def _toml(value: Any) -> str:
    """A value as the settings file writes it (true, 3000, "否")."""
    return json.dumps(value, ensure_ascii=False)


def _guess(name: str, candidates: list[str]) -> str | None:
    """The candidate `name` most likely means: the same but for case, the same last part
    (rule.YB01 → rules.YB01), or one spelt closely."""
    lowered = {c.lower(): c for c in candidates}
    ending = {c.rsplit(".", 1)[-1]: c for c in candidates}
    found = lowered.get(name.lower()) or ending.get(name.rsplit(".", 1)[-1])
    if found is None and "." in name:
        found = ending.get(name.rsplit(".", 1)[-1].upper())
    if found is None:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        found = close[0] if close else None
    return found


def _check_rule_settings(path: Path, override: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A `[rules.X]` setting that no rule reads is a typo that would silently change nothing;
    so is a value of a coded field's list (VALUE_SETTINGS) that the field never holds."""
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
            convert = RULES_BY_CODE[code].params.get(name)
            value = table[name]
            if convert is list and not isinstance(value, list):
                raise ValueError(f"{path}: [rules.{code}] {name} must be a list, not {value!r}")
            if convert in (int, float, exact) and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(
                    f"{path}: [rules.{code}] {name} must be a number (0 or more), not {value!r}"
                )
            if convert is int and (not isinstance(value, int) or value < 1):
                # a count of months: 0 would switch the rule off unsaid (indep33), 6.5 is no count
                raise ValueError(
                    f"{path}: [rules.{code}] {name} must be a whole number (1 or more), "
                    f"not {value!r}"
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
