"""`kubekeeper backup notes` and `kubekeeper restore notes`: the new source's own command module."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.cli.groups import backup_app, restore_app
from kubekeeper.cli.options import CLUSTER_OPTION, PASSWORD_FILE_OPTION, REPO_OPTION, open_repository, snapshot_option
from kubekeeper.progress import SILENT
from kubekeeper.report.console import print_json
from tests.e2e.new_source.notes import SOURCE, NotesOrigin, NotesTarget


@backup_app.command("notes")
def backup_notes(text: str = typer.Option(..., "--text"), repo: str = REPO_OPTION, password_file: Path = PASSWORD_FILE_OPTION,
                 cluster: str = CLUSTER_OPTION) -> None:
    result = SOURCE.back_up(open_repository(repo, password_file), NotesOrigin(text), cluster=cluster, progress=SILENT)
    print_json(result.as_json())


@restore_app.command("notes")
def restore_notes(into: Path = typer.Option(..., "--into"), snapshot: str = snapshot_option(), repo: str = REPO_OPTION,
                  password_file: Path = PASSWORD_FILE_OPTION, cluster: str = CLUSTER_OPTION) -> None:
    repository = open_repository(repo, password_file)
    target = NotesTarget(into)
    print_json(SOURCE.restore(repository, SOURCE.find(repository, snapshot, cluster=cluster, target=target), target,
                              progress=SILENT).as_json())


def register(app: typer.Typer) -> None:
    """The commands joined the backup/restore groups when this module was imported."""
