"""Typed model of `settings.yaml`; validation errors name the setting id and field."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML

from kubekeeper.errors import BadInput
from kubekeeper.knowledge.versions import KubeVersion, Release, first_of, floor_lookup

Component = Literal[
    "sysctl",
    "etcd",
    "containerd",
    "docker",
    "cri-dockerd",
    "kubelet",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "apf",
    "control-plane",
]
#: sysctl | flag | config (a field of a component's config object) | toml (containerd config.toml path)
#: | json (docker daemon.json key) | feature-gate (one gate inside --feature-gates) | advice (no key)
Kind = Literal["sysctl", "flag", "config", "toml", "json", "feature-gate", "advice"]
#: exact: the value itself; floor: a capacity limit, anything at or above is fine (audit flags only
#: lower values, apply never lowers); ceiling: anything at or below is fine (e.g. etcd --snapshot-count)
Bound = Literal["exact", "floor", "ceiling"]
Axis = Literal["k8s", "containerd", "etcd"]
Scalar = bool | int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Versions:
    """The releases a plan is for: every version-dependent fact is looked up against these."""

    k8s: KubeVersion
    containerd: Release
    etcd: Release

    def on(self, axis: str) -> KubeVersion | Release:
        releases: dict[str, KubeVersion | Release] = {"k8s": self.k8s, "containerd": self.containerd, "etcd": self.etcd}
        return releases[axis]


class Tier(_Strict):
    """One step of a recommendation by cluster size; bounds are inclusive."""

    min_nodes: int = 1
    max_nodes: int | None = None
    value: Scalar | None = None
    per_node: int | None = None

    @model_validator(mode="after")
    def _one_value(self) -> Tier:
        if (self.value is None) == (self.per_node is None):
            raise ValueError("a tier needs exactly one of value / per_node")
        return self

    def holds(self, nodes: int) -> bool:
        return self.min_nodes <= nodes and (self.max_nodes is None or nodes <= self.max_nodes)

    def evaluate(self, nodes: int) -> Scalar:
        return nodes * self.per_node if self.per_node is not None else self.value  # type: ignore[return-value]


class VersionRange(_Strict):
    """Inclusive range of releases (Kubernetes minors, or containerd/etcd releases); a missing bound is open."""

    min: str | None = None
    max: str | None = None

    def holds(self, version: KubeVersion | Release) -> bool:
        parse = KubeVersion.parse if isinstance(version, KubeVersion) else Release.parse
        if self.min is not None:
            lower = parse(self.min)
            if isinstance(lower, Release) and isinstance(version, Release) and lower.patch is None:
                lower = Release(lower.major, lower.minor, 0)  # min "1.7" means from 1.7.0
            if version < lower:
                return False
        if self.max is None:
            return True
        upper = parse(self.max)
        if isinstance(upper, Release) and isinstance(version, Release) and upper.patch is None:
            return version.line <= upper  # max "3.5" includes every 3.5.x
        # max "3.6.7": a release given without a patch stands for the newest of its line, so "3.6" is past it
        return not upper < version

    def describe(self) -> str:
        if self.min and self.max:
            return f"{self.min}..{self.max}"
        return f"{self.min}+" if self.min else f"..{self.max}" if self.max else "any"


class Note(_Strict):
    """A note shown with the recommendation only for the versions it names."""

    text: str
    k8s: VersionRange = VersionRange()
    containerd: VersionRange = VersionRange()
    etcd: VersionRange = VersionRange()

    def holds(self, versions: Versions) -> bool:
        return self.k8s.holds(versions.k8s) and self.containerd.holds(versions.containerd) and self.etcd.holds(versions.etcd)


def _since(spec: str | dict[Axis, str] | None, versions: Versions) -> str | None:
    """'1.24' (a Kubernetes release) or 'etcd 3.7' when the status starts at or before these versions;
    a plain string is a Kubernetes release."""
    table: dict[str, str] = {"k8s": spec} if isinstance(spec, str) else {axis: since for axis, since in (spec or {}).items()}
    for axis, since in table.items():
        if first_of(since, axis == "k8s") <= versions.on(axis):  # "3.6" starts at 3.6.0
            return since if axis == "k8s" else f"{axis} {since}"
    return None


def _fixed(fixes: list[str], version: KubeVersion | Release) -> bool:
    """True when `version` has the fix: at or after the fix on its own line, or on a line newer than
    every fixed line (released with it). Lines older than the oldest fixed line never got it."""
    parse = KubeVersion.parse if isinstance(version, KubeVersion) else Release.parse
    releases = [parse(f) for f in fixes]
    if isinstance(version, Release):
        same_line = [r for r in releases if isinstance(r, Release) and r.line == version.line]
        if same_line:
            return not version < same_line[0]
        return all(r.line < version.line for r in releases if isinstance(r, Release))
    return all(not version < r for r in releases)  # Kubernetes minors: fixed from that minor on


class Setting(_Strict):
    id: str
    component: Component
    kind: Kind
    key: str
    values: list[Tier] = Field(min_length=1)
    bound: Bound = "exact"
    k8s: VersionRange = VersionRange()
    etcd: VersionRange = VersionRange()
    containerd: VersionRange = VersionRange()
    # key that depends on a version, e.g. {etcd: {"3.4": --experimental-x, "3.6": --x}} (floor lookup)
    key_by: dict[Axis, dict[str, str]] | None = None
    toml_path: dict[int, str] | None = None
    # containerd >= release (config v3): a different path, e.g. 2.1 pulls through the transfer service
    toml_path_from: dict[str, str] | None = None
    # first release without the key: a Kubernetes release, or {etcd: "3.7"} for another component's
    removed_in: str | dict[Axis, str] | None = None
    # the key is deprecated (still accepted) from a release on, or only within a range of releases
    # when upstream revoked the deprecation later (etcd 3.6.8 un-deprecated --snapshot-count)
    deprecated: dict[Axis, str | VersionRange] | None = None
    superseded_in: str | dict[Axis, str] | None = None  # first release that no longer needs the key (still accepted)
    # the problem the setting works around is fixed from these releases on (one per line, e.g. etcd
    # ["3.4.42", "3.5.28", "3.6.9"]); fixed versions get no recommendation (and nothing is obsolete)
    fixed_in: dict[Axis, list[str]] | None = None
    replacement: str | None = None
    replaces: str | None = None
    note: str | None = None
    note_from: str | None = None
    notes: list[Note] = []
    needs: str | None = None
    legacy_flag: str | None = None
    runtime: Literal["containerd", "docker"] | None = None
    owner: Literal["kube-proxy"] | None = None  # planned only when that component does not own the key
    default: Scalar | None = None  # upstream default when the key is unset (audit: unset == default)
    default_by: dict[Axis, dict[str, Scalar]] | None = None  # default that changed between releases
    removed_values: dict[str, str] | None = None  # value -> first k8s version that rejects it
    deprecated_values: dict[str, str] | None = None  # value -> first k8s version that deprecates it
    rationale: str
    source: str

    @model_validator(mode="after")
    def _consistent(self) -> Setting:
        if self.kind == "toml" and not self.toml_path:
            raise ValueError("a toml setting needs toml_path per config version")
        if (self.removed_in or self.deprecated or self.superseded_in) and not self.replacement:
            raise ValueError("a removed, deprecated or superseded setting needs a replacement")
        if self.default is not None and self.default_by:
            raise ValueError("give either default or default_by")
        return self

    def tier_for(self, nodes: int) -> Tier | None:
        return next((tier for tier in self.values if tier.holds(nodes)), None)

    def applies(self, versions: Versions) -> bool:
        return self.k8s.holds(versions.k8s) and self.etcd.holds(versions.etcd) and self.containerd.holds(versions.containerd)

    def note_for(self, version: KubeVersion | Versions) -> str | None:
        """Every note that holds for these versions, joined."""
        k8s = version.k8s if isinstance(version, Versions) else version
        texts = []
        if self.note and (self.note_from is None or KubeVersion.parse(self.note_from) <= k8s):
            texts.append(self.note)
        if isinstance(version, Versions):
            texts += [n.text for n in self.notes if n.holds(version)]
        return " ".join(texts) or None

    def default_for(self, versions: Versions | None) -> Scalar | None:
        """The upstream default for these versions (defaults change: kubelet kubeAPIQPS 5 -> 50 in 1.27)."""
        if self.default_by and versions is not None:
            for axis, table in self.default_by.items():
                found = floor_lookup(table, versions.on(axis))
                if found is not None:
                    return found
            return None
        return self.default

    def key_for(self, versions: Versions) -> str:
        if self.key_by:
            for axis, table in self.key_by.items():
                found = floor_lookup(table, versions.on(axis))
                if found is not None:
                    return found
        return self.key

    def toml_path_for(self, config_version: int, containerd: Release) -> str | None:
        if self.toml_path_from and config_version >= 3:
            override = floor_lookup(self.toml_path_from, containerd)
            if override:
                return override
        return self.toml_path.get(config_version) if self.toml_path else None

    def deprecated_for(self, versions: Versions) -> str | None:
        """'1.24' (or 'etcd 3.6') when the key is deprecated in these versions."""
        for axis, spec in (self.deprecated or {}).items():
            if isinstance(spec, VersionRange):
                if spec.min and spec.holds(versions.on(axis)):
                    return spec.min if axis == "k8s" else f"{axis} {spec.min}"
                continue
            found = _since({axis: spec}, versions)
            if found:
                return found
        return None

    def removed_for(self, versions: Versions) -> str | None:
        """'1.24' (or 'etcd 3.7') when the key no longer exists in these versions."""
        return _since(self.removed_in, versions)

    def superseded_for(self, versions: Versions) -> str | None:
        """'1.11' (or 'etcd 3.6') when the key is still accepted but no longer needed."""
        return _since(self.superseded_in, versions)

    def fixed_for(self, versions: Versions) -> bool:
        """True when every axis in `fixed_in` is at a release that no longer needs this setting."""
        if not self.fixed_in:
            return False
        return all(_fixed(fixes, versions.on(axis)) for axis, fixes in self.fixed_in.items())


class ComponentInfo(_Strict):
    """Where a component's settings live on a node and what must restart to pick them up."""

    group: Literal["sysctl", "runtime", "kubelet", "control-plane", "cluster"]
    files: list[str] = []  # paths relative to the node root, first is the one `tune apply` writes
    restart: str | None = None  # systemd service to restart after a change (never done by kubekeeper)
    restart_note: str | None = None  # why no restart is needed, or what else to do
    backup_dir: str | None = None  # backups go here instead of beside the file (static-pod dirs)
    auditable: bool = True
    not_auditable_reason: str | None = None


class Catalogue(_Strict):
    settings: list[Setting]
    components: dict[str, ComponentInfo] = {}

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalogue:
        seen: set[str] = set()
        for setting in self.settings:
            if setting.id in seen:
                raise ValueError(f"duplicate setting id {setting.id}")
            seen.add(setting.id)
        return self

    def by_id(self, setting_id: str) -> Setting:
        for setting in self.settings:
            if setting.id == setting_id:
                return setting
        raise KeyError(setting_id)


def parse_catalogue(raw: Any) -> Catalogue:
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"settings catalogue invalid at {where}: {first['msg']}") from exc


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped in the package (cached: it is read-only data)."""
    text = resources.files("kubekeeper.knowledge").joinpath("settings.yaml").read_text("utf-8")
    return parse_catalogue(YAML(typ="safe").load(text))
