"""The command-line contract: version, help, JSON purity, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kubekeeper import __version__


def test_version(cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"kubekeeper {__version__}"


def test_python_dash_m_entry() -> None:
    proc = subprocess.run([sys.executable, "-m", "kubekeeper", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "kubekeeper" in proc.stdout


@pytest.mark.parametrize("args", [("--help",), ("tune", "--help"), ("tune", "plan", "--help"), ("demo", "--help")])
def test_help_everywhere(cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 0
    assert "Usage" in result.out


def test_plan_json_is_pure_and_shaped(cli) -> None:
    result = cli("tune", "plan", "--nodes", "1000", "--k8s-version", "1.30", "--format", "json")
    assert result.code == 0
    doc = json.loads(result.out)
    assert doc["nodes"] == 1000 and doc["k8s_version"] == "1.30"
    for setting in doc["settings"]:
        assert {"id", "component", "key", "value", "rationale", "source"} <= setting.keys()
    assert isinstance(doc["warnings"], list)


def test_plan_text_report(cli, tmp_path) -> None:
    result = cli("tune", "plan", "--nodes", "3000", "--output-dir", str(tmp_path))
    assert result.code == 0
    assert "--max-requests-inflight = at least 1500" in result.out  # a floor: higher values are kept
    assert (tmp_path / "sysctl.d" / "90-kubekeeper.conf").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("tune", "plan", "--nodes", "0"),
        ("tune", "plan", "--nodes", "abc"),
        ("tune", "plan", "--nodes", "5", "--k8s-version", "2.1"),
        ("tune", "plan", "--nodes", "5", "--runtime", "rkt"),
        ("tune", "plan", "--nodes", "5", "--k8s-version", "1.30", "--runtime", "docker"),
        ("tune", "plan"),
        ("tune", "plan", "--nodes", "5", "--no-such-flag"),
        ("no-such-command",),
    ],
)
def test_bad_usage_is_one_line_exit_2(cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubekeeper: error: "), result.err
    assert "Traceback" not in result.err
    assert result.out == ""


@pytest.mark.parametrize(
    ("argv", "needed", "not_needed"),
    [
        (["backup", "etcd", "--endpoints", "x"], {"groups", "sources.etcd"}, {"sources.volume", "sources.registry"}),
        (["restore", "volume", "--pvc", "a/b"], {"groups", "sources.volume"}, {"sources.etcd"}),
        (["lint", "-"], {"lint"}, {"tune", "sources.volume"}),
        (["--help"], {"tune", "lint", "sources.volume", "sources.registry", "backup_all"}, set()),
    ],
)
def test_only_the_modules_a_command_needs_are_loaded(argv: list[str], needed: set[str], not_needed: set[str]) -> None:
    from kubekeeper.cli.main import modules_for

    modules = set(modules_for([a for a in argv if not a.startswith("-")]))
    assert needed <= modules and not (not_needed & modules)


def test_a_command_module_missing_from_the_package_is_an_error_not_a_missing_command(cli, monkeypatch) -> None:
    """A packaging error surfaces: exit 3 and one line naming the module (it used to be skipped silently,
    leaving "No such command 'lint'" as if the command did not exist)."""
    monkeypatch.setitem(sys.modules, "kubekeeper.cli.lint", None)  # import of it now fails like a missing file
    result = cli("lint", "manifests/")
    assert result.code == 3
    assert "kubekeeper.cli.lint cannot be imported" in result.err and "reinstall" in result.err
    assert "No such command" not in result.err and len(result.err.strip().splitlines()) == 1


def test_a_dependency_missing_under_a_command_module_is_one_line(cli, monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "kubekeeper.cli.lint", raising=False)
    monkeypatch.setitem(sys.modules, "kubekeeper.report.lint", None)
    result = cli("lint", "manifests/")
    assert result.code == 3 and "Traceback" not in result.err
    assert "kubekeeper.cli.lint cannot be imported" in result.err and "kubekeeper.report.lint" in result.err


def test_every_command_module_is_importable() -> None:
    import importlib

    from kubekeeper.cli.main import command_modules

    for name in command_modules():
        assert hasattr(importlib.import_module(f"kubekeeper.cli.{name}"), "register"), name
