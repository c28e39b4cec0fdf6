"""CLI conventions: -v/-vv/-q anywhere on the line (restic/kubectl habit), shell completion, and
KUBEKEEPER_CLUSTER honoured by the commands that select snapshots by cluster."""

from __future__ import annotations

import os
import subprocess
import sys

from kubekeeper.cli.main import hoist_verbosity


def test_verbosity_flags_move_before_the_subcommand() -> None:
    assert hoist_verbosity(["snapshots", "-v", "--repo", "r"]) == ["-v", "snapshots", "--repo", "r"]
    assert hoist_verbosity(["repo", "check", "-vv", "-q"]) == ["-vv", "-q", "repo", "check"]
    assert hoist_verbosity(["-v", "snapshots"]) == ["-v", "snapshots"]
    # after `--` nothing is touched (arguments of a wrapped command)
    assert hoist_verbosity(["deploy", "--", "-v"]) == ["deploy", "--", "-v"]


def test_verbose_after_the_subcommand_is_accepted_and_help_says_no_integer(cli) -> None:
    helped = cli("--help")
    assert helped.code == 0
    verbose_line = next(line for line in helped.out.splitlines() if "--verbose" in line)
    assert "INTEGER" not in verbose_line and "-q" in helped.out
    listed = cli("snapshots", "-v", "--help")
    assert listed.code == 0, listed.err


def test_show_completion_prints_a_bash_script() -> None:
    done = subprocess.run([sys.executable, "-m", "kubekeeper", "--show-completion", "bash"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "complete -o default -F _kubekeeper_completion kubekeeper" in done.stdout


def test_completion_offers_subcommands_and_options() -> None:
    env = {**os.environ, "_KUBEKEEPER_COMPLETE": "complete_bash", "COMP_WORDS": "kubekeeper repo check --re", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "kubekeeper"], capture_output=True, text=True, env=env, timeout=60)
    assert {"--repo", "--repository-file", "--read-data-subset"} <= set(done.stdout.split())


def test_cluster_filters_read_kubekeeper_cluster() -> None:
    """snapshots, repo copy, repo forget, verify and the restores select by $KUBEKEEPER_CLUSTER."""
    import click
    import typer

    from kubekeeper.cli.main import build, command_modules

    command = typer.main.get_command(build(command_modules()))
    assert isinstance(command, click.Group)
    paths = [("snapshots",), ("repo", "copy"), ("repo", "forget"), ("verify",), ("restore", "etcd"), ("restore", "volume"),
             ("restore", "registry"), ("backup", "etcd"), ("backup", "volume"), ("backup", "registry")]
    for path in paths:
        node: click.Command = command
        for name in path:
            assert isinstance(node, click.Group)
            node = node.commands[name]
        cluster = next(p for p in node.params if "--cluster" in getattr(p, "opts", ()))
        assert getattr(cluster, "envvar", None) == "KUBEKEEPER_CLUSTER", path


def test_every_repository_command_has_the_shared_repository_options() -> None:
    import click
    import typer

    from kubekeeper.cli.main import build, command_modules

    def walk(node: click.Command, path: str = "") -> list[tuple[str, click.Command]]:
        if isinstance(node, click.Group):
            return [item for name, child in node.commands.items() for item in walk(child, f"{path} {name}")]
        return [(path.strip(), node)]

    names = {"--repo", "--password-file", "--password-command", "--repository-file", "--repo-cacert"}
    for path, node in walk(typer.main.get_command(build(command_modules()))):
        options = {o for p in node.params for o in getattr(p, "opts", ())}
        if "--repo" in options:
            assert names <= options, (path, names - options)
