"""restic's `--json` output and its error text, turned into typed values and one-line errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from kubekeeper.errors import CommandFailed, OperationFailed


class RepositoryError(OperationFailed):
    """Base of repository failures; the message names the repository and what to do."""


class RepositoryNotFound(RepositoryError):
    pass


class WrongPassword(RepositoryError):
    pass


class RepositoryLocked(RepositoryError):
    pass


class BackendUnreachable(RepositoryError):
    pass


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

    @classmethod
    def from_json(cls, doc: dict) -> Snapshot:
        return cls(
            id=doc["id"],
            short_id=doc.get("short_id", doc["id"][:8]),
            time=_parse_time(doc["time"]),
            hostname=doc.get("hostname", ""),
            paths=tuple(doc.get("paths") or ()),
            tags=tuple(doc.get("tags") or ()),
            original=doc.get("original"),
        )


def _parse_time(text: str) -> datetime:
    # restic prints nanoseconds; Python takes microseconds
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def json_lines(output: bytes) -> list[dict]:
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


def classify(error: CommandFailed, repo_display: str) -> OperationFailed:
    """Map a failed restic run to the error an operator can act on (exit codes of 0.17+ too)."""
    text = error.stderr
    lower = text.lower()
    if error.returncode == 12 or "wrong password" in lower:
        return WrongPassword(f"wrong password for repository {repo_display} (check --password-file / RESTIC_PASSWORD_FILE)")
    match = _LOCK_RE.search(text)
    if error.returncode == 11 or "already locked" in lower:
        holder = ""
        if match:
            holder = f" by PID {match['pid']} on {match['host']} ({match['user'].strip()})"
            if match["created"]:
                holder += f" since {match['created'].strip()}"
        return RepositoryLocked(
            f"repository {repo_display} is locked{holder}; wait for it to finish, or run "
            "`restic unlock` if that process is gone (kubekeeper never removes a live lock)"
        )
    if any(marker in lower for marker in _UNREACHABLE):
        return BackendUnreachable(f"repository backend unreachable: {repo_display}: {fatal_line(text)}")
    if error.returncode == 10 or "is there a repository at the following location" in lower or "unable to open config file" in lower:
        return RepositoryNotFound(f"no repository at {repo_display} (create one with `kubekeeper repo init`)")
    return RepositoryError(f"restic failed on {repo_display}: {fatal_line(text) or error.message}")


def fatal_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    chosen = fatal[-1] if fatal else (lines[-1] if lines else "")
    return chosen.removeprefix("Fatal: ")
