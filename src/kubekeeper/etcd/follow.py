"""The etcd follower: a full snapshot, then every change as deltas, until told to stop.

The engine only watches and batches; storing is the caller's (`ChainStore`: the etcd source stores
fulls and deltas as restic snapshots, backup/sources/etcd_follow.py). What a long-running process
meets, and what happens:

- the watched member dies, restarts, or loses its leader (the watch carries `hasleader`, so a
  partitioned member cancels it instead of stalling): the watch resumes on the next endpoint from
  the revision after the last event received - events already received stay in memory;
- the revision to resume from was compacted (etcd cancels the watch and names the compact
  revision): the events received are stored in their chain, a new full snapshot starts a new
  chain, and a warning says so;
- the repository does not take a delta: the events stay buffered and the next interval retries;
  past `max_buffer_bytes` the follower stops with OperationFailed (exit 3) naming the revisions it
  could not store - never dropping events silently;
- every `full_interval` a new full snapshot starts a new chain while the watch goes on (the old chain
  gets the events received until then, so chains overlap rather than leave a gap);
- `stop` set (SIGTERM/SIGINT in the CLI): the events received are stored, then `run` returns.
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc

from kubekeeper import metrics
from kubekeeper.errors import BadInput, KubekeeperError, OperationFailed
from kubekeeper.etcd.client import EtcdClient, WatchStream, describe_rpc_error
from kubekeeper.etcd.delta import DELETE, PUT, Delta, Event
from kubekeeper.fsutil import write_atomic

log = logging.getLogger(__name__)

DEFAULT_DELTA_INTERVAL = 5.0
DEFAULT_FULL_INTERVAL = 24 * 3600.0
#: events kept in memory while the repository does not take them (keys + values + overhead)
DEFAULT_MAX_BUFFER = 256 << 20
#: attempts to store the last events after stop, a second apart
FINAL_ATTEMPTS = 3


@dataclass(frozen=True)
class FullSnapshot:
    """A stored full snapshot: its id (the chain's name) and the revision it was taken at."""

    snapshot_id: str
    revision: int

    @property
    def chain(self) -> str:
        return self.snapshot_id[:8]


class ChainStore(Protocol):
    """Where the follower's snapshots go; both raise a KubekeeperError when nothing was stored."""

    def store_full(self, on_open: Callable[[int], None] | None = None) -> FullSnapshot:
        """`on_open(revision)` is called as the snapshot's stream opens (again on each attempt)."""
        ...

    def store_delta(self, delta: Delta, lag: float) -> str: ...


@dataclass(frozen=True)
class FollowSettings:
    delta_interval: float = DEFAULT_DELTA_INTERVAL
    full_interval: float = DEFAULT_FULL_INTERVAL
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER
    #: Prometheus textfile with the lag and the last delta's time (None: not written)
    metrics_file: Path | None = None
    cluster: str = "default"
    #: seconds between attempts to reach a member, or to take a full snapshot, after a failure
    retry_wait: float = 1.0


@dataclass
class FollowSummary:
    """What one run stored (the CLI's last line; the tests' evidence)."""

    fulls: list[FullSnapshot] = field(default_factory=list)
    deltas: int = 0
    events: int = 0
    last_revision: int = 0
    resumed: int = 0  # watches resumed on another (or the same) member
    compacted: int = 0  # new chains begun because the revision to resume from was compacted


def event_from_watch(raw: Any, seen: float) -> Event:
    kv = raw.kv
    if raw.type == 1:  # mvccpb.Event.DELETE
        return Event(int(kv.mod_revision), DELETE, bytes(kv.key), seen=seen)
    return Event(int(kv.mod_revision), PUT, bytes(kv.key), bytes(kv.value), int(kv.create_revision), int(kv.version),
                 int(kv.lease), seen)


@dataclass
class _Watch:
    stream: WatchStream
    thread: threading.Thread


class Follower:
    """Run `run()` in the main thread; set `stop` from a signal handler to end it cleanly."""

    def __init__(self, client: EtcdClient, store: ChainStore, settings: FollowSettings, stop: threading.Event,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.summary = FollowSummary()
        self.pending: list[Event] = []
        self.pending_bytes = 0
        self.lease_ttls: dict[int, int] = {}
        self.inbox: queue.Queue[tuple[str, Any, WatchStream]] = queue.Queue()
        self.watch: _Watch | None = None
        self.endpoint_index = 0
        self.last_revision = 0  # newest revision received
        self.last_stored_at: float | None = None
        self.chain: FullSnapshot | None = None
        self.need_full = False

    # ------------------------------------------------------------------ the loop
    def run(self) -> FollowSummary:
        self._begin_chain(first=True)
        next_flush = time.monotonic() + self.settings.delta_interval
        full_due = time.monotonic() + self.settings.full_interval
        while not self.stop.is_set():
            if self.watch is None and not self.need_full:
                self._open_watch()
            self._receive(timeout=max(0.0, min(next_flush - time.monotonic(), 0.5)))
            if self.need_full:  # the revision to resume from was compacted: a new chain
                self._begin_chain(first=False)
                continue
            now = time.monotonic()
            if now >= next_flush:
                self._flush()
                next_flush = now + self.settings.delta_interval
            if now >= full_due:
                self._renew_chain()
                full_due = time.monotonic() + self.settings.full_interval
        self._finish()
        return self.summary

    def _receive(self, timeout: float) -> None:
        """Everything the watch delivered so far (waiting up to `timeout` for the first item)."""
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._handle(*item)
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return

    def _handle(self, kind: str, payload: Any, stream: WatchStream) -> None:
        if self.watch is None or stream is not self.watch.stream:
            return  # a stream already given up
        if kind == "events":
            # the events of a transaction share its revision, and a watch response never splits a revision:
            # compare with the last revision taken per response, not per event
            fresh = [e for e in payload if e.revision > self.last_revision]
            for event in fresh:
                self.pending.append(event)
                self.pending_bytes += event.size()
            if fresh:
                self.last_revision = fresh[-1].revision
        elif kind == "compacted":
            self.summary.compacted += 1
            log.warning("etcd compacted revision %d before the follower could read revision %d on %s; storing what was "
                        "received and taking a new full snapshot (a new chain)", payload, self.last_revision + 1, stream.url)
            self._close_watch()
            self.need_full = True
        elif kind == "broken":
            log.warning("watch on %s broke (%s); resuming from revision %d on the next member", stream.url, payload,
                        self.last_revision + 1)
            self._close_watch()
            self.endpoint_index += 1
            self.summary.resumed += 1
            self.stop.wait(self.settings.retry_wait)

    # ------------------------------------------------------------------ chains
    def _begin_chain(self, *, first: bool) -> None:
        """Take and store a full snapshot; the watch starts right after its revision as soon as the
        snapshot's stream opens (not after the upload: the cluster may compact meanwhile). Events of
        the old chain are stored in it first (they are older than the new full snapshot)."""
        while not first and not self._flush():
            if self.stop.wait(self.settings.retry_wait):
                return
        def opened(revision: int) -> None:  # watch from now on: events queue up while the snapshot is stored
            self._close_watch()
            self.last_revision = revision
            self._open_watch()

        previous = self.last_revision
        while True:
            try:
                full = self.store.store_full(opened)
                break
            except KubekeeperError as exc:
                self._close_watch()  # it followed a snapshot that was not stored
                self.last_revision = previous
                if first:
                    raise
                log.warning("full snapshot failed (%s); retrying in %.0f s", exc.message, self.settings.retry_wait)
                self._write_metrics()
                if self.stop.wait(self.settings.retry_wait):
                    return
        self.chain = full
        self.need_full = False
        self.summary.fulls.append(full)
        self.last_revision = full.revision
        log.info("full snapshot %s at revision %d; following changes from revision %d", full.chain, full.revision,
                 full.revision + 1)

    def _renew_chain(self) -> None:
        """The full-interval's new chain. The watch goes on (a new one might start at a revision compacted
        while the snapshot was uploaded): the old chain gets every event received until the new full
        snapshot is stored, and the new chain again those after its revision."""
        try:
            full = self.store.store_full()
        except KubekeeperError as exc:
            log.warning("scheduled full snapshot failed (%s); the current chain goes on", exc.message)
            return
        self._receive(timeout=0)
        carried = [e for e in self.pending if e.revision > full.revision]
        if not self._flush():  # the repository did not take them: keep the old chain until it does
            log.warning("events of chain %s are still buffered; the new chain %s is not used",
                        self.chain.chain if self.chain else "?", full.chain)
            return
        self.chain = full
        self.summary.fulls.append(full)
        self.pending = carried
        self.pending_bytes = sum(e.size() for e in carried)
        self.last_revision = max(self.last_revision, full.revision)  # older events are in the full snapshot
        log.info("full snapshot %s at revision %d (every %.0f s); new chain", full.chain, full.revision,
                 self.settings.full_interval)

    # ------------------------------------------------------------------ the watch
    def _open_watch(self) -> None:
        endpoints = self.client.endpoints
        url = endpoints[self.endpoint_index % len(endpoints)].url
        try:
            stream = self.client.watch(url, self.last_revision + 1)
        except (grpc.RpcError, ValueError) as exc:
            log.warning("cannot watch on %s: %s", url, exc)
            self.endpoint_index += 1
            self.stop.wait(self.settings.retry_wait)
            return
        thread = threading.Thread(target=self._pump, args=(stream,), name=f"watch {url}", daemon=True)
        self.watch = _Watch(stream, thread)
        thread.start()
        log.debug("watching %s from revision %d", url, self.last_revision + 1)

    def _pump(self, stream: WatchStream) -> None:
        """Reader thread: watch responses -> the inbox, in order, tagged with their stream."""
        try:
            for response in stream.responses():
                if response.compact_revision:
                    self.inbox.put(("compacted", int(response.compact_revision), stream))
                    return
                if response.canceled:
                    self.inbox.put(("broken", f"watch canceled: {response.cancel_reason or 'no reason given'}", stream))
                    return
                if response.events:
                    seen = self.clock()
                    self.inbox.put(("events", [event_from_watch(e, seen) for e in response.events], stream))
            self.inbox.put(("broken", "the watch stream ended", stream))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.inbox.put(("broken", describe_rpc_error(exc), stream))
            else:
                self.inbox.put(("broken", "the watch was cancelled", stream))

    def _close_watch(self) -> None:
        if self.watch is not None:
            self.watch.stream.cancel()
            self.client.forget(self.watch.stream.url)
            self.watch = None

    def _drain_inbox(self) -> None:
        """Take in the events already received on the current stream (before closing it)."""
        while True:
            try:
                kind, payload, stream = self.inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "events":
                self._handle(kind, payload, stream)

    # ------------------------------------------------------------------ storing
    def _flush(self) -> bool:
        """Store the pending events as one delta of the current chain; True when nothing is pending."""
        self._write_metrics()
        if not self.pending or self.chain is None:
            return not self.pending
        events = self.pending
        delta = Delta(self.chain.chain, events, self._count_keys(events[-1].revision), self._leases(events))
        lag = self.clock() - events[0].seen
        try:
            snapshot_id = self.store.store_delta(delta, lag)
        except KubekeeperError as exc:
            if self.pending_bytes > self.settings.max_buffer_bytes:
                raise OperationFailed(
                    f"the repository has not taken the follower's events for too long ({exc.message}); "
                    f"{len(events):,} events (revisions {delta.first}..{delta.last}, {self.pending_bytes:,} bytes) exceed "
                    f"the buffer of {self.settings.max_buffer_bytes:,} bytes and were NOT stored; a new full snapshot "
                    "covers them once the repository is back"
                ) from exc
            log.warning("delta %d..%d (%d events) not stored, kept in memory (%s of %s bytes buffered): %s", delta.first,
                        delta.last, len(events), f"{self.pending_bytes:,}", f"{self.settings.max_buffer_bytes:,}", exc.message)
            return False
        self.pending = []
        self.pending_bytes = 0
        self.last_stored_at = self.clock()
        self.summary.deltas += 1
        self.summary.events += len(events)
        self.summary.last_revision = delta.last
        log.info("delta %s stored: %d events, revisions %d..%d, chain %s, %d keys, lag %.2f s", snapshot_id[:8], len(events),
                 delta.first, delta.last, delta.chain, delta.keys if delta.keys is not None else -1, lag)
        self._write_metrics()
        return True

    def _count_keys(self, revision: int) -> int | None:
        url = self.watch.stream.url if self.watch else self.client.endpoints[self.endpoint_index % len(self.client.endpoints)].url
        try:
            return self.client.count_keys(url, revision)[0]
        except grpc.RpcError as exc:
            log.debug("no key count at revision %d: %s", revision, describe_rpc_error(exc))
            return None

    def _leases(self, events: list[Event]) -> dict[int, int]:
        """The granted TTL of every lease the puts carry (asked once per lease)."""
        wanted = {e.lease for e in events if e.lease} - self.lease_ttls.keys()
        url = self.watch.stream.url if self.watch else ""
        for lease in wanted:
            try:
                ttl = self.client.lease_ttl(url, lease) if url else None
            except grpc.RpcError:
                ttl = None
            if ttl is not None:
                self.lease_ttls[lease] = ttl
        return {lease: self.lease_ttls[lease] for lease in {e.lease for e in events if e.lease} if lease in self.lease_ttls}

    def _finish(self) -> None:
        """Stop: the events received are stored (a few attempts), or OperationFailed says which were not."""
        self._drain_inbox()
        self._close_watch()
        for attempt in range(FINAL_ATTEMPTS):
            if self._flush():
                return
            if attempt + 1 < FINAL_ATTEMPTS:
                time.sleep(1.0)
        raise OperationFailed(f"stopped with {len(self.pending):,} events (revisions {self.pending[0].revision}.."
                              f"{self.pending[-1].revision}) the repository did not take; they are NOT stored")

    def lag(self) -> float:
        """Seconds since the oldest event not yet stored was seen (0: everything received is stored)."""
        return max(0.0, self.clock() - self.pending[0].seen) if self.pending else 0.0

    def _write_metrics(self) -> None:
        path = self.settings.metrics_file
        if path is None:
            return
        try:
            write_atomic(path, follower_metrics_text(self.settings.cluster, self.lag(), self.last_stored_at))
        except OSError as exc:
            log.warning("cannot write metrics to %s: %s", path, exc)


def follower_metrics_text(cluster: str, lag: float, last_stored_at: float | None) -> str:
    """The follower's textfile for node-exporter: its lag, and when it last stored a delta (once it has),
    under the names kubekeeper.metrics gives them (the alerts and dashboard query those)."""
    label = cluster.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    samples = [(metrics.ETCD_FOLLOWER_LAG, f"{lag:.3f}")]
    if last_stored_at is not None:
        samples.append((metrics.ETCD_FOLLOWER_LAST_DELTA, f"{last_stored_at:.3f}"))
    lines: list[str] = []
    for metric, value in samples:
        lines += [f"# HELP {metric.name} {metric.help}.", f"# TYPE {metric.name} gauge", f'{metric.name}{{cluster="{label}"}} {value}']
    return "\n".join(lines) + "\n"


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000**2, "mb": 1000**2, "mib": 1 << 20,
               "g": 1000**3, "gb": 1000**3, "gib": 1 << 30}


def parse_duration(text: str, option: str) -> float:
    """`5s`, `500ms`, `1h30m`, `24h`, `2d`, or plain seconds; BadInput naming the option otherwise."""
    raw = text.strip().lower()
    try:
        return _positive(float(raw), option, text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise BadInput(f"{option} {text!r}: not a duration (examples: 5s, 500ms, 1h30m, 24h)")
    return _positive(sum(float(n) * _DURATION_UNITS[u] for n, u in parts), option, text)


def parse_size(text: str, option: str) -> int:
    """`256MiB`, `1GiB`, `500MB`, or plain bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match[2].lower() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise BadInput(f"{option} {text!r}: not a size (examples: 256MiB, 1GiB, 500MB)")
    return int(_positive(float(match[1]) * _SIZE_UNITS[unit], option, text))


def _positive(value: float, option: str, text: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise BadInput(f"{option} {text!r}: must be more than zero")
    return value
