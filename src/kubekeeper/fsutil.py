"""Safe file writes: atomic (temp file in the same directory + rename), mode and owner kept.

Every file kubekeeper writes for an operator goes through here, so a crash never leaves a
half-written config and an existing file's permissions survive the change.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Write data to path atomically, keeping an existing file's mode and owner."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.stat() if path.exists() else None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if existing is not None:
            os.chmod(tmp, existing.st_mode & 0o7777)
            try:
                os.chown(tmp, existing.st_uid, existing.st_gid)
            except PermissionError:
                pass  # not root: the file stays ours, as the original was writable by us
        elif mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk or a read-only mount: the error names the file asked for
        tmp.unlink(missing_ok=True)
        if exc.filename in (None, tmp_name):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
