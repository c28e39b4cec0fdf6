"""Progress of long transfers as engines report it: a callback protocol with a silent default.

An engine (registry sync, ...) counts bytes through a `Transfer` it gets from a `Transfers` factory;
how that is shown - rich bars on a terminal, nothing at all - is decided above the engines
(report/progress.py renders it), so no engine imports presentation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Transfer(Protocol):
    """One byte counter; both methods may be called from worker threads."""

    def add_total(self, size: int) -> None: ...

    def advance(self, size: int) -> None: ...


class Transfers(Protocol):
    """Opens the counter of one named transfer ("fetching blobs") for the duration of a `with`."""

    def __call__(self, description: str) -> AbstractContextManager[Transfer]: ...


class _Silent:
    def add_total(self, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass


@contextmanager
def silent(description: str) -> Iterator[Transfer]:
    """The default: counts go nowhere."""
    yield _Silent()


_shown: Transfers = silent


def show_with(transfers: Transfers) -> None:
    """Set how transfers an engine was told to show (`progress=True`) are shown; the CLI sets rich bars.

    A bridge until every engine call passes its `Transfers` explicitly (issue 14 part B)."""
    global _shown
    _shown = transfers


def resolve(progress: bool | Transfers) -> Transfers:
    """An engine's `progress` argument as a factory: True - as set by show_with, False - silent."""
    if progress is True:
        return _shown
    if progress is False:
        return silent
    return progress
