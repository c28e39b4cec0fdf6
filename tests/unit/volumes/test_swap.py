"""Staged restore and swap: nothing deleted early, interrupted swaps finished by the next run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubekeeper.volumes import swap


def fill_with(files: dict[str, bytes]):
    def fill(staging: Path) -> None:
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
    return fill


def listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_swap_replaces_content_and_applies_root(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    target.mkdir()
    (target / "old.txt").write_bytes(b"old")
    (target / "keep").mkdir()
    root = {"mode": 0o2770, "uid": os.getuid(), "gid": os.getgid(), "atime_ns": 10**18, "mtime_ns": 10**18}
    swap.restore_into(target, fill_with({"a.txt": b"A", "sub/b": b"B"}), root)
    assert listing(target) == {"a.txt": b"A", "sub/b": b"B"}
    assert not (target / "keep").exists()
    st = target.stat()
    assert st.st_mode & 0o7777 == 0o2770 and st.st_mtime_ns == 10**18
    assert not swap.work_dir(target).exists()


def test_failed_fill_leaves_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    target.mkdir()
    (target / "old.txt").write_bytes(b"old")

    def broken(staging: Path) -> None:
        (staging / "half").write_bytes(b"h")
        raise RuntimeError("restic died")

    with pytest.raises(RuntimeError):
        swap.restore_into(target, broken)
    assert listing(target) == {"old.txt": b"old"}
    assert not swap.work_dir(target).exists()


@pytest.mark.parametrize("state", [swap.RESTORED, swap.SWAPPING_IN])
def test_recover_rolls_an_interrupted_swap_forward(tmp_path: Path, state: str) -> None:
    target = tmp_path / "vol"
    target.mkdir()
    work = swap.work_dir(target)
    (work / "new").mkdir(parents=True)
    (work / "old").mkdir()
    (work / "new" / "n2").write_bytes(b"new2")
    if state == swap.RESTORED:  # crash while moving the old entries out
        (target / "o1").write_bytes(b"old1")
        (work / "old" / "o2").write_bytes(b"old2")
        (work / "new" / "n1").write_bytes(b"new1")
    else:  # crash while moving the new entries in
        (target / "n1").write_bytes(b"new1")
    (work / "state").write_text(state)
    assert swap.recover(target) is True
    assert listing(target) == {"n1": b"new1", "n2": b"new2"}
    assert not work.exists()


def test_recover_drops_incomplete_staging(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    target.mkdir()
    (target / "data").write_bytes(b"d")
    work = swap.work_dir(target)
    (work / "new").mkdir(parents=True)
    (work / "new" / "partial").write_bytes(b"p")
    assert swap.recover(target) is False
    assert listing(target) == {"data": b"d"}


def test_work_dir_inside_a_mount_point() -> None:
    assert swap.work_dir(Path("/")) == Path("/") / swap.WORK_NAME
