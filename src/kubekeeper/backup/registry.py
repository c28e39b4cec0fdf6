"""Registry backup and restore: sync the registry into the persistent OCI layout, back the layout up
with restic; restore a snapshot's layout and push it into a (possibly different) registry.

The layout under `--cache` is kept between runs, so a nightly backup fetches only new blobs and
changed tags, and restic only stores what changed. The restic snapshot is taken only after every blob
and manifest was fetched and verified: an interrupted run stores nothing and resumes next time.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper.backup.source import BackupResult
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.registry import harbor as harbor_api
from kubekeeper.registry import sync
from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.layout import INGEST_DIR, LAYOUT_DIR, Layout
from kubekeeper.repository import Repository, selection, snapshot_tags

log = logging.getLogger(__name__)

PROJECTS_FILE = "harbor-projects.json"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubekeeper" / "registry"


@dataclass
class RegistrySource:
    """The `registry` backup source (source.Source): one registry -> one snapshot."""

    options: RegistryOptions
    cache: Path
    harbor: bool = False
    projects: tuple[str, ...] = ()
    progress: bool = True
    kind: str = "registry"
    last_pull: sync.PullResult | None = field(default=None, init=False)

    def describe(self) -> str:
        return f"registry {RegistryClient(self.options).host}{' (Harbor)' if self.harbor else ''}"

    def _repositories(self, client: RegistryClient, hub: harbor_api.Harbor | None, layout: Layout) -> tuple[list[str], dict[str, list[str]]]:
        untagged: dict[str, list[str]] = {}
        if hub is not None:
            projects = [p for p in hub.projects() if not self.projects or p.name in self.projects]
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
        if self.projects:
            repos = [r for r in repos if any(r == p or r.startswith(p + "/") for p in self.projects)]
        return sorted(repos), untagged

    def sync(self) -> tuple[str, sync.PullResult]:
        """Bring the layout up to date with the registry (verified; nothing backed up yet).

        The registry is asked first: a wrong URL, CA file or password creates no cache directory.
        """
        layout = Layout(self.cache)
        with RegistryClient(self.options) as client:
            client.ping()
            try:
                return client.host, self._pull(client, layout.ensure())
            except OSError as exc:
                if not _inside(exc.filename, self.cache):
                    raise
                raise _cache_write_failed(layout, exc) from exc

    def _pull(self, client: RegistryClient, layout: Layout) -> sync.PullResult:
        hub = harbor_api.Harbor(client) if self.harbor else None
        repos, untagged = self._repositories(client, hub, layout)
        if not repos:
            raise OperationFailed(f"registry {client.host} has no repositories to back up"
                                  + (f" in project(s) {', '.join(self.projects)}" if self.projects else ""))
        result = sync.pull(client, layout, repos, concurrency=self.options.concurrency, progress=self.progress,
                           untagged=untagged)
        self.last_pull = result
        return result

    def back_up(self, repository: Repository, cluster: str) -> BackupResult:
        repository.require()  # before fetching gigabytes for a repository that is not there
        host, result = self.sync()
        tags = snapshot_tags("registry", cluster, {"registry": host})
        summary = repository.backup_paths([Path(LAYOUT_DIR)], tags, cwd=self.cache)
        details = {"registry": host, "repositories": result.repositories, "tags": result.tags,
                   "manifests": len(result.entries), "blobs_fetched": result.blobs_fetched,
                   "bytes_fetched": result.bytes_fetched, "blobs_removed": result.removed,
                   "layout_bytes": Layout(self.cache).stored_bytes()}
        return BackupResult("registry", cluster, summary.snapshot_id, details, summary)


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


@dataclass
class RestoreRequest:
    options: RegistryOptions
    snapshot: str = "latest"
    cluster: str | None = None
    project_map: tuple[str, ...] = ()
    harbor: bool = False
    workdir: Path | None = None
    keep: bool = False
    progress: bool = True


def find_layout(directory: Path) -> Layout:
    """restic restores the `layout/` directory somewhere under `directory`: find its index.json."""
    for index in sorted(directory.rglob("index.json"), key=lambda p: len(p.parts)):
        if index.parent.name == LAYOUT_DIR and (index.parent / "oci-layout").exists():
            return Layout.at(index.parent)
    raise OperationFailed(f"the snapshot restored into {directory} holds no registry layout")


def restore_registry(repository: Repository, request: RestoreRequest) -> dict:
    mapping = sync.parse_project_map(request.project_map)
    snapshot = repository.resolve(request.snapshot, selection("registry", request.cluster))
    base = request.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-registry-restore-", dir=base))
    try:
        repository.restore(snapshot.id, workdir)
        layout = find_layout(workdir)
        entries = layout.entries()
        if not entries:
            raise BadInput(f"snapshot {snapshot.short_id} holds an empty registry layout")
        with RegistryClient(request.options) as client:
            client.ping()
            created: list[str] = []
            charts = 0
            if request.harbor:
                hub = harbor_api.Harbor(client)
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
                        target = sync.map_repository(project_dir.name, mapping)
                        if target != project_dir.name:
                            shutil.copytree(project_dir, chart_dir / target, dirs_exist_ok=True)
                        charts += hub.restore_charts(target, chart_dir)
            result = sync.push(client, layout, entries, project_map=mapping, concurrency=request.options.concurrency,
                               progress=request.progress)
            return {"snapshot_id": snapshot.id, "registry": client.host, "repositories": result.repositories,
                    "tags": result.tags, "manifests": result.manifests, "blobs_pushed": result.blobs_pushed,
                    "blobs_mounted": result.blobs_mounted, "blobs_present": result.blobs_present,
                    "bytes_pushed": result.bytes_pushed, "projects_created": created, "charts": charts}
    finally:
        if not request.keep:
            shutil.rmtree(workdir, ignore_errors=True)
