"""Feedback layer: the townships' verification results of earlier months come back in."""

import json

import dagster as dg
import polars as pl

from pipelines.assets.common import warehouse_asset
from pipelines.assets.ingest import staged_metadata, write_staged
from pipelines.feedback import (
    NOT_THIS_PERSON,
    effective_verdicts,
    records_behind,
    resolve_answers,
)
from pipelines.ingest.stage import StagedSource, stage_source
from pipelines.resources import FangfanResource
from pipelines.sources import FEEDBACK
from pipelines.warehouse import replace_partition, table_exists

ANSWER_SCHEMA = {
    "warning_id": pl.String, "verdict": pl.String, "verification_note": pl.String,
    "verifier": pl.String, "verified_date": pl.Date, "file": pl.String, "sheet": pl.String,
    "row_number": pl.Int64, "file_township": pl.String,
}  # fmt: skip


def _listed_before(con, district: str, month: str) -> pl.DataFrame:
    if not table_exists(con, "listings"):
        return pl.DataFrame(
            schema={"warning_id": pl.String, "township": pl.String, "member_key": pl.String}
        )
    return con.sql(
        """SELECT warning_id, any_value(township) AS township, any_value(member_key) AS member_key
           FROM listings WHERE district = $d AND month < $m GROUP BY warning_id""",
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


@warehouse_asset(
    group="ingest",
    kinds={"duckdb", "polars"},
)
def verification_feedback(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> dg.MaterializeResult:
    """乡镇核实结果：读入退回的预警清单，校验预警编号、核实结果与乡镇；非本人写入禁止匹配对。"""
    month, district = context.partition_key, fangfan.district_key
    folder = fangfan.layout.source_folder(month, FEEDBACK.key)
    staged = stage_source(FEEDBACK, folder, month)
    with fangfan.warehouse() as con:
        listed = _listed_before(con, district, month)
        answers, rejected = (
            resolve_answers(staged.records, listed)
            if staged.records.height
            else (None, pl.DataFrame())
        )
        staged = account(staged, rejected)
        write_staged(con, FEEDBACK.key, staged, district=district, month=month)
        frame = (
            answers.select(*ANSWER_SCHEMA).cast(ANSWER_SCHEMA)
            if answers is not None
            else pl.DataFrame(schema=ANSWER_SCHEMA)
        )
        replace_partition(con, "feedback_answers", frame, district=district, month=month)
        # 非本人 answered this month: the records behind go back to the unmatched list and their
        # identities may never again be tied to that member
        verdicts = effective_verdicts(con, district, month)
        new_nonself = verdicts.filter(
            (pl.col("verdict") == NOT_THIS_PERSON) & (pl.col("answered_month") == month)
        )["warning_id"].to_list()
        behind = records_behind(con, district, new_nonself).join(
            listed.select("warning_id", "member_key"), on="warning_id", how="left"
        )
        replace_partition(con, "negative_pairs", behind, district=district, month=month)
    by_verdict = dict(frame.group_by("verdict").len().iter_rows()) if frame.height else {}
    metadata = staged_metadata(staged, folder)
    metadata.update(
        {
            "answers": frame.height,
            "rejected_by_check": rejected.height,
            "other_township_rejected": int(
                (rejected["reason"].str.contains("其他乡镇")).sum() if rejected.height else 0
            ),
            "negative_pairs_added": behind.height,
            **{f"核实结果 · {k}": int(v) for k, v in by_verdict.items()},
        }
    )
    return dg.MaterializeResult(metadata=metadata)
