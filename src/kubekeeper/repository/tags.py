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


#: details that are text even when they look like a number (digests, tokens, ids)
TEXT_DETAILS = frozenset({"sha256", "backup", "set", "chain", "incomplete", "etcd_version", "leader", "endpoint", "members",
                          "registry", "namespace", "pvc", "pv", "node", "storageclass", "part"})
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,18})")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+")


def typed_value(key: str, text: str) -> object:
    """A detail's value as JSON should carry it: integers as ints, true/false as booleans."""
    if key in TEXT_DETAILS:
        return text
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def typed_details(tags: Iterable[str]) -> dict[str, object]:
    """`details_of`, with numbers and booleans typed (the one JSON shape of a snapshot's details)."""
    return {key: typed_value(key, value) for key, value in details_of(tags).items()}
