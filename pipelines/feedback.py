"""Verification results returned by townships: verdicts, their checks, and what they change next month."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.ingest.stage import StagedSource, stage_source
from pipelines.schema import ANSWER_SCHEMA
from pipelines.sources import DEPARTMENT_KEYS, FEEDBACK, SOURCES
from pipelines.warehouse import replace_partition

VERDICTS = ("属实-已纳入监测", "属实-已落实帮扶", "属实-无需纳入", "不属实", "非本人")
CONFIRMED = VERDICTS[:3]
REFUTED, NOT_THIS_PERSON = "不属实", "非本人"
# compared without dashes, so 属实－已纳入监测, 属实—已纳入监测, 属实（已纳入监测） and
# 属实已纳入监测 all count
_VERDICT_BY_KEY = {v.replace("-", ""): v for v in VERDICTS}
_DASHES = r"[-－—–―‐‑~～_·、:：,，.。/\\()\[\]【】〔〕]"

# A department record's identity across months: the same person in the same department's lists.
# A 非本人 verdict forbids this identity being tied to that member again, for the record's own
# content (content_sql): the same row sent again in a later month stays ruled out, another record
# of that person (another vehicle, a later 变动) is another record.
IDENTITY_SQL = (
    "md5(concat_ws('|', {s}.source, coalesce({s}.name, ''), coalesce({s}.id_number, ''), "
    "coalesce({s}.township, ''), coalesce({s}.village, '')))"
)
# the fields that say whose a record is, not what it says
_WHOSE = ("name", "id_number", "township", "village", "group")


def content_sql(source_key: str, alias: str) -> str:
    """SQL over a staged row `alias` of department source `source_key`: what the record says
    besides whose it is (every field of the source but name, ID and place), as one key. Contract
    §5: 非本人 tells the matcher never to tie *that department record* to that member again; an
    independent probe's new vehicle of a member (another plate, type and date) had been ruled
    out with the vehicle the township had answered 非本人 for."""
    fields = [f.name for f in SOURCES[source_key].fields if f.name not in _WHOSE]
    parts = ", ".join(f"coalesce({alias}.\"{name}\"::VARCHAR, '')" for name in fields)
    return f"md5(concat_ws('|', {parts}))" if fields else "''"


def normalise_verdict(text: str | None) -> str | None:
    """One of VERDICTS, or None when the cell is blank; unknown text comes back unchanged."""
    if text is None:
        return None
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))
    if not folded:
        return None
    verdict = _VERDICT_BY_KEY.get(re.sub(_DASHES, "", folded))
    if verdict is None and (noted := re.fullmatch(_NOTED, folded)):
        # a verdict and the clerk's note in brackets (不属实（已入户核实）, 非本人(同名)): the
        # verdict, unless the note is itself another one (the cell then reads two ways)
        head, note = (_VERDICT_BY_KEY.get(re.sub(_DASHES, "", part)) for part in noted.groups())
        verdict = head if note in (None, head) else None
    if verdict is None and (said := re.fullmatch(_SAID, folded)):
        # a verdict, then the clerk's sentence after a comma (属实-无需纳入，家属已外出务工: an
        # independent probe, indep32, saw it refused): the verdict, unless the sentence names a
        # verdict too (不属实，非本人; 非本人，经核实属实): the cell then reads two ways
        head = _VERDICT_BY_KEY.get(re.sub(_DASHES, "", said.group(1)))
        if head is not None and not re.search(_VERDICT_WORDS, said.group(2)):
            verdict = head
    return verdict or folded


_NOTED = r"(.+?)[(\[【〔](.+)[)\]】〕]"
# after NFKC: ，；：。 are , ; : and 。
_SAID = r"(.+?)[,;:。](.+)"
_VERDICT_WORDS = r"属实|非本人"


def file_townships(file: str, townships: list[str]) -> list[str]:
    """The townships a returned file's name names, in the order it names them: one township's
    return (东桥镇_王岗村核实.xlsx), or several the district put together
    (东桥镇三十铺镇_10月核实结果.xlsx: an independent probe, indep32, saw 东桥镇's rows refused as
    another township's). Where one name holds another (东桥镇, 东桥), the longer is meant."""
    stem = file.rsplit("/", 1)[-1]
    named: list[str] = []
    for township in sorted(townships, key=len, reverse=True):
        if township and township in stem and not any(township in n for n in named):
            named.append(township)
    return sorted(named, key=stem.index)


REJECT_UNKNOWN_ID = "预警编号不存在：不是本区此前下发的预警"
REJECT_UNKNOWN_VERDICT = (
    "核实结果不是规定值（属实-已纳入监测/属实-已落实帮扶/属实-无需纳入/不属实/非本人）"
)
REJECT_OTHER_TOWNSHIP = "该预警属于其他乡镇，不能由本文件所属乡镇反馈"
REJECT_CONFLICT = (
    "同一预警在本月反馈中有相互矛盾的核实结果（最晚的核实日期相同或都未填），均未采用："
    "请乡镇确认后只保留一个"
)
REJECT_NO_VERDICT = "核实结果为空，但填写了核实说明/核实人/核实日期：请按规定值填写核实结果"


def resolve_answers(rows: pl.DataFrame, listed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Staged feedback rows against every warning listed before: (answers, rejects).

    `rows`: file, sheet, row_number, warning_id, township, verdict, verification_note, verifier,
    verified_date. `listed`: warning_id, township (one row per warning and township it was ever
    listed to: a warning follows its household or member when they move, and the township that
    received it may answer it, as may one that had it before the move).
    Rows with no 核实结果 and nothing else filled are not answers yet and are neither kept as
    answers nor rejected (whoever's warning they are); a row with 核实说明, 核实人 or 核实日期 but
    no 核实结果 is an answer not taken (REJECT_NO_VERDICT). A warning whose latest answers this
    month disagree (a partial return and the complete one dated alike) reads two ways: none of
    its answers is taken.
    """
    townships = listed["township"].unique().drop_nulls().to_list()
    pairs = listed.select("warning_id", "township").unique()
    rows = _speaking_for(
        rows.with_columns(pl.col("warning_id").str.strip_chars().str.to_uppercase()), townships
    )
    # a row is its township's answer when one of the townships it speaks for is one the warning
    # was listed to (a row that speaks for none, its file naming none and its 乡镇 blank
    # throughout, is not taken for another township's)
    own = (
        rows.select("_row", "warning_id", pl.col("_for").alias("township"))
        .explode("township")
        .join(pairs, on=["warning_id", "township"], how="semi")["_row"]
    )
    filled = pl.any_horizontal(
        pl.col("verification_note").str.strip_chars().str.len_chars() > 0,
        pl.col("verifier").str.strip_chars().str.len_chars() > 0,
        pl.col("verified_date").is_not_null(),
    ).fill_null(False)
    checked = (
        rows.with_columns(
            pl.col("verdict").map_elements(normalise_verdict, return_dtype=pl.String),
            pl.col("_for").list.join("、").replace("", None).alias("file_township"),
            ((pl.col("_for").list.len() == 0) | pl.col("_row").is_in(own.implode())).alias(
                "its_township"
            ),
        )
        .drop("_row", "_for")
        .with_columns(pl.col("warning_id").is_in(pairs["warning_id"].implode()).alias("known"))
        .with_columns(
            pl.when(pl.col("verdict").is_null() & ~filled)
            .then(pl.lit(None, dtype=pl.String))  # not an answer yet
            .when(~pl.col("known"))
            .then(pl.lit(REJECT_UNKNOWN_ID))
            .when(pl.col("verdict").is_not_null() & ~pl.col("verdict").is_in(VERDICTS))
            .then(pl.lit(REJECT_UNKNOWN_VERDICT))
            .when(~pl.col("its_township"))
            .then(pl.lit(REJECT_OTHER_TOWNSHIP))
            .when(pl.col("verdict").is_null())
            .then(pl.lit(REJECT_NO_VERDICT))
            .alias("reason")
        )
    )
    dated = pl.col("verified_date").fill_null(pl.date(1900, 1, 1))
    taken = pl.col("reason").is_null() & pl.col("verdict").is_not_null()
    torn = (
        checked.filter(taken)
        .filter(dated == dated.max().over("warning_id"))
        .group_by("warning_id")
        .agg(pl.col("verdict").n_unique().alias("verdicts"))
        .filter(pl.col("verdicts") > 1)["warning_id"]
    )
    checked = checked.with_columns(
        pl.when(taken & pl.col("warning_id").is_in(torn.implode()))
        .then(pl.lit(REJECT_CONFLICT))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )
    rejects = checked.filter(pl.col("reason").is_not_null())
    answers = checked.filter(pl.col("reason").is_null() & pl.col("verdict").is_not_null()).drop(
        "reason", "known", "its_township"
    )
    return answers, rejects


def _speaking_for(rows: pl.DataFrame, townships: list[str]) -> pl.DataFrame:
    """`rows` numbered (_row) with the townships each speaks for (_for): those its file's name
    names (file_townships); in a file whose name names none (核实结果汇总.xlsx), the row's own
    乡镇 as returned, or, where that is blank, the one most of the file's rows give."""
    files = rows["file"].unique().to_list()
    named = pl.DataFrame(
        {"file": files, "_named": [file_townships(f, townships) for f in files]},
        schema={"file": pl.String, "_named": pl.List(pl.String)},
    )
    cell = pl.col("township").str.strip_chars().replace("", None)
    usual = cell.drop_nulls().mode().sort().first().over("file")
    return (
        rows.with_row_index("_row")
        .join(named, on="file", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_named").list.len() > 0)
            .then(pl.col("_named"))
            .otherwise(pl.concat_list(pl.coalesce(cell, usual)).list.drop_nulls())
            .alias("_for")
        )
        .drop("_named")
    )


def effective_verdicts(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Per warning, the answer in force at month M: the latest 核实日期 wins (all answers are kept)."""
    return con.sql(
        """SELECT warning_id,
                  arg_max(verdict, (coalesce(verified_date, DATE '1900-01-01'), month, file, row_number)) AS verdict,
                  max(verified_date) AS verified_date,
                  arg_max(month, (coalesce(verified_date, DATE '1900-01-01'), month, file, row_number)) AS answered_month
           FROM feedback_answers WHERE district = $d AND month <= $m GROUP BY warning_id""",
        params={"d": district, "m": month},
    ).pl()


def records_behind(
    con: duckdb.DuckDBPyConnection, district: str, warning_ids: list[str]
) -> pl.DataFrame:
    """The department records behind warnings, with their cross-month identity key."""
    if not warning_ids:
        return pl.DataFrame(
            schema={"warning_id": pl.String, "source": pl.String, "record_key": pl.String,
                    "record_month": pl.String, "identity_key": pl.String}
        )  # fmt: skip
    provenance = con.sql(
        """SELECT DISTINCT warning_id, source, record_key, month AS record_month
           FROM warning_records WHERE district = $d AND list_contains($ids, warning_id)""",
        params={"d": district, "ids": warning_ids},
    ).pl()
    frames = []
    for (source,), part in provenance.partition_by("source", as_dict=True).items():
        # the source names a table: only registry keys reach the SQL
        if source not in DEPARTMENT_KEYS:
            continue
        con.register("_behind", part)
        try:
            frames.append(
                con.sql(
                    f"""SELECT b.warning_id, b.source, b.record_key, b.record_month,
                               {IDENTITY_SQL.format(s="x")} AS identity_key
                        FROM _behind b
                        JOIN (SELECT *, '{source}' AS source FROM stg_{source}
                              WHERE district = $d) x
                          ON x.record_key = b.record_key AND x.month = b.record_month""",
                    params={"d": district},
                ).pl()
            )
        finally:
            con.unregister("_behind")
    return pl.concat(frames) if frames else records_behind(con, district, [])


def listed_before(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Every warning listed in a month before M, once per township it was listed to (a warning
    follows its household or member to another township), with the member of its latest listing."""
    return con.sql(
        """SELECT t.warning_id, t.township, m.member_key
           FROM (SELECT DISTINCT warning_id, township FROM listings
                 WHERE district = $d AND month < $m) t
           JOIN (SELECT warning_id, arg_max(member_key, month) AS member_key FROM listings
                 WHERE district = $d AND month < $m GROUP BY warning_id) m USING (warning_id)
           ORDER BY t.warning_id, t.township""",
        params={"d": district, "m": month},
    ).pl()


def _as_rejects(rejected: pl.DataFrame) -> pl.DataFrame:
    """Resolution rejects in the rejects-table shape; raw values keep the clerk's own cells."""
    raw = [
        json.dumps(
            {"预警编号": r["warning_id"], "乡镇": r["township"], "核实结果": r["verdict"]},
            ensure_ascii=False,
        )
        for r in rejected.iter_rows(named=True)
    ]
    return rejected.select(
        pl.lit(FEEDBACK.key).alias("source"),
        "file",
        "sheet",
        "row_number",
        pl.lit("warning_id").alias("field"),
        "reason",
        pl.Series("raw_values", raw, dtype=pl.String),
    )


def account(staged: StagedSource, rejected: pl.DataFrame) -> StagedSource:
    """Fold the resolution rejects into the per-file accounting: read = kept + rejected still."""
    if rejected.is_empty():
        return staged
    per_file = rejected.group_by("file").len("extra")
    files = (
        staged.files.join(per_file, on="file", how="left")
        .with_columns(pl.col("extra").fill_null(0))
        .with_columns(
            (pl.col("rows_kept") - pl.col("extra")).alias("rows_kept"),
            (pl.col("rows_rejected") + pl.col("extra")).alias("rows_rejected"),
        )
        .drop("extra")
    )
    keys = rejected["record_key"].implode()
    return StagedSource(
        records=staged.records.filter(~pl.col("record_key").is_in(keys)),
        rejects=pl.concat([staged.rejects, _as_rejects(rejected)], how="diagonal_relaxed"),
        files=files,
        received=staged.received,
        field_problems=staged.field_problems.filter(~pl.col("record_key").is_in(keys)),
    )


@dataclass(frozen=True)
class ReturnedLists:
    """raw/<M>/feedback/ read and checked: the rows kept (rejects folded in) and the answers."""

    staged: StagedSource
    answers: pl.DataFrame  # ANSWER_SCHEMA
    rejected: pl.DataFrame  # the rows the checks refused, with their reason


def read_returned_lists(folder, listed: pl.DataFrame, month: str) -> ReturnedLists:
    """Stage the townships' returned lists and check every answer against the warnings `listed`
    before this month (listed_before)."""
    staged = stage_source(FEEDBACK, folder, month)
    if staged.records.height:
        answers, rejected = resolve_answers(staged.records, listed)
        answers = answers.select(*ANSWER_SCHEMA).cast(ANSWER_SCHEMA)
    else:
        answers, rejected = pl.DataFrame(schema=ANSWER_SCHEMA), pl.DataFrame()
    return ReturnedLists(account(staged, rejected), answers, rejected)


def write_negative_pairs(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """The record identities behind the warnings answered 非本人 in M, each with the member it
    may never again be tied to; written to negative_pairs."""
    verdicts = effective_verdicts(con, district, month)
    answered = verdicts.filter(
        (pl.col("verdict") == NOT_THIS_PERSON) & (pl.col("answered_month") == month)
    )["warning_id"].to_list()
    listed = listed_before(con, district, month)
    pairs = records_behind(con, district, answered).join(
        listed.select("warning_id", "member_key").unique("warning_id"), on="warning_id", how="left"
    )
    replace_partition(con, "negative_pairs", pairs, district=district, month=month)
    return pairs
