"""generate(): a whole synthetic district, raw layout plus ground truth, for one or more months."""

from __future__ import annotations

import csv
import multiprocessing
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..sources import DEPARTMENT_KEYS, FEEDBACK_KEY
from . import background as bg
from .common import month_first, parse_month
from .context import Context, Outsiders, Record
from .ids import IdFactory
from .messes import Messer
from .population import build_district
from .roster_files import build_ledger, write_grid, write_roster
from .rules import WARNING_COLUMNS, Evaluator
from .signals import plan_yb01, plant
from .tables import write_source

CLAIMS_SHARE = 0.35  # medical_claims rows per member in a requested month
CLAIMS_SHARE_EARLIER = 0.25  # … and in the earlier months of the year (history for YB01)
# from this size on, the claims history is written by a forked worker while the main process
# writes the requested months (the output is the same either way: every stream is seeded per file)
PARALLEL_MIN_MEMBERS = 100_000
TRUTH_COLUMNS = (
    "source",
    "file",
    "sheet",
    "row_number",
    "household_id",
    "member_id_number",
    "mess",
    "recoverable",
)
REJECT_COLUMNS = ("source", "file", "sheet", "row_number", "field", "reason")
GRID_MISSING_COLUMNS = ("township", "village", "grid")


@dataclass
class _Written:
    """What the months written so far produced (merged from a worker for the history months)."""

    files: int = 0
    records: Counter[str] = field(default_factory=Counter)
    by_month: dict[str, dict[str, int]] = field(default_factory=dict)
    self_paid: dict[str, dict[int, int]] = field(default_factory=dict)
    self_paid_recoverable: dict[str, dict[int, int]] = field(default_factory=dict)


def generate(
    out: Path, months: list[str], members: int = 20_000, seed: int = 1, messy: bool = False
) -> dict:
    """Write a synthetic district into `out/raw/<M>/…` and its ground truth into `out/truth/<M>/…`.

    The first month also gets `medical_claims` for the earlier months of its year, so that the
    year-to-date rule YB01 can be computed. Same arguments give byte-identical files.

    Truth per month: `record_truth.csv` (every department row written: where it is, whom it is
    about, what was done to it, whether a careful matcher can recover it), `rejects_expected.csv`
    (rows that must be rejected), and for requested months `expected_warnings.csv` (our own
    evaluation of the rule catalogue over the true identities) and `grid_missing.csv`.
    Returns counts: members, households, townships, villages, grids, files, records per source.
    `messy`: the generator's own messes at their rates (the profiles beyond it, `heavy` and
    `wild`, are pipelines.generate.generate's).
    """
    requested = sorted(set(months))
    if not requested:
        raise ValueError("at least one month is needed")
    for month in requested:
        parse_month(month)
    out = Path(out)
    first_year, first_month = parse_month(requested[0])
    history = [f"{first_year:04d}-{m:02d}" for m in range(1, first_month)]

    id_factory = IdFactory()
    district = build_district(members, seed, month_first(requested[0]), id_factory)
    ctx = Context(district, seed, messy, id_factory)
    planned_claims, reserved = plan_yb01(ctx, requested, history + requested)
    ctx.reserved_households = frozenset(reserved)
    messer = Messer(ctx)

    def write_history(months_part: list[str]) -> _Written:
        written = _Written()
        evaluator = Evaluator(ctx)
        for month in months_part:
            _write_month(
                ctx, messer, evaluator, month, ("medical_claims",), planned_claims, out, written
            )
        written.self_paid = {m: dict(v) for m, v in evaluator.self_paid.items()}
        written.self_paid_recoverable = {
            m: dict(v) for m, v in evaluator.self_paid_recoverable.items()
        }
        return written

    forked = (
        history[: _forked_share(len(history), len(requested))]
        if members >= PARALLEL_MIN_MEMBERS
        else []
    )
    if forked:
        ctx.claim_weights  # noqa: B018 - computed once, before the fork, so both processes share it
        forked_result = _in_forked_worker(lambda: write_history(forked))

    written = _Written()
    ledger, grid_missing = build_ledger(ctx)
    evaluator = Evaluator(ctx)
    for month in requested:
        _write_month(ctx, messer, evaluator, month, DEPARTMENT_KEYS, planned_claims, out, written)
        raw = out / "raw" / month
        written.files += write_roster(ctx, raw / "roster", month)
        written.files += write_grid(ctx, raw / "grid", ledger)
        (raw / FEEDBACK_KEY).mkdir(parents=True, exist_ok=True)
        written.by_month[month]["roster"] = district.members
    parts = [write_history(history[len(forked) :])]
    if forked:
        parts.append(forked_result())
    for part in parts:
        evaluator.self_paid.update(part.self_paid)
        evaluator.self_paid_recoverable.update(part.self_paid_recoverable)
        written.files += part.files
        written.records.update(part.records)
        written.by_month.update(part.by_month)

    warning_counts: dict[str, dict[str, int]] = {}
    for month in requested:
        warnings = evaluator.warnings(month)
        truth_dir = out / "truth" / month
        _write_csv(truth_dir / "expected_warnings.csv", WARNING_COLUMNS, warnings)
        _write_csv(truth_dir / "grid_missing.csv", GRID_MISSING_COLUMNS, grid_missing)
        warning_counts[month] = dict(sorted(Counter(str(w[0]) for w in warnings).items()))
    populated = [v for v in district.villages if v.end_member > v.first_member]
    return {
        "members": district.members,
        "households": district.households,
        "townships": len({v.township for v in populated}),
        "villages": len(populated),
        "grids": len(district.grids),
        "months": requested,
        "history_months": history,
        "files": written.files,
        "records": dict(written.records),
        "records_by_month": {m: written.by_month[m] for m in sorted(written.by_month)},
        "expected_warnings": warning_counts,
        "grid_missing": len(grid_missing),
        "seed": seed,
        "messy": messy,
    }


def _forked_share(history: int, requested: int) -> int:
    """How many history months the worker takes so that both processes finish together.

    A history month is ~0.25 N claim rows; a requested month ~1 N department rows plus the roster.
    """
    return min(
        history,
        round((history * CLAIMS_SHARE_EARLIER + 1.3 * requested) / (2 * CLAIMS_SHARE_EARLIER)),
    )


def _write_month(
    ctx: Context,
    messer: Messer,
    evaluator: Evaluator,
    month: str,
    sources: Iterable[str],
    planned_claims: dict[str, list[Record]],
    out: Path,
    written: _Written,
) -> None:
    """Department files of one month, their truth and rejects; the kept rows go to the evaluator."""
    ctx.outsiders = Outsiders()
    truth: list[tuple[object, ...]] = []
    rejects: list[tuple[object, ...]] = []
    counts: dict[str, int] = {}
    used_households: set[int] = set()
    for source in sources:
        rows = _records(ctx, source, month, planned_claims, used_households)
        result = write_source(ctx, messer, source, month, rows, out / "raw" / month / source)
        evaluator.add(source, month, result.kept)
        evaluator.add_lost(source, month, result.lost)
        truth += result.truth
        rejects += result.rejects
        written.files += result.files
        counts[source] = result.rows
        written.records[source] += result.rows
    written.by_month[month] = counts
    truth_dir = out / "truth" / month
    _write_csv(truth_dir / "record_truth.csv", TRUTH_COLUMNS, truth)
    _write_csv(truth_dir / "rejects_expected.csv", REJECT_COLUMNS, rejects)


def _records(
    ctx: Context,
    source: str,
    month: str,
    planned_claims: dict[str, list[Record]],
    used_households: set[int],
) -> list[Record]:
    """Ordinary rows plus the month's planted signals for one source."""
    if source == "medical_claims":
        share = (
            CLAIMS_SHARE if month >= ctx.district.ref.strftime("%Y-%m") else CLAIMS_SHARE_EARLIER
        )
        return bg.medical_claims(ctx, month, set(), share) + planned_claims[month]
    planted, exclude = plant(ctx, source, month, used_households)
    return bg.GENERATORS[source](ctx, month, exclude) + planted


def _in_forked_worker(work: Callable[[], _Written]) -> Callable[[], _Written]:
    """Run `work` in a forked child (it inherits the district); the returned function waits for it."""
    mp = multiprocessing.get_context("fork")
    reader, sender = mp.Pipe(duplex=False)

    def target() -> None:
        try:
            sender.send(("ok", work()))
        except BaseException:  # the parent re-raises it with the child's traceback
            sender.send(("error", traceback.format_exc()))
        finally:
            sender.close()

    process = mp.Process(target=target, name="fangfan-generate-history")
    process.start()
    sender.close()

    def wait() -> _Written:
        try:
            status, payload = reader.recv()
        except EOFError:
            status, payload = "error", f"worker exited with code {process.exitcode}"
        process.join()
        if status != "ok":
            raise RuntimeError(f"writing the claims history failed:\n{payload}")
        return payload

    return wait


def _write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
