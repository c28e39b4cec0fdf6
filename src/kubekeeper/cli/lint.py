"""`kubekeeper lint`: parse options, load manifests (files/stdin or the cluster), lint, render, exit code."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from kubekeeper.cli.common import REPORT_FORMAT_OPTION, ReportFormat
from kubekeeper.errors import BadInput, ExitCode
from kubekeeper.lint import Loaded, Options, lint, load_paths
from kubekeeper.lint.profiles import RESOURCE_CHECKS, all_profiles
from kubekeeper.lint.rules import all_rules, summary
from kubekeeper.report.lint import render


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


class Spread(StrEnum):
    node = "node"
    zone = "zone"


def _rules_epilog() -> str:
    lines = ["Rules (severities per profile: " + ", ".join(all_profiles()) + "):"]
    lines += [f"  {rule_id}: {summary(module)}" for rule_id, module in all_rules().items()]
    return ("\n\n".join(lines) + "\n\nResource checks for --ignore/--require: " + ", ".join(RESOURCE_CHECKS)
            + "\n\nSuppress per object: annotation kubekeeper.io/lint-ignore: \"rule-a,rule-b\". Docs: docs/lint.md")


def _names(values: list[str] | None) -> tuple[str, ...]:
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


def lint_command(
    paths: list[str] = typer.Argument(None, help="Files or directories (*.yaml, *.yml, *.json, recursive); '-' reads stdin."),
    output_format: ReportFormat = REPORT_FORMAT_OPTION,
    profile: str = typer.Option("default", "--profile", help="Profile: default or strict (severities, required resources)."),
    fail_on: Severity = typer.Option(Severity.warning, "--fail-on", help="Exit 1 when a finding is at or above this severity."),
    ignore: list[str] = typer.Option(None, "--ignore", metavar="ID[,ID]",
                                     help="Switch off rules or resource checks for this run, e.g. --ignore cpu-limit,job-ttl."),
    require: list[str] = typer.Option(None, "--require", metavar="CHECK[,CHECK]",
                                      help="Require more resource checks, e.g. --require ephemeral-storage-limit."),
    spread: Spread = typer.Option(None, "--spread", help="Critical workloads must spread across nodes or zones (default: the profile's, node)."),
    no_suppress: bool = typer.Option(False, "--no-suppress", help="Ignore kubekeeper.io/lint-ignore annotations."),
    critical_selector: str = typer.Option(None, "--critical-selector", help="Label selector marking more workloads critical, e.g. 'tier=critical'."),
    cluster: bool = typer.Option(False, "--cluster", help="Lint live objects from the Kubernetes API instead of files."),
    kubeconfig: str = typer.Option(None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."),
    context: str = typer.Option(None, "--context", help="Kubeconfig context to use."),
    namespace: str = typer.Option(None, "--namespace", "-n", help="Namespace (with --cluster; default: the context's)."),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A", help="All namespaces (with --cluster)."),
) -> None:
    """Lint workloads for the pod practices: requests/limits, QoS class, spreading and PDBs, HPAs, Jobs, no bare pods.

    Examples: kubekeeper lint manifests/ ; helm template my-chart | kubekeeper lint - --format sarif ;
    kubekeeper lint --cluster --context prod -A --profile strict ; kubekeeper lint k8s/ --ignore cpu-limit

    A file or document that cannot be linted (invalid YAML, an unrendered template, a bad quantity) is
    reported with file:line and the rest is still linted; YAML that is not a Kubernetes object (kustomize
    patch lists, kustomization.yaml, Helm values) is skipped with a note.

    Exit codes: 0 no findings at or above --fail-on and nothing refused, 1 findings or refused input,
    2 bad usage or nothing at all could be read, 3 API unreachable.
    """
    if cluster == bool(paths):
        raise BadInput("give PATH... (or '-' for stdin), or --cluster, but not both")
    if not cluster and (kubeconfig or context or namespace or all_namespaces):
        raise BadInput("--kubeconfig, --context, -n and -A need --cluster")
    options = Options(profile=profile, suppress=not no_suppress, critical_selector=critical_selector,
                      ignore=_names(ignore), require=_names(require), spread=spread.value if spread else None)
    if cluster:
        # the Kubernetes client costs 0.2 s of start-up, more than linting a chart: files never load it
        from kubekeeper.lint.live import ClusterSelection, load_cluster

        manifests = load_cluster(ClusterSelection(kubeconfig, context, namespace, all_namespaces))
        source = Loaded(manifests=manifests, documents=len(manifests))
    else:
        source = load_paths(paths)
    result = lint(source, options)
    if result.nothing_read:
        first = result.refused[0]
        more = f" (and {len(result.refused) - 1} more)" if len(result.refused) > 1 else ""
        raise BadInput(f"nothing could be read: {first.where()}: {first.message}{more}")
    sys.stdout.write(render(result, output_format.value))
    sys.stdout.flush()
    if result.failed(fail_on.value):
        raise typer.Exit(int(ExitCode.FINDINGS))


def register(app: typer.Typer) -> None:
    app.command("lint", epilog=_rules_epilog())(lint_command)
