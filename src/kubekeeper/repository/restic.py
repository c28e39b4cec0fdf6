"""The restic adapter: builders (commands.py) + the one runner (execute.py) + JSON parsing.

Every call goes through `_command`/`_run`, which add the repository's environment, the stall
watchdog (a hung backend is stopped and named), and turn restic's failures into typed repository
errors. Nothing here ever creates a repository except `init` (see create.py): a typo'd path or an
unmounted share is reported (exit 10), never silently turned into a new, empty repository.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kubekeeper import execute
from kubekeeper.errors import BadInput, CommandFailed, OperationFailed
from kubekeeper.execute import Command
from kubekeeper.progress import SILENT, Progress, Transfer
from kubekeeper.repository import commands, features, messages
from kubekeeper.repository.commands import Retention
from kubekeeper.repository.messages import AppendOnly, BackupSummary, IncompleteBackup, Snapshot
from kubekeeper.repository.spec import RepoSpec

log = logging.getLogger(__name__)

#: seconds retention waits for the exclusive lock (restic --retry-lock, 0.16+)
RETENTION_LOCK_WAIT = 60
#: snapshot ids per `restic forget` call (argv stays far below ARG_MAX)
FORGET_BATCH = 200
#: seconds without progress before a restic run is stopped (KUBEKEEPER_STALL_TIMEOUT, --stall-timeout)
DEFAULT_STALL_TIMEOUT = 120.0
#: the tag of a record that marks a snapshot incomplete (where the snapshot itself cannot be removed)
INCOMPLETE_MARK = "kubekeeper-incomplete"
INCOMPLETE_FILENAME = "kubekeeper-incomplete.json"
#: restic prints JSON status lines up to 60 times a second: kubekeeper reads them only when progress
#: is shown (once a second), else they are only noise in the captured output
_STATUS_FPS = "0.2"
_STATUS_FPS_SHOWN = "1"
#: restic version per binary, asked once per process
_VERSIONS: dict[str, features.ResticVersion] = {}


def default_stall_timeout() -> float | None:
    """KUBEKEEPER_STALL_TIMEOUT (seconds; 0 turns the watchdog off), else the default."""
    raw = os.environ.get("KUBEKEEPER_STALL_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_STALL_TIMEOUT
    try:
        value = float(raw)
    except ValueError as exc:
        raise BadInput(f"KUBEKEEPER_STALL_TIMEOUT={raw!r} is not a number of seconds") from exc
    if value < 0:
        raise BadInput("KUBEKEEPER_STALL_TIMEOUT must not be negative")
    return value or None


@dataclass(frozen=True)
class LockInfo:
    id: str
    pid: int | None
    hostname: str
    username: str
    time: str
    exclusive: bool

    def describe(self) -> str:
        mode = "exclusive" if self.exclusive else "shared"
        return f"{self.id[:8]} ({mode}, PID {self.pid} on {self.hostname} by {self.username}, created {self.time[:19]})"


@dataclass
class UnlockReport:
    removed: list[LockInfo] = field(default_factory=list)
    kept: list[LockInfo] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"removed": [vars(lock) for lock in self.removed], "kept": [vars(lock) for lock in self.kept]}


class Repository:
    """One restic repository. Methods are small wrappers; argv comes from `commands`."""

    def __init__(
        self,
        spec: RepoSpec,
        *,
        timeout: float | None = None,
        extra_tags: Sequence[str] = (),
        stall_timeout: float | None | str = "default",
        compression: str | None = None,
        progress: Progress = SILENT,
    ) -> None:
        if compression is not None and compression not in commands.COMPRESSION_MODES:
            raise BadInput(f"--compression {compression!r}: choose one of {', '.join(commands.COMPRESSION_MODES)}")
        self.spec = spec
        self.timeout = timeout
        self.extra_tags = tuple(extra_tags)
        self.stall_timeout: float | None = default_stall_timeout() if isinstance(stall_timeout, str) else stall_timeout
        self.compression = compression
        self.progress = progress

    def tagged(self, *tags: str) -> Repository:
        """The same repository, adding `tags` to every snapshot written through it (e.g. `set=<id>`)."""
        return Repository(self.spec, timeout=self.timeout, extra_tags=(*self.extra_tags, *tags),
                          stall_timeout=self.stall_timeout, compression=self.compression, progress=self.progress)

    def with_spec(self, spec: RepoSpec) -> Repository:
        return Repository(spec, timeout=self.timeout, extra_tags=self.extra_tags, stall_timeout=self.stall_timeout,
                          compression=self.compression, progress=self.progress)

    def reporting(self, progress: Progress) -> Repository:
        """The same repository, reporting the bytes of its backups and restores to `progress` (from
        restic's JSON status lines)."""
        return Repository(self.spec, timeout=self.timeout, extra_tags=self.extra_tags, stall_timeout=self.stall_timeout,
                          compression=self.compression, progress=progress)

    # ------------------------------------------------------------------ plumbing
    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = self.spec.env()
        if self.spec.cacert:
            env["RESTIC_CACERT"] = str(self.spec.cacert)
        env.setdefault("RESTIC_PROGRESS_FPS", _STATUS_FPS if self.progress is SILENT else self._status_fps())
        env.update(extra or {})
        return env

    def _status_fps(self) -> str:
        """restic's status rate for a shown progress: what the display asks for (`status_fps`, as
        report.progress.ConsoleProgress sets it), else once a second."""
        wanted = getattr(self.progress, "status_fps", None)
        return f"{wanted:g}" if isinstance(wanted, (int, float)) and wanted > 0 else _STATUS_FPS_SHOWN

    def _command(
        self,
        argv: Sequence[str],
        extra_env: dict[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        other_options: tuple[str, ...] = (),
        *,
        writes: bool = False,
        cwd: Path | None = None,
        on_output: Callable[[bytes], None] | None = None,
    ) -> Command:
        argv = tuple(argv)
        trailing: tuple[str, ...] = ()
        if "--" in argv:  # a producer command (backup --stdin-from-command) ends the argv: options go before it
            cut = argv.index("--")
            argv, trailing = argv[:cut], argv[cut:]
        if self.spec.insecure_tls:
            argv = (*argv, "--insecure-tls")
        if writes and self.compression:
            argv = (*argv, "--compression", self.compression)
        if self.stall_timeout and self.has(features.STUCK_REQUEST_TIMEOUT):
            # restic retries one stuck HTTP request on its own; the watchdog bounds the whole run
            argv = (*argv, "--stuck-request-timeout", f"{max(5, int(self.stall_timeout // 2))}s")
        # restic applies -o to both repositories of a copy: the source's (sftp.command ...) too
        for option in dict.fromkeys((*self.spec.options, *other_options)):
            argv = (*argv, "-o", option)
        argv = (*argv, *trailing)
        return Command(argv=argv, env=self._env(extra_env), cwd=cwd, timeout=self.timeout, secrets=self.spec.secrets + secrets,
                       stall_timeout=self.stall_timeout, stall_subject=self.spec.display, on_output=on_output)

    def _run(self, argv: Sequence[str], *, stdin: bytes | None = None, writes: bool = False,
             extra_env: dict[str, str] | None = None) -> execute.Result:
        try:
            return execute.run(self._command(argv, extra_env, writes=writes), stdin=stdin)
        except CommandFailed as exc:
            raise messages.classify(exc, self.spec.display) from exc

    @property
    def version(self) -> features.ResticVersion:
        binary = commands.RESTIC
        if binary not in _VERSIONS:
            result = execute.run(Command(commands.version_argv(), timeout=30))
            version = features.ResticVersion.parse(result.text)
            if version < features.MINIMUM:
                raise OperationFailed(f"restic {version} is too old; kubekeeper needs {features.MINIMUM}+")
            _VERSIONS[binary] = version
        return _VERSIONS[binary]

    def has(self, feature: features.ResticVersion) -> bool:
        return features.has(self.version, feature)

    def _transfer(self, description: str) -> AbstractContextManager[Transfer]:
        return self.progress.transfer(description)

    @contextmanager
    def _status(self, description: str) -> Iterator[Callable[[bytes], None] | None]:
        """A reader of restic's JSON status lines feeding a transfer of `self.progress` (None, and no
        transfer, when progress is not shown)."""
        if self.progress is SILENT:
            yield None
            return
        with self.progress.transfer(description) as transfer:
            yield StatusFeed(transfer)

    # ------------------------------------------------------------------ lifecycle
    def local_path(self) -> Path | None:
        """The directory of a local repository (`/path` or `local:/path`), else None."""
        url = self.spec.url.removeprefix("local:")
        if ":" in url.split("/", 1)[0]:
            return None  # sftp:, rest:, s3:, rclone:, ...
        return Path(url)

    def exists(self) -> bool:
        """Whether a repository is there (a local one is checked on disk; a remote one must also open
        with this password, else WrongPassword/AccessDenied tell what is wrong)."""
        local = self.local_path()
        if local is not None:
            return (local / "config").is_file()
        try:
            self._run(commands.cat_config_argv())
        except messages.RepositoryNotFound:
            return False
        return True

    def open_config(self) -> None:
        """`restic cat config`: the repository is there, reachable, and this password opens it (typed
        errors say which of those failed); for a local repository too, unlike `exists`."""
        self._run(commands.cat_config_argv())

    def require(self) -> None:
        """RepositoryNotFound (exit 10) unless the repository is there: checked before long work
        (a registry sync, a backup set) so a typo'd or unmounted location fails at once."""
        if not self.exists():
            raise messages.RepositoryNotFound(
                f"no repository at {self.spec.display}; nothing was created there - check the location, or create "
                "the repository with `kubekeeper repo init`"
            )

    def init(self, *, chunker_source: Repository | None = None) -> bool:
        """Create the repository: True if this call created it, False if it was already there
        (also when a concurrent init won the race). See create.py for why this is safe."""
        from kubekeeper.repository import create

        return create.create(self, chunker_source=chunker_source)

    # ------------------------------------------------------------------ backup
    def backup_paths(
        self,
        paths: Sequence[Path],
        tags: Sequence[str],
        *,
        host: str | None = None,
        excludes: Sequence[str] = (),
        cwd: Path | None = None,
        parent: str | None = None,
    ) -> BackupSummary:
        """One snapshot of `paths`. If restic could not read some files (exit 3) the snapshot is
        incomplete: it is removed (or, where the repository forbids that, marked incomplete so every
        reader ignores it) and IncompleteBackup names the unreadable files."""
        tags = [*tags, *self.extra_tags]
        argv = commands.backup_paths_argv(paths, tags, host=host, excludes=excludes, parent=parent, no_scan=self.has(features.NO_SCAN))
        with self._status(f"storing {_subject(tags) or ', '.join(map(str, paths))}") as status:
            command = self._command(argv, writes=True, cwd=cwd, on_output=status)
            try:
                result = execute.run(command, check=False)
            except CommandFailed as exc:
                raise messages.classify(exc, self.spec.display) from exc
        if result.returncode == messages.INCOMPLETE_EXIT:
            unreadable = messages.backup_errors(result.stderr) or messages.backup_errors(result.stdout)
            summary = messages.backup_summary(result.stdout)
            fate = self.discard_incomplete(summary.snapshot_id, tags, [item for item, _ in unreadable], host=host)
            names = ", ".join(item for item, _ in unreadable[:5]) + (f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else "")
            raise IncompleteBackup(
                f"restic could not read {len(unreadable)} file(s) under {', '.join(map(str, paths))}: {names or 'see -v'}; "
                f"the incomplete snapshot {summary.snapshot_id[:8]} {fate}"
            )
        if result.returncode != 0:
            raise messages.classify(execute.failure(command, result.returncode, result.stderr), self.spec.display)
        return messages.backup_summary(result.stdout)

    def backup_stream(self, chunks: Iterable[bytes], filename: str, tags: Sequence[str], *, host: str | None = None) -> BackupSummary:
        """Stream bytes into a snapshot holding one file; if `chunks` raises, nothing is stored."""
        with self._status(f"storing {_subject(tags) or filename}") as status:
            command = self._command(commands.backup_stdin_argv(filename, [*tags, *self.extra_tags], host=host), writes=True,
                                    on_output=status)
            try:
                result = execute.feed(command, chunks)
            except CommandFailed as exc:
                raise messages.classify(exc, self.spec.display) from exc
        return messages.backup_summary(result.stdout)

    def backup_command(
        self,
        producer: Sequence[str],
        filename: str,
        tags: Sequence[str],
        work: Callable[[subprocess.Popen[bytes]], None],
        *,
        host: str | None = None,
    ) -> BackupSummary:
        """restic 0.16+: restic runs `producer` and keeps the snapshot only if it exits 0; `work(proc)`
        runs meanwhile (it feeds the producer). Killed anywhere, nothing is committed."""
        with self._status(f"storing {_subject(tags) or filename}") as status:
            command = self._command(commands.backup_command_argv(producer, filename, [*tags, *self.extra_tags], host=host),
                                    writes=True, on_output=status)
            try:
                result = execute.supervise(command, work)
            except CommandFailed as exc:
                raise messages.classify(exc, self.spec.display) from exc
        return messages.backup_summary(result.stdout)

    def discard_incomplete(self, snapshot_id: str, tags: Sequence[str], unreadable: Sequence[str], *, host: str | None = None) -> str:
        """Remove an incomplete snapshot; if the repository refuses (append-only, or locked by other
        writers) store a small record that makes every kubekeeper reader ignore it. Says which."""
        try:
            self.forget_ids([snapshot_id], retry_lock=10)
            return "was removed; it is not a backup"
        except (AppendOnly, messages.RepositoryLocked) as exc:
            reason = "the repository is append-only" if isinstance(exc, AppendOnly) else "the repository is busy"
        record = json.dumps({"incomplete": snapshot_id, "unreadable": list(unreadable)}, indent=1).encode()
        self.backup_stream([record], INCOMPLETE_FILENAME, [*tags, INCOMPLETE_MARK, f"incomplete={snapshot_id}"], host=host)
        return f"could not be removed ({reason}); it is marked incomplete and every kubekeeper command ignores it"

    # ------------------------------------------------------------------ read
    def snapshots(self, tags: Sequence[str] = (), *, include_incomplete: bool = False) -> list[Snapshot]:
        """Snapshots carrying all `tags`, oldest first; incomplete ones (and their records) left out.

        A record carries every tag of the snapshot it marks, so the same query finds both."""
        found = messages.snapshots(self._run(commands.snapshots_argv(tags)).stdout)
        if include_incomplete:
            return found
        marked = {details.get("incomplete") for s in found if INCOMPLETE_MARK in s.tags for details in [_details(s)]}
        return [s for s in found if INCOMPLETE_MARK not in s.tags and s.id not in marked]

    def resolve(self, snapshot: str, tags: Sequence[str] = ()) -> Snapshot:
        """`latest` (newest with these tags) or an id / id prefix, checked to carry the tags."""
        if not snapshot or not snapshot.strip():
            raise BadInput("--snapshot is empty: give a snapshot id (or prefix) or 'latest'")
        candidates = self.snapshots(tags)
        if not candidates:
            raise BadInput(f"no snapshots with tags {','.join(tags)} in {self.spec.display}")
        if snapshot == "latest":
            return candidates[-1]
        matches = [s for s in candidates if s.id.startswith(snapshot)]
        if len(matches) != 1:
            what = "no" if not matches else "more than one"
            raise BadInput(f"{what} snapshot matching {snapshot!r} with tags {','.join(tags)} in {self.spec.display}")
        return matches[0]

    def restore(self, snapshot_id: str, target: Path, includes: Sequence[str] = (), *, verify: bool = False,
                delete: bool = False) -> None:
        """Restore into `target`; `delete` (restic 0.17+) makes an existing target equal to the snapshot,
        re-using what is already there (a resumed restore), else it is ignored."""
        use_delete = delete and self.has(features.RESTORE_DELETE)
        shown = self.progress is not SILENT and self.has(features.RESTORE_STATUS)
        argv = commands.restore_argv(snapshot_id, target, includes, delete=use_delete, verify=verify, status=shown)
        with self._status(f"restoring {snapshot_id[:8]} into {target}") as status:
            try:
                execute.run(self._command(argv, on_output=status if shown else None))
            except CommandFailed as exc:
                raise messages.classify(exc, self.spec.display) from exc

    def dump(self, snapshot_id: str, path: str, out: IO[bytes]) -> None:
        """Write one file of a snapshot to `out` (streamed, no temp copy); its bytes are counted on
        `self.progress`."""
        with self._transfer(f"reading {path.lstrip('/')} of {snapshot_id[:8]}") as transfer:
            try:
                execute.drain_to(self._command(commands.dump_argv(snapshot_id, path)), _Counted(out, transfer))  # type: ignore[arg-type]
            except CommandFailed as exc:
                raise messages.classify(exc, self.spec.display) from exc

    def read_all(self, snapshot_id: str) -> int:
        """Read every byte of a snapshot's data (decrypted and authenticated by restic); returns the
        tar stream's size. The restore drill's way of reading all data of a set without disk space."""
        counter = _Counter()
        with self._transfer(f"reading all of {snapshot_id[:8]}") as transfer:
            try:
                execute.drain_to(self._command(commands.dump_all_argv(snapshot_id)), _Counted(counter, transfer))  # type: ignore[arg-type]
            except CommandFailed as exc:
                raise messages.classify(exc, self.spec.display) from exc
        return counter.size

    def list_files(self, snapshot_id: str) -> list[dict[str, Any]]:
        docs = messages.json_lines(self._run(commands.ls_argv(snapshot_id)).stdout)
        return [d for d in docs if d.get("struct_type") == "node"]

    # ------------------------------------------------------------------ maintenance
    def check(self, read_data_subset: str | None = None) -> str:
        return self._run(commands.check_argv(read_data_subset)).text

    def forget_ids(self, snapshot_ids: Sequence[str], *, retry_lock: int | None = None) -> None:
        """Forget exactly these snapshots. restic 0.18 exits 0 when an append-only backend refuses the
        deletions, so its output is read: AppendOnly when nothing could be removed that way."""
        lock = self._lock_wait(retry_lock)
        for start in range(0, len(snapshot_ids), FORGET_BATCH):
            result = self._run(commands.forget_ids_argv(snapshot_ids[start:start + FORGET_BATCH], retry_lock=lock))
            if messages.is_append_only_refusal(result.stderr.decode("utf-8", "replace")):
                raise AppendOnly(
                    f"repository {self.spec.display} refuses deletions (append-only); run retention with credentials "
                    "that may delete: `kubekeeper repo forget --repo <the admin URL>`"
                )

    def forget(self, retention: Retention, tags: Sequence[str], *, prune: bool = True, dry_run: bool = False) -> list[dict[str, Any]]:
        """Apply the retention to each backup series among the snapshots `tags` select (see retention.py);
        incomplete snapshots and their records are removed too."""
        if retention.empty:
            raise BadInput("forget needs at least one of --keep-last/--keep-daily/--keep-weekly/--keep-monthly")
        if self.spec.append_only:
            raise AppendOnly(f"repository {self.spec.display} is declared append-only: retention must run with the admin URL")
        from kubekeeper.repository import retention as policy

        everything = self.snapshots(tags, include_incomplete=True)
        complete = self.snapshots_from(everything)
        decisions = policy.plan(complete, retention)
        leftovers = [s.id for s in everything if s not in complete]
        doomed = [snapshot_id for d in decisions for snapshot_id in d.remove] + leftovers
        if doomed and not dry_run:
            # an etcd follower's deltas hold the shared lock for a second every few seconds: wait for a gap
            self.forget_ids(doomed, retry_lock=RETENTION_LOCK_WAIT)
            if prune:
                self._run(commands.prune_argv(retry_lock=self._lock_wait(RETENTION_LOCK_WAIT)), writes=True)
        report = [d.as_json() for d in decisions]
        if leftovers:
            report.append({"series": "incomplete", "keep": [], "remove": leftovers})
        return report

    @staticmethod
    def snapshots_from(found: Sequence[Snapshot]) -> list[Snapshot]:
        """The complete snapshots among `found` (what `snapshots()` returns for the same query)."""
        marked = {_details(s).get("incomplete") for s in found if INCOMPLETE_MARK in s.tags}
        return [s for s in found if INCOMPLETE_MARK not in s.tags and s.id not in marked]

    def copy_to(self, destination: Repository, tags: Sequence[str], snapshot_ids: Sequence[str] = ()) -> None:
        """Copy snapshots from this repository into `destination`, which must exist (never created here:
        `kubekeeper repo init --copy-chunker-params-from` makes one that deduplicates with this one)."""
        if not destination.exists():
            raise messages.RepositoryNotFound(
                f"no repository at the copy target {destination.spec.display}; nothing was created there - check the "
                "location, or create it with `kubekeeper repo init` (--copy-chunker-params-from keeps deduplication)"
            )
        command = destination._command(
            commands.copy_argv(snapshot_ids, tags), extra_env=self.spec.env("RESTIC_FROM_"), secrets=self.spec.secrets,
            other_options=self.spec.options, writes=True,
        )
        try:
            execute.run(command)
        except CommandFailed as exc:
            raise messages.classify(exc, destination.spec.display) from exc

    def locks(self) -> list[LockInfo]:
        ids = [line.strip() for line in self._run(commands.list_locks_argv()).text.splitlines() if line.strip()]
        found = []
        for lock_id in ids:
            try:
                doc = json.loads(self._run(commands.cat_lock_argv(lock_id)).text)
            except (messages.RepositoryError, json.JSONDecodeError):
                continue  # removed meanwhile (its holder finished)
            found.append(LockInfo(lock_id, doc.get("pid"), doc.get("hostname", "?"), doc.get("username", "?"),
                                  doc.get("time", ""), bool(doc.get("exclusive"))))
        return found

    def unlock(self) -> UnlockReport:
        """`restic unlock` (stale locks only: its holder is gone or it is 30+ minutes old and not
        refreshed); reports which locks went and which live ones stayed."""
        before = self.locks()
        self._run(commands.unlock_argv())
        remaining = {lock.id for lock in self.locks()}
        return UnlockReport([lock for lock in before if lock.id not in remaining], [lock for lock in before if lock.id in remaining])

    def keys(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = json.loads(self._run(commands.key_list_argv()).text or "[]")
        return keys

    def _lock_wait(self, seconds: int | None) -> str | None:
        """restic's --retry-lock (0.16+), shorter than the stall timeout (waiting for a lock moves nothing)."""
        if not seconds or not self.has(features.RETRY_LOCK):
            return None
        if self.stall_timeout:
            seconds = min(seconds, int(self.stall_timeout // 2))
        return f"{seconds}s" if seconds > 0 else None

    def add_key(self, new_password: bytes, *, host: str | None = None, lock_wait: int | None = 60) -> str:
        """Add a key for another password (fed on stdin, never argv); returns its id."""
        result = self._run(commands.key_add_argv("/dev/stdin", host=host, retry_lock=self._lock_wait(lock_wait)), stdin=new_password)
        return _saved_key_id(result.text)

    def change_password(self, new_password: bytes, *, lock_wait: int | None = 60) -> str:
        """Replace the key this password opens with one for `new_password`; returns the new key's id."""
        result = self._run(commands.key_passwd_argv("/dev/stdin", retry_lock=self._lock_wait(lock_wait)), stdin=new_password)
        return _saved_key_id(result.text)

    def remove_key(self, key_id: str, *, lock_wait: int | None = 60) -> None:
        self._run(commands.key_remove_argv(key_id, retry_lock=self._lock_wait(lock_wait)))


class StatusFeed:
    """restic's `--json` status lines (backup: bytes_done/total_bytes; restore: bytes_restored/
    total_bytes) and its closing summary turned into a Transfer's increments. Other lines pass by."""

    def __init__(self, transfer: Transfer) -> None:
        self.transfer = transfer
        self.total = 0
        self.done = 0

    def __call__(self, line: bytes) -> None:
        head = line[:64]
        if b'"message_type":"status"' not in head and b'"message_type":"summary"' not in head:
            return
        try:
            doc = json.loads(line)
        except ValueError:
            return
        if doc.get("message_type") == "summary":  # the end: everything processed is done
            done = int(doc.get("total_bytes_processed") or doc.get("bytes_restored") or 0)
            total = max(done, int(doc.get("total_bytes") or 0))  # a resumed restore skips what is there
        else:
            total = int(doc.get("total_bytes") or 0)
            done = int(doc.get("bytes_done") or doc.get("bytes_restored") or 0)
        if total > self.total:
            self.transfer.add_total(total - self.total)
            self.total = total
        if done > self.done:
            self.transfer.advance(done - self.done)
            self.done = done


class _Counted:
    """A writer that counts what passes through on a Transfer."""

    def __init__(self, out: IO[bytes] | _Counter, transfer: Transfer) -> None:
        self.out = out
        self.transfer = transfer

    def write(self, data: bytes) -> int:
        written = self.out.write(data)
        self.transfer.advance(len(data))
        return written


class _Counter:
    """A write-only sink that only counts (restic dump's output is read, not kept)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def _subject(tags: Sequence[str]) -> str:
    """What a backup stores, for its progress line: kind and the detail naming it (`volume db/data`)."""
    kind = next((t.split(":", 1)[1] for t in tags if t.startswith("kind:")), "")
    details = dict(t.split("=", 1) for t in tags if "=" in t)
    pvc = "/".join(filter(None, (details.get("namespace"), details.get("pvc"))))
    named = pvc or details.get("registry") or details.get("endpoint") or ""
    part = f" ({details['part']})" if details.get("part") not in (None, "data") else ""
    return f"{kind} {named}{part}".strip()


def _details(snapshot: Snapshot) -> dict[str, str]:
    return dict(t.split("=", 1) for t in snapshot.tags if "=" in t)


def _saved_key_id(text: str) -> str:
    for word in text.split():
        if len(word) == 64 and all(c in "0123456789abcdef" for c in word):
            return word
    return ""
