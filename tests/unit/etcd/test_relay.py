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
