"""`etcd prioritize` for real: ionice on a process the test starts; tc on a veth pair inside a network
namespace the test creates, read back with `tc filter show`; idempotent; --undo removes it all."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
KUBEKEEPER = [sys.executable, "-m", "kubekeeper"]


def _ionice(pid: int) -> str:
    return subprocess.run(["ionice", "-p", str(pid)], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "300"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def netns():
    name = f"kk-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ex = ["ip", "netns", "exec", name]
        subprocess.run([*ex, "ip", "link", "add", "kka", "type", "veth", "peer", "name", "kkb"], check=True)
        subprocess.run([*ex, "ip", "link", "set", "kka", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _kubekeeper(*args: str, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    return subprocess.run([*prefix, *KUBEKEEPER, *args], capture_output=True, text=True, timeout=60)


def _qdisc_kind() -> str:
    """prio as in etcd's guide when the kernel has sch_prio; else the htb stand-in."""
    name = f"kk-probe-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ex = ["ip", "netns", "exec", name]
        subprocess.run([*ex, "ip", "link", "add", "pa", "type", "veth", "peer", "name", "pb"], check=True)
        ok = subprocess.run([*ex, "tc", "qdisc", "add", "dev", "pa", "root", "handle", "1:", "prio"], capture_output=True)
        return "prio" if ok.returncode == 0 else "htb"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_ionice_apply_idempotent_and_undo(sleeper: int, tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    before = _ionice(sleeper)
    assert not before.startswith("best-effort: prio 0")
    dry = _kubekeeper("etcd", "prioritize", "--pid", str(sleeper), "--dry-run", "--state-file", state)
    assert dry.returncode == 0 and "ionice -c2 -n0" in dry.stdout and _ionice(sleeper) == before
    first = _kubekeeper("etcd", "prioritize", "--pid", str(sleeper), "--state-file", state)
    assert first.returncode == 0, first.stderr
    assert _ionice(sleeper) == "best-effort: prio 0"
    second = _kubekeeper("etcd", "prioritize", "--pid", str(sleeper), "--state-file", state)
    assert "nothing changed" in second.stdout
    undo = _kubekeeper("etcd", "prioritize", "--undo", "--state-file", state)
    assert undo.returncode == 0, undo.stderr
    assert _ionice(sleeper) == before


def test_tc_filters_in_a_netns(sleeper: int, netns: str, tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    kind = _qdisc_kind()
    ex = ["ip", "netns", "exec", netns]
    args = ("etcd", "prioritize", "--pid", str(sleeper), "--dev", "kka", "--qdisc", kind, "--state-file", state)
    first = _kubekeeper(*args, ns=netns)
    assert first.returncode == 0, first.stderr
    shown = subprocess.run([*ex, "tc", "filter", "show", "dev", "kka", "parent", "1:"], capture_output=True, text=True, check=True).stdout
    assert shown.count("flowid 1:1") == 4
    for match in ("094c0000/ffff0000", "0000094c/0000ffff", "094b0000/ffff0000", "0000094b/0000ffff"):
        assert match in shown
    assert "pref 1" in shown and "pref 2" in shown
    qdisc = subprocess.run([*ex, "tc", "qdisc", "show", "dev", "kka"], capture_output=True, text=True, check=True).stdout
    assert f"qdisc {kind} 1: root" in qdisc
    second = _kubekeeper(*args, ns=netns)
    assert second.returncode == 0 and "nothing changed" in second.stdout
    again = subprocess.run([*ex, "tc", "filter", "show", "dev", "kka", "parent", "1:"], capture_output=True, text=True).stdout
    assert again.count("flowid 1:1") == 4
    undo = _kubekeeper("etcd", "prioritize", "--undo", "--state-file", state, ns=netns)
    assert undo.returncode == 0, undo.stderr
    after = subprocess.run([*ex, "tc", "qdisc", "show", "dev", "kka"], capture_output=True, text=True).stdout
    assert "1: root" not in after
    assert not Path(state).exists()


def test_dry_run_reports_exactly_what_a_real_run_does(sleeper: int, netns: str, tmp_path: Path) -> None:
    """kubekeeper.changes: a dry run reads the machine like a real run and changes nothing; its commands
    are the ones the real run then makes, for prioritize and for --undo alike."""
    state = tmp_path / "state.json"
    ex = ["ip", "netns", "exec", netns]
    args = ("etcd", "prioritize", "--pid", str(sleeper), "--dev", "kka", "--qdisc", _qdisc_kind(), "--state-file", str(state),
            "--format", "json")
    before = _ionice(sleeper)

    def run(*extra: str) -> dict:
        result = _kubekeeper(*args, *extra, ns=netns)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def qdisc() -> str:
        return subprocess.run([*ex, "tc", "qdisc", "show", "dev", "kka"], capture_output=True, text=True, check=True).stdout

    dry = run("--dry-run")
    assert dry["dry_run"] and len(dry["commands"]) >= 6  # ionice, the qdisc (+ htb classes), four filters
    assert _ionice(sleeper) == before and "1: root" not in qdisc() and not state.exists()
    real = run()
    assert not real["dry_run"] and real["commands"] == dry["commands"] and real["actions"] == dry["actions"]
    assert "1: root" in qdisc() and state.exists()
    recorded = state.read_text()
    dry_undo = run("--undo", "--dry-run")
    assert dry_undo["commands"] and "1: root" in qdisc() and state.read_text() == recorded
    assert _ionice(sleeper) == "best-effort: prio 0"
    real_undo = run("--undo")
    assert real_undo["commands"] == dry_undo["commands"]
    assert "1: root" not in qdisc() and not state.exists() and _ionice(sleeper) == before


def test_the_default_prio_qdisc_is_installed_or_its_missing_module_named(sleeper: int, netns: str, tmp_path: Path) -> None:
    """etcd's guide asks for a prio qdisc: installed where the kernel has sch_prio; where it has not,
    exit 3 naming sch_prio (and --qdisc htb, tested above, as the way out). Either kernel runs this test."""
    result = _kubekeeper("etcd", "prioritize", "--pid", str(sleeper), "--dev", "kka", "--state-file",
                         str(tmp_path / "s.json"), ns=netns)
    if _qdisc_kind() == "prio":
        shown = subprocess.run(["ip", "netns", "exec", netns, "tc", "qdisc", "show", "dev", "kka"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "qdisc prio 1: root" in shown.stdout
    else:
        assert result.returncode == 3 and "sch_prio" in result.stderr and "Traceback" not in result.stderr
