"""Live sysctl writes for real, on net.* keys inside a network namespace the test creates.

Only per-namespace keys are written (somaxconn, tcp_keepalive_time, ip_local_port_range,
nf_conntrack_tcp_timeout_established): the host's own values are read before and after and must not move."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.unit.tune.conftest import build_tree

pytestmark = pytest.mark.e2e
KEYS = {"net.core.somaxconn": "2345", "net.ipv4.tcp_keepalive_time": "321", "net.ipv4.ip_local_port_range": "20000 40000"}


def _host(key: str) -> str:
    return Path("/proc/sys/" + key.replace(".", "/")).read_text().strip()


@pytest.fixture
def netns():
    name = f"kk-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


def _in_ns(ns: str, code: str) -> str:
    result = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_live_write_inside_netns_leaves_host_alone(netns: str) -> None:
    host_before = {k: _host(k) for k in KEYS}
    code = (
        "from pathlib import Path\n"
        "from kubekeeper.tune.apply import write_live_sysctl\n"
        "from kubekeeper.tune.probe import read_live_sysctl, sysctl_path\n"
        f"keys = {KEYS!r}\n"
        "for k, v in keys.items():\n"
        "    write_live_sysctl(Path('/') / sysctl_path(k), v)\n"
        "for k in keys:\n"
        "    print(k, '=', read_live_sysctl(Path('/'), k).value)\n"
    )
    out = _in_ns(netns, code)
    for key, value in KEYS.items():
        assert f"{key} = {value}" in out
        shown = subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-n", key], capture_output=True, text=True).stdout
        assert " ".join(shown.split()) == value
    assert {k: _host(k) for k in KEYS} == host_before


def test_tune_apply_end_to_end_on_a_real_kernel_value(netns: str, tmp_path: Path) -> None:
    """`kubekeeper tune apply --only sysctl` in the namespace, on a node tree (tests/unit/tune/fixtures)
    whose proc/sys file for net.netfilter.nf_conntrack_tcp_timeout_established is the namespace's own
    kernel file (the other keys of the plan are host-wide, so they stay fixture files): the plan is
    computed, the sysctl.d file written, the kernel value set and read back; a second run changes
    nothing; the audit then finds that key as recommended; the host's value never moves."""
    key = "net.netfilter.nf_conntrack_tcp_timeout_established"
    kernel_file = Path("/proc/sys/" + key.replace(".", "/"))
    assert kernel_file.exists(), "the nf_conntrack module is not loaded on this machine"
    root = build_tree(tmp_path / "node", "1.30-containerd-v3")
    node_file = root / "proc/sys" / key.replace(".", "/")
    node_file.unlink()
    node_file.symlink_to(kernel_file)
    host_before = _host(key)
    args = ("--root", str(root), "--nodes", "1000", "--k8s-version", "1.30", "--no-kube-proxy")
    planned = {s["key"]: str(s["value"]) for s in json.loads(_kubekeeper("tune", "plan", *args[2:], "--format", "json"))["settings"]}
    wanted = planned[key]
    before = _in_ns(netns, f"print(open({str(kernel_file)!r}).read().strip())").strip()
    assert before != wanted, "a fresh namespace already has the recommended value: nothing to test"

    applied = _kubekeeper("tune", "apply", *args, "--only", "sysctl", "--format", "json", ns=netns)
    document = json.loads(applied)
    assert {"key": key, "old": before, "new": wanted} in document["live_sysctls"]
    assert "/etc/sysctl.d/90-kubekeeper.conf" in document["files"]
    shown = subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-n", key], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == wanted
    assert f"{key} = {wanted}" in (root / "etc/sysctl.d/90-kubekeeper.conf").read_text()
    assert all(Path(b).exists() for b in document["backups"])

    again = json.loads(_kubekeeper("tune", "apply", *args, "--only", "sysctl", "--format", "json", ns=netns))
    assert not again["changed"] and again["live_sysctls"] == []
    audit = json.loads(_kubekeeper("tune", "audit", *args, "--format", "json", ns=netns, codes=(0, 1)))
    assert key not in {f["key"] for f in audit["findings"]} and f"sysctl.{key}" in audit["passed"]
    assert _host(key) == host_before


def _kubekeeper(*args: str, ns: str | None = None, codes: tuple[int, ...] = (0,)) -> str:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    result = subprocess.run([*prefix, sys.executable, "-m", "kubekeeper", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode in codes, result.stderr
    return result.stdout
