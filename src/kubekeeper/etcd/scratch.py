"""A scratch etcd for point-in-time restore: the full snapshot restored into a private directory,
started on 127.0.0.1 with free ports, the folded deltas written into it, a verified snapshot taken
back out, and the process stopped by its pid.

Why a scratch etcd and not bbolt written directly: etcd's on-disk format (the key bucket indexed by
revision, the meta bucket's consistent index and term, lease records, the cluster membership that
`snapshot restore` rewrites) is etcd's private business and changes between minor versions; the
real etcd of the snapshot's version writes its own format exactly, and every key the restore puts
back goes through the same code that wrote it in the source. The cost is a process start (about a
second) and a gRPC round trip per batch, which batching makes small (see bench/bench_etcd_replay.py).

The replay is deterministic - deletes, then puts, in key order, in batches of fixed size - so every
member of a restored cluster that replays the same chain to the same revision gets the same db.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
from pyetcd import etcdrpc

from kubekeeper import execute
from kubekeeper.errors import CommandNotFound, OperationFailed
from kubekeeper.etcd.client import EtcdClient, parse_endpoints
from kubekeeper.etcd.delta import Event, Folded
from kubekeeper.etcd.restore import MemberRestore, RestoreTool, restore_member
from kubekeeper.etcd.snapshot import SnapshotInfo, save_snapshot
from kubekeeper.execute import Command

log = logging.getLogger(__name__)

#: operations per transaction (the scratch etcd is started with this --max-txn-ops)
BATCH_OPS = 1000
#: bytes of keys and values per transaction (below the scratch etcd's --max-request-bytes)
BATCH_BYTES = 8 << 20
MAX_REQUEST_BYTES = 32 << 20
#: TTL for a lease the follower could not ask about (revoked before it looked): Kubernetes' event TTL
DEFAULT_LEASE_TTL = 3600
NAME = "scratch"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_etcd(tool: RestoreTool) -> str:
    """The etcd server next to the restore tool (Debian installs both in /usr/bin), else on PATH."""
    beside = Path(tool.path).with_name("etcd")
    if beside.is_file():
        return str(beside)
    found = shutil.which("etcd")
    if not found:
        raise CommandNotFound("etcd (the server) not found next to the restore tool or on PATH: point-in-time restore "
                              "replays the changes in a scratch etcd (Debian: etcd-server)")
    return found


class ScratchEtcd:
    """`with ScratchEtcd(...) as scratch:` restores, starts, and finally stops (by pid) a one-member etcd."""

    def __init__(self, tool: RestoreTool, snapshot_file: Path, workdir: Path) -> None:
        self.tool = tool
        self.snapshot_file = snapshot_file
        self.workdir = workdir
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_tail: list[bytes] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def __enter__(self) -> ScratchEtcd:
        peer = f"http://127.0.0.1:{self.peer_port}"
        member = MemberRestore.build(NAME, f"{NAME}={peer}", self.workdir / "scratch.etcd")
        restore_member(self.tool, self.snapshot_file, member)
        argv = (
            find_etcd(self.tool), "--name", NAME, "--data-dir", str(member.data_dir),
            "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", f"{NAME}={peer}",
            "--unsafe-no-fsync", "--max-txn-ops", str(BATCH_OPS), "--max-request-bytes", str(MAX_REQUEST_BYTES),
            "--quota-backend-bytes", str(8 << 30), "--log-level", "error",
            "--log-outputs", str(self.workdir / "scratch-etcd.log"),
        )
        self.proc = execute.popen(Command(argv), stdout=subprocess.DEVNULL)
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail = (self.stderr_tail + [line])[-20:]

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise OperationFailed(f"the scratch etcd exited with {self.proc.returncode}: "
                                          + b"".join(self.stderr_tail).decode("utf-8", "replace")[-500:])
                try:
                    status = client.status(self.url)
                    if status.is_leader:
                        return
                except grpc.RpcError:
                    client.forget(self.url)
                time.sleep(0.1)
        raise OperationFailed(f"the scratch etcd did not become ready in {timeout:.0f} s (log: {self.workdir / 'scratch-etcd.log'})")

    def client(self) -> EtcdClient:
        return EtcdClient(parse_endpoints(self.url), timeout=60.0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    # ------------------------------------------------------------------ replay
    def apply(self, folded: Folded, lease_ttls: dict[int, int]) -> int:
        """Write the folded changes (deletes, then puts, in key order); returns the store's revision after."""
        with self.client() as client:
            kv = client._client(self.url).kvstub
            self._grant_leases(client, {e.lease for e in folded.last.values() if e.lease}, lease_ttls)
            revision = 0
            for ops in _batches(folded.deletes(), folded.puts()):
                response = kv.Txn(etcdrpc.TxnRequest(success=ops), 120.0)
                revision = int(response.header.revision)
            if not revision:
                revision = client.status(self.url).revision
            return revision

    def _grant_leases(self, client: EtcdClient, leases: set[int], ttls: dict[int, int]) -> None:
        stub = client._client(self.url).leasestub
        for lease in sorted(leases):
            if client.lease_ttl(self.url, lease) is not None:
                continue  # in the full snapshot already
            ttl = ttls.get(lease, DEFAULT_LEASE_TTL)
            stub.LeaseGrant(etcdrpc.LeaseGrantRequest(ID=lease, TTL=ttl), 30.0)

    def read_all(self) -> tuple[dict[bytes, bytes], int]:
        with self.client() as client:
            return client.read_all(self.url)

    def save(self, path: Path) -> SnapshotInfo:
        """A verified snapshot of the replayed store (the same path as a backup takes)."""
        with self.client() as client:
            return save_snapshot(client, path, attempts=1, leader_wait=10)


def _batches(deletes: Sequence[bytes], puts: Sequence[Event]) -> Iterator[list[etcdrpc.RequestOp]]:
    ops: list[etcdrpc.RequestOp] = []
    size = 0
    for key in deletes:
        ops.append(etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=key)))
        size += len(key)
        if len(ops) >= BATCH_OPS or size >= BATCH_BYTES:
            yield ops
            ops, size = [], 0
    if ops:
        yield ops  # deletes and puts never share a transaction: a key is never both
        ops, size = [], 0
    for event in puts:
        ops.append(etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=event.key, value=event.value, lease=event.lease)))
        size += len(event.key) + len(event.value)
        if len(ops) >= BATCH_OPS or size >= BATCH_BYTES:
            yield ops
            ops, size = [], 0
    if ops:
        yield ops
