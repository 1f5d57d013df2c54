"""A crash costs one rerun, never a stuck system (issue 8, item 1).

A `fangfan run` killed with SIGKILL while it holds the `duckdb_writer` slot leaves its run STARTED and
the slot claimed in the shared Dagster instance; the next run cleans that up and completes unaided,
with exports byte-identical to a clean run's. A run that has to wait for a LIVE run says which one
and stops promptly on SIGTERM. Both through `fangfan run` in subprocesses with their own
DAGSTER_HOME; the pieces in between (who owns a run, what gets freed) in-process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.generate import generate
from pipelines.resources import WRITER_POOL
from pipelines.runs import (
    TAG_HOST,
    TAG_PID,
    live_blockers,
    pid_alive,
    reap_dead_runs,
    run_hygiene,
)

REPO = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
# seconds: a run taking longer is stuck. A run of this district takes ~20 s on an idle machine and
# ~70 s on 2 cores shared with other work; a stuck run also shows itself earlier, by waiting.
HANG_LIMIT = 300


def _home(path: Path) -> Path:
    """A DAGSTER_HOME with the project's settings, its storage created before any child opens it."""
    path.mkdir(parents=True)
    shutil.copyfile(REPO / "dagster.yaml", path / "dagster.yaml")
    dg.DagsterInstance.from_config(str(path)).dispose()
    return path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGFAN_")}
    return env | {"DAGSTER_HOME": str(home), "FANGFAN_EXPORT_DATE": "2026-11-06"}


def _start(home: Path, data: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run", "--month", MONTH, "--data-dir", str(data)],
            cwd=REPO, env=_env(home), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _fake_run(
    instance: dg.DagsterInstance,
    *,
    pid: int | None,
    status=dg.DagsterRunStatus.STARTED,
    tags: dict[str, str] | None = None,
) -> str:
    """A run as another process would have left it: owned by `pid` (tags), claiming the writer
    slot (it gets it when the slot is free, else it queues for it)."""
    run_id = str(uuid.uuid4())
    tags = {"dagster/partition": "2026-09"} if tags is None else dict(tags)
    if pid is not None:
        tags |= {TAG_PID: str(pid), TAG_HOST: socket.gethostname()}
    instance.add_run(dg.DagsterRun(job_name="monthly_run", run_id=run_id, status=status, tags=tags))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(WRITER_POOL)
    storage.claim_concurrency_slot(WRITER_POOL, run_id, "roster")
    return run_id


def _claimed(instance: dg.DagsterInstance) -> list:
    return instance.event_log_storage.get_concurrency_info(WRITER_POOL).claimed_slots


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.e2e  # three whole months in subprocesses (≈ 1 min): CI runs it after the default suite
def test_kill_9_mid_run_then_the_next_run_completes_with_identical_exports(tmp_path):
    clean_data, crash_data = tmp_path / "clean" / "jinan", tmp_path / "crash" / "jinan"
    generate(clean_data, months=[MONTH], members=300, seed=11, messy=True)
    shutil.copytree(clean_data, crash_data)
    clean_home, crash_home = _home(tmp_path / "clean_home"), _home(tmp_path / "crash_home")
    children: list[subprocess.Popen] = []
    instance: dg.DagsterInstance | None = None
    try:
        # the reference run goes alongside the crash (its own instance, so neither waits)
        clean = _start(clean_home, clean_data, tmp_path / "clean.log")
        crash = _start(crash_home, crash_data, tmp_path / "crash.log")
        children += [clean, crash]

        # kill -9 while an export step holds the writer slot: the most harmful moment
        instance = dg.DagsterInstance.from_config(str(crash_home))
        deadline = time.monotonic() + HANG_LIMIT
        while not any(
            s.step_key in {"township_exports", "district_summary"} for s in _claimed(instance)
        ):
            assert crash.poll() is None, "the run ended before it could be killed mid-export"
            assert time.monotonic() < deadline, "the run never reached its export steps"
            time.sleep(0.05)
        crash.send_signal(signal.SIGKILL)
        crash.wait()
        (stuck,) = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert [s.run_id for s in _claimed(instance)] == [stuck.run_id]  # today's stuck state

        start = time.monotonic()
        rerun = _start(crash_home, crash_data, tmp_path / "rerun.log")
        children.append(rerun)
        while rerun.poll() is None:  # nothing alive holds the slot: it must never wait
            output = (tmp_path / "rerun.log").read_text()
            if "等待" in output or time.monotonic() - start > HANG_LIMIT:
                pytest.fail(f"the rerun is stuck: {output}")
            time.sleep(0.2)
        assert rerun.returncode == 0, (tmp_path / "rerun.log").read_text()
        rerun_seconds = time.monotonic() - start
        output = (tmp_path / "rerun.log").read_text()
        assert f"已清理中断的运行 {stuck.run_id}" in output
        assert instance.get_run_by_id(stuck.run_id).status == dg.DagsterRunStatus.FAILURE
        assert _claimed(instance) == []
        assert instance.event_log_storage.get_concurrency_info(WRITER_POOL).pending_steps == []

        assert clean.wait(timeout=HANG_LIMIT) == 0, (tmp_path / "clean.log").read_text()
        expected = _hashes(clean_data / "exports")
        assert expected and _hashes(crash_data / "exports") == expected
        print(f"rerun after kill -9: {rerun_seconds:.1f} s")
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        if instance is not None:  # its SQLite connections closed before tmp_path goes
            instance.dispose()


def test_sigterm_stops_a_run_waiting_for_a_live_run_promptly_and_says_what_it_waited_for(tmp_path):
    home = _home(tmp_path / "home")
    data = tmp_path / "d"
    (data / "raw" / MONTH).mkdir(parents=True)
    instance = dg.DagsterInstance.from_config(str(home))
    holder = _fake_run(instance, pid=os.getpid())  # this test process: alive
    log = tmp_path / "waiting.log"
    waiting = _start(home, data, log)
    try:
        deadline = time.monotonic() + HANG_LIMIT
        while "等待另一个运行结束" not in log.read_text():
            assert waiting.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no waiting message"
            time.sleep(0.1)
        text = log.read_text()
        assert holder in text and f"进程 {os.getpid()}" in text and "步骤 roster" in text
        assert "开始" in text and "Ctrl-C" in text

        sent = time.monotonic()
        waiting.send_signal(signal.SIGTERM)
        code = waiting.wait(timeout=30)
        stopped_after = time.monotonic() - sent
        print(f"SIGTERM to a waiting run: ended after {stopped_after:.2f} s")
        assert code == 130
        assert stopped_after < 10
        assert f"已停止：收到终止信号，{MONTH} 还没有开始运行" in log.read_text()
        # the live run was left alone, and the waiting one never launched a run of its own
        assert [s.run_id for s in _claimed(instance)] == [holder]
        assert [r.run_id for r in instance.get_runs()] == [holder]
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
        instance.dispose()


# launched in the same second as a live run, ours waits inside Dagster's executor, not our loop
_BLOCKED_INSIDE_DAGSTER = """
import sys, uuid
import dagster as dg
from pipelines import runs
from pipelines.definitions import MONTHLY_JOB, defs, district_partition

job = defs().resolve_job_def(MONTHLY_JOB)
run_id = str(uuid.uuid4())
print("run", run_id, flush=True)
with dg.DagsterInstance.get() as instance, runs.watch_run(run_id, timeout=600):
    job.execute_in_process(
        partition_key=district_partition(sys.argv[1], instance=instance), instance=instance, raise_on_error=False, run_id=run_id,
        tags=runs.launch_tags(), run_config={"loggers": {"terminal": {}}},
    )
"""


def test_sigterm_stops_a_run_blocked_inside_dagsters_executor(tmp_path):
    home = _home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    holder = _fake_run(instance, pid=os.getpid())
    log = tmp_path / "blocked.log"
    env = _env(home) | {"FANGFAN_DATA_DIR": str(tmp_path / "d")}
    with log.open("wb") as out:
        blocked = subprocess.Popen(
            [sys.executable, "-c", _BLOCKED_INSIDE_DAGSTER, MONTH],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + HANG_LIMIT
        while "等待仓库写入槽" not in log.read_text():
            assert blocked.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no waiting message"
            time.sleep(0.1)
        assert holder in log.read_text()
        sent = time.monotonic()
        blocked.send_signal(signal.SIGTERM)  # Dagster only sets a flag; the watcher acts on it
        assert blocked.wait(timeout=30) == 130
        print(
            f"SIGTERM to a run blocked in the executor: ended after {time.monotonic() - sent:.2f} s"
        )
        assert time.monotonic() - sent < 10
        ours = log.read_text().split()[1]
        assert instance.get_run_by_id(ours).status == dg.DagsterRunStatus.CANCELED
        info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
        assert {s.run_id for s in info.claimed_slots} == {holder}
        assert {p.run_id for p in info.pending_steps} == {holder}  # our queued claims are gone
    finally:
        if blocked.poll() is None:
            blocked.kill()
            blocked.wait()


def test_dead_owners_are_cleaned_up_and_live_ones_left_alone(tmp_path, monkeypatch):
    instance = dg.DagsterInstance.from_config(str(_home(tmp_path / "home")))
    dead = _fake_run(instance, pid=_dead_pid())
    canceling = _fake_run(instance, pid=_dead_pid(), status=dg.DagsterRunStatus.CANCELING)
    alive = _fake_run(instance, pid=os.getpid())  # blocked behind `dead`: pending, not claimed
    lines = reap_dead_runs(instance)
    assert len(lines) == 2 and all("已清理中断的运行" in line for line in lines)
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(canceling).status == dg.DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
    # the live run's queued claim got the freed slot
    pending = instance.event_log_storage.get_concurrency_info(WRITER_POOL).pending_steps
    assert [(p.run_id, p.assigned_timestamp is not None) for p in pending] == [(alive, True)]
    assert [b.run_id for b in live_blockers(instance)] == [alive]
    assert reap_dead_runs(instance) == []

    # a run with no owner tags and no events (UI launch that never started): dead once stale
    untagged = _fake_run(instance, pid=None, status=dg.DagsterRunStatus.STARTING)
    assert reap_dead_runs(instance, exclude=frozenset({alive})) == []
    monkeypatch.setattr("pipelines.runs.STALE_AFTER_SECONDS", 0)
    (line,) = reap_dead_runs(instance, exclude=frozenset({alive}))
    assert untagged in line


def test_a_killed_run_of_the_years_claims_is_cleaned_up_naming_its_months(tmp_path):
    """The year's earlier claims months caught up in one run have no partition tag, only a
    range: an independent fault probe's killed one was cleaned up as （?，…）."""
    instance = dg.DagsterInstance.from_config(str(_home(tmp_path / "home")))
    ranged = {
        "dagster/asset_partition_range_start": "bench|2026-01",
        "dagster/asset_partition_range_end": "bench|2026-09",
    }
    dead = _fake_run(instance, pid=_dead_pid(), tags=ranged)
    (line,) = reap_dead_runs(instance)
    assert dead in line and "bench|2026-01 – bench|2026-09" in line and "?" not in line


def test_a_finished_run_that_kept_its_slot_loses_it_once_its_process_is_gone(tmp_path):
    instance = dg.DagsterInstance.from_config(str(_home(tmp_path / "home")))
    live = _fake_run(instance, pid=os.getpid(), status=dg.DagsterRunStatus.FAILURE)
    assert reap_dead_runs(instance) == []  # its process still runs the step: it frees the slot
    instance.event_log_storage.free_concurrency_slots_for_run(live)
    dead = _fake_run(instance, pid=_dead_pid(), status=dg.DagsterRunStatus.FAILURE)
    (line,) = reap_dead_runs(instance)
    assert dead in line and "遗留的仓库写入槽" in line
    assert _claimed(instance) == []


def test_a_reused_pid_does_not_keep_a_dead_run_alive():
    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), owned_since=time.time())
    assert not pid_alive(_dead_pid())
    if Path("/proc/self/stat").exists():  # our process started after this "run" was created
        assert not pid_alive(os.getpid(), owned_since=time.time() - 10 * 24 * 3600)


def test_run_monitoring_is_on_and_valid_for_the_installed_dagster(tmp_path):
    from dagster._core.instance.config import dagster_instance_config_schema, validate_config

    settings = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert validate_config(dagster_instance_config_schema(), settings).success
    instance = dg.DagsterInstance.from_config(str(_home(tmp_path / "home")))
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
    assert instance.run_monitoring_max_resume_run_attempts == 0  # the default launcher can't


def test_the_hygiene_sensor_runs_by_default_and_cleans_up(tmp_path):
    from pipelines.definitions import defs

    sensor = defs().resolve_sensor_def("run_hygiene")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    instance = dg.DagsterInstance.from_config(str(_home(tmp_path / "home")))
    dead = _fake_run(instance, pid=_dead_pid())
    result = run_hygiene(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason) and dead in result.skip_message
    assert _claimed(instance) == []


def test_a_run_asks_storage_once_whether_its_district_is_a_partition():
    """Dagster asks the instance whether a dynamic partition exists each time a step expands
    its partition range (464 storage queries, 1.6 s, in a district's first run): a district
    found is remembered for the run; one not found is asked again (it may be added meanwhile)."""
    from pipelines.runs import remembering_partitions

    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("district", ["341502"])
        asked: list[str] = []
        ask = instance.has_dynamic_partition

        def counted(name: str, key: str) -> bool:
            asked.append(key)
            return ask(name, key)

        instance.has_dynamic_partition = counted
        remembering = remembering_partitions(instance)
        assert all(remembering.has_dynamic_partition("district", "341502") for _ in range(5))
        assert not remembering.has_dynamic_partition("district", "341503")
        instance.add_dynamic_partitions("district", ["341503"])
        assert remembering.has_dynamic_partition("district", "341503")
        assert asked == ["341502", "341503", "341503"]
        # what a step sees of the partitions definition, through the remembering instance
        partitions = dg.DynamicPartitionsDefinition(name="district")
        assert partitions.has_partition_key("341502", dynamic_partitions_store=remembering)
        assert asked == ["341502", "341503", "341503"]
