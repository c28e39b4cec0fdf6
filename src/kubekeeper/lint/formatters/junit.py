"""JUnit XML (the Ant/Jenkins dialect CI systems read): one testsuite per file, one testcase per
workload that passed, one failing testcase per finding (so each shows up on its own in CI), one
testcase with an `error` per refused document and one `skipped` testcase per skipped document."""

from __future__ import annotations

from collections import defaultdict
from xml.etree import ElementTree as ET

from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.model import Finding, Problem


def _object(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def render(result: LintResult) -> str:
    failing = {(f.file, f.kind, f.namespace, f.name) for f in result.findings}
    findings: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        findings[f.file].append(f)
    problems: dict[str, list[Problem]] = defaultdict(list)
    for p in result.problems:
        problems[p.file].append(p)
    by_file: dict[str, list] = defaultdict(list)
    for w in result.workloads:
        by_file[w.manifest.file].append(w)
    root = ET.Element("testsuites", name="kubekeeper lint", tests="0", failures="0", errors="0", time="0")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for file in sorted(set(by_file) | set(findings) | set(problems)):
        suite = ET.SubElement(root, "testsuite", name=file, tests="0", failures="0", errors="0", skipped="0", time="0")
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for p in problems.get(file, ()):
            where = f"{file}:{p.line}" if p.line else file
            case = ET.SubElement(suite, "testcase", name=f"{where} [{p.reason}]", classname=file, time="0")
            if p.level == "error":
                error = ET.SubElement(case, "error", message=p.message, type=p.reason)
                error.text = f"{where}: refused: {p.reason}: {p.message}"
                counts["errors"] += 1
            else:
                ET.SubElement(case, "skipped", message=p.message)
                counts["skipped"] += 1
            counts["tests"] += 1
        for w in by_file.get(file, ()):
            if (file, w.kind, w.namespace, w.name) not in failing:
                ET.SubElement(suite, "testcase", name=_object(w.kind, w.namespace, w.name), classname=file, time="0")
                counts["tests"] += 1
        for f in findings.get(file, ()):
            container = f" container {f.container}" if f.container else ""
            case = ET.SubElement(suite, "testcase", name=f"{_object(f.kind, f.namespace, f.name)}{container} [{f.rule}]",
                                 classname=file, time="0")
            failure = ET.SubElement(case, "failure", message=f.message, type=f.severity)
            failure.text = f"{f.file}:{f.line or '-'}: {f.severity}: {f.rule}: {f.message}"
            counts["tests"] += 1
            counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
