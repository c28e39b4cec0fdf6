"""Progress reaches the registry engine as a callback (kubekeeper.progress), not an import: the bytes
sync.pull and sync.push count are the bytes of the blobs they move, against a real docker-registry;
the registry source hands the caller's Progress on, for backup and restore alike."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kubekeeper import progress
from kubekeeper.backup.sources.registry import SOURCE, RegistryOrigin, RegistryTarget
from kubekeeper.registry import sync
from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.layout import Layout
from tests.e2e.registry.sandbox import Filler


class Counted:
    """A kubekeeper.progress.Progress that records the phases, and per transfer the total announced and
    the bytes advanced."""

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = {}
        self.phases: list[str] = []

    def phase(self, description: str) -> None:
        self.phases.append(description)

    @contextmanager
    def transfer(self, description: str, unit: str = progress.BYTES) -> Iterator[progress.Transfer]:
        yield Count(self.seen.setdefault(description, [0, 0]))


class Count:
    def __init__(self, counts: list[int]) -> None:
        self.counts = counts

    def add_total(self, size: int) -> None:
        self.counts[0] += size

    def advance(self, size: int) -> None:
        self.counts[1] += size


def test_pull_and_push_count_the_blob_bytes_they_move(registry_factory, tmp_path):
    source, target = registry_factory("source"), registry_factory("target")
    layers = [os.urandom(200_000), os.urandom(300_000)]
    image = Filler(source).image("team/app", "v1", layers, oci=True)
    assert image["digest"]
    layout = Layout(tmp_path / "cache")
    counted = Counted()
    with RegistryClient(RegistryOptions(source.url)) as client:
        pulled = sync.pull(client, layout, ["team/app"], concurrency=2, progress=counted)
    fetched = pulled.bytes_fetched
    assert fetched >= sum(map(len, layers)) and counted.seen["fetching blobs"] == [fetched, fetched]

    again = Counted()
    with RegistryClient(RegistryOptions(source.url)) as client:
        sync.pull(client, layout, ["team/app"], progress=again)
    assert again.seen["fetching blobs"] == [0, 0]  # nothing missing, nothing counted

    pushed_counts = Counted()
    with RegistryClient(RegistryOptions(target.url)) as client:
        pushed = sync.push(client, layout, layout.entries(), progress=pushed_counts)
    assert pushed.bytes_pushed == fetched and pushed_counts.seen["pushing blobs"] == [fetched, fetched]


def test_the_registry_source_counts_on_the_progress_it_is_given(registry_factory, registry_restic_repo, tmp_path):
    """Backup and restore through the Source interface: the blobs moved are counted on the caller's
    Progress - and on nothing else when it is the silent default."""
    from kubekeeper.repository import Repository, RepoSpec

    source, target = registry_factory("source"), registry_factory("target")
    layer = os.urandom(150_000)
    Filler(source).image("team/app", "v1", [layer], oci=True)
    repository = Repository(RepoSpec.from_options(registry_restic_repo, None))
    counted = Counted()
    stored = SOURCE.back_up(repository, RegistryOrigin(RegistryOptions(source.url), tmp_path / "cache"), cluster="lab",
                            progress=counted)
    fetched = stored.details["bytes_fetched"]
    assert fetched > len(layer) and counted.seen["fetching blobs"] == [fetched, fetched]
    assert counted.seen["listing tags and manifests of repositories"] == [1, 1]  # items: one repository
    stored_layout = counted.seen[f"storing registry {source.url.split('//', 1)[1]}"]  # restic's own count of the bytes it read
    assert stored_layout[0] == stored_layout[1] >= fetched

    pushed_counts = Counted()
    into = RegistryTarget(RegistryOptions(target.url))
    restored = SOURCE.restore(repository, SOURCE.find(repository, stored.snapshot_id, cluster="lab"), into, progress=pushed_counts)
    assert restored.details["bytes_pushed"] == fetched and pushed_counts.seen["pushing blobs"] == [fetched, fetched]
    restic_restore = next(counts for name, counts in pushed_counts.seen.items() if name.startswith("restoring "))
    assert restic_restore[1] >= fetched
