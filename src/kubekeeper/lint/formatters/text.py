"""Text report: grouped by file, then object (with its QoS class and eviction order), one line per
finding with the rule id, and the rule's fix hint once per rule and object."""

from __future__ import annotations

from collections import Counter
from itertools import groupby

from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.qos import EVICTION_TEXT
from kubekeeper.lint.rules import all_rules


def _object(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def render(result: LintResult) -> str:
    rules = all_rules()
    qos = {(w.manifest.file, w.kind, w.namespace, w.name): w.qos for w in result.workloads}
    out: list[str] = []
    for file, in_file in groupby(result.findings, key=lambda f: f.file):
        out.append(file)
        for key, in_object in groupby(in_file, key=lambda f: (f.kind, f.namespace, f.name)):
            findings = list(in_object)
            cls = qos.get((file, *key))
            suffix = f"  [QoS {cls}: {EVICTION_TEXT[cls]}]" if cls else ""
            out.append(f"  {_object(*key)}{suffix}")
            hinted: set[str] = set()
            for f in findings:
                where = f"{f.line}" if f.line else "-"
                out.append(f"    {where:>5}  {f.severity:<7} {f.rule:<18} {f.message}")
                if f.rule not in hinted and f.rule in rules:
                    hinted.add(f.rule)
                    out.append(f"{'':>20}fix: {rules[f.rule].HINT}")
        out.append("")
    counts = Counter(f.severity for f in result.findings)
    qos_counts = Counter(w.qos for w in result.workloads)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info") if counts[s]) or "no findings"
    classes = ", ".join(f"{n} {c}" for c, n in sorted(qos_counts.items()))
    out.append(f"{len(result.workloads)} workloads ({classes or 'none'}): {summary}")
    return "\n".join(out) + "\n"
