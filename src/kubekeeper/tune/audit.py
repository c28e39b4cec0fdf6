"""Compare the plan (`tune plan`) with what a node actually runs (`probe`).

Findings use the plan's setting ids and keys, so `tune plan`, `tune audit` and `tune apply` speak
about the same things. Nothing here writes: audit runs on production nodes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from kubekeeper.errors import BadInput
from kubekeeper.knowledge import KubeVersion, load_catalogue, load_versions
from kubekeeper.knowledge.catalogue import Catalogue, Setting
from kubekeeper.tune.plan import Plan, PlanRequest, Recommendation, make_plan
from kubekeeper.tune.probe import (
    _MISSING,
    CONTAINERD_TOML,
    DOCKER_JSON,
    KUBELET_CONFIG,
    NodeState,
    Value,
    _dig,
    probe,
    scheduler_config,
    sysctl_path,
)

Severity = Literal["error", "warning", "note"]
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
    problem: str  # differs | unset | removed | deprecated | superseded | removed-value | live-not-persisted | persisted-not-live | persisted-differs
    fix: str
    file: str | None = None  # relative to the node root, for SARIF/JUnit locations
    line: int | None = None

    @property
    def message(self) -> str:
        texts = {
            "differs": f"{self.key} is {self.current}, recommended {self.recommended}",
            "unset": f"{self.key} is not set (default {self.current}), recommended {self.recommended}",
            "removed": f"{self.key} is still set but no longer exists in this Kubernetes version",
            "deprecated": f"{self.key}={self.current} is deprecated in this version",
            "superseded": f"{self.key} is set but no longer needed in this Kubernetes version",
            "persisted-differs": f"{self.key} is persisted as {self.current}, recommended {self.recommended}: the next boot applies it",
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
    nodes: int | None
    runtime: str
    findings: list[Finding]
    passed: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)  # what was audited against, and from where
    warnings: list[str] = field(default_factory=list)  # the plan's: versions assumed or mismatched, size

    def as_json(self) -> dict[str, Any]:
        return {
            "k8s_version": self.k8s_version,
            "nodes": self.nodes,
            "runtime": self.runtime,
            "versions": self.versions,
            "warnings": self.warnings,
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


# ----------------------------------------------------------------------------- bounds
def _number(value: Any) -> float | None:
    """A comparable magnitude: integers, floats and Go durations (in seconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().strip('"')
    seconds = _duration_seconds(text)
    if seconds is not None:
        return seconds
    try:
        return float(text)
    except ValueError:
        return None


def satisfies(found: Any, rec: Recommendation) -> bool:
    """Whether a value meets the recommendation: equal, or at/above a floor, or at/below a ceiling."""
    if same(found, rec.value):
        return True
    if rec.bound == "exact":
        return False
    have, want = _number(found), _number(rec.value)
    if have is None or want is None:
        return False
    return have >= want if rec.bound == "floor" else have <= want


def wanted(rec: Recommendation) -> str | None:
    """The recommendation as a finding states it ("at least 1000000" for a floor)."""
    return None if rec.value is None else rec.shown_value()


# ---------------------------------------------------------------------------- plan for node
@dataclass(frozen=True)
class NodeRequest:
    """What `tune audit` / `tune apply` are told about the cluster; the node supplies the rest."""

    nodes: int | None = None
    k8s_version: str | None = None
    containerd_version: str | None = None
    etcd_version: str | None = None
    kube_proxy: bool = True


def size_independent(setting: Setting) -> bool:
    """True when the recommendation is the same at every cluster size (needs no --nodes)."""
    return len(setting.values) == 1 and setting.values[0].min_nodes <= 1 and setting.values[0].max_nodes is None \
        and setting.values[0].per_node is None


def _containerd_line_for_config(state: NodeState, k8s: str) -> str | None:
    """Without a package or binary version: the newest line of the config's major (v3: containerd 2.x)
    that containerd pairs with this Kubernetes release."""
    if state.containerd is None:
        return None
    major = 2 if state.containerd.version >= 3 else 1
    facts = load_versions()
    fitting = [r.line for r in facts.containerd_lines_for(KubeVersion.parse(k8s)) if r.major == major]
    if fitting:
        return str(fitting[0])
    return str(max(r for r in facts.known_containerd if r.major == major))


def node_plan(state: NodeState, nodes: int | NodeRequest | None, k8s_version: str | None = None) -> Plan:
    """The plan for this node: versions from the options, else from the node (static pod image tags,
    the kubelet's and containerd's package or binary), runtime from the node. Without --nodes the
    plan keeps only the settings that do not depend on the cluster size."""
    request = nodes if isinstance(nodes, NodeRequest) else NodeRequest(nodes, k8s_version)
    version = request.k8s_version or state.k8s_version
    if version is None:
        raise BadInput("cannot tell the Kubernetes version: no control-plane static pods, no kubelet package in "
                       "/var/lib/dpkg/status and no version stamp in the kubelet binary; pass --k8s-version X.Y")
    containerd = request.containerd_version or state.containerd_version or _containerd_line_for_config(state, version)
    cri_dockerd = state.runtime == "docker" and (state.cri_dockerd or KubeVersion.parse(version) >= KubeVersion(1, 24))
    plan = make_plan(PlanRequest(nodes=request.nodes or 1, k8s_version=version, runtime=state.runtime,
                                 containerd_version=containerd, cri_dockerd=cri_dockerd,
                                 etcd_version=request.etcd_version or state.etcd_version, kube_proxy=request.kube_proxy))
    if request.nodes is not None:
        return plan
    catalogue = load_catalogue()
    kept = [rec for rec in plan.settings if size_independent(catalogue.by_id(rec.id))]
    return replace(plan, settings=kept, nodes=0)


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
    """One finding when the value read (or the default when unset) does not meet the recommendation."""
    setting = ctx.setting(rec.id)
    default = setting.default_for(ctx.plan.versions)
    if found is None:
        if default is not None and satisfies(default, rec):
            return None
        return Finding(rec.id, rec.component, rec.key, f"{where} (not set)", show(default),
                       wanted(rec), "warning", "unset", _fix(ctx, rec, where), where.lstrip("/") or None, None)
    if satisfies(found.value, rec):
        return None
    problem = "differs"
    severity: Severity = "warning"
    removed = (setting.removed_values or {}).get(normalize(found.value))
    if removed and KubeVersion.parse(removed) <= ctx.plan.k8s_version:
        problem, severity = "removed-value", "error"
    return Finding(rec.id, rec.component, rec.key, found.source, show(found.value), wanted(rec),
                   severity, problem, _fix(ctx, rec, where), found.file, found.line)


def check_sysctl(ctx: _Context, rec: Recommendation) -> list[Finding]:
    """Live and persisted values. For a floor, a live value at or above it is fine even when nothing
    persists it (systemd sets fs.file-max to LONG_MAX at every boot; the kernel sizes inotify by RAM)."""
    persisted = ctx.state.sysctl_persisted.get(rec.key)
    live = ctx.state.live_sysctl(rec.key)
    target = "/etc/sysctl.d/90-kubekeeper.conf"
    fix = f"kubekeeper tune apply --only sysctl (writes {target} and the live value)"
    want = wanted(rec)
    if live is None:  # key absent on this kernel (module not loaded): only the persisted file counts
        found = _compare(ctx, rec, persisted, target)
        return [found] if found else []
    if not satisfies(live.value, rec):
        if persisted is not None and satisfies(persisted.value, rec):
            return [Finding(rec.id, "sysctl", rec.key, live.source, show(live.value), want, "warning",
                            "persisted-not-live", f"sysctl -w {rec.key}={show(rec.value)} (or {fix})", live.file)]
        return [Finding(rec.id, "sysctl", rec.key, live.source, show(live.value), want, "warning", "differs",
                        fix, live.file)]
    if persisted is not None and not satisfies(persisted.value, rec):
        return [Finding(rec.id, "sysctl", rec.key, persisted.source, show(persisted.value), want, "warning",
                        "persisted-differs", fix, persisted.file, persisted.line)]
    if persisted is None and rec.bound == "exact":
        source = f"/{sysctl_path(rec.key)} (not in /etc/sysctl.conf or sysctl.d)"
        return [Finding(rec.id, "sysctl", rec.key, source, show(live.value), want, "warning", "live-not-persisted",
                        fix, live.file)]
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


def feature_gates(flag: Value | None) -> dict[str, Value]:
    """--feature-gates=A=true,B=false as gate -> Value (same source as the flag)."""
    if flag is None:
        return {}
    gates = {}
    for item in str(flag.value).split(","):
        name, _, value = item.strip().partition("=")
        if name:
            gates[name] = Value(value or "true", flag.file, flag.line, flag.process)
    return gates


def check_control_plane(ctx: _Context, rec: Recommendation) -> list[Finding]:
    pod = ctx.state.static_pods[rec.component]
    where = f"/{pod.file}"
    if rec.kind == "feature-gate":
        finding = _compare(ctx, rec, feature_gates(pod.flags.get("--feature-gates")).get(rec.key), f"{where} --feature-gates")
        return [finding] if finding else []
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


OBSOLETE_SEVERITY: dict[str, Severity] = {"removed": "error", "deprecated": "warning", "superseded": "note"}


def check_removed(ctx: _Context) -> list[Finding]:
    """Flags the plan lists as removed, deprecated or no longer needed, still present on the node."""
    findings = []
    for old in ctx.plan.obsolete:
        if not old.key.startswith("--"):
            continue
        if old.component in ctx.state.static_pods:
            flags = ctx.state.static_pods[old.component].flags
        elif old.component == "kubelet" and ctx.state.kubelet:
            flags = ctx.state.kubelet.flags
            if ctx.state.kubelet.restart_drops(old.key):
                continue  # removed from the unit (tune apply); gone at the kubelet's next restart
        else:
            continue
        found = flags.get(old.key)
        if not found:
            continue
        severity, status = OBSOLETE_SEVERITY[old.status], old.status
        deprecated_value = old.deprecated_values.get(normalize(found.value))
        if deprecated_value and KubeVersion.parse(deprecated_value) <= ctx.plan.k8s_version and severity == "note":
            severity, status = "warning", "deprecated"
        verb = {"removed": "removed in", "deprecated": "deprecated since", "superseded": "not needed since"}[old.status]
        findings.append(Finding(old.id, old.component, old.key, found.source, show(found.value), None, severity,
                                status, f"remove {old.key} ({verb} {old.removed_in}): {old.replacement}",
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
    versions = {
        "kubernetes": str(plan.k8s_version),
        "kubernetes_from": state.k8s_version_source if state.k8s_version else "--k8s-version",
        "containerd": str(plan.containerd_version) if plan.runtime == "containerd" else None,
        "containerd_from": state.containerd_version_source or "assumed from the config version and Kubernetes release",
        "etcd": str(plan.etcd_version),
        "etcd_from": "etcd static pod image tag" if state.etcd_version else "kubeadm's etcd for this Kubernetes release",
    }
    return AuditReport(state.root, str(plan.k8s_version), plan.nodes or None, plan.runtime, findings, passed,
                       [{"component": c, "reason": r} for c, r in skipped.items()], versions, list(plan.warnings))


def audit(root: Path, nodes: int | NodeRequest | None, k8s_version: str | None = None) -> AuditReport:
    """Read the node under root and compare it with the plan for its versions and the cluster size.
    Without a node count, settings that depend on it are listed as skipped."""
    state = probe(root)
    request = nodes if isinstance(nodes, NodeRequest) else NodeRequest(nodes, k8s_version)
    report = audit_state(state, node_plan(state, request))
    if request.nodes is None:
        report.skipped.append({"component": "size-dependent settings",
                               "reason": "pass --nodes N to audit settings that depend on the cluster size"})
    return report
