"""`--harbor`: listing through Harbor's /api/v2.0 (not _catalog), untagged artifacts, project creation
with public/private kept, and the legacy chartrepo of Harbor < 2.8.

Harbor cannot run here: `HarborStub` stands in for its API (following the v2.0 swagger) in front of
a real docker-registry that holds and serves all the image data."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e.registry.harbor_stub import HarborStub
from tests.e2e.registry.sandbox import Filler, fill_standard, inventory

pytestmark = pytest.mark.e2e


def test_harbor_backup_restore(cli, registry_factory, registry_restic_repo, tmp_path, monkeypatch):
    source_registry = registry_factory("source")
    target_registry = registry_factory("target")
    fill_standard(source_registry)
    filler = Filler(source_registry)
    nested = filler.image("team/sub/api", "2.0", [os.urandom(1000)], oci=True)
    untagged = filler.image("team/sub/api", None, [b"attestation"], oci=True,
                            subject={k: nested[k] for k in ("mediaType", "digest", "size")})
    source = HarborStub(source_registry, projects={"team": True, "library": False, "charts": False})
    source.untagged["team/sub/api"] = [untagged["digest"]]
    source.charts["legacy"] = {"old-1.0.0.tgz": b"\x1f\x8b fake chart bytes"}
    source.projects["legacy"] = False
    target = HarborStub(target_registry)
    try:
        monkeypatch.setenv("KUBEKEEPER_REGISTRY_USERNAME", "admin")
        monkeypatch.setenv("KUBEKEEPER_REGISTRY_PASSWORD", "Harbor12345")
        result = cli("backup", "registry", "--harbor", "--registry", source.url, "--repo", registry_restic_repo,
                     "--cache", str(tmp_path / "cache"), "--no-progress", "--format", "json",
                     "--project", "team", "--project", "legacy")
        assert result.code == 0, result.err
        assert json.loads(result.out)["details"]["repositories"] == 3
        assert not any("/v2/_catalog" in r for r in source.requests)  # Harbor lists through its API
        assert any("/repositories/sub%252Fapi/artifacts" in r for r in source.requests)

        result = cli("restore", "registry", "--harbor", "--registry", target.url, "--repo", registry_restic_repo,
                     "--no-progress", "--format", "json")
        assert result.code == 0, result.err
        report = json.loads(result.out)
        assert report["projects_created"] == ["legacy", "team"]
        assert {"project_name": "team", "metadata": {"public": "true"}} in target.created
        expected = {k: v for k, v in inventory(source_registry).items() if k.startswith("team/")}
        assert inventory(target_registry) == expected
        r = target.http.get(f"{target_registry.url}/v2/team/sub/api/manifests/{untagged['digest']}",
                            headers={"Accept": untagged["mediaType"]})
        assert r.status_code == 200  # the untagged referrer came along
        assert target.charts.get("legacy") == source.charts["legacy"]
    finally:
        source.stop()
        target.stop()
