"""Render a `tune audit` report as text, JSON, SARIF or JUnit (the last two via the shared writers)."""

from __future__ import annotations

import json
from pathlib import Path

from kubekeeper import __version__
from kubekeeper.knowledge import load_catalogue
from kubekeeper.report.junit import junit_document
from kubekeeper.report.sarif import ReportItem, RuleInfo, sarif_document
from kubekeeper.tune.audit import AuditReport, Finding

INFO_URI = "https://github.com/kubekeeper/kubekeeper/blob/main/docs/tune-audit.md"


def report_items(report: AuditReport) -> list[ReportItem]:
    return [ReportItem(f.id, f.severity, f"{f.message}. Fix: {f.fix}", f.file, f.line) for f in report.findings]


def _rules(findings: list[Finding]) -> dict[str, RuleInfo]:
    catalogue = load_catalogue()
    rules = {}
    for finding in findings:
        try:
            setting = catalogue.by_id(finding.id)
        except KeyError:
            continue
        rules[finding.id] = RuleInfo(finding.id, setting.rationale, setting.source)
    return rules


def audit_sarif(report: AuditReport) -> str:
    document = sarif_document("kubekeeper tune audit", __version__, report_items(report), _rules(report.findings),
                              information_uri=INFO_URI, base_uri=Path(report.root).resolve().as_uri())
    return json.dumps(document, indent=2) + "\n"


def audit_junit(report: AuditReport) -> str:
    return junit_document("kubekeeper.tune.audit", report_items(report), report.passed)


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
