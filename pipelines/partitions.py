"""The monthly partition shared by every asset, the schedule and the CLI."""

import dagster as dg

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date="2021-01", timezone="Asia/Shanghai", fmt="%Y-%m"
)
