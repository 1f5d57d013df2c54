"""The partitions every asset shares — month × district — the schedule and the CLI use, and the
ways a partition reads other months (partition mappings).

A district asset's partition key is a `dg.MultiPartitionKey` {"month": "2026-10", "district":
"341502"}, written `341502|2026-10` (Dagster orders the dimensions by name). The month is the
monthly time dimension (Asia/Shanghai); the district is a dynamic dimension: the districts of the
data root (pipelines/city/districts.py) are added as its partitions by `fangfan run` and by the
`district_partitions` sensor, so a new district needs no code change. A single district is a city
of one: its key is its district key (the data directory's name or `[district] name`).

Every cross-month mapping reads the same district's other months (`MultiPartitionMapping`: the
month dimension by a `TimeWindowPartitionMapping`, the district by identity). The city assets are
partitioned by month only and read every district of their month (`EVERY_DISTRICT`).
"""

import warnings

import dagster as dg

from pipelines.config import previous_month

MONTH = "month"
DISTRICT = "district"

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date="2021-01", timezone="Asia/Shanghai", fmt="%Y-%m"
)
district_partitions = dg.DynamicPartitionsDefinition(name=DISTRICT)
month_district_partitions = dg.MultiPartitionsDefinition(
    {MONTH: monthly_partitions, DISTRICT: district_partitions}
)

# Months a window may reach back: every month since the partitions start, for decades to come.
HISTORY_MONTHS = 12 * 30


def partition_key(month: str, district: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({MONTH: month, DISTRICT: district})


def month_of(key: str | dg.MultiPartitionKey) -> str:
    """The month of a district asset's partition key (a month-only key is returned as it is)."""
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension[MONTH]
    return key.split("|")[1] if "|" in key else key


def district_of(key: str | dg.MultiPartitionKey) -> str:
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension[DISTRICT]
    return key.split("|")[0]


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def month_runs(months: list[str]) -> list[list[str]]:
    """`months` (YYYY-MM, ascending) cut into runs of consecutive months: each becomes one Dagster
    run over a range of partitions (an asset that accepts ranges: `ingest`), where a gap would
    otherwise put a month in the range that is not to be run."""
    runs: list[list[str]] = []
    for month in months:
        if runs and previous_month(month) == runs[-1][-1]:
            runs[-1].append(month)
        else:
            runs.append([month])
    return runs


def run_target(months: list[str], district: str) -> tuple[dg.MultiPartitionKey | None, dict]:
    """How a run of `months` of `district` is asked of Dagster: one month is its partition key;
    several consecutive ones (month_runs) are the range tags of one run."""
    if len(months) == 1:
        return partition_key(months[0], district), {}
    first, last = partition_key(months[0], district), partition_key(months[-1], district)
    return None, {RANGE_START_TAG: str(first), RANGE_END_TAG: str(last)}


def context_partitions(context: dg.AssetExecutionContext) -> list[dg.MultiPartitionKey]:
    """The partitions a step runs for: its one partition, or each of a range (one district)."""
    keys = list(context.partition_keys)
    if len({district_of(key) for key in keys}) > 1:
        raise ValueError("a run over a range of partitions covers one district")
    return keys


def _window(start: int, end: int) -> dg.MultiPartitionMapping:
    # months before the first partition (2021-01) simply do not exist; the flag and the multi
    # mappings are beta in 1.13 (checked on 1.13.27: tests/test_asset_graph.py)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        months = dg.TimeWindowPartitionMapping(
            start_offset=start, end_offset=end, allow_nonexistent_upstream_partitions=True
        )
        return dg.MultiPartitionMapping(
            {
                MONTH: dg.DimensionPartitionMapping(MONTH, months),
                DISTRICT: dg.DimensionPartitionMapping(DISTRICT, dg.IdentityPartitionMapping()),
            }
        )


# M reads M−1: a table that carries its history forward (the latest earlier listing holds every
# warning still open, with its first month and deadline), so M−1 stands for all earlier months.
PREVIOUS_MONTH = _window(-1, -1)
# M reads every month before it (nothing carries their rows forward).
EARLIER_MONTHS = _window(-HISTORY_MONTHS, -1)
# M reads every month up to and including itself (answers given so far, first export dates).
UP_TO_THIS_MONTH = _window(-HISTORY_MONTHS, 0)
# Year-to-date: the eleven months before M, of which those in M's calendar year are read (a
# TimeWindowPartitionMapping has fixed offsets; January reads none of them, December all eleven).
EARLIER_MONTHS_OF_THE_YEAR = _window(-11, -1)
# A city asset of month M reads month M of every district.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    EVERY_DISTRICT = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=MONTH)
