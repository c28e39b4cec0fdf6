"""SARIF 2.1.0 writer shared by `lint` and `tune audit`.

Generic on purpose: callers turn their findings into `ReportItem`s (rule id, level, message, file,
line) and describe their rules once; this module knows nothing about Kubernetes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class ReportItem:
    """One finding as report writers see it (also used by report.junit)."""

    rule_id: str
    level: Level
    message: str
    file: str | None = None  # relative to base_uri when one is given
    line: int | None = None


@dataclass(frozen=True)
class RuleInfo:
    id: str
    description: str
    help_uri: str | None = None


def _location(item: ReportItem, base_id: str | None) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": item.file}
    if base_id:
        artifact["uriBaseId"] = base_id
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if item.line:
        physical["region"] = {"startLine": item.line}
    return {"physicalLocation": physical}


def sarif_document(
    tool: str,
    version: str,
    items: Iterable[ReportItem],
    rules: Mapping[str, RuleInfo] | None = None,
    *,
    information_uri: str | None = None,
    base_uri: str | None = None,
) -> dict[str, Any]:
    """A complete SARIF log with one run; rules seen in items but not described get a bare entry."""
    items = list(items)
    described = dict(rules or {})
    for item in items:
        described.setdefault(item.rule_id, RuleInfo(item.rule_id, item.rule_id))
    ordered = sorted(described)
    index = {rule_id: i for i, rule_id in enumerate(ordered)}
    driver: dict[str, Any] = {"name": tool, "version": version, "rules": []}
    if information_uri:
        driver["informationUri"] = information_uri
    for rule_id in ordered:
        rule = described[rule_id]
        entry: dict[str, Any] = {"id": rule.id, "shortDescription": {"text": rule.description}}
        if rule.help_uri:
            entry["helpUri"] = rule.help_uri
        driver["rules"].append(entry)
    base_id = "ROOT" if base_uri else None
    results = []
    for item in items:
        result: dict[str, Any] = {
            "ruleId": item.rule_id,
            "ruleIndex": index[item.rule_id],
            "level": item.level,
            "message": {"text": item.message},
        }
        if item.file:
            result["locations"] = [_location(item, base_id)]
        results.append(result)
    run: dict[str, Any] = {"tool": {"driver": driver}, "results": results}
    if base_uri:
        run["originalUriBaseIds"] = {"ROOT": {"uri": base_uri if base_uri.endswith("/") else base_uri + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
