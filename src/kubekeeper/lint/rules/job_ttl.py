"""Jobs clean up after themselves with `ttlSecondsAfterFinished`.

A finished Job and its pods stay in the API (and in etcd) until someone deletes them: thousands of
completed Jobs slow every list of the namespace and fill `kubectl get pods`. `ttlSecondsAfterFinished`
lets the TTL controller delete the Job and its pods that many seconds after it finishes. Jobs created
by a CronJob are not checked (the CronJob's `successfulJobsHistoryLimit`/`failedJobsHistoryLimit`
prune them), nor the CronJob itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "job-ttl"
HINT = "set spec.ttlSecondsAfterFinished (e.g. 86400 to keep a finished Job a day for its logs)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    spec = workload.manifest.obj.get("spec")
    if workload.kind == "Job" and isinstance(spec, dict) and spec.get("ttlSecondsAfterFinished") is None:
        yield Violation("no spec.ttlSecondsAfterFinished: the finished Job and its pods stay in the API until deleted",
                        node=spec)
