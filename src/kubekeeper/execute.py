"""The only place that runs subprocesses.

Why one module: argv is logged with secrets masked, timeouts and exit codes are handled the same way
everywhere, `--dry-run` is honoured in one spot, and secrets travel only through the child's
environment or stdin, never argv.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kubekeeper import redact
from kubekeeper.errors import CommandFailed, CommandNotFound

log = logging.getLogger(__name__)

MASK = redact.MASK
#: prctl(2) option: the signal a child gets when the thread that forked it dies
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class Command:
    """A child process to run: argv plus extra environment (secrets belong here, not in argv)."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    timeout: float | None = None
    secrets: tuple[str, ...] = ()  # literal values to mask if they ever show up in output


def is_secret_env(name: str) -> bool:
    return redact.is_secret_name(name)


def mask(text: str, secrets: Sequence[str] = ()) -> str:
    """Text with URL credentials, registered secrets and `secrets` masked; for logs and errors."""
    return redact.redact(text, secrets)


def describe(command: Command) -> str:
    """A loggable rendering of the command: env (secrets masked by name and by value) and argv."""
    env_part = " ".join(f"{k}={v}" for k, v in sorted(redact.redact_env(command.env).items()))
    env_part = mask(env_part, command.secrets)
    argv_part = mask(" ".join(command.argv), command.secrets)
    return f"{env_part} {argv_part}".strip()


def require(executable: str) -> str:
    """The absolute path of an executable, or CommandNotFound naming it."""
    found = shutil.which(executable)
    if not found:
        raise CommandNotFound(f"{executable} is not installed or not on PATH")
    return found


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def _load_prctl() -> Callable[[int, int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl() if sys.platform.startswith("linux") else None


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A preexec hook: the child gets SIGKILL when kubekeeper dies, even by `kill -9`.

    Without it a killed kubekeeper leaves restic running: reading `--stdin` it sees EOF and commits
    a truncated snapshot; restoring it keeps writing into a target a re-run is using.
    """
    if _prctl is None:
        return None
    prctl = _prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(137)

    return hook


def run(
    command: Command,
    *,
    check: bool = True,
    stdin: bytes | IO[bytes] | None = None,
    dry_run: bool = False,
) -> Result:
    """Run to completion and capture output. Raises CommandFailed (masked stderr) on non-zero exit."""
    log.debug("run: %s", describe(command))
    if dry_run:
        log.info("dry-run: %s", describe(command))
        return Result(command.argv, 0, b"", b"")
    input_bytes = stdin if isinstance(stdin, bytes) else None
    stdin_file = None if isinstance(stdin, bytes) or stdin is None else stdin
    try:
        proc = subprocess.run(
            list(command.argv),
            input=input_bytes,
            stdin=stdin_file if stdin_file is not None else (None if input_bytes else subprocess.DEVNULL),
            capture_output=True,
            env=_child_env(command.env),
            cwd=command.cwd,
            timeout=command.timeout,
            check=False,
            preexec_fn=_die_with_parent(os.getpid()),
        )
    except FileNotFoundError as exc:
        raise CommandNotFound(f"{command.argv[0]} is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(
            f"{Path(command.argv[0]).name} timed out after {command.timeout:g}s",
            returncode=-1,
        ) from exc
    result = Result(command.argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise failure(command, proc.returncode, proc.stderr)
    return result


def failure(command: Command, returncode: int, stderr: bytes) -> CommandFailed:
    """A CommandFailed whose message is the last meaningful stderr line, masked."""
    text = mask(stderr.decode("utf-8", "replace"), command.secrets)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else "no error output"
    name = Path(command.argv[0]).name
    return CommandFailed(f"{name} exited {returncode}: {last}", returncode=returncode, stderr=text)


def popen(command: Command, *, stdin: int | IO[bytes] | None = None, stdout: int | IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """Start a streaming child (e.g. `restic backup --stdin`); the caller waits and checks it."""
    log.debug("start: %s", describe(command))
    try:
        return subprocess.Popen(
            list(command.argv),
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=_child_env(command.env),
            cwd=command.cwd,
            preexec_fn=_die_with_parent(os.getpid()),
        )
    except FileNotFoundError as exc:
        raise CommandNotFound(f"{command.argv[0]} is not installed or not on PATH") from exc


def feed(
    command: Command,
    chunks: Iterable[bytes],
    *,
    keep_stdout_lines: int = 50,
) -> Result:
    """Stream chunks into a child's stdin while draining its stdout/stderr (no deadlock, flat memory).

    Returns the last `keep_stdout_lines` stdout lines (enough for restic's JSON summary). If the
    producer raises, the child is killed so a half-written stream is never committed as good.
    """
    proc = popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    tail: collections.deque[bytes] = collections.deque(maxlen=keep_stdout_lines)
    errors = bytearray()

    def drain_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if len(errors) < 1 << 20:
                errors.extend(line)

    threads = [threading.Thread(target=drain_stdout, daemon=True), threading.Thread(target=drain_stderr, daemon=True)]
    for thread in threads:
        thread.start()
    assert proc.stdin is not None
    _widen_pipe(proc.stdin)
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        # the child exited before reading everything: its exit status and stderr say why
        returncode = proc.wait(timeout=command.timeout)
        for thread in threads:
            thread.join(timeout=30)
        raise failure(command, returncode if returncode != 0 else -1, bytes(errors)) from None
    except BaseException:
        proc.kill()
        proc.wait()
        for thread in threads:
            thread.join(timeout=5)
        raise
    returncode = proc.wait(timeout=command.timeout)
    for thread in threads:
        thread.join(timeout=30)
    result = Result(command.argv, returncode, b"".join(tail), bytes(errors))
    if returncode != 0:
        raise failure(command, returncode, bytes(errors))
    return result


def _widen_pipe(stream: IO[bytes], size: int = 1 << 20) -> None:
    """Grow a pipe's kernel buffer (64 KiB by default) so producer and child trade fewer wake-ups."""
    try:
        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ValueError, AttributeError):
        pass  # capped by /proc/sys/fs/pipe-max-size or not a pipe: the default still works


def drain_to(command: Command, out: IO[bytes], chunk_size: int = 1 << 20) -> Result:
    """Run a child and copy its stdout into `out` in chunks (e.g. `restic dump`), memory flat."""
    proc = popen(command, stdout=subprocess.PIPE)
    errors = bytearray()

    def drain_stderr() -> None:
        assert proc.stderr is not None
        errors.extend(proc.stderr.read())

    thread = threading.Thread(target=drain_stderr, daemon=True)
    thread.start()
    assert proc.stdout is not None
    try:
        while chunk := proc.stdout.read(chunk_size):
            out.write(chunk)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    returncode = proc.wait(timeout=command.timeout)
    thread.join(timeout=30)
    if returncode != 0:
        raise failure(command, returncode, bytes(errors))
    return Result(command.argv, returncode, b"", bytes(errors))
