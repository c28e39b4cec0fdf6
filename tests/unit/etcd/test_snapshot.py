"""The SHA-256 trailer check, fed in every chunking, against the rule etcdutl applies."""

from __future__ import annotations

import hashlib
import os

import pytest

from kubekeeper.errors import VerificationFailed
from kubekeeper.etcd.snapshot import SnapshotInfo, TrailerVerifier, verify_file


def snapshot_bytes(db_size: int = 4096 * 3) -> bytes:
    db = os.urandom(db_size)
    return db + hashlib.sha256(db).digest()


@pytest.mark.parametrize("chunk", [1, 7, 31, 32, 33, 512, 4096, 1 << 20])
def test_good_snapshot_passes_in_any_chunking(chunk):
    data = snapshot_bytes()
    verifier = TrailerVerifier()
    for start in range(0, len(data), chunk):
        verifier.update(data[start : start + chunk])
    check = verifier.finish()
    assert check.db_size == len(data) - 32 and check.sha256 == hashlib.sha256(data[:-32]).hexdigest()


def test_flipped_byte_fails():
    data = bytearray(snapshot_bytes())
    data[100] ^= 1
    verifier = TrailerVerifier()
    verifier.update(bytes(data))
    with pytest.raises(VerificationFailed, match="SHA-256 mismatch"):
        verifier.finish()


def test_truncated_stream_fails():
    data = snapshot_bytes()[:-100]
    verifier = TrailerVerifier()
    verifier.update(data)
    with pytest.raises(VerificationFailed, match="not an etcd snapshot"):
        verifier.finish()


def test_verify_file(tmp_path):
    path = tmp_path / "db"
    path.write_bytes(snapshot_bytes())
    assert verify_file(path, chunk_size=1000).size == path.stat().st_size
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    with pytest.raises(VerificationFailed):
        verify_file(path)


def test_details_have_no_commas_and_mark_racing_revisions():
    info = SnapshotInfo("http://a:2379", "m1", 1, ("m0", "m1", "m2"), "3.5.1", 100, 100, 4096)
    details = info.details()
    assert details == {"revision": 100, "db_size": 4096, "members": "m0;m1;m2", "member_count": 3, "leader": "m1", "etcd_version": "3.5.1"}
    assert all("," not in str(v) for v in details.values())
    info.revision_max = 105
    assert info.details()["revision_max"] == 105
