"""etcd connection options shared by `etcd status` and `backup etcd`."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.etcd.client import Endpoint, TLSConfig, parse_endpoints

ENDPOINTS_OPTION = typer.Option(
    ..., "--endpoints", envvar="ETCDCTL_ENDPOINTS", show_envvar=True,
    help="Comma-separated etcd client URLs; unreachable ones are skipped with a warning.",
)
CACERT_OPTION = typer.Option(None, "--cacert", help="CA bundle that signed the etcd server certificates.")
CERT_OPTION = typer.Option(None, "--cert", help="Client certificate for etcd (with --key).")
KEY_OPTION = typer.Option(None, "--key", help="Client certificate key for etcd (with --cert).")


def connection(endpoints: str, cacert: Path | None, cert: Path | None, key: Path | None) -> tuple[list[Endpoint], TLSConfig]:
    tls = TLSConfig(cacert, cert, key)
    return parse_endpoints(endpoints, tls), tls
