"""How fast the machine is right now: a fixed workload of the kinds a month's run is made of.

The benches of one machine drift: two `make bench` an hour apart ran the steps no change had
touched 1.25-1.43x apart (docs/SCALE.md 6.22), more than most changes save. So the bench times
this workload at its start and at its end, and reads each ratio to the previous bench against the
machine's own ("on par"). A rough guide, not a correction: over 15 rounds the staging of the four
largest sources followed it at r = 0.77, and divided by it still spread 1.17x (SCALE 6.22).

The workload: DuckDB joining and grouping strings, polars reading strings with regexes and
grouping them, and Python building and sorting small objects, each on fixed, seeded data, each
timed best of three. Run in its own process (`python bench/machine.py` prints the seconds), so
that nothing the bench process holds weighs on it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable

import duckdb
import polars as pl

ROWS = 1_000_000
TRIES = 3


def _duckdb_part() -> None:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(
        f"""CREATE TABLE a AS
            SELECT i, 'p' || (i * 7919 % {ROWS}) AS key, i % 977 AS g FROM range({ROWS}) t(i)"""
    )
    con.execute(
        f"""CREATE TABLE b AS SELECT 'p' || i AS key, i % 13 AS v FROM range({ROWS}) t(i)"""
    )
    con.execute(
        """SELECT a.g, count(*), sum(b.v), count(DISTINCT a.key)
           FROM a JOIN b USING (key) GROUP BY a.g ORDER BY a.g"""
    ).fetchall()
    con.close()


def _polars_part(cells: pl.Series) -> None:
    frame = pl.DataFrame({"s": cells})
    frame.with_columns(
        pl.col("s").str.contains(r"\S").alias("filled"),
        pl.col("s").str.replace_all(r"\s+", "").alias("compact"),
        pl.col("s").str.slice(0, 3).alias("head"),
    ).group_by("head").agg(pl.col("filled").sum(), pl.col("compact").n_unique())


def _python_part() -> None:
    rng = random.Random(7)
    rows = [(rng.randrange(1000), f"名{rng.randrange(5000)}", rng.random()) for _ in range(200_000)]
    grouped: dict[int, list[tuple[str, float]]] = {}
    for key, name, value in rows:
        grouped.setdefault(key, []).append((name, value))
    sorted(grouped.items(), key=lambda item: (len(item[1]), item[0]))


def _best(part: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(TRIES):
        start = time.perf_counter()
        part()
        best = min(best, time.perf_counter() - start)
    return best


def workload_seconds() -> float:
    """The workload's seconds here and now (best of three for each part, summed)."""
    rng = random.Random(2026)
    cells = pl.Series(
        [f" 三里桥{rng.randrange(90_000)} 村 {rng.randrange(100)}号 " for _ in range(ROWS // 2)]
    )
    return _best(_duckdb_part) + _best(lambda: _polars_part(cells)) + _best(_python_part)


def machine_seconds(python: str = sys.executable) -> float:
    """workload_seconds in a process of its own."""
    out = subprocess.run(
        [python, __file__], capture_output=True, text=True, check=True, timeout=600
    )
    return float(out.stdout.strip())


def against_machine(ratio: float | None, machine: float | None) -> str:
    """A ratio to the previous bench read against the machine's own ratio to it: '' when either
    is unknown."""
    if ratio is None or machine is None or machine <= 0:
        return ""
    return f"{ratio / machine:.2f}×"


if __name__ == "__main__":
    print(f"{workload_seconds():.4f}")
