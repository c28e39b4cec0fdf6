"""kubekeeper.changes: the one place --dry-run is honoured for changes to the machine (tune apply,
etcd prioritize): a dry run records every change and makes none; a real run makes them in order."""

from __future__ import annotations

from pathlib import Path

from kubekeeper.changes import Changes
from kubekeeper.execute import Command


def _steps(changes: Changes, target: Path) -> list[object]:
    return [
        changes.run(Command(("touch", str(target / "by-a-child")), env={"TOKEN": "s3cret-value"}, secrets=("s3cret-value",)),
                    "create a file with a child process"),
        changes.make("write a file here", lambda: (target / "in-process").write_text("x")),
    ]


def test_a_dry_run_records_and_makes_nothing(tmp_path: Path) -> None:
    changes = Changes(dry_run=True)
    results = _steps(changes, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert changes.done == ["create a file with a child process", "write a file here"]
    assert len(changes.commands) == 1 and "touch" in changes.commands[0] and "s3cret-value" not in changes.commands[0]
    assert results[0].returncode == 0 and results[1] is None


def test_a_real_run_makes_each_change_and_records_the_same(tmp_path: Path) -> None:
    dry, real = Changes(dry_run=True), Changes()
    _steps(dry, tmp_path / "unused")
    results = _steps(real, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by-a-child", "in-process"]
    assert real.done == dry.done and real.commands == [c.replace(str(tmp_path / "unused"), str(tmp_path)) for c in dry.commands]
    assert results[1] == 1  # what the change returned (bytes written)
