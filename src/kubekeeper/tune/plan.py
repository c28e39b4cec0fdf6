"""Evaluate the settings catalogue for a cluster: node count, and the Kubernetes, containerd and etcd
releases it runs.

The plan is pure data (no I/O): what to set, what was removed, deprecated or superseded and what
replaces it, and warnings. `render` turns it into files; `audit` compares it with a node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from kubekeeper import urls
from kubekeeper.errors import BadInput
from kubekeeper.knowledge import Catalogue, KubeVersion, Setting, VersionFacts, load_catalogue, load_versions
from kubekeeper.knowledge.catalogue import Scalar, Versions
from kubekeeper.knowledge.versions import Release

Runtime = Literal["containerd", "docker"]
RUNTIMES: tuple[str, ...] = ("containerd", "docker")
#: pods per node assumed when sizing per-resource watch caches (the upstream limit is 110)
PODS_CACHE_PER_NODE = 30
ObsoleteStatus = Literal["removed", "deprecated", "superseded"]


@dataclass(frozen=True)
class PlanRequest:
    nodes: int
    k8s_version: str | None = None
    runtime: str = "containerd"
    containerd_version: str | None = None
    cri_dockerd: bool = False
    events_etcd_servers: str | None = None
    etcd_version: str | None = None
    kube_proxy: bool = True  # False: the cluster runs no kube-proxy, the host owns the conntrack sysctls

    def __post_init__(self) -> None:
        """--events-etcd-servers: each URL checked, joined with ';' as --etcd-servers-overrides needs
        (a ',' there would start a new override)."""
        if self.events_etcd_servers is not None:
            servers = [urls.parse_http_url(item, "--events-etcd-servers").origin
                       for item in re.split(r"[;,]", self.events_etcd_servers) if item.strip()]
            if not servers:
                raise BadInput("--events-etcd-servers is empty")
            object.__setattr__(self, "events_etcd_servers", ";".join(servers))


@dataclass(frozen=True)
class Recommendation:
    id: str
    component: str
    kind: str
    key: str
    value: Scalar | None
    rationale: str
    source: str
    replaces: str | None = None
    note: str | None = None
    toml_path: str | None = None  # containerd: the path for the config version and release in use
    bound: str = "exact"  # exact | floor (at least) | ceiling (at most)
    default: Scalar | None = None  # upstream default for the planned versions

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "component": self.component,
            "key": self.key,
            "value": self.value,
            "bound": self.bound,
            "rationale": self.rationale,
            "source": self.source,
        }
        if self.toml_path:
            out["toml_path"] = self.toml_path
        if self.default is not None:
            out["default"] = self.default
        if self.replaces:
            out["replaces"] = self.replaces
        if self.note:
            out["note"] = self.note
        return out

    def shown_value(self) -> str:
        """The value as the plan states it: floors read "at least", ceilings "at most"."""
        text = "true" if self.value is True else "false" if self.value is False else str(self.value)
        return {"floor": f"at least {text}", "ceiling": f"at most {text}"}.get(self.bound, text)


@dataclass(frozen=True)
class Obsolete:
    """A 2019 setting that is removed, deprecated or no longer needed in the chosen versions."""

    id: str
    component: str
    key: str
    removed_in: str  # the release the status starts at ("1.24", or "etcd 3.6")
    replacement: str
    status: ObsoleteStatus = "removed"
    deprecated_values: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "component": self.component,
            "key": self.key,
            "status": self.status,
            "since": self.removed_in,
            "removed_in": self.removed_in if self.status == "removed" else None,
            "replacement": self.replacement,
        }

    def sentence(self) -> str:
        verb = {"removed": "was removed in", "deprecated": "is deprecated since", "superseded": "is not needed since"}
        return f"{self.component} {self.key} {verb[self.status]} {self.removed_in}: {self.replacement}"


@dataclass(frozen=True)
class Plan:
    nodes: int
    k8s_version: KubeVersion
    runtime: str
    containerd_version: Release
    containerd_config_version: int
    settings: list[Recommendation]
    obsolete: list[Obsolete] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    etcd_version: Release = field(default_factory=lambda: Release(3, 5))
    kube_proxy: bool = True

    @property
    def versions(self) -> Versions:
        return Versions(self.k8s_version, self.containerd_version, self.etcd_version)

    def for_component(self, component: str) -> list[Recommendation]:
        return [s for s in self.settings if s.component == component]

    def value_of(self, setting_id: str) -> Scalar | None:
        return next((s.value for s in self.settings if s.id == setting_id), None)

    def get(self, setting_id: str) -> Recommendation | None:
        return next((s for s in self.settings if s.id == setting_id), None)

    def as_json(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "k8s_version": str(self.k8s_version),
            "runtime": self.runtime,
            "containerd_version": str(self.containerd_version) if self.runtime == "containerd" else None,
            "etcd_version": str(self.etcd_version),
            "kube_proxy": self.kube_proxy,
            "settings": [s.as_json() for s in self.settings],
            "obsolete": [o.as_json() for o in self.obsolete],
            "warnings": self.warnings + [o.sentence() for o in self.obsolete],
        }


def validate_request(request: PlanRequest, facts: VersionFacts) -> tuple[KubeVersion, Release, Release]:
    """Check user input; every failure is a one-line BadInput."""
    if request.nodes < 1:
        raise BadInput(f"--nodes must be at least 1, got {request.nodes}")
    if request.runtime not in RUNTIMES:
        raise BadInput(f"unknown runtime {request.runtime!r} (choose {' or '.join(RUNTIMES)})")
    version = facts.kubernetes(request.k8s_version)
    containerd = facts.containerd(request.containerd_version, version)
    etcd = facts.etcd(request.etcd_version, version)
    if request.runtime == "docker" and version >= facts.dockershim_removed and not request.cri_dockerd:
        raise BadInput(
            f"docker is not a runtime for Kubernetes {version}: dockershim was removed in "
            f"{facts.dockershim_removed}; use containerd, or pass --cri-dockerd if you run cri-dockerd"
        )
    return version, containerd, etcd


def _applies_to_runtime(setting: Setting, runtime: str, cri_dockerd: bool) -> bool:
    if setting.component in RUNTIMES:
        return setting.component == runtime
    if setting.component == "cri-dockerd":
        return runtime == "docker" and cri_dockerd
    return setting.runtime is None or setting.runtime == runtime


def _applies_to_proxy(setting: Setting, kube_proxy: bool) -> bool:
    if setting.component == "kube-proxy":
        return kube_proxy
    return setting.owner != "kube-proxy" or not kube_proxy


def _substitute(value: Scalar, context: dict[str, str]) -> Scalar:
    if not isinstance(value, str):
        return value
    return re.sub(r"\{(\w+)\}", lambda m: context.get(m.group(1), m.group(0)), value)


def _evaluate(
    setting: Setting,
    request: PlanRequest,
    versions: Versions,
    plan_context: dict[str, str],
    containerd_config: int,
    scheduler_has_config: bool,
) -> tuple[Recommendation | None, str | None]:
    """One setting's recommendation for this cluster, or None; plus a warning when one is due."""
    tier = setting.tier_for(request.nodes)
    if tier is None:
        return None, None
    value: Scalar | None = _substitute(tier.evaluate(request.nodes), plan_context)
    note = setting.note_for(versions)
    warning = None
    if setting.needs and not plan_context.get(setting.needs):
        option = "--" + setting.needs.replace("_", "-")
        value = None
        note = f"pass {option} to render this setting"
        warning = f"{setting.key} is recommended at {request.nodes} nodes: {note}"
    kind, key = setting.kind, setting.key_for(versions)
    if setting.component == "kube-scheduler" and not scheduler_has_config and setting.legacy_flag:
        kind, key = "flag", setting.legacy_flag
    return (
        Recommendation(
            id=setting.id,
            component=setting.component,
            kind=kind,
            key=key,
            value=value,
            rationale=setting.rationale,
            source=setting.source,
            replaces=setting.replaces,
            note=note,
            toml_path=setting.toml_path_for(containerd_config, versions.containerd),
            bound=setting.bound,
            default=setting.default_for(versions),
        ),
        warning,
    )


def _obsolete(setting: Setting, versions: Versions) -> Obsolete | None:
    """Why a setting that does not apply to these versions is named anyway (removed, deprecated...)."""
    base = (setting.id, setting.component, setting.key_for(versions))
    replacement = setting.replacement or ""
    values = dict(setting.deprecated_values or {})
    removed = setting.removed_for(versions)
    if removed:
        return Obsolete(*base, removed, replacement, "removed", values)
    deprecated = setting.deprecated_for(versions)
    if deprecated:
        return Obsolete(*base, deprecated, replacement, "deprecated", values)
    superseded = setting.superseded_for(versions)
    if superseded:
        return Obsolete(*base, superseded, replacement, "superseded", values)
    return None


def size_warnings(nodes: int, facts: VersionFacts) -> list[str]:
    limits = facts.limits
    if nodes <= limits["nodes"]:
        return []
    return [
        f"{nodes} nodes is beyond the upstream-supported limits ({limits['nodes']} nodes, "
        f"{limits['pods_per_node']} pods per node, {limits['pods']} pods, {limits['containers']} "
        "containers; kubernetes.io 'Considerations for large clusters'): these settings are a "
        "starting point, not a tested configuration"
    ]


def version_warnings(request: PlanRequest, versions: Versions, facts: VersionFacts) -> list[str]:
    """A Kubernetes release newer than the catalogue knows, a containerd the Kubernetes release is not
    paired with, or an etcd other than kubeadm's."""
    warnings = []
    assumed = facts.assumption_warning(versions.k8s)
    if assumed:
        warnings.append(assumed)
    if request.runtime == "containerd":
        misfit = facts.containerd_fit(versions.containerd, versions.k8s)
        if misfit:
            warnings.append(misfit)
    kubeadm_etcd = facts.etcd_for(versions.k8s)
    oldest = facts.kubeadm_supports_etcd(versions.etcd, versions.k8s)
    if oldest:
        warnings.append(f"kubeadm {versions.k8s} no longer supports etcd older than {oldest} (kubernetes#135701): "
                        f"upgrade etcd {versions.etcd} to {oldest} before the control plane, or run it as external etcd")
    if versions.etcd.line != kubeadm_etcd.line:
        warnings.append(
            f"planning for etcd {versions.etcd}; kubeadm runs etcd {kubeadm_etcd} for Kubernetes {versions.k8s} "
            "(etcd flags and defaults follow --etcd-version)"
        )
    return warnings


def make_plan(request: PlanRequest, catalogue: Catalogue | None = None, facts: VersionFacts | None = None) -> Plan:
    """Evaluate every catalogue entry for the request."""
    catalogue = catalogue or load_catalogue()
    facts = facts or load_versions()
    version, containerd, etcd = validate_request(request, facts)
    versions = Versions(version, containerd, etcd)
    containerd_config = facts.containerd_config(containerd)
    scheduler_has_config = facts.scheduler_api(version) is not None
    context = {
        "nodes": str(request.nodes),
        "pods_cache": str(request.nodes * PODS_CACHE_PER_NODE),
        "pause_image": facts.pause_image(version),
        "events_etcd_servers": request.events_etcd_servers or "",
    }
    settings: list[Recommendation] = []
    obsolete: list[Obsolete] = []
    warnings = size_warnings(request.nodes, facts) + version_warnings(request, versions, facts)
    for setting in catalogue.settings:
        if not _applies_to_proxy(setting, request.kube_proxy):
            continue
        if not setting.k8s.holds(version) or not setting.etcd.holds(etcd):
            old = _obsolete(setting, versions)
            if old:
                obsolete.append(old)
            continue
        if setting.fixed_for(versions):
            continue
        if not _applies_to_runtime(setting, request.runtime, request.cri_dockerd):
            continue
        if setting.component == "containerd" and not setting.containerd.holds(containerd):
            if setting.containerd.min and containerd < Release.parse(setting.containerd.min):
                if setting.tier_for(request.nodes) and setting.kind != "advice" and setting.default_for(versions) != setting.values[0].value:
                    warnings.append(f"{setting.key} needs containerd {setting.containerd.min}+ (planning for {containerd})")
            continue
        recommendation, warning = _evaluate(setting, request, versions, context, containerd_config, scheduler_has_config)
        if recommendation:
            settings.append(recommendation)
        if warning:
            warnings.append(warning)
    if request.runtime == "docker" and request.cri_dockerd:
        warnings.append("docker through cri-dockerd: daemon.json settings apply to dockerd; the kubelet talks to cri-dockerd")
    return Plan(
        nodes=request.nodes,
        k8s_version=version,
        runtime=request.runtime,
        containerd_version=containerd,
        containerd_config_version=containerd_config,
        settings=settings,
        obsolete=obsolete,
        warnings=warnings,
        etcd_version=etcd,
        kube_proxy=request.kube_proxy,
    )
