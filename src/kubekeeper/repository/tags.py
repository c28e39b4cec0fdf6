"""How kubekeeper labels its restic snapshots, so plain `restic snapshots` can find them.

Every snapshot carries `kubekeeper`, `kind:<kind>` (etcd, registry, volume: one per data source,
backup/sources/) and `cluster:<name>`; details (revision, namespace, pvc, ...) are `key=value` tags,
readable without fetching any data. restic splits tags on commas, so details must not contain one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from kubekeeper.errors import BadInput

MARKER = "kubekeeper"
#: a source's kind as it appears in `kind:<kind>`: a short lower-case name
KIND_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def snapshot_tags(kind: str, cluster: str, details: Mapping[str, object] | None = None) -> list[str]:
    if not KIND_NAME.fullmatch(kind):
        raise BadInput(f"snapshot kind {kind!r} is not a short lower-case name")
    tags = [MARKER, f"kind:{kind}", f"cluster:{cluster}"]
    for key, value in (details or {}).items():
        text = f"{key}={value}"
        if "," in text:
            raise BadInput(f"snapshot detail {key} must not contain a comma: {value!r}")
        tags.append(text)
    return tags


def selection(kind: str | None = None, cluster: str | None = None) -> list[str]:
    """Tags that select kubekeeper snapshots (restic ANDs tags given in one --tag list)."""
    tags = [MARKER]
    if kind:
        tags.append(f"kind:{kind}")
    if cluster:
        tags.append(f"cluster:{cluster}")
    return tags


def kind_of(tags: Iterable[str]) -> str | None:
    return next((t.split(":", 1)[1] for t in tags if t.startswith("kind:")), None)


def cluster_of(tags: Iterable[str]) -> str | None:
    return next((t.split(":", 1)[1] for t in tags if t.startswith("cluster:")), None)


def details_of(tags: Iterable[str]) -> dict[str, str]:
    return dict(t.split("=", 1) for t in tags if "=" in t)
