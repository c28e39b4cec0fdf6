"""The delta format: etcd watch events, as the follower (etcd/follow.py) stores them, and their replay.

A delta is one JSON document per line (restic compresses it; `restic dump ... | jq` reads it at
3 a.m.): a header line, then one line per event in revision order:

    {"format": "kubekeeper-etcd-delta", "version": 1, "chain": "1a2b3c4d", "from": 101, "to": 180,
     "events": 93, "keys": 5012, "leases": {"7587...": 3600}}
    {"r": 101, "op": "put", "k": "<base64>", "v": "<base64>", "c": 99, "n": 3, "l": 0, "t": 1764...}
    {"r": 102, "op": "delete", "k": "<base64>", "t": 1764...}

`r` is the event's mod revision (etcd hands out revisions one by one, and every revision that
changes anything produces at least one watch event, so the revisions of a chain are contiguous),
`c`/`n`/`l` the key's create revision, version and lease, `t` when the follower saw it (Unix
seconds). `keys` is the number of keys at revision `to` (a count-only range read at that
revision), `leases` the granted TTL of every lease a put in this delta carries.

Replay folds events into the last operation per key (`fold`): applying those to the full
snapshot's keyspace gives exactly the keyspace at the target revision, whatever revision in
[revision, revision_max] the full snapshot was taken at, because each folded operation replaces
whatever the snapshot held for that key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kubekeeper.errors import VerificationFailed

FORMAT = "kubekeeper-etcd-delta"
VERSION = 1
FILENAME = "etcd-delta.jsonl"
PUT = "put"
DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Event:
    """One change of one key, as the watch delivered it."""

    revision: int
    op: str  # PUT | DELETE
    key: bytes
    value: bytes = b""
    create_revision: int = 0
    version: int = 0
    lease: int = 0
    seen: float = 0.0

    def size(self) -> int:
        """Bytes this event holds in memory, roughly (what the follower's buffer bound counts)."""
        return len(self.key) + len(self.value) + 64

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"r": self.revision, "op": self.op, "k": base64.b64encode(self.key).decode()}
        if self.op == PUT:
            doc.update(v=base64.b64encode(self.value).decode(), c=self.create_revision, n=self.version, l=self.lease)
        doc["t"] = round(self.seen, 3)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Event:
        op = str(doc["op"])
        if op not in (PUT, DELETE):
            raise ValueError(f"unknown op {op!r}")
        return cls(
            revision=int(str(doc["r"])),
            op=op,
            key=base64.b64decode(str(doc["k"])),
            value=base64.b64decode(str(doc.get("v", ""))),
            create_revision=int(str(doc.get("c", 0))),
            version=int(str(doc.get("n", 0))),
            lease=int(str(doc.get("l", 0))),
            seen=float(str(doc.get("t", 0.0))),
        )


@dataclass
class Delta:
    """The events of one interval, and what the follower knew about the store when it wrote them."""

    chain: str
    events: list[Event]
    keys: int | None = None
    leases: dict[int, int] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return self.events[0].revision

    @property
    def last(self) -> int:
        return self.events[-1].revision

    def header(self) -> dict[str, object]:
        return {"format": FORMAT, "version": VERSION, "chain": self.chain, "from": self.first, "to": self.last,
                "events": len(self.events), "keys": self.keys, "leases": {str(k): v for k, v in self.leases.items()}}

    def lines(self) -> Iterator[bytes]:
        """The delta as the bytes restic stores, a line at a time (no second copy of the values)."""
        yield json.dumps(self.header(), separators=(",", ":")).encode() + b"\n"
        for event in self.events:
            yield json.dumps(event.as_json(), separators=(",", ":")).encode() + b"\n"


def parse(data: bytes, *, name: str = "delta") -> Delta:
    """A stored delta back; VerificationFailed names what is wrong with a damaged or foreign one."""
    lines = data.splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} v{VERSION} file")
        events = [Event.from_json(json.loads(line)) for line in lines[1:] if line.strip()]
        leases = {int(k): int(v) for k, v in (header.get("leases") or {}).items()}
        delta = Delta(str(header["chain"]), events, header.get("keys"), leases)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise VerificationFailed(f"{name}: unreadable delta ({exc})") from exc
    if not events or len(events) != header.get("events") or delta.first != header["from"] or delta.last != header["to"]:
        raise VerificationFailed(f"{name}: header says {header.get('events')} events {header.get('from')}..{header.get('to')}, "
                                 f"the file holds {len(events)}")
    if any(b.revision < a.revision for a, b in zip(events, events[1:], strict=False)):
        raise VerificationFailed(f"{name}: events out of revision order")
    return delta


@dataclass
class Folded:
    """The net effect of a run of events: the last operation per key, and what was replayed."""

    last: dict[bytes, Event] = field(default_factory=dict)
    events: int = 0
    revision: int = 0  # the newest revision folded in
    leases: dict[int, int] = field(default_factory=dict)

    def add(self, events: Iterable[Event], *, upto: int | None = None) -> bool:
        """Fold events in (up to revision `upto`); False once an event beyond `upto` was met."""
        last = self.last
        for event in events:
            if upto is not None and event.revision > upto:
                return False
            last[event.key] = event
            self.events += 1
            self.revision = event.revision
        return True

    def puts(self) -> list[Event]:
        return [e for _, e in sorted(self.last.items()) if e.op == PUT]

    def deletes(self) -> list[bytes]:
        return [k for k, e in sorted(self.last.items()) if e.op == DELETE]


def check_contiguous(deltas: Iterable[tuple[str, int, int]], start: int) -> None:
    """Raise VerificationFailed unless the deltas `(name, from, to)` follow each other with no
    revision missing, beginning right after `start` (the full snapshot's revision)."""
    expected = start + 1
    for name, first, last in deltas:
        if first != expected:
            what = "missing" if first > expected else "overlapping"
            raise VerificationFailed(f"chain broken at delta {name}: it starts at revision {first}, expected {expected} "
                                     f"(revisions {what})")
        expected = last + 1
