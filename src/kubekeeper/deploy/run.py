"""`kubekeeper deploy run --pushgateway URL --part P -- COMMAND...`: run one kubekeeper command as an
in-cluster job and push its outcome to a Prometheus Pushgateway, whatever the command.

Metrics (gauges, grouping key job=kubekeeper, cluster, part, and node for per-node volume Jobs):
`kubekeeper_job_success` (1/0), `kubekeeper_job_last_run_timestamp_seconds`,
`kubekeeper_job_duration_seconds`, `kubekeeper_job_exit_code`, and
`kubekeeper_job_last_success_timestamp_seconds`. A success replaces the group (PUT); a failure
only updates the metrics it has (POST), so the last success time survives failed runs and an alert on
its age fires. The command's exit code is kept: the Job still fails, with the same code.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import time
from collections.abc import Sequence

from kubekeeper import execute, metrics
from kubekeeper.execute import Command

log = logging.getLogger(__name__)

PREFIX = metrics.JOB_PREFIX


def grouping_path(cluster: str, part: str, node: str | None) -> str:
    """`/metrics/job/kubekeeper/cluster@base64/...`: base64url label values, so any value is safe."""
    def enc(value: str) -> str:
        return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=") or "="

    labels = [("cluster", cluster), ("part", part)] + ([("node", node)] if node else [])
    return "/metrics/job/kubekeeper" + "".join(f"/{key}@base64/{enc(value)}" for key, value in labels)


def metrics_text(exit_code: int, started: float, finished: float) -> str:
    success = exit_code == 0
    samples: list[tuple[metrics.Metric, float]] = [
        (metrics.JOB_SUCCESS, int(success)),
        (metrics.JOB_EXIT_CODE, exit_code),
        (metrics.JOB_LAST_RUN, round(finished, 3)),
        (metrics.JOB_DURATION, round(finished - started, 3)),
    ]
    if success:
        samples.append((metrics.JOB_LAST_SUCCESS, round(finished, 3)))
    lines = []
    for metric, value in samples:
        lines += [f"# HELP {metric.name} {metric.help}.", f"# TYPE {metric.name} gauge", f"{metric.name} {value}"]
    return "\n".join(lines) + "\n"


def push(url: str, path: str, body: str, replace: bool, timeout: float = 10.0) -> None:
    import httpx

    method = "PUT" if replace else "POST"
    response = httpx.request(method, url.rstrip("/") + path, content=body.encode(), timeout=timeout,
                             headers={"Content-Type": "text/plain; version=0.0.4"})
    response.raise_for_status()


def run_and_push(args: Sequence[str], *, pushgateway: str, part: str, cluster: str, node: str | None) -> int:
    """Run `kubekeeper ARGS` (output passed through), push the outcome; the command's exit code."""
    started = time.time()
    child = execute.popen(Command((sys.executable, "-m", "kubekeeper", *args)))
    assert child.stderr is not None
    for line in child.stderr:
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
    code = child.wait()
    finished = time.time()
    try:
        push(pushgateway, grouping_path(cluster, part, node), metrics_text(code, started, finished), replace=code == 0)
    except Exception as exc:  # the backup's outcome stands; a lost metric is only a warning
        log.warning("could not push metrics to %s: %s", pushgateway, exc)
    return code


def node_name() -> str | None:
    return os.environ.get("NODE_NAME") or None
