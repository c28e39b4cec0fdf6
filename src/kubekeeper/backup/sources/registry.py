"""The registry source: sync the registry into the persistent OCI layout and back the layout up
with restic; restore a snapshot's layout into a (possibly different) registry; verify by re-hashing
every blob of a restored layout.

The layout under the cache is kept between runs, so a nightly backup fetches only new blobs and
changed tags, and restic only stores what changed. The restic snapshot is taken only after every blob
and manifest was fetched and verified: an interrupted run stores nothing and resumes next time.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubekeeper.backup.source import BackupResult, Entry, RestoreResult, Verified, VerifyOptions
from kubekeeper.errors import BadInput, OperationFailed, VerificationFailed
from kubekeeper.progress import Progress
from kubekeeper.registry import auth, sync
from kubekeeper.registry import harbor as harbor_api
from kubekeeper.registry.client import RegistryClient, RegistryOptions, normalize_url
from kubekeeper.registry.layout import INGEST_DIR, LAYOUT_DIR, REPOSITORY_ANNOTATION, Layout
from kubekeeper.registry.layout import Entry as LayoutEntry
from kubekeeper.repository import Repository, Snapshot, details_of, selection, snapshot_tags

if TYPE_CHECKING:  # cluster.yaml's schema (pydantic) is loaded by `backup all`, not by every backup
    from kubekeeper.config.schema import ClusterConfig, RegistrySection

log = logging.getLogger(__name__)

KIND = "registry"
PROJECTS_FILE = "harbor-projects.json"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubekeeper" / "registry"


@dataclass(frozen=True)
class RegistryOrigin:
    """The registry to back up, and the layout cache that makes the next run incremental."""

    options: RegistryOptions
    cache: Path
    harbor: bool = False
    projects: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistryTarget:
    """The registry a snapshot is pushed into (projects renamed OLD=NEW on the way)."""

    options: RegistryOptions
    project_map: tuple[str, ...] = ()
    harbor: bool = False
    workdir: Path | None = None  # where the snapshot's layout is unpacked (default: a temp dir)
    keep: bool = False  # keep the unpacked layout

    def __post_init__(self) -> None:
        sync.parse_project_map(self.project_map)  # a bad OLD=NEW is exit 2 before the repository is asked


class RegistrySource:
    kind = KIND
    part = "registry"
    summary_keys: tuple[str, ...] = ()

    def enabled(self, config: ClusterConfig) -> bool:
        return config.registry.enabled

    def from_config(self, config: ClusterConfig) -> RegistryOrigin:
        section = config.registry
        assert section.url is not None  # the schema requires it when enabled
        options = RegistryOptions(section.url, _credentials(section), section.cacert, False, section.concurrency)
        return RegistryOrigin(options, section.cache or default_cache(), section.harbor, tuple(section.projects))

    def back_up(self, repository: Repository, origin: RegistryOrigin, *, cluster: str, progress: Progress) -> BackupResult:
        repository.require()  # before fetching gigabytes for a repository that is not there
        repository = repository.reporting(progress)
        host, result = sync_layout(origin, progress)
        tags = snapshot_tags(KIND, cluster, {"registry": host})
        summary = repository.backup_paths([Path(LAYOUT_DIR)], tags, cwd=origin.cache)
        details = {"registry": host, "repositories": result.repositories, "tags": result.tags,
                   "manifests": len(result.entries), "blobs_fetched": result.blobs_fetched,
                   "bytes_fetched": result.bytes_fetched, "blobs_removed": result.removed,
                   "layout_bytes": Layout(origin.cache).stored_bytes()}
        return BackupResult(KIND, cluster, (summary.snapshot_id,), details, summary, bytes_added=summary.data_added)

    def find(self, repository: Repository, snapshot: str, *, cluster: str | None, target: RegistryTarget | None = None) -> Snapshot:
        return repository.resolve(snapshot, selection(KIND, cluster))

    def restore(self, repository: Repository, snapshot: Snapshot, target: RegistryTarget, *, progress: Progress) -> RestoreResult:
        return restore_layout(repository.reporting(progress), snapshot, target, progress)

    def verify(self, repository: Repository, snapshot: Snapshot, *, scratch: Path, options: VerifyOptions,
               progress: Progress) -> Verified:
        """The stored OCI layout restored, every blob and manifest digest recomputed, and every manifest
        the index names present."""
        repository.reporting(progress).restore(snapshot.id, scratch)
        candidates = [p for p in scratch.rglob("index.json") if p.parent.name == LAYOUT_DIR]
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
        size = sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file())
        return Verified(f"{len(digests)} blobs and manifests re-hashed, {len(entries)} index entries present", size)

    def describe(self, snapshot: Snapshot) -> str:
        return details_of(snapshot.tags).get("registry", "")

    def contents(self, repository: Repository, snapshot: Snapshot) -> Iterator[Entry]:
        """Every reference the registry had (`repository:tag`, or `repository@digest` untagged), by
        manifest digest: read from the layout's index.json alone, no blob is fetched."""
        index = next((str(n["path"]) for n in repository.list_files(snapshot.id)
                      if str(n.get("path", "")).endswith(f"/{LAYOUT_DIR}/index.json")), None)
        if index is None:
            return
        buffer = io.BytesIO()
        repository.dump(snapshot.id, index, buffer)
        doc = json.loads(buffer.getvalue() or b"{}")
        found = [LayoutEntry.from_json(d) for d in doc.get("manifests", []) if isinstance(d, dict)
                 and REPOSITORY_ANNOTATION in (d.get("annotations") or {})]
        listed = [Entry(f"{e.repository}:{e.tag}" if e.tag is not None else f"{e.repository}@{e.digest}", "manifest", e.size, e.digest)
                  for e in found]
        yield from sorted(listed)


SOURCE = RegistrySource()


def _credentials(section: RegistrySection) -> auth.Credentials:
    """cluster.yaml's credentials: user and password, a docker config, else the usual lookup."""
    _, host = normalize_url(section.url or "")
    creds = section.credentials
    if creds.username or creds.password:
        if not (creds.username and creds.password):
            raise BadInput("registry.credentials needs both username and password")
        return auth.Credentials(creds.username, creds.password.resolve())
    if creds.docker_config is not None:
        return auth.from_docker_config(host, creds.docker_config)
    return auth.resolve(host)


def sync_layout(origin: RegistryOrigin, progress: Progress) -> tuple[str, sync.PullResult]:
    """Bring the layout up to date with the registry (verified; nothing backed up yet).

    The registry is asked first: a wrong URL, CA file or password creates no cache directory.
    """
    layout = Layout(origin.cache)
    with RegistryClient(origin.options) as client:
        client.ping()
        try:
            return client.host, _pull(origin, client, layout.ensure(), progress)
        except OSError as exc:
            if not _inside(exc.filename, origin.cache):
                raise
            raise _cache_write_failed(layout, exc) from exc


def _repositories(origin: RegistryOrigin, client: RegistryClient, hub: harbor_api.Harbor | None,
                  layout: Layout) -> tuple[list[str], dict[str, list[str]]]:
    untagged: dict[str, list[str]] = {}
    if hub is not None:
        projects = [p for p in hub.projects() if not origin.projects or p.name in origin.projects]
        harbor_api.save_projects(projects, layout.root / PROJECTS_FILE)
        repos = [r for p in projects for r in hub.repositories(p.name)]
        for repo in repos:
            digests = hub.untagged_artifacts(repo)
            if digests:
                untagged[repo] = digests
        if hub.has_chartrepo():
            for project in projects:
                hub.backup_charts(project.name, layout.root / harbor_api.CHARTREPO_DIR)
        return sorted(repos), untagged
    repos = client.catalog()
    if origin.projects:
        repos = [r for r in repos if any(r == p or r.startswith(p + "/") for p in origin.projects)]
    return sorted(repos), untagged


def _pull(origin: RegistryOrigin, client: RegistryClient, layout: Layout, progress: Progress) -> sync.PullResult:
    hub = harbor_api.Harbor(client) if origin.harbor else None
    repos, untagged = _repositories(origin, client, hub, layout)
    if not repos:
        raise OperationFailed(f"registry {client.host} has no repositories to back up"
                              + (f" in project(s) {', '.join(origin.projects)}" if origin.projects else ""))
    return sync.pull(client, layout, repos, concurrency=origin.options.concurrency, progress=progress, untagged=untagged)


def _inside(filename: object, directory: Path) -> bool:
    """Whether an OSError's file lies in `directory` (the cache), not e.g. a CA bundle elsewhere."""
    if not isinstance(filename, (str, os.PathLike)):
        return False
    return Path(os.path.abspath(filename)).is_relative_to(os.path.abspath(directory))


def _cache_write_failed(layout: Layout, exc: OSError) -> OperationFailed:
    """Exit 3 naming the file that could not be written and what the cache keeps for the next run."""
    held = layout.holdings()
    where = os.path.relpath(str(exc.filename), layout.cache)
    hint = " Free space there or put --cache on a larger disk." if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return OperationFailed(
        f"registry cache {layout.cache}: {exc.strerror} writing {where}; nothing was backed up. "
        f"The cache keeps only complete, verified blobs: kept {held.blobs} complete blobs ({held.blob_bytes:,} bytes) "
        f"in {LAYOUT_DIR}/ and {held.partials} partial download(s) ({held.partial_bytes:,} bytes) in {INGEST_DIR}/, "
        f"which become blobs only once finished and verified; the next run reuses both.{hint}"
    )


def find_layout(directory: Path) -> Layout:
    """restic restores the `layout/` directory somewhere under `directory`: find its index.json."""
    for index in sorted(directory.rglob("index.json"), key=lambda p: len(p.parts)):
        if index.parent.name == LAYOUT_DIR and (index.parent / "oci-layout").exists():
            return Layout.at(index.parent)
    raise OperationFailed(f"the snapshot restored into {directory} holds no registry layout")


def restore_layout(repository: Repository, snapshot: Snapshot, target: RegistryTarget, progress: Progress) -> RestoreResult:
    """Unpack the snapshot's layout, create missing Harbor projects (and charts), push everything."""
    mapping = sync.parse_project_map(target.project_map)
    base = target.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-registry-restore-", dir=base))
    try:
        repository.restore(snapshot.id, workdir)
        layout = find_layout(workdir)
        entries = layout.entries()
        if not entries:
            raise BadInput(f"snapshot {snapshot.short_id} holds an empty registry layout")
        with RegistryClient(target.options) as client:
            client.ping()
            created, charts = _harbor_projects(client, layout, entries, mapping) if target.harbor else ([], 0)
            result = sync.push(client, layout, entries, project_map=mapping, concurrency=target.options.concurrency,
                               progress=progress)
            report = {"snapshot_id": snapshot.id, "registry": client.host, "repositories": result.repositories,
                      "tags": result.tags, "manifests": result.manifests, "blobs_pushed": result.blobs_pushed,
                      "blobs_mounted": result.blobs_mounted, "blobs_present": result.blobs_present,
                      "bytes_pushed": result.bytes_pushed, "projects_created": created, "charts": charts}
            return RestoreResult(KIND, snapshot.id, client.host, report)
    finally:
        if not target.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _harbor_projects(client: RegistryClient, layout: Layout, entries: list[LayoutEntry],
                     mapping: dict[str, str]) -> tuple[list[str], int]:
    """Create the Harbor projects the entries (and stored charts) land in; push charts where Harbor
    still has a chart repository. Returns the projects created and the number of charts."""
    hub = harbor_api.Harbor(client)
    created: list[str] = []
    charts = 0
    saved = {p.name: p for p in harbor_api.load_projects(layout.root / PROJECTS_FILE)}
    wanted = {sync.map_repository(e.repository, mapping).split("/", 1)[0] for e in entries}
    chart_dir = layout.root / harbor_api.CHARTREPO_DIR
    if chart_dir.is_dir():
        wanted |= {sync.map_repository(p.name, mapping) for p in chart_dir.iterdir() if p.is_dir()}
    for name in sorted(wanted):
        old = next((o for o, n in mapping.items() if n == name), name)
        project = harbor_api.Project(name, saved[old].public if old in saved else False)  # private unless known
        if hub.ensure_project(project):
            created.append(name)
    if chart_dir.is_dir() and hub.has_chartrepo():
        for project_dir in sorted(p for p in chart_dir.iterdir() if p.is_dir()):
            name = sync.map_repository(project_dir.name, mapping)
            if name != project_dir.name:
                shutil.copytree(project_dir, chart_dir / name, dirs_exist_ok=True)
            charts += hub.restore_charts(name, chart_dir)
    return created, charts
