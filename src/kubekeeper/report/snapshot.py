"""The one JSON shape of a snapshot, for every `--format json` that names one (snapshots, status, ls,
diff, restore all): full and short id, time, kind, cluster, the backup set, typed details (numbers
as numbers), and what the backup added where restic recorded it (0.17+)."""

from __future__ import annotations

from typing import Any

from kubekeeper.repository import Snapshot
from kubekeeper.repository.tags import cluster_of, details_of, kind_of, typed_details


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "short_id": snapshot.short_id,
        "time": snapshot.time.isoformat(),
        "kind": kind_of(snapshot.tags),
        "cluster": cluster_of(snapshot.tags),
        "set": details_of(snapshot.tags).get("set"),
        "hostname": snapshot.hostname,
        "paths": list(snapshot.paths),
        "tags": list(snapshot.tags),
        "details": typed_details(snapshot.tags),
        "data_added": snapshot.data_added,
    }
