"""etcd's snapshot trailer: the bbolt db followed by the SHA-256 of it (32 bytes).

A db file whose size is 32 more than a multiple of 512 carries that trailer, and `etcdutl snapshot
restore` refuses a file whose trailer does not match. This module checks the same thing while
streaming (a rolling 32-byte tail, memory flat). It imports nothing heavy: the relay that restic
runs for `backup etcd` (etcd/relay.py) starts in milliseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kubekeeper.errors import VerificationFailed

SHA256_SIZE = 32
PAGE = 512


@dataclass(frozen=True)
class SnapshotCheck:
    size: int  # bytes in the file, trailer included
    db_size: int  # bytes of the bbolt db alone
    sha256: str  # the trailer (= sha256 of the db), hex


class TrailerVerifier:
    """Feed the stream in order; `finish()` checks the trailer exactly as etcdutl does."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._tail = b""
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if len(chunk) >= SHA256_SIZE:
            self._hash.update(self._tail)
            self._hash.update(chunk[:-SHA256_SIZE])
            self._tail = chunk[-SHA256_SIZE:]
        else:
            joined = self._tail + chunk
            self._hash.update(joined[:-SHA256_SIZE] if len(joined) > SHA256_SIZE else b"")
            self._tail = joined[-SHA256_SIZE:]

    def finish(self, source: str = "snapshot") -> SnapshotCheck:
        if self.size < SHA256_SIZE or self.size % PAGE != SHA256_SIZE:
            raise VerificationFailed(
                f"{source}: {self.size} bytes is not an etcd snapshot with a SHA-256 trailer "
                f"(size % {PAGE} must be {SHA256_SIZE}); it was not stored as good"
            )
        digest = self._hash.digest()
        if digest != self._tail:
            raise VerificationFailed(
                f"{source}: SHA-256 mismatch (trailer {self._tail.hex()[:16]}..., computed {digest.hex()[:16]}...); "
                "the snapshot is corrupt and was not stored as good"
            )
        return SnapshotCheck(self.size, self.size - SHA256_SIZE, digest.hex())


def verify_file(path: Path, chunk_size: int = 1 << 20) -> SnapshotCheck:
    """Check a snapshot file's trailer (restore checks before handing the file to etcdutl)."""
    verifier = TrailerVerifier()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            verifier.update(chunk)
    return verifier.finish(str(path))
