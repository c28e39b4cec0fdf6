"""The one way kubekeeper connects to a Kubernetes API server, for every command that needs one
(`backup`/`restore volume`, `backup all`, `lint --cluster`, `deploy dispatch`).

A kubeconfig (the file given, else $KUBECONFIG, else ~/.kube/config) with its current or a named
context; or, inside a pod with neither given and no $KUBECONFIG, the pod's service account - so a
kubekeeper Job uses the least-privilege identity deploy/ gave it, whatever the command. The default
namespace follows kubectl: the context's, or the service account's own namespace in a pod.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubekeeper.errors import BadInput

#: where the kubelet mounts a pod's service account
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: what the kubernetes client raises on a kubeconfig that is not UTF-8 YAML (or nests without end)
KUBECONFIG_PARSE_ERRORS = (ValueError, RecursionError, yaml.YAMLError)  # UnicodeDecodeError is a ValueError


@dataclass(frozen=True)
class KubeAccess:
    """Which cluster, as whom: a kubeconfig and context (None: the defaults), or the service account."""

    kubeconfig: Path | None = None
    context: str | None = None

    def in_cluster(self) -> bool:
        """Inside a pod (the API's service host is set) and nothing asked for a kubeconfig."""
        return (self.kubeconfig is None and self.context is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
                and not os.environ.get("KUBECONFIG"))


@dataclass
class Connection:
    """An API client for one cluster; `close()` it (or use `with`) when done."""

    api: Any  # kubernetes.client.ApiClient (the client publishes no types)
    host: str
    #: the default namespace: the kubeconfig context's, or the service account's in a pod (None: unset)
    namespace: str | None

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kubeconfig_unreadable(path: object, exc: BaseException) -> BadInput:
    """One line for a kubeconfig the client could not parse."""
    reason = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:200]
    return BadInput(f"kubeconfig {path or '(default)'} is not a kubeconfig: {reason or type(exc).__name__}")


def connect(access: KubeAccess) -> Connection:
    """An API client for `access`; BadInput (exit 2, one line) for credentials that cannot be loaded.

    The kubernetes package is imported here, not at the top: it takes ~170 ms to import (its dynamic
    client pulls in jsonschema), a fifth of a node's incremental volume run, and commands given a
    --source-dir, etcd and registry backups never connect."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if access.in_cluster():
            config.load_incluster_config(client_configuration=configuration)
            namespace = _service_account_namespace()
        else:
            namespace = _context_namespace(access)
            config.load_kube_config(config_file=_file(access), context=access.context, client_configuration=configuration)
    except ConfigException as exc:
        raise BadInput(f"cannot load Kubernetes credentials: {exc}") from None
    except FileNotFoundError as exc:
        raise BadInput(f"kubeconfig not found: {exc.filename}") from None
    except KUBECONFIG_PARSE_ERRORS as exc:  # the client's YAML parser on a file that is no kubeconfig
        raise kubeconfig_unreadable(access.kubeconfig, exc) from None
    except OSError as exc:
        raise BadInput(f"cannot read kubeconfig {exc.filename or access.kubeconfig or '(default)'}: {exc.strerror}") from None
    return Connection(client.ApiClient(configuration), str(configuration.host), namespace)


def _file(access: KubeAccess) -> str | None:
    return str(access.kubeconfig) if access.kubeconfig else None


def _context_namespace(access: KubeAccess) -> str | None:
    """The chosen context's namespace; BadInput naming a context the kubeconfig does not have."""
    from kubernetes import config  # see connect()

    contexts, active = config.list_kube_config_contexts(config_file=_file(access))
    if access.context:
        chosen = next((c for c in contexts if c.get("name") == access.context), None)
        if chosen is None:
            raise BadInput(f"context {access.context!r} not found in the kubeconfig")
    else:
        chosen = active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


def _service_account_namespace() -> str | None:
    try:
        return (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip() or None
    except OSError:
        return None
