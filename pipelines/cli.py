"""The `fangfan` command: generate a synthetic district, run a month through Dagster, open the UI."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.config import (
    DATA_DIR_ENV,
    DISTRICT_ENV,
    EXPORT_DATE_ENV,
    RULES_ENV,
    DataDir,
    district_key,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def ensure_dagster_home() -> Path:
    """A persistent instance (run history survives restarts) with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or REPO_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    source = REPO_ROOT / "dagster.yaml"
    target = home / "dagster.yaml"
    if source.is_file() and (not target.is_file() or target.read_bytes() != source.read_bytes()):
        shutil.copyfile(source, target)
    # no "join the community" popup in the UI for a bureau's offline machine
    (home / ".nux").mkdir(exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _set_data_env(args: argparse.Namespace) -> DataDir:
    if getattr(args, "data_dir", None):
        os.environ[DATA_DIR_ENV] = str(Path(args.data_dir).resolve())
    layout = DataDir(Path(os.environ.get(DATA_DIR_ENV, REPO_ROOT / "data")).resolve())
    os.environ[DATA_DIR_ENV] = str(layout.root)
    if getattr(args, "district", None):
        os.environ[DISTRICT_ENV] = args.district
    if getattr(args, "rules", None):
        os.environ[RULES_ENV] = str(Path(args.rules).resolve())
    if getattr(args, "export_date", None):
        os.environ[EXPORT_DATE_ENV] = args.export_date
    return layout


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import generate

    months = args.months.split(",") if args.months else [args.month]
    summary = generate(
        Path(args.out), months=months, members=args.members, seed=args.seed, messy=args.messy
    )
    print(f"synthetic district written to {Path(args.out).resolve()} for {', '.join(months)}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _earlier_claims_to_ingest(layout: DataDir, district: str, month: str) -> list[str]:
    from pipelines.warehouse import connect, table_exists

    earlier = sorted(
        p.parent.name
        for p in layout.raw.glob(f"{month[:4]}-*/medical_claims")
        if p.parent.name < month
    )
    if not earlier or not layout.database.exists():
        return earlier
    with connect(layout.database, read_only=True) as con:
        if not table_exists(con, "source_status"):
            return earlier
        done = {
            r[0]
            for r in con.execute(
                "SELECT month FROM source_status WHERE district = ? AND source = 'medical_claims'"
                " AND received",
                [district],
            ).fetchall()
        }
    return [m for m in earlier if m not in done]


def run_month(layout: DataDir, month: str) -> bool:
    """Materialise every asset of one monthly partition against the persistent instance."""
    import dagster as dg

    from pipelines.definitions import MONTHLY_JOB, defs

    ensure_dagster_home()
    definitions = defs()
    job = definitions.resolve_job_def(MONTHLY_JOB)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=month,
            instance=instance,
            raise_on_error=False,
            # the event log keeps every step; the terminal shows warnings and the summary only
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                while error is not None and error.cause is not None:
                    error = error.cause  # the user code's own exception, not Dagster's wrapper
                message = error.message.strip().splitlines()[-1] if error else ""
                print(f"失败：{event.step_key}: {message}", file=sys.stderr)
    return result.success


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.report import run_summary

    layout = _set_data_env(args)
    if not (layout.raw / args.month).is_dir():
        print(f"{layout.raw / args.month} 不存在：没有这个月的原始数据", file=sys.stderr)
        return 2
    district = district_key(layout)
    earlier = _earlier_claims_to_ingest(layout, district, args.month)
    if earlier:
        print(
            f"YB01 需要全年累计：先读入仓库中还没有的 {', '.join(earlier)} 医保结算明细 (medical_claims)"
        )
    ok = run_month(layout, args.month)
    if layout.database.exists():
        print(run_summary(layout, district, args.month))
    if not ok:
        print(f"{args.month} 的运行失败，详见 Dagster UI（fangfan ui）", file=sys.stderr)
        return 1
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    _set_data_env(args)
    ensure_dagster_home()
    dagster = Path(sys.executable).parent / "dagster"
    command = [
        str(dagster), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(args.port),
    ]  # fmt: skip
    print(f"Dagster UI: http://127.0.0.1:{args.port}  (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    return subprocess.call(command, cwd=REPO_ROOT)


def cmd_replay(args: argparse.Namespace) -> int:
    from pipelines.config import load_rule_config
    from pipelines.rules.replay import format_replay, replay
    from pipelines.warehouse import connect

    layout = _set_data_env(args)
    if not layout.database.exists():
        print(f"{layout.database} 不存在：请先运行 fangfan run", file=sys.stderr)
        return 2
    current = load_rule_config(layout)
    proposed = load_rule_config(layout, Path(args.proposed_rules))
    with connect(layout.database, read_only=True) as con:
        result = replay(
            con, district=district_key(layout), first=args.from_month, last=args.to_month,
            current=current, proposed=proposed,
        )  # fmt: skip
    print(format_replay(result))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from pipelines.scoring import format_score, score_month

    layout = _set_data_env(args)
    truth = Path(args.truth) if args.truth else layout.root / "truth"
    table = score_month(layout.database, truth, district_key(layout), args.month)
    print(format_score(table))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fangfan", description="防返贫动态监测 月度部门数据比对")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic district in the contract's raw layout")
    gen.add_argument("--out", required=True)
    when = gen.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", help="YYYY-MM")
    when.add_argument("--months", help="YYYY-MM,YYYY-MM,... (a multi-month scenario)")
    gen.add_argument("--members", type=int, default=20_000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--messy", action="store_true")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="run one month through Dagster and print the summary")
    run.add_argument("--month", required=True, help="YYYY-MM")
    run.add_argument("--data-dir", help=f"data directory (default ./data or ${DATA_DIR_ENV})")
    run.add_argument("--district", help=f"district key for every table (default: the data dir's name, or ${DISTRICT_ENV})")
    run.add_argument("--rules", help="a rules TOML overriding the defaults")
    run.add_argument("--export-date", help="YYYY-MM-DD the first export of the month counts from")
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("replay", help="evaluate a changed rule configuration over past months")
    rep.add_argument("--rules", dest="proposed_rules", required=True, help="the proposed rules TOML")
    rep.add_argument("--from", dest="from_month", required=True, help="YYYY-MM")
    rep.add_argument("--to", dest="to_month", required=True, help="YYYY-MM")
    rep.add_argument("--data-dir")
    rep.set_defaults(func=cmd_replay)

    sco = sub.add_parser("score", help="precision/recall per rule against a synthetic district's truth")
    sco.add_argument("--month", required=True)
    sco.add_argument("--data-dir")
    sco.add_argument("--truth", help="truth folder (default: <data dir>/truth)")
    sco.set_defaults(func=cmd_score)

    ui = sub.add_parser("ui", help="start the Dagster UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--data-dir")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
