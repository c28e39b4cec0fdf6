"""`kubekeeper verify`: a restore drill over one backup set (or one snapshot).

etcd: the snapshot is fetched, its SHA-256 trailer checked, restored into a scratch data dir with the
matching etcdutl/etcdctl, and its revision compared with the one recorded at backup time.
registry: the stored OCI layout is restored and every blob and manifest digest recomputed, and
every manifest the index names must be present. repository: `restic check --read-data-subset`.
volumes: a sample of files is restored with `restic restore --verify` (content checked against the
snapshot's hashes) and their sizes compared with the snapshot's listing.
Nothing outside a private temp directory is touched.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kubekeeper import execute
from kubekeeper.errors import BadInput, KubekeeperError
from kubekeeper.execute import Command
from kubekeeper.repository import Repository, Snapshot, details_of, selection
from kubekeeper.repository.tags import kind_of

if TYPE_CHECKING:
    from kubekeeper.etcd.restore import RestoreTool

log = logging.getLogger(__name__)

DEFAULT_SUBSET = "10%"
DEFAULT_SAMPLE = 20


@dataclass
class Check:
    part: str
    subject: str
    ok: bool
    message: str


@dataclass
class VerifyReport:
    snapshots: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_json(self) -> dict:
        return {"ok": self.ok, "snapshots": self.snapshots, "checks": [asdict(c) for c in self.checks]}


def select_snapshots(repo: Repository, snapshot: str, cluster: str | None) -> list[Snapshot]:
    """The backup set of `snapshot` (latest: the newest set), or that snapshot alone if it has no set."""
    everything = repo.snapshots(selection(cluster=cluster))
    if not everything:
        raise BadInput(f"no kubekeeper snapshots in {repo.spec.display}" + (f" for cluster {cluster}" if cluster else ""))
    if snapshot == "latest":
        anchor = everything[-1]
    else:
        matches = [s for s in everything if s.id.startswith(snapshot)]
        if len(matches) != 1:
            raise BadInput(f"{'no' if not matches else 'more than one'} kubekeeper snapshot matches {snapshot!r}")
        anchor = matches[0]
    set_id = details_of(anchor.tags).get("set")
    if not set_id:
        return [anchor]
    return [s for s in everything if details_of(s.tags).get("set") == set_id]


def _guard(part: str, subject: str, check: Callable[[], str]) -> Check:
    try:
        return Check(part, subject, True, check())
    except KubekeeperError as exc:
        return Check(part, subject, False, exc.message)
    except OSError as exc:
        return Check(part, subject, False, f"{type(exc).__name__}: {exc}")


def verify_etcd(repo: Repository, snapshot: Snapshot, workdir: Path) -> str:
    from kubekeeper.backup.etcd import fetch_snapshot
    from kubekeeper.errors import VerificationFailed
    from kubekeeper.etcd import restore as etcd_restore

    details = details_of(snapshot.tags)
    snapshot_file, check = fetch_snapshot(repo, snapshot, workdir)
    member = etcd_restore.MemberRestore.build("verify", "verify=http://127.0.0.1:2380", workdir / "data")
    tool = etcd_restore.find_tool(details.get("etcd_version", ""))
    etcd_restore.restore_member(tool, snapshot_file, member)
    etcd_restore.check_restored(member.data_dir)
    revision = _db_revision(tool, member.data_dir / "member" / "snap" / "db")
    recorded = details.get("revision")
    if recorded and revision is not None and int(recorded) > revision:
        raise VerificationFailed(f"restored revision {revision} is older than the recorded {recorded}")
    return f"sha256 {check.sha256[:12]}… ok, restored with {Path(tool.path).name}, revision {revision} (recorded {recorded})"


def _db_revision(tool: RestoreTool, db: Path) -> int | None:
    """Revision of a bolt db via `etcdutl/etcdctl snapshot status -w json` (None if unreadable)."""
    command = Command((tool.path, "snapshot", "status", str(db), "-w", "json"), env=dict(tool.env), timeout=120)
    result = execute.run(command, check=False)
    try:
        return int(json.loads(result.text)["revision"])
    except (ValueError, KeyError, TypeError):
        return None


def verify_registry(repo: Repository, snapshot: Snapshot, workdir: Path) -> str:
    from kubekeeper.errors import VerificationFailed
    from kubekeeper.registry.layout import LAYOUT_DIR, Layout

    repo.restore(snapshot.id, workdir)
    candidates = [p for p in workdir.rglob("index.json") if p.parent.name == LAYOUT_DIR]
    if not candidates:
        raise VerificationFailed(f"snapshot {snapshot.short_id} holds no OCI layout")
    layout = Layout.at(candidates[0].parent)
    digests = layout.stored_digests()
    for digest in sorted(digests):
        layout.verify_blob(digest)
    entries = layout.entries()
    missing = sorted({e.digest for e in entries} - digests)
    if missing:
        raise VerificationFailed(f"index names {len(missing)} manifest(s) missing from the layout, e.g. {missing[0]}")
    return f"{len(digests)} blobs and manifests re-hashed, {len(entries)} index entries present"


def verify_volume(repo: Repository, snapshot: Snapshot, workdir: Path, sample: int, rng: random.Random) -> str:
    from kubekeeper.errors import VerificationFailed

    files = [n for n in repo.list_files(snapshot.id) if n.get("type") == "file"]
    if not files:
        return "snapshot holds no regular files"
    chosen = rng.sample(files, min(sample, len(files)))
    repo.restore(snapshot.id, workdir, [n["path"] for n in chosen], verify=True)
    for node in chosen:
        restored = _restored_path(workdir, node["path"])
        if restored is None:
            raise VerificationFailed(f"{node['path']} was not restored")
        if restored.stat().st_size != node.get("size", 0):
            raise VerificationFailed(f"{node['path']}: restored {restored.stat().st_size} bytes, snapshot says {node.get('size')}")
    return f"{len(chosen)} of {len(files)} files restored and verified against the snapshot's hashes"


def _restored_path(workdir: Path, snapshot_path: str) -> Path | None:
    candidate = workdir / snapshot_path.lstrip("/")
    return candidate if candidate.is_file() else None


VERIFIERS = {"etcd": verify_etcd, "registry": verify_registry}


def verify(
    repo: Repository,
    snapshot: str = "latest",
    *,
    cluster: str | None = None,
    read_data_subset: str = DEFAULT_SUBSET,
    sample: int = DEFAULT_SAMPLE,
    seed: int | None = None,
) -> VerifyReport:
    snapshots = select_snapshots(repo, snapshot, cluster)
    report = VerifyReport(snapshots=[s.id for s in snapshots])
    rng = random.Random(seed)
    for snap in snapshots:
        kind = kind_of(snap.tags) or "unknown"
        details = details_of(snap.tags)
        if details.get("part") == "meta":
            continue  # a volume's PVC/PV objects: covered by restic check
        workdir = Path(tempfile.mkdtemp(prefix=f"kubekeeper-verify-{kind}-"))
        try:
            subject = f"{snap.short_id} " + (details.get("pvc") or details.get("registry") or details.get("revision", ""))
            if kind == "volume":
                report.checks.append(_guard(kind, subject.strip(), lambda: verify_volume(repo, snap, workdir, sample, rng)))
            elif kind in VERIFIERS:
                report.checks.append(_guard(kind, subject.strip(), lambda: VERIFIERS[kind](repo, snap, workdir)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    report.checks.append(_guard("repository", repo.spec.display, lambda: _restic_check(repo, read_data_subset)))
    return report


def _restic_check(repo: Repository, subset: str) -> str:
    repo.check(read_data_subset=subset)
    return f"restic check --read-data-subset {subset}: no errors"
