"""The export ledger: an append-only, hash-chained record of every file that left the pipeline.

PIPL Art. 51/55/56: the district must be able to show what personal information went out, when,
by whom, to which township. Every file written gets one JSON line in
`<data dir>/ledger/export_ledger.jsonl`:

    seq, time, user, os_user, host, run_id, district, month, township (null: a district file),
    file (path under the data dir), rows, columns, bytes, sha256, ids_masked (null: no ID numbers
    in the file), prev (SHA-256 of the previous line; 64 zeros for the first)

The file is only ever appended to (never rewritten), lives outside `warehouse/` (a rebuild does
not touch it) and outside Dagster's storage (run-history retention does not touch it). A line's
hash is the SHA-256 of its UTF-8 bytes without the newline; the next line carries it, so an edited
or deleted line breaks the chain. `export_ledger.head` (replaced after every append) holds the
count and the last hash, so a cut-off tail is detected too; the warehouse table `export_log`
mirrors every entry with its hash as a third witness.

No dagster here: the asset layer passes the run id and the launching user in as plain strings.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.exports.township import WRITING_FOLDER, ExportedFile, clean_text
from pipelines.schema import TABLE

EXPORT_LOG = TABLE["export_log"]

LEDGER_DIR = "ledger"
LEDGER_FILE = "export_ledger.jsonl"
HEAD_FILE = "export_ledger.head"
GENESIS = "0" * 64
EXPORTED_SUFFIXES = {".csv", ".xlsx", ".html"}

try:  # POSIX: one appender at a time, even across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: the Dagster writer pool already serialises
    fcntl = None


def ledger_path(root: Path) -> Path:
    return root / LEDGER_DIR / LEDGER_FILE


def head_path(root: Path) -> Path:
    return root / LEDGER_DIR / HEAD_FILE


def exported_before(root: Path, district: str, month: str) -> list[str]:
    """The months before `month` whose township lists the ledger says went out for `district`
    (a warehouse gone while they are on the ledger was lost, not new)."""
    path = ledger_path(root)
    if not path.is_file():
        return []
    months = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: verify_ledger names it
        listed = entry.get("district") == district and entry.get("township") is not None
        if listed and str(entry.get("month", "")) < month:
            months.add(str(entry["month"]))
    return sorted(months)


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a service without USER/LOGNAME and no passwd entry)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _last_line(path: Path) -> tuple[int, bytes | None, bool]:
    """Lines in the ledger, its last line (None when empty), and whether that line is complete."""
    if not path.is_file():
        return 0, None, True
    data = path.read_bytes()
    if not data:
        return 0, None, True
    complete = data.endswith(b"\n")
    lines = data.rstrip(b"\n").split(b"\n") if complete else data.split(b"\n")
    return len(lines), lines[-1], complete


@contextlib.contextmanager
def entries_appended(
    root: Path,
    files: Sequence[ExportedFile],
    *,
    district: str,
    month: str,
    run_id: str | None,
    user: str | None = None,
    now: datetime | None = None,
) -> Iterator[list[dict]]:
    """One chained entry per file (in the order given), appended to the ledger; yields the
    entries, each with its own hash under `entry_sha256` (not part of the line). The ledger is
    held until the block is done: when the block fails (the warehouse's mirror of the entries on
    a full disk), the lines are taken back and the ledger is as it was, since the files they
    name did not go out (an independent fault probe, indep31, found the ledger listing files no
    township ever received). The head file is written once the block is done: a run killed
    inside it leaves the head behind the chain, which the audit notes."""
    path = ledger_path(root)
    entries: list[dict] = []
    when = (now or datetime.now().astimezone()).isoformat(timespec="seconds")
    login = os_user()
    with _locked(path):
        count, last, complete = _last_line(path)
        prev = line_hash(last) if last is not None else GENESIS
        lines: list[bytes] = []
        for offset, exported in enumerate(files):
            entry = {
                "seq": count + offset,
                "time": when,
                "user": user or login,
                "os_user": login,
                "host": socket.gethostname(),
                "run_id": run_id,
                "district": district,
                "month": month,
                "township": exported.township,
                "file": _relative(exported.path, root),
                "rows": exported.rows,
                "columns": list(exported.columns),
                "bytes": exported.size
                if exported.size is not None
                else exported.path.stat().st_size,
                "sha256": exported.sha256 or file_sha256(exported.path),
                "ids_masked": exported.ids_masked,
                "prev": prev,
            }
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            prev = line_hash(line)
            entries.append(entry | {"entry_sha256": prev})
            lines.append(line)
        if not lines:
            yield entries
            return
        # a torn last line (a crash mid-append) stays as evidence; the new lines start afresh
        payload = (b"" if complete else b"\n") + b"".join(line + b"\n" for line in lines)
        with path.open("ab") as handle:
            before = handle.tell()
            try:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
                yield entries
            except BaseException:
                # truncating needs no free space: the ledger ends where it ended
                handle.truncate(before)
                handle.flush()
                os.fsync(handle.fileno())
                raise
        head = head_path(root)
        temporary = head.with_suffix(".head.tmp")
        temporary.write_text(
            json.dumps({"entries": count + len(lines), "last": prev}) + "\n", encoding="utf-8"
        )
        os.replace(temporary, head)


def log_exports(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    files: Sequence[ExportedFile],
    *,
    district: str,
    month: str,
    run_id: str | None,
    user: str | None,
) -> None:
    """Files about to leave, on the append-only ledger outside the warehouse and mirrored in
    export_log; when the mirror fails, the ledger's lines are taken back (entries_appended)."""
    with entries_appended(
        root, files, district=district, month=month, run_id=run_id, user=user
    ) as entries:
        mirror_to_warehouse(con, entries)


def mirror_to_warehouse(con: duckdb.DuckDBPyConnection, entries: Sequence[dict]) -> None:
    """Append the entries to `export_log` (append-only, like the ledger)."""
    rows = [
        {
            "district": e["district"], "month": e["month"], "exported_at": e["time"],
            "township": e["township"], "file": Path(e["file"]).name, "rows": e["rows"],
            "sha256": e["sha256"], "run_id": e["run_id"], "user": e["user"],
            "ids_masked": e["ids_masked"], "ledger_seq": e["seq"],
            "entry_sha256": e["entry_sha256"],
        }
        for e in entries
    ]  # fmt: skip
    if not rows:
        return
    # one INSERT of all the rows (executemany runs one statement per row)
    con.register("_entries", pl.DataFrame(rows, infer_schema_length=None))
    try:
        con.execute(f"INSERT INTO {EXPORT_LOG.name} BY NAME SELECT * FROM _entries")
    finally:
        con.unregister("_entries")


# ---------------------------------------------------------------------------------------------
# Audit


@dataclass
class LedgerCheck:
    entries: list[dict] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # something is wrong: audit fails
    notes: list[str] = field(default_factory=list)  # worth knowing, not wrong


def verify_ledger(root: Path) -> LedgerCheck:
    """Every line parses, numbers run 0, 1, 2, …, each `prev` is the previous line's hash, the
    first is chained to zeros, and the head file agrees with the last line."""
    check = LedgerCheck()
    path = ledger_path(root)
    if not path.is_file():
        return check
    data = path.read_bytes()
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    elif raw_lines:
        check.problems.append(f"第 {len(raw_lines)} 行不完整（写入中断或被截断）")
    prev = GENESIS
    for number, line in enumerate(raw_lines, start=1):
        digest = line_hash(line)
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            check.problems.append(f"第 {number} 行不是有效的登记记录（被改动或损坏）")
            prev = digest
            continue
        if entry.get("prev") != prev:
            check.problems.append(
                f"第 {number} 行（序号 {entry.get('seq')}）的前一条哈希不符："
                "前一行被改动或删除，或本行被插入"
            )
        if entry.get("seq") != len(check.entries):
            check.problems.append(
                f"第 {number} 行序号为 {entry.get('seq')}，应为 {len(check.entries)}："
                "之前有登记被删除或插入"
            )
        check.entries.append(entry)
        check.hashes.append(digest)
        prev = digest
    head = head_path(root)
    if not head.is_file():
        if check.entries:
            check.problems.append(f"缺少 {HEAD_FILE}：无法确认登记末尾未被删除")
        return check
    try:
        recorded = json.loads(head.read_text(encoding="utf-8"))
        expected, last = int(recorded["entries"]), str(recorded["last"])
    except (ValueError, KeyError, TypeError):
        check.problems.append(f"{HEAD_FILE} 无法读取（被改动或损坏）")
        return check
    if expected > len(check.hashes):
        check.problems.append(
            f"登记末尾少了 {expected - len(check.hashes)} 条（{HEAD_FILE} 记录 {expected} 条，"
            f"现有 {len(check.hashes)} 条）：末尾的登记被删除"
        )
    elif expected and check.hashes[expected - 1] != last:
        check.problems.append(f"第 {expected} 条登记与 {HEAD_FILE} 记录的哈希不符：被改动")
    elif expected < len(check.hashes):
        check.notes.append(
            f"{HEAD_FILE} 落后 {len(check.hashes) - expected} 条（上次追加后未及更新，链条完整）"
        )
    return check


def _warehouse_witness(database: Path | None, check: LedgerCheck) -> None:
    """The warehouse's copy of each entry hash must match the ledger line of the same number."""
    if database is None or not database.is_file():
        return
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error:
        check.notes.append("仓库正被占用，未与 export_log 核对")
        return
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'export_log' AND column_name = 'entry_sha256'"
        ).fetchall()[0][0]
        if not exists:
            return
        rows = con.execute(
            "SELECT DISTINCT ledger_seq, entry_sha256 FROM export_log"
            " WHERE entry_sha256 IS NOT NULL ORDER BY ledger_seq"
        ).fetchall()
    finally:
        con.close()
    for seq, digest in rows:
        if seq >= len(check.hashes):
            check.problems.append(f"仓库 export_log 记有序号 {seq} 的登记，登记文件中没有：被删除")
        elif check.hashes[seq] != digest:
            check.problems.append(f"序号 {seq} 的登记与仓库 export_log 中的哈希不符：被改动")


@dataclass
class AuditResult:
    ok: bool
    text: str


def audit(root: Path, database: Path | None = None) -> AuditResult:
    """List the ledger per month and township, verify the chain, and re-hash every exported file
    still under exports/ against its latest entry."""
    check = verify_ledger(root)
    _warehouse_witness(database, check)
    chain_ok = not check.problems
    lines = [f"导出登记：{ledger_path(root)}", ""]
    latest: dict[str, dict] = {}
    for entry in check.entries:
        if isinstance(entry.get("file"), str):
            latest[entry["file"]] = entry
    if check.entries:
        lines += _per_month_township(check.entries, latest)
    else:
        lines.append("没有任何导出登记。")
    current = _current_files(check.entries)
    changed, deleted, gone = [], [], []
    for name, entry in sorted(latest.items()):
        path = root / name
        if not path.is_file():
            if name in current:
                # the month's latest write of its kind put it there: it is the list in force
                deleted.append(
                    f"{name}：导出后被删除（{entry.get('time')} 序号 {entry.get('seq')} 登记的"
                    "现行文件，之后没有重跑清除它）"
                )
            else:
                gone.append(name)
        elif file_sha256(path) != entry.get("sha256"):
            changed.append(
                f"{name}：导出后被改动（与 {entry.get('time')} 序号 {entry.get('seq')} 的登记不符）"
            )
    check.problems += changed + deleted
    exports = root / "exports"
    found = [p for p in (exports.rglob("*") if exports.is_dir() else []) if p.is_file()]
    # an export killed or stopped while writing leaves its folder beside exports/<M>/: its files
    # never took a published file's place (an independent fault probe, indep31, saw them listed
    # as files exported before the ledger, or put there by hand)
    writing = {p: _writing_folder(p, exports) for p in found}
    interrupted = sorted({_relative(folder, root) for folder in writing.values() if folder})
    unregistered = sorted(
        _relative(p, root)
        for p in found
        if p.suffix in EXPORTED_SUFFIXES and not writing[p] and _relative(p, root) not in latest
    )
    lines.append("")
    lines.append(f"登记链：{len(check.entries)} 条，" + ("完整" if chain_ok else "有问题（见下）"))
    lines.append(
        f"仍在 exports/ 中的已登记文件：{len(latest) - len(gone) - len(deleted)} 个，"
        f"其中导出后被改动 {len(changed)} 个"
    )
    if deleted:
        lines.append(f"现行文件导出后被删除：{len(deleted)} 个（见下）")
    if gone:
        lines.append(f"已不在 exports/ 中（之后的重跑不再写出，已清除）：{len(gone)} 个")
    if unregistered:
        lines.append(
            f"exports/ 中没有登记的文件 {len(unregistered)} 个（登记之前导出，或手工放入）："
        )
        lines += [f"  {clean_text(name, 200)}" for name in unregistered]
    for folder in interrupted:
        lines.append(
            f"注：{clean_text(folder, 200)} 是一次中断的导出（运行被结束、停电或磁盘满）留下的临时"
            "文件夹，其中的文件没有发给乡镇、没有登记；该月下次导出时自动清除，也可以手工删除"
        )
    for note in check.notes:
        lines.append(f"注：{note}")
    if check.problems:
        lines.append("")
        lines.append(f"✗ 发现 {len(check.problems)} 个问题：")
        lines += [f"  {clean_text(problem, 300)}" for problem in check.problems]
    else:
        lines.append("✓ 登记链完整，已登记的现存文件均与登记一致")
    return AuditResult(ok=not check.problems, text="\n".join(lines))


def _writing_folder(path: Path, exports: Path) -> Path | None:
    """The folder a run writes an export in (township.writing_beside) that holds `path`, if any."""
    for folder in path.relative_to(exports).parents:
        if WRITING_FOLDER.match(folder.name):
            return exports / folder
    return None


def _current_files(entries: list[dict]) -> set[str]:
    """The files in force: those of each month's latest write of its kind (a district's township
    lists, or its district files), one run appending each at one time. A file an earlier run wrote
    and a later one did not (a township with nothing left to list, an unresolved list now empty)
    was cleared by that rerun; one the latest write put there and that is gone was deleted (an
    independent probe's hand-deleted 东桥镇.xlsx had been counted with the rerun's)."""

    def kind(entry: dict) -> tuple:
        return (entry.get("district"), entry.get("month"), entry.get("township") is None)

    latest_write: dict[tuple, tuple] = {}
    for entry in entries:  # in ledger order: the last write of each kind wins
        latest_write[kind(entry)] = (entry.get("run_id"), entry.get("time"))
    return {
        entry["file"]
        for entry in entries
        if isinstance(entry.get("file"), str)
        and latest_write.get(kind(entry)) == (entry.get("run_id"), entry.get("time"))
    }


def _per_month_township(entries: list[dict], latest: dict[str, dict]) -> list[str]:
    groups: dict[tuple[str, str], dict] = {}
    for entry in entries:
        key = (str(entry.get("month")), entry.get("township") or "（区级文件）")
        group = groups.setdefault(key, {"writes": 0, "files": set(), "last": "", "users": set()})
        group["writes"] += 1
        group["files"].add(entry.get("file"))
        group["last"] = max(group["last"], str(entry.get("time")))
        group["users"].add(str(entry.get("user")))
    rows: dict[tuple[str, str], int] = {}
    for entry in latest.values():
        if str(entry.get("file", "")).endswith(".csv"):
            key = (str(entry.get("month")), entry.get("township") or "（区级文件）")
            rows[key] = rows.get(key, 0) + int(entry.get("rows") or 0)
    out = [
        "月份     乡镇                    写出次数  文件数  CSV行数(最新)  最近写出                   用户"
    ]
    for (month, township), group in sorted(groups.items()):
        shown = clean_text(township, 20)
        pad = " " * max(0, 22 - sum(2 if ord(ch) > 0x2E80 else 1 for ch in shown))
        out.append(
            f"{month:<8} {shown}{pad}  {group['writes']:<8}  {len(group['files']):<6}  "
            f"{rows.get((month, township), 0):<13}  {group['last']:<25}  "
            f"{clean_text(','.join(sorted(group['users'])), 60)}"
        )
    return out
