"""backup_one with a recording repository and a fake exec: hooks, tags, failures never lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper.backup.sources.volume import backup_one, backup_volumes, root_from_tags, root_tag
from kubekeeper.errors import OperationFailed
from kubekeeper.repository import BackupSummary
from kubekeeper.volumes import objects
from kubekeeper.volumes.model import NOT_MOUNTED, Hook, LocatedVolume, Problem, PvcRef


@dataclass
class FakeRepo:
    fail: bool = False
    calls: list = field(default_factory=list)

    def backup_paths(self, paths, tags, *, host=None, excludes=(), cwd=None, parent=None):
        self.calls.append(("data", tuple(tags), cwd, tuple(excludes), parent))
        if self.fail:
            raise OperationFailed("restic could not read some files")
        return BackupSummary("abcd1234", total_files_processed=3, total_bytes_processed=30, data_added=10)

    def backup_stream(self, chunks, filename, tags, *, host=None):
        self.calls.append(("meta", tuple(tags), b"".join(chunks)))
        return BackupSummary("meta0001")

    def snapshots(self, tags=()):
        return []


@dataclass
class FakeExec:
    fail_on: str = ""
    ran: list = field(default_factory=list)

    def exec(self, namespace, pod, container, command, timeout):
        self.ran.append(command[0])
        return (1, "boom\n") if command[0] == self.fail_on else (0, "")


def source(tmp_path: Path, hooks: bool = True) -> LocatedVolume:
    pre = Hook("apps", "db-0", "db", ("freeze",)) if hooks else None
    post = Hook("apps", "db-0", "db", ("thaw",)) if hooks else None
    return LocatedVolume(PvcRef("apps", "db"), tmp_path, "n1", "pv-1", "fast", "csi", pre, post, {"metadata": {"name": "db"}}, {"metadata": {"name": "pv-1"}})


def test_hooks_wrap_the_backup_and_tags_are_complete(tmp_path: Path) -> None:
    repo, executor = FakeRepo(), FakeExec()
    result = backup_one(repo, source(tmp_path), cluster="lab", excludes=["*.tmp"], executor=executor, parent="p1")
    assert result.status == "ok" and result.snapshot == "abcd1234"
    assert executor.ran == ["freeze", "thaw"]
    data = next(c for c in repo.calls if c[0] == "data")
    assert {"kubekeeper", "kind:volume", "cluster:lab", "namespace=apps", "pvc=db", "pv=pv-1", "node=n1", "storageclass=fast", "part=data"} <= set(data[1])
    assert data[2] == tmp_path and "*.tmp" in data[3] and data[4] == "p1"
    meta = next(c for c in repo.calls if c[0] == "meta")
    assert b"persistentVolumeClaim" in meta[2]
    token = next(t for t in data[1] if t.startswith("backup="))
    assert token in meta[1]
    assert root_from_tags(data[1])["mode"] == tmp_path.stat().st_mode & 0o7777


def test_failed_pre_hook_skips_volume_but_runs_post_hook(tmp_path: Path) -> None:
    repo, executor = FakeRepo(), FakeExec(fail_on="freeze")
    result = backup_one(repo, source(tmp_path), cluster="lab", executor=executor)
    assert result.status == "failed" and "pre-backup hook" in result.message and "boom" in result.message
    assert executor.ran == ["freeze", "thaw"]
    assert not [c for c in repo.calls if c[0] == "data"]


def test_failed_backup_still_runs_post_hook(tmp_path: Path) -> None:
    repo, executor = FakeRepo(fail=True), FakeExec()
    result = backup_one(repo, source(tmp_path), cluster="lab", executor=executor)
    assert result.status == "failed" and "could not read" in result.message
    assert executor.ran == ["freeze", "thaw"]


def test_failed_post_hook_fails_the_volume(tmp_path: Path) -> None:
    result = backup_one(FakeRepo(), source(tmp_path), cluster="lab", executor=FakeExec(fail_on="thaw"))
    assert result.status == "failed" and "post-backup hook" in result.message


def test_problems_are_reported_not_dropped(tmp_path: Path) -> None:
    problem = Problem(PvcRef("apps", "idle"), NOT_MOUNTED, "not mounted: start a pod")
    strict = backup_volumes(FakeRepo(), [source(tmp_path, hooks=False)], [problem], cluster="lab")
    assert [(r.pvc, r.status) for r in strict] == [("apps/db", "ok"), ("apps/idle", "failed")]
    lenient = backup_volumes(FakeRepo(), [], [problem], cluster="lab", strict=False)
    assert lenient[0].status == "skipped" and "start a pod" in lenient[0].message


def test_root_tag_roundtrip() -> None:
    root = {"mode": 0o2775, "uid": 1, "gid": 2, "atime_ns": 3, "mtime_ns": 4}
    assert root_from_tags([root_tag(root)]) == root
    assert root_from_tags(["root=bad"]) is None


def test_recreate_bodies_drop_binding_state() -> None:
    stored_pv = {"metadata": {"name": "pv-1", "uid": "x", "resourceVersion": "9"}, "spec": {"local": {"path": "/d"}, "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "apps", "name": "db", "uid": "old", "resourceVersion": "1"}}, "status": {"phase": "Bound"}}
    stored_pvc = {"metadata": {"name": "db", "namespace": "apps", "uid": "y", "annotations": {"pv.kubernetes.io/bind-completed": "yes", "team": "a"}}, "spec": {"volumeName": "pv-1", "resources": {}}, "status": {"phase": "Bound"}}
    assert objects.is_static(stored_pv)
    body = objects.pv_body(stored_pv)
    assert body["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "apps", "name": "db"} and "status" not in body
    claim = objects.pvc_body(stored_pvc, stored_pv)
    assert claim["spec"]["volumeName"] == "pv-1" and claim["metadata"] == {"name": "db", "namespace": "apps", "annotations": {"team": "a"}}
    dynamic = {"metadata": {"name": "pv-2", "annotations": {"pv.kubernetes.io/provisioned-by": "csi"}}, "spec": {}}
    assert "volumeName" not in objects.pvc_body(stored_pvc, dynamic)["spec"]
