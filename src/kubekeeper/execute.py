"""The only place that runs subprocesses.

Why one module: argv is logged with secrets masked, timeouts and exit codes are handled the same way
everywhere, `--dry-run` is honoured in one spot, secrets travel only through the child's environment
or stdin (never argv), every child dies with kubekeeper (PR_SET_PDEATHSIG), and a child that makes no
progress for its stall timeout (a backend that accepts connections and never answers, a dead NFS
mount) is stopped and reported instead of hanging the command.
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kubekeeper import redact
from kubekeeper.errors import CommandFailed, CommandNotFound, CommandStalled

log = logging.getLogger(__name__)

MASK = redact.MASK
#: prctl(2) option: the signal a child gets when the thread that forked it dies
_PR_SET_PDEATHSIG = 1
#: a child counts as making progress when it moved this many bytes (reads + writes, its own stdout and
#: stderr excluded) or used this much CPU since the last progress; anything less is a stall
PROGRESS_BYTES = 64 << 10
PROGRESS_CPU_SECONDS = 0.5
#: how often the watchdog looks, and how long a stopped child gets to clean up (restic removes its lock)
WATCH_INTERVAL = 0.5
TERM_GRACE = 5.0
#: stderr kept per child for diagnosis
STDERR_CAP = 1 << 20


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
    #: seconds without progress (bytes moved or CPU used) after which the child is stopped; None: never
    stall_timeout: float | None = None
    #: what the child talks to, named in the stall message (e.g. a repository's masked URL)
    stall_subject: str = ""
    #: called with every stdout line as it arrives (e.g. restic's --json status lines -> progress)
    on_output: Callable[[bytes], None] | None = None


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


def _program_name(args: object) -> str:
    """The program of a Popen's args (a sequence or a single string/path), for messages."""
    first = args[0] if isinstance(args, (list, tuple)) and args else args
    return Path(os.fsdecode(first) if isinstance(first, (str, bytes, os.PathLike)) else str(first)).name


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def _load_prctl() -> Callable[[int, int], int] | None:
    """prctl(2) from the C library already in this process (dlopen(NULL)): looking libc up by name
    (ctypes.util.find_library) runs `/sbin/ldconfig -p` in every kubekeeper process and in every etcd
    relay restic starts, before any real work."""
    try:
        prctl: Callable[[int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl() if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (used by helper processes
    restic starts, such as the etcd snapshot relay)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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


# ---------------------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class Activity:
    """What a process has done so far: bytes through read/write calls and CPU seconds."""

    io_bytes: int
    cpu_seconds: float


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def activity(pid: int) -> Activity | None:
    """From /proc/<pid>/io and /proc/<pid>/stat (Linux); None when they cannot be read."""
    try:
        io_text = Path(f"/proc/{pid}/io").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    counters = dict(line.split(": ", 1) for line in io_text.splitlines() if ": " in line)
    fields = stat.rsplit(")", 1)[1].split()
    try:
        io_bytes = int(counters["rchar"]) + int(counters["wchar"])
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15 of stat)
    except (KeyError, ValueError, IndexError):
        return None
    return Activity(io_bytes, cpu)


class _Watchdog(threading.Thread):
    """Stops a child that made no progress for `stall_timeout` seconds (SIGTERM, then SIGKILL).

    Progress is measured from the outside, so it works for any child and any backend: bytes the child
    moved (network, files, pipes) minus what it wrote to our stdout/stderr pipes (restic prints status
    lines while it is stuck), or CPU it used (long computations are not stalls)."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float, own_output: Callable[[], int]) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.timeout = timeout
        self.own_output = own_output
        self.stalled_for = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        base = activity(self.proc.pid)
        base_output = self.own_output()
        mark = time.monotonic()
        while not self.done.wait(WATCH_INTERVAL):
            if self.proc.poll() is not None:
                return
            now = activity(self.proc.pid)
            output = self.own_output()
            if now is None or base is None:
                moved = output - base_output  # no /proc: any output is progress
                cpu = 0.0
            else:
                moved = (now.io_bytes - base.io_bytes) - (output - base_output)
                cpu = now.cpu_seconds - base.cpu_seconds
            if moved >= PROGRESS_BYTES or cpu >= PROGRESS_CPU_SECONDS or (base is None and moved > 0):
                base, base_output, mark = now, output, time.monotonic()
                continue
            if time.monotonic() - mark >= self.timeout:
                self.stalled_for = time.monotonic() - mark
                log.warning("%s made no progress for %.0fs: stopping it", _program_name(self.proc.args), self.stalled_for)
                _stop(self.proc)
                return


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (restic removes its lock), SIGKILL if it is still there after the grace period."""
    try:
        proc.terminate()
        proc.wait(timeout=TERM_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
    except OSError:
        pass


# ---------------------------------------------------------------------------------------- supervision
class _Child:
    """A started child with its output drained on threads (no pipe ever fills up and deadlocks),
    stderr kept (capped) for diagnosis, retry notices logged as they happen, and a watchdog."""

    def __init__(self, command: Command, *, stdin: int | IO[bytes] | None, stdout: str) -> None:
        """`stdout`: "capture" (keep all), "tail" (keep the last lines), "pipe" (the caller reads it)."""
        self.command = command
        self.output_bytes = 0
        self.stdout_chunks: list[bytes] = []
        self.tail: collections.deque[bytes] = collections.deque(maxlen=50)
        self.errors = bytearray()
        self._last_notice = 0.0
        log.debug("run: %s", describe(command))
        try:
            self.proc = subprocess.Popen(
                list(command.argv),
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_child_env(command.env),
                cwd=command.cwd,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        except FileNotFoundError as exc:
            raise CommandNotFound(f"{command.argv[0]} is not installed or not on PATH") from exc
        self.threads = [threading.Thread(target=self._drain_stderr, daemon=True)]
        if stdout != "pipe":
            self.threads.append(threading.Thread(target=self._drain_stdout, args=(stdout == "tail",), daemon=True))
        for thread in self.threads:
            thread.start()
        self.watchdog: _Watchdog | None = None
        if command.stall_timeout:
            self.watchdog = _Watchdog(self.proc, command.stall_timeout, lambda: self.output_bytes)
            self.watchdog.start()

    def _drain_stdout(self, tail: bool) -> None:
        assert self.proc.stdout is not None
        watch = self.command.on_output
        for line in self.proc.stdout:
            self.output_bytes += len(line)
            (self.tail if tail else self.stdout_chunks).append(line)
            if watch is not None:
                try:
                    watch(line)
                except Exception:  # progress display must never break the work it reports on
                    log.debug("progress callback failed", exc_info=True)
                    watch = None

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.output_bytes += len(line)
            if len(self.errors) < STDERR_CAP:
                self.errors.extend(line)
            if b"retrying after" in line and time.monotonic() - self._last_notice > 10:
                self._last_notice = time.monotonic()  # the operator sees why nothing moves
                log.warning("%s: %s", Path(self.command.argv[0]).name, mask(line.decode("utf-8", "replace").strip(), self.command.secrets))

    def count(self, n: int) -> None:
        """Bytes the caller read from a "pipe" stdout (own output, not progress)."""
        self.output_bytes += n

    def finish(self, check: bool = True) -> Result:
        try:
            returncode = self.proc.wait(timeout=self.command.timeout)
        except subprocess.TimeoutExpired:
            _stop(self.proc)
            self._join()
            raise CommandFailed(
                f"{Path(self.command.argv[0]).name} timed out after {self.command.timeout:g}s", returncode=-1,
                stderr=mask(bytes(self.errors).decode("utf-8", "replace"), self.command.secrets),
            ) from None
        self._join()
        if self.watchdog is not None and self.watchdog.stalled_for:
            raise self.stalled()
        stdout = b"".join(self.stdout_chunks) if self.stdout_chunks else b"".join(self.tail)
        result = Result(self.command.argv, returncode, stdout, bytes(self.errors))
        if check and returncode != 0:
            raise failure(self.command, returncode, bytes(self.errors))
        return result

    def stalled(self) -> CommandStalled:
        assert self.watchdog is not None
        name = Path(self.command.argv[0]).name
        subject = f" ({self.command.stall_subject})" if self.command.stall_subject else ""
        detail = _last_line(mask(bytes(self.errors).decode("utf-8", "replace"), self.command.secrets))
        return CommandStalled(
            f"{name}{subject} made no progress for {self.watchdog.stalled_for:.0f}s and was stopped"
            + (f"; its last message: {detail}" if detail else ""),
            returncode=-1, stderr=mask(bytes(self.errors).decode("utf-8", "replace"), self.command.secrets),
        )

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._join(5)

    def _join(self, timeout: float = 30) -> None:
        if self.watchdog is not None:
            self.watchdog.done.set()
        for thread in self.threads:
            thread.join(timeout=timeout)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    command: Command,
    *,
    check: bool = True,
    stdin: bytes | IO[bytes] | None = None,
    dry_run: bool = False,
) -> Result:
    """Run to completion and capture output. Raises CommandFailed (masked stderr) on non-zero exit,
    CommandStalled when the child made no progress for its stall timeout."""
    if dry_run:
        log.info("dry-run: %s", describe(command))
        return Result(command.argv, 0, b"", b"")
    if isinstance(stdin, bytes):
        child = _Child(command, stdin=subprocess.PIPE, stdout="capture")
        assert child.proc.stdin is not None
        try:
            child.proc.stdin.write(stdin)
            child.proc.stdin.close()
        except BrokenPipeError:
            pass  # the child exited early: its status says why
    else:
        child = _Child(command, stdin=stdin if stdin is not None else subprocess.DEVNULL, stdout="capture")
    return child.finish(check)


def failure(command: Command, returncode: int, stderr: bytes) -> CommandFailed:
    """A CommandFailed whose message is the last meaningful stderr line, masked."""
    text = mask(stderr.decode("utf-8", "replace"), command.secrets)
    last = _last_line(text) or "no error output"
    name = Path(command.argv[0]).name
    return CommandFailed(f"{name} exited {returncode}: {last}", returncode=returncode, stderr=text)


def popen(command: Command, *, stdin: int | IO[bytes] | None = None, stdout: int | IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running child the caller manages (e.g. a sandbox server); it dies with kubekeeper."""
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


def feed(command: Command, chunks: Iterable[bytes]) -> Result:
    """Stream chunks into a child's stdin while draining its stdout/stderr (no deadlock, flat memory).

    Returns the last stdout lines (enough for restic's JSON summary). If the producer raises, the
    child is killed so a half-written stream is never committed as good.
    """
    child = _Child(command, stdin=subprocess.PIPE, stdout="tail")
    stdin = child.proc.stdin
    assert stdin is not None
    _widen_pipe(stdin)
    try:
        for chunk in chunks:
            stdin.write(chunk)
        stdin.close()
    except BrokenPipeError:
        # the child exited (or was stopped) before reading everything: its status and stderr say why
        result = child.finish(check=False)
        raise failure(command, result.returncode if result.returncode != 0 else -1, result.stderr) from None
    except BaseException:
        child.kill()
        raise
    return child.finish()


def supervise(command: Command, work: Callable[[subprocess.Popen[bytes]], None]) -> Result:
    """Start a child, run `work(proc)` while it runs (e.g. pump data into a FIFO it reads), then wait.

    If `work` raises, the child is stopped first (SIGTERM, so restic cleans up) and the error
    propagates; the caller decides whether the child's own failure or its error is the story."""
    child = _Child(command, stdin=subprocess.DEVNULL, stdout="tail")
    try:
        work(child.proc)
    except BrokenPipeError:
        result = child.finish(check=False)  # the child went away first: its status says why
        raise failure(command, result.returncode if result.returncode != 0 else -1, result.stderr) from None
    except BaseException:
        _stop(child.proc)
        child._join(5)
        raise
    return child.finish()


def _widen_pipe(stream: IO[bytes], size: int = 1 << 20) -> None:
    """Grow a pipe's kernel buffer (64 KiB by default) so producer and child trade fewer wake-ups."""
    try:
        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ValueError, AttributeError):
        pass  # capped by /proc/sys/fs/pipe-max-size or not a pipe: the default still works


def drain_to(command: Command, out: IO[bytes], chunk_size: int = 1 << 20) -> Result:
    """Run a child and copy its stdout into `out` in chunks (e.g. `restic dump`), memory flat."""
    child = _Child(command, stdin=subprocess.DEVNULL, stdout="pipe")
    assert child.proc.stdout is not None
    try:
        while chunk := child.proc.stdout.read(chunk_size):
            child.count(len(chunk))
            out.write(chunk)
    except BaseException:
        child.kill()
        raise
    return child.finish()
