"""Run hygiene for the shared Dagster instance: a crashed run costs one rerun, never a stuck system.

Every writer step queues in the `duckdb_writer` pool (limit 1), and the pool's slots live in the
instance (`$DAGSTER_HOME`), not in the process that claimed them. A run killed midway (kill -9, a
closed terminal, a power cut) leaves its run STARTED and its slot claimed, and Dagster 1.13.27's
in-process executor then waits for that slot for ever, at full CPU, deaf to SIGTERM and Ctrl-C:

- `InstanceConcurrencyContext.interval_to_next_pending_claim_check` returns ``min([0, …])``, never
  more than 0, so `ActiveExecution.sleep_til_ready` never sleeps
  (dagster/_core/execution/plan/instance_concurrency_context.py, …/plan/active.py);
- `ExecuteRunWithPlanIterable.__iter__` runs inside `capture_interrupts()`, whose handler (SIGTERM
  is mapped onto it) only sets a flag; the flag is read by `raise_execution_interrupts` when a
  step starts, and a blocked run starts none (dagster/_utils/interrupts.py, …/execution/api.py);
- `execute_in_process` always uses its own in-process executor, so no custom executor can change
  that loop (dagster/_core/definitions/executor_definition.py `execute_in_process_executor`).

So, before `fangfan run` launches:

- `reap_dead_runs` finds unfinished runs whose owning process is gone, marks them failed
  (`instance.report_run_failed`) and frees their slots and pending claims
  (`event_log_storage.free_concurrency_slots_for_run`, which also hands a freed slot to the next
  queued step);
- `wait_for_writer` waits, in a loop of our own that sleeps and stops on Ctrl-C/SIGTERM, while a
  LIVE run is active, saying which run (id, month, pid, since when, which step holds the slot);

while it runs, `watch_run` (a thread) covers two runs launched in the same second: when ours is
blocked in the pool it reaps dead holders, says what it waits for, and on a signal or after the
timeout cancels our run, frees its claims and ends the process (the executor would not);
`terminal_logger` keeps Dagster's stack traces off the terminal (they stay in the event log); and
under `fangfan ui` the `run_hygiene` sensor does the same clean-up every minute, because the
default run launcher cannot report a dead run worker to Dagster's run monitoring.

The owner of a run: the `fangfan/pid` + `fangfan/host` tags set at launch by `fangfan run`; for
runs without them (launched from the UI, or by an older version) the process that logged the run's
latest event; with no pid at all, a run that has logged nothing for `STALE_AFTER_SECONDS` is dead.
A pid that is alive but belongs to a process started after the run's evidence is a reused pid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG
from pipelines.resources import WRITER_POOL

TAG_PID = "fangfan/pid"
TAG_HOST = "fangfan/host"
PARTITION_TAG = "dagster/partition"
STALE_AFTER_SECONDS = 15 * 60
DEFAULT_WAIT_SECONDS = 60 * 60
POLL_SECONDS = 1.0

# statuses of a run that has (or is about to have) a worker, and so may hold or claim pool slots
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

Say = Callable[[str], None]


def remembering_partitions(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """`instance`, answering "is this district a partition?" from memory once storage said yes.

    Dagster asks the instance whether a dynamic partition exists each time a step's partition
    range is expanded (its metadata per month, its inputs' versions, its outputs): a query of
    the run storage every time, 464 of them (1.6 s) in a district's first run. A district that
    exists when its run starts is not removed during it; one not yet there is asked again."""
    ask = instance.has_dynamic_partition
    known: set[tuple[str, str]] = set()

    def has_dynamic_partition(partitions_def_name: str, partition_key: str) -> bool:
        if (partitions_def_name, partition_key) in known:
            return True
        there = ask(partitions_def_name, partition_key)
        if there:
            known.add((partitions_def_name, partition_key))
        return there

    instance.has_dynamic_partition = has_dynamic_partition  # type: ignore[method-assign]
    return instance


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class WaitTimedOut(Exception):
    """Another live run kept the warehouse longer than we were told to wait."""


class StoppedWaiting(KeyboardInterrupt):
    """Ctrl-C / SIGTERM while waiting for another run: nothing of ours had started."""


def launch_tags() -> dict[str, str]:
    """Tags `fangfan run` puts on its run, so that a later run can tell whether it is still alive."""
    return {TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname()}


# --- is the owning process alive? -------------------------------------------------------------


def _process_started_at(pid: int) -> float | None:
    """Start time (epoch seconds) of a process, from /proc; None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    if fields[0] in {"Z", "X"}:  # a zombie: dead, only not yet reaped by its parent
        return float("inf")
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def pid_alive(pid: int, *, owned_since: float | None = None) -> bool:
    """True if `pid` is a running process that could be the one that was there at `owned_since`
    (a process started later is another program that got the same pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    except OSError:
        return False
    started = _process_started_at(pid)
    if started is None:
        return True
    if started == float("inf"):
        return False
    return owned_since is None or started <= owned_since + 2.0  # /proc btime is whole seconds


def _epoch(value: datetime | float | None) -> float | None:
    if value is None or isinstance(value, float | int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass(frozen=True)
class Owner:
    pid: int | None
    host: str | None
    alive: bool
    why: str  # Chinese, for the terminal: why we think so


def _latest_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int | None, float | None]:
    records = instance.get_records_for_run(run_id, ascending=False, limit=50).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid:
            return event.pid, record.event_log_entry.timestamp
    latest = records[0].event_log_entry.timestamp if records else None
    return None, latest


def run_owner(instance: dg.DagsterInstance, record: dg.RunRecord) -> Owner:
    """Who runs `record`, and whether that process still exists."""
    tags = record.dagster_run.tags
    created = _epoch(record.create_timestamp)
    if TAG_PID in tags:
        pid, host = int(tags[TAG_PID]), tags.get(TAG_HOST)
        if host and host != socket.gethostname():
            return Owner(pid, host, True, f"在另一台机器 {host} 上，无法检查")
        alive = pid_alive(pid, owned_since=created)
        return Owner(pid, host, alive, "进程仍在运行" if alive else f"进程 {pid} 已不存在")
    pid, latest = _latest_pid(instance, record.dagster_run.run_id)
    if pid is not None:
        alive = pid_alive(pid, owned_since=latest)
        return Owner(pid, None, alive, "进程仍在运行" if alive else f"进程 {pid} 已不存在")
    quiet_since = max(
        t for t in (created, _epoch(record.update_timestamp), latest) if t is not None
    )
    idle = time.time() - quiet_since
    alive = idle < STALE_AFTER_SECONDS
    return Owner(
        None,
        None,
        alive,
        "没有进程号，刚创建" if alive else f"没有进程号，{idle / 60:.0f} 分钟无动静",
    )


# --- clean up after dead runs -------------------------------------------------------------------


def _month(run: dg.DagsterRun) -> str:
    """The run's partition, or the first and last of its range (the year's claims caught up in
    one run have no partition tag: a killed one had been cleaned up as "?")."""
    if PARTITION_TAG in run.tags:
        return run.tags[PARTITION_TAG]
    first, last = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    return f"{first} – {last}" if first and last else ""


def _pool_run_ids(instance: dg.DagsterInstance) -> set[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return set()
    info = storage.get_concurrency_info(WRITER_POOL)
    return (
        set(storage.get_concurrency_run_ids())
        | {slot.run_id for slot in info.claimed_slots}
        | {step.run_id for step in info.pending_steps}
    )


def reap_dead_runs(
    instance: dg.DagsterInstance, *, exclude: frozenset[str] = frozenset()
) -> list[str]:
    """Mark unfinished runs whose owner is gone as failed and free every pool slot and pending claim
    held by a run that will never free it. Returns one Chinese line per run cleaned up."""
    lines = []
    storage = instance.event_log_storage
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if run.run_id in exclude:
            continue
        owner = run_owner(instance, record)
        if owner.alive:
            continue
        canceling = run.status == dg.DagsterRunStatus.CANCELING
        marked = "已取消" if canceling else "失败"
        message = f"运行所属进程已不在（{owner.why}）：由 fangfan 标记为{marked}并释放 {WRITER_POOL} 写入槽"
        if canceling:
            instance.report_run_canceled(run, message=message)
        else:
            instance.report_run_failed(run, message=message)
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(
            f"已清理中断的运行 {run.run_id}（{_month(run) or '?'}，{owner.why}）："
            f"标记为{marked}，释放仓库写入槽"
        )
    # slots and claims of runs that are finished or gone but never released them
    for run_id in _pool_run_ids(instance) - exclude:
        record = next(iter(instance.get_run_records(filters=dg.RunsFilter(run_ids=[run_id]))), None)
        if record is not None and not record.dagster_run.is_finished:
            continue  # unfinished: handled above (alive, so it will release them itself)
        if record is not None and run_owner(instance, record).alive:
            continue  # finished but its process still runs a step: it releases the slot itself
        storage.free_concurrency_slots_for_run(run_id)
        state = record.dagster_run.status.value if record else "已删除"
        lines.append(f"已释放运行 {run_id}（{state}）遗留的仓库写入槽")
    return lines


# --- who is in the way --------------------------------------------------------------------------


@dataclass(frozen=True)
class Blocker:
    run_id: str
    month: str
    pid: int | None
    host: str | None
    started: float | None
    step: str | None  # the step holding the writer slot, if any
    step_since: float | None

    def describe(self) -> str:
        who = f"进程 {self.pid}" if self.pid else "进程号未知"
        if self.host and self.host != socket.gethostname():
            who += f"@{self.host}"
        text = f"运行 {self.run_id}（{self.month or '?'}，{who}"
        if self.started:
            text += f"，{_clock(self.started)} 开始"
        text += "）"
        if self.step:
            since = f"，{_clock(self.step_since)} 起" if self.step_since else ""
            text += f"正占用仓库写入槽（{WRITER_POOL}，步骤 {self.step}{since}）"
        else:
            text += "正在运行"
        return text


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def live_blockers(
    instance: dg.DagsterInstance, *, exclude: frozenset[str] = frozenset()
) -> list[Blocker]:
    """Unfinished runs whose owner is alive (other than `exclude`), and what each holds."""
    held: dict[str, tuple[str, float | None]] = {}
    if instance.event_log_storage.supports_global_concurrency_limits:
        info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
        assigned = {(p.run_id, p.step_key): p.assigned_timestamp for p in info.pending_steps}
        for slot in info.claimed_slots:
            held[slot.run_id] = (slot.step_key, _epoch(assigned.get((slot.run_id, slot.step_key))))
    blockers = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if run.run_id in exclude:
            continue
        owner = run_owner(instance, record)
        if not owner.alive:
            continue
        step, since = held.get(run.run_id, (None, None))
        blockers.append(
            Blocker(
                run.run_id, _month(run), owner.pid, owner.host,
                record.start_time or _epoch(record.create_timestamp), step, since,
            )
        )  # fmt: skip
    return blockers


def wait_for_writer(
    instance: dg.DagsterInstance, *, timeout: float = DEFAULT_WAIT_SECONDS, say: Say = _stderr
) -> None:
    """Return when no live run is active in the instance, after cleaning up dead ones.

    Sleeps between checks (no busy loop); Ctrl-C / SIGTERM (as KeyboardInterrupt) stop it at once.
    Raises WaitTimedOut after `timeout` seconds of waiting for a live run.
    """
    try:
        _wait_for_writer(instance, timeout, say)
    except KeyboardInterrupt:
        raise StoppedWaiting from None


def _wait_for_writer(instance: dg.DagsterInstance, timeout: float, say: Say) -> None:
    deadline = time.monotonic() + timeout
    shown: tuple = ()
    while True:
        for line in reap_dead_runs(instance):
            say(line)
        blockers = live_blockers(instance)
        if not blockers:
            return
        key = tuple((b.run_id, b.step) for b in blockers)
        if key != shown:
            shown = key
            say(
                "等待另一个运行结束（仓库同一时间只能有一个写入者）：\n"
                + "\n".join(f"  {b.describe()}" for b in blockers)
                + f"\n  最多等待 {timeout / 60:.0f} 分钟；按 Ctrl-C 取消"
            )
        if time.monotonic() >= deadline:
            raise WaitTimedOut(
                f"等待 {timeout / 60:.0f} 分钟后，"
                + "；".join(b.describe() for b in blockers)
                + "，仍未结束。本次没有运行：等它结束后重新运行；若它已不需要，"
                "结束该进程或在 Dagster UI（fangfan ui）中终止它"
            )
        time.sleep(POLL_SECONDS)


# --- while our own run is in Dagster's hands ----------------------------------------------------


def _blocked_in_pool(instance: dg.DagsterInstance, run_id: str) -> bool:
    info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
    waiting = {p.step_key for p in info.pending_steps if p.run_id == run_id}
    holding = {s.step_key for s in info.claimed_slots if s.run_id == run_id}
    return bool(waiting - holding)


def _abandon(instance: dg.DagsterInstance, run_id: str, message: str, code: int, say: Say) -> None:
    say(message)
    with contextlib.suppress(Exception):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_canceled(run, message=message)
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _watch(run_id: str, timeout: float, say: Say, stop: threading.Event) -> None:
    from dagster._utils.interrupts import check_captured_interrupt

    others = frozenset({run_id})
    blocked_since: float | None = None
    interrupt_seen = 0
    shown: tuple = ()
    with dg.DagsterInstance.get() as instance:
        if not instance.event_log_storage.supports_global_concurrency_limits:
            return
        while not stop.wait(0.5):
            try:
                blocked = _blocked_in_pool(instance, run_id)
            except Exception:  # storage busy: look again next time
                continue
            if not blocked:
                blocked_since, interrupt_seen, shown = None, 0, ()
                continue
            blocked_since = blocked_since or time.monotonic()
            # Dagster keeps SIGINT/SIGTERM as a flag until the next step starts; blocked, none does
            interrupt_seen = interrupt_seen + 1 if check_captured_interrupt() else 0
            if interrupt_seen >= 2:
                message = "已停止：收到终止信号，本次运行未完成（重新运行即可）"
                _abandon(instance, run_id, message, 130, say)
            if time.monotonic() - blocked_since > timeout:
                message = (
                    f"等待仓库写入槽超过 {timeout / 60:.0f} 分钟，本次运行已取消（重新运行即可）"
                )
                _abandon(instance, run_id, message, 1, say)
            try:
                for line in reap_dead_runs(instance, exclude=others):
                    say(line)
                blockers = live_blockers(instance, exclude=others)
            except Exception:
                continue
            key = tuple((b.run_id, b.step) for b in blockers)
            if blockers and key != shown:
                shown = key
                described = "；".join(b.describe() for b in blockers)
                say(f"等待仓库写入槽：{described}（Ctrl-C 取消）")


def _watch_quietly(run_id: str, timeout: float, say: Say, stop: threading.Event) -> None:
    try:
        _watch(run_id, timeout, say, stop)
    except Exception:  # a watcher that fails must not disturb the run it watches
        logging.getLogger(__name__).debug("run watch stopped", exc_info=True)


@contextlib.contextmanager
def watch_run(
    run_id: str, *, timeout: float = DEFAULT_WAIT_SECONDS, say: Say = _stderr
) -> Iterator[None]:
    """Watch our own run from a thread while Dagster executes it in the main thread."""
    stop = threading.Event()
    thread = threading.Thread(
        target=_watch_quietly,
        args=(run_id, timeout, say, stop),
        name="fangfan-run-watch",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether the run ended because a signal (Ctrl-C, SIGTERM) interrupted it: in Dagster's
    executor, or inside a DuckDB query, which the signal interrupts (InterruptException: no
    step asks DuckDB to stop otherwise). A stop had been told as 程序内部错误, to be sent to
    technical support (an independent fault probe, indep31)."""
    names = {"DagsterExecutionInterruptedError", "KeyboardInterrupt", "InterruptException"}
    for event in result.all_events:
        data = event.event_specific_data
        error = getattr(data, "error", None)
        while error is not None:
            if error.cls_name in names or _QUERY_INTERRUPTED in (error.message or ""):
                return True
            error = error.cause
    return False


# what DuckDB raises (a RuntimeError) when the signal reaches it while a result is fetched
_QUERY_INTERRUPTED = "Query interrupted"


# --- the terminal: plain lines, no Dagster stack traces ------------------------------------------


class _PlainUserMessages(logging.Handler):
    """Only the warnings the assets themselves log (context.log.warning), one plain line each.

    Dagster's own events (step failures with their "Stack Trace:" blocks among them) and its
    engine's error lines stay in the run's event log (Dagster UI): `fangfan run` prints one plain
    失败： line per failed step itself, after the run.
    """

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None or record.levelno >= logging.ERROR:
            return
        text = meta.get("orig_message") or record.getMessage()
        step = meta.get("step_key")
        if step and not text.startswith(f"{step}:"):
            text = f"{step}: {text}"
        print(f"⚠ {text}", file=sys.stderr, flush=True)


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="WARNING")},
    description="fangfan run 的终端输出：只显示资产自己记录的提示（不含 Dagster 堆栈），完整记录在运行日志中",
)
def terminal_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("fangfan.terminal", level=init_context.logger_config["log_level"])
    logger.addHandler(_PlainUserMessages())
    return logger


# --- the same cleanup under `fangfan ui` / dagster dev ---------------------------------------------


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "运行清理：进程已不在的未完成运行标记为失败，并释放它占用的仓库写入槽"
        "（默认的运行启动器不支持 Dagster 自带的运行进程健康检查）"
    ),
)
def run_hygiene(context: dg.SensorEvaluationContext):
    lines = reap_dead_runs(context.instance)
    for line in lines:
        context.log.info(line)
    return dg.SkipReason("；".join(lines) if lines else "没有需要清理的运行")
