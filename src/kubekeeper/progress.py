"""Progress as engines report it: a callback protocol with a silent default.

An engine (a data source, registry sync, the restic adapter, ...) is handed a `Progress` and tells it
two things: a phase starts (`phase("backing up 3 volume(s) on node n1")`), and work moves within a
named transfer (`with progress.transfer("fetching blobs") as t: t.add_total(n); t.advance(k)`),
counted in bytes or, for listings, in items (`transfer("listing repositories", unit=ITEMS)`). How that
is shown - rich bars on a terminal, a line every few seconds in a log, nothing at all - is decided
above the engines (report/progress.py renders it), so no engine imports presentation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

#: what a transfer counts
BYTES = "bytes"
ITEMS = "items"


class Transfer(Protocol):
    """One counter; both methods may be called from worker threads."""

    def add_total(self, size: int) -> None: ...

    def advance(self, size: int) -> None: ...


class Progress(Protocol):
    """What a long operation reports while it runs; every method may be called from worker threads."""

    def phase(self, description: str) -> None:
        """A step of the operation starts (one line: what, and how much of it)."""
        ...

    def transfer(self, description: str, unit: str = BYTES) -> AbstractContextManager[Transfer]:
        """The counter of one named transfer ("fetching blobs"), for the duration of a `with`."""
        ...


class _SilentTransfer:
    def add_total(self, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass


class Silent:
    """The default: nothing is shown (`--no-progress`, `-q`, `--format json`, library use)."""

    def phase(self, description: str) -> None:
        pass

    @contextmanager
    def transfer(self, description: str, unit: str = BYTES) -> Iterator[Transfer]:
        yield _SilentTransfer()


SILENT: Progress = Silent()
