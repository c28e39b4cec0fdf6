"""The parts of `backup all`, built from cluster.yaml: each is (name, runner(set_id) -> PartOutcome).

Each runner writes through `repository.tagged("set=<id>")`, so every snapshot of one run carries
the backup set's id. Imports of the heavier sources happen inside the builders: a config that
turns a part off never loads its client library.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kubekeeper.backup.backup_set import Part, PartOutcome
from kubekeeper.backup.source import BackupResult
from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.repository import Repository


def set_tag(set_id: str) -> str:
    return f"set={set_id}"


def _outcome(result: BackupResult) -> PartOutcome:
    added = result.summary.data_added if result.summary else 0
    return PartOutcome(snapshots=[result.snapshot_id], bytes_added=added, details=dict(result.details))


def etcd_part(config: ClusterConfig, repository: Repository) -> Part:
    from kubekeeper.backup.etcd import EtcdSource
    from kubekeeper.etcd.client import TLSConfig, parse_endpoints

    section = config.etcd

    def run(set_id: str) -> PartOutcome:
        tls = TLSConfig(cacert=section.cacert, cert=section.cert, key=section.key)
        source = EtcdSource(parse_endpoints(section.endpoints, tls), tls)
        return _outcome(source.back_up(repository.tagged(set_tag(set_id)), config.cluster))

    return ("etcd", run)


def registry_part(config: ClusterConfig, repository: Repository, *, progress: bool) -> Part:
    from kubekeeper.backup.registry import RegistrySource, default_cache
    from kubekeeper.registry import auth
    from kubekeeper.registry.client import RegistryOptions, normalize_url

    section = config.registry
    assert section.url is not None  # the schema requires it when enabled

    def run(set_id: str) -> PartOutcome:
        _, host = normalize_url(section.url or "")
        creds = section.credentials
        if creds.username or creds.password:
            if not (creds.username and creds.password):
                raise BadInput("registry.credentials needs both username and password")
            credentials = auth.Credentials(creds.username, creds.password.resolve())
        elif creds.docker_config is not None:
            credentials = auth.from_docker_config(host, creds.docker_config)
        else:
            credentials = auth.resolve(host)
        options = RegistryOptions(section.url or "", credentials, section.cacert, False, section.concurrency)
        source = RegistrySource(options, section.cache or default_cache(), section.harbor, tuple(section.projects), progress)
        return _outcome(source.back_up(repository.tagged(set_tag(set_id)), config.cluster))

    return ("registry", run)


def _matches_selector(labels: dict[str, str], selector: str | None) -> bool:
    """Equality-based label selectors (`a=b,c!=d`); set-based ones are refused by `volumes_part`."""
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.strip()) != value.strip().lstrip("="):
                return False
        elif labels.get(term) is None:
            return False
    return True


def volumes_part(config: ClusterConfig, repository: Repository) -> Part:
    from kubekeeper.backup.volume import backup_volumes
    from kubekeeper.volumes.locate import this_node
    from kubekeeper.volumes.model import PvcRef, VolumeSource

    section = config.volumes
    if section.label_selector and any(op in section.label_selector for op in (" in ", " notin ", "(")):
        raise BadInput("volumes.label_selector: only equality-based selectors (a=b,c!=d) are supported")

    def locate_all() -> tuple[list, list, object]:
        node = this_node(None)
        if section.directories:
            sources = [VolumeSource(PvcRef.parse(d.pvc), Path(d.path).resolve(), node) for d in section.directories]
            missing = [str(d.path) for d in section.directories if not Path(d.path).is_dir()]
            if missing:
                raise OperationFailed(f"volume directories not found: {', '.join(missing)}")
            return sources, [], None
        from kubekeeper.volumes.kube import Cluster
        from kubekeeper.volumes.locate import locate

        cluster = Cluster(section.kubeconfig, section.context)
        refs = [PvcRef.parse(p) for p in section.pvcs]
        sources, problems = locate(cluster, refs, all_pvcs=not refs, node=node, kubelet_root=section.kubelet_root)
        keep = [
            s for s in sources
            if (not section.namespaces or s.ref.namespace in section.namespaces)
            and _matches_selector((s.pvc_object.get("metadata") or {}).get("labels") or {}, section.label_selector)
        ]
        return keep, list(problems), (cluster if section.hooks else None)

    def run(set_id: str) -> PartOutcome:
        sources, problems, executor = locate_all()
        results = backup_volumes(
            repository.tagged(set_tag(set_id)), sources, problems, cluster=config.cluster,
            excludes=section.exclude, concurrency=section.concurrency, executor=executor,  # type: ignore[arg-type]
            strict=bool(section.pvcs or section.directories), lookup_parents=not section.directories,
        )
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise OperationFailed(
                f"{len(failed)} of {len(results)} volume(s) not backed up: "
                + "; ".join(f"{r.pvc}: {r.message}" for r in failed)
            )
        stored = [r for r in results if r.status == "ok"]
        return PartOutcome(
            snapshots=[r.snapshot for r in stored],
            bytes_added=sum(r.bytes_added for r in stored),
            details={"volumes": [r.to_dict() for r in results]},
        )

    return ("volumes", run)


def parts_from_config(config: ClusterConfig, repository: Repository, *, progress: bool = False) -> list[Part]:
    builders: list[tuple[bool, Callable[[], Part]]] = [
        (config.etcd.enabled, lambda: etcd_part(config, repository)),
        (config.registry.enabled, lambda: registry_part(config, repository, progress=progress)),
        (config.volumes.enabled, lambda: volumes_part(config, repository)),
    ]
    parts = [build() for enabled, build in builders if enabled]
    if not parts:
        raise BadInput("cluster.yaml enables no part (etcd, registry, volumes): nothing to back up")
    return parts
