"""Registry backup and restore against real docker-registry processes and real restic.

Covers both auth flavours (htpasswd Basic; Bearer tokens from an issuer the test runs), every kind of
content (shared layers, Docker v2 + OCI manifests, OCI index, Docker manifest list, Helm chart
artifact, cosign-style signature), digest-exact restore into an empty registry, the incremental
no-change backup, and --project-map with cross-repository mounts.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.registry.sandbox import fill_standard, inventory

pytestmark = pytest.mark.e2e


def _login(monkeypatch, registry) -> None:
    monkeypatch.setenv("KUBEKEEPER_REGISTRY_USERNAME", registry.username)
    monkeypatch.setenv("KUBEKEEPER_REGISTRY_PASSWORD", registry.password)


@pytest.mark.parametrize("auth", ["htpasswd", "token"])
def test_backup_restore_digest_exact_and_incremental(auth, cli, registry_factory, registry_restic_repo, tmp_path, monkeypatch):
    source = registry_factory("source", auth)
    target = registry_factory("target", auth)
    filled = fill_standard(source)
    expected = inventory(source)
    assert filled["sig_tag"] in expected["library/app"]
    _login(monkeypatch, source)
    cache = tmp_path / "cache"
    common = ("--repo", registry_restic_repo, "--cache", str(cache), "--no-progress", "--format", "json")

    first = cli("backup", "registry", "--registry", source.url, *common)
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert report["kind"] == "registry"
    assert report["details"]["repositories"] == 4
    assert report["details"]["blobs_fetched"] > 0
    gets_after_first = source.blob_gets()
    assert gets_after_first == report["details"]["blobs_fetched"]  # every blob once, despite sharing

    second = cli("backup", "registry", "--registry", source.url, *common)
    assert second.code == 0, second.err
    assert json.loads(second.out)["details"]["blobs_fetched"] == 0
    assert source.blob_gets() == gets_after_first  # the registry served no blob to the no-change backup

    _login(monkeypatch, target)
    restored = cli("restore", "registry", "--registry", target.url, "--repo", registry_restic_repo,
                   "--no-progress", "--format", "json")
    assert restored.code == 0, restored.err
    restore_report = json.loads(restored.out)
    assert restore_report["blobs_mounted"] > 0  # shared layers mounted across repositories, not re-sent
    assert inventory(target) == expected
    if auth == "token":
        assert source.issuer.issued > 0 and target.issuer.issued > 0


def test_project_map_and_restore_is_idempotent(cli, registry_factory, registry_restic_repo, tmp_path, monkeypatch):
    source = registry_factory("source", "htpasswd")
    target = registry_factory("target", "htpasswd")
    fill_standard(source)
    expected = inventory(source)
    _login(monkeypatch, source)
    assert cli("backup", "registry", "--registry", source.url, "--repo", registry_restic_repo,
               "--cache", str(tmp_path / "cache"), "--project", "team", "--no-progress").code == 0
    _login(monkeypatch, target)
    args = ("restore", "registry", "--registry", target.url, "--repo", registry_restic_repo, "--no-progress",
            "--format", "json", "--project-map", "team=prod")
    result = cli(*args)
    assert result.code == 0, result.err
    got = inventory(target)
    assert set(got) == {"prod/web", "prod/multi"}
    assert got["prod/web"] == expected["team/web"] and got["prod/multi"] == expected["team/multi"]
    again = json.loads(cli(*args).out)
    assert again["blobs_pushed"] == 0 and again["blobs_present"] > 0


def test_bad_registry_url_is_one_line_exit_2(cli, registry_restic_repo):
    result = cli("backup", "registry", "--registry", "ftp://x", "--repo", registry_restic_repo)
    assert result.code == 2
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


def test_wrong_password_fails_with_exit_3(cli, registry_factory, registry_restic_repo, tmp_path, monkeypatch):
    source = registry_factory("source", "htpasswd")
    monkeypatch.setenv("KUBEKEEPER_REGISTRY_USERNAME", source.username)
    monkeypatch.setenv("KUBEKEEPER_REGISTRY_PASSWORD", "wrong-" + source.password)
    result = cli("backup", "registry", "--registry", source.url, "--repo", registry_restic_repo,
                 "--cache", str(tmp_path / "c"), "--no-progress")
    assert result.code == 3
    assert source.password not in result.err and "rejected" in result.err
