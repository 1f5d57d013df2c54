"""The one shape every asset here has: a month × district partition, the one-writer pool,
declared tables."""

from collections.abc import Iterable, Sequence

import dagster as dg
import polars as pl

from pipelines.partitions import month_district_partitions, month_of
from pipelines.resources import WRITER_POOL, FangfanResource
from pipelines.schema import TABLE

CODE_VERSION = "2"

Dep = str | dg.AssetDep


def deps(*items: Dep | Iterable[Dep]) -> list[dg.AssetDep]:
    """Asset keys (same month) and AssetDeps (other months), flattened."""
    flat: list[dg.AssetDep] = []
    for item in items:
        for dep in [item] if isinstance(item, str | dg.AssetDep) else item:
            flat.append(dep if isinstance(dep, dg.AssetDep) else dg.AssetDep(dep))
    return flat


def months(key: str, mapping: dg.PartitionMapping) -> dg.AssetDep:
    """A dependency on other months of `key` (pipelines.partitions)."""
    return dg.AssetDep(key, partition_mapping=mapping)


def table_metadata(table: str) -> dict:
    """The declared table behind an asset: its name and columns, shown in the UI."""
    declared = TABLE[table]
    return {
        "dagster/table_name": declared.name,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type) for c in declared.columns]
        ),
        "key": ", ".join(declared.key),
    }


def table_spec(
    key: str,
    *,
    group: str,
    depends_on: Sequence[dg.AssetDep] = (),
    table: str | None = None,
    description: str | None = None,
    kinds: Iterable[str] = ("duckdb",),
) -> dg.AssetSpec:
    """An asset that is one declared warehouse table (by default the table named like the key)."""
    table = table or key
    return dg.AssetSpec(
        key,
        group_name=group,
        kinds=set(kinds),
        description=description or TABLE[table].description,
        deps=list(depends_on),
        code_version=CODE_VERSION,
        metadata=table_metadata(table),
    )


def file_spec(
    key: str,
    *,
    group: str,
    kinds: Iterable[str],
    description: str,
    depends_on: Sequence[dg.AssetDep],
) -> dg.AssetSpec:
    """An asset that is files under exports/<M>/."""
    return dg.AssetSpec(
        key,
        group_name=group,
        kinds=set(kinds),
        description=description,
        deps=list(depends_on),
        code_version=CODE_VERSION,
    )


def monthly_multi_asset(
    *,
    name: str,
    specs: Sequence[dg.AssetSpec],
    check_specs: Sequence[dg.AssetCheckSpec] | None = None,
    can_subset: bool = False,
):
    """One computation over a month × district partition that writes the tables of `specs`: it queues
    in the one-writer pool, so DuckDB never sees two writers."""
    return dg.multi_asset(
        name=name,
        specs=list(specs),
        check_specs=check_specs,
        partitions_def=month_district_partitions,
        pool=WRITER_POOL,
        can_subset=can_subset,
    )


def district_settings(
    context: dg.AssetExecutionContext, fangfan: FangfanResource
) -> tuple[FangfanResource, str]:
    """The settings of the partition's district (its data directory, warehouse and district key)
    and the partition's month."""
    return fangfan.at(context), month_of(context.partition_key)


def markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return "\n".join([header, rule, *rows])
