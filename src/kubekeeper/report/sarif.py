"""SARIF 2.1.0 (OASIS): the one SARIF writer, for `lint` and `tune audit` alike.

Generic on purpose: a caller describes its tool and rules once, turns its findings into `Result`s and
the input it could not read into `Notification`s; this module knows the format and nothing about
Kubernetes. Code-scanning UIs show results only, so a caller that wants unreadable input seen next
to the findings also reports it as a result of a pseudo-rule (lint's `input-refused`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Rule:
    """A `reportingDescriptor` of tool.driver.rules; optional parts are left out when not given."""

    id: str
    description: str  # shortDescription
    full_description: str | None = None
    help: str | None = None
    help_uri: str | None = None
    level: Level | None = None  # defaultConfiguration.level
    named: bool = False  # also write `name` (= id), as lint does for code-scanning UIs that show names


@dataclass(frozen=True)
class Result:
    """One finding: rule id, level, message, and where (file relative to base_uri, line, object)."""

    rule_id: str
    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    logical: str | None = None  # fully qualified name of the object at fault (kind "object")


@dataclass(frozen=True)
class Descriptor:
    """A notification descriptor of tool.driver.notifications."""

    id: str
    description: str


@dataclass(frozen=True)
class Notification:
    """A toolExecutionNotification: input the tool refused or skipped, with where."""

    descriptor: str
    level: Level
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    version: str
    rules: Sequence[Rule] = ()
    information_uri: str | None = None
    notifications: Sequence[Descriptor] = ()


def artifact_uri(file: str) -> str:
    """A file name as a URI reference: stdin has no path, and `./x` is `x`."""
    if file == "<stdin>":
        return "stdin"
    return file[2:] if file.startswith("./") else file


def _physical(file: str, line: int | None, base_id: str | None) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": artifact_uri(file)}
    if base_id:
        artifact["uriBaseId"] = base_id
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if line:
        physical["region"] = {"startLine": line}
    return physical


def _rule_entry(rule: Rule) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": rule.id}
    if rule.named:
        entry["name"] = rule.id
    entry["shortDescription"] = {"text": rule.description}
    if rule.full_description is not None:
        entry["fullDescription"] = {"text": rule.full_description}
    if rule.help is not None:
        entry["help"] = {"text": rule.help}
    if rule.help_uri:
        entry["helpUri"] = rule.help_uri
    if rule.level is not None:
        entry["defaultConfiguration"] = {"level": rule.level}
    return entry


def _result_entry(result: Result, index: int, base_id: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"ruleId": result.rule_id, "ruleIndex": index, "level": result.level,
                             "message": {"text": result.message}}
    if result.file:
        location: dict[str, Any] = {"physicalLocation": _physical(result.file, result.line, base_id)}
        if result.logical:
            location["logicalLocations"] = [{"fullyQualifiedName": result.logical, "kind": "object"}]
        entry["locations"] = [location]
    return entry


def _notification_entry(notification: Notification, index: int, base_id: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"level": notification.level, "message": {"text": notification.message}}
    if notification.file:
        entry["locations"] = [{"physicalLocation": _physical(notification.file, notification.line, base_id)}]
    entry["descriptor"] = {"id": notification.descriptor, "index": index}
    return entry


def sarif_document(tool: Tool, results: Sequence[Result], *, notifications: Sequence[Notification] | None = None,
                   base_uri: str | None = None) -> dict[str, Any]:
    """A complete SARIF log with one run. Rules keep the caller's order; a rule a result names but the
    tool does not describe gets a bare entry. `notifications=None` writes no invocation at all; a
    list (even empty) writes one successful invocation carrying them."""
    rules = list(tool.rules)
    described = {rule.id for rule in rules}
    for result in results:
        if result.rule_id not in described:
            described.add(result.rule_id)
            rules.append(Rule(result.rule_id, result.rule_id))
    index = {rule.id: i for i, rule in enumerate(rules)}
    descriptor_index = {d.id: i for i, d in enumerate(tool.notifications)}
    driver: dict[str, Any] = {"name": tool.name, "version": tool.version}
    if tool.information_uri:
        driver["informationUri"] = tool.information_uri
    driver["rules"] = [_rule_entry(rule) for rule in rules]
    if tool.notifications:
        driver["notifications"] = [{"id": d.id, "shortDescription": {"text": d.description}} for d in tool.notifications]
    base_id = "ROOT" if base_uri else None
    run: dict[str, Any] = {"tool": {"driver": driver}}
    if notifications is not None:
        run["invocations"] = [{
            "executionSuccessful": True,
            "toolExecutionNotifications": [_notification_entry(n, descriptor_index[n.descriptor], base_id)
                                           for n in notifications],
        }]
    run["results"] = [_result_entry(result, index[result.rule_id], base_id) for result in results]
    if base_uri:
        run["originalUriBaseIds"] = {"ROOT": {"uri": base_uri if base_uri.endswith("/") else base_uri + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
