"""`repo init`, safe when two run at once: one creates the repository, the other reports that it exists.

Why this is needed: two `restic init` racing on an empty location both pass restic's "is there a
config or a key already?" check, both write a key (each with its own master key), and both write
`config`; the last writer wins. Both keys open with the same password, but only one matches the
config, so afterwards restic fails ("config or key ... is damaged: ciphertext verification failed")
whenever it happens to try the other key first. The repository is unusable.

How kubekeeper avoids it:

- **Local repositories** (a path, also on NFS): a POSIX lock (`lockf`, served by NLM across NFS
  clients) on `<repository>/.kubekeeper-init.lock` serialises the inits; whoever gets the lock checks
  for `config` first. The lock file is removed by the creator while it still holds the lock.
- **Remote repositories** (sftp, REST, S3, rclone) have no lock to take, so the repository is created
  under a random one-time password, and only the racer whose config survived adds the real
  password: `restic init` with the temporary password; then wait until the repository's key list has
  not changed for a settle window (every racer writes its key just before its config, so by then no
  config write is pending), opening it with the temporary password each time. Only this racer's key
  decrypts with it, so restic either opens the config (we won: add a key for the real password -
  restic re-opens with it and drops it if it does not fit -, remove the temporary key, re-check with
  the real password) or reports our key as damaged (we lost: wait for the winner's real key, then
  remove our own). A key left by a racer that crashed opens with nobody's
  password and harms nothing. Racers on the same host also share a host-wide lock first.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kubekeeper import execute, redact
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.execute import Command
from kubekeeper.repository import commands, messages

if TYPE_CHECKING:
    from kubekeeper.repository.restic import Repository

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_NAME = ".kubekeeper-init.lock"
#: at least this long between our init and deciding who won (and 1.5x our own init's duration)
SETTLE_SECONDS = 3.0
#: how long a racer that lost waits for the winner to finish
WINNER_WAIT = 180.0
_DAMAGED_KEY = re.compile(r"config or key ([0-9a-f]{64}) is damaged")
#: restic listed a key another racer removed a moment later (it then fails opening the repository)
_VANISHED_KEY = re.compile(r"<key/[0-9a-f]+> does not exist")
_ALREADY = ("already initialized", "already contains keys", "already contains snapshots", "config file already exists")


def create(repo: Repository, *, chunker_source: Repository | None = None) -> bool:
    """True if this call created the repository, False if it exists (made by someone else)."""
    local = repo.local_path()
    if local is not None:
        with _local_lock(local):
            if (local / "config").is_file():
                return False
            _init(repo, chunker_source)
            (local / LOCK_NAME).unlink(missing_ok=True)  # still holding it: waiters re-check `config`
            return True
    with _host_lock(repo.spec.url):
        if repo.exists():
            return False
        return _create_remote(repo, chunker_source)


def _init(repo: Repository, chunker_source: Repository | None) -> str:
    """`restic init` with the repository's own password; returns the new repository's id."""
    extra = chunker_source.spec.env("RESTIC_FROM_") if chunker_source else None
    result = repo._run(commands.init_argv(copy_chunker_params=chunker_source is not None), extra_env=extra)
    return _initialized_id(result.text)


def _initialized_id(text: str) -> str:
    for doc in messages.json_lines(text.encode()):
        if doc.get("message_type") == "initialized":
            return str(doc.get("id", ""))
    match = re.search(r"created restic repository ([0-9a-f]+)", text)
    return match[1] if match else ""


def _create_remote(repo: Repository, chunker_source: Repository | None) -> bool:
    real = password_of(repo)
    temporary = repo.with_spec(replace(repo.spec, password_file=None, password_command=None, password=secrets.token_urlsafe(32)))
    started = time.monotonic()
    try:
        _init(temporary, chunker_source)
    except messages.RepositoryError as exc:
        if any(marker in exc.message.lower() for marker in _ALREADY):
            _wait_for(repo, "the repository another init is creating")
            return False  # another init got there first: we wrote nothing
        raise
    window = max(SETTLE_SECONDS, 2 * (time.monotonic() - started))
    try:
        ours = _settled_key(temporary, window)
        try:
            new_key = _retrying(lambda: temporary.add_key(real))  # restic re-opens with it, drops it if it does not fit
        except messages.RepositoryError as exc:
            if not _DAMAGED_KEY.search(exc.message):
                raise
            raise _Lost(ours) from exc  # the config changed after all: our one-time key is the one left
    except _Lost as lost:
        log.info("a concurrent init created %s; removing this init's one-time key %s", repo.spec.display, lost.key_id[:8])
        _wait_for(repo, "the repository a concurrent init created")
        _remove_one_time_key(repo, lost.key_id)
        return False
    _remove_one_time_key(repo, ours)
    try:
        _retrying(lambda: repo._run(commands.cat_config_argv()))
    except messages.RepositoryError as exc:
        raise OperationFailed(
            f"repository {repo.spec.display} was damaged by a concurrent `restic init` that did not wait its turn "
            f"({exc.message}); remove it and run `kubekeeper repo init` once"
        ) from exc
    log.debug("created %s with key %s", repo.spec.display, new_key[:8])
    return True


class _Lost(Exception):
    """Another init's config replaced ours; `key_id` is our one-time key."""

    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id


def _settled_key(temporary: Repository, window: float) -> str:
    """Our one-time key's id once no other init can still replace the config: the repository's keys
    (every racer writes its key just before its config) stayed the same for a whole `window`, and our
    config still opens. Raises _Lost as soon as another config replaced ours."""
    previous: set[str] | None = None
    deadline = time.monotonic() + WINNER_WAIT
    while True:
        try:
            keys = _retrying(temporary.keys)
        except messages.RepositoryError as exc:
            damaged = _DAMAGED_KEY.search(exc.message)
            if damaged is None:
                raise
            raise _Lost(damaged[1]) from exc
        current = {k["id"] for k in keys}
        if current == previous or time.monotonic() > deadline:
            return str(next(k["id"] for k in keys if k.get("current")))
        previous = current
        time.sleep(window)


def _retrying(action: Callable[[], T], attempts: int = 5) -> T:
    """Run a restic call again when it tripped over a key another racer removed meanwhile."""
    for attempt in range(attempts):
        try:
            return action()
        except messages.RepositoryError as exc:
            if not _VANISHED_KEY.search(exc.message) or attempt == attempts - 1:
                raise
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _remove_one_time_key(repo: Repository, key_id: str) -> None:
    """An append-only backend refuses deleting keys: the one-time key then stays, harmless (it opens
    with a password nobody has)."""
    try:
        _retrying(lambda: repo.remove_key(key_id))
    except messages.AppendOnly:
        log.info("%s is append-only: the one-time key %s stays (it opens with no one's password)", repo.spec.display, key_id[:8])


def _wait_for(repo: Repository, what: str) -> None:
    """Until the repository opens with the real password (the winner added its key)."""
    deadline = time.monotonic() + WINNER_WAIT
    while True:
        try:
            _retrying(lambda: repo._run(commands.cat_config_argv()))
            return
        except (messages.RepositoryNotFound, messages.WrongPassword) as exc:
            if time.monotonic() > deadline:
                raise OperationFailed(f"{what} at {repo.spec.display} did not become usable within {WINNER_WAIT:.0f}s: {exc.message}") from exc
            time.sleep(1.0)


def password_of(repo: Repository) -> bytes:
    """The repository password itself (to add it as a key): from the file, the command, or the value."""
    spec = repo.spec
    if spec.password_file is not None:
        try:
            return spec.password_file.read_bytes().strip()
        except OSError as exc:
            raise BadInput(f"cannot read the password file: {exc.strerror}") from exc
    if spec.password_command is not None:
        argv = tuple(shlex.split(spec.password_command))
        result = execute.run(Command(argv, timeout=120), check=False)
        if result.returncode != 0:
            raise OperationFailed(f"the password command ({argv[0]}) exited {result.returncode}")
        value = result.stdout.strip()
        redact.register(value.decode("utf-8", "replace"))
        return value
    return (spec.password or "").encode()


@contextmanager
def _local_lock(path: Path) -> Iterator[None]:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OperationFailed(f"cannot create the repository directory {path}: {exc.strerror}") from exc
    lock = path / LOCK_NAME
    with open(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            log.warning("no file locks on %s (%s): a concurrent init there is not excluded", path, exc.strerror)
        yield


@contextmanager
def _host_lock(url: str) -> Iterator[None]:
    """Serialise inits of the same URL on this host (racers elsewhere are handled by the protocol)."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    lock = base / f"kubekeeper-init-{hashlib.sha256(url.encode()).hexdigest()[:16]}.lock"
    with open(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
