"""Changes to the machine kubekeeper runs on, and the one place `--dry-run` is honoured for them.

`tune apply` and `etcd prioritize` take the same path with and without --dry-run: they read the
machine, work out each change, and hand it to `Changes`, which records it and - unless the run is
dry - makes it: a child process through execute.run (passing dry_run on, so execute logs it and runs
nothing), anything else (a file write, a state record) through the callable given. What a dry run
reports is therefore exactly what a real run would do. Reads are not changes and run either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kubekeeper.execute import Command, Result, describe, run

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Changes:
    """The changes of one run, in order: what each does (`done`) and the commands among them."""

    dry_run: bool = False
    done: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def run(self, command: Command, why: str) -> Result:
        """A change made by a child process (logged with secrets masked; not started when dry)."""
        self.done.append(why)
        self.commands.append(describe(command))
        return run(command, dry_run=self.dry_run)

    def make(self, why: str, change: Callable[[], T]) -> T | None:
        """A change made in this process; its result, or None when dry."""
        self.done.append(why)
        if self.dry_run:
            log.info("dry-run: %s", why)
            return None
        return change()
