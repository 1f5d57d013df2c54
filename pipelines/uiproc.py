"""`fangfan ui`: run `dagster dev` as a session of its own and stop every process of it.

`dagster dev` starts a webserver, a daemon and a gRPC code server (and the daemon or the code
server start run workers), all children of its own process. It shuts them down only when *it*
gets SIGINT (SIGTERM is mapped onto SIGINT's handler, which is "ignore" when it was started in
the background of a non-interactive shell). Before this module, a SIGTERM to `fangfan ui` ended
`fangfan` alone and left the whole tree running; Ctrl-C killed `dagster dev` with SIGKILL while its
children were still shutting down.

Now `fangfan ui`:

- starts `dagster dev` with `start_new_session=True`: it and everything it starts are one session
  (and one process group), which a terminal's Ctrl-C no longer reaches directly;
- catches SIGINT, SIGTERM and SIGHUP (a closed terminal) itself and forwards one SIGINT to
  `dagster dev`, its own clean shutdown path; a second signal stops everything at once;
- waits up to `GRACE_SECONDS`, then ends what is left of the session: SIGTERM, a few seconds,
  SIGKILL (found by session id in /proc, so a child that moved to another process group is still
  found; killpg where there is no /proc);
- on Linux asks the kernel to send `dagster dev` SIGTERM if `fangfan ui` itself dies
  (PR_SET_PDEATHSIG), so even `kill -9` of `fangfan ui` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# dagster dev stops its services in a few seconds; it would itself wait up to 60 s for each
GRACE_SECONDS = 45.0
KILL_WAIT_SECONDS = 5.0

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def session_members(sid: int) -> list[int]:
    """Live processes (zombies excluded) of session `sid`, from /proc; [] where there is none."""
    pids = []
    with contextlib.suppress(OSError):
        entries = list(os.scandir("/proc"))
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            # after "pid (comm)": state ppid pgrp session …; comm may hold spaces and parentheses
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                pids.append(int(entry.name))
    return pids


def _signal_session(sid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)  # the session leader's group: everything unless a child moved out
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _session_alive(sid: int) -> bool:
    if Path("/proc/self/stat").exists():
        return bool(session_members(sid))
    try:
        os.killpg(sid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait_until_gone(sid: int, proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        proc.poll()  # reap our own child, or it stays a zombie member of the session
        if not _session_alive(sid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def end_session(
    proc: subprocess.Popen,
    *,
    say: Say = _stderr,
    wait: float = KILL_WAIT_SECONDS,
    now: bool = False,
) -> None:
    """Whatever is left of `proc`'s session after `wait` seconds: SIGTERM, then SIGKILL (`now`:
    SIGKILL at once); returns once all are gone."""
    sid = proc.pid
    if now:
        _signal_session(sid, signal.SIGKILL)
        _wait_until_gone(sid, proc, wait)
        return
    # the code server stops a moment after dagster dev has asked it to
    if _wait_until_gone(sid, proc, wait):
        return
    left = session_members(sid)
    if left:
        say(f"结束剩余的 Dagster 进程：{', '.join(map(str, left))}")
    _signal_session(sid, signal.SIGTERM)
    if _wait_until_gone(sid, proc, wait):
        return
    _signal_session(sid, signal.SIGKILL)
    _wait_until_gone(sid, proc, wait)


# Run first in the child, then replaced by the command (exec keeps the death signal): a plain
# program instead of a preexec_fn, which is unsafe in a process with threads.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the parent died before prctl took effect
os.execvp(sys.argv[2], sys.argv[2:])
"""


def _dying_with_parent(command: Sequence[str]) -> list[str]:
    """`command`, to receive SIGTERM when its parent dies (Linux), so a `kill -9` of
    `fangfan ui` still stops `dagster dev` and, through it, its services."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]


def run_service(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    grace: float = GRACE_SECONDS,
    name: str = "Dagster UI",
    say: Say = _stderr,
    kill_wait: float = KILL_WAIT_SECONDS,
) -> int:
    """Run `command` in a session of its own until it ends or a stop signal comes; leave no
    process of that session behind (what is left after the service ends gets `kill_wait` seconds
    before SIGTERM, and as long again before SIGKILL). Returns 0 when stopped by a signal, else
    its exit code."""
    received: list[int] = []

    def on_signal(signum, frame):
        received.append(signum)

    # installed before the child starts: it begins with the default dispositions (a handler is
    # reset by exec, an inherited "ignore" would not be)
    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        proc = subprocess.Popen(
            _dying_with_parent(command), cwd=cwd, env=dict(env) if env is not None else None,
            start_new_session=True,
        )  # fmt: skip
        forced = True  # also when something fails in here: nothing may be left running
        try:
            code, forced = _supervise(proc, received, grace, name, say)
        finally:
            end_session(proc, say=say, wait=kill_wait, now=forced)
            proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        say(f"{name} 已停止")
        return 0
    return code


def _supervise(
    proc: subprocess.Popen, received: list[int], grace: float, name: str, say: Say
) -> tuple[int, bool]:
    """(exit code, whether the rest of the session is to be killed at once)."""
    handled = 0
    deadline: float | None = None
    while True:
        try:
            return proc.wait(timeout=0.2), False
        except subprocess.TimeoutExpired:
            pass
        if len(received) > handled:
            if handled == 0:
                say(
                    f"收到{signal.Signals(received[0]).name}，正在停止 {name}（再按一次 Ctrl-C 立即结束）…"
                )
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)  # dagster dev's own clean shutdown
                deadline = time.monotonic() + grace
            else:
                say("立即结束")
                return -signal.SIGKILL, True
            handled = len(received)
        if deadline is not None and time.monotonic() > deadline:
            say(f"{name} {grace:.0f} 秒内没有停止：强制结束")
            return -signal.SIGKILL, True
