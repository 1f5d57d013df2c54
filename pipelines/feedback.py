"""Verification results returned by townships: verdicts, their checks, and what they change next month."""

from __future__ import annotations

import re
import unicodedata

import duckdb
import polars as pl

from pipelines.sources import DEPARTMENT_KEYS
from pipelines.warehouse import table_exists

VERDICTS = ("属实-已纳入监测", "属实-已落实帮扶", "属实-无需纳入", "不属实", "非本人")
CONFIRMED = VERDICTS[:3]
REFUTED, NOT_THIS_PERSON = "不属实", "非本人"
# compared without dashes, so 属实－已纳入监测, 属实—已纳入监测 and 属实已纳入监测 all count
_VERDICT_BY_KEY = {v.replace("-", ""): v for v in VERDICTS}
_DASHES = r"[-－—–―‐‑~～_·、:：,，.。/\\]"

# A department record's identity across months: the same person in the same department's lists.
# A 非本人 verdict forbids this identity being tied to that member again.
IDENTITY_SQL = (
    "md5(concat_ws('|', {s}.source, coalesce({s}.name, ''), coalesce({s}.id_number, ''), "
    "coalesce({s}.township, ''), coalesce({s}.village, '')))"
)


def normalise_verdict(text: str | None) -> str | None:
    """One of VERDICTS, or None when the cell is blank; unknown text comes back unchanged."""
    if text is None:
        return None
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))
    if not folded:
        return None
    return _VERDICT_BY_KEY.get(re.sub(_DASHES, "", folded), folded)


def file_township(file: str, townships: list[str], column_values: pl.Series) -> str | None:
    """The township a returned file speaks for: its name when it names one, else its 乡镇 column."""
    stem = file.rsplit("/", 1)[-1]
    named = [t for t in sorted(townships, key=len, reverse=True) if t and t in stem]
    if named:
        return named[0]
    values = column_values.drop_nulls()
    return values.mode().sort().first() if values.len() else None


REJECT_UNKNOWN_ID = "预警编号不存在：不是本区此前下发的预警"
REJECT_UNKNOWN_VERDICT = (
    "核实结果不是规定值（属实-已纳入监测/属实-已落实帮扶/属实-无需纳入/不属实/非本人）"
)
REJECT_OTHER_TOWNSHIP = "该预警属于其他乡镇，不能由本文件所属乡镇反馈"


def resolve_answers(rows: pl.DataFrame, listed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Staged feedback rows against every warning listed before: (answers, rejects).

    `rows`: file, sheet, row_number, warning_id, township, verdict, verification_note, verifier,
    verified_date. `listed`: warning_id, township (one row per warning ever listed).
    Rows with no 核实结果 are not answers yet and are neither kept as answers nor rejected.
    """
    townships = listed["township"].unique().drop_nulls().to_list()
    owners = {
        file: file_township(file, townships, part["township"])
        for (file,), part in rows.partition_by("file", as_dict=True).items()
    }
    checked = (
        rows.with_columns(
            pl.col("warning_id").str.strip_chars().str.to_uppercase(),
            pl.col("verdict").map_elements(normalise_verdict, return_dtype=pl.String),
            pl.col("file").replace_strict(owners, return_dtype=pl.String).alias("file_township"),
        )
        .join(
            listed.select("warning_id", pl.col("township").alias("warning_township")),
            on="warning_id",
            how="left",
        )
        .with_columns(
            pl.when(pl.col("warning_township").is_null())
            .then(pl.lit(REJECT_UNKNOWN_ID))
            .when(pl.col("verdict").is_not_null() & ~pl.col("verdict").is_in(VERDICTS))
            .then(pl.lit(REJECT_UNKNOWN_VERDICT))
            .when(pl.col("file_township") != pl.col("warning_township"))
            .then(pl.lit(REJECT_OTHER_TOWNSHIP))
            .alias("reason")
        )
    )
    rejects = checked.filter(pl.col("reason").is_not_null())
    answers = checked.filter(pl.col("reason").is_null() & pl.col("verdict").is_not_null()).drop(
        "reason", "warning_township"
    )
    return answers, rejects


def effective_verdicts(con: duckdb.DuckDBPyConnection, district: str, month: str) -> pl.DataFrame:
    """Per warning, the answer in force at month M: the latest 核实日期 wins (all answers are kept)."""
    if not table_exists(con, "feedback_answers"):
        return pl.DataFrame(
            schema={"warning_id": pl.String, "verdict": pl.String, "verified_date": pl.Date,
                    "answered_month": pl.String}
        )  # fmt: skip
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
    if not warning_ids or not table_exists(con, "warning_records"):
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
        if source not in DEPARTMENT_KEYS or not table_exists(con, f"stg_{source}"):
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
