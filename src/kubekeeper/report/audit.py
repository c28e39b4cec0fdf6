"""Render a `tune audit` report as text, JSON, SARIF or JUnit (the last three via the shared writers)."""

from __future__ import annotations

from pathlib import Path

from kubekeeper import __version__
from kubekeeper.knowledge import load_catalogue
from kubekeeper.report import sarif
from kubekeeper.report.junit import Case, Suite, junit_document
from kubekeeper.tune.audit import AuditReport, Finding

INFO_URI = "https://github.com/kubekeeper/kubekeeper/blob/main/docs/tune-audit.md"
SUITE = "kubekeeper.tune.audit"


def _where(f: Finding) -> str:
    if not f.file:
        return ""
    return f"{f.file}:{f.line}" if f.line else f.file


def _rules(findings: list[Finding]) -> list[sarif.Rule]:
    """Every setting a finding names, described from the catalogue (a bare entry when it has none), by id."""
    catalogue = load_catalogue()
    rules: dict[str, sarif.Rule] = {}
    for finding in findings:
        try:
            setting = catalogue.by_id(finding.id)
        except KeyError:
            rules[finding.id] = sarif.Rule(finding.id, finding.id)
            continue
        rules[finding.id] = sarif.Rule(finding.id, setting.rationale, help_uri=setting.source)
    return [rules[rule_id] for rule_id in sorted(rules)]


def audit_sarif(report: AuditReport) -> str:
    tool = sarif.Tool("kubekeeper tune audit", __version__, _rules(report.findings), INFO_URI)
    results = [sarif.Result(f.id, f.severity, f"{f.message}. Fix: {f.fix}", f.file, f.line) for f in report.findings]
    return sarif.render(sarif.sarif_document(tool, results, base_uri=Path(report.root).resolve().as_uri()))


def audit_junit(report: AuditReport) -> str:
    """One suite: a failing case per finding, a passing case per setting as recommended."""
    cases = []
    for f in report.findings:
        where, message = _where(f), f"{f.message}. Fix: {f.fix}"
        cases.append(Case(f"{f.id} {where}".strip(), f"{SUITE}.{f.id}", "failure", message, f.severity,
                          f"{f.severity}: {message}" + (f"\n  at {where}" if where else "")))
    cases += [Case(name, f"{SUITE}.{name}") for name in report.passed]
    return junit_document(SUITE, [Suite(SUITE, cases)])


def audit_text(report: AuditReport) -> str:
    nodes = f"{report.nodes} nodes" if report.nodes else "cluster size not given"
    lines = [f"tune audit: Kubernetes {report.k8s_version}, {nodes}, runtime {report.runtime}, root {report.root}"]
    versions = report.versions
    if versions:
        parts = [f"Kubernetes {versions['kubernetes']} from {versions['kubernetes_from']}"]
        if versions.get("containerd"):
            parts.append(f"containerd {versions['containerd']} from {versions['containerd_from']}")
        parts.append(f"etcd {versions['etcd']} from {versions['etcd_from']}")
        lines.append("versions: " + "; ".join(parts))
    lines += [f"warning: {w}" for w in report.warnings]
    for f in report.findings:
        lines.append(f"{f.severity.upper():7} {f.id}: {f.message}")
        lines.append(f"        at {f.source}")
        lines.append(f"        fix: {f.fix}")
    for skipped in report.skipped:
        lines.append(f"skipped {skipped['component']}: {skipped['reason']}")
    verdict = f"{len(report.findings)} finding(s)" if report.findings else "no findings"
    lines.append(f"{verdict}, {len(report.passed)} setting(s) as recommended")
    return "\n".join(lines) + "\n"
