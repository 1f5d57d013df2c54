"""The one resource every asset uses: the run's settings and the way to the declared warehouse."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.city.districts import City, District, load_city
from pipelines.config import DataDir, district_key
from pipelines.partitions import context_partitions, district_of
from pipelines.rules.settings import load_rule_config, settings_in_effect
from pipelines.warehouse import open_warehouse

WRITER_POOL = "duckdb_writer"


class FangfanResource(dg.ConfigurableResource):
    """The run's settings: the data directory (contract layout), the district key, the rule
    configuration file and the export date; `fangfan run` builds it from its arguments, the UI
    from the environment (pipelines/definitions.py).

    `data_dir` is one district's data directory (the README's layout) or a city's data root
    (`districts.toml`, or one folder per district: pipelines/city/districts.py). An asset takes
    the settings of its partition's district with `at(context)` (or `for_district(code)`): the
    district's data directory, its name as the district key, the same rules file and date."""

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

    @property
    def city(self) -> City:
        return load_city(self.data_dir, self.district)

    def for_district(self, code: str) -> FangfanResource:
        """The settings of district `code` (a single district answers for its own key only)."""
        city = self.city
        found: District = city.district(code)
        if city.single:
            return self
        return FangfanResource(
            data_dir=str(found.data_dir),
            district=found.name,
            rules_file=self.rules_file,
            export_date=self.export_date,
        )

    def at(self, context: dg.AssetExecutionContext) -> FangfanResource:
        """The settings of the district of the context's partition (or partitions: a run over a
        range covers one district)."""
        return self.for_district(district_of(context_partitions(context)[0]))

    def rule_config(self) -> dict:
        return load_rule_config(self.layout, Path(self.rules_file) if self.rules_file else None)

    def settings_in_effect(self) -> list[dict[str, str]]:
        """The values the settings files change from the defaults (rules.settings_in_effect)."""
        return settings_in_effect(self.layout, Path(self.rules_file) if self.rules_file else None)

    @contextlib.contextmanager
    def warehouse(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse; a writer's connection holds every declared table (pipelines/schema.py)."""
        with open_warehouse(self.layout.database, read_only=read_only) as con:
            yield con
