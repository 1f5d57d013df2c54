"""The city profile on real services (issue 11 item 5): PostgreSQL in a temp folder, Redis, one
Celery worker, the Dagster daemon and webserver, all on 127.0.0.1 (pipelines/city/services.py).

Two tiny districts of a generated city run one month through the daemon (a partition backfill,
as from the UI) and dagster-celery's run launcher; their exports must be byte for byte those of
a plain in-process `fangfan run` of the same data, and no service may outlive the test, even a
failing one. A run whose worker process is killed is failed by run monitoring and retried once. Marked `services`: not in the default suite; CI runs `make test-services`, after
installing postgresql and redis-server where they are missing (.ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.city.services import CityServices, run_city_month

pytestmark = pytest.mark.services

MONTH = "2026-10"
EXPORT_DATE = "2026-11-06"
REPO = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    """A live process (a zombie waiting for its reaper is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def _processes_under(folder: Path) -> list[str]:
    """Live processes whose command line names `folder` (sockets, data dirs, DAGSTER_HOME)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmdline and _alive(int(proc.name)):
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


def _group_members(pgids: list[int]) -> list[int]:
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with_pid = int(proc.name)
        try:
            if os.getpgid(with_pid) in pgids and _alive(with_pid):
                members.append(with_pid)
        except OSError:
            continue
    return members


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_services_stop_even_when_the_block_fails(tmp_path):
    """A failure inside the block: PostgreSQL and Redis (and every process of their groups) are
    gone afterwards, and so are their folders."""
    services = CityServices(tmp_path, workers=0, daemon=False, webserver=False, scratch=tmp_path)
    with pytest.raises(RuntimeError, match="boom"), services:
        pgids = [s.process.pid for s in services.services]
        folder = services.folder
        assert {s.name for s in services.services} == {"postgres", "redis"}
        assert all(s.alive for s in services.services)
        raise RuntimeError("boom")
    assert _group_members(pgids) == []
    assert not folder.exists()


def test_two_districts_on_celery_match_a_plain_run(tmp_path):
    from pipelines.city.generate import generate_city

    celery_root = tmp_path / "celery"
    plain_root = tmp_path / "plain"
    generate_city(celery_root, districts=2, members=300, month=MONTH, seed=11)
    # one month only: the earlier months' claims (YB01's year) would add a claims_history run per
    # month and district, each a Celery task; make city runs those
    for earlier in celery_root.glob(f"*/raw/{MONTH[:4]}-*"):
        if earlier.name != MONTH:
            shutil.rmtree(earlier)
    shutil.copytree(celery_root, plain_root)

    # the plain run: `fangfan run` in-process, its own SQLite instance
    plain = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--month", MONTH, "--data-dir",
         str(plain_root), "--export-date", EXPORT_DATE],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "plain_home")},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stdout + plain.stderr

    services = CityServices(
        celery_root,
        workers=1,
        scratch=tmp_path / "services",
        env={"FANGFAN_EXPORT_DATE": EXPORT_DATE},
    )
    try:
        with services:
            pgids = [s.process.pid for s in services.services]
            folder = services.folder
            result = run_city_month(services, MONTH, timeout=1500)
    finally:
        leftovers = _processes_under(tmp_path / "services")
    assert leftovers == []
    assert _group_members(pgids) == []
    assert not folder.exists()

    by_code = {d.code: d for d in result["districts"]}
    assert len(by_code) == 2
    assert all(d.status == "SUCCESS" and d.attempts == 1 for d in by_code.values()), by_code
    # every run went through the Celery launcher (the task id is on the run)
    assert result["celery_tasks"] == result["runs"] == 2
    assert result["city_status"] == "SUCCESS"

    for code in by_code:
        celery_exports = _files(celery_root / code / "exports")
        plain_exports = _files(plain_root / code / "exports")
        assert celery_exports, f"{code}: no exports"
        assert sorted(celery_exports) == sorted(plain_exports)
        different = [f for f in celery_exports if celery_exports[f] != plain_exports[f]]
        assert different == [], f"{code}: files differ from the plain run: {different}"


def _pool_processes(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_run_whose_worker_dies_is_failed_by_monitoring_and_retried(tmp_path):
    """The process running a district's run is killed (as the OOM killer would): run monitoring
    asks Celery for the task's state, marks the run failed, and the daemon retries it once."""
    import time

    from pipelines.city.generate import generate_city
    from pipelines.partitions import partition_key

    root = tmp_path / "city"
    generate_city(root, districts=2, members=2000, month=MONTH, seed=5)
    for earlier in root.glob(f"*/raw/{MONTH[:4]}-*"):
        if earlier.name != MONTH:
            shutil.rmtree(earlier)
    code = sorted(p.name for p in root.iterdir() if (p / "raw").is_dir())[0]
    with CityServices(
        root, workers=1, scratch=tmp_path / "services", env={"FANGFAN_EXPORT_DATE": EXPORT_DATE}
    ) as services:
        services.add_district(code)
        backfill = services.launch_backfill("monthly_run", [str(partition_key(MONTH, code))])
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            runs = services.runs(tag=("dagster/backfill", backfill))
            if runs and runs[0]["status"] == "STARTED":
                break
            time.sleep(0.3)
        assert runs and runs[0]["status"] == "STARTED", runs
        first = runs[0]["runId"]
        worker = next(s for s in services.services if s.name == "worker1")
        for pid in _pool_processes(worker.process.pid):
            os.kill(pid, 9)
        runs = services.wait_runs(run_ids=[first], timeout=900)
    by_id = {r["runId"]: r for r in runs}
    assert by_id[first]["status"] == "FAILURE"
    retries = [
        r
        for r in runs
        if {t["key"]: t["value"] for t in r["tags"]}.get("dagster/parent_run_id") == first
    ]
    assert len(retries) == 1 and retries[0]["status"] == "SUCCESS", runs
    assert list((root / code / "exports" / MONTH).glob("*.csv"))
