"""The alerts and the dashboard `deploy render` writes next to the CronJobs: a PrometheusRule
(prometheus-operator) and a Grafana dashboard in a ConfigMap labelled `grafana_dashboard: "1"` (the
label Grafana's dashboard sidecar picks up, e.g. in kube-prometheus-stack).

Every query is built from kubekeeper.metrics, the names the exporters write: the textfile of
`backup all` (kubekeeper_backup_*), the Pushgateway push of `deploy run` (kubekeeper_job_*), and the
continuous etcd backup (kubekeeper_etcd_follower_*). The repository-check alert fires on a job run
as `deploy run --part check -- repo check` (metrics.CHECK_PART).
"""

from __future__ import annotations

import json
from typing import Any

from kubekeeper import metrics
from kubekeeper.metrics import Metric

DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_KEY = "kubekeeper.json"
DASHBOARD_UID = "kubekeeper-backups"
#: alert thresholds: a daily schedule plus two hours of slack; the follower a few minutes behind
MAX_BACKUP_AGE_SECONDS = 26 * 3600
MAX_FOLLOWER_LAG_SECONDS = 300
MAX_FOLLOWER_SILENCE_SECONDS = 900


def _select(metric: Metric, cluster: str, *extra: str) -> str:
    matchers = [f'cluster="{cluster}"', *extra]
    return f"{metric.name}{{{', '.join(matchers)}}}"


def _alert(name: str, expr: str, summary: str, description: str, severity: str, wait: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": wait, "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description}}


def alert_rules(cluster: str, max_age: int = MAX_BACKUP_AGE_SECONDS) -> list[dict[str, Any]]:
    """Backup too old, part failed, repository check failed, follower lag (and a silent follower)."""
    not_check, is_check = f'part!="{metrics.CHECK_PART}"', f'part="{metrics.CHECK_PART}"'
    too_old = (f"(time() - {_select(metrics.BACKUP_LAST_SUCCESS, cluster)}) > {max_age}"
               f" or (time() - {_select(metrics.JOB_LAST_SUCCESS, cluster, not_check)}) > {max_age}")
    failed = (f"{_select(metrics.BACKUP_SUCCESS, cluster)} == 0"
              f" or {_select(metrics.JOB_SUCCESS, cluster, not_check)} == 0")
    hours = max_age / 3600
    return [
        _alert("KubekeeperBackupTooOld", too_old, "kubekeeper: {{ $labels.part }} of cluster {{ $labels.cluster }} has no recent backup",
               f"The last successful {{{{ $labels.part }}}} backup{{{{ if $labels.node }}}} on node {{{{ $labels.node }}}}{{{{ end }}}} "
               f"is older than {hours:g} hours ({{{{ $value | humanizeDuration }}}}). See `kubekeeper status` and the job's logs.",
               "critical", "10m"),
        _alert("KubekeeperBackupFailed", failed, "kubekeeper: the last {{ $labels.part }} backup of cluster {{ $labels.cluster }} failed",
               "The last run of the {{ $labels.part }} backup failed; the one before it may still be good. "
               "See the CronJob's logs (kubectl logs job/...) or the `backup all` JSON report.", "warning", "0m"),
        _alert("KubekeeperRepositoryCheckFailed", f"{_select(metrics.JOB_SUCCESS, cluster, is_check)} == 0",
               "kubekeeper: the repository check of cluster {{ $labels.cluster }} failed",
               "`kubekeeper repo check` found a damaged or unreadable repository: backups may not restore. "
               "Run it by hand with -v and read restic's message.", "critical", "0m"),
        _alert("KubekeeperEtcdFollowerLag", f"{_select(metrics.ETCD_FOLLOWER_LAG, cluster)} > {MAX_FOLLOWER_LAG_SECONDS}",
               "kubekeeper: the continuous etcd backup of cluster {{ $labels.cluster }} is behind",
               f"The etcd follower is {{{{ $value | humanizeDuration }}}} behind (more than {MAX_FOLLOWER_LAG_SECONDS} s): "
               "a restore now would lose that much.", "warning", "5m"),
        _alert("KubekeeperEtcdFollowerSilent",
               f"(time() - {_select(metrics.ETCD_FOLLOWER_LAST_DELTA, cluster)}) > {MAX_FOLLOWER_SILENCE_SECONDS}",
               "kubekeeper: the continuous etcd backup of cluster {{ $labels.cluster }} stored nothing recently",
               f"No etcd delta was stored for more than {MAX_FOLLOWER_SILENCE_SECONDS} s: the follower may be stopped.",
               "warning", "5m"),
    ]


def prometheus_rule(name: str, namespace: str, labels: dict[str, str], cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"groups": [{"name": "kubekeeper", "rules": alert_rules(cluster)}]},
    }


# ------------------------------------------------------------------------------------------ dashboard
def _panel(panel_id: int, title: str, kind: str, targets: list[tuple[str, str]], unit: str, x: int, y: int,
           width: int = 12, height: int = 8) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": height, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend} for i, (expr, legend) in enumerate(targets)],
    }


def dashboard() -> dict[str, Any]:
    """One row per concern: age of the last success, last outcome, duration and size, etcd follower."""
    c = 'cluster=~"$cluster"'
    part_legend, job_legend = "{{cluster}} {{part}}", "{{cluster}} {{part}} {{node}}"
    panels = [
        _panel(1, "Age of the last successful backup", "timeseries",
               [(f"time() - {metrics.BACKUP_LAST_SUCCESS.name}{{{c}}}", part_legend),
                (f"time() - {metrics.JOB_LAST_SUCCESS.name}{{{c}}}", job_legend)], "s", 0, 0),
        _panel(2, "Last run succeeded (1) or failed (0)", "stat",
               [(f"{metrics.BACKUP_SUCCESS.name}{{{c}}}", part_legend), (f"{metrics.JOB_SUCCESS.name}{{{c}}}", job_legend)], "none", 12, 0),
        _panel(3, "Duration of the last run", "timeseries",
               [(f"{metrics.BACKUP_DURATION.name}{{{c}}}", part_legend), (f"{metrics.JOB_DURATION.name}{{{c}}}", job_legend)], "s", 0, 8),
        _panel(4, "Bytes added to the repository by the last run", "timeseries",
               [(f"{metrics.BACKUP_BYTES_ADDED.name}{{{c}}}", part_legend)], "bytes", 12, 8),
        _panel(5, "Exit code of the last in-cluster run", "table", [(f"{metrics.JOB_EXIT_CODE.name}{{{c}}}", job_legend)], "none", 0, 16),
        _panel(6, "Time since the last run", "table",
               [(f"time() - {metrics.BACKUP_LAST_RUN.name}{{{c}}}", part_legend),
                (f"time() - {metrics.JOB_LAST_RUN.name}{{{c}}}", job_legend)], "s", 12, 16),
        _panel(7, "etcd follower lag", "timeseries", [(f"{metrics.ETCD_FOLLOWER_LAG.name}{{{c}}}", "{{cluster}}")], "s", 0, 24),
        _panel(8, "Time since the etcd follower last stored a delta", "timeseries",
               [(f"time() - {metrics.ETCD_FOLLOWER_LAST_DELTA.name}{{{c}}}", "{{cluster}}")], "s", 12, 24),
    ]
    cluster_values = f"label_values({metrics.BACKUP_LAST_RUN.name}, cluster)"
    return {
        "uid": DASHBOARD_UID,
        "title": "kubekeeper backups",
        "tags": ["kubekeeper", "backup"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-7d", "to": "now"},
        "refresh": "5m",
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
            {"name": "cluster", "type": "query", "label": "Cluster", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": {"query": cluster_values, "refId": "cluster"}, "definition": cluster_values,
             "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2},
        ]},
        "panels": panels,
    }


def dashboard_configmap(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, DASHBOARD_LABEL: "1"}},
        "data": {DASHBOARD_KEY: json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"},
    }


def queries(document: dict[str, Any]) -> list[str]:
    """Every PromQL query of a dashboard (panel targets and templating variables)."""
    found = [t["expr"] for p in document.get("panels", []) for t in p.get("targets", [])]
    for variable in document.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            found.append(query["query"])
    return found
