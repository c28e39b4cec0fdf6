"""The registry of data sources and the shape each one has (backup/source.py), plus what each source
lists as a snapshot's content - read from a recording repository, no restic."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import pytest

from kubekeeper.backup import sources
from kubekeeper.backup.source import Entry, Source
from kubekeeper.backup.sources import etcd, registry, volume
from kubekeeper.repository import Snapshot, snapshot_tags


@pytest.mark.parametrize("entry", sources.registered(), ids=lambda e: e.kind)
def test_every_registered_source_has_the_shape_and_its_names(entry: sources.Registered) -> None:
    source = entry.load()
    assert isinstance(source, Source)
    assert (source.kind, source.part) == (entry.kind, entry.part)
    commands = importlib.import_module(f"kubekeeper.cli.sources.{entry.kind}")  # found by kind, by cli/main.py
    assert callable(commands.register)


def test_names_are_unique_and_restore_order_is_total() -> None:
    registered = sources.registered()
    assert len(set(sources.kinds())) == len(registered) == len(set(sources.parts()))
    assert len({e.restore_order for e in registered}) == len(registered)
    assert [e.kind for e in sources.in_restore_order()] == ["etcd", "registry", "volume"]
    assert sources.one_of(("a",)) == "a" and sources.one_of(("a", "b", "c")) == "a, b or c"


@dataclass
class ListingRepo:
    """`restic ls` nodes and `restic dump` contents of one snapshot."""

    nodes: list[dict[str, Any]]
    files: dict[str, bytes] = field(default_factory=dict)

    def list_files(self, snapshot_id: str) -> list[dict[str, Any]]:
        return self.nodes

    def dump(self, snapshot_id: str, path: str, out: IO[bytes]) -> None:
        out.write(self.files[path])


def snapshot(kind: str, **details: object) -> Snapshot:
    tags = tuple(snapshot_tags(kind, "lab", details))
    return Snapshot("a" * 64, "aaaaaaaa", datetime(2025, 1, 1, tzinfo=UTC), "h", ("/",), tags)


def test_volume_contents_are_every_node_below_the_root_and_nothing_for_an_empty_volume() -> None:
    nodes = [{"path": "/", "type": "dir"}, {"path": "/a", "type": "dir", "mtime": "t1"},
             {"path": "/a/x.dat", "type": "file", "size": 12, "mtime": "t2"}, {"path": "/l", "type": "symlink", "mtime": "t3"}]
    repo = ListingRepo(nodes)
    listed = list(volume.SOURCE.contents(repo, snapshot("volume", pvc="db", part="data")))  # type: ignore[arg-type]
    assert listed == [Entry("/a", "dir", None, "0:t1"), Entry("/a/x.dat", "file", 12, "12:t2"), Entry("/l", "symlink", None, "0:t3")]
    empty = snapshot("volume", pvc="db", part="data", empty="true")
    assert list(volume.SOURCE.contents(ListingRepo([{"path": "/kubekeeper-empty-volume.json", "type": "file"}]), empty)) == []  # type: ignore[arg-type]
    assert volume.SOURCE.describe(snapshot("volume", pvc="db", part="meta")) == "db (objects)"


def test_registry_contents_are_the_references_of_the_stored_index() -> None:
    digest_a, digest_b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    index = {"manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest_b, "size": 500,
         "annotations": {"io.kubekeeper.repository": "team/app", "org.opencontainers.image.ref.name": "v2"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest_a, "size": 400,
         "annotations": {"io.kubekeeper.repository": "team/app"}},
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest_a, "size": 1, "annotations": {}},
    ]}
    repo = ListingRepo([{"path": "/layout", "type": "dir"}, {"path": "/layout/index.json", "type": "file", "size": 9}],
                       {"/layout/index.json": json.dumps(index).encode()})
    listed = list(registry.SOURCE.contents(repo, snapshot("registry", registry="r.example")))  # type: ignore[arg-type]
    assert listed == [Entry("team/app:v2", "manifest", 500, digest_b), Entry(f"team/app@{digest_a}", "manifest", 400, digest_a)]
    assert list(registry.SOURCE.contents(ListingRepo([]), snapshot("registry"))) == []  # type: ignore[arg-type]


def test_etcd_contents_are_the_db_by_revision() -> None:
    repo = ListingRepo([{"path": "/etcd-snapshot.db", "type": "file", "size": 20480}])
    listed = list(etcd.SOURCE.contents(repo, snapshot("etcd", revision=1234)))  # type: ignore[arg-type]
    assert listed == [Entry("/etcd-snapshot.db", "file", 20480, "revision 1234")]
    assert etcd.SOURCE.describe(snapshot("etcd", revision=1234)) == "1234"
