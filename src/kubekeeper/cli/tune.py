"""`kubekeeper tune ...`: plan, audit and apply."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.cli.common import FORMAT_OPTION, REPORT_FORMAT_OPTION, Format, ReportFormat
from kubekeeper.errors import ExitCode
from kubekeeper.report.apply import apply_text
from kubekeeper.report.audit import audit_junit, audit_sarif, audit_text
from kubekeeper.report.console import print_json
from kubekeeper.report.plan import show_plan
from kubekeeper.tune.apply import apply
from kubekeeper.tune.audit import NodeRequest, audit
from kubekeeper.tune.plan import PlanRequest, make_plan
from kubekeeper.tune.render import render_all, write_artifacts

tune_app = typer.Typer(help="Compute, audit and apply the settings a cluster of N nodes needs.", no_args_is_help=True)


@tune_app.command("plan")
def plan_command(
    nodes: int = typer.Option(..., "--nodes", "-N", help="Number of nodes the cluster has or will have."),
    k8s_version: str = typer.Option(None, "--k8s-version", help="Kubernetes MAJOR.MINOR (default: newest the catalogue knows; a newer one is planned with the newest known release's facts and a warning)."),
    runtime: str = typer.Option("containerd", "--runtime", help="Container runtime: containerd or docker."),
    containerd_version: str = typer.Option(None, "--containerd-version", help="containerd MAJOR.MINOR[.PATCH]; 1.x writes config v2, 2.x config v3 (default: the newest line containerd's RELEASES.md pairs with the Kubernetes version; others warn)."),
    etcd_version: str = typer.Option(None, "--etcd-version", help="etcd MAJOR.MINOR[.PATCH] whose flags and defaults the etcd advice follows (default: the etcd kubeadm runs for the Kubernetes version)."),
    no_kube_proxy: bool = typer.Option(False, "--no-kube-proxy", help="The cluster runs no kube-proxy (e.g. an eBPF service proxy): plan the conntrack sysctls on the host instead of in KubeProxyConfiguration."),
    cri_dockerd: bool = typer.Option(False, "--cri-dockerd", help="docker on Kubernetes >= 1.24 through cri-dockerd."),
    events_etcd_servers: str = typer.Option(None, "--events-etcd-servers", help="URLs of a separate etcd for events, separated by ',' or ';' (renders --etcd-servers-overrides=/events#URL;URL)."),
    output_dir: Path = typer.Option(None, "--output-dir", "-o", help="Write ready-to-use config artifacts here."),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Evaluate the settings catalogue for a cluster size and Kubernetes version.

    Example: kubekeeper tune plan --nodes 3000 --k8s-version 1.30 --output-dir ./tuning
    """
    plan = make_plan(
        PlanRequest(
            nodes=nodes,
            k8s_version=k8s_version,
            runtime=runtime,
            containerd_version=containerd_version,
            cri_dockerd=cri_dockerd,
            events_etcd_servers=events_etcd_servers,
            etcd_version=etcd_version,
            kube_proxy=not no_kube_proxy,
        )
    )
    written = write_artifacts(render_all(plan), output_dir) if output_dir else None
    if output_format is Format.json:
        document = plan.as_json()
        if written:
            document["artifacts"] = [str(p) for p in written]
        print_json(document)
    else:
        show_plan(plan, written)


ROOT_OPTION = typer.Option(Path("/"), "--root", help="The node's filesystem root (a copied node tree works too).")
NODES_OPTION = typer.Option(None, "--nodes", "-N", help="Number of nodes in the cluster (cannot be read from a node). Without it only settings that do not depend on the cluster size are checked.")
VERSION_OPTION = typer.Option(None, "--k8s-version", help="Kubernetes MAJOR.MINOR (default: the static-pod image tags, else the kubelet's package or binary).")
NODE_CONTAINERD_OPTION = typer.Option(None, "--containerd-version", help="containerd MAJOR.MINOR[.PATCH] on the node (default: its package or binary, else the config version).")
NODE_ETCD_OPTION = typer.Option(None, "--etcd-version", help="etcd version (default: the etcd static pod's image tag, else kubeadm's etcd for the Kubernetes version).")
NO_KUBE_PROXY_OPTION = typer.Option(False, "--no-kube-proxy", help="The cluster runs no kube-proxy: the host owns the conntrack sysctls.")


@tune_app.command("audit")
def audit_command(
    root: Path = ROOT_OPTION,
    nodes: int = NODES_OPTION,
    k8s_version: str = VERSION_OPTION,
    containerd_version: str = NODE_CONTAINERD_OPTION,
    etcd_version: str = NODE_ETCD_OPTION,
    no_kube_proxy: bool = NO_KUBE_PROXY_OPTION,
    output_format: ReportFormat = REPORT_FORMAT_OPTION,
) -> None:
    """Compare a node's sysctls, runtime, kubelet and static pods with the plan; changes nothing.

    Limits are floors: a live value above the recommendation (fs.file-max at LONG_MAX) is fine.
    Exit 0 with no findings, 1 with findings. Example: kubekeeper tune audit --nodes 3000 --format sarif
    """
    report = audit(root, NodeRequest(nodes, k8s_version, containerd_version, etcd_version, not no_kube_proxy))
    if output_format is ReportFormat.json:
        print_json(report.as_json())
    else:
        render = {ReportFormat.sarif: audit_sarif, ReportFormat.junit: audit_junit}.get(output_format, audit_text)
        if render is not audit_text:  # the text report carries them; machine formats keep stdout one document
            _warn(report.warnings)
        typer.echo(render(report), nl=False)
    if report.findings:
        raise typer.Exit(int(ExitCode.FINDINGS))


@tune_app.command("apply")
def apply_command(
    root: Path = ROOT_OPTION,
    nodes: int = typer.Option(None, "--nodes", "-N", help="Number of nodes in the cluster; needed for control-plane settings, not for sysctl, runtime or kubelet."),
    k8s_version: str = VERSION_OPTION,
    containerd_version: str = NODE_CONTAINERD_OPTION,
    etcd_version: str = NODE_ETCD_OPTION,
    no_kube_proxy: bool = NO_KUBE_PROXY_OPTION,
    only: str = typer.Option(None, "--only", help="Comma-separated groups: sysctl,runtime,kubelet,control-plane (default: all)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print a unified diff per file and change nothing."),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Write the plan onto the node: backed up, atomic, idempotent; never lowers a limit; never restarts services.

    Example: kubekeeper tune apply --only sysctl,kubelet --dry-run
    """
    result = apply(root, NodeRequest(nodes, k8s_version, containerd_version, etcd_version, not no_kube_proxy), only=only,
                   dry_run=dry_run)
    if output_format is Format.json:
        print_json(result.as_json())
    else:
        _warn(result.warnings)
        typer.echo(apply_text(result), nl=False)


def _warn(warnings: list[str]) -> None:
    """Version and size warnings of the plan a node was checked against, on stderr."""
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tune_app, name="tune")
