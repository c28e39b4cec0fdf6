"""Profiles: rule id -> severity, kept as data (profiles.yaml) so severities never live in rules."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from kubekeeper.errors import BadInput
from kubekeeper.lint.model import SEVERITIES

OFF = "off"


@cache
def all_profiles() -> dict[str, dict[str, str]]:
    text = resources.files("kubekeeper.lint").joinpath("profiles.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for name, levels in data.items():
        for rule, level in list(levels.items()):
            if level is False:  # a bare `off` is a YAML 1.1 boolean
                levels[rule] = level = OFF
            if level not in (*SEVERITIES, OFF):
                raise ValueError(f"profiles.yaml: {name}.{rule}: unknown severity {level!r}")
    return data


def profile(name: str) -> dict[str, str]:
    """Severities of the named profile (rules not listed are off)."""
    profiles = all_profiles()
    if name not in profiles:
        raise BadInput(f"unknown profile {name!r} (known: {', '.join(profiles)})")
    return {rule: level for rule, level in profiles[name].items() if level != OFF}
