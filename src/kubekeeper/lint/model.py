"""Value objects shared by the loader, the rules and the renderers (small, comparable, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: kind -> path from the object to its pod template (`None`: the object is the pod)
TEMPLATE_PATHS: dict[str, tuple[str, ...] | None] = {
    "Pod": None,
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
#: per-object suppression: rule ids (comma-separated, `*` for all) in this annotation are not checked
SUPPRESS_ANNOTATION = "kubekeeper.io/lint-ignore"

#: severities from most to least severe; "off" in a profile disables a rule
SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass(slots=True)
class Manifest:
    """One Kubernetes object as read from a file, stdin or the API, with where it came from.

    `lines` maps id() of every mapping inside `obj` to its 1-based line, so rules can point at a
    container without the loader building a round-trip tree (ids stay valid while `obj` lives).
    """

    obj: dict[str, Any]
    file: str
    line: int | None
    lines: dict[int, int] = field(default_factory=dict)
    live: bool = False  # read from the API server (defaulted fields present), not from a file

    def line_of(self, node: Any) -> int | None:
        return self.lines.get(id(node), self.line)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.metadata.get("generateName") or "")

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns else None


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One rule violation; ordered by location so output is stable."""

    file: str
    line: int | None
    kind: str
    namespace: str | None
    name: str
    rule: str
    severity: str
    container: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "container": self.container,
            "message": self.message,
        }


#: a Problem's level: `error` - the file or document was refused (not linted); `note` - skipped on purpose
PROBLEM_LEVELS = ("error", "note")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """Input that could not be linted (refused, `error`) or was skipped on purpose (`note`), with why.

    `reason` is a short stable code (template, invalid-yaml, unreadable, invalid-quantity, not-an-object,
    kustomize, incomplete-workload); `message` says what was wrong in words an operator can act on.
    """

    file: str
    line: int | None
    level: str
    reason: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "level": self.level, "reason": self.reason, "message": self.message}

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule yields: the engine adds severity, file and object identity.

    `subject` names another object the finding belongs to (a PodDisruptionBudget found wrong while
    looking at the workload it selects); by default the finding is the workload's.
    """

    message: str
    container: str | None = None
    node: Any = None  # the mapping the violation is about (for its line)
    subject: Manifest | None = None
