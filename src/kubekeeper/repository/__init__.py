"""restic-backed repositories: selection (spec), argv builders (commands), JSON parsing and error
mapping (messages), version gates (features), and the adapter (restic.Repository)."""

from kubekeeper.repository import features
from kubekeeper.repository.commands import Retention
from kubekeeper.repository.messages import (
    AccessDenied,
    AppendOnly,
    BackendStalled,
    BackendUnreachable,
    BackupSummary,
    EmptySnapshot,
    IncompleteBackup,
    RepositoryError,
    RepositoryLocked,
    RepositoryNotFound,
    Snapshot,
    WrongPassword,
)
from kubekeeper.repository.restic import Repository
from kubekeeper.repository.spec import RepoSpec
from kubekeeper.repository.tags import details_of, selection, snapshot_tags

__all__ = [
    "AccessDenied",
    "AppendOnly",
    "BackendStalled",
    "IncompleteBackup",
    "BackendUnreachable",
    "BackupSummary",
    "EmptySnapshot",
    "RepoSpec",
    "Repository",
    "RepositoryError",
    "RepositoryLocked",
    "RepositoryNotFound",
    "Retention",
    "Snapshot",
    "WrongPassword",
    "details_of",
    "features",
    "selection",
    "snapshot_tags",
]
