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
