"""generate_wild(): the district from the clean generator, every file re-written in the wild habits.

1. The normal generator writes the district in clean mode (canonical forms, no messes) into a
   scratch folder: population, planted signals, department rows and the truth.
2. Every department file and the roster are read back and written again by this package's own
   writers (habits.py, forms.py, sheets.py), with the truth's file / sheet / row re-pointed at
   where each row now is and the wild messes added to its `mess` tags.
   Standing registers (市场主体, 机动车, 房屋鉴定) carry last month's rows into this month
   (stock.py), and the warnings those rows raise are added to the month's expected warnings.
3. The grid ledgers are copied (some converted to .xls); the truth of warnings is copied as is:
   every mess added here leaves each warning's evidence readable by a careful person (an ID is
   destroyed or blanked only where the name is unique in the 村, or 乡镇 when the file has no
   村; an unreadable date or year only on rows no rule's answer rests on).
"""

from __future__ import annotations

import csv
import random
import shutil
from collections import Counter
from pathlib import Path

from ...sources import DEPARTMENT_KEYS
from .clean import Roster, header_keys, read_csv_rows, read_source, read_truth
from .departments import WildContext, Written, write_department
from .roster import write_roster
from .sheets import convert_to_xls, soffice
from .stock import STOCK_SOURCES, carry_over, merge_expected, warnings_of

SCRATCH = ".wild-clean"
RULE_SOURCES = {
    "YB01": "medical_claims", "YB02": "medical_enrollment", "MZ01": "civil_affairs",
    "MZ02": "civil_affairs", "MZ03": "civil_affairs", "JY01": "education", "JY02": "education",
    "JY03": "education", "GA01": "public_security", "GA02": "vehicles", "ZJ01": "housing",
    "ZJ02": "property", "CL01": "disability", "CL02": "disability", "YJ01": "emergency",
    "RS01": "hrss", "CZ01": "public_servants", "SJ01": "market", "XF01": "petition", "SL01": "water",
}  # fmt: skip
TRUTH_HEADER = ("source", "file", "sheet", "row_number", "household_id", "member_id_number",
                "mess", "recoverable")  # fmt: skip
GRID_XLS_SHARE = 0.3


def generate_wild(out: Path, months: list[str], members: int, seed: int) -> dict:
    from .. import core  # the clean district comes from the normal generator

    out = Path(out)
    scratch = out / SCRATCH
    if scratch.exists():
        shutil.rmtree(scratch)
    try:
        summary = core.generate(scratch, months, members=members, seed=seed, messy=False)
        stats = _rewrite(scratch, out, summary, seed)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary["messy"] = "wild"
    summary["files"] = stats.pop("files")
    summary["xls"] = stats.pop("xls")
    if soffice() is None:
        summary["xls_note"] = (
            "LibreOffice (soffice) not found: the .xls files were written as .xlsx"
        )
        print("note: LibreOffice (soffice) not found, so the wild profile's .xls files are .xlsx")
    summary["wild_forms"] = dict(sorted(stats.items()))
    return summary


def _expected_households(truth_root: Path, months: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for month in months:
        path = truth_root / month / "expected_warnings.csv"
        if not path.exists():
            continue
        header, rows = read_csv_rows(path)
        rule_at, household_at = header.index("rule"), header.index("household_id")
        for row in rows:
            out.setdefault(RULE_SOURCES[row[rule_at]], set()).add(row[household_at])
    return out


def _rewrite(scratch: Path, out: Path, summary: dict, seed: int) -> Counter[str]:
    requested: list[str] = list(summary["months"])
    all_months = sorted(p.name for p in (scratch / "raw").iterdir() if p.is_dir())
    roster = Roster(scratch / "raw" / requested[0] / "roster")
    ctx = WildContext(
        seed=seed,
        roster=roster,
        months=requested,
        sensitive=_expected_households(scratch / "truth", requested),
        xls_possible=soffice() is not None,
    )
    files = xls = 0
    previous: dict[str, list] = {}
    for month in all_months:
        raw_in, raw_out = scratch / "raw" / month, out / "raw" / month
        truth_in, truth_out = scratch / "truth" / month, out / "truth" / month
        truth = read_truth(truth_in / "record_truth.csv")
        written: list[Written] = []
        added: list[tuple[str, str, str, str]] = []
        for source in DEPARTMENT_KEYS:
            folder = raw_in / source
            if not folder.is_dir():
                continue
            clean_files = sorted(folder.glob("*.csv"))
            keys = header_keys(source, read_csv_rows(clean_files[0])[0]) if clean_files else []
            rows = read_source(folder, source, truth.get(source, {}))
            if source in STOCK_SOURCES and month in requested:
                if source in previous:
                    count = len(rows)
                    rows = carry_over(source, previous[source], rows)
                    for row in rows[count:]:
                        found = warnings_of(source, row, roster)
                        added += found
                        ctx.sensitive.setdefault(source, set()).update(w[1] for w in found)
                    _count(summary, month, source, len(rows) - count)
                    ctx.stats[f"carried:{source}"] += len(rows) - count
                previous[source] = rows
            written += write_department(ctx, source, month, rows, keys, raw_out / source)
        jobs: list[tuple[Path, Path]] = []
        for item in written:
            if item.habit.fmt == "xls":
                jobs.append((item.path, item.path.with_suffix(".xls")))
        if (raw_in / "roster").is_dir():
            for path, fmt in write_roster(ctx, roster, month, raw_out / "roster"):
                if fmt == "xls":
                    jobs.append((path, path.with_suffix(".xls")))
            files += len(roster.by_township)
        if (raw_in / "grid").is_dir():
            jobs += _copy_grid(raw_in / "grid", raw_out / "grid", seed, ctx.xls_possible)
            files += sum(1 for _ in (raw_in / "grid").iterdir())
        for sub in ("feedback",):
            if (raw_in / sub).is_dir():
                (raw_out / sub).mkdir(parents=True, exist_ok=True)
        converted = dict(zip([j[1] for j in jobs], convert_to_xls(jobs), strict=True))
        xls += sum(converted.values())
        ctx.stats["xls_failed"] += sum(1 for ok in converted.values() if not ok)
        truth_rows = []
        for item in written:
            name = item.path.name
            if converted.get(item.path.with_suffix(".xls")):
                name = item.path.with_suffix(".xls").name
            truth_rows += [(t[0], name, *t[2:]) for t in item.truth]
        files += len(written)
        truth_out.mkdir(parents=True, exist_ok=True)
        with (truth_out / "record_truth.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(TRUTH_HEADER)
            writer.writerows(truth_rows)
        for other in sorted(truth_in.glob("*.csv")):
            if other.name == "expected_warnings.csv" and added:
                header, rows = read_csv_rows(other)
                merged = merge_expected(header, rows, added, roster)
                with (truth_out / other.name).open("w", encoding="utf-8", newline="") as handle:
                    writer = csv.writer(handle, lineterminator="\n")
                    writer.writerow(header)
                    writer.writerows(merged)
                summary["expected_warnings"][month] = dict(
                    sorted(Counter(r[header.index("rule")] for r in merged).items())
                )
            elif other.name != "record_truth.csv":
                shutil.copyfile(other, truth_out / other.name)
    if not ctx.stats["xls_failed"]:
        del ctx.stats["xls_failed"]
    ctx.stats["files"] = files
    ctx.stats["xls"] = xls
    return ctx.stats


def _count(summary: dict, month: str, source: str, extra: int) -> None:
    summary["records"][source] = summary["records"].get(source, 0) + extra
    by_month = summary["records_by_month"].setdefault(month, {})
    by_month[source] = by_month.get(source, 0) + extra


def _copy_grid(src: Path, dst: Path, seed: int, xls_possible: bool) -> list[tuple[Path, Path]]:
    """The ledgers as the normal generator drew them (附件2); some villages save them as .xls."""
    dst.mkdir(parents=True, exist_ok=True)
    jobs = []
    for path in sorted(src.iterdir()):
        target = dst / path.name
        shutil.copyfile(path, target)
        share = random.Random(f"{seed}|wild-grid|{path.name}").random()
        if xls_possible and path.suffix == ".xlsx" and share < GRID_XLS_SHARE:
            jobs.append((target, target.with_suffix(".xls")))
    return jobs
