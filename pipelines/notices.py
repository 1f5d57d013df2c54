"""Run-failure notices for the district team: what failed, in plain Chinese, and what to do.

Pure (no Dagster): `pipelines/operations.py` turns a failed run into a `FailedRun` and appends
`notice(...)` to the files the team watches, `<data dir>/notices/运行失败通知.txt` (one block per
failure, UTF-8 with BOM and CRLF so that Notepad on an old office PC opens it) and
`运行失败通知.jsonl` (one JSON object per failure, for other tools); a run is noticed once. When a
later run of the same job, district and month goes through, one 【已恢复】 block (`kind`
"recovered" in the JSON, with the failed runs' ids in `resolves`) answers the notices still open.

No personal data goes into a notice: the project's own failure messages (`dg.Failure`) name
files, sources and months, never people, and are still scrubbed of anything that looks like an
ID or phone number; the text of any other exception (a library's message may quote a cell) is not
repeated, only its kind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from pipelines.sources import SOURCES

NOTICE_FOLDER = "notices"
TEXT_FILE = "运行失败通知.txt"
JSONL_FILE = "运行失败通知.jsonl"
MAX_PROBLEM_CHARS = 240

_MONTH = re.compile(r"^\d{4}-\d{2}$")
PARTITION_TAG = "dagster/partition"

STEP_NAMES = {
    "ingest": "读入各部门数据",
    "roster_members": "整理农户花名册",
    "verification_feedback": "读入乡镇核实结果",
    "member_matches": "部门数据与花名册匹配",
    "medical_claims_ytd": "医保结算全年累计",
    "match_quality": "匹配质量检查",
    "warnings": "预警规则计算",
    "township_exports": "导出乡镇预警清单",
    "district_summary": "导出区级汇总",
}
CHECK_NAMES = {
    "staged_schema": "读入数据的格式检查",
    "row_accounting": "文件行数核对（读入行数 = 保留 + 退回 + 重复）",
    "tie_rate_stable": "匹配率检查",
    "reject_rate_low": "退回率检查",
}


# --- partition keys ---------------------------------------------------------------------------


def split_partition(key: str | None) -> tuple[str | None, str | None]:
    """(month, district) of a partition key: `2026-10`, or a month × district key written
    `341502|2026-10` (Dagster orders the dimensions by name) or `2026-10|341502`."""
    if not key:
        return None, None
    parts = [p.strip() for p in str(key).split("|")]
    months = [p for p in parts if _MONTH.match(p)]
    if not months:
        return None, str(key)
    others = [p for p in parts if p != months[0]]
    return months[0], ("|".join(others) or None)


def run_partition(tags: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(month, district) of a run from its tags: the per-dimension tags of a multi-partitioned
    run (`dagster/partition/month`, `dagster/partition/district`), else its partition key."""
    month, district = split_partition(tags.get(PARTITION_TAG))
    month = tags.get(f"{PARTITION_TAG}/month") or month
    district = tags.get(f"{PARTITION_TAG}/district") or district
    return month, district


# --- what went wrong, in one line -------------------------------------------------------------

_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{6}[\d*]{8,11}[\dXx×*](?![0-9A-Za-z])")
_DIGIT_RUN = re.compile(r"\d{11,}")  # phone numbers, IDs cut short, bank accounts


def scrub(text: str) -> str:
    """One line, nothing that looks like an ID or phone number, at most MAX_PROBLEM_CHARS."""
    line = " ".join(text.split())
    line = _ID_LIKE.sub("［证件号码已隐去］", line)
    line = _DIGIT_RUN.sub("［号码已隐去］", line)
    if len(line) > MAX_PROBLEM_CHARS:
        line = line[: MAX_PROBLEM_CHARS - 1] + "…"
    return line


@dataclass(frozen=True)
class StepFailure:
    """A failed step as Dagster recorded it; `errors` outermost first: (class name, message)."""

    step: str
    asset: str | None = None  # the asset a dg.Failure named (metadata "asset")
    errors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job: str
    month: str | None
    district: str | None  # the district's name for people (its code where no name is known)
    steps: tuple[StepFailure, ...]
    run_message: str = ""  # the run failure's own message (a run that died has no step failure)
    when: datetime | None = None
    raw_folder: str = "raw"  # how the team names the district's raw folder in a notice
    # what the run's failed checks said of themselves (their descriptions: the files not read
    # whole, and why), said after the check's name
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recovery:
    """A run that went through where earlier runs of its job, district and month had failed:
    the notices of those failures are answered (`resolves`: their run ids)."""

    run_id: str
    job: str
    when: str
    district: str
    month: str
    resolves: tuple[str, ...]
    kind: str = "recovered"

    @property
    def itself(self) -> bool:
        """The failure it answers is its own: marked failed from outside while it ran on."""
        return self.resolves == (self.run_id,)

    def text(self) -> str:
        return "\n".join(
            [
                f"【已恢复】{self.when}",
                f"区县：{self.district}　月份：{self.month}",
                (
                    "这次运行曾被标记为失败（多为服务一时中断：运行记录的数据库或队列），"
                    "但它随后已运行完成，本月结果有效，不必重新运行"
                    if self.itself
                    else f"重新运行已成功，此前 {len(self.resolves)} 次失败通知所说的问题已不再妨碍"
                    f"运行（运行编号：{'、'.join(self.resolves)}）"
                ),
                f"成功的运行编号：{self.run_id}",
            ]
        )

    def line(self) -> str:
        if self.itself:
            return (
                f"运行已完成：{self.district} {self.month} 曾被标记为失败的运行随后已运行完成，"
                "失败通知作废"
            )
        return (
            f"运行已恢复：{self.district} {self.month} 重新运行成功，"
            f"此前 {len(self.resolves)} 次失败通知已解决"
        )


@dataclass(frozen=True)
class Notice:
    run_id: str
    job: str
    when: str
    district: str
    month: str
    step: str
    problem: str
    action: str

    def text(self) -> str:
        return "\n".join(
            [
                f"【运行失败】{self.when}",
                f"区县：{self.district}　月份：{self.month}　失败步骤：{self.step}",
                f"出了什么问题：{self.problem}",
                f"怎么办：{self.action}",
                f"运行编号：{self.run_id}（在界面的 Runs 页可按此编号找到完整日志）",
            ]
        )

    def line(self) -> str:
        """The notice in one line (the run's event log, the sensor's log)."""
        return (
            f"运行失败通知：{self.district} {self.month} {self.step}：{self.problem}。"
            f"怎么办：{self.action}"
        )


def _step_name(step: str) -> str:
    plain = STEP_NAMES.get(step)
    return f"{plain}（{step}）" if plain else step


def _source_title(key: str | None) -> str | None:
    source = SOURCES.get(key) if key else None
    return source.title if source else None


def _innermost(errors: Sequence[tuple[str, str]]) -> tuple[str, str]:
    return errors[-1] if errors else ("", "")


def _user_message(cls_name: str, message: str) -> str:
    """The message a user-code exception carries, without Dagster's wrapping or a trace."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    prefix = f"{cls_name}: "
    if prefix in text:
        text = text.split(prefix, 1)[1]
    return text


# dg.Failure metadata "asset" of a failure whose message says what to do itself
OWN_ACTION = ("settings", "previous_month", "district_key")
_LOCKED = ("Could not set lock", "lock on file", "database is locked", "Conflicting lock")
# the warehouse file itself damaged (a crash or copy that cut it, a bad disk), or its disk full
_DAMAGED = (
    "无法打开：文件不完整或已损坏",
    "Corrupt database file",
    "computed checksum",
    "Could not read enough bytes",
    "not a valid DuckDB database",
)
_DISK = (
    "No space left on device", "Read-only file system", "Disk quota exceeded",
    "没有读写权限",  # warehouse.WAREHOUSE_NOT_WRITABLE
)  # fmt: skip
# DuckDB refused a warehouse file (the database or its write-ahead log) it may not write: the
# file or warehouse/ read-only, not damaged, not an internal error (an independent fault probe)
_WAREHOUSE_REFUSED = re.compile(r"\.duckdb(\.wal)?\b[^\n]*Permission denied")


def _problem(failure: StepFailure, said: Sequence[str] = ()) -> tuple[str, str]:
    """(kind, one line): kind is `failure` (the project's message), `check`, `locked`, `file`,
    `internal`. `said`: what the failed checks said of themselves (FailedRun.checks)."""
    outer_cls, outer_message = failure.errors[0] if failure.errors else ("", "")
    cls_name, message = _innermost(failure.errors)
    if "DagsterAssetCheckFailedError" in (outer_cls, cls_name) or "blocking asset check" in (
        outer_message + message
    ):
        checks = [plain for name, plain in CHECK_NAMES.items() if name in outer_message + message]
        what = "、".join(checks) or "数据检查"
        source = _source_title(_source_key(failure))
        if said:  # the check said which files were not read whole, and why
            return "check", scrub(
                f"{source or ''}有文件没有读全，本月没有继续往下算：{'；'.join(said)}"
            )
        return "check", f"{source + '的' if source else ''}{what}未通过，本月没有继续往下算"
    if cls_name in ("Failure", "NothingToStage"):
        return "failure", scrub(_user_message(cls_name, message)) or "步骤报告失败"
    if any(marker in message for marker in _LOCKED):
        return "locked", "仓库文件正被另一个程序占用（另一个运行，或打开着仓库的程序）"
    every = " ".join(m for _, m in failure.errors)
    if any(marker in every for marker in _DAMAGED):
        return "damaged", "仓库文件（warehouse/fangfan.duckdb）不完整或已损坏，无法读取"
    if any(marker in every for marker in _DISK) or _WAREHOUSE_REFUSED.search(every):
        return "disk", "仓库所在的磁盘已满或不可写入，写入没有完成（已写入的部分已撤回）"
    if cls_name in (
        "FileNotFoundError", "PermissionError", "IsADirectoryError", "NotADirectoryError",
        "FileExistsError", "OSError",
    ):  # fmt: skip
        return "file", scrub(_user_message(cls_name, message)) or "文件无法打开"
    if cls_name in ("KeyboardInterrupt", "DagsterExecutionInterruptedError"):
        return "stopped", "运行被中途停止（Ctrl-C、关闭窗口或在界面中终止）"
    kind = cls_name or "未知错误"
    return "internal", f"程序内部错误（{kind}），未能完成这一步；详细原因只记录在运行日志中"


def _source_key(failure: StepFailure, *, scan: bool = True) -> str | None:
    """The source a failed step names: the asset of its dg.Failure, else (`scan`) the first
    source key in its messages (a blocking check's message lists `<source>: <check>`)."""
    if failure.asset in SOURCES:
        return failure.asset
    if not scan:
        return None
    text = " ".join(message for _, message in failure.errors)
    for key in SOURCES:
        if re.search(rf"(?<![A-Za-z_]){re.escape(key)}(?![A-Za-z_])", text):
            return key
    return None


# what to do about a damaged warehouse: in a failed run's notice, and said by `fangfan run` when
# its check before the run finds it
DAMAGED_WAREHOUSE_ACTION = (
    "从备份恢复 warehouse/fangfan.duckdb 后重新运行；没有备份时，把该文件移到别处，"
    "再从本年最早的月份起逐月重新运行（fangfan run --month …）：各月的核实结果随该月的"
    " feedback/ 文件夹重新读入"
)


def _action(kind: str, failure: StepFailure | None, run: FailedRun) -> str:
    month = run.month or "该月"
    again = f"在界面（fangfan ui；城市部署中是城市的 Dagster 界面）中重新运行{' ' + run.month if run.month else '该月'}"
    key = _source_key(failure, scan=kind == "check") if failure is not None else None
    source = SOURCES.get(key) if key else None
    folder = f"{run.raw_folder}/{month}/{source.key}/" if source else f"{run.raw_folder}/{month}/"
    if kind == "dead":
        return f"不需要改数据，直接{again}（中断前写入的部分会被整体替换）"
    if kind == "stopped":
        return f"如果不是有意停止，{again}"
    if kind == "locked":
        return f"等另一个运行结束（或关闭打开仓库的程序）后，{again}"
    if kind == "damaged":
        return DAMAGED_WAREHOUSE_ACTION
    if kind == "disk":
        return f"腾出磁盘空间（或恢复写入权限）后，{again}"
    if kind == "check":
        named = f"（{source.title}）" if source else ""
        return (
            f"在界面查看该来源的读入结果（每个文件读入、保留、退回的行数），核对 {folder}{named}"
            f"中的文件是否截断、重复报送，修正或请部门重新导出后，{again}"
        )
    if kind in ("failure", "file") and failure is not None:
        if failure.asset in OWN_ACTION:
            # the message says what to do (settings to mend, the month to run first)
            return f"按上面的提示处理后，{again}"
        if failure.step == "ingest" or source is not None:
            named = f"（{source.title}）" if source else ""
            return f"检查 {folder}{named}中的文件，修正或补报后，{again}"
        if failure.step == "medical_claims_ytd":
            return f"用 fangfan run --month {month} 运行（会先读入本年此前月份的医保结算明细）"
        return f"按上面的提示修正后，{again}"
    return f"{again}；如果仍然失败，请把运行编号发给技术支持"


def _labels(district: str | None, month: str | None) -> tuple[str, str]:
    """How a notice names a run's district and month (a city-level run, a range of months)."""
    return district or "（全部区县）", month or "（未指定月份）"


def notice(run: FailedRun) -> Notice:
    """The plain-language notice of a failed run: its first failed step (or, for a run whose
    process died, the run itself)."""
    when = (run.when or datetime.now()).strftime("%Y-%m-%d %H:%M")
    district, month = _labels(run.district, run.month)
    if run.steps:
        first = run.steps[0]
        kind, problem = _problem(first, run.checks)
        step = _step_name(first.step)
        if len(run.steps) > 1:
            step += f" 等 {len(run.steps)} 个步骤"
        action = _action(kind, first, run)
    else:
        message = run.run_message
        lowered = message.lower()
        if "进程已不在" in message or ("process" in lowered and "exit" in lowered):
            kind, problem = "dead", "运行中断：运行所属的进程已不在（关机、断电、关闭窗口或被结束）"
        elif "cancel" in lowered or "终止" in message or "取消" in message:
            kind, problem = "stopped", "运行被取消"
        else:
            kind, problem = "internal", "运行没有完成（没有哪一步报告失败，见运行日志）"
        step = "整个运行"
        action = _action(kind, None, run)
    return Notice(run.run_id, run.job, when, district, month, step, problem, action)


# --- the files the team watches -----------------------------------------------------------------


def notice_files(folder: Path) -> tuple[Path, Path]:
    return folder / TEXT_FILE, folder / JSONL_FILE


def already_noticed(folder: Path, run_id: str, *, recovered: bool = False) -> bool:
    """A block of this run (its recovery, or else its failure's) is written already. A run
    marked failed from outside while it ran on (the city's daemon losing its database) has its
    failure's notice, and then its recovery, when it went through after all."""
    return any(
        record.get("run_id") == run_id and (record.get("kind") == Recovery.kind) == recovered
        for record in _records(folder)
    )


def _records(folder: Path) -> list[dict]:
    _, jsonl = notice_files(folder)
    if not jsonl.is_file():
        return []
    records = []
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: not ours to judge
        if isinstance(record, dict):
            records.append(record)
    return records


def open_failures(
    folder: Path, job: str, district: str | None, month: str | None
) -> tuple[str, ...]:
    """The run ids of the failure notices under `folder` of `job`'s runs of this district and
    month that no recovery has answered yet, oldest first."""
    district, month = _labels(district, month)
    answered: set[str] = set()
    failed: list[str] = []
    for record in _records(folder):
        if (record.get("job"), record.get("district"), record.get("month")) != (
            job,
            district,
            month,
        ):
            continue
        if record.get("kind") == "recovered":
            answered.update(record.get("resolves") or ())
        elif record.get("run_id"):
            failed.append(record["run_id"])
    return tuple(r for r in dict.fromkeys(failed) if r not in answered)


def recovery(
    run_id: str, job: str, district: str | None, month: str | None, resolves: Sequence[str],
    when: datetime | None = None,
) -> Recovery:  # fmt: skip
    district, month = _labels(district, month)
    stamp = (when or datetime.now()).strftime("%Y-%m-%d %H:%M")
    return Recovery(run_id, job, stamp, district, month, tuple(resolves))


def append_notice(folder: Path, item: Notice | Recovery) -> bool:
    """Append `item` to the notice files under `folder` (created when missing); False when this
    run was noticed before (a sensor evaluated twice writes once)."""
    if already_noticed(folder, item.run_id, recovered=isinstance(item, Recovery)):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    text, jsonl = notice_files(folder)
    block = item.text().replace("\n", "\r\n") + "\r\n\r\n"
    with text.open("a", encoding="utf-8", newline="") as out:
        if out.tell() == 0:
            out.write("\ufeff")  # Notepad and WPS read it as UTF-8
        out.write(block)
    with jsonl.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return True
