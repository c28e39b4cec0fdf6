"""Run the rules of a profile over manifests: workloads in, sorted findings and per-workload QoS out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from kubekeeper.lint.model import SEVERITY_RANK, Finding, Manifest
from kubekeeper.lint.profiles import profile as load_profile
from kubekeeper.lint.rules import Context, all_rules
from kubekeeper.lint.workload import LabelSelector, Workload, as_workload, controller_owner

SUPPRESS_ANNOTATION = "kubekeeper.io/lint-ignore"
SUPPRESS_ALL = frozenset({"*", "all"})


@dataclass(frozen=True, slots=True)
class Options:
    profile: str = "default"
    suppress: bool = True
    critical_selector: str | None = None


@dataclass(slots=True)
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    severities: dict[str, str] = field(default_factory=dict)  # the profile in force
    skipped_controlled: int = 0

    def failed(self, fail_on: str) -> bool:
        """True when a finding is at or above the `fail_on` severity."""
        threshold = SEVERITY_RANK[fail_on]
        return any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings)


def suppressed_rules(manifest: Manifest) -> frozenset[str]:
    """Rule ids named in the object's `kubekeeper.io/lint-ignore` annotation ("a,b"; "*" for all)."""
    annotations = manifest.metadata.get("annotations")
    if not isinstance(annotations, dict):
        return frozenset()
    value = annotations.get(SUPPRESS_ANNOTATION)
    if not value:
        return frozenset()
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())


def lint(manifests: Iterable[Manifest], options: Options = Options()) -> LintResult:
    severities = load_profile(options.profile)
    rules = [(rule_id, module) for rule_id, module in all_rules().items() if rule_id in severities]
    selector = LabelSelector.parse(options.critical_selector) if options.critical_selector else None
    manifests = list(manifests)
    context = Context(pdbs=[m for m in manifests if m.kind == "PodDisruptionBudget"], critical_selector=selector)
    result = LintResult(severities=severities)
    for manifest in manifests:
        if controller_owner(manifest) is not None:
            result.skipped_controlled += 1  # linted through its controller
            continue
        workload = as_workload(manifest, selector)
        if workload is None:
            continue
        result.workloads.append(workload)
        ignored = suppressed_rules(manifest) if options.suppress else frozenset()
        if ignored & SUPPRESS_ALL:
            continue
        for rule_id, module in rules:
            if rule_id in ignored:
                continue
            for violation in module.check(workload, context):
                result.findings.append(_finding(workload, rule_id, severities[rule_id], violation))
    result.findings.sort(key=_sort_key)
    return result


def _finding(workload: Workload, rule_id: str, severity: str, violation: Any) -> Finding:
    manifest = workload.manifest
    line = manifest.line_of(violation.node) if violation.node is not None else manifest.line
    return Finding(manifest.file, line, manifest.kind, manifest.namespace, manifest.name, rule_id, severity,
                   violation.container, violation.message)


def _sort_key(f: Finding) -> tuple[Any, ...]:
    return (f.file, f.line or 0, f.kind, f.namespace or "", f.name, f.rule, f.container or "")
