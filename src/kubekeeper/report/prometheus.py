"""Prometheus textfile for node-exporter's textfile collector: one run's result per backup part.

`last_success` must survive failed runs (an alert fires on its age), so it is carried over from the
previous file for parts that failed this time. Written atomically: the collector may read any time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kubekeeper import metrics
from kubekeeper.fsutil import write_atomic

PREFIX = metrics.BACKUP_PREFIX
_SAMPLE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')


@dataclass(frozen=True)
class PartMetrics:
    cluster: str
    part: str
    success: bool
    finished: float  # unix time
    duration_seconds: float
    bytes_added: int


def _labels(cluster: str, part: str) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return f'cluster="{esc(cluster)}",part="{esc(part)}"'


def previous_last_success(path: Path) -> dict[str, float]:
    """labels -> last success time from an earlier textfile (missing or unreadable: none)."""
    found: dict[str, float] = {}
    try:
        text = path.read_text()
    except OSError:
        return found
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match and match["name"] == metrics.BACKUP_LAST_SUCCESS.name:
            try:
                found[match["labels"]] = float(match["value"])
            except ValueError:
                continue
    return found


def render(parts: Iterable[PartMetrics], previous: dict[str, float]) -> str:
    parts = list(parts)
    families: list[tuple[metrics.Metric, Callable[[PartMetrics], float]]] = [
        (metrics.BACKUP_SUCCESS, lambda p: int(p.success)),
        (metrics.BACKUP_LAST_RUN, lambda p: p.finished),
        (metrics.BACKUP_DURATION, lambda p: round(p.duration_seconds, 3)),
        (metrics.BACKUP_BYTES_ADDED, lambda p: p.bytes_added),
    ]
    lines: list[str] = []
    for metric, value in families:
        lines += [f"# HELP {metric.name} {metric.help}.", f"# TYPE {metric.name} gauge"]
        lines += [f"{metric.name}{{{_labels(p.cluster, p.part)}}} {value(p)}" for p in parts]
    last_success = metrics.BACKUP_LAST_SUCCESS
    lines += [f"# HELP {last_success.name} {last_success.help}.", f"# TYPE {last_success.name} gauge"]
    for p in parts:
        labels = _labels(p.cluster, p.part)
        last = p.finished if p.success else previous.get(labels)
        if last is not None:
            lines.append(f"{last_success.name}{{{labels}}} {last}")
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, parts: Iterable[PartMetrics]) -> None:
    write_atomic(path, render(parts, previous_last_success(path)))
