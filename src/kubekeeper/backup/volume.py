"""`backup volume`: one restic snapshot per PVC, read straight from the volume's directory on this
node (no staging copy), plus a small companion snapshot holding the PVC/PV objects and the volume
root's own metadata so a restore can recreate the claim and reproduce `rsync -a` exactly.

restic stores absolute paths, so each volume is backed up as `.` from inside its directory: the
snapshot's tree starts at the volume root and restores anywhere. The parent snapshot is named
explicitly (the kubelet path changes with the pod's uid), so incremental runs stay incremental.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from ruamel.yaml import YAML

from kubekeeper.errors import KubekeeperError, OperationFailed
from kubekeeper.repository import (
    AccessDenied,
    BackendUnreachable,
    Repository,
    RepositoryLocked,
    RepositoryNotFound,
    Snapshot,
    WrongPassword,
    selection,
    snapshot_tags,
)
from kubekeeper.repository.tags import details_of
from kubekeeper.volumes import hooks
from kubekeeper.volumes.model import ELSEWHERE, HOOKS_OFF, NO_PATH, Problem, PvcRef, VolumeSource
from kubekeeper.volumes.swap import WORK_NAME

log = logging.getLogger(__name__)

META_FILENAME = "kubekeeper-volume.yaml"
DATA, META = "data", "meta"
#: never back up a restore's staging area if one is left inside a volume
ALWAYS_EXCLUDE = (WORK_NAME,)
ROOT_FIELDS = ("mode", "uid", "gid", "atime_ns", "mtime_ns")
#: repository failures that end the whole run with their own exit code instead of failing one volume
REPOSITORY_FATAL = (RepositoryNotFound, WrongPassword, AccessDenied, BackendUnreachable, RepositoryLocked)


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

    def to_dict(self) -> dict:
        return asdict(self)


def volume_tags(cluster: str, source: VolumeSource, part: str) -> list[str]:
    return snapshot_tags("volume", cluster, {**source.tag_details(), "part": part})


def pvc_selection(cluster: str, ref: PvcRef, part: str = DATA) -> list[str]:
    return [*selection("volume", cluster), f"namespace={ref.namespace}", f"pvc={ref.name}", f"part={part}"]


def root_metadata(path: Path) -> dict:
    """The volume directory's own owner, mode and times (restic stores only what is below it)."""
    st = os.stat(path)
    return {"mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid, "atime_ns": st.st_atime_ns, "mtime_ns": st.st_mtime_ns}


def metadata_document(source: VolumeSource, token: str, excludes: Sequence[str]) -> bytes:
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
    snapshots = repo.snapshots([*selection("volume", cluster), f"part={DATA}"])  # no repository: exit 10
    for snap in snapshots:
        details = details_of(snap.tags)
        parents[(details.get("namespace", ""), details.get("pvc", ""))] = snap.id  # oldest first: newest wins
    return parents


def backup_one(
    repo: Repository,
    source: VolumeSource,
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


def root_tag(root: dict) -> str:
    return "root=" + ":".join(str(root[k]) for k in ROOT_FIELDS)


def root_from_tags(tags: Sequence[str]) -> dict | None:
    value = details_of(tags).get("root")
    if not value:
        return None
    parts = value.split(":")
    if len(parts) != len(ROOT_FIELDS) or not all(p.isdigit() for p in parts):
        return None
    return dict(zip(ROOT_FIELDS, map(int, parts)))


def _data_and_metadata(repo: Repository, source: VolumeSource, *, cluster: str, excludes: Sequence[str], parent: str | None):
    """The data snapshot (the volume root's owner/mode/times ride along as a tag) and, when the PVC/PV
    objects are known, a metadata snapshot written at the same time, linked by a `backup=<token>` tag."""
    token = secrets.token_hex(6)
    data_tags = [*volume_tags(cluster, source, DATA), f"backup={token}", root_tag(root_metadata(source.path))]
    with ThreadPoolExecutor(max_workers=1) as side:
        meta_done = None
        if source.pvc_object:
            meta = metadata_document(source, token, excludes)
            meta_done = side.submit(
                repo.backup_stream, [meta], META_FILENAME, [*volume_tags(cluster, source, META), f"backup={token}"], host=source.node or None
            )
        summary = repo.backup_paths(
            [Path(".")], data_tags, host=source.node or None,
            excludes=[*ALWAYS_EXCLUDE, *excludes], cwd=source.path, parent=parent,
        )
        if meta_done is not None:
            meta_done.result()
    return summary


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
    sources: Sequence[VolumeSource],
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


def find_metadata(repo: Repository, cluster: str, ref: PvcRef, data: Snapshot) -> dict | None:
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
