"""Prometheus textfile for node-exporter's textfile collector: one run's result per backup part.

`last_success` must survive failed runs (an alert fires on its age), so it is carried over from the
previous file for parts that failed this time. Written atomically: the collector may read any time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kubekeeper.fsutil import write_atomic

PREFIX = "kubekeeper_backup"
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
        if match and match["name"] == f"{PREFIX}_last_success_timestamp_seconds":
            try:
                found[match["labels"]] = float(match["value"])
            except ValueError:
                continue
    return found


def render(parts: Iterable[PartMetrics], previous: dict[str, float]) -> str:
    parts = list(parts)
    families: list[tuple[str, str, str, Callable[[PartMetrics], float]]] = [
        ("success", "gauge", "1 if the last run of this part succeeded", lambda p: int(p.success)),
        ("last_run_timestamp_seconds", "gauge", "Unix time the last run of this part finished", lambda p: p.finished),
        ("duration_seconds", "gauge", "Wall time of the last run of this part", lambda p: round(p.duration_seconds, 3)),
        ("bytes_added", "gauge", "Bytes added to the repository by the last run of this part", lambda p: p.bytes_added),
    ]
    lines: list[str] = []
    for name, kind, help_text, value in families:
        lines += [f"# HELP {PREFIX}_{name} {help_text}.", f"# TYPE {PREFIX}_{name} {kind}"]
        lines += [f"{PREFIX}_{name}{{{_labels(p.cluster, p.part)}}} {value(p)}" for p in parts]
    lines += [
        f"# HELP {PREFIX}_last_success_timestamp_seconds Unix time this part last succeeded.",
        f"# TYPE {PREFIX}_last_success_timestamp_seconds gauge",
    ]
    for p in parts:
        labels = _labels(p.cluster, p.part)
        last = p.finished if p.success else previous.get(labels)
        if last is not None:
            lines.append(f"{PREFIX}_last_success_timestamp_seconds{{{labels}}} {last}")
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, parts: Iterable[PartMetrics]) -> None:
    write_atomic(path, render(parts, previous_last_success(path)))
