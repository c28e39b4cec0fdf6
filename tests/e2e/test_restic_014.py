"""restic 0.14 (Debian bookworm, unpacked by `make legacy`) still works where a version gate is cheap:
the etcd stream goes through `backup --stdin` (no `--stdin-from-command` before 0.16), errors are
classified from text (no exit codes 10-12 before 0.17), an interrupted volume restore starts over
(no `restore --delete` before 0.17). Same CLI, same results."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import RESTIC014, binary_version, require, write_password
from tests.e2e.test_backup_faults import NO_DAC
from tests.e2e.test_repository_safety import KUBEKEEPER, kk, volume_dir

pytestmark = pytest.mark.e2e


def test_restic_014_backs_up_restores_and_verifies(tmp_path: Path, etcd_cluster_factory) -> None:
    require("restic 0.14" in binary_version(RESTIC014, "version"), f"restic 0.14 at {RESTIC014} (`make legacy`)")
    env = {"KUBEKEEPER_RESTIC": str(RESTIC014), "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
    pw = write_password(tmp_path / "pw")
    repo_args = ["--repo", str(tmp_path / "repo"), "--password-file", str(pw)]
    assert kk("repo", "init", *repo_args, env=env).returncode == 0
    config = subprocess.run([str(RESTIC014), *repo_args[:2], "-p", str(pw), "cat", "config"], capture_output=True, text=True).stdout
    assert json.loads(config)["version"] == 2  # repository format 2: compression available
    cluster = etcd_cluster_factory(1)
    stored = kk("backup", "etcd", "--endpoints", cluster.endpoints[0], *repo_args, "--compression", "max", env=env)
    assert stored.returncode == 0, stored.stderr
    volume = volume_dir(tmp_path / "vol")
    assert kk("backup", "volume", "--pvc", "db/data", "--source-dir", str(volume), *repo_args, env=env).returncode == 0
    (volume / "f003.bin").chmod(0)
    bad = subprocess.run([*NO_DAC, *KUBEKEEPER, "backup", "volume", "--pvc", "db/data", "--source-dir", str(volume), *repo_args],
                         capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert bad.returncode == 3 and "f003.bin" in bad.stdout and "was removed" in bad.stdout, bad.stdout + bad.stderr
    listed = json.loads(kk("snapshots", "--format", "json", *repo_args, env=env).stdout)
    assert sorted(d["kind"] for d in listed) == ["etcd", "volume"]
    target = tmp_path / "restored"
    assert kk("restore", "volume", "--pvc", "db/data", "--target", str(target), *repo_args, env=env).returncode == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in volume.iterdir())
    drill = kk("verify", *repo_args, "--snapshot", next(d["id"] for d in listed if d["kind"] == "etcd"), env=env)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert kk("snapshots", "--repo", str(tmp_path / "typo"), "--password-file", str(pw), env=env).returncode == 10
    assert kk("snapshots", "--repo", str(tmp_path / "repo"), "--password-file", str(write_password(tmp_path / "w")), env=env).returncode == 12
    assert not (tmp_path / "typo").exists()
