# /etc/fangfan/celery/dagster_celery_config.py: the Celery settings of the workers' app
# (dagster_celery.app imports this module when it is on PYTHONPATH). Same Redis as city.env.
import os

broker_url = os.environ["FANGFAN_REDIS_URL"]
result_backend = os.environ["FANGFAN_REDIS_URL"]
worker_prefetch_multiplier = 1
broker_connection_retry_on_startup = True
