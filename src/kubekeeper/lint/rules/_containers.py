"""Helpers shared by the resource rules (a private module: not a rule)."""

from __future__ import annotations

from typing import Any, Iterator

RESOURCES = ("cpu", "memory", "ephemeral-storage")


def containers_with_kind(pod_spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """('container' | 'init container', container) for every container of a pod spec."""
    for key, label in (("initContainers", "init container"), ("containers", "container")):
        items = pod_spec.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    yield label, item
