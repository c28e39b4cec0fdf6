"""Adding a data source touches no command but its own: a source written for this test (tests/e2e/
new_source: its module, one line in the registry, its command module) is backed up by `backup all`,
listed by `snapshots --kind`, skipped by `backup all --skip`, verified by `verify`, and has `backup
notes` / `restore notes` in the command groups - with no change to any of those commands. Real restic
on a local repository."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubekeeper.backup import sources
from kubekeeper.backup.source import Source
from kubekeeper.backup.sources import Registered
from kubekeeper.cli.groups import backup_app, restore_app

pytestmark = pytest.mark.e2e


@pytest.fixture
def notes_source(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The registry line and the command module `kubekeeper/cli/sources/notes.py` would be; afterwards
    the `notes` commands leave the shared groups again (and nothing else does)."""
    monkeypatch.setattr(sources, "SOURCES", (*sources.SOURCES, Registered("notes", "notes", "tests.e2e.new_source.notes", 40)))
    sys.modules.pop("tests.e2e.new_source.commands", None)
    monkeypatch.setitem(sys.modules, "kubekeeper.cli.sources.notes", importlib.import_module("tests.e2e.new_source.commands"))
    yield importlib.import_module("tests.e2e.new_source.notes").SOURCE
    for group in (backup_app, restore_app):
        group.registered_commands[:] = [c for c in group.registered_commands
                                        if getattr(c.callback, "__module__", "") != "tests.e2e.new_source.commands"]


def write_config(path: Path, repo: Path, password_file: Path) -> Path:
    path.write_text(f"cluster: lab\nrepositories:\n  primary:\n    url: {repo}\n    password: {{file: {password_file}}}\n")
    return path


def test_a_new_source_is_picked_up_by_every_command_that_works_with_any_source(notes_source, cli, restic_repo, tmp_path: Path) -> None:
    assert isinstance(notes_source, Source)  # it has the shape of backup/source.py
    config = write_config(tmp_path / "cluster.yaml", Path(restic_repo.url), restic_repo.password_file)

    stored = cli("backup", "all", "--config", str(config))
    assert stored.code == 0, stored.err
    assert "backing up 20 characters of notes" in stored.err  # the source's phases, on stderr
    assert "notes" in stored.out and "1 snapshot(s)" in stored.out

    listed = cli("snapshots", "--kind", "notes", *restic_repo.cli_args, "--format", "json")
    assert listed.code == 0, listed.err
    [snapshot] = json.loads(listed.out)
    assert (snapshot["kind"], snapshot["details"]["words"]) == ("notes", 4) and "set" in snapshot["details"]
    text = cli("snapshots", *restic_repo.cli_args)
    assert f"{snapshot['id'][:8]}" in text.out and "words=4" in text.out

    drill = cli("verify", *restic_repo.cli_args, "--format", "json")
    assert drill.code == 0, drill.out + drill.err
    checks = json.loads(drill.out)["checks"]
    assert [(c["part"], c["subject"], c["ok"]) for c in checks[:1]] == [("notes", f"{snapshot['id'][:8]} 4 words", True)]
    assert notes_source.verified == [snapshot["id"]]

    skipped = cli("backup", "all", "--config", str(config), "--skip", "notes")
    assert skipped.code == 2 and "enables no part (etcd, registry, volumes, notes)" in skipped.err
    wrong = cli("backup", "all", "--config", str(config), "--skip", "note")
    assert wrong.code == 2 and "choose etcd, registry, volumes or notes" in wrong.err

    own = cli("backup", "notes", "--text", "one two three", *restic_repo.cli_args, "--cluster", "lab")
    assert own.code == 0, own.err
    restored = cli("restore", "notes", "--into", str(tmp_path / "notes.txt"), *restic_repo.cli_args, "--cluster", "lab")
    assert restored.code == 0, restored.err
    assert (tmp_path / "notes.txt").read_text() == "one two three"
    helped = cli("restore", "--help")
    assert "notes" in helped.out and "etcd" in helped.out and "volume" in helped.out


def test_an_unregistered_kind_is_refused_with_the_registered_ones(cli, restic_repo) -> None:
    result = cli("snapshots", "--kind", "notes", *restic_repo.cli_args)
    assert result.code == 2 and "unknown --kind 'notes' (one of etcd, registry, volume)" in result.err
