"""make bench: a messy synthetic district through the whole month, then the matcher alone vs Splink.

Prints wall time per stage, records per second, peak RSS, and precision / recall / F1 per tier
and overall against the generator's truth. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import match_bench  # noqa: E402  (the isolated matcher / Splink workers)

from pipelines.linkage import prepare_match_views  # noqa: E402
from pipelines.scoring import (  # noqa: E402
    format_profile_scores,
    format_score,
    score_matches,
    score_month,
    truth_records,
)
from pipelines.sources import DEPARTMENT_KEYS  # noqa: E402

MONTH = "2026-10"
DISTRICT = "bench"


def _children_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def generate(root: Path, members: int, seed: int, profile: str = "normal") -> None:
    if (root / "raw" / MONTH).is_dir():
        print(f"reusing the generated district in {root}")
        return
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "generate", "--out", str(root), "--month", MONTH,
         "--members", str(members), "--seed", str(seed), "--messy", profile],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    size = sum(p.stat().st_size for p in (root / "raw").rglob("*") if p.is_file())
    files = sum(1 for p in (root / "raw" / MONTH).rglob("*") if p.is_file())
    print(
        f"generated {members:,} members in {time.perf_counter() - start:.1f} s: "
        f"{size / 2**20:,.0f} MiB raw ({files} files for {MONTH}, plus earlier claims months)"
    )


def run_month(root: Path, home: Path, label: str) -> float:
    env = dict(os.environ, DAGSTER_HOME=str(home), FANGFAN_DISTRICT=DISTRICT)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--month", MONTH, "--data-dir", str(root)],
        check=True, stdout=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    wall = time.perf_counter() - start
    print(
        f"\nwhole month, {label}: {wall:.1f} s wall, peak RSS so far {_children_peak_mib():,.0f} MiB"
    )
    print(step_table(home))
    return wall


def step_table(home: Path) -> str:
    code = (
        "import dagster as dg\n"
        "i = dg.DagsterInstance.get(); r = i.get_runs(limit=1)[0]\n"
        "for s in sorted(i.get_run_step_stats(r.run_id), key=lambda s: s.start_time or 0):\n"
        "    print(f'  {s.step_key:24s}{(s.end_time or 0) - (s.start_time or 0):8.2f} s')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env=dict(os.environ, DAGSTER_HOME=str(home)),
    )  # fmt: skip
    return out.stdout.rstrip()


def export_match_tables(root: Path, data: Path) -> None:
    """The month's staged records and roster, exactly as the pipeline feeds the matcher."""
    with duckdb.connect(str(root / "warehouse" / "fangfan.duckdb"), read_only=True) as con:
        prepare_match_views(
            con,
            district=DISTRICT,
            months=[MONTH],
            roster_month=MONTH,
            sources=list(DEPARTMENT_KEYS),
        )
        records = con.sql("SELECT * EXCLUDE (source_record_key, month) FROM match_input").pl()
        roster = con.sql("SELECT * FROM roster_input").pl()
    # the worker's loader drops the synthetic bench's truth columns: give it empty ones
    roster = roster.with_columns(
        pl.lit(None, dtype=pl.String).alias("true_id"),
        pl.lit(None, dtype=pl.String).alias("roster_mess"),
        pl.lit(None, dtype=pl.Date).alias("birth"),
    )
    data.mkdir(parents=True, exist_ok=True)
    records.write_parquet(data / "records.parquet")
    roster.write_parquet(data / "roster.parquet")


def scored(matches: pl.DataFrame, truth: pl.DataFrame, roster: pl.DataFrame) -> pl.DataFrame:
    matches = matches.with_columns(pl.col("record_key").str.replace(f"^{MONTH}#", ""))
    if "household_id" not in matches.columns:
        matches = matches.join(
            roster.select("member_key", "household_id"), on="member_key", how="left"
        )
    for column, dtype in (("tier", pl.Int8), ("method", pl.String)):
        if column not in matches.columns:
            matches = matches.with_columns(pl.lit(None, dtype=dtype).alias(column))
    return score_matches(matches, truth)


def print_scores(label: str, table: pl.DataFrame) -> dict:
    print(f"{label}: tier      ties    correct  precision")
    for row in table.iter_rows(named=True):
        if row["tier"] != "all":
            print(
                f"  {row['tier']:>10} {row['ties']:>9,} {row['correct']:>9,}   {row['precision']:.5f}"
            )
    overall = table.filter(pl.col("tier") == "all").row(0, named=True)
    print(
        f"  overall    {overall['ties']:>9,} {overall['correct']:>9,}   precision {overall['precision']:.5f}"
        f"  recall {overall['recall']:.5f}  F1 {overall['f1']:.5f}"
    )
    confident = table.filter(pl.col("tier").is_in(["1", "2", "3"]))
    if confident.height:
        print(
            f"  confident tiers 1–3: precision {confident['correct'].sum() / confident['ties'].sum():.5f}"
        )
    return overall


def compare_profiles(args: argparse.Namespace, main_scores: pl.DataFrame) -> None:
    """Warnings against the truth on each mess profile's district, per rule side by side.

    The profiles' districts have min(--members, --profile-members) members; the normal one is
    the main district when the sizes agree.
    """
    profiles = [p for p in args.profiles.split(",") if p]
    if not profiles:
        return
    members = min(args.members, args.profile_members)
    tables: dict[str, pl.DataFrame] = {}
    for profile in profiles:
        if profile == "normal" and members == args.members:
            tables[profile] = main_scores
            continue
        root = args.out / f"district-{profile}-{members}-{args.seed}"
        home = args.out / f"dagster-home-{profile}-{members}"
        generate(root, members, args.seed, profile)
        shutil.rmtree(root / "warehouse", ignore_errors=True)
        shutil.rmtree(root / "exports", ignore_errors=True)
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        env = dict(os.environ, DAGSTER_HOME=str(home), FANGFAN_DISTRICT=DISTRICT)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run", "--month", MONTH, "--data-dir", str(root)],
            check=True, stdout=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        print(
            f"{profile} profile, {members:,} members: month in {time.perf_counter() - start:.1f} s"
        )
        tables[profile] = score_month(
            root / "warehouse" / "fangfan.duckdb", root / "truth", DISTRICT, MONTH
        )
    print(f"\nwarnings per mess profile ({members:,} members; P precision, R recall):")
    print(format_profile_scores(tables))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument(
        "--profiles",
        default="normal,heavy,wild",
        help="mess profiles to score side by side ('' to skip)",
    )
    parser.add_argument("--profile-members", type=int, default=100_000)
    args = parser.parse_args()

    root = args.out / f"district-{args.members}-{args.seed}"
    home = args.out / f"dagster-home-{args.members}"
    print(f"fangfan bench: {args.members:,} members, seed {args.seed}, {os.cpu_count()} cores")
    generate(root, args.members, args.seed)
    shutil.rmtree(root / "warehouse", ignore_errors=True)
    shutil.rmtree(root / "exports", ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    run_month(root, home, "first run (earlier claims months ingested for YB01)")
    steady = run_month(root, home, "rerun (earlier months already in the warehouse)")

    print("\nwarnings against the generator's truth:")
    main_scores = score_month(
        root / "warehouse" / "fangfan.duckdb", root / "truth", DISTRICT, MONTH
    )
    print(format_score(main_scores))

    data = args.out / f"match-{args.members}-{args.seed}"
    export_match_tables(root, data)
    truth = truth_records(root / "truth", MONTH)
    roster = pl.read_parquet(data / "roster.parquet")
    records = pl.read_parquet(data / "records.parquet").height
    ours = match_bench._spawn("ours", data)
    print(
        f"\nmatcher alone: {records:,} records × {roster.height:,} members: {ours['wall']:.2f} s wall, "
        f"{records / ours['wall']:,.0f} records/s, peak RSS {ours['rss_mib']:,.0f} MiB"
    )
    ours_scores = print_scores(
        "ours", scored(pl.read_parquet(data / "ours_matches.parquet"), truth, roster)
    )
    print(f"\nwhole month (steady state) {steady:.1f} s wall")
    compare_profiles(args, main_scores)
    if args.no_splink:
        return
    splink = match_bench._spawn("splink", data)
    print(
        f"\nsplink 5 (DuckDB, EM-trained): {splink['wall']:.2f} s wall (training {splink['train']:.2f} s, "
        f"prediction {splink['predict']:.2f} s), peak RSS {splink['rss_mib']:,.0f} MiB"
    )
    splink_scores = print_scores(
        "splink", scored(pl.read_parquet(data / "splink_matches.parquet"), truth, roster)
    )
    print("\n== ours vs splink, same records, same run ==")
    print(
        f"speed: {splink['wall'] / ours['wall']:.1f}× (train+predict), {splink['predict'] / ours['wall']:.1f}× (predict only)"
    )
    print(f"F1: ours {ours_scores['f1']:.5f} vs splink {splink_scores['f1']:.5f}")
    print(f"peak RSS: ours {ours['rss_mib']:,.0f} MiB vs splink {splink['rss_mib']:,.0f} MiB")


if __name__ == "__main__":
    main()
