"""The volume dispatcher: per-node plan, jitter slots, Job names, pacing, failures."""

from __future__ import annotations

import collections

import pytest

from kubekeeper.deploy.dispatch import check, cycle_id, dispatch, job_name, plan, slot
from kubekeeper.deploy.render import DeployOptions, volume_job_template
from kubekeeper.errors import OperationFailed
from kubekeeper.volumes.model import PvcRef


def pod(ns: str, name: str, node: str, claims: list[str], phase: str = "Running") -> dict:
    return {"metadata": {"namespace": ns, "name": name, "uid": name}, "status": {"phase": phase},
            "spec": {"nodeName": node, "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]}}


def pv(name: str, claim: tuple[str, str], source: dict, node: str | None = None) -> dict:
    spec = {**source, "claimRef": {"namespace": claim[0], "name": claim[1]}}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": "Bound"}}


PODS = [pod("a", "db-0", "n1", ["data"]), pod("a", "web", "n2", ["logs"]), pod("b", "idle", "n3", ["x"], phase="Succeeded"), pod("b", "stateless", "n4", [])]
PVS = [pv("pv-data", ("a", "data"), {"csi": {"driver": "d"}}), pv("pv-logs", ("a", "logs"), {"hostPath": {"path": "/srv/logs"}}),
       pv("pv-cold", ("b", "cold"), {"local": {"path": "/mnt/cold"}}, node="n5"), pv("pv-x", ("b", "x"), {"csi": {"driver": "d"}})]


def test_plan_per_node() -> None:
    found = plan(PODS, PVS)
    assert set(found.nodes) == {"n1", "n2", "n5"}
    assert found.nodes["n1"].claims == {PvcRef("a", "data")} and not found.nodes["n1"].node_paths
    assert found.nodes["n2"].node_paths == {"pv-logs": "/srv/logs"}
    assert found.nodes["n5"].unmounted_local == {PvcRef("b", "cold")} and found.nodes["n5"].node_paths == {"pv-cold": "/mnt/cold"}
    assert found.unmounted == ["b/x"]  # only a finished pod names it


def test_slots_spread_evenly_and_stay_put() -> None:
    nodes = [f"ip-10-0-{i // 250}-{i % 250}.ec2.internal" for i in range(5000)]
    window = 4 * 3600
    slots = [slot(n, window) for n in nodes]
    assert slots == [slot(n, window) for n in nodes] and all(0 <= s < window for s in slots)
    per_10_minutes = collections.Counter(s // 600 for s in slots)
    expected = 5000 / (window / 600)
    assert len(per_10_minutes) == window // 600 and max(per_10_minutes.values()) < 1.6 * expected and min(per_10_minutes.values()) > 0.5 * expected
    assert slot("n1", 0) == 0


def test_job_names_are_short_unique_and_readable() -> None:
    nodes = [f"worker-{i}.very-long-domain-name-of-a-big-cluster.example.internal" for i in range(5000)]
    names = [job_name("kubekeeper-volume", "29012345", n) for n in nodes]
    assert len(set(names)) == 5000 and max(map(len, names)) <= 63 and names[0].startswith("kubekeeper-volume-29012345-worker-0")
    assert job_name("kubekeeper-volume", "29012345", "n1") == job_name("kubekeeper-volume", "29012345", "n1")


def test_cycle_from_the_cronjob_job_name() -> None:
    assert cycle_id("kubekeeper-volumes-29012345", 0) == ("29012345", 29012345 * 60.0)
    assert cycle_id(None, 1_800_000_000.5) == ("30000000", 30000000 * 60.0)


class FakeCluster:
    def __init__(self, fail: set[str] = frozenset()) -> None:
        self.created: list[tuple[float, str]] = []
        self.fail = fail
        self.now = 1000.0

    def running_pods(self) -> list[dict]:
        return PODS

    def list_pvs(self) -> list[dict]:
        return PVS

    def create_job(self, namespace: str, body: dict) -> bool:
        node = body["metadata"]["annotations"]["kubekeeper.io/node"]
        if node in self.fail:
            raise OperationFailed("Kubernetes API refused creating Job: 403 Forbidden")
        self.created.append((self.now, node))
        return True


def test_jobs_are_created_at_their_slots() -> None:
    cluster = FakeCluster()

    def sleep(seconds: float) -> None:
        cluster.now += seconds

    report = dispatch(cluster, volume_job_template(DeployOptions()), window_seconds=3600, cycle="7", start=1000.0,
                      clock=lambda: cluster.now, sleep=sleep)
    assert [n for _, n in cluster.created] == sorted(["n1", "n2", "n5"], key=lambda n: slot(n, 3600))
    assert [t for t, _ in cluster.created] == [1000.0 + slot(n, 3600) for _, n in cluster.created]
    assert len(report.created) == 3 and report.unmounted == ["b/x"]
    check(report)


def test_a_failed_creation_fails_the_dispatcher_but_not_the_others() -> None:
    cluster = FakeCluster(fail={"n2"})
    report = dispatch(cluster, volume_job_template(DeployOptions()), window_seconds=0, cycle="7", start=0, clock=lambda: 0, sleep=lambda s: None)
    assert {n for _, n in cluster.created} == {"n1", "n5"} and len(report.failed) == 1
    with pytest.raises(OperationFailed, match="1 of 3 node Job"):
        check(report)
