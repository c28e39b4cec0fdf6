"""Every data source kubekeeper backs up, listed once (the shape they share: backup/source.py).

`backup all`, `verify`, `snapshots --kind`, `backup all --skip` and the `backup`/`restore` command
groups read this list, so a new source is its module here, one line below, its cluster.yaml section
and its command module `kubekeeper/cli/sources/<kind>.py` - and no other command changes.

A source's module is imported only when that source is used: `backup etcd` never loads the registry
client or the Kubernetes client, and listing kinds loads none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubekeeper.errors import BadInput

if TYPE_CHECKING:
    from kubekeeper.backup.source import AnySource


@dataclass(frozen=True)
class Registered:
    """One source: its names (also in its module, checked by the tests) and where it lives."""

    kind: str  # snapshot tag kind:<kind>; `backup <kind>`, `restore <kind>`, `snapshots --kind <kind>`
    part: str  # cluster.yaml section; `backup all --skip <part>`; its name in run reports and metrics
    module: str  # the module whose `SOURCE` implements backup.source.Source
    #: `restore all` restores lower numbers first: etcd brings the API back (volume restores find their
    #: PVCs through it), then the registry (so pods can pull), then the volumes' data
    restore_order: int

    def load(self) -> AnySource:
        source: AnySource = importlib.import_module(self.module).SOURCE
        return source


SOURCES: tuple[Registered, ...] = (
    Registered("etcd", "etcd", "kubekeeper.backup.sources.etcd", restore_order=10),
    Registered("registry", "registry", "kubekeeper.backup.sources.registry", restore_order=20),
    Registered("volume", "volumes", "kubekeeper.backup.sources.volume", restore_order=30),
)


def registered() -> tuple[Registered, ...]:
    """Every source, in backup order (the order `backup all` runs them)."""
    return SOURCES


def kinds() -> tuple[str, ...]:
    return tuple(s.kind for s in registered())


def parts() -> tuple[str, ...]:
    return tuple(s.part for s in registered())


def by_kind(kind: str) -> Registered | None:
    return next((s for s in registered() if s.kind == kind), None)


def in_restore_order() -> tuple[Registered, ...]:
    return tuple(sorted(registered(), key=lambda s: s.restore_order))


def one_of(names: tuple[str, ...]) -> str:
    """`a, b or c`, for messages that list the choices."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_kind(kind: str | None, option: str = "--kind") -> str | None:
    """A kind named on the command line, checked against the registered ones (None: no filter)."""
    if kind is not None and kind not in kinds():
        raise BadInput(f"unknown {option} {kind!r} (one of {', '.join(kinds())})")
    return kind
