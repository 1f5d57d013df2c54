"""The one resource every asset uses: where the data lives and how to reach the warehouse."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.config import DataDir, district_key, load_rule_config
from pipelines.warehouse import connect

WRITER_POOL = "duckdb_writer"


class FangfanResource(dg.ConfigurableResource):
    """The data directory (contract layout), the district key and the rule configuration file."""

    data_dir: str
    district: str = ""
    rules_file: str = ""
    export_date: str = ""  # YYYY-MM-DD; empty = today (first export of a month only)

    @property
    def layout(self) -> DataDir:
        return DataDir(Path(self.data_dir).resolve())

    @property
    def district_key(self) -> str:
        return district_key(self.layout, self.district)

    def rule_config(self) -> dict:
        return load_rule_config(self.layout, Path(self.rules_file) if self.rules_file else None)

    @contextlib.contextmanager
    def warehouse(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.layout.database, read_only=read_only) as con:
            yield con
