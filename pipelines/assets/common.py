"""The one shape every asset here has: a monthly partition, a warehouse writer, one code version."""

from collections.abc import Sequence

import dagster as dg

from pipelines.partitions import monthly_partitions
from pipelines.resources import WRITER_POOL

CODE_VERSION = "1"


def warehouse_asset(
    *,
    group: str,
    kinds: set[str],
    deps: Sequence[str] = (),
    name: str | None = None,
    check_specs: Sequence[dg.AssetCheckSpec] | None = None,
    description: str | None = None,
):
    """An asset over the monthly partition that writes the warehouse: it queues in the one-writer
    pool, so DuckDB never sees two writers."""
    return dg.asset(
        name=name,
        partitions_def=monthly_partitions,
        group_name=group,
        kinds=kinds,
        code_version=CODE_VERSION,
        pool=WRITER_POOL,
        deps=list(deps),
        check_specs=check_specs,
        description=description,
    )
