"""Profiles: rule severities, required resource requests/limits and the spread topology, kept as data
(profiles.yaml) so that severities never live in rules. `--ignore`/`--require` adjust one for a run."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kubekeeper.errors import BadInput
from kubekeeper.lint.model import SEVERITIES

OFF = "off"
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
#: the per-resource checks a profile switches: cpu-request, cpu-limit, memory-request, ...
RESOURCE_CHECKS = tuple(f"{name}-{kind}" for kind in ("request", "limit") for name in RESOURCE_NAMES)
SPREADS = ("node", "zone")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    severities: dict[str, str]  # rule id -> severity, rules that are off left out
    resources: frozenset[str]  # RESOURCE_CHECKS that resource-requests / resource-limits require
    spread: str  # "node" or "zone"

    def required(self, kind: str) -> tuple[str, ...]:
        """Resources whose `kind` ("request" or "limit") this profile requires, in a stable order."""
        return tuple(name for name in RESOURCE_NAMES if f"{name}-{kind}" in self.resources)


def _validate(name: str, data: object, rule_ids: frozenset[str] | None) -> Profile:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
        raise ValueError(f"profiles.yaml: {name}: needs a `rules` mapping")
    severities = {}
    for rule, level in data["rules"].items():
        if level is False:  # a bare `off` is a YAML 1.1 boolean
            level = OFF
        if level not in (*SEVERITIES, OFF):
            raise ValueError(f"profiles.yaml: {name}.{rule}: unknown severity {level!r}")
        if rule_ids is not None and rule not in rule_ids:
            raise ValueError(f"profiles.yaml: {name}.{rule}: no such rule")
        if level != OFF:
            severities[rule] = level
    checks = data.get("resources") or []
    unknown = set(checks) - set(RESOURCE_CHECKS)
    if unknown:
        raise ValueError(f"profiles.yaml: {name}.resources: unknown {sorted(unknown)} (known: {', '.join(RESOURCE_CHECKS)})")
    spread = data.get("spread", "node")
    if spread not in SPREADS:
        raise ValueError(f"profiles.yaml: {name}.spread: {spread!r} is not one of {', '.join(SPREADS)}")
    return Profile(name, severities, frozenset(checks), spread)


@cache
def raw_profiles() -> dict[str, dict[str, Any]]:
    """profiles.yaml as written (rule levels include `off`), for documentation."""
    text = resources.files("kubekeeper.lint").joinpath("profiles.yaml").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = yaml.safe_load(text)
    for levels in data.values():
        for rule, level in list(levels.get("rules", {}).items()):
            if level is False:
                levels["rules"][rule] = OFF
    return data


@cache
def all_profiles() -> dict[str, Profile]:
    from kubekeeper.lint.rules import all_rules

    rule_ids = frozenset(all_rules())
    return {name: _validate(name, data, rule_ids) for name, data in raw_profiles().items()}


def profile(name: str, ignore: tuple[str, ...] = (), require: tuple[str, ...] = (), spread: str | None = None) -> Profile:
    """The named profile, with rules or resource checks in `ignore` switched off, resource checks in
    `require` switched on, and the spread topology overridden; unknown names are BadInput."""
    from kubekeeper.lint.rules import all_rules

    profiles = all_profiles()
    if name not in profiles:
        raise BadInput(f"unknown profile {name!r} (known: {', '.join(profiles)})")
    chosen = profiles[name]
    rule_ids = set(all_rules())
    for item in ignore:
        if item not in rule_ids and item not in RESOURCE_CHECKS:
            raise BadInput(f"--ignore {item}: not a rule id nor a resource check "
                           f"(resource checks: {', '.join(RESOURCE_CHECKS)}; rules: kubekeeper lint --help)")
    for item in require:
        if item not in RESOURCE_CHECKS:
            raise BadInput(f"--require {item}: not a resource check (one of {', '.join(RESOURCE_CHECKS)})")
    if spread is not None and spread not in SPREADS:
        raise BadInput(f"--spread {spread}: not one of {', '.join(SPREADS)}")
    checks = (chosen.resources | set(require)) - set(ignore)
    severities = {rule: level for rule, level in chosen.severities.items() if rule not in ignore}
    return replace(chosen, severities=severities, resources=frozenset(checks), spread=spread or chosen.spread)
