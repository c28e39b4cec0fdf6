"""Every Prometheus metric kubekeeper exports, defined once: the exporters (report/prometheus.py, the
node-exporter textfile of `backup all`; deploy/run.py, the Pushgateway push of in-cluster jobs; the
etcd follower of issue 16) write these names, and the alert rules and the Grafana dashboard
(deploy/monitoring.py) are built from them, so a renamed metric cannot leave a dead alert behind.
"""

from __future__ import annotations

from dataclasses import dataclass

#: labels Prometheus adds to every scraped or pushed series (not ours to rely on in rules)
SCRAPE_LABELS = ("instance", "job")


@dataclass(frozen=True)
class Metric:
    """One gauge: its full name, HELP text and the labels its samples carry."""

    name: str
    help: str
    labels: tuple[str, ...]


# ---------------------------------------------------------------- textfile (`backup all`, per part)
BACKUP_PREFIX = "kubekeeper_backup"
_PART = ("cluster", "part")
BACKUP_SUCCESS = Metric(f"{BACKUP_PREFIX}_success", "1 if the last run of this part succeeded", _PART)
BACKUP_LAST_RUN = Metric(f"{BACKUP_PREFIX}_last_run_timestamp_seconds", "Unix time the last run of this part finished", _PART)
BACKUP_DURATION = Metric(f"{BACKUP_PREFIX}_duration_seconds", "Wall time of the last run of this part", _PART)
BACKUP_BYTES_ADDED = Metric(f"{BACKUP_PREFIX}_bytes_added", "Bytes added to the repository by the last run of this part", _PART)
BACKUP_LAST_SUCCESS = Metric(f"{BACKUP_PREFIX}_last_success_timestamp_seconds", "Unix time this part last succeeded", _PART)
BACKUP = (BACKUP_SUCCESS, BACKUP_LAST_RUN, BACKUP_DURATION, BACKUP_BYTES_ADDED, BACKUP_LAST_SUCCESS)

# ---------------------------------------------------------------- Pushgateway (`deploy run`, per job)
JOB_PREFIX = "kubekeeper_job"
#: the grouping key of a push (job=kubekeeper is Prometheus' own `job` label); node only for per-node Jobs
_JOB = ("cluster", "part", "node")
JOB_SUCCESS = Metric(f"{JOB_PREFIX}_success", "1 if the last run succeeded", _JOB)
JOB_EXIT_CODE = Metric(f"{JOB_PREFIX}_exit_code", "Exit code of the last run (0 ok, 2 bad input, 3 operation failed, ...)", _JOB)
JOB_LAST_RUN = Metric(f"{JOB_PREFIX}_last_run_timestamp_seconds", "Unix time the last run finished", _JOB)
JOB_DURATION = Metric(f"{JOB_PREFIX}_duration_seconds", "Wall time of the last run", _JOB)
JOB_LAST_SUCCESS = Metric(f"{JOB_PREFIX}_last_success_timestamp_seconds", "Unix time of the last successful run", _JOB)
JOB = (JOB_SUCCESS, JOB_EXIT_CODE, JOB_LAST_RUN, JOB_DURATION, JOB_LAST_SUCCESS)

# ---------------------------------------------------------------- continuous etcd backup (issue 16)
ETCD_FOLLOWER_LAG = Metric("kubekeeper_etcd_follower_lag_seconds",
                           "Seconds the continuous etcd backup is behind the cluster's newest revision", ("cluster",))
ETCD_FOLLOWER_LAST_DELTA = Metric("kubekeeper_etcd_follower_last_delta_timestamp_seconds",
                                  "Unix time the continuous etcd backup last stored a delta", ("cluster",))
ETCD_FOLLOWER = (ETCD_FOLLOWER_LAG, ETCD_FOLLOWER_LAST_DELTA)

ALL = (*BACKUP, *JOB, *ETCD_FOLLOWER)
#: the `part` of an in-cluster repository check job (`deploy run --part check -- repo check`)
CHECK_PART = "check"
