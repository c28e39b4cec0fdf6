"""Pure argv builders for restic: no I/O, so every command line is unit-testable.

Repository and password never appear here; they travel in the environment (see spec.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: the restic binary (KUBEKEEPER_RESTIC selects another one, e.g. to test an older restic)
RESTIC = os.environ.get("KUBEKEEPER_RESTIC") or "restic"
COMPRESSION_MODES = ("auto", "max", "off")


def _tag_args(tags: Sequence[str]) -> list[str]:
    return ["--tag", ",".join(tags)] if tags else []


def version_argv() -> tuple[str, ...]:
    return (RESTIC, "version")


def init_argv(copy_chunker_params: bool = False) -> tuple[str, ...]:
    """`restic init`; with `copy_chunker_params` the source in RESTIC_FROM_* lends its chunker
    parameters, so data copied between the two deduplicates."""
    return (RESTIC, "init", "--json", *(["--copy-chunker-params"] if copy_chunker_params else []))


def cat_config_argv() -> tuple[str, ...]:
    return (RESTIC, "cat", "config", "--no-lock")


def key_list_argv() -> tuple[str, ...]:
    return (RESTIC, "key", "list", "--json", "--no-lock")


def _retry(retry_lock: str | None) -> list[str]:
    return ["--retry-lock", retry_lock] if retry_lock else []


def key_add_argv(new_password_file: str, *, host: str | None = None, retry_lock: str | None = None) -> tuple[str, ...]:
    """The new password comes from a file (`/dev/stdin` when kubekeeper feeds it), never argv."""
    return (RESTIC, "key", "add", "--new-password-file", new_password_file, *(["--host", host] if host else []), *_retry(retry_lock))


def key_passwd_argv(new_password_file: str, *, retry_lock: str | None = None) -> tuple[str, ...]:
    return (RESTIC, "key", "passwd", "--new-password-file", new_password_file, *_retry(retry_lock))


def key_remove_argv(key_id: str, *, retry_lock: str | None = None) -> tuple[str, ...]:
    return (RESTIC, "key", "remove", *_retry(retry_lock), key_id)


def list_locks_argv() -> tuple[str, ...]:
    return (RESTIC, "list", "locks", "--no-lock")


def cat_lock_argv(lock_id: str) -> tuple[str, ...]:
    return (RESTIC, "cat", "lock", lock_id, "--no-lock")


def backup_paths_argv(
    paths: Sequence[Path],
    tags: Sequence[str],
    *,
    host: str | None = None,
    excludes: Sequence[str] = (),
    parent: str | None = None,
    no_scan: bool = False,
) -> tuple[str, ...]:
    """`no_scan` (restic 0.15+): skip the scanner, a second walk of every path whose only use is the
    ETA of restic's progress display, which kubekeeper does not show."""
    argv = [RESTIC, "backup", "--json", *_tag_args(tags)]
    if host:
        argv += ["--host", host]
    for pattern in excludes:
        argv += ["--exclude", pattern]
    if parent:
        argv += ["--parent", parent]
    if no_scan:
        argv.append("--no-scan")
    argv += ["--", *(str(p) for p in paths)]
    return tuple(argv)


def backup_stdin_argv(filename: str, tags: Sequence[str], *, host: str | None = None) -> tuple[str, ...]:
    argv = [RESTIC, "backup", "--json", "--stdin", "--stdin-filename", filename, *_tag_args(tags)]
    if host:
        argv += ["--host", host]
    return tuple(argv)


def backup_command_argv(producer: Sequence[str], filename: str, tags: Sequence[str], *, host: str | None = None) -> tuple[str, ...]:
    """restic 0.16+ runs `producer` and stores its stdout; the snapshot is written only if it exits 0."""
    argv = [RESTIC, "backup", "--json", "--stdin-from-command", "--stdin-filename", filename, *_tag_args(tags)]
    if host:
        argv += ["--host", host]
    return (*argv, "--", *producer)


def snapshots_argv(tags: Sequence[str] = ()) -> tuple[str, ...]:
    return (RESTIC, "snapshots", "--json", "--no-lock", *_tag_args(tags))


def ls_argv(snapshot_id: str) -> tuple[str, ...]:
    return (RESTIC, "ls", "--json", "--no-lock", snapshot_id)


def restore_argv(
    snapshot_id: str, target: Path, includes: Sequence[str] = (), *, delete: bool = False, verify: bool = False,
    status: bool = False,
) -> tuple[str, ...]:
    """`status`: JSON status lines on stdout (restic 0.16+), read for progress."""
    argv = [RESTIC, "restore", *(["--json"] if status else []), snapshot_id, "--target", str(target)]
    for pattern in includes:
        argv += ["--include", pattern]
    if delete:
        argv.append("--delete")
    if verify:  # re-read restored files and check them against the snapshot's content hashes
        argv.append("--verify")
    return tuple(argv)


def dump_argv(snapshot_id: str, path: str) -> tuple[str, ...]:
    return (RESTIC, "dump", "--no-lock", snapshot_id, path)


def dump_all_argv(snapshot_id: str) -> tuple[str, ...]:
    """Every file of a snapshot as one tar stream: reads (and authenticates) all of its data."""
    return (RESTIC, "dump", "--no-lock", "--archive", "tar", snapshot_id, "/")


def check_argv(read_data_subset: str | None = None) -> tuple[str, ...]:
    argv = [RESTIC, "check"]
    if read_data_subset:
        argv += ["--read-data-subset", read_data_subset]
    return tuple(argv)


@dataclass(frozen=True)
class Retention:
    keep_last: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.keep_last, self.keep_daily, self.keep_weekly, self.keep_monthly))

    def args(self) -> list[str]:
        pairs = [
            ("--keep-last", self.keep_last),
            ("--keep-daily", self.keep_daily),
            ("--keep-weekly", self.keep_weekly),
            ("--keep-monthly", self.keep_monthly),
        ]
        return [item for flag, value in pairs if value is not None for item in (flag, str(value))]


def forget_ids_argv(snapshot_ids: Sequence[str], *, retry_lock: str | None = None) -> tuple[str, ...]:
    """Forget exactly these snapshots; which ones is decided per series in retention.py."""
    return (RESTIC, "forget", *(["--retry-lock", retry_lock] if retry_lock else []), *snapshot_ids)


def prune_argv(*, retry_lock: str | None = None) -> tuple[str, ...]:
    return (RESTIC, "prune", *(["--retry-lock", retry_lock] if retry_lock else []))


def copy_argv(snapshot_ids: Sequence[str] = (), tags: Sequence[str] = ()) -> tuple[str, ...]:
    """`restic copy` into the repository in RESTIC_REPOSITORY from RESTIC_FROM_REPOSITORY."""
    return (RESTIC, "copy", *_tag_args(tags), *snapshot_ids)


def unlock_argv() -> tuple[str, ...]:
    """Removes only stale locks (restic's default); kubekeeper never passes --remove-all."""
    return (RESTIC, "unlock")
