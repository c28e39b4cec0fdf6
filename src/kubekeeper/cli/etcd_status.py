"""`kubekeeper etcd status`: who is in the cluster, who leads, and how each member looks.

Added to the `etcd` group of cli/etcd.py (owned by another module) from here, so neither file
edits the other; if that module is absent, this one creates the group itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.etcd_options import CACERT_OPTION, CERT_OPTION, ENDPOINTS_OPTION, KEY_OPTION, connection
from kubekeeper.etcd.client import ClusterView, EtcdClient
from kubekeeper.report.console import print_json, stderr, stdout

try:
    from kubekeeper.cli.etcd import etcd_app

    _OWN_GROUP = False
except ModuleNotFoundError as exc:  # the etcd group module is not there: stand alone
    if exc.name != "kubekeeper.cli.etcd":
        raise
    etcd_app = typer.Typer(help="etcd: status, disk check, priority.", no_args_is_help=True)
    _OWN_GROUP = True


def view_json(view: ClusterView) -> dict[str, Any]:
    return {
        "leader": view.name_of(view.leader_id) if view.leader_id else None,
        "version": view.version,
        "members": [m.as_json() for m in view.members],
        "endpoints": [
            {
                "endpoint": s.endpoint,
                "member": view.name_of(s.member_id),
                "is_leader": s.is_leader,
                "version": s.version,
                "db_size": s.db_size,
                "revision": s.revision,
                "raft_term": s.raft_term,
                "raft_index": s.raft_index,
            }
            for s in view.statuses
        ],
        "unreachable": [{"endpoint": url, "error": reason} for url, reason in view.unreachable],
    }


@etcd_app.command("status")
def status_command(
    endpoints: str = ENDPOINTS_OPTION,
    cacert: Path = CACERT_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Member list, leader, and per-endpoint status (version, db size, revision, raft term).

    Example: kubekeeper etcd status --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 --cacert ca.pem
    """
    parsed, tls = connection(endpoints, cacert, cert, key)
    with EtcdClient(parsed, tls) as client:
        view = client.discover()
    document = view_json(view)
    if output_format is Format.json:
        print_json(document)
        return
    stdout.print(f"leader: {document['leader'] or 'none'}   version: {view.version}   members: {len(view.members)}")
    for row in document["endpoints"]:
        mark = "*" if row["is_leader"] else " "
        stdout.print(
            f"{mark} {row['member']:<16} {row['endpoint']:<28} rev {row['revision']:<10} "
            f"db {row['db_size']:>12,} B  term {row['raft_term']}",
            markup=False,
        )
    for row in document["unreachable"]:
        stderr.print(f"unreachable: {row['endpoint']}: {row['error']}", markup=False)


def register(app: typer.Typer) -> None:
    if _OWN_GROUP:
        app.add_typer(etcd_app, name="etcd")
