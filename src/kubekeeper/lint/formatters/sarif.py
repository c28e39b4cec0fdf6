"""SARIF 2.1.0 (OASIS) for code-scanning UIs: one run, every rule of the profile in tool.driver.rules."""

from __future__ import annotations

import json
from typing import Any

from kubekeeper import __version__
from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.rules import all_rules, documentation, summary

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(file: str) -> str:
    if file == "<stdin>":
        return "stdin"
    return file[2:] if file.startswith("./") else file


def document(result: LintResult) -> dict[str, Any]:
    rules = all_rules()
    ids = sorted(result.severities)
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    results = []
    for f in result.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.file)}}
        if f.line:
            location["region"] = {"startLine": f.line}
        logical = f"{f.namespace}/{f.kind}/{f.name}" if f.namespace else f"{f.kind}/{f.name}"
        if f.container:
            logical += f"/{f.container}"
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [{
                "physicalLocation": location,
                "logicalLocations": [{"fullyQualifiedName": logical, "kind": "object"}],
            }],
        })
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubekeeper",
                "version": __version__,
                "informationUri": "https://github.com/kubekeeper/kubekeeper",
                "rules": [{
                    "id": rule_id,
                    "name": rule_id,
                    "shortDescription": {"text": summary(rules[rule_id])},
                    "fullDescription": {"text": documentation(rules[rule_id])},
                    "help": {"text": rules[rule_id].HINT},
                    "defaultConfiguration": {"level": LEVEL[result.severities[rule_id]]},
                } for rule_id in ids],
            }},
            "results": results,
        }],
    }


def render(result: LintResult) -> str:
    return json.dumps(document(result), indent=2) + "\n"
