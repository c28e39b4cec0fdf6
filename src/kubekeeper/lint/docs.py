"""Generate docs/lint.md: prose from docs_template.md, the rule reference from the rule docstrings, the
profiles from profiles.yaml, and the noise figures measured by linting a corpus of real manifests.

    python -m kubekeeper.lint.docs --corpus tests/data/lint-corpus --bench bench/results/lint.json > docs/lint.md

A unit test regenerates the page and compares, so the documentation cannot drift from the rules.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kubekeeper.lint.engine import LintResult, Options, lint
from kubekeeper.lint.loader import Loaded, load_paths
from kubekeeper.lint.profiles import OFF, RESOURCE_CHECKS, raw_profiles
from kubekeeper.lint.rules import all_rules, documentation, summary

FAILING = ("error", "warning")  # what fails CI with the default --fail-on warning

Key = tuple[str, str, str | None, str]


def _key(file: str, kind: str, namespace: str | None, name: str) -> Key:
    return (file, kind, namespace, name)


def rules_table() -> str:
    profiles = raw_profiles()
    names = list(profiles)
    lines = ["| id | " + " | ".join(names) + " | what |", "|---|" + "---|" * len(names) + "---|"]
    for rule_id, module in all_rules().items():
        levels = " | ".join(profiles[name]["rules"].get(rule_id, OFF) for name in names)
        lines.append(f"| `{rule_id}` | {levels} | {summary(module)} |")
    return "\n".join(lines)


def resources_table() -> str:
    profiles = raw_profiles()
    names = list(profiles)
    lines = ["| check | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for check in RESOURCE_CHECKS:
        marks = " | ".join("required" if check in profiles[name].get("resources", []) else "-" for name in names)
        lines.append(f"| `{check}` | {marks} |")
    lines.append("| spread across | " + " | ".join(profiles[name].get("spread", "node") + "s" for name in names) + " |")
    return "\n".join(lines)


def rule_reference() -> str:
    parts = []
    for rule_id, module in all_rules().items():
        parts.append(f"### `{rule_id}`\n\n{documentation(module)}\n\nFix: {module.HINT}.")
    return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class Measurement:
    text: str
    values: dict[str, str]


def _flagged(result: LintResult, severities: tuple[str, ...] = FAILING) -> set[Key]:
    return {_key(f.file, f.kind, f.namespace, f.name) for f in result.findings if f.severity in severities}


def _project(file: str, corpus: Path) -> str:
    return Path(file).relative_to(corpus).parts[0]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def measure(corpus: Path) -> Measurement:
    """Lint the corpus with each profile and each resource check alone; tables and figures for the page."""
    loaded = load_paths([str(corpus)])
    default, strict = lint(loaded, Options("default")), lint(loaded, Options("strict"))
    keys = {_key(w.manifest.file, w.kind, w.namespace, w.name) for w in default.workloads}
    configured = {_key(w.manifest.file, w.kind, w.namespace, w.name) for w in default.workloads if w.qos != "BestEffort"}
    total = len(keys)
    failing, strict_failing = _flagged(default) & keys, _flagged(strict) & keys
    profiles = raw_profiles()
    # what flags each workload: rules by id, the resource rules split into their checks
    flags: dict[str, set[Key]] = {check: _resource_check_alone(loaded, check) for check in RESOURCE_CHECKS}
    for f in strict.findings:
        if f.rule not in ("resource-requests", "resource-limits"):
            flags.setdefault(f.rule, set()).add(_key(f.file, f.kind, f.namespace, f.name))
    in_default = {check for check in RESOURCE_CHECKS if check in profiles["default"]["resources"]}
    in_default |= {rule for rule, level in profiles["default"]["rules"].items() if level in FAILING}
    in_default -= {"resource-requests", "resource-limits"}
    reasons: dict[Key, set[str]] = {k: {name for name in in_default if k in flags.get(name, set())} for k in failing}
    values: dict[str, str] = {
        "workloads": str(total), "configured": str(len(configured)), "files": str(default.files),
        "projects": str(len({_project(k[0], corpus) for k in keys})),
        "default_failing": str(len(failing)), "default_failing_pct": _pct(len(failing), total),
        "configured_failing": str(len(failing & configured)), "configured_failing_pct": _pct(len(failing & configured), len(configured)),
        "strict_failing": str(len(strict_failing)), "strict_failing_pct": _pct(len(strict_failing), total),
        "configured_strict_failing": str(len(strict_failing & configured)),
        "configured_strict_failing_pct": _pct(len(strict_failing & configured), len(configured)),
    }
    lines = [f"Measured on {total} workloads from {values['projects']} projects ({default.files} files in tests/data/lint-corpus); "
             f"{len(configured)} of them set some cpu or memory request or limit (are not BestEffort). A workload *fails* a "
             "profile when it has a finding at warning or error (the default `--fail-on warning`).", "",
             "| check | default | strict | flags (of all) | flags (of the configured) | sole reason it fails the default | "
             "would newly fail the default |", "|---|---|---|---|---|---|---|"]
    names = list(RESOURCE_CHECKS) + [r for r in all_rules() if r not in ("resource-requests", "resource-limits")]
    for name in names:
        flagged = flags.get(name, set())  # workloads, or the PodDisruptionBudgets pdb-sanity reports on
        if name in RESOURCE_CHECKS:
            level_default = "required" if name in profiles["default"]["resources"] else "-"
            level_strict = "required" if name in profiles["strict"]["resources"] else "-"
        else:
            level_default = profiles["default"]["rules"].get(name, OFF)
            level_strict = profiles["strict"]["rules"].get(name, OFF)
        sole = sum(1 for k in failing if reasons[k] == {name}) if name in in_default else None
        added = len(flagged - failing) if name not in in_default else None
        slug = name.replace("-", "_")
        values[f"{slug}_flags"] = str(len(flagged))
        values[f"{slug}_configured_pct"] = _pct(len(flagged & configured), len(configured))
        values[f"{slug}_sole"] = str(sole) if sole is not None else "-"
        values[f"{slug}_added"] = str(added) if added is not None else "-"
        lines.append(f"| `{name}` | {level_default} | {level_strict} | {len(flagged)} ({_pct(len(flagged), total)}) | "
                     f"{len(flagged & configured)} ({_pct(len(flagged & configured), len(configured))}) | "
                     f"{values[f'{slug}_sole']} | {values[f'{slug}_added']} |")
    lines += ["", "| project | workloads | configured | fail the default | fail strict |", "|---|---|---|---|---|"]
    for project in sorted({_project(k[0], corpus) for k in keys}):
        mine = {k for k in keys if _project(k[0], corpus) == project}
        lines.append(f"| {project} | {len(mine)} | {len(mine & configured)} | {len(mine & failing)} | {len(mine & strict_failing)} |")
    return Measurement("\n".join(lines), values)


def _resource_check_alone(loaded: Loaded, check: str) -> set[Key]:
    """Workloads the resource rules flag when `check` is the only resource check required."""
    others = tuple(c for c in RESOURCE_CHECKS if c != check)
    result = lint(loaded, Options("strict", require=(check,), ignore=others))
    return {_key(f.file, f.kind, f.namespace, f.name) for f in result.findings
            if f.rule in ("resource-requests", "resource-limits")}


def performance(bench: Path) -> str:
    """The last committed benchmark run, in words (bench/results/lint.json, written by bench/bench_lint.py)."""
    figures = json.loads(bench.read_text())
    main, kk, ck = figures["generated"], figures["generated"]["kubekeeper"], figures["generated"]["checkov"]
    low, high = main["ratio_wall_range"]
    goal = figures["goal"]["ratio_wall_at_least"]
    verdict = "met" if figures["goal"]["met"] else "missed"
    text = (f"Last committed run ({figures['measured_at'][:10]}, {figures['machine']['cpus']} shared cores, 1-minute load "
            f"{figures['machine']['load_1m_before']} before and {figures['machine']['load_1m_after']} after): on "
            f"{figures['corpus']['workload_manifests']:,} generated workloads kubekeeper takes {kk['wall_s_median']} s wall / "
            f"{kk['cpu_s_median']} s CPU (median of {len(kk['wall_s_runs'])} runs) against checkov {ck['version']} at "
            f"{ck['wall_s_median']} s wall / {ck['cpu_s_median']} s CPU (median of {len(ck['wall_s_runs'])}) - **{main['ratio_wall']}x "
            f"faster in wall time** (from {low}x to {high}x between the least and the most favourable pairs of runs; "
            f"{main['ratio_cpu']}x in CPU time). Goal >= {goal}x: {verdict}.")
    history = figures.get("history") or []
    if len(history) > 1:
        ratios = sorted(run["ratio_wall"] for run in history)
        text += (f" The machine is shared and wall time moves with the other jobs' load: across the {len(ratios)} "
                 f"recorded runs (`history` in the JSON) the wall-time ratio ranged from {ratios[0]}x to {ratios[-1]}x, "
                 f"median {ratios[len(ratios) // 2]}x; the CPU-time ratio from {min(r['ratio_cpu'] for r in history)}x "
                 f"to {max(r['ratio_cpu'] for r in history)}x.")
    real = figures.get("real_corpus")
    if real:
        text += (f" On the real corpus ({real['kubekeeper']['workloads']} workloads, 535 files): "
                 f"{real['kubekeeper']['wall_s_median']} s against {real['checkov']['wall_s_median']} s, {real['ratio_wall']}x.")
    return text + " Exact figures: `bench/results/lint.json`."


def render(corpus: Path | None, bench: Path | None = None) -> str:
    template = resources.files("kubekeeper.lint").joinpath("docs_template.md").read_text(encoding="utf-8")
    page = (template.replace("@RULES_TABLE@", rules_table()).replace("@RESOURCES_TABLE@", resources_table())
            .replace("@RULE_REFERENCE@", rule_reference()))
    if bench is not None:
        page = page.replace("@PERFORMANCE@", performance(bench))
    if corpus is not None:
        measurement = measure(corpus)
        page = page.replace("@NOISE_TABLE@", measurement.text)
        for name, value in measurement.values.items():
            page = page.replace(f"@{name}@", value)
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubekeeper.lint.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="directory of real manifests to measure noise on")
    parser.add_argument("--bench", type=Path, help="bench/results/lint.json, for the performance figures")
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.corpus, args.bench))
    return 0


if __name__ == "__main__":
    sys.exit(main())
