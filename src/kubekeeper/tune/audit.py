"""Compare the plan (`tune plan`) with what a node actually runs (`probe`).

Findings use the plan's setting ids and keys, so `tune plan`, `tune audit` and `tune apply` speak
about the same things. Nothing here writes: audit runs on production nodes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from kubekeeper.errors import BadInput
from kubekeeper.knowledge import KubeVersion, load_catalogue
from kubekeeper.knowledge.catalogue import Catalogue, Setting
from kubekeeper.tune.plan import Plan, PlanRequest, Recommendation, make_plan
from kubekeeper.tune.probe import (
    CONTAINERD_TOML,
    DOCKER_JSON,
    KUBELET_CONFIG,
    NodeState,
    Value,
    _dig,
    _MISSING,
    probe,
    scheduler_config,
    sysctl_path,
)

Severity = Literal["error", "warning", "note"]
#: containerd config version -> the containerd release audited against (newest of that major)
CONTAINERD_FOR_CONFIG = {2: "1.7", 3: "2.1"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Finding:
    id: str
    component: str
    key: str
    source: str
    current: str | None
    recommended: str | None
    severity: Severity
    problem: str  # differs | unset | removed | removed-value | live-not-persisted | persisted-not-live
    fix: str
    file: str | None = None  # relative to the node root, for SARIF/JUnit locations
    line: int | None = None

    @property
    def message(self) -> str:
        texts = {
            "differs": f"{self.key} is {self.current}, recommended {self.recommended}",
            "unset": f"{self.key} is not set (default {self.current}), recommended {self.recommended}",
            "removed": f"{self.key} is still set but no longer exists in this Kubernetes version",
            "removed-value": f"{self.key}={self.current} is no longer accepted, use {self.recommended}",
            "live-not-persisted": f"{self.key} is {self.current} live but not persisted: lost at the next boot",
            "persisted-not-live": f"{self.key} is persisted as {self.recommended} but live is {self.current}: not applied",
        }
        return texts.get(self.problem, self.problem)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["message"] = self.message
        return out


@dataclass
class AuditReport:
    root: Path
    k8s_version: str
    nodes: int
    runtime: str
    findings: list[Finding]
    passed: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "k8s_version": self.k8s_version,
            "nodes": self.nodes,
            "runtime": self.runtime,
            "findings": [f.as_json() for f in self.findings],
            "passed": self.passed,
            "skipped": self.skipped,
        }


# ------------------------------------------------------------------------------ comparison
def _duration_seconds(text: str) -> float | None:
    if not _DURATION.match(text):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))


def normalize(value: Any) -> str:
    """Compare like the components do: booleans case-insensitively, durations by length of time."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().strip('"')
    if text.lower() in ("true", "false"):
        return text.lower()
    seconds = _duration_seconds(text)
    if seconds is not None:
        return f"{seconds:g}s"
    return text


def same(a: Any, b: Any) -> bool:
    return normalize(a) == normalize(b)


def show(value: Any) -> str | None:
    if value is None:
        return None
    return "true" if value is True else "false" if value is False else str(value)


# ---------------------------------------------------------------------------- plan for node
def node_plan(state: NodeState, nodes: int | None, k8s_version: str | None) -> Plan:
    """The plan for this node: version from --k8s-version or the static pods, runtime from the node."""
    if nodes is None:
        raise BadInput("--nodes is required: the cluster's node count cannot be read from a node")
    version = k8s_version or state.k8s_version
    if version is None:
        raise BadInput("cannot detect the Kubernetes version (no control-plane static pods): pass --k8s-version")
    containerd = CONTAINERD_FOR_CONFIG.get(state.containerd.version) if state.containerd else None
    cri_dockerd = state.runtime == "docker" and (state.cri_dockerd or KubeVersion.parse(version) >= KubeVersion(1, 24))
    return make_plan(PlanRequest(nodes=nodes, k8s_version=version, runtime=state.runtime,
                                 containerd_version=containerd, cri_dockerd=cri_dockerd))


# ------------------------------------------------------------------------------- the checks
@dataclass
class _Context:
    state: NodeState
    plan: Plan
    catalogue: Catalogue

    def setting(self, rec_id: str) -> Setting:
        return self.catalogue.by_id(rec_id)

    def group(self, component: str) -> str:
        info = self.catalogue.components.get(component)
        return info.group if info else component


def _fix(ctx: _Context, rec: Recommendation, where: str) -> str:
    return f"set {rec.key}={show(rec.value)} in {where} (kubekeeper tune apply --only {ctx.group(rec.component)})"


def _compare(ctx: _Context, rec: Recommendation, found: Value | None, where: str) -> Finding | None:
    """One finding when the value read (or the default when unset) differs from the recommendation."""
    setting = ctx.setting(rec.id)
    if found is None:
        if setting.default is not None and same(setting.default, rec.value):
            return None
        return Finding(rec.id, rec.component, rec.key, f"{where} (not set)", show(setting.default),
                       show(rec.value), "warning", "unset", _fix(ctx, rec, where), where.lstrip("/") or None, None)
    if same(found.value, rec.value):
        return None
    problem, severity = "differs", "warning"
    removed = (setting.removed_values or {}).get(normalize(found.value))
    if removed and KubeVersion.parse(removed) <= ctx.plan.k8s_version:
        problem, severity = "removed-value", "error"
    return Finding(rec.id, rec.component, rec.key, found.source, show(found.value), show(rec.value),
                   severity, problem, _fix(ctx, rec, where), found.file, found.line)


def check_sysctl(ctx: _Context, rec: Recommendation) -> list[Finding]:
    persisted = ctx.state.sysctl_persisted.get(rec.key)
    live = ctx.state.live_sysctl(rec.key)
    target = "/etc/sysctl.d/90-kubekeeper.conf"
    fix = f"kubekeeper tune apply --only sysctl (writes {target} and the live value)"
    want = show(rec.value)
    if live is None:  # key absent on this kernel (module not loaded): only the persisted file counts
        found = _compare(ctx, rec, persisted, target)
        return [found] if found else []
    if not same(live.value, rec.value):
        if persisted is not None and same(persisted.value, rec.value):
            return [Finding(rec.id, "sysctl", rec.key, live.source, show(live.value), want, "warning",
                            "persisted-not-live", f"sysctl -w {rec.key}={want} (or {fix})", live.file)]
        return [Finding(rec.id, "sysctl", rec.key, live.source, show(live.value), want, "warning", "differs",
                        fix, live.file)]
    if persisted is None or not same(persisted.value, rec.value):
        source = persisted.source if persisted else f"/{sysctl_path(rec.key)} (not in /etc/sysctl.conf or sysctl.d)"
        return [Finding(rec.id, "sysctl", rec.key, source, show(live.value), want, "warning", "live-not-persisted",
                        fix, persisted.file if persisted else live.file, persisted.line if persisted else None)]
    return []


def check_containerd(ctx: _Context, rec: Recommendation) -> list[Finding]:
    config = ctx.state.containerd
    path = rec.toml_path or rec.key
    found = config.get(path) if config else None
    finding = _compare(ctx, rec, found, f"/{CONTAINERD_TOML} [{path}]")
    return [finding] if finding else []


def check_docker(ctx: _Context, rec: Recommendation) -> list[Finding]:
    found = (ctx.state.docker or {}).get(rec.key)
    finding = _compare(ctx, rec, found, f"/{DOCKER_JSON}")
    return [finding] if finding else []


def check_kubelet(ctx: _Context, rec: Recommendation) -> list[Finding]:
    kubelet = ctx.state.kubelet
    assert kubelet is not None
    setting = ctx.setting(rec.id)
    config_where = f"/{kubelet.config_file or KUBELET_CONFIG}"
    if rec.kind == "flag":
        finding = _compare(ctx, rec, kubelet.flags.get(rec.key), "kubelet flags")
        return [finding] if finding else []
    # flags win over the config file, as in the kubelet itself
    flag = kubelet.flags.get(setting.legacy_flag) if setting.legacy_flag else None
    found = flag or kubelet.config_value(rec.key)
    finding = _compare(ctx, rec, found, config_where)
    if finding and flag:
        finding = Finding(**{**asdict(finding), "fix": f"remove the deprecated {setting.legacy_flag} from {flag.source} "
                                                        f"and set {rec.key}: {show(rec.value)} in {config_where} "
                                                        "(kubekeeper tune apply --only kubelet)"})
    return [finding] if finding else []


def check_control_plane(ctx: _Context, rec: Recommendation) -> list[Finding]:
    pod = ctx.state.static_pods[rec.component]
    where = f"/{pod.file}"
    if rec.kind == "flag":
        finding = _compare(ctx, rec, pod.flags.get(rec.key), where)
        return [finding] if finding else []
    # kube-scheduler config field: its --config file when it has one, else the (deprecated) flag
    setting = ctx.setting(rec.id)
    config = scheduler_config(ctx.state.root, pod) if rec.component == "kube-scheduler" else None
    if config:
        file, tree, lines = config
        value = _dig(tree, rec.key.split("."))
        found = None if value is _MISSING else Value(value, file, lines.get(rec.key))
        finding = _compare(ctx, rec, found, f"/{file}")
    else:
        flag = pod.flags.get(setting.legacy_flag) if setting.legacy_flag else None
        finding = _compare(ctx, rec, flag, where)
        if finding:
            finding = Finding(**{**asdict(finding), "key": rec.key,
                                 "fix": f"set {setting.legacy_flag}={show(rec.value)} in {where} or give the "
                                        f"scheduler a --config with {rec.key} (kubekeeper tune apply --only control-plane)"})
    return [finding] if finding else []


def check_removed(ctx: _Context) -> list[Finding]:
    """Flags the plan lists as removed for this version, still present on the node."""
    findings = []
    for old in ctx.plan.obsolete:
        if not old.key.startswith("--"):
            continue
        if old.component in ctx.state.static_pods:
            flags = ctx.state.static_pods[old.component].flags
        elif old.component == "kubelet" and ctx.state.kubelet:
            flags = ctx.state.kubelet.flags
        else:
            continue
        found = flags.get(old.key)
        if found:
            findings.append(Finding(old.id, old.component, old.key, found.source, show(found.value), None, "error",
                                    "removed", f"remove {old.key} (removed in {old.removed_in}): {old.replacement}",
                                    found.file, found.line))
    return findings


def _auditable(ctx: _Context, component: str) -> str | None:
    """None when the node has this component, else why it is skipped."""
    info = ctx.catalogue.components.get(component)
    if info and not info.auditable:
        return info.not_auditable_reason or "not auditable from a node"
    if component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        return None if component in ctx.state.static_pods else "no static pod manifest on this node"
    if component == "kubelet":
        return None if ctx.state.kubelet else "no kubelet configuration or unit found"
    return None


CHECKS = {"sysctl": check_sysctl, "containerd": check_containerd, "docker": check_docker, "kubelet": check_kubelet}


def audit_state(state: NodeState, plan: Plan, catalogue: Catalogue | None = None) -> AuditReport:
    ctx = _Context(state, plan, catalogue or load_catalogue())
    findings: list[Finding] = []
    passed: list[str] = []
    skipped: dict[str, str] = {}
    for rec in plan.settings:
        if rec.kind == "advice" or rec.value is None:
            continue
        reason = _auditable(ctx, rec.component)
        if reason:
            skipped.setdefault(rec.component, reason)
            continue
        check = CHECKS.get(rec.component, check_control_plane)
        found = check(ctx, rec)
        findings += found
        if not found:
            passed.append(rec.id)
    findings += check_removed(ctx)
    return AuditReport(state.root, str(plan.k8s_version), plan.nodes, plan.runtime, findings, passed,
                       [{"component": c, "reason": r} for c, r in skipped.items()])


def audit(root: Path, nodes: int | None, k8s_version: str | None = None) -> AuditReport:
    """Read the node under root and compare it with the plan for its version and the cluster size."""
    state = probe(root)
    return audit_state(state, node_plan(state, nodes, k8s_version))
