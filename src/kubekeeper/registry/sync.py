"""Sync both ways between a registry and the layout.

pull (backup): list repositories and tags, HEAD each tag, walk manifests not yet stored, then fetch
only the blobs the layout lacks, in parallel and deduplicated across repositories.
push (restore): per blob, HEAD the target, mount from a target repository that already has it, else
upload; then manifests children-first, then tags; referrers after their subjects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from kubekeeper.errors import BadInput
from kubekeeper.progress import ITEMS, SILENT, Progress
from kubekeeper.registry import media
from kubekeeper.registry.client import RegistryClient
from kubekeeper.registry.layout import Entry, Layout
from kubekeeper.registry.media import Descriptor

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """Run fn over items with at most `workers` threads; the first error is raised."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


@dataclass
class PullResult:
    entries: list[Entry]
    repositories: int
    tags: int
    blobs_needed: int
    blobs_fetched: int
    bytes_fetched: int
    removed: int = 0


@dataclass
class _PullState:
    missing: dict[str, tuple[str, Descriptor]] = field(default_factory=dict)  # digest -> (repo, desc)
    entries: list[Entry] = field(default_factory=list)


def _walk(client: RegistryClient, layout: Layout, repo: str, digest: str, state: _PullState, seen: set[str]) -> None:
    """Store the manifest (if new) and its children; note blobs the layout lacks."""
    if digest in seen:
        return
    seen.add(digest)
    if layout.has(digest):
        data = layout.read(digest)
    else:
        data, _, actual = client.get_manifest(repo, digest)
        layout.put_bytes(data, actual)
    parsed = media.parse(data)
    for child in parsed.manifests:
        _walk(client, layout, repo, child.digest, state, seen)
    for blob in parsed.blobs:
        if not layout.has(blob.digest):
            state.missing.setdefault(blob.digest, (repo, blob))


def pull_repository(client: RegistryClient, layout: Layout, repo: str, state: _PullState, use_referrers: list[bool | None],
                    extra_digests: Sequence[str] = ()) -> list[Entry]:
    entries: list[Entry] = []
    seen: set[str] = set()
    tops: list[tuple[str | None, Descriptor]] = []
    tag: str | None
    for tag in client.tags(repo):
        desc = client.head_manifest(repo, tag)
        if desc is None:
            continue  # deleted between listing and HEAD
        tops.append((tag, desc))
    for digest in extra_digests:  # untagged artifacts (Harbor lists them)
        tops.append((None, Descriptor("", digest, 0)))
    for tag, desc in tops:
        _walk(client, layout, repo, desc.digest, state, seen)
        data = layout.read(desc.digest)
        entries.append(Entry(repo, tag, desc.digest, media.parse(data).media_type, len(data)))
    if use_referrers[0] is not False:
        for _, desc in list(tops):
            found = client.referrers(repo, desc.digest)
            if found is None:
                use_referrers[0] = False  # no referrers API: the sha256-<hex> tags were listed above
                break
            use_referrers[0] = True
            for ref in found:
                if ref.digest not in seen:
                    _walk(client, layout, repo, ref.digest, state, seen)
                    data = layout.read(ref.digest)
                    entries.append(Entry(repo, None, ref.digest, media.parse(data).media_type, len(data)))
    return entries


def pull(client: RegistryClient, layout: Layout, repositories: Sequence[str], *, concurrency: int = 8,
         progress: Progress = SILENT, untagged: dict[str, list[str]] | None = None, gc: bool = True) -> PullResult:
    """Store every manifest of `repositories` and fetch the blobs the layout lacks; blob bytes are
    counted on `progress`."""
    layout.ensure()
    state = _PullState()
    use_referrers: list[bool | None] = [None]
    untagged = untagged or {}

    with progress.transfer("listing tags and manifests of repositories", unit=ITEMS) as listed:
        listed.add_total(len(repositories))

        def one(repo: str) -> list[Entry]:
            found = pull_repository(client, layout, repo, state, use_referrers, untagged.get(repo, ()))
            listed.advance(1)
            return found

        for found in parallel(one, repositories, concurrency):
            state.entries.extend(found)
    missing = list(state.missing.items())
    with progress.transfer("fetching blobs") as bar:
        bar.add_total(sum(desc.size for _, (_, desc) in missing))

        def fetch(item: tuple[str, tuple[str, Descriptor]]) -> None:
            digest, (repo, desc) = item
            if layout.has(digest):
                return
            client.fetch_blob(repo, desc, layout.partial_path(digest), bar.advance)
            layout.commit(digest)

        parallel(fetch, sorted(missing, key=lambda i: -i[1][1].size), concurrency)
    layout.write_index(state.entries)
    removed = layout.gc(state.entries) if gc else 0
    return PullResult(state.entries, len(repositories), sum(1 for e in state.entries if e.tag is not None),
                      len(missing), client.stats.blobs_fetched, client.stats.bytes_fetched, removed)


# ---------------------------------------------------------------------- push


def parse_project_map(pairs: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        old, new = old.strip("/ "), new.strip("/ ")
        if not sep or not old or not new:
            raise BadInput(f"--project-map takes OLD=NEW, not {pair!r}")
        mapping[old] = new
    return mapping


def map_repository(repo: str, mapping: dict[str, str]) -> str:
    """Rename the leading path component(s): `--project-map library=prod` makes library/x prod/x."""
    for old in sorted(mapping, key=len, reverse=True):
        if repo == old or repo.startswith(old + "/"):
            return mapping[old] + repo[len(old):]
    return repo


@dataclass
class PushResult:
    repositories: int
    tags: int
    manifests: int
    blobs_pushed: int
    blobs_mounted: int
    blobs_present: int
    bytes_pushed: int


def push(client: RegistryClient, layout: Layout, entries: Sequence[Entry], *, project_map: dict[str, str] | None = None,
         concurrency: int = 8, progress: Progress = SILENT) -> PushResult:
    mapping = project_map or {}
    by_repo: dict[str, list[Entry]] = {}
    for entry in entries:
        by_repo.setdefault(map_repository(entry.repository, mapping), []).append(entry)
    blob_repos: dict[str, list[str]] = {}  # digest -> target repos that need it
    blob_desc: dict[str, Descriptor] = {}
    manifest_order: dict[str, list[str]] = {}
    for repo, repo_entries in by_repo.items():
        order: list[str] = []
        for entry in sorted(repo_entries, key=lambda e: _is_referrer(layout, e)):
            for digest, desc in layout.closure(entry.digest):
                if desc is not None:
                    if repo not in blob_repos.setdefault(digest, []):
                        blob_repos[digest].append(repo)
                    blob_desc[digest] = desc
                elif digest not in order:
                    order.append(digest)
        manifest_order[repo] = order
    with progress.transfer("pushing blobs") as bar:
        bar.add_total(sum(blob_desc[d].size for d in blob_repos))

        def place(digest: str) -> None:
            """First repository: HEAD, else upload; the others: HEAD, else mount from it."""
            repos = blob_repos[digest]
            source: str | None = None
            for repo in repos:
                if client.has_blob(repo, digest, push=True):
                    client.stats.add(blobs_present=1)
                    source = source or repo
                    continue
                if source and client.mount_blob(repo, digest, source):
                    continue
                client.upload_blob(repo, blob_desc[digest], layout.blob_path(digest), bar.advance)
                source = source or repo

        parallel(place, sorted(blob_repos, key=lambda d: -blob_desc[d].size), concurrency)

    def manifests(repo: str) -> None:
        for digest in manifest_order[repo]:
            if client.head_manifest(repo, digest) is None:
                data = layout.read(digest)
                client.put_manifest(repo, digest, data, media.parse(data).media_type)
        for entry in by_repo[repo]:
            if entry.tag is None:
                continue
            current = client.head_manifest(repo, entry.tag)
            if current is None or current.digest != entry.digest:
                data = layout.read(entry.digest)
                client.put_manifest(repo, entry.tag, data, media.parse(data).media_type)

    parallel(manifests, sorted(by_repo), concurrency)
    stats = client.stats
    return PushResult(len(by_repo), sum(1 for e in entries if e.tag is not None), sum(map(len, manifest_order.values())),
                      stats.blobs_pushed, stats.blobs_mounted, stats.blobs_present, stats.bytes_pushed)


def _is_referrer(layout: Layout, entry: Entry) -> bool:
    return media.parse(layout.read(entry.digest)).subject is not None
