"""API cost at scale: 2,000 PVCs in 40 namespaces on 1,000 nodes, served by the API stand-in
(apiserver.py: paginated lists, field selectors honoured, every request counted).

- One node's `backup volume --all-pvcs` (real restic, real repository, a kubelet-like tree for that
  node) backs up exactly the PVCs mounted on that node, with at most 10 API requests.
- The dispatcher reads the cluster in ceil(pods/500) + ceil(PVs/500) LIST pages and creates one Job
  per node with volumes; a second run in the same cycle creates none (409).
"""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from pathlib import Path

import kubernetes_validate
import pytest

from kubekeeper.deploy.render import TEMPLATE_KEY, DeployOptions, volume_template_configmap
from tests.e2e.volumes.apiserver import FakeCluster, serve
from tests.e2e.volumes.conftest import pod, pv, pvc

pytestmark = pytest.mark.e2e

NODES, NAMESPACES, PVCS = 1000, 40, 2000


def big_cluster(seed: int = 15) -> tuple[FakeCluster, dict[str, set[str]]]:
    """2,000 bound CSI PVCs in 40 namespaces, each mounted by one running pod on a random node, plus
    pods without volumes, finished pods, a local PV not mounted by any pod, and PVCs nobody mounts.
    Returns the cluster and, per node, the PVCs (ns/name) mounted there (the ground truth)."""
    rng = random.Random(seed)
    cluster = FakeCluster()
    truth: dict[str, set[str]] = {}
    for i in range(PVCS):
        ns, name, volume = f"team-{i % NAMESPACES:02d}", f"data-{i:04d}", f"pvc-{uuid.UUID(int=rng.getrandbits(128))}"
        cluster.add(pvc(ns, name, volume), pv(volume, {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": volume}}, (ns, name)))
        node = f"node-{rng.randrange(NODES):04d}"
        cluster.pods.append(pod(ns, f"app-{i:04d}", node, [name]))
        truth.setdefault(node, set()).add(f"{ns}/{name}")
    for i in range(3000):  # stateless pods everywhere
        cluster.pods.append(pod(f"team-{i % NAMESPACES:02d}", f"web-{i:04d}", f"node-{rng.randrange(NODES):04d}", []))
    for i in range(200):  # finished pods still naming a claim: not a mount
        cluster.pods.append(pod(f"team-{i % NAMESPACES:02d}", f"job-{i:04d}", f"node-{rng.randrange(NODES):04d}", [f"data-{i:04d}"], phase="Succeeded"))
    cluster.add(pvc("team-00", "orphan", "pvc-orphan"), pv("pvc-orphan", {"csi": {"driver": "x", "volumeHandle": "o"}}, ("team-00", "orphan")))
    cluster.add(pvc("team-01", "cold", "local-cold"), pv("local-cold", {"local": {"path": "/mnt/disks/cold"}}, ("team-01", "cold"), affinity="node-0007"))
    return cluster, truth


@pytest.fixture(scope="module")
def scale() -> tuple[FakeCluster, dict[str, set[str]]]:
    return big_cluster()


@pytest.mark.parametrize("which", ["typical", "busiest"])
def test_one_node_backs_up_exactly_its_own_pvcs(which: str, scale, tmp_path: Path, restic_repo, cli) -> None:
    """The cost is 1 + 1 per (dynamically provisioned) PVC mounted on the node, whatever the cluster's
    size: 3 requests for a typical node (the median, 2 PVCs), 8 for the busiest one (7 PVCs)."""
    cluster, truth = scale
    ranked = sorted(truth, key=lambda n: (len(truth[n]), n))
    node = ranked[len(ranked) // 2] if which == "typical" else ranked[-1]
    mine = truth[node]
    kubelet = tmp_path / "kubelet"
    for p in cluster.pods:
        if p["spec"]["nodeName"] == node and p["status"]["phase"] == "Running" and p["spec"]["volumes"][0].get("persistentVolumeClaim"):
            claim = p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
            volume = cluster.pvcs[(p["metadata"]["namespace"], claim)]["spec"]["volumeName"]
            data = kubelet / "pods" / p["metadata"]["uid"] / "volumes/kubernetes.io~csi" / volume / "mount"
            data.mkdir(parents=True)
            (data / "rows.dat").write_bytes(os.urandom(4096))
    os.environ.pop("KUBERNETES_SERVICE_HOST", None)
    with serve(cluster, tmp_path / "kubeconfig") as kubeconfig:
        cluster.requests.clear()
        result = cli("backup", "volume", "--all-pvcs", "--node", node, "--kubeconfig", str(kubeconfig), "--kubelet-root", str(kubelet),
                     *restic_repo.cli_args, "--format", "json")
        requests = list(cluster.requests)
    assert result.code == 0, result.err
    report = json.loads(result.out)["volumes"]
    assert {r["pvc"] for r in report} == mine and {r["status"] for r in report} == {"ok"}
    stored = {f"{dict(t.split('=', 1) for t in s.tags if '=' in t)['namespace']}/{dict(t.split('=', 1) for t in s.tags if '=' in t)['pvc']}"
              for s in restic_repo.repository.snapshots(["kind:volume", "part=data"])}
    assert stored == mine
    print(f"\nnode {node}: {len(mine)} PVCs, {len(requests)} API requests: " + ", ".join(f"{r.method} {r.path}" for r in requests))
    assert len(requests) == 1 + len(mine) <= 10  # one field-selected LIST, a GET per PVC; each PV found on disk
    assert len(mine) == (2 if which == "typical" else 7)
    (listing,) = [r for r in requests if r.path == "/api/v1/pods"]
    assert listing.query["fieldSelector"] == f"spec.nodeName={node},status.phase=Running" and listing.query["limit"] == "500"


def test_the_stand_in_pages_and_selects(scale, tmp_path: Path) -> None:
    """The stand-in must be able to make a run fail: lists come in pages, unknown fields are refused."""
    from kubekeeper.kubeapi import KubeAccess
    from kubekeeper.volumes.kube import Cluster

    cluster, _ = scale
    with serve(cluster, tmp_path / "kubeconfig") as kubeconfig:
        api = Cluster.connect(KubeAccess(kubeconfig))
        cluster.requests.clear()
        assert len(api.list_pvs()) == PVCS + 2
        assert len([r for r in cluster.requests if r.path == "/api/v1/persistentvolumes"]) == math.ceil((PVCS + 2) / 500)
        with pytest.raises(Exception, match="400"):
            api._list(api.core.list_persistent_volume, kind="PersistentVolume", what="bad", field_selector="spec.storageClassName=x")


def test_dispatcher_reads_once_and_creates_one_job_per_node(scale, tmp_path: Path, cli) -> None:
    cluster, truth = scale
    cluster.jobs.clear()
    template = tmp_path / TEMPLATE_KEY
    template.write_text(volume_template_configmap(DeployOptions())["data"][TEMPLATE_KEY])
    with serve(cluster, tmp_path / "kubeconfig") as kubeconfig:
        cluster.requests.clear()
        first = cli("deploy", "dispatch", "--template", str(template), "--window", "0", "--cycle", "29012345", "--kubeconfig", str(kubeconfig),
                    "--format", "json")
        first_requests = list(cluster.requests)
        cluster.requests.clear()
        again = cli("deploy", "dispatch", "--template", str(template), "--window", "0", "--cycle", "29012345", "--kubeconfig", str(kubeconfig),
                    "--format", "json")
    assert first.code == 0, first.err
    summary = json.loads(first.out)
    nodes_with_volumes = set(truth) | {"node-0007"}  # node-0007 holds the unmounted local PV
    assert summary["nodes"] == len(nodes_with_volumes) and summary["created"] == len(nodes_with_volumes)
    assert summary["unmounted_pvcs"] == ["team-00/orphan"]
    running = sum(1 for p in cluster.pods if p["status"]["phase"] == "Running")
    lists = [r for r in first_requests if r.method == "GET"]
    assert len(lists) == math.ceil(running / 500) + math.ceil((PVCS + 2) / 500)
    assert all(r.query.get("fieldSelector") == "status.phase=Running" for r in lists if r.path == "/api/v1/pods")
    assert len([r for r in first_requests if r.method == "POST"]) == len(nodes_with_volumes)
    print(f"\ndispatcher: {len(lists)} LIST pages + {len(nodes_with_volumes)} Job creations for {len(nodes_with_volumes)} nodes")

    jobs = {j["metadata"]["annotations"]["kubekeeper.io/node"]: j for j in cluster.jobs.values()}
    assert set(jobs) == nodes_with_volumes
    cold = jobs["node-0007"]["spec"]["template"]["spec"]
    assert {"name": "node-path-0", "hostPath": {"path": "/mnt/disks/cold", "type": "Directory"}} in cold["volumes"]
    assert cold["containers"][0]["args"][-2:] == ["--pvc", "team-01/cold"]
    for job in list(jobs.values())[:20]:
        job = {k: v for k, v in job.items()}
        job["metadata"] = {k: v for k, v in job["metadata"].items() if k != "uid"}
        kubernetes_validate.validate(job, "1.31.0", strict=True)

    assert again.code == 0, again.err
    assert json.loads(again.out)["created"] == 0 and json.loads(again.out)["existing"] == len(nodes_with_volumes)
