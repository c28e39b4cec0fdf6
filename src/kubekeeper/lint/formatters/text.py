"""Text report: grouped by file - first what could not be linted there (refused or skipped, with why),
then each object with findings (with its QoS class and eviction order), one line per finding with the
rule id, and the rule's fix hint once per rule and object. A summary ends the report."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import groupby

from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.model import Finding, Problem
from kubekeeper.lint.qos import EVICTION_TEXT
from kubekeeper.lint.rules import all_rules

PROBLEM_WORD = {"error": "refused", "note": "skipped"}


def _object(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _problem_line(p: Problem) -> str:
    where = f"{p.line}" if p.line else "-"
    return f"    {where:>5}  {PROBLEM_WORD[p.level]:<7} {p.reason:<18} {p.message}"


def summary_lines(result: LintResult) -> list[str]:
    counts = Counter(f.severity for f in result.findings)
    qos_counts = Counter(w.qos for w in result.workloads)
    found = ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info") if counts[s]) or "no findings"
    classes = ", ".join(f"{n} {c}" for c, n in sorted(qos_counts.items()))
    lines = [f"{len(result.workloads)} workloads ({classes or 'none'}): {found}"]
    if result.problems:
        refused, skipped = result.refused, result.skipped
        lines.append(f"{result.files} files read; not linted: {len(refused)} documents refused in {result.refused_files} files "
                     f"(see 'refused' above), {len(skipped)} skipped as not Kubernetes objects "
                     f"in {len({p.file for p in skipped})} files")
    return lines


def render(result: LintResult) -> str:
    rules = all_rules()
    qos = {(w.manifest.file, w.kind, w.namespace, w.name): w.qos for w in result.workloads}
    findings: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        findings[f.file].append(f)
    problems: dict[str, list[Problem]] = defaultdict(list)
    for p in result.problems:
        problems[p.file].append(p)
    out: list[str] = []
    for file in sorted(set(findings) | set(problems)):
        out.append(file)
        out.extend(_problem_line(p) for p in problems.get(file, ()))
        for key, in_object in groupby(findings.get(file, ()), key=lambda f: (f.kind, f.namespace, f.name)):
            cls = qos.get((file, *key))
            suffix = f"  [QoS {cls}: {EVICTION_TEXT[cls]}]" if cls else ""
            out.append(f"  {_object(*key)}{suffix}")
            hinted: set[str] = set()
            for f in in_object:
                where = f"{f.line}" if f.line else "-"
                out.append(f"    {where:>5}  {f.severity:<7} {f.rule:<18} {f.message}")
                if f.rule not in hinted and f.rule in rules:
                    hinted.add(f.rule)
                    out.append(f"{'':>20}fix: {rules[f.rule].HINT}")
        out.append("")
    out.extend(summary_lines(result))
    return "\n".join(out) + "\n"
