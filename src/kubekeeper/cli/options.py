"""Options shared by the backup/restore/repo commands: repository selection, cluster name, snapshot,
progress. Values that select or label snapshots are checked here, once, for every command.

Repository options follow restic's names and environment variables, so a restic user's setup
(RESTIC_REPOSITORY, RESTIC_PASSWORD_COMMAND, ...) works unchanged. Cross-cutting settings given
before the command (`kubekeeper --stall-timeout 30 backup ...`) live in SESSION.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer

from kubekeeper.backup import sources
from kubekeeper.errors import BadInput
from kubekeeper.names import check_cluster_name
from kubekeeper.repository import Repository, RepoSpec
from kubekeeper.repository.commands import COMPRESSION_MODES
from kubekeeper.repository.retention import DELTA_KIND


@dataclass
class Session:
    """Settings of this invocation that every repository opened by it uses (set by cli/main.py)."""

    stall_timeout: float | None | str = "default"
    #: -q: no progress and only errors on stderr
    quiet: bool = False


SESSION = Session()

REPO_OPTION = typer.Option(
    None, "--repo", "-r", envvar="RESTIC_REPOSITORY", show_envvar=True,
    help="restic repository (path, sftp:, rest:, s3:); default $RESTIC_REPOSITORY.",
)
PASSWORD_FILE_OPTION = typer.Option(
    None, "--password-file", "-p",
    help="File with the repository password; default $RESTIC_PASSWORD_FILE, then $RESTIC_PASSWORD.",
)
PASSWORD_COMMAND_OPTION = typer.Option(
    None, "--password-command",
    help="Command that prints the repository password (run by restic, e.g. a vault client); default $RESTIC_PASSWORD_COMMAND.",
)
REPOSITORY_FILE_OPTION = typer.Option(
    None, "--repository-file",
    help="File whose first line is the repository URL (keeps credentials out of argv); default $RESTIC_REPOSITORY_FILE.",
)
REPO_CACERT_OPTION = typer.Option(None, "--repo-cacert", help="CA certificate for a TLS backend (rest:, s3:).")
COMPRESSION_OPTION = typer.Option(
    "auto", "--compression", envvar="RESTIC_COMPRESSION",
    help=f"Compression of new data ({'|'.join(COMPRESSION_MODES)}; repository format 2, restic 0.14+).",
)

#: `latest`, or a snapshot id or its prefix (hex, as `kubekeeper snapshots` and restic print them)
_SNAPSHOT_ID = re.compile(r"[0-9a-f]{1,64}")


def snapshot_ref(value: str) -> str:
    """--snapshot: never empty (an empty prefix would match every snapshot and restore the newest)."""
    return checked_snapshot_ref(value, "--snapshot")


def checked_snapshot_ref(value: str, option: str) -> str:
    """A snapshot id, id prefix or 'latest' given as `option` (an option or an argument's name)."""
    text = value.strip().lower()
    if text == "latest" or _SNAPSHOT_ID.fullmatch(text):
        return text
    if not text:
        raise BadInput(f"{option} is empty: give a snapshot id (see `kubekeeper snapshots`) or 'latest'")
    shown = value if len(value) <= 80 else value[:80] + "..."
    raise BadInput(f"{option} {shown!r}: not a snapshot id (hex, see `kubekeeper snapshots`) or 'latest'")


def snapshot_option(help: str = "Snapshot id (or its prefix) or 'latest'.") -> Any:
    """The --snapshot option of every restore and verify command, checked by `snapshot_ref`."""
    return typer.Option("latest", "--snapshot", callback=snapshot_ref, help=help)


def cluster_name(value: str | None) -> str | None:
    """--cluster: a name that can be the tag cluster:<name> (None: no filter)."""
    return None if value is None else check_cluster_name(value)


CLUSTER_OPTION = typer.Option(
    "default", "--cluster", envvar="KUBEKEEPER_CLUSTER", show_envvar=True, callback=cluster_name,
    help="Cluster name recorded in the snapshot tags (cluster:<name>).",
)
NO_PROGRESS_OPTION = typer.Option(False, "--no-progress", help="No progress bars on stderr.")


def open_repository(
    repo: str | None,
    password_file: Path | None,
    cacert: Path | None = None,
    *,
    password_command: str | None = None,
    repository_file: Path | None = None,
    compression: str | None = None,
) -> Repository:
    """The repository the options and restic's environment select (BadInput when incomplete)."""
    spec = RepoSpec.from_options(repo, password_file, cacert=cacert, password_command=password_command, repository_file=repository_file)
    return Repository(spec, stall_timeout=SESSION.stall_timeout, compression=compression)


@dataclass(frozen=True)
class RepositoryOptions:
    """The repository a command works on, as its options (or restic's environment) name it."""

    repo: str | None = None
    password_file: Path | None = None
    password_command: str | None = None
    repository_file: Path | None = None
    repo_cacert: Path | None = None

    def open(self, compression: str | None = None) -> Repository:
        return open_repository(self.repo, self.password_file, self.repo_cacert, password_command=self.password_command,
                               repository_file=self.repository_file, compression=compression)


#: the placeholder default of a command's `repo_options` parameter (replaced by `repository_options`)
REPOSITORY = RepositoryOptions()
#: the command-line options behind RepositoryOptions: name -> (type, typer option)
_REPOSITORY_PARAMETERS: dict[str, tuple[Any, Any]] = {
    "repo": (str | None, REPO_OPTION),
    "password_file": (Path | None, PASSWORD_FILE_OPTION),
    "password_command": (str | None, PASSWORD_COMMAND_OPTION),
    "repository_file": (Path | None, REPOSITORY_FILE_OPTION),
    "repo_cacert": (Path | None, REPO_CACERT_OPTION),
}
_Command = TypeVar("_Command", bound=Callable[..., Any])


def repository_options(command: _Command) -> _Command:
    """Give a command the repository options (--repo, --password-file, --password-command,
    --repository-file, --repo-cacert), defined once here; it receives them as its `repo_options`
    parameter (a RepositoryOptions, default REPOSITORY). Typer reads the rewritten signature."""
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command)
    names = list(signature.parameters)
    at = names.index("repo_options")  # the options appear in --help where the parameter stands
    kept = [p for name, p in signature.parameters.items() if name != "repo_options"]
    added = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option, annotation=kind)
             for name, (kind, option) in _REPOSITORY_PARAMETERS.items()]

    @functools.wraps(command)
    def with_repository(**kwargs: Any) -> Any:
        chosen = RepositoryOptions(**{name: kwargs.pop(name) for name in _REPOSITORY_PARAMETERS})
        return command(repo_options=chosen, **kwargs)

    parameters = [*kept[:at], *added, *kept[at:]]
    with_repository.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_repository.__annotations__ = {**{k: v for k, v in hints.items() if k != "repo_options"},
                                       **{name: kind for name, (kind, _) in _REPOSITORY_PARAMETERS.items()}}
    return typing.cast(_Command, with_repository)


KIND_OPTION = typer.Option(None, "--kind", help=f"Only snapshots of this kind ({', '.join(sources.kinds())}).")
LISTED_KIND_OPTION = typer.Option(None, "--kind", help=f"Only snapshots of this kind ({', '.join((*sources.kinds(), DELTA_KIND))}).")
#: snapshots/restore/verify/repo copy/repo forget: only snapshots of this cluster, defaulting to
#: $KUBEKEEPER_CLUSTER like the backups (a CronJob's environment selects the same cluster everywhere)
CLUSTER_SELECT_OPTION = typer.Option(None, "--cluster", envvar="KUBEKEEPER_CLUSTER", show_envvar=True, callback=cluster_name,
                                     help="Only snapshots of this cluster.")
CLUSTER_FILTER_OPTION = CLUSTER_SELECT_OPTION
KUBECONFIG_OPTION = typer.Option(None, "--kubeconfig", envvar="KUBECONFIG", help="kubeconfig file; in a pod the service account is used.")
CONTEXT_OPTION = typer.Option(None, "--context", help="kubeconfig context.")


def kind_filter(kind: str | None) -> str | None:
    """--kind checked against the kinds of the registered data sources (backup/sources/)."""
    return sources.check_kind(kind)


def listed_kind_filter(kind: str | None) -> str | None:
    """--kind of `snapshots`: a source's kind, or the etcd follower's deltas (listed, not a source:
    they are restored and forgotten with their full etcd snapshot)."""
    return kind if kind == DELTA_KIND else kind_filter(kind)
