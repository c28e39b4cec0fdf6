"""Typed model of `settings.yaml`; validation errors name the setting id and field."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML

from kubekeeper.errors import BadInput
from kubekeeper.knowledge.versions import KubeVersion

Component = Literal[
    "sysctl",
    "etcd",
    "containerd",
    "docker",
    "kubelet",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
]
Kind = Literal["sysctl", "flag", "config", "toml", "json", "advice"]
Scalar = bool | int | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """Inclusive range of minor releases; a missing bound is open."""

    min: str | None = None
    max: str | None = None

    def holds(self, version: KubeVersion) -> bool:
        if self.min is not None and version < KubeVersion.parse(self.min):
            return False
        return not (self.max is not None and KubeVersion.parse(self.max) < version)


class Setting(_Strict):
    id: str
    component: Component
    kind: Kind
    key: str
    values: list[Tier] = Field(min_length=1)
    k8s: VersionRange = VersionRange()
    etcd: VersionRange = VersionRange()
    containerd: VersionRange = VersionRange()
    toml_path: dict[int, str] | None = None
    removed_in: str | None = None
    replacement: str | None = None
    replaces: str | None = None
    note: str | None = None
    note_from: str | None = None
    needs: str | None = None
    legacy_flag: str | None = None
    runtime: Literal["containerd", "docker"] | None = None
    default: Scalar | None = None  # upstream default when the key is unset (audit: unset == default)
    removed_values: dict[str, str] | None = None  # value -> first k8s version that rejects it
    rationale: str
    source: str

    @model_validator(mode="after")
    def _toml_has_paths(self) -> Setting:
        if self.kind == "toml" and not self.toml_path:
            raise ValueError("a toml setting needs toml_path per config version")
        if self.removed_in and not self.replacement:
            raise ValueError("a removed setting needs a replacement")
        return self

    def tier_for(self, nodes: int) -> Tier | None:
        return next((tier for tier in self.values if tier.holds(nodes)), None)

    def note_for(self, version: KubeVersion) -> str | None:
        if self.note and (self.note_from is None or KubeVersion.parse(self.note_from) <= version):
            return self.note
        return None


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
