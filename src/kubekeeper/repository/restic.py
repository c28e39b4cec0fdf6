"""The restic adapter: builders (commands.py) + the one runner (execute.py) + JSON parsing.

Every call goes through `_run`, which adds the repository's environment and turns restic's
failures into typed repository errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import IO

from kubekeeper import execute
from kubekeeper.errors import BadInput, CommandFailed, OperationFailed
from kubekeeper.execute import Command
from kubekeeper.repository import commands, features, messages
from kubekeeper.repository.commands import Retention
from kubekeeper.repository.messages import BackupSummary, Snapshot
from kubekeeper.repository.spec import RepoSpec

log = logging.getLogger(__name__)

#: snapshot ids per `restic forget` call (argv stays far below ARG_MAX)
FORGET_BATCH = 200


class Repository:
    """One restic repository. Methods are small wrappers; argv comes from `commands`."""

    def __init__(self, spec: RepoSpec, *, timeout: float | None = None, extra_tags: Sequence[str] = ()) -> None:
        self.spec = spec
        self.timeout = timeout
        self.extra_tags = tuple(extra_tags)

    def tagged(self, *tags: str) -> Repository:
        """The same repository, adding `tags` to every snapshot written through it (e.g. `set=<id>`)."""
        return Repository(self.spec, timeout=self.timeout, extra_tags=(*self.extra_tags, *tags))

    # ------------------------------------------------------------------ plumbing
    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = self.spec.env()
        if self.spec.cacert:
            env["RESTIC_CACERT"] = str(self.spec.cacert)
        env.update(extra or {})
        return env

    def _command(
        self,
        argv: Sequence[str],
        extra_env: dict[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        other_options: tuple[str, ...] = (),
    ) -> Command:
        argv = tuple(argv)
        if self.spec.insecure_tls:
            argv = (*argv, "--insecure-tls")
        # restic applies -o to both repositories of a copy: the source's (sftp.command ...) too
        for option in dict.fromkeys((*self.spec.options, *other_options)):
            argv = (*argv, "-o", option)
        return Command(argv=argv, env=self._env(extra_env), timeout=self.timeout, secrets=self.spec.secrets + secrets)

    def _run(self, argv: Sequence[str], **kw: object) -> execute.Result:
        try:
            return execute.run(self._command(argv), **kw)  # type: ignore[arg-type]
        except CommandFailed as exc:
            raise messages.classify(exc, self.spec.display) from exc

    @cached_property
    def version(self) -> features.ResticVersion:
        result = execute.run(Command(commands.version_argv(), timeout=30))
        version = features.ResticVersion.parse(result.text)
        if version < features.MINIMUM:
            raise OperationFailed(f"restic {version} is too old; kubekeeper needs {features.MINIMUM}+")
        return version

    # ------------------------------------------------------------------ lifecycle
    def local_path(self) -> Path | None:
        """The directory of a local repository (`/path` or `local:/path`), else None."""
        url = self.spec.url.removeprefix("local:")
        if ":" in url.split("/", 1)[0]:
            return None  # sftp:, rest:, s3:, rclone:, ...
        return Path(url)

    def exists(self) -> bool:
        """Whether a repository is there; a local one is checked on disk (a restic call costs a key derivation)."""
        local = self.local_path()
        if local is not None and (local / "config").is_file():
            return True
        try:
            self._run(commands.cat_config_argv())
        except messages.RepositoryNotFound:
            return False
        return True

    def init(self) -> None:
        self._run(commands.init_argv())

    def ensure(self) -> None:
        """Create the repository if there is none (first backup into a fresh location)."""
        if not self.exists():
            self.init()

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
        tags = [*tags, *self.extra_tags]
        command = self._command(commands.backup_paths_argv(paths, tags, host=host, excludes=excludes, parent=parent))
        command = Command(command.argv, command.env, cwd, command.timeout, command.secrets)
        try:
            result = execute.run(command)
        except CommandFailed as exc:
            if exc.returncode == 3:  # some files unreadable: the snapshot is incomplete, never good
                raise OperationFailed(
                    f"restic could not read some files under {', '.join(map(str, paths))}: "
                    f"{messages.fatal_line(exc.stderr)}; the incomplete snapshot is not reported as a backup"
                ) from exc
            raise messages.classify(exc, self.spec.display) from exc
        return messages.backup_summary(result.stdout)

    def backup_stream(self, chunks: Iterable[bytes], filename: str, tags: Sequence[str], *, host: str | None = None) -> BackupSummary:
        """Stream bytes into a snapshot holding one file; if `chunks` raises, nothing is stored."""
        command = self._command(commands.backup_stdin_argv(filename, [*tags, *self.extra_tags], host=host))
        try:
            result = execute.feed(command, chunks)
        except CommandFailed as exc:
            raise messages.classify(exc, self.spec.display) from exc
        return messages.backup_summary(result.stdout)

    # ------------------------------------------------------------------ read
    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        """Snapshots carrying all `tags`, oldest first."""
        return messages.snapshots(self._run(commands.snapshots_argv(tags)).stdout)

    def resolve(self, snapshot: str, tags: Sequence[str] = ()) -> Snapshot:
        """`latest` (newest with these tags) or an id / id prefix, checked to carry the tags."""
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

    def restore(self, snapshot_id: str, target: Path, includes: Sequence[str] = (), *, verify: bool = False) -> None:
        self._run(commands.restore_argv(snapshot_id, target, includes, verify=verify))

    def dump(self, snapshot_id: str, path: str, out: IO[bytes]) -> None:
        """Write one file of a snapshot to `out` (streamed, no temp copy)."""
        try:
            execute.drain_to(self._command(commands.dump_argv(snapshot_id, path)), out)
        except CommandFailed as exc:
            raise messages.classify(exc, self.spec.display) from exc

    def list_files(self, snapshot_id: str) -> list[dict]:
        docs = messages.json_lines(self._run(commands.ls_argv(snapshot_id)).stdout)
        return [d for d in docs if d.get("struct_type") == "node"]

    # ------------------------------------------------------------------ maintenance
    def check(self, read_data_subset: str | None = None) -> str:
        return self._run(commands.check_argv(read_data_subset)).text

    def forget(self, retention: Retention, tags: Sequence[str], *, prune: bool = True, dry_run: bool = False) -> list[dict]:
        """Apply the retention to each backup series among the snapshots `tags` select (see retention.py)."""
        if retention.empty:
            raise BadInput("forget needs at least one of --keep-last/--keep-daily/--keep-weekly/--keep-monthly")
        from kubekeeper.repository import retention as policy

        decisions = policy.plan(self.snapshots(tags), retention)
        doomed = [snapshot_id for d in decisions for snapshot_id in d.remove]
        if doomed and not dry_run:
            for start in range(0, len(doomed), FORGET_BATCH):
                self._run(commands.forget_ids_argv(doomed[start:start + FORGET_BATCH]))
            if prune:
                self._run(commands.prune_argv())
        return [d.as_json() for d in decisions]

    def copy_to(self, destination: Repository, tags: Sequence[str], snapshot_ids: Sequence[str] = ()) -> None:
        """Copy snapshots from this repository into `destination` (restic dedups what is already there)."""
        destination.ensure_compatible_init(self)
        command = destination._command(
            commands.copy_argv(snapshot_ids, tags), extra_env=self.spec.env("RESTIC_FROM_"), secrets=self.spec.secrets,
            other_options=self.spec.options,
        )
        try:
            execute.run(command)
        except CommandFailed as exc:
            raise messages.classify(exc, destination.spec.display) from exc

    def ensure_compatible_init(self, source: Repository) -> None:
        """A missing copy target is created with the source's chunker params, so dedup carries over."""
        if self.exists():
            return
        command = self._command(
            (commands.RESTIC, "init", "--copy-chunker-params"),
            extra_env=source.spec.env("RESTIC_FROM_"),
            secrets=source.spec.secrets,
            other_options=source.spec.options,
        )
        try:
            execute.run(command)
        except CommandFailed as exc:
            raise messages.classify(exc, self.spec.display) from exc
