"""Pandera (polars) schemas of the staged tables, derived from the source registry."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from pipelines.ingest.table import FIELD_DTYPES
from pipelines.sources import FieldType, Source

ID_STATUSES = (
    "valid",
    "converted15",
    "disability20",
    "bad_checksum",
    "bad_date",
    "destroyed",
    "missing",
    "invalid",
)

# one declaration of how each field type is stored: the ingest's
_DTYPES = FIELD_DTYPES


def staged_schema(source: Source) -> pa.DataFrameSchema:
    """What every kept row of a staged source must look like."""
    columns: dict[str, pa.Column] = {
        "record_key": pa.Column(pl.String, unique=True, nullable=False),
        "file": pa.Column(pl.String, nullable=False),
        "row_number": pa.Column(pl.Int64, pa.Check.ge(1), nullable=False),
        "id_status": pa.Column(pl.String, pa.Check.isin(ID_STATUSES), nullable=False),
    }
    for field in source.fields:
        if field.type is FieldType.ID:
            columns["id_number"] = pa.Column(
                pl.String, pa.Check.str_matches(r"^\d{17}[\dX]$"), nullable=True
            )
            continue
        checks = [pa.Check.isin(list(field.allowed))] if field.allowed else []
        # a department row keeps its identity when a required field is unreadable (the field is
        # null and a field problem says why); roster, grid and feedback rows need theirs
        columns[field.name] = pa.Column(
            _DTYPES[field.type],
            checks,
            nullable=source.is_department or not field.required or field.keeps_row,
            required=False,
        )
    if source.is_department:
        columns["name"] = pa.Column(pl.String, nullable=True)
    return pa.DataFrameSchema(columns, strict=False, name=f"stg_{source.key}")


def schema_failures(source: Source, frame: pl.DataFrame) -> pl.DataFrame:
    """Failure counts by column and check (empty frame = valid)."""
    try:
        staged_schema(source).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return (
            cases.group_by(["column", "check"])
            .agg(pl.len().alias("failures"))
            .sort(["column", "check"])
            .with_columns(pl.col("column").cast(pl.String), pl.col("check").cast(pl.String))
        )
    return pl.DataFrame(schema={"column": pl.String, "check": pl.String, "failures": pl.UInt32})
