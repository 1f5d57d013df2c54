"""The monthly partition shared by every asset, the schedule and the CLI, and the ways a month
reads other months (partition mappings)."""

import warnings

import dagster as dg

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date="2021-01", timezone="Asia/Shanghai", fmt="%Y-%m"
)

# Months a window may reach back: every month since the partitions start, for decades to come.
HISTORY_MONTHS = 12 * 30


def _window(start: int, end: int) -> dg.TimeWindowPartitionMapping:
    # months before the first partition (2021-01) simply do not exist (the flag is beta in 1.13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(
            start_offset=start, end_offset=end, allow_nonexistent_upstream_partitions=True
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
