"""The lint rules: one module per rule, each with `ID`, `HINT`, a docstring (its user documentation)
and a generator `check(workload, context)` yielding Violations. Rules know nothing about severities.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Iterator, Protocol

from kubekeeper.lint.model import Manifest, Violation
from kubekeeper.lint.workload import LabelSelector, Workload


@dataclass(slots=True)
class Context:
    """What rules may look at beyond the workload itself: the other objects of the same input."""

    pdbs: list[Manifest] = field(default_factory=list)
    critical_selector: LabelSelector | None = None


class Rule(Protocol):
    ID: str
    HINT: str
    __doc__: str | None

    def check(self, workload: Workload, context: Context) -> Iterator[Violation]: ...


@cache
def all_rules() -> dict[str, ModuleType]:
    """Rule id -> rule module, discovered from this package."""
    rules: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rules[module.ID] = module
    return rules


def summary(rule: Any) -> str:
    """First line of the rule's docstring."""
    return (rule.__doc__ or "").strip().splitlines()[0]


def documentation(rule: Any) -> str:
    import inspect

    return inspect.cleandoc(rule.__doc__ or "")
