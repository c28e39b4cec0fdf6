"""Evaluate the settings catalogue for a cluster: node count, Kubernetes version, runtime.

The plan is pure data (no I/O): what to set, what was removed and what replaces it, and warnings.
`render` turns it into files; `audit` compares it with a node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from kubekeeper import urls
from kubekeeper.errors import BadInput
from kubekeeper.knowledge import Catalogue, KubeVersion, Setting, VersionFacts, load_catalogue, load_versions
from kubekeeper.knowledge.catalogue import Scalar

Runtime = Literal["containerd", "docker"]
RUNTIMES: tuple[str, ...] = ("containerd", "docker")
#: pods per node assumed when sizing per-resource watch caches (the upstream limit is 110)
PODS_CACHE_PER_NODE = 30


@dataclass(frozen=True)
class PlanRequest:
    nodes: int
    k8s_version: str | None = None
    runtime: str = "containerd"
    containerd_version: str | None = None
    cri_dockerd: bool = False
    events_etcd_servers: str | None = None

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
    toml_path: str | None = None  # containerd: the path for the config version in use

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "component": self.component,
            "key": self.key,
            "value": self.value,
            "rationale": self.rationale,
            "source": self.source,
        }
        if self.replaces:
            out["replaces"] = self.replaces
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Obsolete:
    """A 2019 setting that no longer exists in the chosen version, and what to use instead."""

    id: str
    component: str
    key: str
    removed_in: str
    replacement: str

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "component": self.component,
            "key": self.key,
            "removed_in": self.removed_in,
            "replacement": self.replacement,
        }

    def sentence(self) -> str:
        return f"{self.component} {self.key} was removed in {self.removed_in}: {self.replacement}"


@dataclass(frozen=True)
class Plan:
    nodes: int
    k8s_version: KubeVersion
    runtime: str
    containerd_version: KubeVersion
    containerd_config_version: int
    settings: list[Recommendation]
    obsolete: list[Obsolete] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def for_component(self, component: str) -> list[Recommendation]:
        return [s for s in self.settings if s.component == component]

    def value_of(self, setting_id: str) -> Scalar | None:
        return next((s.value for s in self.settings if s.id == setting_id), None)

    def as_json(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "k8s_version": str(self.k8s_version),
            "runtime": self.runtime,
            "settings": [s.as_json() for s in self.settings],
            "obsolete": [o.as_json() for o in self.obsolete],
            "warnings": self.warnings + [o.sentence() for o in self.obsolete],
        }


def validate_request(request: PlanRequest, facts: VersionFacts) -> tuple[KubeVersion, KubeVersion]:
    """Check user input; every failure is a one-line BadInput."""
    if request.nodes < 1:
        raise BadInput(f"--nodes must be at least 1, got {request.nodes}")
    if request.runtime not in RUNTIMES:
        raise BadInput(f"unknown runtime {request.runtime!r} (choose {' or '.join(RUNTIMES)})")
    version = facts.kubernetes(request.k8s_version)
    containerd = facts.containerd(request.containerd_version)
    if request.runtime == "docker" and version >= facts.dockershim_removed and not request.cri_dockerd:
        raise BadInput(
            f"docker is not a runtime for Kubernetes {version}: dockershim was removed in "
            f"{facts.dockershim_removed}; use containerd, or pass --cri-dockerd if you run cri-dockerd"
        )
    return version, containerd


def _applies_to_runtime(setting: Setting, runtime: str) -> bool:
    if setting.component in RUNTIMES:
        return setting.component == runtime
    return setting.runtime is None or setting.runtime == runtime


def _substitute(value: Scalar, context: dict[str, str]) -> Scalar:
    if not isinstance(value, str):
        return value
    return re.sub(r"\{(\w+)\}", lambda m: context.get(m.group(1), m.group(0)), value)


def _evaluate(
    setting: Setting,
    request: PlanRequest,
    version: KubeVersion,
    plan_context: dict[str, str],
    containerd_config: int,
    scheduler_has_config: bool,
) -> tuple[Recommendation | None, str | None]:
    """One setting's recommendation for this cluster, or None; plus a warning when one is due."""
    tier = setting.tier_for(request.nodes)
    if tier is None:
        return None, None
    value: Scalar | None = _substitute(tier.evaluate(request.nodes), plan_context)
    note = setting.note_for(version)
    warning = None
    if setting.needs and not plan_context.get(setting.needs):
        option = "--" + setting.needs.replace("_", "-")
        value = None
        note = f"pass {option} to render this setting"
        warning = f"{setting.key} is recommended at {request.nodes} nodes: {note}"
    kind, key = setting.kind, setting.key
    if setting.component == "kube-scheduler" and not scheduler_has_config and setting.legacy_flag:
        kind, key = "flag", setting.legacy_flag
    toml_path = setting.toml_path.get(containerd_config) if setting.toml_path else None
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
            toml_path=toml_path,
        ),
        warning,
    )


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


def make_plan(request: PlanRequest, catalogue: Catalogue | None = None, facts: VersionFacts | None = None) -> Plan:
    """Evaluate every catalogue entry for the request."""
    catalogue = catalogue or load_catalogue()
    facts = facts or load_versions()
    version, containerd = validate_request(request, facts)
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
    warnings = size_warnings(request.nodes, facts)
    for setting in catalogue.settings:
        if not setting.k8s.holds(version):
            if setting.removed_in and KubeVersion.parse(setting.removed_in) <= version:
                obsolete.append(
                    Obsolete(setting.id, setting.component, setting.key, setting.removed_in, setting.replacement or "")
                )
            continue
        if not _applies_to_runtime(setting, request.runtime):
            continue
        if setting.component == "containerd" and request.runtime == "containerd" and not setting.containerd.holds(containerd):
            warnings.append(f"{setting.key} needs containerd {setting.containerd.min}+ (planning for {containerd})")
            continue
        recommendation, warning = _evaluate(setting, request, version, context, containerd_config, scheduler_has_config)
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
    )
