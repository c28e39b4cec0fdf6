"""SARIF 2.1.0 (OASIS) for code-scanning UIs: one run, every rule of the profile in tool.driver.rules.

Input that could not be linted is reported twice over, each where SARIF consumers look for it: every
problem (refused or skipped) is a `toolExecutionNotification` of the run's invocation (descriptors
`input-refused`, `input-skipped`), and a refused one is also a result of the pseudo-rule
`input-refused`, so that code-scanning UIs, which show results only, show it next to the findings.
"""

from __future__ import annotations

import json
from typing import Any

from kubekeeper import __version__
from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.model import Problem
from kubekeeper.lint.rules import all_rules, documentation, summary

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
INPUT_REFUSED = "input-refused"
NOTIFICATIONS = {
    "error": ("input-refused", "A file or document could not be linted (invalid YAML, unrendered template, bad quantity)."),
    "note": ("input-skipped", "YAML that is not a Kubernetes object (kustomize patch list, kustomization, Helm values) was skipped."),
}


def _uri(file: str) -> str:
    if file == "<stdin>":
        return "stdin"
    return file[2:] if file.startswith("./") else file


def _physical(file: str, line: int | None) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
    if line:
        location["region"] = {"startLine": line}
    return location


def _notification(p: Problem) -> dict[str, Any]:
    descriptor = NOTIFICATIONS[p.level][0]
    return {
        "level": "error" if p.level == "error" else "note",
        "message": {"text": f"{p.reason}: {p.message}"},
        "locations": [{"physicalLocation": _physical(p.file, p.line)}],
        "descriptor": {"id": descriptor, "index": list(NOTIFICATIONS.values()).index(NOTIFICATIONS[p.level])},
    }


def document(result: LintResult) -> dict[str, Any]:
    rules = all_rules()
    ids = sorted(result.severities)
    rule_entries = [{
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": summary(rules[rule_id])},
        "fullDescription": {"text": documentation(rules[rule_id])},
        "help": {"text": rules[rule_id].HINT},
        "defaultConfiguration": {"level": LEVEL[result.severities[rule_id]]},
    } for rule_id in ids]
    if result.refused:
        ids.append(INPUT_REFUSED)
        rule_entries.append({
            "id": INPUT_REFUSED,
            "name": INPUT_REFUSED,
            "shortDescription": {"text": "Input that kubekeeper could not lint."},
            "fullDescription": {"text": NOTIFICATIONS["error"][1]},
            "help": {"text": "fix the YAML, or render templates first: helm template ... | kubekeeper lint -"},
            "defaultConfiguration": {"level": "error"},
        })
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    results = []
    for f in result.findings:
        logical = f"{f.namespace}/{f.kind}/{f.name}" if f.namespace else f"{f.kind}/{f.name}"
        if f.container:
            logical += f"/{f.container}"
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [{
                "physicalLocation": _physical(f.file, f.line),
                "logicalLocations": [{"fullyQualifiedName": logical, "kind": "object"}],
            }],
        })
    for p in result.refused:
        results.append({
            "ruleId": INPUT_REFUSED,
            "ruleIndex": index[INPUT_REFUSED],
            "level": "error",
            "message": {"text": f"{p.reason}: {p.message}"},
            "locations": [{"physicalLocation": _physical(p.file, p.line)}],
        })
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubekeeper",
                "version": __version__,
                "informationUri": "https://github.com/kubekeeper/kubekeeper",
                "rules": rule_entries,
                "notifications": [{"id": ident, "shortDescription": {"text": text}} for ident, text in NOTIFICATIONS.values()],
            }},
            "invocations": [{
                "executionSuccessful": True,
                "toolExecutionNotifications": [_notification(p) for p in result.problems],
            }],
            "results": results,
        }],
    }


def render(result: LintResult) -> str:
    return json.dumps(document(result), indent=2) + "\n"
