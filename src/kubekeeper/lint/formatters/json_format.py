"""`--format json`: {"findings", "workloads", "problems", "summary"} exactly as documented in docs/lint.md."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from kubekeeper.lint.engine import LintResult


def summary(result: LintResult) -> dict[str, Any]:
    counts = Counter(f.severity for f in result.findings)
    return {
        "files": result.files,
        "documents": result.documents,
        "workloads": len(result.workloads),
        "findings": {severity: counts[severity] for severity in ("error", "warning", "info")},
        "refused": len(result.refused),
        "refused_files": result.refused_files,
        "skipped": len(result.skipped),
        "skipped_files": len({p.file for p in result.skipped}),
        "profile": result.profile.name if result.profile else None,
    }


def document(result: LintResult) -> dict[str, Any]:
    return {
        "findings": [f.as_json() for f in result.findings],
        "workloads": [
            {"file": w.manifest.file, "kind": w.kind, "namespace": w.namespace, "name": w.name, "qos": w.qos}
            for w in result.workloads
        ],
        "problems": [p.as_json() for p in result.problems],
        "summary": summary(result),
    }


def render(result: LintResult) -> str:
    """One finding/workload/problem per line: readable, diffable, and several times cheaper than indent=2."""
    doc = document(result)
    parts = []
    for key in ("findings", "workloads", "problems"):
        items = ",\n    ".join(json.dumps(item) for item in doc[key])
        parts.append(f'  "{key}": [\n    {items}\n  ]' if items else f'  "{key}": []')
    parts.append(f'  "summary": {json.dumps(doc["summary"])}')
    return "{\n" + ",\n".join(parts) + "\n}\n"
