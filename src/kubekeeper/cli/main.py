"""The `kubekeeper` entry point: builds the command tree and maps every error to one exit code.

Each command group lives in its own module exposing `register(app)`; this module only wires them
and owns the single error -> exit code table (kubekeeper.errors).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys

import click
import typer

from kubekeeper import __version__, redact
from kubekeeper.backup import sources
from kubekeeper.cli.options import SESSION
from kubekeeper.errors import ExitCode, KubekeeperError, OperationFailed, exit_code_for

#: top-level command -> the modules (`kubekeeper/cli/<name>.py`, each with `register(app)`) it needs.
#: Only the modules of the command being run are imported: start-up time matters for `lint` in CI
#: and for incremental backups that finish in seconds.
COMMANDS: dict[str, tuple[str, ...]] = {
    "tune": ("tune",),
    "lint": ("lint",),
    "etcd": ("etcd", "etcd_status"),
    "repo": ("repo",),
    "backup": (),  # `groups` defines backup/restore; every data source adds its commands (data_sources())
    "restore": (),
    "snapshots": ("snapshots",),
    "verify": ("verify",),
    "deploy": ("deploy",),
    "config": ("config",),
    "demo": ("demo",),
    "doctor": ("doctor",),
}


def source_modules() -> dict[str, str]:
    """`backup X` / `restore X` -> the one module they need: a registered source's `sources.<kind>`,
    or `backup_all` for `backup all`."""
    return {**{kind: f"sources.{kind}" for kind in sources.kinds()}, "all": "backup_all"}


def data_sources() -> tuple[str, ...]:
    """The modules of the backup/restore groups: the groups, every source's commands, `backup all`."""
    return ("groups", *source_modules().values())


def command_modules() -> tuple[str, ...]:
    """Every command module (for --help and unknown commands)."""
    listed = [m for name, modules in COMMANDS.items() for m in (data_sources() if name in ("backup", "restore") else modules)]
    return tuple(dict.fromkeys(listed))

app = typer.Typer(
    name="kubekeeper",
    help="Tune, audit, back up and restore large Kubernetes clusters.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubekeeper {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, metavar="", show_default=False,
                                help="More logging on stderr (-vv for debug); accepted anywhere on the line."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors on stderr: no progress, no warnings; accepted anywhere on the line."),
    stall_timeout: float = typer.Option(
        None, "--stall-timeout", envvar="KUBEKEEPER_STALL_TIMEOUT", min=0,
        help="Seconds a restic run may make no progress (a hung backend) before it is stopped and named; 0: never. Default 120.",
    ),
) -> None:
    """Tune, audit, back up and restore large Kubernetes clusters.

    Exit codes: 0 success, 1 findings or verification failed, 2 bad usage or input, 3 operation failed,
    10 no repository there, 11 repository locked, 12 wrong repository password.
    """
    level = logging.ERROR if quiet and not verbose else logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="kubekeeper: %(levelname)s: %(message)s", stream=sys.stderr)
    redact.install_logging_filter()
    SESSION.stall_timeout = "default" if stall_timeout is None else (stall_timeout or None)  # per invocation
    SESSION.quiet = quiet and not verbose
    if SESSION.quiet:
        from kubekeeper.report import progress

        progress.silence()


#: the verbosity flags, accepted before or after the subcommand (restic and kubectl habit)
VERBOSITY_FLAGS = re.compile(r"-v+|-q|--verbose|--quiet")


def hoist_verbosity(args: list[str]) -> list[str]:
    """The command line with every -v/-vv/-q/--verbose/--quiet moved before the subcommand, where the
    top-level callback reads them (`kubekeeper snapshots -v` = `kubekeeper -v snapshots`). Arguments
    after `--` are left alone."""
    cut = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:cut] if VERBOSITY_FLAGS.fullmatch(a)]
    rest = [a for a in args[:cut] if not VERBOSITY_FLAGS.fullmatch(a)]
    return [*flags, *rest, *args[cut:]]


def modules_for(positionals: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs; every module for --help and unknown commands."""
    first = positionals[0] if positionals else ""
    if first in ("backup", "restore"):
        wanted = source_modules().get(positionals[1]) if len(positionals) > 1 else None
        return ("groups", wanted) if wanted else data_sources()
    return COMMANDS.get(first) or command_modules()


def build(modules: tuple[str, ...] | None = None) -> typer.Typer:
    """Register the given command modules (each `kubekeeper/cli/<name>.py` with `register(app)`).

    Every module listed exists in a good installation: one that cannot be imported (missing from the
    package, or missing a dependency) is a broken install and says so, never a command left out."""
    for name in command_modules() if modules is None else modules:
        try:
            module = importlib.import_module(f"kubekeeper.cli.{name}")
        except ImportError as exc:
            raise OperationFailed(f"kubekeeper is not installed completely: kubekeeper.cli.{name} cannot be imported "
                                  f"({type(exc).__name__}: {exc}); reinstall kubekeeper") from exc
        module.register(app)
    return app


def _fail(message: str, code: ExitCode) -> None:
    sys.stderr.write(f"kubekeeper: error: {redact.redact(message)}\n")
    sys.stderr.flush()
    sys.exit(int(code))


def run(argv: list[str] | None = None) -> None:
    """Console-script entry: one line on stderr and the contract's exit code for every failure."""
    args = hoist_verbosity(sys.argv[1:] if argv is None else argv)
    redact.register_environment(os.environ)
    positionals = [a for a in args if not a.startswith("-")]
    try:
        command = typer.main.get_command(build(modules_for(positionals)))
        result = command.main(args=args, prog_name="kubekeeper", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", ExitCode.OPERATION_FAILED)
    except click.ClickException as exc:  # usage errors: unknown option, bad value, missing argument
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        _fail(exc.format_message().replace("\n", " ") + hint, ExitCode.BAD_INPUT)
    except KubekeeperError as exc:
        _fail(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.OPERATION_FAILED)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: still one line, the traceback only with KUBEKEEPER_DEBUG=1
        if os.environ.get("KUBEKEEPER_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set KUBEKEEPER_DEBUG=1 for a traceback)", exit_code_for(exc))
    sys.exit(result if isinstance(result, int) else 0)
