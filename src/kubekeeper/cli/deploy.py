"""`deploy render`, `deploy dispatch`, `deploy run`: kubekeeper inside the cluster (kubekeeper.deploy)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import CONTEXT_OPTION, KUBECONFIG_OPTION
from kubekeeper.deploy import validate
from kubekeeper.deploy.render import DeployOptions, images, render, to_yaml, write
from kubekeeper.errors import BadInput
from kubekeeper.report.console import print_json, stderr, stdout

deploy_app = typer.Typer(help="Run kubekeeper inside the cluster (docs/in-cluster.md).", no_args_is_help=True)
D = DeployOptions()


def _say(text: str) -> None:
    stderr.print(text, markup=False, highlight=False)


@deploy_app.command("render")
def render_command(
    output_dir: Path | None = typer.Option(None, "--output-dir", help="Write one file per object here (default: YAML on stdout)."),
    namespace: str = typer.Option(D.namespace, "--namespace", "-n", help="Namespace of the dispatcher and registry backup (PodSecurity restricted)."),
    node_namespace: str = typer.Option(D.node_namespace, "--node-namespace", help="Namespace of the etcd backup and per-node volume Jobs (PodSecurity privileged: they mount node files)."),
    image: str = typer.Option(D.image, "--image", help="Image of every container (default: the one `make image` builds)."),
    cluster: str = typer.Option(D.cluster, "--cluster", envvar="KUBEKEEPER_CLUSTER", show_envvar=True, help="Cluster name recorded in the snapshot tags."),
    etcd_schedule: str = typer.Option(D.etcd_schedule, "--etcd-schedule", help="Cron schedule of the etcd backup."),
    registry_schedule: str = typer.Option(D.registry_schedule, "--registry-schedule", help="Cron schedule of the registry backup."),
    volume_schedule: str = typer.Option(D.volume_schedule, "--volume-schedule", help="Cron schedule of a volume cycle (the dispatcher's start)."),
    volume_window: int = typer.Option(D.volume_window_seconds, "--volume-window", min=0, max=23 * 3600, help="Seconds over which node Jobs start (jitter); keep it shorter than the cycle."),
    time_zone: str | None = typer.Option(None, "--time-zone", help="Time zone of the schedules (CronJob timeZone), e.g. Europe/Berlin."),
    etcd_endpoints: str = typer.Option(D.etcd_endpoints, "--etcd-endpoints", help="etcd client URLs, as seen from a control-plane node."),
    etcd_pki_dir: str = typer.Option(D.etcd_pki_dir, "--etcd-pki-dir", help="Directory of the etcd client files on control-plane nodes (only the three files are mounted)."),
    registry: str | None = typer.Option(None, "--registry", help="Also back up this registry (a separate CronJob)."),
    repository_secret: str = typer.Option(D.repository_secret, "--repository-secret", help="Secret with keys `repository` and `password` (in each namespace that backs up)."),
    backend_secret: str | None = typer.Option(None, "--backend-secret", help="Secret whose keys become the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...)."),
    registry_secret: str | None = typer.Option(None, "--registry-secret", help="Secret with keys `username` and `password` for the registry."),
    registry_cache_size: str = typer.Option(D.registry_cache_size, "--registry-cache-size", help="Size of the registry cache PVC."),
    registry_cache_storage_class: str | None = typer.Option(None, "--registry-cache-storage-class", help="StorageClass of the registry cache PVC (default: the cluster's)."),
    kubelet_root: str = typer.Option(D.kubelet_root, "--kubelet-root", help="The kubelet's root directory on the nodes."),
    concurrency: int = typer.Option(D.concurrency, "--concurrency", min=1, max=64, help="Volumes backed up at once on one node."),
    hook_namespace: list[str] = typer.Option([], "--hook-namespace", help="Allow pre/post-backup hooks (pods/exec) in this namespace (repeatable); none by default."),
    pushgateway: str | None = typer.Option(None, "--pushgateway", help="Push every run's outcome to this Prometheus Pushgateway URL."),
    etcd_follow: bool = typer.Option(
        False, "--etcd-follow",
        help="Also run the etcd follower (continuous backup, point-in-time restore): a Deployment with one replica on a control-plane node.",
    ),
    etcd_delta_interval: str = typer.Option(D.etcd_delta_interval, "--etcd-delta-interval", help="The follower's --delta-interval."),
    etcd_full_interval: str = typer.Option(D.etcd_full_interval, "--etcd-full-interval", help="The follower's --full-interval."),
    etcd_follower_textfile_dir: str | None = typer.Option(
        None, "--etcd-follower-textfile-dir",
        help="node-exporter's textfile directory on control-plane nodes: the follower writes its lag there.",
    ),
    priority_class: str | None = typer.Option(None, "--priority-class", help="PriorityClass of the backup pods (default: none, they preempt nothing)."),
    check_schedule: str | None = typer.Option(
        None, "--check-schedule", help="Also run `repo check` on this cron schedule (with --pushgateway it feeds the repository-check alert).",
    ),
    with_monitoring: bool = typer.Option(True, "--monitoring/--no-monitoring", help="Also write a PrometheusRule (needs prometheus-operator's CRD) and a Grafana dashboard ConfigMap."),
) -> None:
    """Namespaces, least RBAC, etcd and registry CronJobs, the per-node volume dispatcher, alerts and a dashboard.

    Alerts: backup too old (26 h), part failed, repository check failed (`deploy run --part check --
    repo check`), etcd follower lag. The dashboard ConfigMap carries grafana_dashboard: "1" for
    Grafana's dashboard sidecar."""
    if image != D.image:
        validate.image_reference(image)
    labels: tuple[tuple[str, str], ...] = ((namespace, "--namespace"), (node_namespace, "--node-namespace"),
                                           *((n, "--hook-namespace") for n in hook_namespace))
    for label, option in labels:
        validate.dns_label(label, option)
    if namespace == node_namespace:
        raise BadInput("--namespace and --node-namespace must differ (they carry different PodSecurity levels)")
    for value, option in ((repository_secret, "--repository-secret"), (backend_secret, "--backend-secret"), (registry_secret, "--registry-secret"),
                          (priority_class, "--priority-class"), (registry_cache_storage_class, "--registry-cache-storage-class")):
        if value is not None:
            validate.dns_subdomain(value, option)
    if priority_class in ("system-node-critical", "system-cluster-critical"):
        raise BadInput(f"--priority-class {priority_class}: backups must not preempt the cluster's own workloads")
    if registry_secret and not registry:
        raise BadInput("--registry-secret needs --registry")
    options = DeployOptions(
        namespace=namespace, node_namespace=node_namespace, image=image, cluster=cluster,
        etcd_schedule=validate.cron_schedule(etcd_schedule, "--etcd-schedule"),
        registry_schedule=validate.cron_schedule(registry_schedule, "--registry-schedule"),
        volume_schedule=validate.cron_schedule(volume_schedule, "--volume-schedule"),
        time_zone=validate.time_zone(time_zone) if time_zone else None,
        volume_window_seconds=volume_window, etcd_endpoints=etcd_endpoints, etcd_pki_dir=etcd_pki_dir.rstrip("/") or "/",
        registry=registry, repository_secret=repository_secret, backend_secret=backend_secret, registry_secret=registry_secret,
        registry_cache_size=validate.quantity(registry_cache_size, "--registry-cache-size"),
        registry_cache_storage_class=registry_cache_storage_class, kubelet_root=kubelet_root, concurrency=concurrency,
        hook_namespaces=tuple(dict.fromkeys(hook_namespace)),
        pushgateway=validate.http_url(pushgateway, "--pushgateway") if pushgateway else None, priority_class=priority_class,
        etcd_follow=etcd_follow, etcd_delta_interval=etcd_delta_interval, etcd_full_interval=etcd_full_interval,
        etcd_follower_textfile_dir=etcd_follower_textfile_dir,
        monitoring=with_monitoring,
        check_schedule=validate.cron_schedule(check_schedule, "--check-schedule") if check_schedule else None,
    )
    objects = render(options)
    assert images(objects) == {image}
    if output_dir is None:
        sys.stdout.write(to_yaml(objects))
        return
    for path in write(objects, output_dir):
        _say(f"wrote {path}")
    needs = [node_namespace] + ([namespace] if registry or check_schedule else [])
    _say(f"before applying, create the Secret {repository_secret} (keys: repository, password) in {' and '.join(needs)}"
         + (f", {backend_secret} there too" if backend_secret else "")
         + (f", and {registry_secret} (keys: username, password) in {namespace}" if registry_secret else ""))


@deploy_app.command("dispatch")
def dispatch_command(
    template: Path = typer.Option(..., "--template", help="The volume Job template (the ConfigMap deploy render writes, mounted)."),
    window: int = typer.Option(4 * 3600, "--window", min=0, max=23 * 3600, help="Seconds over which node Jobs are started."),
    cycle: str | None = typer.Option(None, "--cycle", help="Cycle id in the Job names (default: from $JOB_NAME, the CronJob's scheduled minute)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the Jobs (YAML) instead of creating them; no waiting."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
    context: str | None = CONTEXT_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """One cycle of volume backups: list running pods and PVs once, create one Job per node with volumes."""
    # the Kubernetes client (0.2 s of start-up) is loaded only by the command that talks to the API
    from kubekeeper.deploy.dispatch import check, cycle_id, dispatch, load_template
    from kubekeeper.kubeapi import KubeAccess
    from kubekeeper.volumes.kube import Cluster

    job_template = load_template(template)
    now = time.time()
    if cycle is not None:
        if not validate.DNS_LABEL.fullmatch(cycle) or len(cycle) > 20:
            raise BadInput(f"--cycle {cycle!r}: lower-case letters, digits and '-', at most 20")
        cycle_name, start = cycle, now
    else:
        cycle_name, start = cycle_id(os.environ.get("JOB_NAME"), now)
    cluster = Cluster.connect(KubeAccess(kubeconfig, context))
    emitted: list[dict[str, Any]] = []
    report = dispatch(cluster, job_template, window_seconds=window, cycle=cycle_name, start=start, dry_run=dry_run, emit=emitted.append)
    if dry_run and fmt is Format.text:
        sys.stdout.write(to_yaml(emitted))
    elif fmt is Format.json:
        print_json({**report.to_dict(), **({"jobs": emitted} if dry_run else {})})
    else:
        stdout.print(f"cycle {report.cycle}: {report.nodes} node(s) with volumes; {len(report.created)} Job(s) created, "
                     f"{len(report.existing)} already there, {len(report.failed)} failed; "
                     f"{len(report.unmounted)} bound PVC(s) mounted nowhere (not backed up)", markup=False, highlight=False)
    check(report)


@deploy_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_command(
    ctx: typer.Context,
    pushgateway: str = typer.Option(..., "--pushgateway", help="Prometheus Pushgateway URL."),
    part: str = typer.Option(..., "--part", help="What runs (etcd, registry, volume, dispatch): a label of the metrics."),
    cluster: str = typer.Option("default", "--cluster", envvar="KUBEKEEPER_CLUSTER", help="Cluster label of the metrics."),
) -> None:
    """Run `kubekeeper ARGS...` (after --) and push its outcome to a Pushgateway; keeps its exit code."""
    from kubekeeper.deploy.run import node_name, run_and_push

    args = list(ctx.args)
    if not args:
        raise BadInput("deploy run: give the kubekeeper command after --, e.g. -- backup etcd --endpoints URL")
    validate.http_url(pushgateway, "--pushgateway")
    code = run_and_push(args, pushgateway=pushgateway, part=part, cluster=cluster, node=node_name() if part == "volume" else None)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_app, name="deploy")
