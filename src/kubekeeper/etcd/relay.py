"""The producer restic runs for `backup etcd` (restic 0.16+ `backup --stdin-from-command`).

kubekeeper opens the leader's snapshot stream and writes it into a FIFO in a private directory; this
relay, started by restic, reads the FIFO, hands the bytes to restic on stdout, and checks etcd's
SHA-256 trailer and the size the leader announced on the way. It exits 0 only when both match, and
restic writes a snapshot only when its producer exits 0. So a stream cut anywhere - kubekeeper
killed (even with kill -9: restic and this relay die with it, and a relay that outlived it would
see the FIFO end early and fail the check), the leader lost, the network broken - can never become
a stored snapshot. The verdict (size, digest or the error) goes to a result file kubekeeper reads.

Kept free of heavy imports (no gRPC): restic starts it for every etcd backup.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from kubekeeper.errors import VerificationFailed
from kubekeeper.etcd.trailer import SHA256_SIZE, SnapshotCheck, TrailerVerifier
from kubekeeper.execute import die_with_parent

CHUNK = 1 << 20
#: seconds to wait for kubekeeper to open the FIFO's other end (it does so as soon as restic starts us)
OPEN_TIMEOUT = 120.0


def relay(source: IO[bytes], sink: IO[bytes], db_size: int, what: str = "snapshot") -> SnapshotCheck:
    """Copy `source` to `sink`, verifying as etcdutl would; raises VerificationFailed at the end."""
    verifier = TrailerVerifier()
    while chunk := source.read(CHUNK):
        verifier.update(chunk)
        sink.write(chunk)
    sink.flush()
    check = verifier.finish(what)
    if db_size >= 0 and check.db_size != db_size:
        raise VerificationFailed(f"{what}: got {check.db_size} db bytes, the leader announced {db_size}; not stored")
    return check


class GatheringWriter:
    """The FIFO's write end. Pieces (etcd's 32 KiB gRPC messages) are kept by reference and written
    with one writev(2) per ~1 MiB: no copying them into bigger buffers, and the relay wakes once
    per MiB instead of once per message. `close()` writes what is left; leaving a `with` block on
    an error closes without writing it (the stream is broken anyway; the relay rejects it)."""

    #: writev takes at most IOV_MAX (1024) pieces per call
    MAX_PIECES = 512

    def __init__(self, fd: int, batch: int = CHUNK) -> None:
        self.fd = fd
        self.batch = batch
        self._pieces: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        if size:
            self._pieces.append(data if isinstance(data, bytes) else bytes(data))  # a mutable buffer may change
            self._size += size
            if self._size >= self.batch or len(self._pieces) >= self.MAX_PIECES:
                self.flush()
        return size

    def flush(self) -> None:
        pieces, self._pieces, self._size = self._pieces, [], 0
        while pieces:
            written = os.writev(self.fd, pieces)
            while pieces and written >= len(pieces[0]):  # a signal can cut a writev short: go on from there
                written -= len(pieces[0])
                pieces.pop(0)
            if written:
                pieces[0] = pieces[0][written:]

    def close(self) -> None:
        if self.fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> GatheringWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self._pieces, self._size = [], 0
        self.close()


def _write_result(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def _orphaned() -> bool:
    """True if restic (our parent) is already gone: prctl came too late to tie us to it."""
    try:
        return Path(f"/proc/{os.getppid()}/comm").read_text().strip() != "restic"
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    die_with_parent()  # restic is our parent: never outlive it
    if _orphaned():
        return 1
    timer = threading.Timer(OPEN_TIMEOUT, os._exit, args=(1,))  # kubekeeper never opened its end: give up
    timer.daemon = True
    timer.start()
    parser = argparse.ArgumentParser(prog="kubekeeper-etcd-relay", description=__doc__)
    parser.add_argument("--fifo", type=Path, required=True)
    parser.add_argument("--db-size", type=int, default=-1)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--what", default="etcd snapshot")
    args = parser.parse_args(argv)
    try:
        with open(args.fifo, "rb", buffering=0) as source:
            timer.cancel()
            check = relay(source, sys.stdout.buffer, args.db_size, args.what)
    except VerificationFailed as exc:
        _write_result(args.result, {"ok": False, "error": exc.message})
        sys.stderr.write(f"kubekeeper relay: {exc.message}\n")
        return 1
    except OSError as exc:  # restic went away (broken pipe), or the FIFO is gone
        _write_result(args.result, {"ok": False, "error": f"relay: {exc.strerror or exc}"})
        return 1
    _write_result(args.result, {"ok": True, "size": check.size, "db_size": check.db_size, "sha256": check.sha256})
    return 0


class RelaySession:
    """A private directory (mode 0700) holding the FIFO and the relay's verdict; removed on exit."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="kubekeeper-etcd-stream-"))
        self.fifo = self.directory / "stream"
        self.result_file = self.directory / "result.json"
        os.mkfifo(self.fifo, 0o600)

    def __enter__(self) -> RelaySession:
        return self

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def argv(self, db_size: int, what: str) -> list[str]:
        return [sys.executable, "-m", "kubekeeper.etcd.relay", "--fifo", str(self.fifo), "--db-size", str(db_size),
                "--result", str(self.result_file), "--what", what]

    def open_writer(self, proc: subprocess.Popen[bytes]) -> GatheringWriter:
        """The FIFO's write end, once restic has started the relay (BrokenPipeError if restic exits
        first, e.g. because the repository does not exist: its error is the story then)."""
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != 6:  # ENXIO: no reader yet
                    raise
            if proc.poll() is not None:
                raise BrokenPipeError("restic exited before it started the relay")
            time.sleep(0.02)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        try:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
        return GatheringWriter(fd)

    def verdict(self) -> dict[str, Any] | None:
        try:
            verdict: dict[str, Any] = json.loads(self.result_file.read_text())
            return verdict
        except (OSError, ValueError):
            return None

    def check(self) -> SnapshotCheck:
        doc = self.verdict() or {}
        if not doc.get("ok"):
            raise VerificationFailed(str(doc.get("error") or "the etcd snapshot relay gave no verdict; nothing was stored"))
        return SnapshotCheck(int(doc["size"]), int(doc["db_size"]), str(doc["sha256"]))


__all__ = ["SHA256_SIZE", "GatheringWriter", "RelaySession", "main", "relay"]

if __name__ == "__main__":
    sys.exit(main())
