"""Run the rules of a profile over manifests: workloads in; sorted findings, problems (input that could
not be linted, or was skipped on purpose) and per-workload QoS out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubekeeper.errors import BadInput
from kubekeeper.lint.loader import Loaded, paused_gc
from kubekeeper.lint.model import SEVERITY_RANK, SUPPRESS_ANNOTATION, Finding, Manifest, Problem, Violation
from kubekeeper.lint.profiles import Profile
from kubekeeper.lint.profiles import profile as load_profile
from kubekeeper.lint.rules import Context, all_rules
from kubekeeper.lint.workload import LabelSelector, Workload, as_workload, controller_owner, hpa_target, namespaces_match

SUPPRESS_ALL = frozenset({"*", "all"})
HPA_KIND = "HorizontalPodAutoscaler"


@dataclass(frozen=True, slots=True)
class Options:
    profile: str = "default"
    suppress: bool = True
    critical_selector: str | None = None
    ignore: tuple[str, ...] = ()  # rule ids or resource checks (cpu-limit, ...) switched off
    require: tuple[str, ...] = ()  # resource checks switched on
    spread: str | None = None  # "node" or "zone"; None: the profile's


@dataclass(slots=True)
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    profile: Profile | None = None
    files: int = 0  # files (and stdin) read
    documents: int = 0  # YAML documents that parsed
    skipped_controlled: int = 0

    @property
    def severities(self) -> dict[str, str]:
        """Rule id -> severity of every rule in force."""
        return self.profile.severities if self.profile else {}

    @property
    def refused(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "note"]

    @property
    def refused_files(self) -> int:
        return len({p.file for p in self.refused})

    @property
    def nothing_read(self) -> bool:
        """Input was given, nothing of it parsed and something was refused: bad input, exit 2."""
        return self.documents == 0 and bool(self.refused)

    def failed(self, fail_on: str) -> bool:
        """True when a finding is at or above the `fail_on` severity, or input had to be refused (a
        file lint could not read must never pass a gate unnoticed)."""
        threshold = SEVERITY_RANK[fail_on]
        return bool(self.refused) or any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings)


def suppressed_rules(manifest: Manifest) -> frozenset[str]:
    """Rule ids named in the object's `kubekeeper.io/lint-ignore` annotation ("a,b"; "*" for all)."""
    annotations = manifest.metadata.get("annotations")
    if not isinstance(annotations, dict):
        return frozenset()
    value = annotations.get(SUPPRESS_ANNOTATION)
    if not value:
        return frozenset()
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())


class _HpaIndex:
    """HorizontalPodAutoscalers by the (kind, name) they scale."""

    def __init__(self, manifests: list[Manifest]) -> None:
        self.by_target: dict[tuple[str, str], list[Manifest]] = {}
        for m in manifests:
            if m.kind == HPA_KIND:
                target = hpa_target(m)
                if target:
                    self.by_target.setdefault(target, []).append(m)

    def find(self, manifest: Manifest) -> Manifest | None:
        for hpa in self.by_target.get((manifest.kind, manifest.name), ()):
            if namespaces_match(hpa.namespace, manifest.namespace):
                return hpa
        return None


def lint(source: Loaded | Iterable[Manifest], options: Options = Options()) -> LintResult:
    """Lint what `load_paths`/`parse_text` read (its problems are carried over), or bare manifests."""
    with paused_gc():
        return _lint(source, options)


def _lint(source: Loaded | Iterable[Manifest], options: Options) -> LintResult:
    profile = load_profile(options.profile, options.ignore, options.require, options.spread)
    if isinstance(source, Loaded):
        manifests, problems = source.manifests, list(source.problems)
        files, documents = source.files, source.documents
    else:
        manifests, problems = list(source), []
        files, documents = 0, len(manifests)
    rules = [(rule_id, module) for rule_id, module in all_rules().items() if rule_id in profile.severities]
    selector = LabelSelector.parse(options.critical_selector) if options.critical_selector else None
    context = Context(pdbs=[m for m in manifests if m.kind == "PodDisruptionBudget"], critical_selector=selector,
                      profile=profile)
    hpas = _HpaIndex(manifests)
    result = LintResult(problems=problems, profile=profile, files=files, documents=documents)
    findings: set[Finding] = set()
    for manifest in manifests:
        if controller_owner(manifest) is not None:
            result.skipped_controlled += 1  # linted through its controller
            continue
        workload = _workload(manifest, selector, hpas, result.problems)
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
                if violation.subject is not None and options.suppress and rule_id in suppressed_rules(violation.subject):
                    continue
                findings.add(_finding(workload, rule_id, profile.severities[rule_id], violation))
    result.findings = sorted(findings, key=_sort_key)
    result.problems.sort(key=lambda p: (p.file, p.line or 0, p.reason))
    return result


def _workload(manifest: Manifest, selector: LabelSelector | None, hpas: _HpaIndex,
              problems: list[Problem]) -> Workload | None:
    """The workload, or None (not a workload kind, or a problem recorded instead)."""
    try:
        workload = as_workload(manifest, selector, hpas.find(manifest))
    except BadInput as exc:
        problems.append(Problem(manifest.file, manifest.line, "error", "invalid-quantity", exc.message))
        return None
    if workload is not None and not workload.resources.containers:
        problems.append(Problem(manifest.file, manifest.line, "note", "incomplete-workload",
                                f"{manifest.kind} {manifest.name} has no containers (a kustomize patch?): skipped"))
        return None
    return workload


def _finding(workload: Workload, rule_id: str, severity: str, violation: Violation) -> Finding:
    manifest = violation.subject or workload.manifest
    line = manifest.line_of(violation.node) if violation.node is not None else manifest.line
    return Finding(manifest.file, line, manifest.kind, manifest.namespace, manifest.name, rule_id, severity,
                   violation.container, violation.message)


def _sort_key(f: Finding) -> tuple[Any, ...]:
    return (f.file, f.line or 0, f.kind, f.namespace or "", f.name, f.rule, f.container or "", f.message)
