"""Replace a directory's content with a restored copy, deleting nothing until the copy is complete.

The end state equals `rsync -a --delete` from the backup. Steps, journalled in `<work>/state` so an
interrupted run is finished (rolled forward) by the next one and never leaves a mix:

1. restore into `<work>/new` (on the same filesystem as the target: inside it when the target is a
   mount point, next to it otherwise) — killed here, the target is untouched;
2. state `restored`: move every current entry of the target into `<work>/old` (renames only);
3. state `swapping-in`: move every entry of `<work>/new` into the target, set the target's own
   mode, owner and times from the backup;
4. delete `<work>` (the old data) — only now is anything deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

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


def _apply_root(target: Path, root: dict | None) -> None:
    if not root:
        return
    try:
        os.chown(target, int(root["uid"]), int(root["gid"]))
    except PermissionError:
        log.warning("not allowed to set the owner of %s (run as root to keep ownership)", target)
    os.chmod(target, int(root["mode"]) & 0o7777)
    os.utime(target, ns=(int(root["atime_ns"]), int(root["mtime_ns"])))


def _finish(target: Path, work: Path, root: dict | None) -> None:
    """Steps 2-4 from whatever state the journal records (each step is idempotent)."""
    skip = work.name if work.parent == target else ""
    if _state(work) == RESTORED:
        (work / "old").mkdir(exist_ok=True)
        _move_all(target, work / "old", skip=skip)
        _set_state(work, SWAPPING_IN)
    _move_all(work / "new", target)
    _apply_root(target, _read_root(work) if root is None else root)
    shutil.rmtree(work)


def _read_root(work: Path) -> dict | None:
    import json

    try:
        return json.loads((work / "root.json").read_text())
    except FileNotFoundError:
        return None


def recover(target: Path) -> bool:
    """Finish an interrupted swap, or drop an incomplete staging copy; True if a swap was finished."""
    work = work_dir(target)
    if not work.exists():
        return False
    if _state(work) in (RESTORED, SWAPPING_IN):
        log.warning("finishing an interrupted restore of %s", target)
        _finish(target, work, None)
        return True
    log.warning("removing an incomplete restore staging copy %s (the volume was never touched)", work)
    shutil.rmtree(work)
    return False


def restore_into(target: Path, fill: Callable[[Path], None], root: dict | None = None) -> None:
    """Fill a staging directory with `fill(path)`, then swap it in as the content of `target`."""
    import json

    target.mkdir(parents=True, exist_ok=True)
    recover(target)
    work = work_dir(target)
    try:
        work.mkdir(mode=0o700)
        (work / "new").mkdir(mode=0o700)
    except OSError as exc:
        raise OperationFailed(f"cannot create the staging directory {work}: {exc.strerror}") from exc
    try:
        fill(work / "new")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # only the incomplete copy; the target is untouched
        raise
    if root is not None:
        write_atomic(work / "root.json", json.dumps(root), mode=0o600)
    _set_state(work, RESTORED)
    _finish(target, work, root)
