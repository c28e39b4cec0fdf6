"""Replace a directory's content with a restored copy, deleting nothing until the copy is complete.

The end state equals `rsync -a --delete` from the backup. Steps, journalled in `<work>/state` so an
interrupted run is finished (rolled forward) by the next one and never leaves a mix:

1. restore into `<work>/new` (on the same filesystem as the target: inside it when the target is a
   mount point, next to it otherwise) — killed here, the target is untouched;
2. state `restored`: move every current entry of the target into `<work>/old` (renames only);
3. state `swapping-in`: move every entry of `<work>/new` into the target, set the target's own
   mode, owner and times from the backup;
4. delete `<work>` (the old data) — only now is anything deleted.

A restore holds an exclusive lock on the target directory for all of this, so two restores never
interleave; restic dies with kubekeeper (execute.py), so a killed run leaves no writer behind. A
re-run finds the leftover `<work>`: a recorded swap is finished; an incomplete `new` copy is resumed
in place with restic 0.17+'s `restore --delete` (files already there are re-used, strays removed),
or discarded with older restic.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubekeeper.errors import OperationFailed
from kubekeeper.fsutil import write_atomic

log = logging.getLogger(__name__)

WORK_NAME = ".kubekeeper-restore"
RESTORED = "restored"
SWAPPING_IN = "swapping-in"


def work_dir(target: Path) -> Path:
    """Staging on the target's filesystem: inside a mount point (renaming it is impossible), else beside it."""
    if os.path.ismount(target):
        return target / WORK_NAME
    return target.parent / f".{target.name}{WORK_NAME}"


def _state(work: Path) -> str:
    try:
        return (work / "state").read_text().strip()
    except FileNotFoundError:
        return ""


def _set_state(work: Path, state: str) -> None:
    write_atomic(work / "state", state + "\n", mode=0o600)


def _move_all(source: Path, destination: Path, skip: str = "") -> None:
    for entry in sorted(os.listdir(source)):
        if entry == skip:
            continue
        os.rename(source / entry, destination / entry)


def _apply_root(target: Path, root: dict[str, Any] | None) -> None:
    if not root:
        return
    try:
        os.chown(target, int(root["uid"]), int(root["gid"]))
    except PermissionError:
        log.warning("not allowed to set the owner of %s (run as root to keep ownership)", target)
    os.chmod(target, int(root["mode"]) & 0o7777)
    os.utime(target, ns=(int(root["atime_ns"]), int(root["mtime_ns"])))


def _finish(target: Path, work: Path, root: dict[str, Any] | None) -> None:
    """Steps 2-4 from whatever state the journal records (each step is idempotent)."""
    skip = work.name if work.parent == target else ""
    if _state(work) == RESTORED:
        (work / "old").mkdir(exist_ok=True)
        _move_all(target, work / "old", skip=skip)
        _set_state(work, SWAPPING_IN)
    _move_all(work / "new", target)
    _apply_root(target, _read_root(work) if root is None else root)
    shutil.rmtree(work)


def _read_root(work: Path) -> dict[str, Any] | None:
    try:
        root: dict[str, Any] = json.loads((work / "root.json").read_text())
        return root
    except FileNotFoundError:
        return None


def recover(target: Path, *, resumable: bool = False) -> bool:
    """Finish an interrupted swap, or deal with an incomplete staging copy (kept for a resumed
    restore when `resumable`, else removed); True if a swap was finished."""
    work = work_dir(target)
    if not work.exists():
        return False
    if _state(work) in (RESTORED, SWAPPING_IN):
        log.warning("finishing an interrupted restore of %s", target)
        _finish(target, work, None)
        return True
    if resumable and (work / "new").is_dir():
        log.warning("resuming an interrupted restore of %s from %s (the volume was never touched)", target, work)
        (work / "root.json").unlink(missing_ok=True)
        return False
    log.warning("removing an incomplete restore staging copy %s (the volume was never touched)", work)
    shutil.rmtree(work)
    return False


@contextmanager
def target_lock(target: Path) -> Iterator[None]:
    """An exclusive lock on the target directory for the whole restore; a second restore into the
    same target fails at once instead of mixing its files with ours."""
    fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise OperationFailed(f"another restore into {target} is running; wait for it to finish (nothing was changed)") from exc
            log.warning("cannot lock %s (%s): a concurrent restore there is not excluded", target, exc.strerror)
        yield
    finally:
        os.close(fd)


def restore_into(target: Path, fill: Callable[[Path], None], root: dict[str, Any] | None = None, *, resumable: bool = False) -> None:
    """Fill a staging directory with `fill(path)`, then swap it in as the content of `target`.

    `resumable`: `fill` makes an existing directory equal to the snapshot (restic 0.17+ `restore
    --delete`), so a leftover staging copy is re-used instead of thrown away."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OperationFailed(f"cannot create the restore target {target}: {exc.strerror}") from exc
    with target_lock(target):
        work = work_dir(target)
        try:
            recover(target, resumable=resumable)
            work.mkdir(mode=0o700, exist_ok=True)
            (work / "new").mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise OperationFailed(f"cannot prepare the staging directory {work}: {exc.strerror} ({exc.filename}); "
                                  "the target was not changed") from exc
        try:
            fill(work / "new")
        except BaseException:
            if not resumable:
                shutil.rmtree(work, ignore_errors=True)  # only the incomplete copy; the target is untouched
            raise
        try:
            if root is not None:
                write_atomic(work / "root.json", json.dumps(root), mode=0o600)
            _set_state(work, RESTORED)
            _finish(target, work, root)
        except OSError as exc:
            raise OperationFailed(f"the restore into {target} stopped while swapping ({exc.strerror}: {exc.filename}); "
                                  f"run it again to finish it - the previous content is kept in {work / 'old'}") from exc
