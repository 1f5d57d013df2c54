"""A synthetic city: N districts of the project's generator, with some people moved between them,
and the truth of what was moved (no Dagster here).

`generate_city(out, districts=4, members=…, month=…)` writes

- `out/<code>/` per district: the generator's district (its own seed), with `rules.toml`
  `[district] name = …` (so a plain `fangfan run --data-dir out/<code>` keys its tables the same);
- `out/districts.toml`: code, name and data directory of each district;
- moved people, planted after generation into the CSV files of month M:
  - **moved records**: a member of district T listed by a department of district S (a copy of a
    row of S's department file, with T's member's name and ID, appended to that file): S cannot
    tie it, the city routes it to T;
  - **roster duplicates**: a member of district T also registered in a household of district S
    (a row appended to S's roster file, in the household of its last row);
- `out/truth/<M>/moved_records.csv` and `roster_duplicates.csv` (the latter also names IDs the
  generators happened to give to people of two districts).

`score_city(out, month)` counts the city warehouse's ties and findings against that truth.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.city.districts import DISTRICTS_FILE, load_city
from pipelines.city.schema import read_city
from pipelines.generate import generate
from pipelines.generate.ids import is_valid
from pipelines.rules.catalogue import MONITORED_TYPES

# 六安市's districts and counties: codes are the partition keys, names the district keys
CITY_DISTRICTS = (
    ("341502", "金安区"),
    ("341503", "裕安区"),
    ("341504", "叶集区"),
    ("341522", "霍邱县"),
    ("341523", "舒城县"),
    ("341524", "金寨县"),
    ("341525", "霍山县"),
)
# department sources a moved person is listed by (their files are CSV in every profile here)
MOVED_SOURCES = ("vehicles", "medical_claims", "property", "civil_affairs", "hrss", "disability")
MOVED_COLUMNS = (
    "month", "from_code", "to_code", "source", "file", "row_number", "id_number", "name",
)  # fmt: skip
DUPLICATE_COLUMNS = ("month", "id_number", "name", "codes", "planted")


@dataclass(frozen=True)
class _Person:
    code: str
    name: str
    id_number: str
    sex: str
    birth: str
    monitored: bool  # of a 脱贫户 or 监测户 household: the rules watch it


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(
            b"\xef\xbb\xbf"
        ) else "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def _read_csv(path: Path) -> tuple[list[list[str]], str]:
    text, encoding = _decode(path.read_bytes())
    return list(csv.reader(io.StringIO(text))), encoding


def _header_at(rows: list[list[str]]) -> int | None:
    for index, row in enumerate(rows[:10]):
        if "姓名" in row and "证件号码" in row:
            return index
    return None


def _append_row(path: Path, row: list[str], encoding: str) -> None:
    """Append one CSV line, leaving every byte already in the file as it is."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    data = path.read_bytes()
    prefix = b"" if not data or data.endswith(b"\n") else b"\n"
    out_encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    path.write_bytes(data + prefix + buffer.getvalue().encode(out_encoding))


def _roster_people(folder: Path, code: str) -> list[_Person]:
    people = []
    for path in sorted(folder.glob("*.csv")):
        rows, _ = _read_csv(path)
        at = _header_at(rows)
        if at is None:
            continue
        header = rows[at]
        column = {name: header.index(name) for name in header}
        for row in rows[at + 1 :]:
            if len(row) != len(header):
                continue
            id_number = row[column["证件号码"]].strip()
            if is_valid(id_number):
                people.append(
                    _Person(
                        code, row[column["姓名"]].strip(), id_number,
                        row[column.get("性别", 0)] if "性别" in column else "",
                        row[column.get("出生日期", 0)] if "出生日期" in column else "",
                        "户类型" in column and row[column["户类型"]].strip() in MONITORED_TYPES,
                    )
                )  # fmt: skip
    return people


def _data_file(folder: Path) -> tuple[Path, list[list[str]], str, int] | None:
    """A CSV of `folder` whose last line is a data row (so an appended row is one more of them)."""
    for path in sorted(folder.glob("*.csv")):
        rows, encoding = _read_csv(path)
        at = _header_at(rows)
        if at is None or len(rows) <= at + 1:
            continue
        header, last = rows[at], rows[-1]
        if len(last) == len(header) and is_valid(last[header.index("证件号码")].strip()):
            return path, rows, encoding, at
    return None


def generate_city(
    out: Path | str,
    *,
    districts: int = 4,
    members: int = 2_000,
    month: str = "2026-10",
    seed: int = 1,
    messy: bool | str = False,
    moved: int | None = None,
    duplicates: int | None = None,
) -> dict:
    """Write the synthetic city (see the module's docstring); returns what was written."""
    if not 2 <= districts <= len(CITY_DISTRICTS):
        raise ValueError(f"districts: 2 to {len(CITY_DISTRICTS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = CITY_DISTRICTS[:districts]
    summaries = {}
    for number, (code, name) in enumerate(chosen):
        folder = out / code
        summaries[code] = generate(
            folder, months=[month], members=members, seed=seed * 1000 + number, messy=messy
        )
        (folder / "rules.toml").write_text(
            f'[district]\nname = "{name}"  # synthetic data, generated by fangfan generate-city\n',
            encoding="utf-8",
        )
    (out / DISTRICTS_FILE).write_text(
        "# the districts of this deployment: code (partition key), name (district key), data dir\n"
        + "".join(
            f'\n[[district]]\ncode = "{code}"\nname = "{name}"\ndata_dir = "{code}"\n'
            for code, name in chosen
        ),
        encoding="utf-8",
    )
    rng = random.Random(seed)
    people = {
        code: _roster_people(out / code / "raw" / month / "roster", code) for code, _ in chosen
    }
    everywhere: dict[str, set[str]] = {}
    for code, persons in people.items():
        for person in persons:
            everywhere.setdefault(person.id_number, set()).add(code)
    # only people on one roster are moved: their truth stays unambiguous
    pool = {
        code: [p for p in persons if len(everywhere[p.id_number]) == 1]
        for code, persons in people.items()
    }
    for persons in pool.values():
        rng.shuffle(persons)
        # moved records are taken from the end: members of monitored households first (their
        # records raise warnings in the district they belong to); roster duplicates from the front
        persons.sort(key=lambda p: p.monitored)
    moved_n = moved if moved is not None else max(2, members // 100)
    duplicates_n = duplicates if duplicates is not None else max(1, members // 400)
    codes = [code for code, _ in chosen]
    moved_rows = _plant_moved_records(out, month, codes, pool, moved_n)
    duplicate_rows = _plant_roster_duplicates(out, month, codes, pool, duplicates_n)
    planted = {row[1] for row in duplicate_rows}
    for id_number, found in sorted(everywhere.items()):
        if len(found) > 1 and id_number not in planted:
            duplicate_rows.append([month, id_number, "", ",".join(sorted(found)), "false"])
    truth = out / "truth" / month
    truth.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(moved_rows, schema=list(MOVED_COLUMNS), orient="row").write_csv(
        truth / "moved_records.csv"
    )
    pl.DataFrame(duplicate_rows, schema=list(DUPLICATE_COLUMNS), orient="row").write_csv(
        truth / "roster_duplicates.csv"
    )
    return {
        "districts": {code: name for code, name in chosen},
        "members_per_district": members,
        "month": month,
        "moved_records": len(moved_rows),
        "roster_duplicates": len(duplicate_rows),
        "records": {code: summaries[code]["records_by_month"][month] for code in codes},
    }


def _plant_moved_records(
    out: Path, month: str, codes: list[str], pool: dict[str, list[_Person]], count: int
) -> list[list]:
    rows = []
    for n in range(count):
        target = codes[n % len(codes)]
        sender = codes[(n + 1 + n // len(codes)) % len(codes)]
        if sender == target:
            sender = codes[(codes.index(target) + 1) % len(codes)]
        if not pool[target]:
            break
        for offset in range(len(MOVED_SOURCES)):
            source = MOVED_SOURCES[(n + offset) % len(MOVED_SOURCES)]
            found = _data_file(out / sender / "raw" / month / source)
            if found is not None:
                break
        else:
            continue
        person = pool[target].pop()
        path, file_rows, encoding, at = found
        header = file_rows[at]
        row = list(file_rows[-1])
        row[header.index("姓名")] = person.name
        row[header.index("证件号码")] = person.id_number
        _append_row(path, row, encoding)
        rows.append(
            [month, sender, target, source, path.name, len(file_rows) + 1, person.id_number,
             person.name]
        )  # fmt: skip
    return rows


def _plant_roster_duplicates(
    out: Path, month: str, codes: list[str], pool: dict[str, list[_Person]], count: int
) -> list[list]:
    rows = []
    for n in range(count):
        home = codes[n % len(codes)]
        other = codes[(n + len(codes) // 2) % len(codes)]
        if other == home or not pool[home]:
            continue
        found = _data_file(out / other / "raw" / month / "roster")
        if found is None:
            continue
        person = pool[home].pop(0)
        path, file_rows, encoding, at = found
        header = file_rows[at]
        row = list(file_rows[-1])
        for column, value in (
            ("姓名", person.name), ("证件号码", person.id_number), ("性别", person.sex),
            ("出生日期", person.birth), ("与户主关系", "其他"), ("联系电话", ""),
        ):  # fmt: skip
            if column in header:
                row[header.index(column)] = value
        _append_row(path, row, encoding)
        rows.append([month, person.id_number, person.name, ",".join(sorted((home, other))), "true"])
    return rows


def score_city(out: Path | str, month: str) -> dict:
    """The city warehouse's ties and roster findings of `month` against the generator's truth."""
    city = load_city(out)
    truth = Path(out) / "truth" / month
    moved = pl.read_csv(truth / "moved_records.csv", infer_schema=False)
    duplicates = pl.read_csv(truth / "roster_duplicates.csv", infer_schema=False)
    ties = read_city(city.database, "cross_district_ties", month)
    findings = read_city(city.database, "cross_district_roster_findings", month)
    expected = {(r["from_code"], r["to_code"], r["id_number"]) for r in moved.iter_rows(named=True)}
    found = {
        (r["from_code"], r["district_code"], r["id_number"]) for r in ties.iter_rows(named=True)
    }
    twice = {
        (r["id_number"], ",".join(sorted(r["codes"].split(","))))
        for r in duplicates.iter_rows(named=True)
    }
    found_twice = {
        (r["id_number"], ",".join(sorted((r["district_code"], r["other_code"]))))
        for r in findings.iter_rows(named=True)
    }
    return {
        "moved_records": len(expected),
        "moved_found": len(expected & found),
        "moved_missed": len(expected - found),
        "ties_not_in_truth": len(found - expected),
        "roster_duplicates": len(twice),
        "roster_duplicates_found": len(twice & found_twice),
        "roster_findings_not_in_truth": len(found_twice - twice),
    }


def format_city_score(score: dict) -> str:
    return (
        f"跨区县转来的记录：生成 {score['moved_records']}，找到 {score['moved_found']}，"
        f"漏掉 {score['moved_missed']}，真值之外 {score['ties_not_in_truth']}\n"
        f"两区花名册重复：生成 {score['roster_duplicates']}，找到 "
        f"{score['roster_duplicates_found']}，真值之外 {score['roster_findings_not_in_truth']}"
    )
