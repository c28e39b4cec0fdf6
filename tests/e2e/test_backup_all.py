"""End to end: `backup all` from a cluster.yaml against real etcd, a real (then stopped) registry and
a real directory tree, into a real restic repository; then `verify` as a restore drill, including
corruption the test makes itself (a damaged pack file, a truncated etcd snapshot)."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import pytest

from kubekeeper.repository import snapshot_tags
from tests.e2e.registry.sandbox import fill_standard, start_registry
from tests.e2e.test_etcd_backup import read_all, write_keys

pytestmark = pytest.mark.e2e


def make_volume(root: Path) -> Path:
    data = root / "pgdata"
    (data / "base" / "1").mkdir(parents=True)
    for i in range(40):
        (data / "base" / "1" / f"{16384 + i}").write_bytes(os.urandom(4096 + i * 97))
    (data / "PG_VERSION").write_text("16\n")
    os.symlink("base/1", data / "current")
    return data


def write_config(path: Path, *, etcd: list[str], registry_url: str, volume: Path, repo: Path, copy: Path,
                 password_file: Path, reports: Path, cache: Path) -> Path:
    path.write_text(f"""\
cluster: lab
etcd:
  endpoints: {json.dumps(etcd)}
registry:
  url: {registry_url}
  cache: {cache}
volumes:
  directories:
    - {{pvc: db/pgdata, path: {volume}}}
repositories:
  primary:
    url: {repo}
    password: {{file: {password_file}}}
  copies:
    - url: {copy}
      password: {{file: {password_file}}}
retention:
  keep_last: 3
reports:
  directory: {reports}
  prometheus_textfile: {reports / "kubekeeper.prom"}
""")
    return path


def test_backup_all_with_registry_down_stores_the_rest_and_verifies(cli, etcd_cluster_factory, restic_repo, tmp_path: Path) -> None:
    cluster = etcd_cluster_factory(1)
    write_keys(cluster, small=500, large=2)
    keys_before, revision = read_all(cluster)
    registry = start_registry(tmp_path / "registry")
    fill_standard(registry, layer_size=8 * 1024)
    registry_url = registry.url
    registry.stop()  # the broken part: nothing listens there any more
    volume = make_volume(tmp_path)
    config = write_config(
        tmp_path / "cluster.yaml", etcd=cluster.endpoints, registry_url=registry_url, volume=volume,
        repo=Path(restic_repo.url), copy=tmp_path / "copy-repo", password_file=restic_repo.password_file,
        reports=tmp_path / "reports", cache=tmp_path / "cache",
    )

    made = cli("repo", "init", "--repo", str(tmp_path / "copy-repo"), "--password-file", str(restic_repo.password_file),
               "--copy-chunker-params-from", restic_repo.url)
    assert made.code == 0, made.err
    result = cli("backup", "all", "--config", str(config), "--format", "json", "--no-progress")

    assert result.code == 3, result.err
    assert "registry" in result.err and "failed" in result.err
    report = json.loads(result.out)
    parts = {p["name"]: p for p in report["parts"]}
    assert parts["registry"]["ok"] is False and parts["registry"]["snapshots"] == []
    assert parts["etcd"]["ok"] and parts["volumes"]["ok"]
    assert report["copies"] == [{"repository": str(tmp_path / "copy-repo"), "ok": True, "error": None}]
    on_disk = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert on_disk["set_id"] == report["set_id"]
    prom = (tmp_path / "reports" / "kubekeeper.prom").read_text()
    assert 'kubekeeper_backup_success{cluster="lab",part="registry"} 0' in prom
    assert 'kubekeeper_backup_last_success_timestamp_seconds{cluster="lab",part="etcd"}' in prom

    # every snapshot of the set carries its id, in the primary and in the copy
    stored = restic_repo.repository.snapshots([f"set={report['set_id']}"])
    assert {t.split(":", 1)[1] for s in stored for t in s.tags if t.startswith("kind:")} == {"etcd", "volume"}
    copy_args = ["--repo", str(tmp_path / "copy-repo"), "--password-file", str(restic_repo.password_file)]
    listed = cli("snapshots", *copy_args, "--format", "json")
    assert listed.code == 0 and {s["kind"] for s in json.loads(listed.out)} == {"etcd", "volume"}

    # the stored parts restore: the volume byte for byte, etcd through the restore drill
    target = tmp_path / "restored-volume"
    restored = cli("restore", "volume", *restic_repo.cli_args, "--pvc", "db/pgdata", "--target", str(target), "--cluster", "lab")
    assert restored.code == 0, restored.err
    comparison = filecmp.dircmp(volume, target)
    assert not comparison.left_only and not comparison.right_only and not comparison.diff_files
    assert os.readlink(target / "current") == "base/1"

    drill = cli("verify", *restic_repo.cli_args, "--format", "json", "--read-data-subset", "100%")
    assert drill.code == 0, drill.out + drill.err
    checks = json.loads(drill.out)["checks"]
    assert {c["part"] for c in checks} == {"etcd", "volume", "repository"}
    etcd_check = next(c for c in checks if c["part"] == "etcd")
    assert f"revision {revision}" in etcd_check["message"]
    assert keys_before  # the cluster held data when it was backed up


def test_verify_detects_truncated_etcd_snapshot(cli, etcd_cluster_factory, restic_repo, tmp_path: Path) -> None:
    cluster = etcd_cluster_factory(1)
    write_keys(cluster, small=200, large=1)
    good = cli("backup", "etcd", "--endpoints", ",".join(cluster.endpoints), *restic_repo.cli_args, "--cluster", "lab")
    assert good.code == 0, good.err
    snapshot = restic_repo.repository.resolve("latest", ["kind:etcd"])
    db = tmp_path / "db"
    with db.open("wb") as out:
        restic_repo.repository.dump(snapshot.id, "/etcd-snapshot.db", out)
    truncated = db.read_bytes()[: db.stat().st_size // 2]
    restic_repo.repository.backup_stream(iter([truncated]), "etcd-snapshot.db", snapshot_tags("etcd", "lab", {"revision": 1}))

    drill = cli("verify", *restic_repo.cli_args, "--format", "json")

    assert drill.code == 1
    etcd_check = next(c for c in json.loads(drill.out)["checks"] if c["part"] == "etcd")
    assert etcd_check["ok"] is False
    assert "sha256" in etcd_check["message"].lower() or "trailer" in etcd_check["message"].lower() or "hash" in etcd_check["message"].lower()


def test_verify_detects_a_corrupted_pack_in_the_repository(cli, restic_repo, tmp_path: Path) -> None:
    volume = make_volume(tmp_path)
    stored = cli("backup", "volume", *restic_repo.cli_args, "--pvc", "db/pgdata", "--source-dir", str(volume), "--cluster", "lab")
    assert stored.code == 0, stored.err
    packs = sorted((Path(restic_repo.url) / "data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    victim = packs[-1]
    victim.chmod(0o644)
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    victim.write_bytes(bytes(raw))

    drill = cli("verify", *restic_repo.cli_args, "--format", "json", "--read-data-subset", "100%")

    assert drill.code == 1
    failed = [c for c in json.loads(drill.out)["checks"] if not c["ok"]]
    assert failed, drill.out
