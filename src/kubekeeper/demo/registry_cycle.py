"""Demo step: a registry backup and restore on two sandbox registries (Debian docker-registry on
127.0.0.1), with sample images sharing a layer, a multi-arch index and a Helm chart artifact."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from rich.table import Table

from kubekeeper import execute
from kubekeeper.backup.registry import RegistrySource, RestoreRequest, restore_registry
from kubekeeper.errors import OperationFailed
from kubekeeper.execute import Command
from kubekeeper.registry import media
from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.media import Descriptor
from kubekeeper.repository import Repository, RepoSpec
from kubekeeper.report.console import stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_registry(workdir: Path) -> Iterator[str]:
    """A docker-registry on a free loopback port; stopped (by its pid) on exit."""
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n")
    process = execute.popen(Command((execute.require("docker-registry"), "serve", str(config))), stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        with RegistryClient(RegistryOptions(url, retries=0)) as client:
            for _ in range(100):
                try:
                    client.ping()
                    break
                except OperationFailed:
                    if process.poll() is not None:
                        raise OperationFailed("docker-registry exited at start") from None
                    time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _push_image(client: RegistryClient, tmp: Path, repo: str, tag: str | None, layers: list[bytes], config_type: str,
                layer_type: str, platform: str = "linux/amd64") -> Descriptor:
    os_, arch = platform.split("/")
    blobs = [json.dumps({"architecture": arch, "os": os_, "salt": secrets.token_hex(4)}).encode(), *layers]
    descs = []
    for data in blobs:
        path = tmp / "blob"
        path.write_bytes(data)
        desc = Descriptor("", media.sha256_digest(data), len(data))
        if not client.has_blob(repo, desc.digest, push=True):
            client.upload_blob(repo, desc, path)
        descs.append({"digest": desc.digest, "size": desc.size})
    doc = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST, "config": {**descs[0], "mediaType": config_type},
           "layers": [{**d, "mediaType": layer_type} for d in descs[1:]]}
    data = json.dumps(doc).encode()
    digest = client.put_manifest(repo, tag or media.sha256_digest(data), data, media.OCI_MANIFEST)
    return Descriptor(media.OCI_MANIFEST, digest, len(data))


def fill_samples(url: str, tmp: Path) -> None:
    """Two images sharing a base layer, a two-platform index, and a Helm chart as an OCI artifact."""
    tmp.mkdir(parents=True, exist_ok=True)
    base = os.urandom(256 * 1024)
    image_cfg, layer = "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"
    with RegistryClient(RegistryOptions(url)) as client:
        _push_image(client, tmp, "demo/web", "1.0", [base, os.urandom(64 * 1024)], image_cfg, layer)
        _push_image(client, tmp, "demo/api", "2.3", [base, os.urandom(64 * 1024)], image_cfg, layer)
        children = [_push_image(client, tmp, "demo/tool", None, [base, os.urandom(1024)], image_cfg, layer, p)
                    for p in ("linux/amd64", "linux/arm64")]
        index = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [
            {"mediaType": c.media_type, "digest": c.digest, "size": c.size,
             "platform": {"os": "linux", "architecture": p}} for c, p in zip(children, ("amd64", "arm64"))]}
        client.put_manifest("demo/tool", "latest", json.dumps(index).encode(), media.OCI_INDEX)
        _push_image(client, tmp, "charts/demo-chart", "0.1.0", [os.urandom(4096)], media.HELM_CONFIG,
                    "application/vnd.cncf.helm.chart.content.v1.tar+gzip")


def digests(url: str) -> dict[str, str]:
    """repository:tag -> manifest digest."""
    with RegistryClient(RegistryOptions(url)) as client:
        return {f"{repo}:{tag}": client.head_manifest(repo, tag).digest  # type: ignore[union-attr]
                for repo in client.catalog() for tag in client.tags(repo)}


def demo_registry_cycle(workdir: Path) -> None:
    """Back up a sandbox registry into restic, restore it into an empty one, compare every digest."""
    stdout.rule("[bold]registry backup and restore[/bold]")
    password = workdir / "restic-password"
    password.write_text(secrets.token_urlsafe(16))
    repository = Repository(RepoSpec(str(workdir / "restic-registry"), password_file=password))
    with sandbox_registry(workdir / "registry-a") as source, sandbox_registry(workdir / "registry-b") as target:
        fill_samples(source, workdir / "samples")
        result = RegistrySource(RegistryOptions(source), workdir / "registry-cache", progress=False).back_up(repository, "demo")
        stdout.print(f"backed up {source}: snapshot {result.snapshot_id[:8]}, {result.details['tags']} tags, "
                     f"{result.details['blobs_fetched']} blobs fetched once each")
        report = restore_registry(repository, RestoreRequest(RegistryOptions(target), cluster="demo", progress=False))
        stdout.print(f"restored into {target}: {report['blobs_pushed']} blobs uploaded, {report['blobs_mounted']} mounted")
        before, after = digests(source), digests(target)
    table = Table("reference", "digest", "restored")
    for ref, digest in sorted(before.items()):
        table.add_row(ref, digest[:19] + "…", "[green]identical[/green]" if after.get(ref) == digest else "[red]DIFFERENT[/red]")
    stdout.print(table)
    if before != after:
        raise OperationFailed("demo: restored registry differs from the source")
