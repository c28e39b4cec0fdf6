"""Render a lint result: text (people), json (scripts), sarif (code-scanning UIs), junit (CI test reports).

JSON, SARIF and JUnit go through the shared writers (report/json_format.py, sarif.py, junit.py); this
module only says what of a LintResult goes where. Formats are documented in docs/lint.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import groupby
from typing import Any

from kubekeeper import __version__
from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.model import Finding, Problem
from kubekeeper.lint.qos import EVICTION_TEXT
from kubekeeper.lint.rules import all_rules, documentation, summary
from kubekeeper.lint.workload import Workload
from kubekeeper.report import sarif
from kubekeeper.report.json_format import dumps_itemwise
from kubekeeper.report.junit import Case, Suite, junit_document

PROBLEM_WORD = {"error": "refused", "note": "skipped"}
SARIF_LEVEL: dict[str, sarif.Level] = {"error": "error", "warning": "warning", "info": "note"}
INPUT_REFUSED = "input-refused"
INPUT_SKIPPED = "input-skipped"
#: notification descriptor per problem level: input refused (error) or skipped on purpose (note)
NOTIFICATIONS = {
    "error": sarif.Descriptor(INPUT_REFUSED, "A file or document could not be linted (invalid YAML, unrendered template, bad quantity)."),
    "note": sarif.Descriptor(INPUT_SKIPPED, "YAML that is not a Kubernetes object (kustomize patch list, kustomization, Helm values) was skipped."),
}


def _object(kind: str, namespace: str | None, name: str, sep: str = " ") -> str:
    return f"{kind}{sep}{namespace}/{name}" if namespace else f"{kind}{sep}{name}"


def _by_file(items: list[Any], file_of: Callable[[Any], str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        grouped[file_of(item)].append(item)
    return grouped


# ------------------------------------------------------------------------------------ text
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


def lint_text(result: LintResult) -> str:
    """Grouped by file: first what could not be linted there (refused or skipped, with why), then each
    object with findings (with its QoS class and eviction order), one line per finding with the rule
    id, and the rule's fix hint once per rule and object. A summary ends the report."""
    rules = all_rules()
    qos = {(w.manifest.file, w.kind, w.namespace, w.name): w.qos for w in result.workloads}
    findings = _by_file(result.findings, lambda f: f.file)
    problems = _by_file(result.problems, lambda p: p.file)
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


# ------------------------------------------------------------------------------------ json
def json_summary(result: LintResult) -> dict[str, Any]:
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


def json_document(result: LintResult) -> dict[str, Any]:
    """{"findings", "workloads", "problems", "summary"} exactly as documented in docs/lint.md."""
    return {
        "findings": [f.as_json() for f in result.findings],
        "workloads": [
            {"file": w.manifest.file, "kind": w.kind, "namespace": w.namespace, "name": w.name, "qos": w.qos}
            for w in result.workloads
        ],
        "problems": [p.as_json() for p in result.problems],
        "summary": json_summary(result),
    }


def lint_json(result: LintResult) -> str:
    return dumps_itemwise(json_document(result))


# ----------------------------------------------------------------------------------- sarif
def _sarif_rules(result: LintResult) -> list[sarif.Rule]:
    """Every rule of the profile (sorted), and the pseudo-rule `input-refused` when input was refused."""
    rules = all_rules()
    entries = [sarif.Rule(rule_id, summary(rules[rule_id]), documentation(rules[rule_id]), rules[rule_id].HINT,
                          level=SARIF_LEVEL[severity], named=True)
               for rule_id, severity in sorted(result.severities.items())]
    if result.refused:
        entries.append(sarif.Rule(INPUT_REFUSED, "Input that kubekeeper could not lint.", NOTIFICATIONS["error"].description,
                                  "fix the YAML, or render templates first: helm template ... | kubekeeper lint -",
                                  level="error", named=True))
    return entries


def _sarif_results(result: LintResult) -> list[sarif.Result]:
    results = []
    for f in result.findings:
        logical = f"{f.namespace}/{f.kind}/{f.name}" if f.namespace else f"{f.kind}/{f.name}"
        if f.container:
            logical += f"/{f.container}"
        results.append(sarif.Result(f.rule, SARIF_LEVEL[f.severity], f.message, f.file, f.line, logical))
    results += [sarif.Result(INPUT_REFUSED, "error", f"{p.reason}: {p.message}", p.file, p.line) for p in result.refused]
    return results


def sarif_log(result: LintResult) -> dict[str, Any]:
    """One run, every rule of the profile in tool.driver.rules. Input that could not be linted is
    reported twice over, each where SARIF consumers look for it: every problem (refused or skipped)
    is a toolExecutionNotification (descriptors `input-refused`, `input-skipped`), and a refused one
    is also a result of the pseudo-rule `input-refused`, which code-scanning UIs show."""
    tool = sarif.Tool("kubekeeper", __version__, _sarif_rules(result), "https://github.com/kubekeeper/kubekeeper",
                      tuple(NOTIFICATIONS.values()))
    notifications = [sarif.Notification(NOTIFICATIONS[p.level].id, "error" if p.level == "error" else "note",
                                        f"{p.reason}: {p.message}", p.file, p.line) for p in result.problems]
    return sarif.sarif_document(tool, _sarif_results(result), notifications=notifications)


def lint_sarif(result: LintResult) -> str:
    return sarif.render(sarif_log(result))


# ----------------------------------------------------------------------------------- junit
def _problem_case(file: str, p: Problem) -> Case:
    where = f"{file}:{p.line}" if p.line else file
    name = f"{where} [{p.reason}]"
    if p.level == "error":
        return Case(name, file, "error", p.message, p.reason, f"{where}: refused: {p.reason}: {p.message}")
    return Case(name, file, "skipped", p.message)


def _finding_case(file: str, f: Finding) -> Case:
    container = f" container {f.container}" if f.container else ""
    return Case(f"{_object(f.kind, f.namespace, f.name, '/')}{container} [{f.rule}]", file, "failure", f.message, f.severity,
                f"{f.file}:{f.line or '-'}: {f.severity}: {f.rule}: {f.message}")


def _passed_case(file: str, w: Workload) -> Case:
    return Case(_object(w.kind, w.namespace, w.name, "/"), file)


def lint_junit(result: LintResult) -> str:
    """One testsuite per file: an `error` case per refused document, a `skipped` case per skipped one,
    a passing case per workload without findings, and a failing case per finding."""
    failing = {(f.file, f.kind, f.namespace, f.name) for f in result.findings}
    findings = _by_file(result.findings, lambda f: f.file)
    problems = _by_file(result.problems, lambda p: p.file)
    workloads = _by_file(result.workloads, lambda w: w.manifest.file)
    suites = []
    for file in sorted(set(workloads) | set(findings) | set(problems)):
        cases = [_problem_case(file, p) for p in problems.get(file, ())]
        cases += [_passed_case(file, w) for w in workloads.get(file, ()) if (file, w.kind, w.namespace, w.name) not in failing]
        cases += [_finding_case(file, f) for f in findings.get(file, ())]
        suites.append(Suite(file, cases))
    return junit_document("kubekeeper lint", suites)


FORMATTERS: dict[str, Callable[[LintResult], str]] = {
    "text": lint_text,
    "json": lint_json,
    "sarif": lint_sarif,
    "junit": lint_junit,
}


def render(result: LintResult, output_format: str) -> str:
    return FORMATTERS[output_format](result)
