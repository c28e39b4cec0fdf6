"""Progress reaches the registry engine as a callback (kubekeeper.progress), not an import: the bytes
sync.pull and sync.push count are the bytes of the blobs they move, against a real docker-registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kubekeeper import progress
from kubekeeper.registry import sync
from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.layout import Layout
from tests.e2e.registry.sandbox import Filler


class Counted:
    """A kubekeeper.progress.Transfers that records, per transfer, the total announced and the bytes advanced."""

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = {}

    @contextmanager
    def __call__(self, description: str) -> Iterator[progress.Transfer]:
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


def test_true_means_the_transfers_the_cli_set_and_false_means_silent(registry_factory, tmp_path):
    source = registry_factory("source")
    layer = os.urandom(100_000)
    Filler(source).image("team/app", "v1", [layer], oci=True)
    shown = Counted()
    progress.show_with(shown)
    try:
        with RegistryClient(RegistryOptions(source.url)) as client:
            sync.pull(client, Layout(tmp_path / "quiet"), ["team/app"], progress=False)
        assert shown.seen == {}
        with RegistryClient(RegistryOptions(source.url)) as client:
            pulled = sync.pull(client, Layout(tmp_path / "shown"), ["team/app"], progress=True)
    finally:
        progress.show_with(progress.silent)
    assert shown.seen["fetching blobs"] == [pulled.bytes_fetched, pulled.bytes_fetched] and pulled.bytes_fetched > len(layer)
