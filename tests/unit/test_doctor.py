"""`kubekeeper doctor`: finds the real programs on PATH with their versions, says what a missing one
disables, and fails (exit 1) only when the configured work needs what is missing. PATH is narrowed to
a directory of links to the real programs of this machine (restic 0.18, etcd 3.5.16 from trixie)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

#: this machine's PATH, before a test narrows it
SYSTEM_PATH = os.environ.get("PATH", os.defpath)
ETCD_CONFIG = """cluster: lab
etcd: {enabled: true, endpoints: ["http://127.0.0.1:2379"]}
repositories:
  primary: {url: "sftp:backup@nas:/srv/restic", password: {env: RESTIC_PASSWORD}}
"""


def only(tmp_path: Path, *programs: str) -> str:
    """A PATH holding links to just these programs (each must exist on this machine)."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name in programs:
        real = shutil.which(name, path=SYSTEM_PATH)
        if real is None:
            if os.environ.get("CI"):
                pytest.fail(f"{name} is not installed")
            pytest.skip(f"{name} is not installed")
        (directory / name).symlink_to(real)
    return str(directory)


def test_real_tools_are_found_with_their_versions(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", only(tmp_path, "restic", "etcdutl"))
    result = cli("doctor", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    tools = {t["name"]: t for t in report["tools"]}
    assert tools["restic"]["found"] and tools["restic"]["version"].count(".") == 2 and tools["restic"]["required"]
    assert tools["etcdutl"]["version"].startswith("3.")
    assert not tools["rclone"]["found"] and "rclone:" in tools["rclone"]["missing_disables"]
    assert report["missing_required"] == []  # without a config only restic is required


def test_missing_restic_fails_and_says_what_it_disables(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", only(tmp_path))
    result = cli("doctor")
    assert result.code == 1
    assert "MISSING" in result.out and "restic" in result.out and "missing for the configured work: restic" in result.out


def test_the_config_decides_what_is_required(cli, tmp_path, monkeypatch) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(ETCD_CONFIG)
    monkeypatch.setenv("PATH", only(tmp_path, "restic"))
    result = cli("doctor", "--config", str(config), "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    assert set(report["missing_required"]) == {"etcdutl", "ssh"}  # etcd is backed up; the repository is sftp:
    shutil.rmtree(tmp_path / "bin")
    monkeypatch.setenv("PATH", only(tmp_path, "restic", "etcdctl", "ssh"))  # etcdctl alone can restore: enough
    assert cli("doctor", "--config", str(config)).code == 0
