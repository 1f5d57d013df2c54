"""The city profile's services on one machine, started and always stopped (issue 11 item 2).

`CityServices` starts, all on 127.0.0.1 with free ports and everything in one scratch folder:

- a throw-away PostgreSQL cluster (`initdb` in the folder; Dagster's run, event-log and schedule
  storage, dagster-postgres);
- `redis-server` (the Celery broker and result backend);
- N Celery workers (`celery -A dagster_celery.app worker`, one run at a time each), which take
  the runs the daemon launches with dagster-celery's `CeleryRunLauncher`;
- the Dagster daemon (queue with one run per district, run monitoring, run retries, backfills)
  and the webserver (UI and GraphQL);

with `DAGSTER_HOME` in the folder holding `deploy/dagster_city.yaml` as its `dagster.yaml`.

Every service runs in its own process group; `stop()` (called by the context manager, by an
`atexit` hook and on SIGTERM/SIGHUP) ends each group — SIGTERM (SIGINT for PostgreSQL: its fast
shutdown), then SIGKILL after a grace period — and removes the folder. Each child also gets
PR_SET_PDEATHSIG, so a service dies with the Python process even if that one is killed -9.

`python -m pipelines.city.services --data-dir DIR [--workers N]` starts them and waits (Ctrl-C
stops everything); `pipelines/city/run_city.py` uses them for `make city`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CITY_YAML = REPO_ROOT / "deploy" / "dagster_city.yaml"
DISTRICT_TAG = "fangfan/district"
CELERY_QUEUE = "dagster"
PG_DB = "dagster"
PG_USER = "fangfan"

_LIBC = None


def _die_with_parent() -> None:
    """In the child, before exec: new session (own process group), and SIGKILL when the parent
    dies (Linux prctl PR_SET_PDEATHSIG), so no service outlives a killed test."""
    os.setsid()
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def postgres_bin(name: str) -> str:
    """A PostgreSQL program: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    raise FileNotFoundError(
        f"{name} not found: install PostgreSQL (Debian: apt-get install -y postgresql)"
    )


def redis_bin() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
    )
    if not found:
        raise FileNotFoundError("redis-server not found (Debian: apt-get install -y redis-server)")
    return found


def _venv_bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.is_file() else (shutil.which(name) or name)


def _postgres_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, run it as `postgres` (else `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class CityServices:
    """Postgres, Redis, `workers` Celery workers, the daemon and the webserver for the data
    directory `data_dir` (FANGFAN_DATA_DIR of every service). Use as a context manager."""

    data_dir: Path
    workers: int = 1
    scratch: Path | None = None  # parent of the services' folder (default: the system temp dir)
    daemon: bool = True
    webserver: bool = True
    env: Mapping[str, str] = field(default_factory=dict)  # extra settings for every service
    max_concurrent_runs: int | None = None  # default: the number of workers
    keep: bool = False  # keep the folder (logs) after stop
    startup_timeout: float = 180.0

    def __post_init__(self) -> None:
        self.services: list[Service] = []
        self.folder: Path | None = None
        self.pg_port = self.redis_port = self.web_port = 0
        self._stopped = True
        self._previous_handlers: dict[int, object] = {}
        self._lock = threading.Lock()
        self._extra_folders: list[Path] = []

    # --- paths and settings ---------------------------------------------------------------

    @property
    def home(self) -> Path:
        assert self.folder is not None
        return self.folder / "dagster_home"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def postgres_url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.pg_port}/{PG_DB}"

    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def service_env(self) -> dict[str, str]:
        """The environment of the daemon, the webserver and the workers."""
        assert self.folder is not None
        env = dict(os.environ)
        env.update(
            {
                "DAGSTER_HOME": str(self.home),
                "FANGFAN_PG_HOST": "127.0.0.1",
                "FANGFAN_PG_PORT": str(self.pg_port),
                "FANGFAN_PG_DB": PG_DB,
                "FANGFAN_PG_USER": PG_USER,
                "FANGFAN_PG_PASSWORD": "",
                "FANGFAN_REDIS_URL": self.redis_url,
                "FANGFAN_MAX_CONCURRENT_RUNS": str(self.max_concurrent_runs or self.workers),
                "FANGFAN_DATA_DIR": str(Path(self.data_dir).resolve()),
                # the worker's Celery app (dagster_celery.app) reads dagster_celery_config
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(self.folder / "celery"), env.get("PYTHONPATH", "")) if p
                ),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        return env

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> CityServices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> CityServices:
        parent = Path(self.scratch) if self.scratch else None
        if parent:
            parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="fangfan-city-", dir=parent))
        self._stopped = False
        atexit.register(self.stop)
        self._trap_signals()
        try:
            self._start_postgres()
            self._start_redis()
            self._write_instance()
            for i in range(self.workers):
                self._start_worker(i + 1)
            if self.daemon:
                self._start(
                    "daemon", [_venv_bin("dagster-daemon"), "run", "-m", "pipelines.definitions"]
                )
            if self.webserver:
                self.web_port = free_port()
                self._start(
                    "webserver",
                    [
                        _venv_bin("dagster-webserver"),
                        "-m",
                        "pipelines.definitions",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(self.web_port),
                    ],
                )
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End every service (reverse order of start), then remove the folder. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for service in reversed(self.services):
            self._end(service)
        self.services.clear()
        self._restore_signals()
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self.folder is not None and not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)
        for folder in self._extra_folders:
            shutil.rmtree(folder, ignore_errors=True)

    def _trap_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: object) -> None:
            self.stop()
            raise SystemExit(128 + signum)

        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[signum] = signal.signal(signum, handler)

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous_handlers.items():
            with contextlib.suppress(Exception):
                signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    def _start(
        self,
        name: str,
        argv: list[str],
        *,
        stop_signal: int = signal.SIGTERM,
        user: pwd.struct_passwd | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Service:
        assert self.folder is not None
        log = self.folder / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=REPO_ROOT if user is None else "/",
                env=dict(env) if env is not None else self.service_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        service = Service(name, process, log, stop_signal)
        self.services.append(service)
        return service

    def _end(self, service: Service, grace: float = 20.0) -> None:
        pgid = service.process.pid  # own session: its pid is the group id
        if service.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, service.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=grace)
        # the group's other members (code servers, pool processes, postgres backends) as well
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=5)

    # --- the services ---------------------------------------------------------------------

    def _start_postgres(self) -> None:
        assert self.folder is not None
        user = _postgres_user()
        if user is None:
            data = self.folder / "postgres"
            data.mkdir()
        else:
            # as root the cluster runs as `postgres`, which may not reach the scratch folder (a
            # pytest tmp dir is 0700): its own folder in the system temp dir, removed at stop
            data = Path(tempfile.mkdtemp(prefix="fangfan-pg-"))
            self._extra_folders.append(data)
            os.chown(data, user.pw_uid, user.pw_gid)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"LC_ALL": "C", "LANG": "C"})
        init = subprocess.run(
            [
                postgres_bin("initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd="/",
            env=env,
            capture_output=True,
            text=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        self.pg_port = free_port()
        self._start(
            "postgres",
            [
                postgres_bin("postgres"),
                "-D",
                str(data),
                "-p",
                str(self.pg_port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={data}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            stop_signal=signal.SIGINT,  # fast shutdown: disconnect clients, stop
            user=user,
            env=env,
        )
        self._wait("postgres", lambda: _port_open(self.pg_port), self.services[-1])
        ready = self._pg_client("pg_isready", "-d", "postgres")
        self._wait(
            "postgres",
            lambda: subprocess.run(ready, capture_output=True).returncode == 0,
            self.services[-1],
        )
        made = subprocess.run(
            self._pg_client("createdb", PG_DB),
            env=env,
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise RuntimeError(f"createdb failed: {made.stderr}")

    def _start_redis(self) -> None:
        assert self.folder is not None
        folder = self.folder / "redis"
        folder.mkdir()
        self.redis_port = free_port()
        service = self._start(
            "redis",
            [
                redis_bin(),
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ],
        )
        self._wait("redis", lambda: _port_open(self.redis_port), service)

    def _write_instance(self) -> None:
        assert self.folder is not None
        self.home.mkdir()
        shutil.copyfile(CITY_YAML, self.home / "dagster.yaml")
        (self.home / ".nux").mkdir()
        (self.home / ".nux" / "nux.yaml").write_text("seen: 1\n")
        celery = self.folder / "celery"
        celery.mkdir()
        # the settings the worker's app (dagster_celery.app: make_app() without arguments) loads;
        # the launcher gets the same broker and backend from dagster_city.yaml
        (celery / "dagster_celery_config.py").write_text(
            f"broker_url = {self.redis_url!r}\n"
            f"result_backend = {self.redis_url!r}\n"
            "worker_prefetch_multiplier = 1\n"
            "task_acks_late = False\n"
            "broker_connection_retry_on_startup = True\n"
        )

    def _start_worker(self, number: int) -> None:
        self._start(
            f"worker{number}",
            [
                _venv_bin("celery"),
                "-A",
                "dagster_celery.app",
                "worker",
                "-Q",
                CELERY_QUEUE,
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"fangfan{number}@%h",
                "--loglevel",
                "INFO",
            ],
        )

    # --- readiness --------------------------------------------------------------------------

    def _pg_client(self, tool: str, *args: str) -> list[str]:
        """A PostgreSQL client command against this cluster, as its superuser, on loopback."""
        return [
            postgres_bin(tool),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            PG_USER,
            *args,
        ]

    def _wait(self, what: str, ready, service: Service | None = None) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if service is not None and not service.alive:
                raise RuntimeError(f"{what} exited at start:\n{self.tail(service)}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.3)
        raise TimeoutError(f"{what} not ready after {self.startup_timeout:.0f} s")

    def tail(self, service: Service, lines: int = 40) -> str:
        try:
            return "\n".join(service.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def workers_answering(self) -> int:
        from celery import Celery

        app = Celery("fangfan-ping", broker=self.redis_url, backend=self.redis_url)
        try:
            return len(app.control.ping(timeout=1.0) or [])
        finally:
            app.close()

    def wait_ready(self) -> None:
        for service in self.services:
            if service.name.startswith("worker"):
                self._wait(service.name, lambda: True, service)
        if self.workers:
            self._wait("celery workers", lambda: self.workers_answering() >= self.workers)
        if self.webserver:
            web = next(s for s in self.services if s.name == "webserver")
            self._wait("webserver", lambda: self._http_ok("/server_info"), web)
        if self.daemon and self.webserver:
            daemon = next(s for s in self.services if s.name == "daemon")
            self._wait("daemon", self._daemon_healthy, daemon)

    def _http_ok(self, path: str) -> bool:
        with urllib.request.urlopen(self.webserver_url + path, timeout=2) as reply:
            return reply.status == 200

    def _daemon_healthy(self) -> bool:
        data = self.graphql(
            "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
        )
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return bool(statuses) and all(s["healthy"] for s in statuses if s["required"])

    def check_alive(self) -> None:
        """Raise if a service has died (say which, with its log's tail)."""
        for service in self.services:
            if not service.alive:
                raise RuntimeError(
                    f"{service.name} exited ({service.process.returncode}):\n{self.tail(service)}"
                )

    # --- GraphQL: what the UI does ---------------------------------------------------------

    def graphql(self, query: str, variables: Mapping | None = None) -> dict:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            self.webserver_url + "/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.loads(reply.read())
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def repository(self) -> tuple[str, str]:
        """(code location name, repository name) of the definitions the webserver serves."""
        data = self.graphql(
            "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } }"
            " ... on PythonError { message } } }"
        )
        nodes = data["repositoriesOrError"].get("nodes")
        if not nodes:
            raise RuntimeError(f"no repository loaded: {data['repositoriesOrError']}")
        return nodes[0]["location"]["name"], nodes[0]["name"]

    def launch_run(self, job: str, tags: Mapping[str, str]) -> str:
        """Submit a run as the UI's Launch button does: it is queued, the daemon dequeues it and
        the Celery launcher sends it to a worker. Returns the run id."""
        location, repository = self.repository()
        data = self.graphql(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
                 __typename ... on LaunchRunSuccess { run { runId } }
                 ... on PythonError { message stack } ... on RunConfigValidationInvalid { errors { message } }
                 ... on InvalidSubsetError { message } ... on PipelineNotFoundError { message } } }""",
            {
                "p": {
                    "selector": {
                        "repositoryLocationName": location,
                        "repositoryName": repository,
                        "jobName": job,
                    },
                    "runConfigData": {},
                    "executionMetadata": {
                        "tags": [{"key": k, "value": v} for k, v in tags.items()]
                    },
                }
            },
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun: {result}")
        return result["run"]["runId"]

    def partition_names(self, job: str) -> list[str]:
        location, repository = self.repository()
        data = self.graphql(
            """query($r: RepositorySelector!, $n: String!) { partitionSetOrError(
                 repositorySelector: $r, partitionSetName: $n) { __typename
                 ... on PartitionSet { partitionsOrError { ... on Partitions { results { name } } } } } }""",
            {
                "r": {"repositoryLocationName": location, "repositoryName": repository},
                "n": f"{job}_partition_set",
            },
        )
        part = data["partitionSetOrError"]
        return [p["name"] for p in part["partitionsOrError"]["results"]]

    def launch_backfill(
        self, job: str, partitions: list[str], tags: Mapping[str, str] | None = None
    ) -> str:
        """A partition backfill of `job`, as the UI's "Materialize"/backfill dialog submits it;
        the daemon plans its runs and queues them. Returns the backfill id."""
        location, repository = self.repository()
        data = self.graphql(
            """mutation($b: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $b) {
                 __typename ... on LaunchBackfillSuccess { backfillId }
                 ... on PythonError { message stack } ... on PartitionSetNotFoundError { message } } }""",
            {
                "b": {
                    "selector": {
                        "partitionSetName": f"{job}_partition_set",
                        "repositorySelector": {
                            "repositoryLocationName": location,
                            "repositoryName": repository,
                        },
                    },
                    "partitionNames": partitions,
                    "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
                }
            },
        )
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"launchPartitionBackfill: {result}")
        return result["backfillId"]

    def add_district(self, code: str, partitions_def: str = "district") -> None:
        """Add a district to the district dimension, as the UI's "add partition" does (the
        district_partitions sensor would add it too, on its next tick)."""
        location, repository = self.repository()
        data = self.graphql(
            """mutation($r: RepositorySelector!, $n: String!, $k: String!) {
                 addDynamicPartition(repositorySelector: $r, partitionsDefName: $n, partitionKey: $k) {
                 __typename ... on PythonError { message } ... on UnauthorizedError { message } } }""",
            {
                "r": {"repositoryLocationName": location, "repositoryName": repository},
                "n": partitions_def,
                "k": code,
            },
        )
        kind = data["addDynamicPartition"]["__typename"]
        if kind not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise RuntimeError(f"addDynamicPartition {code}: {data['addDynamicPartition']}")

    def runs(self, tag: tuple[str, str] | None = None, run_ids: list[str] | None = None) -> list:
        flt: dict = {}
        if tag:
            flt["tags"] = [{"key": tag[0], "value": tag[1]}]
        if run_ids:
            flt["runIds"] = run_ids
        data = self.graphql(
            """query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
                 runId status startTime endTime jobName tags { key value } } } } }""",
            {"f": flt},
        )
        return data["runsOrError"]["results"]

    def backfill_status(self, backfill_id: str) -> str:
        data = self.graphql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                 ... on PartitionBackfill { status } ... on PythonError { message } } }""",
            {"id": backfill_id},
        )
        return data["partitionBackfillOrError"].get("status", "")

    def wait_runs(
        self,
        run_ids: list[str] | None = None,
        tag: tuple[str, str] | None = None,
        expect: int = 1,
        timeout: float = 1800.0,
        retry_grace: float = 45.0,
    ) -> list[dict]:
        """Wait until the runs (by id, or by tag: at least `expect` of them) and the daemon's
        retries of the failed ones have finished; returns them all (retries included)."""
        finished = {"SUCCESS", "FAILURE", "CANCELED"}
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while True:
            self.check_alive()
            runs = self.runs(tag=tag, run_ids=run_ids)
            ids = {r["runId"] for r in runs}
            for run in list(runs):  # the retries of failed runs (tag dagster/parent_run_id)
                if run["status"] == "FAILURE":
                    runs += [
                        r
                        for r in self.runs(tag=("dagster/parent_run_id", run["runId"]))
                        if r["runId"] not in ids
                    ]
            done = len(runs) >= expect and all(r["status"] in finished for r in runs)
            if not done:
                settled_at = None
            else:
                failed_without_retry = [
                    r
                    for r in runs
                    if r["status"] == "FAILURE"
                    and not any(
                        t["key"] == "dagster/parent_run_id" and t["value"] == r["runId"]
                        for other in runs
                        for t in other["tags"]
                    )
                ]
                settled_at = settled_at or time.monotonic()
                # a failed run's retry is queued by the daemon a little after the failure
                if not failed_without_retry or time.monotonic() - settled_at > retry_grace:
                    return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished after {timeout:.0f} s: {runs}")
            time.sleep(1.0)


@contextlib.contextmanager
def city_services(data_dir: Path, **options) -> Iterator[CityServices]:
    services = CityServices(Path(data_dir), **options)
    with services:
        yield services


# --- make city: a month of every district through the daemon -------------------------------


@dataclass
class DistrictResult:
    code: str
    name: str
    status: str
    seconds: float
    attempts: int
    counts: dict


def _run_seconds(runs: list[dict]) -> float:
    """Time the runs took, each from its start to its end (runs of other districts overlap)."""
    return sum(
        r["endTime"] - r["startTime"] for r in runs if r.get("startTime") and r.get("endTime")
    )


def peak_parallel(runs: list[dict]) -> int:
    """The most runs that were executing at the same moment (from their start and end times)."""
    edges = sorted(
        (t, step)
        for r in runs
        if r.get("startTime") and r.get("endTime")
        for t, step in ((r["startTime"], 1), (r["endTime"], -1))
    )
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def _district_of(run: dict) -> str:
    tags = {t["key"]: t["value"] for t in run["tags"]}
    return tags.get("dagster/partition/district") or tags.get(DISTRICT_TAG, "")


def district_counts(data_dir: Path, district: str, month: str) -> dict:
    """Row counts of one district's month in its warehouse (read-only)."""
    from pipelines.config import DataDir
    from pipelines.warehouse import open_warehouse

    layout = DataDir(Path(data_dir))
    queries = {
        "rows_read": "SELECT coalesce(sum(rows_read), 0) FROM ingest_files",
        "rows_kept": "SELECT coalesce(sum(rows_kept), 0) FROM ingest_files",
        "rows_rejected": "SELECT coalesce(sum(rows_rejected), 0) FROM ingest_files",
        "members": "SELECT count(*) FROM roster_members",
        "ties": "SELECT count(*) FROM record_matches",
        "unresolved": "SELECT count(*) FROM unmatched_records",
        "warnings": "SELECT count(*) FROM warnings",
        "listed": "SELECT count(*) FROM listings",
    }
    if not layout.database.exists():
        return {}
    counts = {}
    with open_warehouse(layout.database, read_only=True) as con:
        for name, sql in queries.items():
            counts[name] = int(
                con.sql(
                    f"{sql} WHERE district = ? AND month = ?", params=[district, month]
                ).fetchall()[0][0]
            )
    return counts


def run_city_month(services: CityServices, month: str, timeout: float = 3600.0) -> dict:
    """One month of every district of the services' data root, as a user does it from the UI:
    the districts added to the district dimension, a partition backfill of the monthly job over
    month × every district (the daemon queues its runs, one per district at a time, and the
    Celery launcher hands them to the workers), then the city job's run of the month (the
    cross-district ties). Returns per-district results and the wall time of the backfill."""
    from pipelines.city.districts import load_city
    from pipelines.definitions import (
        CITY_JOB,
        CLAIMS_HISTORY_JOB,
        MONTHLY_JOB,
        claims_months_to_stage,
    )
    from pipelines.partitions import partition_key
    from pipelines.resources import FangfanResource

    city = load_city(services.data_dir)
    settings = FangfanResource(data_dir=str(city.root))
    codes = [d.code for d in city.districts if (d.layout.raw / month).is_dir()]
    for code in codes:
        services.add_district(code)
    started = time.monotonic()
    runs: list[dict] = []
    # YB01 sums the year: the earlier months' claims in raw/ are staged first, as the UI asks
    # (medical_claims_ytd names them): a backfill of the claims_history job over those partitions
    earlier = [
        str(partition_key(m, code))
        for code in codes
        for m in claims_months_to_stage(settings.for_district(code), month)
    ]
    if earlier:
        history = services.launch_backfill(CLAIMS_HISTORY_JOB, earlier)
        runs += services.wait_runs(
            tag=("dagster/backfill", history), expect=len(earlier), timeout=timeout
        )
    backfill = services.launch_backfill(MONTHLY_JOB, [str(partition_key(month, c)) for c in codes])
    monthly = services.wait_runs(
        tag=("dagster/backfill", backfill), expect=len(codes), timeout=timeout
    )
    runs += monthly
    backfill_seconds = time.monotonic() - started
    results = []
    for code in codes:
        district = city.district(code)
        mine = [r for r in monthly if _district_of(r) == code]
        final = max(mine, key=lambda r: r.get("startTime") or 0) if mine else None
        results.append(
            DistrictResult(
                code=code,
                name=district.name,
                status=final["status"] if final else "MISSING",
                seconds=_run_seconds([r for r in runs if _district_of(r) == code]),
                attempts=len(mine),
                counts=district_counts(district.data_dir, district.name, month),
            )
        )
    city_started = time.monotonic()
    city_run = services.launch_run(CITY_JOB, {"dagster/partition": month})
    city_runs = services.wait_runs(run_ids=[city_run], timeout=timeout)
    return {
        "month": month,
        "districts": results,
        "backfill_id": backfill,
        "backfill_seconds": backfill_seconds,
        "city_status": city_runs[0]["status"],
        "city_seconds": time.monotonic() - city_started,
        "celery_tasks": sum(
            1 for r in runs if any(t["key"] == "dagster-celery/task_id" for t in r["tags"])
        ),
        "runs": len(runs),
        "history_runs": len(earlier),
        "peak_parallel": peak_parallel(runs),
    }


def _cell(text: object, width: int, right: bool = True) -> str:
    """`text` padded to `width` terminal columns (a CJK character takes two)."""
    text = str(text)
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    pad = " " * max(0, width - used)
    return pad + text if right else text + pad


def format_city_month(result: dict) -> str:
    header = ("运行用时 s", "运行次数", "读入行", "保留", "退回", "成员", "匹配", "未匹配")
    lines = [
        _cell("区县", 16, right=False)
        + _cell("状态", 8, right=False)
        + "".join(_cell(h, 11) for h in header)
        + _cell("预警", 8)
        + _cell("下发", 8)
    ]
    for d in result["districts"]:
        c = d.counts
        values = (
            f"{d.seconds:.1f}",
            d.attempts,
            c.get("rows_read", 0),
            c.get("rows_kept", 0),
            c.get("rows_rejected", 0),
            c.get("members", 0),
            c.get("ties", 0),
            c.get("unresolved", 0),
        )
        lines.append(
            _cell(f"{d.code} {d.name}", 16, right=False)
            + _cell(d.status, 8, right=False)
            + "".join(_cell(v, 11) for v in values)
            + _cell(c.get("warnings", 0), 8)
            + _cell(c.get("listed", 0), 8)
        )
    lines.append(
        f"回填 {result['backfill_id']}：{len(result['districts'])} 个区县，{result['runs']} 次运行"
        f"（其中此前月份医保结算明细 {result['history_runs']} 次；"
        f"{result['celery_tasks']} 次经 Celery 发到 worker，最多 {result['peak_parallel']} 个同时运行），"
        f"共 {result['backfill_seconds']:.1f} s；跨区县比对 {result['city_status']} "
        f"{result['city_seconds']:.1f} s"
    )
    return "\n".join(lines)


def make_city(
    out: Path,
    *,
    workers: int,
    districts: int = 4,
    members: int = 2_000,
    month: str = "2026-10",
    seed: int = 1,
    scratch: Path | None = None,
    record: Path | None = None,
) -> int:
    """`make city`: generate a small synthetic city in `out` (fresh), start every service with
    `workers` Celery workers, backfill `month` for all districts through the daemon, print the
    per-district time, row counts and warnings and the cross-district ties against the truth,
    stop every service. The wall time is recorded in `record` (JSON); a record of the same city
    with another number of workers gives the throughput ratio."""
    from pipelines.city.generate import format_city_score, generate_city, score_city

    if out.exists():
        shutil.rmtree(out)
    t = time.monotonic()
    made = generate_city(out, districts=districts, members=members, month=month, seed=seed)
    print(
        f"城市 {out}：{districts} 个区县 × {members} 人，{month}；跨区迁移记录 "
        f"{made['moved_records']}，两区花名册重复 {made['roster_duplicates']}"
        f"（生成 {time.monotonic() - t:.1f} s）",
        flush=True,
    )
    t = time.monotonic()
    with CityServices(out, workers=workers, scratch=scratch) as services:
        print(
            f"服务已启动（{time.monotonic() - t:.1f} s）：PostgreSQL {services.postgres_url}，"
            f"Redis {services.redis_url}，{workers} 个 Celery worker，daemon，"
            f"UI {services.webserver_url}",
            flush=True,
        )
        result = run_city_month(services, month)
    print(format_city_month(result))
    print(format_city_score(score_city(out, month)))
    ok = result["city_status"] == "SUCCESS" and all(
        d.status == "SUCCESS" for d in result["districts"]
    )
    load = os.getloadavg()[0]
    if record is not None:
        key = f"{districts}x{members}@{month}"
        known = json.loads(record.read_text()) if record.is_file() else {}
        mine = {"seconds": result["backfill_seconds"], "load1": load, "ok": ok}
        known.setdefault(key, {})[str(workers)] = mine
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(known, indent=1))
        for other, seen in sorted(known[key].items()):
            if other != str(workers) and seen.get("ok"):
                ratio = seen["seconds"] / result["backfill_seconds"]
                print(
                    f"吞吐量：WORKERS={workers} 是 WORKERS={other} 的 {ratio:.2f} 倍"
                    f"（{result['backfill_seconds']:.1f} s 对 {seen['seconds']:.1f} s，"
                    f"1 分钟负载 {load:.1f} 对 {seen['load1']:.1f}）"
                )
    print("所有服务已停止。" if ok else "有运行失败：见上表。", flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.city.services",
        description="The city services (PostgreSQL, Redis, Celery workers, Dagster daemon and "
        "webserver) on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start them and keep them up until Ctrl-C or SIGTERM")
    up.add_argument("--data-dir", required=True)
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--scratch", help="parent folder of the services' folder")
    up.add_argument("--keep", action="store_true", help="keep the folder (logs) after stop")
    city = sub.add_parser("city", help="make city: a synthetic city's month through the services")
    city.add_argument("--out", required=True, help="the city's data root (regenerated)")
    city.add_argument("--workers", type=int, default=2)
    city.add_argument("--districts", type=int, default=4)
    city.add_argument("--members", type=int, default=2_000)
    city.add_argument("--month", default="2026-10")
    city.add_argument("--seed", type=int, default=1)
    city.add_argument("--scratch")
    city.add_argument("--record", help="JSON file of wall times per number of workers")
    args = parser.parse_args(argv)
    if args.command == "city":
        return make_city(
            Path(args.out).resolve(),
            workers=args.workers,
            districts=args.districts,
            members=args.members,
            month=args.month,
            seed=args.seed,
            scratch=Path(args.scratch) if args.scratch else None,
            record=Path(args.record) if args.record else None,
        )
    services = CityServices(
        Path(args.data_dir), workers=args.workers, scratch=args.scratch, keep=args.keep
    )
    try:
        with services:
            print(f"DAGSTER_HOME={services.home}", flush=True)
            print(f"PostgreSQL  {services.postgres_url}", flush=True)
            print(f"Redis       {services.redis_url}", flush=True)
            print(f"Dagster UI  {services.webserver_url}  ({args.workers} Celery workers)")
            print("Ctrl-C stops every service.", flush=True)
            while True:
                services.check_alive()
                time.sleep(2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
