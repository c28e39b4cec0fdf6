"""Sandbox components for the demo, on 127.0.0.1 with ports the OS hands out, stopped by pid:
a 3-member etcd (Debian's etcd 3.5, found on PATH) and docker-registry instances filled with sample images, a
multi-arch index and a Helm chart artifact."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyetcd import etcdrpc

from kubekeeper import execute
from kubekeeper.errors import OperationFailed
from kubekeeper.etcd.client import Endpoint, EtcdClient
from kubekeeper.execute import Command
from kubekeeper.registry import media
from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.media import Descriptor

MEMBERS = ("etcd-0", "etcd-1", "etcd-2")
DEMO_KEYS = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def sandbox_registry(workdir: Path) -> Iterator[str]:
    """A docker-registry on a free loopback port; stopped (by its pid) on exit."""
    port = free_port()
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
             "platform": {"os": "linux", "architecture": p}} for c, p in zip(children, ("amd64", "arm64"), strict=True)]}
        client.put_manifest("demo/tool", "latest", json.dumps(index).encode(), media.OCI_INDEX)
        _push_image(client, tmp, "charts/demo-chart", "0.1.0", [os.urandom(4096)], media.HELM_CONFIG,
                    "application/vnd.cncf.helm.chart.content.v1.tar+gzip")


def digests(url: str) -> dict[str, str]:
    """repository:tag -> manifest digest."""
    with RegistryClient(RegistryOptions(url)) as client:
        return {f"{repo}:{tag}": client.head_manifest(repo, tag).digest  # type: ignore[union-attr]
                for repo in client.catalog() for tag in client.tags(repo)}


def wait_for_port(url: str, deadline: float) -> None:
    host, port = url.rsplit("/", 1)[-1].split(":")
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, int(port))) == 0:
                return
        time.sleep(0.1)


@dataclass
class Member:
    name: str
    client_url: str
    peer_url: str
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None


class SandboxEtcdCluster:
    """Three etcd members on loopback; stopped by pid."""

    def __init__(self, workdir: Path, suffix: str) -> None:
        self.binary, self.workdir = Path(execute.require("etcd")), workdir
        self.members = [
            Member(name, f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}", workdir / f"{name}-{suffix}")
            for name in MEMBERS
        ]

    @property
    def initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    def start(self, timeout: float = 60.0) -> SandboxEtcdCluster:
        for m in self.members:
            argv = (
                str(self.binary), "--name", m.name, "--data-dir", str(m.data_dir),
                "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", self.initial_cluster, "--initial-cluster-token", "kubekeeper-demo",
                "--logger", "zap", "--log-level", "warn", "--log-outputs", str(self.workdir / f"{m.data_dir.name}.log"),
            )
            m.proc = execute.popen(Command(argv), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        for m in self.members:  # ports first, so the client does not warn about members still starting
            wait_for_port(m.client_url, deadline)
        with EtcdClient([Endpoint.parse(u) for u in self.endpoints], timeout=3) as client:
            while True:
                try:
                    view = client.discover()
                    if view.leader_id and len(view.statuses) == len(self.members):
                        return self
                except OperationFailed:
                    pass
                if time.monotonic() > deadline or any(m.proc and m.proc.poll() is not None for m in self.members):
                    raise OperationFailed(f"sandbox etcd cluster did not start (logs in {self.workdir})")
                time.sleep(0.2)

    def stop(self) -> None:
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.terminate()
                try:
                    m.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait()

    def _kv(self, client: EtcdClient) -> object:
        return client._client(self.members[0].client_url).kvstub

    def fill(self, keys: int = DEMO_KEYS) -> None:
        """`keys` config-map-like keys with random values, 100 per transaction."""
        with EtcdClient([Endpoint.parse(self.members[0].client_url)], timeout=5) as client:
            kv = self._kv(client)
            for start in range(0, keys, 100):
                ops = [
                    etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
                        key=f"/registry/configmaps/demo/cm-{i:04d}".encode(), value=secrets.token_bytes(64)))
                    for i in range(start, min(start + 100, keys))
                ]
                kv.Txn(etcdrpc.TxnRequest(success=ops), 30)  # type: ignore[attr-defined]

    def contents(self) -> tuple[dict[bytes, bytes], int]:
        """Every key and value, and the store's revision."""
        with EtcdClient([Endpoint.parse(self.members[0].client_url)], timeout=5) as client:
            response = self._kv(client).Range(etcdrpc.RangeRequest(key=b"\0", range_end=b"\0"), 30)  # type: ignore[attr-defined]
            return {kv.key: kv.value for kv in response.kvs}, response.header.revision
