"""`kubekeeper backup etcd` and `kubekeeper restore etcd`: options -> the etcd source
(backup/sources/etcd.py) -> render. Added to the groups of cli/groups.py."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from pathlib import Path

import typer

from kubekeeper.backup import etcd_chain
from kubekeeper.backup.sources.etcd import SOURCE, EtcdOrigin, EtcdTarget
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.etcd_options import CACERT_OPTION, CERT_OPTION, ENDPOINTS_OPTION, KEY_OPTION, connection
from kubekeeper.cli.groups import backup_app, restore_app
from kubekeeper.cli.options import (
    CLUSTER_OPTION,
    COMPRESSION_OPTION,
    REPOSITORY,
    RepositoryOptions,
    repository_options,
    snapshot_option,
)
from kubekeeper.errors import BadInput
from kubekeeper.etcd import follow as follow_module
from kubekeeper.etcd import restore as etcd_restore
from kubekeeper.etcd.follow import FollowSettings, parse_duration, parse_size
from kubekeeper.report.console import print_json, stderr, stdout
from kubekeeper.report.progress import console_progress
from kubekeeper.repository import Repository


@backup_app.command("etcd")
@repository_options
def backup_etcd_command(
    endpoints: str = ENDPOINTS_OPTION,
    cacert: Path = CACERT_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
    cluster: str = CLUSTER_OPTION,
    attempts: int = typer.Option(3, "--attempts", min=1, help="Snapshot attempts if the leader changes or the stream breaks."),
    leader_wait: float = typer.Option(30.0, "--leader-wait", min=0, help="Seconds to wait for a new leader between attempts."),
    compression: str = COMPRESSION_OPTION,
    follow: bool = typer.Option(
        False, "--follow",
        help="Keep running: a full snapshot, then every change stored as a delta each --delta-interval, a new full snapshot "
        "each --full-interval, until SIGTERM/SIGINT (then the last changes are stored and it exits 0).",
    ),
    delta_interval: str = typer.Option("5s", "--delta-interval", help="With --follow: how often changes are stored (5s, 30s, 1m)."),
    full_interval: str = typer.Option("24h", "--full-interval", help="With --follow: how often a new full snapshot starts a new chain."),
    max_buffer: str = typer.Option(
        "256MiB", "--max-buffer",
        help="With --follow: changes kept in memory while the repository does not take them; past this, exit 3.",
    ),
    metrics_file: Path = typer.Option(
        None, "--metrics-file",
        help="With --follow: Prometheus textfile with kubekeeper_etcd_follower_lag_seconds (use its own file, not backup all's).",
    ),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Snapshot etcd from its leader, verify the SHA-256 trailer, and store it in restic.

    With --follow it keeps running and stores every change too, so `restore etcd --revision/--at`
    can restore any point since the last full snapshot.

    Example: kubekeeper backup etcd --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 \\
    --cacert ca.pem --cert client.pem --key client-key.pem --repo /srv/backup --password-file pw
    """
    parsed, tls = connection(endpoints, cacert, cert, key)
    repository = repo_options.open(compression=compression)
    origin = EtcdOrigin(tuple(parsed), tls, attempts=attempts, leader_wait=leader_wait)
    if follow:
        settings = FollowSettings(parse_duration(delta_interval, "--delta-interval"), parse_duration(full_interval, "--full-interval"),
                                  parse_size(max_buffer, "--max-buffer"), metrics_file, cluster)
        run_follower(repository, origin, cluster, settings, output_format)
        return
    result = SOURCE.back_up(repository, origin, cluster=cluster, progress=console_progress(output_format is Format.text))
    if output_format is Format.json:
        print_json(result.as_json())
        return
    d = result.details
    for warning in result.warnings:
        stderr.print(f"warning: {warning}", markup=False)
    stdout.print(
        f"etcd snapshot {result.snapshot_id} stored in {repository.spec.display}: revision {d['revision']}, "
        f"db {d['db_size']:,} bytes, leader {d['leader']}, members {d['members']}, etcd {d['etcd_version']}",
        markup=False,
    )


@restore_app.command("etcd")
@repository_options
def restore_etcd_command(
    snapshot: str = snapshot_option(),
    name: str = typer.Option(None, "--name", help="This member's name (must be in --initial-cluster)."),
    initial_cluster: str = typer.Option(..., "--initial-cluster", help="NAME=PEER_URL,... of the new cluster."),
    peer_urls: str = typer.Option(None, "--initial-advertise-peer-urls", help="This member's peer URL(s); default: its URL in --initial-cluster."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Member data dir to create (must be absent or empty)."),
    token: str = typer.Option(etcd_restore.DEFAULT_TOKEN, "--initial-cluster-token", help="Token of the new cluster (same on every member)."),
    force: bool = typer.Option(False, "--force", help="Move a non-empty --data-dir aside (never deleted) and restore."),
    print_commands: bool = typer.Option(False, "--print-commands", help="Print the command to run on each member's host and exit."),
    etcdutl: Path = typer.Option(
        None, "--etcdutl", "--restore-tool",
        help="etcdutl (3.5+) or etcdctl (3.4) to restore with; default: the one on PATH matching the snapshot's etcd version.",
    ),
    bump_revision: int = typer.Option(
        None, "--bump-revision", min=0, show_default=False,
        help="Move the restored revision this far ahead and mark older ones compacted, so kube-apiserver watches never "
        "see revisions go backwards (default 1000000000; after a replay of deltas, that plus the newest revision the "
        "repository knows; 0: off; same value on every member).",
    ),
    revision: int = typer.Option(
        None, "--revision", min=1,
        help="Point in time: the newest full snapshot at or before this revision, its deltas replayed up to it.",
    ),
    at: str = typer.Option(
        None, "--at", help="Point in time (RFC 3339, e.g. 2026-11-30T17:05:00Z): the changes the follower saw until then.",
    ),
    no_replay: bool = typer.Option(False, "--no-replay", help="Restore the full snapshot alone, without the deltas stored after it."),
    repo_options: RepositoryOptions = REPOSITORY,
    cluster: str = CLUSTER_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Restore one member's data dir from a kubekeeper etcd snapshot (every member: the same snapshot).

    If the follower (`backup etcd --follow`) stored changes after the snapshot, they are replayed
    (newest state by default; --revision or --at for a point in time) in a scratch etcd first.

    Example: kubekeeper restore etcd --snapshot latest --name m1 --initial-cluster m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380 \\
    --data-dir /var/lib/etcd --repo /srv/backup --password-file pw
    """
    members = etcd_restore.parse_initial_cluster(initial_cluster)
    when = parse_rfc3339(at) if at is not None else None
    if revision is not None and when is not None:
        raise BadInput("--revision and --at are two ways to name the point in time: give one")
    if no_replay and (revision is not None or when is not None):
        raise BadInput("--no-replay restores the full snapshot alone; it does not go with --revision/--at")
    repository = repo_options.open()
    point = revision is not None or when is not None
    if snapshot == "latest" and point:
        chosen = etcd_chain.choose(etcd_chain.chains(repository, cluster), revision=revision, at=when).chain.full
    else:
        chosen = SOURCE.find(repository, snapshot, cluster=cluster)
    if print_commands:
        target = str(data_dir) if data_dir else "/var/lib/etcd"
        bump, extra = bump_revision, ["--no-replay"] if no_replay else []
        if not no_replay:
            found = etcd_chain.chains(repository, cluster)
            chain = next((c for c in found if c.full.id == chosen.id), etcd_chain.Chain(chosen))
            if chain.deltas or point:
                extra = ["--revision", str(etcd_chain.resolve(repository, etcd_chain.Target(chain, revision, when)))]
                bump = bump if bump is not None else etcd_chain.auto_bump(etcd_chain.highest_known(found))
        bump = bump if bump is not None else etcd_restore.DEFAULT_BUMP
        commands = etcd_restore.member_commands(chosen.id, members, target, token, repository.spec.display, cluster, bump, extra)
        if output_format is Format.json:
            print_json({"snapshot_id": chosen.id, "commands": [{"member": m, "command": c} for m, c in commands]})
            return
        stdout.print(f"# every member restores snapshot {chosen.id} (the same one), then starts with --initial-cluster-state new", markup=False)
        for member_name, command in commands:
            stdout.print(f"# on {member_name}'s host (repository and password via RESTIC_REPOSITORY(_FILE) and "
                         f"RESTIC_PASSWORD_FILE/RESTIC_PASSWORD_COMMAND, or --repo/--password-file):\n{command}", markup=False)
        return
    if not name or data_dir is None:
        raise BadInput("restore etcd needs --name and --data-dir (or --print-commands)")
    member = etcd_restore.MemberRestore.build(name, initial_cluster, data_dir, peer_urls, token)
    into = EtcdTarget(member, force=force, tool=etcdutl, bump=bump_revision, revision=revision, at=when, replay=not no_replay)
    outcome = SOURCE.restore(repository, chosen, into, progress=console_progress(output_format is Format.text))
    if output_format is Format.json:
        print_json(outcome.as_json())
        return
    d = outcome.details
    if d["moved_aside"]:
        stderr.print(f"moved the old data dir aside to {d['moved_aside']}", markup=False)
    pit = d.get("point_in_time")
    if pit:
        stdout.print(f"replayed {pit['events']:,} change(s) from {pit['deltas']} delta(s) onto snapshot {chosen.short_id}: the store as "
                     f"the source had it at revision {pit['target_revision']} ({pit['keys']:,} keys)", markup=False)
    stdout.print(f"restored snapshot {chosen.short_id} (revision {d['details'].get('revision', '?')}) into {d['data_dir']} for member {name} with {d['tool']}",
                 markup=False)
    if d["bump_revision"]:
        stdout.print(f"revision bumped by {d['bump_revision']:,}: {d['snapshot_revision']} -> {d['restored_revision']} "
                     "(older revisions marked compacted; watches re-list instead of seeing time go backwards)", markup=False)
    else:
        stderr.print("warning: revision NOT bumped; restart every kube-apiserver after the restore", markup=False)
    if len(members) > 1:
        pinned = f" --revision {pit['target_revision']}" if pit else (" --no-replay" if no_replay else "")
        stdout.print(f"restore the other members with --snapshot {chosen.id}{pinned} --bump-revision {d['bump_revision']} "
                     "(all must use the same snapshot, point in time and bump)", markup=False)


def parse_rfc3339(text: str) -> datetime:
    """`--at`: RFC 3339 with a zone (Z or +hh:mm); a time without one is refused, not guessed."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadInput(f"--at {text!r}: not an RFC 3339 time (example: 2026-11-30T17:05:00Z)") from None
    if parsed.tzinfo is None:
        raise BadInput(f"--at {text!r}: give the time zone (Z or +hh:mm); a time without one is ambiguous")
    return parsed


def run_follower(repository: Repository, origin: EtcdOrigin, cluster: str, settings: FollowSettings, output_format: Format) -> None:
    """The follower in the foreground; SIGTERM and SIGINT end it cleanly (pending changes stored)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    logging.getLogger(follow_module.__name__).setLevel(logging.INFO)  # one line per stored delta
    try:
        summary = etcd_chain.follow(repository, origin, cluster, settings, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    doc = {"fulls": [f.snapshot_id for f in summary.fulls], "deltas": summary.deltas, "events": summary.events,
           "last_revision": summary.last_revision, "resumed": summary.resumed, "compacted": summary.compacted}
    if output_format is Format.json:
        print_json(doc)
        return
    stdout.print(f"follower stopped: {len(summary.fulls)} full snapshot(s), {summary.deltas} delta(s) with {summary.events:,} "
                 f"events stored, up to revision {summary.last_revision}", markup=False)


def register(app: typer.Typer) -> None:
    """Nothing to add: cli/groups.py registers the backup/restore groups these commands live in."""
