"""Value objects shared by resolution, backup and restore."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubekeeper.errors import BadInput


@dataclass(frozen=True, order=True)
class PvcRef:
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> PvcRef:
        """`NS/NAME` as typed by an operator (one-line BadInput otherwise)."""
        namespace, sep, name = text.partition("/")
        if not sep or not namespace or not name or "/" in name or "," in text:
            raise BadInput(f"--pvc expects NAMESPACE/NAME, got {text!r}")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Hook:
    """A command run in a container of the pod mounting the volume (e.g. flush or freeze a DB)."""

    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class LocatedVolume:
    """Where one PVC's files are on this node, and what to record about it."""

    ref: PvcRef
    path: Path
    node: str
    pv: str = ""
    storage_class: str = ""
    plugin: str = ""
    pre_hook: Hook | None = None
    post_hook: Hook | None = None
    pvc_object: dict[str, Any] = field(default_factory=dict[str, Any], compare=False, repr=False)
    pv_object: dict[str, Any] = field(default_factory=dict[str, Any], compare=False, repr=False)

    def tag_details(self) -> dict[str, str]:
        details = {"namespace": self.ref.namespace, "pvc": self.ref.name}
        for key, value in (("pv", self.pv), ("node", self.node), ("storageclass", self.storage_class)):
            if value:
                details[key] = value
        return details


#: why a PVC could not be resolved to files on this node
ELSEWHERE = "elsewhere"          # mounted on another node: run there
NOT_MOUNTED = "not-mounted"      # no running pod mounts it: nothing on any node to read
UNSUPPORTED = "unsupported"      # Block mode or a plugin without a filesystem path
UNBOUND = "unbound"              # PVC pending / lost, or its PV missing
MISSING = "missing"              # the PVC does not exist
NO_PATH = "no-path"              # the kubelet directory is not there
HOOKS_OFF = "hooks-off"          # it has a backup hook, but hooks may not run in its namespace here


@dataclass(frozen=True)
class Problem:
    ref: PvcRef
    reason: str
    message: str  # one line, says what to do
    node: str = ""
