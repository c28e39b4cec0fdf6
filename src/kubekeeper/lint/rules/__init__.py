"""The lint rules: one module per rule, each with `ID`, `HINT`, a docstring (its user documentation)
and a generator `check(workload, context)` yielding Violations. Rules know nothing about severities.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Protocol

from kubekeeper.lint.model import Manifest, Violation
from kubekeeper.lint.profiles import RESOURCE_CHECKS, Profile
from kubekeeper.lint.workload import LabelSelector, Workload, namespaces_match, selector_matches


def _default_profile() -> Profile:
    return Profile("custom", {}, frozenset(RESOURCE_CHECKS), "node")


@dataclass(slots=True)
class Context:
    """What rules may look at beyond the workload itself: the other objects of the same input and the
    profile's settings (which resources are required, which topology spreads)."""

    pdbs: list[Manifest] = field(default_factory=list)
    critical_selector: LabelSelector | None = None
    profile: Profile = field(default_factory=_default_profile)

    def pdbs_selecting(self, workload: Workload) -> list[Manifest]:
        """PodDisruptionBudgets in the workload's namespace whose selector matches its pods
        (policy/v1: an empty selector matches every pod of the namespace)."""
        found = []
        for pdb in self.pdbs:
            spec = pdb.obj.get("spec")
            if not isinstance(spec, dict) or not namespaces_match(pdb.namespace, workload.namespace):
                continue
            empty_matches_all = pdb.obj.get("apiVersion") == "policy/v1"
            if selector_matches(spec.get("selector"), workload.pod_labels, empty_matches_all):
                found.append(pdb)
        return found


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
    return inspect.cleandoc(rule.__doc__ or "")
