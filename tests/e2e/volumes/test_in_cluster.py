"""Inside a pod, every command that talks to the API uses the pod's service account (one client
factory, kubekeeper.kubeapi): `backup volume` and `lint --cluster` alike, with neither --kubeconfig
nor $KUBECONFIG. The API server is the stand-in of apiserver.py, served over HTTPS the way a pod sees
it (KUBERNETES_SERVICE_HOST/PORT, the service account's token, ca.crt and namespace files); the
kubernetes client's own in-cluster loader reads them. Real restic underneath."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes.config import incluster_config

from kubekeeper import kubeapi
from tests.e2e.volumes.apiserver import FakeCluster, serve_in_cluster
from tests.e2e.volumes.conftest import NODE, kubeadm_like

pytestmark = pytest.mark.e2e
TOKEN = "sa-token-" + "x" * 24


def credentials(cluster: FakeCluster) -> set[tuple[str, str]]:
    """(scheme, token) of every request; the scheme is case-insensitive (the client sends `bearer`)."""
    return {(scheme.lower(), token) for scheme, _, token in (r.authorization.partition(" ") for r in cluster.requests)}


@dataclass
class Pod:
    cluster: FakeCluster
    kubelet_root: Path
    host_root: Path


@pytest.fixture
def in_a_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pod]:
    kubelet_root, host_root = tmp_path / "node1/var/lib/kubelet", tmp_path / "node1/host"
    cluster = kubeadm_like(kubelet_root, host_root)
    account = tmp_path / "serviceaccount"
    with serve_in_cluster(cluster, account, namespace="apps", token=TOKEN) as port:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config to fall back on
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(account / "token"))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(account / "ca.crt"))
        monkeypatch.setattr(kubeapi, "SERVICE_ACCOUNT_DIR", account)
        yield Pod(cluster, kubelet_root, host_root)


def test_backup_volume_in_a_pod_uses_the_service_account(in_a_pod: Pod, cli, restic_repo) -> None:
    result = cli("backup", "volume", "--pvc", "apps/db-data", "--kubelet-root", str(in_a_pod.kubelet_root), "--host-root",
                 str(in_a_pod.host_root), "--node", NODE, *restic_repo.cli_args, "--format", "json")
    assert result.code == 0, result.err
    assert [(v["pvc"], v["status"]) for v in json.loads(result.out)["volumes"]] == [("apps/db-data", "ok")]
    assert in_a_pod.cluster.requests and credentials(in_a_pod.cluster) == {("bearer", TOKEN)}


def test_lint_cluster_in_a_pod_uses_the_service_account_and_its_namespace(in_a_pod: Pod, cli) -> None:
    result = cli("lint", "--cluster", "--format", "json")
    assert result.code in (0, 1), result.err
    pods = {r.path for r in in_a_pod.cluster.requests if r.path.endswith("/pods")}
    assert pods == {"/api/v1/namespaces/apps/pods"}  # the service account's namespace, as kubectl in a pod
    assert credentials(in_a_pod.cluster) == {("bearer", TOKEN)}
    assert "db-0" in result.out  # the live pods were linted
