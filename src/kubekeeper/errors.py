"""Typed errors and the one table that maps them to exit codes.

The command-line contract (README.md, "Usage"): 0 success / nothing found, 1 findings or verification failed,
2 bad usage or bad input, 3 an operation failed, and like restic 0.17+: 10 the repository does not
exist, 11 the repository is locked, 12 wrong password. Library code raises these; only the CLI turns
them into a one-line message and an exit code, so no traceback ever reaches an operator.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2
    OPERATION_FAILED = 3
    REPOSITORY_MISSING = 10
    REPOSITORY_LOCKED = 11
    WRONG_PASSWORD = 12


class KubekeeperError(Exception):
    """Base of every error kubekeeper reports to a user; the message is one line."""

    exit_code: ExitCode = ExitCode.OPERATION_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line


class BadInput(KubekeeperError):
    """The user gave something we cannot use: a flag value, a file, a config. Exit 2."""

    exit_code = ExitCode.BAD_INPUT


class OperationFailed(KubekeeperError):
    """A component was unreachable or an operation did not complete. Exit 3."""

    exit_code = ExitCode.OPERATION_FAILED


class VerificationFailed(KubekeeperError):
    """Data was read back and did not check out (digest, hash, restore drill). Exit 1."""

    exit_code = ExitCode.FINDINGS


class TooOld(KubekeeperError):
    """A backup is older than the operator allows (`status --max-age`): exit 1, like a finding."""

    exit_code = ExitCode.FINDINGS


class CommandFailed(OperationFailed):
    """A child process exited non-zero; `stderr` keeps its (masked) last lines for diagnosis."""

    def __init__(self, message: str, *, returncode: int, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class CommandStalled(CommandFailed):
    """A child made no progress for its stall timeout and was stopped (a hung backend, a dead mount)."""


class CommandNotFound(OperationFailed):
    """A required executable (restic, etcdutl, tc, ...) is not installed."""


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for any error: ours carry one, anything else is an operation failure."""
    if isinstance(error, KubekeeperError):
        return error.exit_code
    return ExitCode.OPERATION_FAILED
