"""Helpers for lint tests: build manifests in code and lint them without touching the disk."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubekeeper.lint import Options, lint, parse_text
from kubekeeper.lint.engine import LintResult

FULL = {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "1Gi"}


def container(name: str = "app", requests: dict | None = FULL, limits: dict | None = FULL) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = dict(requests)
    if limits is not None:
        resources["limits"] = dict(limits)
    c: dict[str, Any] = {"name": name, "image": "registry.example.com/app:1"}
    if resources:
        c["resources"] = resources
    return c


def deployment(name: str = "web", namespace: str | None = "prod", replicas: int | None = 3,
               containers: list | None = None, spec_extra: dict | None = None,
               labels: dict | None = None, annotations: dict | None = None, kind: str = "Deployment") -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": containers if containers is not None else [container()]}
    pod_spec.update(spec_extra or {})
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = annotations
    obj: dict[str, Any] = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name, **(labels or {})}}, "spec": pod_spec}}}
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    return obj


def pdb(name: str = "web", namespace: str = "prod", match: dict | None = None) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": namespace},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": match or {"app": name}}}}


def to_yaml(*objects: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def run_lint(*objects: dict[str, Any], **options: Any) -> LintResult:
    return lint(parse_text(to_yaml(*objects), "test.yaml"), Options(**options))


def rules_of(result: LintResult, name: str | None = None) -> list[str]:
    return sorted(f.rule for f in result.findings if name is None or f.name == name)


@pytest.fixture
def write(tmp_path):
    def _write(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write
