"""The volume source: one restic snapshot per PVC, read straight from the volume's directory on this
node (no staging copy), plus a small companion snapshot holding the PVC/PV objects; restored with
the end state of `rsync -a --delete` and nothing deleted before the restored copy is complete.

restic stores absolute paths, so each volume is backed up as `.` from inside its directory: the
snapshot's tree starts at the volume root and restores anywhere. The volume root's own owner, mode
and times ride along as a tag (restic records only what is below it). The parent snapshot is named
explicitly (the kubelet path changes with the pod's uid), so incremental runs stay incremental.

An empty volume (a freshly created PVC; or everything in it excluded) is a valid backup, but restic
refuses a snapshot with nothing in it: it is stored as a snapshot tagged `empty=true` holding only a
small marker file, and restores as an empty directory with the root's owner, mode and times.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import secrets
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from kubekeeper.backup.source import BackupResult, Entry, PartlyStored, RestoreResult, Verified, VerifyOptions
from kubekeeper.errors import BadInput, KubekeeperError, OperationFailed, VerificationFailed
from kubekeeper.kubeapi import KubeAccess
from kubekeeper.progress import Progress
from kubekeeper.repository import (
    AccessDenied,
    BackendUnreachable,
    BackupSummary,
    EmptySnapshot,
    Repository,
    RepositoryLocked,
    RepositoryNotFound,
    Snapshot,
    WrongPassword,
    details_of,
    features,
    selection,
    snapshot_tags,
)
from kubekeeper.repository.tags import cluster_of
from kubekeeper.volumes import hooks, objects, swap
from kubekeeper.volumes.locate import locate, locate_one, this_node
from kubekeeper.volumes.model import ELSEWHERE, HOOKS_OFF, NO_PATH, LocatedVolume, Problem, PvcRef
from kubekeeper.volumes.swap import WORK_NAME

if TYPE_CHECKING:  # cluster.yaml's schema (pydantic) is loaded by `backup all`, not by every backup
    from kubekeeper.config.schema import ClusterConfig, VolumesSection
    from kubekeeper.volumes.kube import Cluster

log = logging.getLogger(__name__)

KIND = "volume"
META_FILENAME = "kubekeeper-volume.yaml"
#: what the snapshot of an empty volume holds (restic stores no snapshot without content)
EMPTY_FILENAME = "kubekeeper-empty-volume.json"
EMPTY_TAG = "empty=true"
DATA, META = "data", "meta"
#: never back up a restore's staging area if one is left inside a volume
ALWAYS_EXCLUDE = (WORK_NAME,)
ROOT_FIELDS = ("mode", "uid", "gid", "atime_ns", "mtime_ns")
#: repository failures that end the whole run with their own exit code instead of failing one volume
REPOSITORY_FATAL = (RepositoryNotFound, WrongPassword, AccessDenied, BackendUnreachable, RepositoryLocked)


@dataclass(frozen=True)
class VolumeOrigin:
    """Which volumes of this node to back up, how they are found, and how they are read."""

    pvcs: tuple[PvcRef, ...] = ()  # named PVCs: a problem with one always fails the run
    all_pvcs: bool = False  # also every PVC a pod running on this node mounts
    namespace: str | None = None  # with all_pvcs: only this namespace (selected by the API)
    namespaces: tuple[str, ...] = ()  # only PVCs in these namespaces (cluster.yaml)
    label_selector: str | None = None  # only PVCs whose labels match, equality-based (cluster.yaml)
    directories: tuple[tuple[PvcRef, Path], ...] = ()  # back these up as those PVCs, without the API
    excludes: tuple[str, ...] = ()
    concurrency: int = 2
    #: False (cluster.yaml `hooks: false`): no hook runs, and a volume with one is read without it
    run_hooks: bool = True
    #: where hooks may run (None: anywhere); a volume whose hook may not run fails instead of being read
    hook_namespaces: frozenset[str] | None = None
    hook_timeout: float = 300.0
    kube: KubeAccess = field(default_factory=KubeAccess)
    node: str | None = None  # this node's name; default $NODE_NAME, then the hostname
    kubelet_root: Path = Path("/var/lib/kubelet")
    host_root: Path = Path("/")


@dataclass(frozen=True)
class VolumeTarget:
    """Where a PVC's snapshot goes: its current volume directory on this node, or `directory`."""

    ref: PvcRef
    directory: Path | None = None
    recreate: bool = False  # create the PVC (and a static PV) from the stored objects first
    kube: KubeAccess = field(default_factory=KubeAccess)
    node: str | None = None
    kubelet_root: Path = Path("/var/lib/kubelet")
    host_root: Path = Path("/")
    wait_timeout: float = 600.0  # with recreate: how long to wait for the PVC to be bound and mounted here


class VolumeSource:
    kind = KIND
    part = "volumes"
    summary_keys: tuple[str, ...] = ()

    def enabled(self, config: ClusterConfig) -> bool:
        return config.volumes.enabled

    def from_config(self, config: ClusterConfig) -> VolumeOrigin:
        return origin_from_section(config.volumes)

    def back_up(self, repository: Repository, origin: VolumeOrigin, *, cluster: str, progress: Progress) -> BackupResult:
        """Every volume the origin names (up to `concurrency` at once); each volume stores or fails on
        its own, and any failure raises PartlyStored after the others were stored."""
        node = this_node(origin.node)
        volumes, problems, executor = find_volumes(origin, node)
        progress.phase(f"backing up {len(volumes)} volume(s) on node {node}")
        results = backup_volumes(
            repository.reporting(progress), volumes, problems, cluster=cluster, excludes=origin.excludes, concurrency=origin.concurrency,
            executor=executor, hook_timeout=origin.hook_timeout, strict=not origin.all_pvcs,
            lookup_parents=not origin.directories, named=origin.pvcs,
        )
        stored = [r for r in results if r.status == "ok"]
        result = BackupResult(KIND, cluster, tuple(r.snapshot for r in stored), {"volumes": [r.to_dict() for r in results]},
                              bytes_added=sum(r.bytes_added for r in stored))
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise PartlyStored(f"{len(failed)} of {len(results)} volume(s) not backed up: "
                               + "; ".join(f"{r.pvc}: {r.message}" for r in failed), result)
        return result

    def find(self, repository: Repository, snapshot: str, *, cluster: str | None, target: VolumeTarget | None = None) -> Snapshot:
        tags = pvc_selection(cluster, target.ref) if target is not None else [*selection(KIND, cluster), f"part={DATA}"]
        return repository.resolve(snapshot, tags)

    def restore(self, repository: Repository, snapshot: Snapshot, target: VolumeTarget, *, progress: Progress) -> RestoreResult:
        return restore_volume(repository.reporting(progress), snapshot, target)

    def verify(self, repository: Repository, snapshot: Snapshot, *, scratch: Path, options: VerifyOptions,
               progress: Progress) -> Verified:
        return verify_volume(repository.reporting(progress), snapshot, scratch, options)

    def describe(self, snapshot: Snapshot) -> str:
        details = details_of(snapshot.tags)
        return details.get("pvc", "") + (" (objects)" if details.get("part") == META else "")

    def contents(self, repository: Repository, snapshot: Snapshot) -> Iterator[Entry]:
        """Every file, directory and link below the volume root (sizes and modification times: restic
        lists no content hash); nothing for an empty volume."""
        if EMPTY_TAG in snapshot.tags:
            return
        for node in repository.list_files(snapshot.id):
            path = str(node.get("path", ""))
            if path in ("", "/"):
                continue
            size = int(node.get("size") or 0) if node.get("type") == "file" else None
            yield Entry(path, str(node.get("type", "")), size, f"{size or 0}:{node.get('mtime', '')}")


SOURCE = VolumeSource()


# ------------------------------------------------------------------ which volumes
def origin_from_section(section: VolumesSection) -> VolumeOrigin:
    """cluster.yaml's `volumes:` as an origin (set-based label selectors are refused by the schema)."""
    refs = tuple(PvcRef.parse(p) for p in section.pvcs)
    return VolumeOrigin(
        pvcs=refs, all_pvcs=not refs and not section.directories, namespaces=tuple(section.namespaces),
        label_selector=section.label_selector,
        directories=tuple((PvcRef.parse(d.pvc), Path(d.path)) for d in section.directories),
        excludes=tuple(section.exclude), concurrency=section.concurrency, run_hooks=section.hooks,
        kube=KubeAccess(section.kubeconfig, section.context), kubelet_root=section.kubelet_root,
    )


def connect_cluster(access: KubeAccess) -> Cluster:
    """The API for PVC lookups and hooks. Imported on use: the kubernetes client costs ~170 ms to
    load, and a run over --source-dir directories never needs it (kubeapi.connect says more)."""
    from kubekeeper.volumes.kube import Cluster

    return Cluster.connect(access)


def find_volumes(origin: VolumeOrigin, node: str) -> tuple[list[LocatedVolume], list[Problem], hooks.Executor | None]:
    """The volumes to back up, the problems found on the way (never dropped), and where hooks run."""
    if origin.directories:
        missing = [str(path) for _, path in origin.directories if not path.is_dir()]
        if missing:
            raise OperationFailed(f"volume directories not found: {', '.join(missing)}")
        return [LocatedVolume(ref, path.resolve(), node) for ref, path in origin.directories], [], None
    cluster = connect_cluster(origin.kube)
    found, problems = locate(cluster, origin.pvcs, all_pvcs=origin.all_pvcs, namespace=origin.namespace, node=node,
                             kubelet_root=origin.kubelet_root, host_root=origin.host_root)
    volumes = [v for v in found if (not origin.namespaces or v.ref.namespace in origin.namespaces)
               and matches_selector((v.pvc_object.get("metadata") or {}).get("labels") or {}, origin.label_selector)]
    if not origin.run_hooks:
        return volumes, problems, None
    volumes, refused = hooks.allowed_in(volumes, None if origin.hook_namespaces is None else set(origin.hook_namespaces))
    return volumes, [*problems, *refused], cluster


def matches_selector(labels: dict[str, str], selector: str | None) -> bool:
    """Equality-based label selectors (`a=b,c!=d`); set-based ones are refused by the config schema."""
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.strip()) != value.strip().lstrip("="):
                return False
        elif labels.get(term) is None:
            return False
    return True


# ------------------------------------------------------------------ back up
@dataclass
class VolumeResult:
    pvc: str
    status: str  # ok | failed | skipped | elsewhere
    node: str = ""
    path: str = ""
    snapshot: str = ""
    message: str = ""
    files: int = 0
    bytes_processed: int = 0
    bytes_added: int = 0
    duration_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def volume_tags(cluster: str, source: LocatedVolume, part: str) -> list[str]:
    return snapshot_tags(KIND, cluster, {**source.tag_details(), "part": part})


def pvc_selection(cluster: str | None, ref: PvcRef, part: str = DATA) -> list[str]:
    return [*selection(KIND, cluster), f"namespace={ref.namespace}", f"pvc={ref.name}", f"part={part}"]


def root_metadata(path: Path) -> dict[str, int]:
    """The volume directory's own owner, mode and times (restic stores only what is below it)."""
    st = os.stat(path)
    return {"mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid, "atime_ns": st.st_atime_ns, "mtime_ns": st.st_mtime_ns}


def metadata_document(source: LocatedVolume, token: str, excludes: Sequence[str]) -> bytes:
    doc = {
        "kind": "KubekeeperVolumeBackup",
        "backup": token,
        "pvc": str(source.ref),
        "node": source.node,
        "path": str(source.path),
        "excludes": list(excludes),
        "objects": {"persistentVolumeClaim": source.pvc_object or None, "persistentVolume": source.pv_object or None},
    }
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, out)
    return out.getvalue().encode()


def latest_parents(repo: Repository, cluster: str) -> dict[tuple[str, str], str]:
    """Newest data snapshot per (namespace, pvc): one `snapshots` call for the whole run."""
    parents: dict[tuple[str, str], str] = {}
    snapshots = repo.snapshots([*selection(KIND, cluster), f"part={DATA}"])  # no repository: exit 10
    for snap in snapshots:
        if EMPTY_TAG in snap.tags:
            continue  # nothing in it to compare with
        details = details_of(snap.tags)
        parents[(details.get("namespace", ""), details.get("pvc", ""))] = snap.id  # oldest first: newest wins
    return parents


def backup_one(
    repo: Repository,
    source: LocatedVolume,
    *,
    cluster: str,
    excludes: Sequence[str] = (),
    parent: str | None = None,
    executor: hooks.Executor | None = None,
    hook_timeout: float = 300.0,
) -> VolumeResult:
    """Pre-hook, data snapshot, metadata snapshot, post-hook (always, if a pre-hook was configured)."""
    started = time.monotonic()
    result = VolumeResult(str(source.ref), "failed", source.node, str(source.path))
    errors: list[str] = []
    try:
        if source.pre_hook and executor is not None:
            try:
                hooks.run_hook(executor, source.pre_hook, "pre-backup", hook_timeout)
            except KubekeeperError as exc:
                errors.append(f"{exc.message}; volume not backed up")
                return result
        try:
            summary = _data_and_metadata(repo, source, cluster=cluster, excludes=excludes, parent=parent)
        except REPOSITORY_FATAL:
            raise  # the repository itself is wrong: every volume would fail the same way
        except KubekeeperError as exc:
            errors.append(exc.message)
            return result
        except OSError as exc:
            errors.append(f"cannot read {source.path}: {exc.strerror}")
            return result
        result.status, result.snapshot = "ok", summary.snapshot_id
        result.files = summary.total_files_processed
        result.bytes_processed, result.bytes_added = summary.total_bytes_processed, summary.data_added
    finally:
        if source.post_hook and executor is not None:
            try:
                hooks.run_hook(executor, source.post_hook, "post-backup", hook_timeout)
            except KubekeeperError as exc:
                errors.append(exc.message)
                result.status = "failed"
        result.message = "; ".join(errors)
        result.duration_seconds = round(time.monotonic() - started, 3)
    return result


def root_tag(root: dict[str, int]) -> str:
    return "root=" + ":".join(str(root[k]) for k in ROOT_FIELDS)


def root_from_tags(tags: Sequence[str]) -> dict[str, int] | None:
    value = details_of(tags).get("root")
    if not value:
        return None
    parts = value.split(":")
    if len(parts) != len(ROOT_FIELDS) or not all(p.isdigit() for p in parts):
        return None
    return dict(zip(ROOT_FIELDS, map(int, parts), strict=True))


def _data_and_metadata(repo: Repository, source: LocatedVolume, *, cluster: str, excludes: Sequence[str],
                       parent: str | None) -> BackupSummary:
    """The data snapshot (the volume root's owner/mode/times ride along as a tag) and, when the PVC/PV
    objects are known, a metadata snapshot written at the same time, linked by a `backup=<token>` tag."""
    token = secrets.token_hex(6)
    data_tags = [*volume_tags(cluster, source, DATA), f"backup={token}", root_tag(root_metadata(source.path))]
    with ThreadPoolExecutor(max_workers=1) as side:
        meta_done: Future[BackupSummary] | None = None
        if source.pvc_object:
            meta = metadata_document(source, token, excludes)
            meta_done = side.submit(
                repo.backup_stream, [meta], META_FILENAME, [*volume_tags(cluster, source, META), f"backup={token}"], host=source.node or None
            )
        try:
            summary = repo.backup_paths(
                [Path(".")], data_tags, host=source.node or None,
                excludes=[*ALWAYS_EXCLUDE, *excludes], cwd=source.path, parent=parent,
            )
        except EmptySnapshot:
            summary = _store_empty(repo, source, data_tags, excludes)
        if meta_done is not None:
            meta_done.result()
    return summary


def _store_empty(repo: Repository, source: LocatedVolume, data_tags: list[str], excludes: Sequence[str]) -> BackupSummary:
    """An empty volume (or one whose every file is excluded): restic refuses a snapshot with nothing in
    it, so the data snapshot holds a small marker instead and is tagged `empty=true`; a restore
    leaves the target empty (with the root's owner, mode and times)."""
    marker = json.dumps({"kind": "KubekeeperEmptyVolume", "pvc": str(source.ref), "excludes": list(excludes),
                         "note": "the volume held nothing to back up; restoring it leaves the target empty"}, indent=1)
    stored = repo.backup_stream([marker.encode()], EMPTY_FILENAME, [*data_tags, EMPTY_TAG], host=source.node or None)
    return BackupSummary(stored.snapshot_id, data_added=stored.data_added, total_duration=stored.total_duration)


#: problems that fail a run even with --all-pvcs: the volume is mounted here and its files should be
#: readable, so a missing directory means a wrong --kubelet-root/--host-root or a missing mount; a
#: volume whose hook may not run is not read without it
ALWAYS_FAIL = (NO_PATH, HOOKS_OFF)


def problem_result(problem: Problem, strict: bool) -> VolumeResult:
    """Problems are always reported; in --all-pvcs runs, ones on another node are informational and
    ones that file backup cannot do (Block mode, ...) are `skipped` with the reason."""
    strict = strict or problem.reason in ALWAYS_FAIL
    status = "elsewhere" if problem.reason == ELSEWHERE and not strict else ("failed" if strict else "skipped")
    return VolumeResult(str(problem.ref), status, problem.node, message=problem.message)


def backup_volumes(
    repo: Repository,
    sources: Sequence[LocatedVolume],
    problems: Sequence[Problem] = (),
    *,
    cluster: str,
    excludes: Sequence[str] = (),
    concurrency: int = 2,
    executor: hooks.Executor | None = None,
    hook_timeout: float = 300.0,
    strict: bool = True,
    lookup_parents: bool = True,
    named: Collection[PvcRef] = (),
) -> list[VolumeResult]:
    """Back up every source (up to `concurrency` at once); problems become results, never dropped.
    Problems of `named` PVCs fail the run even when `strict` is off (--all-pvcs plus --pvc).

    `lookup_parents=False` (a stable --source-dir path) leaves parent selection to restic (same host and
    path), saving one repository round trip; kubelet paths change with the pod uid, so they need it."""
    results = [problem_result(p, strict or p.ref in named) for p in problems]
    if not sources:
        return sorted(results, key=lambda r: r.pvc)
    if lookup_parents:
        parents = latest_parents(repo, cluster)
    else:
        parents = {}
        if repo.local_path() is not None:
            repo.require()  # free for a local path; remote ones fail on restic's first call
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [
            pool.submit(
                backup_one, repo, s, cluster=cluster, excludes=excludes,
                parent=parents.get((s.ref.namespace, s.ref.name)), executor=executor, hook_timeout=hook_timeout,
            )
            for s in sources
        ]
        results.extend(f.result() for f in futures)
    return sorted(results, key=lambda r: r.pvc)


def find_metadata(repo: Repository, cluster: str | None, ref: PvcRef, data: Snapshot) -> dict[str, Any] | None:
    """The companion metadata document of a data snapshot, or None (older or foreign snapshots)."""
    token = details_of(data.tags).get("backup")
    if not token:
        return None
    candidates = repo.snapshots([*pvc_selection(cluster, ref, META), f"backup={token}"])
    if not candidates:
        return None
    buffer = io.BytesIO()
    try:
        repo.dump(candidates[-1].id, f"/{META_FILENAME}", buffer)
    except OperationFailed as exc:
        log.warning("cannot read the metadata of snapshot %s: %s", data.short_id, exc.message)
        return None
    doc = YAML(typ="safe", pure=True).load(buffer.getvalue().decode())
    return doc if isinstance(doc, dict) else None


# ------------------------------------------------------------------ restore
def recreate_objects(cluster: Cluster, meta: dict[str, Any] | None, ref: PvcRef) -> list[str]:
    """Create the PVC (and its PV if statically provisioned) from the stored objects; names created."""
    stored = (meta or {}).get("objects") or {}
    pvc, pv = stored.get("persistentVolumeClaim"), stored.get("persistentVolume")
    if not pvc:
        raise BadInput(f"the snapshot of {ref} holds no PVC object to recreate (taken with --source-dir?)")
    created: list[str] = []
    if cluster.get_pvc(ref) is not None:
        raise BadInput(f"PVC {ref} already exists: drop --recreate to restore into it")
    if pv and objects.is_static(pv):
        if cluster.get_pv(pv["metadata"]["name"]) is None:
            cluster.create_pv(objects.pv_body(pv))
            created.append(f"pv/{pv['metadata']['name']}")
        else:
            log.warning("PV %s exists; the new claim binds to it if it is Available", pv["metadata"]["name"])
    cluster.create_pvc(objects.pvc_body(pvc, pv))
    created.append(f"pvc/{ref}")
    return created


def wait_for_volume(locate_it: Callable[[], LocatedVolume | Problem], timeout: float, interval: float = 2.0) -> LocatedVolume:
    """Poll until the PVC is bound and mounted here; the last problem says what is missing."""
    deadline = time.monotonic() + timeout
    while True:
        found = locate_it()
        if isinstance(found, LocatedVolume):
            return found
        if time.monotonic() >= deadline:
            raise OperationFailed(f"gave up after {timeout:g}s waiting for the volume: {found.message}; nothing was restored")
        time.sleep(interval)


def restore_volume(repo: Repository, data: Snapshot, target: VolumeTarget) -> RestoreResult:
    """`restore volume`: the snapshot into the PVC's current volume directory on this node (or
    target.directory), end state of `rsync -a --delete`, nothing deleted before the copy is complete
    (volumes.swap). With `recreate`, the PVC (and a static PV) are created from the stored objects
    first, and the restore waits for the claim to be bound and mounted here."""
    started = time.monotonic()
    ref = target.ref
    meta = find_metadata(repo, cluster_of(data.tags), ref, data) if target.recreate else None
    recreated: list[str] = []
    directory = target.directory
    if directory is None or target.recreate:
        cluster = connect_cluster(target.kube)
        if target.recreate:
            recreated = recreate_objects(cluster, meta, ref)

        def find() -> LocatedVolume | Problem:
            return locate_one(cluster, ref, node=this_node(target.node), kubelet_root=target.kubelet_root,
                              host_root=target.host_root, refresh=True)

        if directory is None:
            found = wait_for_volume(find, target.wait_timeout) if target.recreate else find()
            if isinstance(found, Problem):
                raise OperationFailed(f"{found.message}; nothing was restored")
            directory = found.path
    root = root_from_tags(data.tags)
    resumable = repo.has(features.RESTORE_DELETE)

    def fill(staging: Path) -> None:
        if EMPTY_TAG not in data.tags:  # an empty volume's snapshot holds only the marker: nothing to put back
            repo.restore(data.id, staging, delete=resumable)

    swap.restore_into(directory, fill, root, resumable=resumable)
    report = {"pvc": str(ref), "snapshot": data.short_id, "target": str(directory), "recreated": recreated,
              "duration_seconds": round(time.monotonic() - started, 3)}
    return RestoreResult(KIND, data.id, str(directory), report)


# ------------------------------------------------------------------ verify
def verify_volume(repo: Repository, snapshot: Snapshot, workdir: Path, options: VerifyOptions) -> Verified:
    """Every byte read back (`restic dump` of the whole snapshot, no disk space needed) and a sample
    restored with `restic restore --verify` and compared with the listing; `quick` reads the sample only.
    A companion snapshot (the PVC/PV objects) is read in full."""
    if details_of(snapshot.tags).get("part") == META:
        read = repo.read_all(snapshot.id)
        return Verified(f"read back in full ({read:,} bytes)", read)
    if EMPTY_TAG in snapshot.tags:
        read = repo.read_all(snapshot.id)
        return Verified("empty volume: the snapshot holds only kubekeeper's empty-volume marker, read back", read)
    files = [n for n in repo.list_files(snapshot.id) if n.get("type") == "file"]
    total = sum(int(n.get("size") or 0) for n in files)
    read = 0 if options.quick else repo.read_all(snapshot.id)
    if not files:
        return Verified("snapshot holds no regular files", read)
    rng = random.Random(None if options.seed is None else f"{options.seed}:{snapshot.id}")
    chosen = rng.sample(files, min(options.sample, len(files)))
    repo.restore(snapshot.id, workdir, [str(n["path"]) for n in chosen], verify=True)
    sampled = 0
    for node in chosen:
        restored = _restored_path(workdir, str(node["path"]))
        if restored is None:
            raise VerificationFailed(f"{node['path']} was not restored")
        if restored.stat().st_size != node.get("size", 0):
            raise VerificationFailed(f"{node['path']}: restored {restored.stat().st_size} bytes, snapshot says {node.get('size')}")
        sampled += restored.stat().st_size
    if options.quick:
        return Verified(f"sample only: {len(chosen)} of {len(files)} files restored and verified, {sampled:,} of {total:,} bytes "
                        f"({_share(sampled, total)})", sampled)
    return Verified(f"all {len(files)} files read ({total:,} bytes), {len(chosen)} restored and verified against the "
                    "snapshot's hashes", read)


def _share(part: int, whole: int) -> str:
    return "100%" if whole == 0 else f"{100 * part / whole:.1f}%"


def _restored_path(workdir: Path, snapshot_path: str) -> Path | None:
    candidate = workdir / snapshot_path.lstrip("/")
    return candidate if candidate.is_file() else None
