"""Live sysctl writes for real, on net.* keys inside a network namespace the test creates.

Only per-namespace keys are written (somaxconn, tcp_keepalive_time, ip_local_port_range): the host's
own values are read before and after and must not move."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

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


def test_apply_live_values_through_a_node_root(netns: str, tmp_path: Path) -> None:
    """The apply path end to end: a node root whose proc/sys/net is the namespace's real one."""
    host_before = _host("net.core.somaxconn")
    code = (
        "import os\n"
        "from pathlib import Path\n"
        "from kubekeeper.tune.apply import LiveChange, write_live_sysctl\n"
        "from kubekeeper.tune.audit import same\n"
        "from kubekeeper.tune.probe import read_live_sysctl\n"
        f"root = Path({str(tmp_path)!r})\n"
        "(root / 'proc/sys').mkdir(parents=True)\n"
        "os.symlink('/proc/sys/net', root / 'proc/sys/net')\n"
        "before = read_live_sysctl(root, 'net.core.somaxconn').value\n"
        "write_live_sysctl(root / 'proc/sys/net/core/somaxconn', '1234')\n"
        "print(before, read_live_sysctl(root, 'net.core.somaxconn').value)\n"
    )
    before, after = _in_ns(netns, code).split()
    assert after == "1234" and before != after
    assert _host("net.core.somaxconn") == host_before
