"""`fangfan ui` stops cleanly: after SIGTERM or Ctrl-C (SIGINT) no process of `dagster dev` is left.

Starts the real UI on a free loopback port against an empty data directory and a throw-away
DAGSTER_HOME, waits until the webserver answers, sends the signal to `fangfan ui` only (as systemd,
`kill` or a terminal's Ctrl-C aimed at it would), and checks that every process of the session it
started (dagster dev, webserver, daemon, code server) is gone. Timeouts are generous limits for a
loaded machine, not speed requirements.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 300
STOP_TIMEOUT = 120

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # state ppid pgrp session …


def _processes() -> dict[int, list[str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = fields
    return found


def _descendants(root: int) -> set[int]:
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, fields in table.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)  # same pid and same start time (field 22): the same process
    return fields is not None and fields[0] not in ("Z", "X") and fields[19] == started


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


# the real `dagster dev` (webserver, daemon, code server) takes 10-130 s to come up: a whole-run
# test, run by CI after the default suite (make test-e2e); the stand-ins below stay in it
@pytest.mark.e2e
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ui_leaves_no_process_behind(tmp_path, stop):
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    port = _free_port()
    env = os.environ | {"DAGSTER_HOME": str(tmp_path / "dagster_home")}
    env.pop("FANGFAN_DATA_DIR", None)
    log = (tmp_path / "ui.log").open("wb")
    ui = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port), "--data-dir", str(data)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            assert ui.poll() is None, (tmp_path / "ui.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the webserver never answered"
            time.sleep(1)
        tree = {pid: _stat(pid) for pid in _descendants(ui.pid)}
        tree = {pid: fields for pid, fields in tree.items() if fields is not None}
        sessions = {fields[3] for fields in tree.values()}
        # dagster dev leads a session of its own holding webserver, daemon and code server
        assert len(sessions) == 1 and int(next(iter(sessions))) in tree
        assert len(tree) >= 3, tree

        ui.send_signal(stop)
        assert ui.wait(timeout=STOP_TIMEOUT) == 0
        session = next(iter(sessions))
        left = [pid for pid, fields in _processes().items() if fields[3] == session]
        left = [pid for pid in left if _processes().get(pid, ["Z"])[0] not in ("Z", "X")]
        assert left == [], f"still running in dagster dev's session: {left}"
        assert [pid for pid, fields in tree.items() if _alive(pid, fields[19])] == []
        assert not _answers(port)
        assert "Dagster UI 已停止" in (tmp_path / "ui.log").read_text(errors="replace")
    finally:
        log.close()
        if ui.poll() is None:  # the test failed: leave nothing running either
            for pid in _descendants(ui.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            ui.kill()
            ui.wait()


# A stand-in for dagster dev: a child that leaves its process group and ignores SIGTERM, and a
# grandchild; on SIGINT the service itself exits at once without stopping them.
_SERVICE = """
import os, signal, subprocess, sys, time
stubborn = "import os, signal, time; os.setpgid(0, 0); signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
subprocess.Popen([sys.executable, "-c", stubborn])
subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"])
print("ready", flush=True)
time.sleep(600)
"""

_SUPERVISOR = """
import sys
from pipelines.uiproc import run_service
sys.exit(run_service(
    [sys.executable, "-c", sys.argv[1]], grace=float(sys.argv[2]), name="test",
    kill_wait=float(sys.argv[3]),
))
"""


def _session_of_child(parent: int) -> str | None:
    for pid in _descendants(parent):
        fields = _stat(pid)
        if fields is not None and fields[3] == str(pid):
            return fields[3]
    return None


@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_stubborn_processes_of_the_session_are_ended(tmp_path, stop):
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, _SERVICE, "2", "0.5"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert supervisor.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + STOP_TIMEOUT
        while len(_descendants(supervisor.pid)) < 4:  # the service, its 2 children, a grandchild
            assert time.monotonic() < deadline
            time.sleep(0.1)
        session = _session_of_child(supervisor.pid)
        assert session is not None
        supervisor.send_signal(stop)
        output, _ = supervisor.communicate(timeout=STOP_TIMEOUT)
        assert supervisor.returncode == 0, output
        left = [
            pid for pid, f in _processes().items() if f[3] == session and f[0] not in ("Z", "X")
        ]
        assert left == [], output
        assert "test 已停止" in output
    finally:
        if supervisor.poll() is None:
            for pid in _descendants(supervisor.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            supervisor.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")
def test_a_killed_supervisor_still_stops_the_service():
    # kill -9 of `fangfan ui` cannot be caught: the kernel sends dagster dev SIGTERM instead
    service = "import time; print('ready', flush=True); time.sleep(600)"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, service, "2", "0.5"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    session = None
    try:
        assert supervisor.stdout.readline().strip() == "ready"
        session = _session_of_child(supervisor.pid)
        assert session is not None
        supervisor.kill()
        supervisor.wait()
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(f[3] == session and f[0] not in ("Z", "X") for f in _processes().values()):
            assert time.monotonic() < deadline, "the service outlived its supervisor"
            time.sleep(0.1)
    finally:
        for pid, fields in _processes().items():
            if session is not None and fields[3] == session:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
