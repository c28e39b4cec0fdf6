"""CronJobs say how late a run may still start, with `startingDeadlineSeconds`.

Without it, a schedule missed while the CronJob controller was not running (control-plane upgrade,
controller-manager restart, etcd trouble) is started whenever the controller catches up, however
late - a nightly backup may start at noon. With more than 100 missed schedules the controller
records `TooManyMissedTimes` warnings (before the v2 controller of 1.21 it stopped scheduling the
CronJob altogether: "Too many missed start times (> 100)"). Set it to the latest a run is still useful.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "cronjob-deadline"
HINT = "set spec.startingDeadlineSeconds (e.g. 3600: skip a run that could not start within the hour)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    spec = workload.manifest.obj.get("spec")
    if workload.kind == "CronJob" and isinstance(spec, dict) and spec.get("startingDeadlineSeconds") is None:
        yield Violation("no spec.startingDeadlineSeconds: a missed run starts whenever the controller catches up, "
                        "however late", node=spec)
