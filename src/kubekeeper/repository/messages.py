"""restic's `--json` output and its error text, turned into typed values and one-line errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubekeeper.errors import CommandFailed, CommandStalled, ExitCode, OperationFailed


class RepositoryError(OperationFailed):
    """Base of repository failures; the message names the repository and what to do."""


class RepositoryNotFound(RepositoryError):
    """Nothing at that location (a typo, an unmounted NFS share): never created implicitly. Exit 10."""

    exit_code = ExitCode.REPOSITORY_MISSING


class WrongPassword(RepositoryError):
    exit_code = ExitCode.WRONG_PASSWORD


class RepositoryLocked(RepositoryError):
    exit_code = ExitCode.REPOSITORY_LOCKED


class BackendUnreachable(RepositoryError):
    pass


class BackendStalled(BackendUnreachable):
    """The backend accepted the connection but made no progress for the stall timeout."""


class AccessDenied(RepositoryError):
    """The backend refused our credentials (HTTP 401/403, S3 AccessDenied): not a missing repository."""


class AppendOnly(RepositoryError):
    """The backend refuses deletions (rest-server / rclone `--append-only`, a WORM bucket)."""


class EmptySnapshot(RepositoryError):
    """restic refuses to write a snapshot with nothing in it (an empty directory, or every file excluded)."""


class IncompleteBackup(OperationFailed):
    """restic could not read some source files; the snapshot it wrote was removed or marked incomplete."""


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    files_new: int = 0
    files_changed: int = 0
    files_unmodified: int = 0
    data_added: int = 0
    total_files_processed: int = 0
    total_bytes_processed: int = 0
    total_duration: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    hostname: str
    paths: tuple[str, ...]
    tags: tuple[str, ...] = field(default_factory=tuple)
    original: str | None = None  # set by `restic copy`: the id in the source repository
    #: restic 0.17+ records the backup's summary in the snapshot: new data the repository took in
    data_added: int | None = None
    bytes_processed: int | None = None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Snapshot:
        raw = doc.get("summary")
        summary: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return cls(
            id=doc["id"],
            short_id=doc.get("short_id", doc["id"][:8]),
            time=_parse_time(doc["time"]),
            hostname=doc.get("hostname", ""),
            paths=tuple(doc.get("paths") or ()),
            tags=tuple(doc.get("tags") or ()),
            original=doc.get("original"),
            data_added=_int_or_none(summary.get("data_added")),
            bytes_processed=_int_or_none(summary.get("total_bytes_processed")),
        )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_time(text: str) -> datetime:
    # restic prints nanoseconds; Python takes microseconds
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def json_lines(output: bytes) -> list[dict[str, Any]]:
    """Every JSON object line in restic output (status lines included), skipping non-JSON noise."""
    docs = []
    for raw in output.splitlines():
        raw = raw.strip()
        if raw.startswith(b"{"):
            try:
                docs.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return docs


def exit_error(text: str) -> dict[str, Any] | None:
    """restic 0.17+ `--json`: the `exit_error` message (code and message) printed on failure."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and '"exit_error"' in line:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict) and doc.get("message_type") == "exit_error":
                return doc
    return None


def backup_errors(output: bytes | str) -> list[tuple[str, str]]:
    """(item, message) of every file restic could not read (`--json` `error` messages, 0.17+; the
    plain-text `error: ...` lines of 0.14)."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"message_type":"error"' in line.replace(" ", ""):
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            message = (doc.get("error") or {}).get("message", "")
            found.append((doc.get("item", ""), message))
        elif line.startswith("error: "):
            message = line.removeprefix("error: ")
            found.append((message.split(": ", 1)[0], message))
    return found


def backup_summary(output: bytes) -> BackupSummary:
    for doc in reversed(json_lines(output)):
        if doc.get("message_type") == "summary":
            return BackupSummary(
                snapshot_id=doc["snapshot_id"],
                files_new=doc.get("files_new", 0),
                files_changed=doc.get("files_changed", 0),
                files_unmodified=doc.get("files_unmodified", 0),
                data_added=doc.get("data_added", 0),
                total_files_processed=doc.get("total_files_processed", 0),
                total_bytes_processed=doc.get("total_bytes_processed", 0),
                total_duration=doc.get("total_duration", 0.0),
            )
    raise OperationFailed("restic backup finished without a summary: the snapshot was not confirmed")


def snapshots(output: bytes) -> list[Snapshot]:
    text = output.decode("utf-8", "replace").strip() or "[]"
    return sorted((Snapshot.from_json(d) for d in json.loads(text)), key=lambda s: s.time)


_LOCK_RE = re.compile(
    r"locked (?P<mode>exclusively )?by PID (?P<pid>\d+) on (?P<host>\S+) by (?P<user>.+?)(?:\n|$)"
    r"(?:.*?lock was created at (?P<created>[^\n]+))?",
    re.S,
)
_UNREACHABLE = (
    "connection refused",
    "no such host",
    "dial tcp",
    "i/o timeout",
    "network is unreachable",
    "connection reset",
    "tls: ",
    "x509: ",
    "ssh command exited",
    "unable to start the sftp session",
    "subprocess ssh:",
)


#: the backend refused the credentials: HTTP 401/403 (REST), S3's error codes
_DENIED = re.compile(
    r"unexpected HTTP response \((401|403)\)|\b(401 Unauthorized|403 Forbidden)\b|AccessDenied|Access Denied|"
    r"InvalidAccessKeyId|SignatureDoesNotMatch|permission denied \(publickey",
    re.I,
)
#: a deletion refused by an append-only backend (restic forget/prune/unlock/key remove)
_APPEND_ONLY = re.compile(r"Remove\(<(?!lock/)[a-z]+/[0-9a-f]+>\) failed: unexpected HTTP response \(403\)|append-only", re.I)
#: restic's exit code for "snapshot written, but some source files could not be read"
INCOMPLETE_EXIT = 3


def is_append_only_refusal(stderr: str) -> bool:
    """Whether restic's output shows a deletion refused the way append-only backends refuse it."""
    return bool(_APPEND_ONLY.search(stderr))


def classify(error: CommandFailed, repo_display: str) -> OperationFailed:
    """Map a failed restic run to the error an operator can act on (exit codes of 0.17+ too).

    Order matters: a REST server answering 401 makes restic also print "Is there a repository at
    the following location?" - that must read "access denied", never "create one", or the advice
    would make a second repository."""
    if isinstance(error, CommandStalled):
        waited = error.message.split("made no progress for ", 1)[-1].split(" and was stopped", 1)[0]
        retries = [line.strip() for line in error.stderr.splitlines() if "retrying after" in line]
        last = retries[-1].split(": ", 1)[-1] if retries else ""
        if any(marker in last.lower() for marker in _UNREACHABLE):
            return BackendStalled(f"repository backend unreachable: {repo_display}: still failing after {waited} ({last}); stopped")
        return BackendStalled(
            f"repository backend {repo_display} made no progress for {waited} (it accepts connections but does not answer"
            + (f"; restic: {last}" if last else "") + "); stopped - raise --stall-timeout / KUBEKEEPER_STALL_TIMEOUT "
            "if the backend is just slow"
        )
    text = error.stderr
    exited = exit_error(text)
    code = int(exited["code"]) if exited and str(exited.get("code", "")).isdigit() else error.returncode
    lower = text.lower()
    if is_append_only_refusal(text):
        return AppendOnly(
            f"repository {repo_display} refuses deletions (append-only); run retention with credentials that may "
            "delete: `kubekeeper repo forget --repo <the admin URL>`"
        )
    if _DENIED.search(text) and code not in (10, 11, 12):
        return AccessDenied(
            f"access denied by the backend of {repo_display}: {_denied_detail(text)}; check the backend "
            "credentials (user:password in the URL, RESTIC_REST_USERNAME/RESTIC_REST_PASSWORD, AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, the ssh key) - the repository itself was not checked"
        )
    if code == 12 or "wrong password" in lower:
        return WrongPassword(
            f"wrong password for repository {repo_display} (check --password-file, --password-command, "
            "RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND or RESTIC_PASSWORD)"
        )
    match = _LOCK_RE.search(text)
    if code == 11 or "already locked" in lower:
        holder = ""
        if match:
            holder = f" by PID {match['pid']} on {match['host']} ({match['user'].strip()})"
            if match["created"]:
                holder += f" since {match['created'].strip()}"
        return RepositoryLocked(
            f"repository {repo_display} is locked{holder}; wait for it to finish, or run "
            "`kubekeeper repo unlock` if that process is gone (it removes stale locks only, never a live one)"
        )
    if "snapshot is empty" in lower:
        return EmptySnapshot(f"restic stored nothing in {repo_display}: {fatal_line(text) or 'snapshot is empty'}")
    if any(marker in lower for marker in _UNREACHABLE):
        return BackendUnreachable(f"repository backend unreachable: {repo_display}: {fatal_line(text)}")
    if code == 10 or "is there a repository at the following location" in lower or "unable to open config file" in lower:
        return RepositoryNotFound(
            f"no repository at {repo_display}; nothing was created there - check the location, or create "
            "the repository with `kubekeeper repo init`"
        )
    return RepositoryError(f"restic failed on {repo_display}: {fatal_line(text) or error.message}")


def _denied_detail(text: str) -> str:
    match = _DENIED.search(text)
    return match.group(0) if match else "refused"


def fatal_line(text: str) -> str:
    exited = exit_error(text)
    if exited and exited.get("message"):
        text = str(exited["message"])
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("{")]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    chosen = fatal[-1] if fatal else (lines[0] if exited and lines else (lines[-1] if lines else ""))
    return chosen.removeprefix("Fatal: ")
