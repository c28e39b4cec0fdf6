"""`kubekeeper restore all --set ID`: every part of a backup set in a safe order (etcd, the registry,
then the volumes), through backup/restore_set.py. Targets come from cluster.yaml (the registry it
backs up, the volumes' directories or the PVCs on this node) and from the options below (the etcd
members to restore on this host); every one is built and checked before anything is restored."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer

from kubekeeper.backup.listing import check_set_id
from kubekeeper.backup.restore_set import RestoreStep, SetPart, SetRestoreReport, StepOutcome, restore_set, set_parts
from kubekeeper.cli.backup_all import repository_for
from kubekeeper.cli.common import CONFIG_OPTION, FORMAT_OPTION, Format
from kubekeeper.cli.groups import restore_app
from kubekeeper.config import config_path, load_config
from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.etcd import restore as etcd_restore
from kubekeeper.report.console import print_json
from kubekeeper.report.progress import console_progress
from kubekeeper.report.restore_set import restore_set_json, show_outcome, show_plan, show_report

#: every member comes back as the set stored etcd (see etcd_steps), also on the hosts given a command
SET_POINT = ("--no-replay",)

MEMBER_OPTION = typer.Option([], "--member", help="NAME=DATA_DIR: an etcd member to restore on this host (repeatable); the other "
                             "members of --initial-cluster get their command printed.")


def _members(values: list[str]) -> dict[str, Path]:
    members: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise BadInput(f"--member {value!r}: expected NAME=DATA_DIR")
        if name.strip() in members:
            raise BadInput(f"--member {name.strip()} is given twice")
        members[name.strip()] = Path(path.strip())
    return members


def etcd_steps(item: SetPart, *, initial_cluster: str | None, members: dict[str, Path], token: str, bump: int,
               tool: Path | None, force: bool) -> list[RestoreStep]:
    """One step per member on this host. etcd comes back as the set stored it, without the follower's
    later deltas: the set is one point in time, and its registry and volumes are from that point
    (`restore etcd --at` brings etcd alone to a later one)."""
    from kubekeeper.backup.sources.etcd import EtcdTarget

    if not initial_cluster or not members:
        raise BadInput(f"backup set holds etcd snapshot {item.snapshot.short_id}: give --initial-cluster and --member NAME=DATA_DIR "
                       "for each member on this host (or --print-commands, or --skip etcd)")
    steps = []
    for name, data_dir in members.items():
        member = etcd_restore.MemberRestore.build(name, initial_cluster, data_dir, token=token)
        if data_dir.exists() and not force and not etcd_restore.is_empty_dir(data_dir):
            raise BadInput(f"--member {name}: {data_dir} is not empty; pass --force to move it aside (it is never deleted)")
        steps.append(RestoreStep(item, EtcdTarget(member, force=force, tool=tool, bump=bump, replay=False), f"etcd member {name}"))
    return steps


def registry_step(item: SetPart, config: ClusterConfig, registry: str | None, workdir: Path | None) -> RestoreStep:
    from kubekeeper.backup.sources.registry import SOURCE, RegistryTarget
    from kubekeeper.registry import auth
    from kubekeeper.registry.client import RegistryOptions, normalize_url

    if registry is None and config.registry.url is None:
        raise BadInput(f"backup set holds registry snapshot {item.snapshot.short_id}: give --registry URL (cluster.yaml names none)")
    if registry is None:  # the registry cluster.yaml backs up, with its credentials
        options = SOURCE.from_config(config).options
    else:
        options = RegistryOptions(registry, auth.resolve(normalize_url(registry)[1]), config.registry.cacert)
    target = RegistryTarget(options, harbor=config.registry.harbor, workdir=workdir)
    return RestoreStep(item, target, f"registry {normalize_url(options.url)[1]}")


def volume_step(item: SetPart, config: ClusterConfig) -> RestoreStep:
    from kubekeeper.backup.sources.volume import VolumeTarget
    from kubekeeper.kubeapi import KubeAccess
    from kubekeeper.volumes.model import PvcRef

    ref = PvcRef.parse(item.name)
    section = config.volumes
    directory = next((d.path for d in section.directories if d.pvc == item.name), None)
    target = VolumeTarget(ref, directory=directory, kube=KubeAccess(section.kubeconfig, section.context), kubelet_root=section.kubelet_root)
    return RestoreStep(item, target, f"volume {item.name}")


def print_commands(parts: list[SetPart], *, cluster: str, repo_display: str, initial_cluster: str | None, token: str,
                   bump: int, registry: str | None, config: ClusterConfig) -> list[dict[str, Any]]:
    """The single-part restore commands that restore the set, in order, snapshot ids pinned."""
    repo_args = [] if "***" in repo_display else ["--repo", repo_display]
    commands: list[dict[str, Any]] = []
    for item in parts:
        if item.part == "etcd":
            if not initial_cluster:
                raise BadInput("--print-commands for a set with etcd needs --initial-cluster (or --skip etcd)")
            members = etcd_restore.parse_initial_cluster(initial_cluster)
            for name, command in etcd_restore.member_commands(item.snapshot.id, members, "/var/lib/etcd", token, repo_display, cluster, bump, SET_POINT):
                commands.append({"part": item.part, "name": f"etcd member {name}", "on": f"{name}'s host", "command": command})
        elif item.part == "registry":
            url = registry or config.registry.url or "REGISTRY_URL"
            argv = ["kubekeeper", "restore", "registry", *repo_args, "--cluster", cluster, "--snapshot", item.snapshot.id, "--registry", url]
            commands.append({"part": item.part, "name": "registry", "on": "any host", "command": shlex.join(argv)})
        else:
            argv = ["kubekeeper", "restore", item.source.kind, *repo_args, "--cluster", cluster, "--snapshot", item.snapshot.id]
            if item.source.kind == "volume":
                argv += ["--pvc", item.name]
                directory = next((d.path for d in config.volumes.directories if d.pvc == item.name), None)
                if directory is not None:
                    argv += ["--target", str(directory)]
            commands.append({"part": item.part, "name": item.name, "on": "the node that mounts it" if item.source.kind == "volume"
                             else "any host", "command": shlex.join(argv)})
    return commands


@restore_app.command("all")
def restore_all_command(
    set_id: str = typer.Option(..., "--set", help="The backup set to restore (its id: `kubekeeper status` or `snapshots`)."),
    config: Path = CONFIG_OPTION,
    skip: list[str] = typer.Option([], "--skip", help="Leave this part out (etcd, registry or volumes; repeatable)."),
    initial_cluster: str = typer.Option(None, "--initial-cluster", help="etcd: NAME=PEER_URL,... of the new cluster."),
    member: list[str] = MEMBER_OPTION,
    token: str = typer.Option(etcd_restore.DEFAULT_TOKEN, "--initial-cluster-token", help="etcd: token of the new cluster."),
    bump_revision: int = typer.Option(etcd_restore.DEFAULT_BUMP, "--bump-revision", min=0,
                                      help="etcd: move the restored revision this far ahead (0: off; same on every member)."),
    etcdutl: Path = typer.Option(None, "--etcdutl", help="etcd: etcdutl/etcdctl to restore with (default: matching one on PATH)."),
    registry: str = typer.Option(None, "--registry", help="Registry to push into (default: registry.url of cluster.yaml)."),
    workdir: Path = typer.Option(None, "--workdir", help="Registry: where the layout is unpacked (default: temp dir)."),
    force: bool = typer.Option(False, "--force", help="etcd: move a non-empty member data dir aside (never deleted) and restore."),
    print_only: bool = typer.Option(False, "--print-commands", help="Print the single-part restore commands, in order, and exit."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress on stderr."),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Restore every part of a backup set: etcd first, then the registry, then the volumes.

    Every target is checked before anything is restored; the first failure stops the run and says
    what was restored and what was not (resume with the single-part restores it prints).

    Example: kubekeeper restore all --set 20261130T020000Z-1a2b3c --config cluster.yaml \\
    --initial-cluster m0=https://10.0.0.11:2380,m1=https://10.0.0.12:2380 --member m0=/var/lib/etcd
    """
    chosen = check_set_id(set_id)
    cfg = load_config(config_path(config))
    members = _members(member)
    repository = repository_for(cfg.repositories.primary)
    parts = set_parts(repository, chosen, cluster=cfg.cluster, skip=skip)
    commands = print_commands(parts, cluster=cfg.cluster, repo_display=repository.spec.display, initial_cluster=initial_cluster,
                              token=token, bump=bump_revision, registry=registry, config=cfg) if print_only else []
    if print_only:
        if output_format is Format.json:
            print_json({"set": chosen, "commands": commands})
        else:
            show_plan(chosen, commands)
        return
    steps: list[RestoreStep] = []
    for item in parts:  # every target built (and checked) before the first restore
        if item.part == "etcd":
            steps += etcd_steps(item, initial_cluster=initial_cluster, members=members, token=token, bump=bump_revision,
                                tool=etcdutl, force=force)
        elif item.part == "registry":
            steps.append(registry_step(item, cfg, registry, workdir))
        elif item.source.kind == "volume":
            steps.append(volume_step(item, cfg))
        else:
            raise BadInput(f"restore all cannot choose a target for {item.part}; restore it with `kubekeeper restore {item.source.kind}`"
                           f" --snapshot {item.snapshot.id}, or --skip {item.part}")
    text = output_format is Format.text
    report = restore_set(repository, chosen, steps, progress=console_progress(text and not no_progress),
                         on_step=show_outcome if text else None)
    remaining = _other_members(parts, initial_cluster, members, token, bump_revision, cfg.cluster, repository.spec.display)
    if output_format is Format.json:
        print_json({**restore_set_json(report), "other_members": remaining})
    else:
        show_report(report, remaining)
    if not report.ok:
        raise OperationFailed(_failure_message(report))


def _other_members(parts: list[SetPart], initial_cluster: str | None, members: dict[str, Path], token: str, bump: int,
                   cluster: str, repo_display: str) -> list[dict[str, str]]:
    """The etcd members not restored here: the command each one's host runs (same snapshot, same bump)."""
    item = next((p for p in parts if p.part == "etcd"), None)
    if item is None or not initial_cluster:
        return []
    others = [m for m in etcd_restore.parse_initial_cluster(initial_cluster) if m.name not in members]
    everyone = etcd_restore.parse_initial_cluster(initial_cluster)
    commands = dict(etcd_restore.member_commands(item.snapshot.id, everyone, "/var/lib/etcd", token, repo_display, cluster, bump, SET_POINT))
    return [{"member": m.name, "command": commands[m.name]} for m in others]


def _failure_message(report: SetRestoreReport) -> str:
    failed: StepOutcome | None = report.failed
    assert failed is not None
    done = ", ".join(o.label for o in report.done) or "nothing"
    not_done = ", ".join(s.label for s in report.not_done) or "nothing"
    return (f"restore of backup set {report.set_id} stopped: {failed.label} failed: {failed.error}; restored: {done}; "
            f"not attempted: {not_done}")


def register(app: typer.Typer) -> None:
    """`restore all` is added to the restore group of cli/groups.py."""

