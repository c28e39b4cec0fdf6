"""The relay restic runs for `backup etcd`: it passes every byte on and exits 0 only for a whole snapshot."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading

import pytest

from kubekeeper.errors import VerificationFailed
from kubekeeper.etcd import relay


def snapshot_bytes(pages: int = 8) -> bytes:
    db = os.urandom(512 * pages)
    return db + hashlib.sha256(db).digest()


def test_relay_copies_and_verifies():
    data = snapshot_bytes()
    out = io.BytesIO()
    check = relay.relay(io.BytesIO(data), out, db_size=len(data) - 32)
    assert out.getvalue() == data and check.sha256 == data[-32:].hex()


@pytest.mark.parametrize("cut", [1, 512, 2000])
def test_a_truncated_stream_fails(cut):
    data = snapshot_bytes()
    with pytest.raises(VerificationFailed):
        relay.relay(io.BytesIO(data[:-cut]), io.BytesIO(), db_size=len(data) - 32)


def test_a_size_other_than_announced_fails():
    data = snapshot_bytes()
    with pytest.raises(VerificationFailed, match="announced"):
        relay.relay(io.BytesIO(data), io.BytesIO(), db_size=len(data))


def test_the_relay_process_exits_non_zero_when_its_writer_dies_early(tmp_path):
    """What restic sees if kubekeeper is killed mid-stream: the FIFO ends early, the relay exits 1.
    Its parent must be called restic (it leaves at once when orphaned), so a tiny parent of that name runs it."""
    session = relay.RelaySession()
    data = snapshot_bytes(64)
    argv = session.argv(len(data) - 32, "test snapshot")
    restic = tmp_path / "restic"
    restic.write_text(f"#!{sys.executable}\nimport subprocess, sys\nsys.exit(subprocess.run(sys.argv[1:]).returncode)\n")
    restic.chmod(0o755)
    proc = subprocess.Popen([str(restic), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def write_half() -> None:
        with session.open_writer(proc) as fifo:
            fifo.write(data[: len(data) // 2])

    writer = threading.Thread(target=write_half)
    writer.start()
    writer.join(30)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and out == data[: len(data) // 2]
    assert json.loads(session.result_file.read_text())["ok"] is False
    session.__exit__()


def test_the_writer_gathers_pieces_into_few_writes_in_order(monkeypatch):
    """etcd's 32 KiB messages reach the relay as ~1 MiB writes, byte for byte in order."""
    read_end, write_end = os.pipe()
    pieces = [os.urandom(32 << 10) for _ in range(70)]
    calls: list[int] = []
    real_writev = os.writev

    def counting_writev(fd, buffers):
        calls.append(len(buffers))
        return real_writev(fd, buffers)

    monkeypatch.setattr(os, "writev", counting_writev)
    received = bytearray()
    reader = threading.Thread(target=lambda: [received.extend(chunk) for chunk in iter_read(read_end)])
    reader.start()
    with relay.GatheringWriter(write_end) as writer:
        for piece in pieces:
            assert writer.write(piece) == len(piece)
    reader.join(30)
    assert bytes(received) == b"".join(pieces)
    assert calls == [32, 32, 6]  # two full MiB, then the rest at close


def iter_read(fd: int):
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(1 << 16):
            yield chunk


def test_a_short_writev_goes_on_from_where_it_stopped(monkeypatch):
    """A signal can end writev(2) early; the rest follows, nothing doubled or lost."""
    read_end, write_end = os.pipe()
    real_writev = os.writev
    short = [True]

    def short_writev(fd, buffers):
        if short[0]:
            short[0] = False
            first = bytes(buffers[0])
            return real_writev(fd, [first[:100]])  # 100 bytes of the first piece only
        return real_writev(fd, buffers)

    monkeypatch.setattr(os, "writev", short_writev)
    data = [b"a" * 300, b"b" * 300, b"c" * 10]
    writer = relay.GatheringWriter(write_end, batch=600)
    for piece in data:
        writer.write(piece)
    writer.close()
    assert b"".join(iter_read(read_end)) == b"".join(data)


def test_a_broken_stream_is_not_flushed_into_the_fifo():
    """Leaving the writer on an error closes the FIFO without writing what was gathered: the relay
    sees a short stream (and rejects it) rather than a tail glued onto a broken one."""
    read_end, write_end = os.pipe()
    with pytest.raises(RuntimeError):
        with relay.GatheringWriter(write_end) as writer:
            writer.write(b"x" * 1000)
            raise RuntimeError("stream broke")
    assert b"".join(iter_read(read_end)) == b""
