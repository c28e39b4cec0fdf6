"""etcd v3 over gRPC (through pyetcd, the `etcd-sdk-python` package): status, members, the leader,
and the Maintenance.Snapshot stream.

Why our own thin layer: the library's multi-endpoint client picks an endpoint at random and its
`status()` hides which member answered; a backup must know exactly who the leader is, skip members
that do not answer (with a warning) and talk to one chosen member for the snapshot.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pyetcd
from pyetcd import etcdrpc

from kubekeeper import urls
from kubekeeper.errors import BadInput, OperationFailed

log = logging.getLogger(__name__)

#: detect a dead peer on a long snapshot stream (etcd's server enforcement allows >= 5 s)
GRPC_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    # a watch response holds a whole transaction (up to --max-txn-ops values of up to --max-request-bytes)
    ("grpc.max_receive_message_length", 256 << 20),
    # a private subchannel per channel: a just-closed channel to the same member cannot stall a new one
    ("grpc.use_local_subchannel_pool", 1),
]


class EtcdUnreachable(OperationFailed):
    """No endpoint in the list answered."""


class NoLeader(OperationFailed):
    """The members that answered know no leader (election in progress or quorum lost)."""


class SnapshotInterrupted(OperationFailed):
    """The snapshot stream broke mid-way (member died, leader changed, network)."""


class WatchRequests:
    """The request side of a Watch stream: the create request, then nothing until closed."""

    def __init__(self, create: Any) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._queue.put(create)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        self._queue.put(None)


@dataclass
class WatchStream:
    """An open watch: iterate `responses()` (raw WatchResponse messages); `cancel()` from any thread."""

    url: str
    call: Any
    requests: WatchRequests

    def responses(self) -> Iterator[Any]:
        yield from self.call

    def cancel(self) -> None:
        self.requests.close()
        self.call.cancel()


@dataclass(frozen=True)
class TLSConfig:
    """Client TLS: the server is always verified (against `cacert` or the system roots)."""

    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise BadInput("--cert and --key go together (client certificate and its key)")
        for path in (self.cacert, self.cert, self.key):
            if path is not None and not Path(path).is_file():
                raise BadInput(f"TLS file not found: {path}")

    @property
    def enabled(self) -> bool:
        return any((self.cacert, self.cert, self.key))

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return grpc.ssl_channel_credentials(read(self.cacert), read(self.key), read(self.cert))


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int
    secure: bool

    @classmethod
    def parse(cls, text: str, tls: TLSConfig | None = None) -> Endpoint:
        url = urls.parse_http_url(text, "etcd endpoint", default_scheme="https" if tls and tls.enabled else "http")
        port = url.port or 2379
        host = f"[{url.host}]" if ":" in url.host else url.host
        return cls(f"{url.scheme}://{host}:{port}", url.host, port, url.scheme == "https")


def parse_endpoints(text: str | Sequence[str], tls: TLSConfig | None = None) -> list[Endpoint]:
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    endpoints = [Endpoint.parse(item, tls) for item in items if item.strip()]
    if not endpoints:
        raise BadInput("no etcd endpoints given (--endpoints URL,...)")
    return list(dict.fromkeys(endpoints))


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"id": f"{self.id:x}", "name": self.name, "peer_urls": list(self.peer_urls), "client_urls": list(self.client_urls)}


@dataclass(frozen=True)
class MemberStatus:
    endpoint: str
    member_id: int
    leader_id: int
    version: str
    db_size: int
    revision: int
    raft_term: int
    raft_index: int

    @property
    def is_leader(self) -> bool:
        return self.member_id == self.leader_id and self.leader_id != 0


@dataclass(frozen=True)
class ClusterView:
    """What the reachable endpoints say: statuses, the member list, and who did not answer."""

    statuses: tuple[MemberStatus, ...]
    members: tuple[Member, ...]
    unreachable: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def leader_id(self) -> int:
        votes = [s.leader_id for s in self.statuses if s.leader_id]
        # the leader's own word wins; otherwise the highest term's view
        own = [s.leader_id for s in self.statuses if s.is_leader]
        if own:
            return own[0]
        if not votes:
            return 0
        return max(self.statuses, key=lambda s: (s.raft_term, bool(s.leader_id))).leader_id

    @property
    def leader(self) -> Member | None:
        return next((m for m in self.members if m.id == self.leader_id), None)

    def leader_urls(self) -> list[str]:
        """Where to reach the leader: a listed endpoint it answered on, then its advertised URLs."""
        listed = [s.endpoint for s in self.statuses if s.member_id == self.leader_id]
        leader = self.leader
        advertised = list(leader.client_urls) if leader else []
        return list(dict.fromkeys(listed + advertised))

    def name_of(self, member_id: int) -> str:
        return next((m.name for m in self.members if m.id == member_id), f"{member_id:x}")

    @property
    def version(self) -> str:
        leader = [s.version for s in self.statuses if s.member_id == self.leader_id]
        return (leader or [s.version for s in self.statuses] or [""])[0]


def describe_rpc_error(exc: grpc.RpcError) -> str:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    name = code.name if code is not None else "ERROR"
    return f"{name}: {(details or '').strip().splitlines()[0] if details else name}"


class EtcdClient:
    """One gRPC channel per endpoint; every call names the endpoint it goes to."""

    def __init__(self, endpoints: Sequence[Endpoint], tls: TLSConfig | None = None, timeout: float = 5.0) -> None:
        self.endpoints = list(endpoints)
        self.tls = tls or TLSConfig()
        self.timeout = timeout
        self._clients: dict[str, pyetcd.MultiEndpointEtcd3Client] = {}

    # ------------------------------------------------------------------ plumbing
    def _client(self, url: str) -> pyetcd.MultiEndpointEtcd3Client:
        client = self._clients.get(url)
        if client is None:
            endpoint = Endpoint.parse(url, self.tls)
            if endpoint.secure:
                ep = pyetcd.Endpoint(endpoint.host, endpoint.port, secure=True, creds=self.tls.credentials(), opts=GRPC_OPTIONS)
            else:
                ep = pyetcd.Endpoint(endpoint.host, endpoint.port, secure=False, opts=GRPC_OPTIONS)
            client = self._clients[url] = pyetcd.MultiEndpointEtcd3Client(endpoints=[ep], timeout=self.timeout)
        return client

    def forget(self, url: str) -> None:
        """Drop a channel after a failure so the next call reconnects."""
        client = self._clients.pop(url, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        for url in list(self._clients):
            self.forget(url)

    def __enter__(self) -> EtcdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def status(self, url: str) -> MemberStatus:
        response = self._client(url).maintenancestub.Status(etcdrpc.StatusRequest(), self.timeout)
        return MemberStatus(
            endpoint=url,
            member_id=response.header.member_id,
            leader_id=response.leader,
            version=response.version,
            db_size=response.dbSize,
            revision=response.header.revision,
            raft_term=response.raftTerm,
            raft_index=response.raftIndex,
        )

    def members(self, url: str) -> list[Member]:
        response = self._client(url).clusterstub.MemberList(etcdrpc.MemberListRequest(), self.timeout)
        return [Member(m.ID, m.name, tuple(m.peerURLs), tuple(m.clientURLs)) for m in response.members]

    def discover(self) -> ClusterView:
        """Status of every endpoint and the member list; unreachable endpoints are skipped with a warning."""
        statuses: list[MemberStatus] = []
        unreachable: list[tuple[str, str]] = []
        members: list[Member] = []
        for endpoint in self.endpoints:
            try:
                statuses.append(self.status(endpoint.url))
                if not members:
                    members = self.members(endpoint.url)
            except grpc.RpcError as exc:
                reason = describe_rpc_error(exc)
                log.warning("etcd endpoint %s skipped: %s", endpoint.url, reason)
                unreachable.append((endpoint.url, reason))
                self.forget(endpoint.url)
        if not statuses:
            raise EtcdUnreachable(
                "no etcd endpoint answered: " + "; ".join(f"{url} ({reason})" for url, reason in unreachable)
            )
        return ClusterView(tuple(statuses), tuple(members), tuple(unreachable))

    def watch(self, url: str, start_revision: int) -> WatchStream:
        """A watch on the whole keyspace from `start_revision` on one member. `hasleader` metadata makes
        a member that loses its leader cancel the watch (a partitioned member would stall silently)."""
        requests = WatchRequests(etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(
            key=b"\0", range_end=b"\0", start_revision=start_revision)))
        stub = etcdrpc.WatchStub(self._client(url).channel)
        call = stub.Watch(iter(requests), metadata=(("hasleader", "true"),))
        return WatchStream(url, call, requests)

    def count_keys(self, url: str, revision: int = 0) -> tuple[int, int]:
        """(keys, store revision) at `revision` (0: now): a count-only range read of the whole keyspace."""
        response = self._client(url).kvstub.Range(
            etcdrpc.RangeRequest(key=b"\0", range_end=b"\0", revision=revision, count_only=True), self.timeout)
        return int(response.count), int(response.header.revision)

    def read_all(self, url: str, revision: int = 0) -> tuple[dict[bytes, bytes], int]:
        """Every key and value at `revision` (0: now), and the store revision: a range read in pages."""
        stub = self._client(url).kvstub
        found: dict[bytes, bytes] = {}
        start, store_revision = b"\0", 0
        while True:
            response = stub.Range(etcdrpc.RangeRequest(key=start, range_end=b"\0", revision=revision, limit=1000), self.timeout)
            store_revision = store_revision or int(response.header.revision)
            revision = revision or store_revision  # every page at the same revision
            for kv in response.kvs:
                found[kv.key] = kv.value
            if not response.more or not response.kvs:
                return found, revision
            start = response.kvs[-1].key + b"\0"

    def lease_ttl(self, url: str, lease_id: int) -> int | None:
        """The TTL a lease was granted with (None: the lease does not exist any more)."""
        response = self._client(url).leasestub.LeaseTimeToLive(etcdrpc.LeaseTimeToLiveRequest(ID=lease_id), self.timeout)
        return int(response.grantedTTL) if response.TTL != -1 else None

    def snapshot(self, url: str) -> Iterator[etcdrpc.SnapshotResponse]:
        """The raw Maintenance.Snapshot stream of one member (no deadline: dbs can be large;
        keepalive detects a dead peer). gRPC errors become SnapshotInterrupted."""
        stream = self._client(url).maintenancestub.Snapshot(etcdrpc.SnapshotRequest())
        try:
            yield from stream
        except grpc.RpcError as exc:
            self.forget(url)
            raise SnapshotInterrupted(f"snapshot stream from {url} broke: {describe_rpc_error(exc)}") from exc
        finally:
            stream.cancel()
