"""`kubekeeper verify`: a restore drill over one backup set (or one snapshot).

By default every byte of the set is read back (restic decrypts and authenticates each blob), so a
damaged pack holding any of the set's data is found every time, not by sampling:

- etcd: the snapshot is fetched, its SHA-256 trailer checked, restored into a scratch data dir with
  the matching etcdutl/etcdctl (revision bumped as a real restore would), and its revision compared
  with the one recorded at backup time;
- registry: the stored OCI layout is restored and every blob and manifest digest recomputed, and
  every manifest the index names must be present;
- volumes: every file is read (`restic dump` of the whole snapshot, no disk space needed), and a
  sample is also restored with `restic restore --verify` and compared with the snapshot's listing;
- repository: `restic check` (structure), plus `--read-data-subset` of all pack files when asked.

`--quick` reads volume data only for the sample, and says exactly what share of bytes that was.
Nothing outside a private temp directory is touched.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubekeeper.errors import BadInput, KubekeeperError, VerificationFailed
from kubekeeper.repository import Repository, Snapshot, details_of, selection
from kubekeeper.repository.tags import kind_of

log = logging.getLogger(__name__)

DEFAULT_SAMPLE = 20


@dataclass
class Check:
    part: str
    subject: str
    ok: bool
    message: str
    bytes_read: int = 0


@dataclass
class VerifyReport:
    snapshots: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    #: what share of the set's data was read back: "all" or an exact "x of y bytes (p%)"
    coverage: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_json(self) -> dict:
        return {"ok": self.ok, "snapshots": self.snapshots, "coverage": self.coverage, "checks": [asdict(c) for c in self.checks]}


@dataclass(frozen=True)
class VerifyOptions:
    read_data_subset: str | None = None
    sample: int = DEFAULT_SAMPLE
    quick: bool = False
    etcdutl: Path | None = None
    seed: int | None = None


def select_snapshots(repo: Repository, snapshot: str, cluster: str | None) -> list[Snapshot]:
    """The backup set of `snapshot` (latest: the newest set), or that snapshot alone if it has no set.
    Incomplete snapshots are never part of a set (Repository.snapshots leaves them out)."""
    if not snapshot or not snapshot.strip():
        raise BadInput("--snapshot is empty: give a snapshot id (or prefix) or 'latest'")
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


def _guard(part: str, subject: str, check: Callable[[], tuple[str, int]]) -> Check:
    try:
        message, read = check()
        return Check(part, subject, True, message, read)
    except KubekeeperError as exc:
        return Check(part, subject, False, exc.message)
    except OSError as exc:
        return Check(part, subject, False, f"{type(exc).__name__}: {exc}")


def verify_etcd(repo: Repository, snapshot: Snapshot, workdir: Path, options: VerifyOptions) -> tuple[str, int]:
    from kubekeeper.backup.etcd import fetch_snapshot
    from kubekeeper.etcd import restore as etcd_restore

    details = details_of(snapshot.tags)
    snapshot_file, check = fetch_snapshot(repo, snapshot, workdir)
    member = etcd_restore.MemberRestore.build("verify", "verify=http://127.0.0.1:2380", workdir / "data")
    tool = etcd_restore.find_tool(details.get("etcd_version", ""), options.etcdutl)
    bump = etcd_restore.effective_bump(tool, etcd_restore.DEFAULT_BUMP)
    stored = etcd_restore.snapshot_revision(tool, snapshot_file)
    etcd_restore.restore_member(tool, snapshot_file, member, bump=bump)
    etcd_restore.check_restored(member.data_dir)
    restored = etcd_restore.snapshot_revision(tool, member.data_dir / "member" / "snap" / "db")
    recorded = int(details["revision"]) if details.get("revision", "").isdigit() else None
    revision_problem(stored, restored, recorded, bump)
    return (f"sha256 {check.sha256[:12]}… ok, restored with {tool.name}, revision {stored} (recorded {recorded}), "
            f"{restored:,} after a bump of {bump:,}"), check.size


def revision_problem(stored: int | None, restored: int | None, recorded: int | None, bump: int) -> None:
    """Raise VerificationFailed unless the revisions agree.

    `snapshot status` reports the highest revision a key carries; an etcd that never had a write
    is at revision 1 yet reports 0, so 0 stands for 1 here (a backup of an empty etcd verifies)."""
    if stored is None or restored is None:
        raise VerificationFailed("cannot read the revision of the snapshot or of the restored db (snapshot status failed)")
    effective = max(stored, 1)
    if recorded is not None and effective < recorded:
        raise VerificationFailed(f"the snapshot's revision {stored} is older than the {recorded} recorded at backup time")
    if restored != stored + bump:
        raise VerificationFailed(f"the restored revision {restored} is not the snapshot's {stored} plus the bump {bump}")


def verify_registry(repo: Repository, snapshot: Snapshot, workdir: Path, options: VerifyOptions) -> tuple[str, int]:
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
    size = sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file())
    return f"{len(digests)} blobs and manifests re-hashed, {len(entries)} index entries present", size


def verify_volume(repo: Repository, snapshot: Snapshot, workdir: Path, options: VerifyOptions, rng: random.Random) -> tuple[str, int]:
    files = [n for n in repo.list_files(snapshot.id) if n.get("type") == "file"]
    total = sum(int(n.get("size") or 0) for n in files)
    read = 0 if options.quick else repo.read_all(snapshot.id)
    if not files:
        return "snapshot holds no regular files", read
    chosen = rng.sample(files, min(options.sample, len(files)))
    repo.restore(snapshot.id, workdir, [n["path"] for n in chosen], verify=True)
    sampled = 0
    for node in chosen:
        restored = _restored_path(workdir, node["path"])
        if restored is None:
            raise VerificationFailed(f"{node['path']} was not restored")
        if restored.stat().st_size != node.get("size", 0):
            raise VerificationFailed(f"{node['path']}: restored {restored.stat().st_size} bytes, snapshot says {node.get('size')}")
        sampled += restored.stat().st_size
    if options.quick:
        return (f"sample only: {len(chosen)} of {len(files)} files restored and verified, {sampled:,} of {total:,} bytes "
                f"({_share(sampled, total)})"), sampled
    return f"all {len(files)} files read ({total:,} bytes), {len(chosen)} restored and verified against the snapshot's hashes", read


def verify_whole(repo: Repository, snapshot: Snapshot, workdir: Path, options: VerifyOptions) -> tuple[str, int]:
    """Any other snapshot of the set (a volume's PVC/PV objects): read all of it."""
    read = repo.read_all(snapshot.id)
    return f"read back in full ({read:,} bytes)", read


def _share(part: int, whole: int) -> str:
    return "100%" if whole == 0 else f"{100 * part / whole:.1f}%"


def _restored_path(workdir: Path, snapshot_path: str) -> Path | None:
    candidate = workdir / snapshot_path.lstrip("/")
    return candidate if candidate.is_file() else None


VERIFIERS = {"etcd": verify_etcd, "registry": verify_registry}


def verify(repo: Repository, snapshot: str = "latest", *, cluster: str | None = None, options: VerifyOptions | None = None) -> VerifyReport:
    options = options or VerifyOptions()
    snapshots = select_snapshots(repo, snapshot, cluster)
    report = VerifyReport(snapshots=[s.id for s in snapshots])
    rng = random.Random(options.seed)
    for snap in snapshots:
        kind = kind_of(snap.tags) or "unknown"
        details = details_of(snap.tags)
        workdir = Path(tempfile.mkdtemp(prefix=f"kubekeeper-verify-{kind}-"))
        try:
            subject = f"{snap.short_id} " + (details.get("pvc") or details.get("registry") or details.get("revision", ""))
            if details.get("part") == "meta":
                report.checks.append(_guard(kind, f"{subject.strip()} (objects)", lambda: verify_whole(repo, snap, workdir, options)))
            elif kind == "volume":
                report.checks.append(_guard(kind, subject.strip(), lambda: verify_volume(repo, snap, workdir, options, rng)))
            elif kind in VERIFIERS:
                report.checks.append(_guard(kind, subject.strip(), lambda: VERIFIERS[kind](repo, snap, workdir, options)))
            else:
                report.checks.append(_guard(kind, subject.strip(), lambda: verify_whole(repo, snap, workdir, options)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    report.checks.append(_guard("repository", repo.spec.display, lambda: _restic_check(repo, options.read_data_subset)))
    report.coverage = ("every snapshot of the set read in full" if not options.quick
                       else "volumes: only the sampled files were read (see each check); etcd and registry in full")
    return report


def _restic_check(repo: Repository, subset: str | None) -> tuple[str, int]:
    repo.check(read_data_subset=subset)
    if subset:
        return f"restic check: structure ok, and {subset} of all pack files in the repository read back without errors", 0
    return "restic check: structure ok (the set's data was read above; --read-data-subset also reads other packs)", 0
