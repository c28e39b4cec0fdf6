"""Day-2 operations end to end on the demo's sandbox (a 3-member etcd, a docker-registry with sample
images, a directory standing in for a node's volume) and real restic: two `backup all` runs, then
`status`, `snapshots --latest`, `ls`, `diff`, the etcd follower's line in `status`, and `restore all
--set` into a destroyed cluster, checked key by key, digest by digest and byte by byte, then `verify`."""

from __future__ import annotations

import json
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from kubekeeper.demo.cluster_cycle import VOLUME_PVC, make_volume_tree, same_tree, write_config
from kubekeeper.demo.sandbox import SandboxEtcdCluster, digests, fill_samples, sandbox_registry
from kubekeeper.etcd.snapshot import SHA256_SIZE
from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.repository import Repository, RepoSpec, snapshot_tags
from tests.e2e.conftest import require

pytestmark = pytest.mark.e2e


def retag(url: str, repo: str, tag: str, new_tag: str) -> str:
    with RegistryClient(RegistryOptions(url)) as client:
        data, media_type, _ = client.get_manifest(repo, tag)
        return client.put_manifest(repo, new_tag, data, media_type)


def test_status_ls_diff_and_restore_all_on_the_sandbox(cli, tmp_path: Path) -> None:
    require(shutil.which("docker-registry") is not None, "docker-registry on PATH")
    require(shutil.which("etcd") is not None, "etcd on PATH")
    with ExitStack() as stack:
        etcd = SandboxEtcdCluster(tmp_path, "original").start()
        stack.callback(etcd.stop)
        etcd.fill(200)
        registry_url = stack.enter_context(sandbox_registry(tmp_path / "registry-a"))
        fill_samples(registry_url, tmp_path / "samples")
        volume = make_volume_tree(tmp_path / "node" / "volumes" / "orders-db")
        config = tmp_path / "cluster.yaml"
        config.write_text(write_config(tmp_path, etcd, registry_url, volume))
        password = ["--password-file", str(tmp_path / "restic-password")]
        repo_args = ["--repo", str(tmp_path / "repo-primary"), *password]
        made = cli("repo", "init", *repo_args, "--format", "json")
        assert made.code == 0, made.err
        assert json.loads(made.out) == {"repository": str(tmp_path / "repo-primary"), "created": True}
        assert cli("repo", "init", "--repo", str(tmp_path / "repo-offsite"), *password,
                   "--copy-chunker-params-from", str(tmp_path / "repo-primary")).code == 0

        first = cli("backup", "all", "--config", str(config), "--format", "json", "--no-progress")
        assert first.code == 0, first.err
        set_a = json.loads(first.out)["set_id"]
        # between the runs: a new file, more keys, a new tag
        (volume / "orders" / "new-order.json").write_text('{"id": 9999}\n')
        etcd.fill(50)
        added_digest = retag(registry_url, "demo/web", "1.0", "1.1")
        time.sleep(1.1)  # set ids have second resolution
        second = cli("backup", "all", "--config", str(config), "--format", "json", "--no-progress")
        assert second.code == 0, second.err
        set_b = json.loads(second.out)["set_id"]
        keys_before, revision = etcd.contents()
        registry_before = digests(registry_url)
        pristine = tmp_path / "pristine-volume"
        shutil.copytree(volume, pristine, symlinks=True)

        # status names each part's last success: the second set, with its snapshot ids
        listed = {(s["kind"], s["details"].get("part")): s for s in json.loads(cli("snapshots", *repo_args, "--set", set_b, "--format", "json").out)}
        status = cli("status", "--config", str(config), "--format", "json")
        assert status.code == 0, status.err
        parts = {p["name"]: p for p in json.loads(status.out)["parts"]}
        assert set(parts) == {"etcd", "registry", VOLUME_PVC}
        for name, key in (("etcd", ("etcd", None)), ("registry", ("registry", None)), (VOLUME_PVC, ("volume", "data"))):
            assert parts[name]["set"] == set_b and parts[name]["snapshot_id"] == listed[key]["id"], name
            assert parts[name]["failures_since"] == [] and isinstance(parts[name]["data_added"], int)
        assert parts["etcd"]["last_success"]["details"]["revision"] > 0  # typed, in the one snapshot shape

        # issue 16's follower: delta snapshots stored the way it stores them
        repository = Repository(RepoSpec(url=str(tmp_path / "repo-primary"), password_file=tmp_path / "restic-password"))
        for start, lag in ((revision, 4), (revision + 7, 2)):
            details = {"chain": listed[("etcd", None)]["short_id"], "from": start, "to": start + 7, "events": 7, "lag": lag}
            repository.backup_stream(iter([b"delta"]), "etcd-delta.bin", snapshot_tags("etcd-delta", "demo", details))
        follower = cli("status", "--config", str(config), "--format", "json")
        [line] = [p for p in json.loads(follower.out)["parts"] if p["part"] == "etcd-follower"]
        assert line["lag_seconds"] == 2 and line["revision"] == revision + 14 and line["age_seconds"] < 60
        assert "etcd-follower" in cli("status", "--config", str(config)).out

        # too old: exit 1, named
        time.sleep(2)
        stale = cli("status", "--config", str(config), "--max-age", "1s")
        assert stale.code == 1 and "older than --max-age 1s" in stale.err and "TOO OLD" in stale.out

        # snapshots --latest 1: one per series (etcd, registry, the volume, the follower)
        latest = json.loads(cli("snapshots", *repo_args, "--latest", "1", "--format", "json").out)
        assert sorted((s["kind"], s["details"].get("part")) for s in latest) == [
            ("etcd", None), ("etcd-delta", None), ("registry", None), ("volume", "data")]
        assert all(s["set"] == set_b for s in latest if s["kind"] != "etcd-delta")

        # ls: a volume's files, a registry's repositories/tags/digests, etcd's revision and members
        files = json.loads(cli("ls", listed[("volume", "data")]["short_id"], *repo_args, "--format", "json").out)
        paths = {e["path"] for e in files["entries"] if e["type"] == "file"}
        assert {"/wal.bin", "/secret.key", "/orders/00/order-0000.json", "/orders/new-order.json"} <= paths
        assert len(paths) == 203
        images = json.loads(cli("ls", listed[("registry", None)]["short_id"], *repo_args, "--format", "json").out)
        tagged = {f"{r['repository']}:{ref['tag']}": ref["digest"] for r in images["repositories"] for ref in r["references"] if ref["tag"]}
        assert tagged == registry_before
        text = cli("ls", listed[("registry", None)]["short_id"], *repo_args).out
        assert "demo/web:1.1" in text and added_digest in text
        db = json.loads(cli("ls", listed[("etcd", None)]["id"], *repo_args, "--format", "json").out)
        assert db["etcd"]["member_count"] == 3 and sorted(db["etcd"]["members"]) == ["etcd-0", "etcd-1", "etcd-2"]
        assert db["etcd"]["revision"] <= revision and db["entries"][0]["size"] == db["etcd"]["db_size"] + SHA256_SIZE  # the trailer etcd appends

        # diff: the new tag, the new file, the etcd revision
        diff = json.loads(cli("diff", set_a, set_b, *repo_args, "--format", "json").out)
        by_part = {s["name"]: s for s in diff["series"]}
        assert [e["path"] for e in by_part["registry"]["added"]] == ["demo/web:1.1"] and by_part["registry"]["removed"] == []
        assert "/orders/new-order.json" in [e["path"] for e in by_part[VOLUME_PVC]["added"]]
        assert by_part["etcd"]["revision"]["after"] > by_part["etcd"]["revision"]["before"]

        # the two deltas above were made up for status (their content is no real chain): verify at the
        # end would rightly refuse them, so they go before the disaster
        repository.forget_ids([s.id for s in repository.snapshots(["kind:etcd-delta"])])

        # disaster: etcd's data dirs, the volume and the registry are gone
        etcd.stop()
        for m in etcd.members:
            shutil.rmtree(m.data_dir)
        shutil.rmtree(volume)
        fresh_registry = stack.enter_context(sandbox_registry(tmp_path / "registry-b"))
        fresh = SandboxEtcdCluster(tmp_path, "restored")
        members = [a for m in fresh.members for a in ("--member", f"{m.name}={m.data_dir}")]
        restore_args = ["restore", "all", "--set", set_b, "--config", str(config), "--initial-cluster", fresh.initial_cluster,
                        "--initial-cluster-token", "kubekeeper-demo", "--registry", fresh_registry]
        plan = cli(*restore_args, "--print-commands")
        assert plan.code == 0, plan.err
        order = [line.split()[2] for line in plan.out.splitlines() if line.startswith("kubekeeper restore")]
        assert order == ["etcd", "etcd", "etcd", "registry", "volume"]
        # the set is one point in time: no member replays the follower's later deltas
        assert all("--no-replay" in line for line in plan.out.splitlines() if line.startswith("kubekeeper restore etcd"))
        assert not volume.exists() and digests(fresh_registry) == {}  # printing restored nothing

        occupied = fresh.members[1].data_dir
        occupied.mkdir(parents=True)
        (occupied / "keep-me").write_text("the operator's\n")
        refused = cli(*restore_args, *members)
        assert refused.code == 2 and "--force" in refused.err and "etcd-1" in refused.err
        assert not fresh.members[0].data_dir.exists() and not volume.exists() and digests(fresh_registry) == {}  # nothing touched
        shutil.rmtree(occupied)

        blocker = tmp_path / "not-a-directory"  # a real failure in the first step: etcd cannot create its data dir
        blocker.write_text("x")
        stopped = cli(*restore_args, "--member", f"etcd-0={blocker / 'etcd-0'}", "--format", "json")
        assert stopped.code == 3, stopped.err
        halted = json.loads(stopped.out)
        assert halted["restored"] == [] and halted["failed"]["step"] == "etcd member etcd-0"
        assert [s["part"] for s in halted["not_attempted"]] == ["registry", "volumes"]
        assert "restored: nothing; not attempted: registry" in stopped.err and "Traceback" not in stopped.err
        assert str(blocker) in halted["failed"]["error"]  # the path at fault, named
        assert not volume.exists() and digests(fresh_registry) == {}  # nothing after the failure was started

        restored = cli(*restore_args, *members, "--format", "json")
        assert restored.code == 0, restored.out + restored.err
        report = json.loads(restored.out)
        assert [s["step"] for s in report["restored"]] == [
            "etcd member etcd-0", "etcd member etcd-1", "etcd member etcd-2", f"registry {fresh_registry.split('//')[1]}",
            f"volume {VOLUME_PVC}"]
        stack.callback(fresh.stop)
        fresh.start()
        keys_after, revision_after = fresh.contents()
        assert keys_after == keys_before and revision_after > revision
        assert digests(fresh_registry) == registry_before
        assert same_tree(pristine, volume)

        drill = cli("verify", *repo_args, "--cluster", "demo")
        assert drill.code == 0, drill.out + drill.err


def test_repo_check_json_reports_a_damaged_pack(cli, restic_repo, tmp_path: Path) -> None:
    restic_repo.repository.backup_stream(iter([bytes(range(256)) * 4096]), "data.bin", snapshot_tags("volume", "lab"))
    packs = sorted((p for p in (Path(restic_repo.url) / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    victim = packs[-1]
    victim.chmod(0o644)
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))

    checked = cli("repo", "check", "--read-data-subset", "100%", *restic_repo.cli_args, "--format", "json")

    assert checked.code == 3, checked.err
    doc = json.loads(checked.out)
    assert doc["ok"] is False and doc["repository"] == restic_repo.url and doc["error"]
