"""The one Kubernetes client factory: which credentials and which default namespace, from a kubeconfig
(its current or a named context) or, in a pod, from the service account; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes.config import incluster_config

from kubekeeper import kubeapi
from kubekeeper.errors import BadInput
from kubekeeper.kubeapi import KubeAccess, connect


def kubeconfig(path: Path) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "a", "cluster": {"server": "https://10.0.0.1:6443"}},
                     {"name": "b", "cluster": {"server": "https://10.0.0.2:6443"}}],
        "users": [{"name": "u", "user": {"token": "t0k3n"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "a", "user": "u"}},
                     {"name": "prod", "context": {"cluster": "b", "user": "u", "namespace": "shop"}}],
    }))
    return path


@pytest.fixture(autouse=True)
def not_in_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_current_and_named_context(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc")
    with connect(KubeAccess(path)) as current:
        assert (current.host, current.namespace) == ("https://10.0.0.1:6443", None)
    with connect(KubeAccess(path, "prod")) as named:
        assert (named.host, named.namespace) == ("https://10.0.0.2:6443", "shop")
        assert named.api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer t0k3n"


def test_unknown_context_and_missing_file_are_one_line_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="context 'stage' not found in the kubeconfig"):
        connect(KubeAccess(kubeconfig(tmp_path / "kc"), "stage"))
    with pytest.raises(BadInput) as missing:
        connect(KubeAccess(tmp_path / "nope"))
    assert "\n" not in missing.value.message


def test_in_a_pod_the_service_account_unless_a_kubeconfig_is_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("sa-token")
    (account / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (account / "namespace").write_text("kubekeeper\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(account / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(account / "ca.crt"))
    monkeypatch.setattr(kubeapi, "SERVICE_ACCOUNT_DIR", account)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with connect(KubeAccess()) as pod:
        assert (pod.host, pod.namespace) == ("https://10.96.0.1:443", "kubekeeper")
        assert pod.api.configuration.auth_settings()["BearerToken"]["value"] == "bearer sa-token"
    with connect(KubeAccess(kubeconfig(tmp_path / "kc"))) as chosen:  # --kubeconfig wins over the service account
        assert chosen.host == "https://10.0.0.1:6443"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kc"))
    assert not KubeAccess().in_cluster()
