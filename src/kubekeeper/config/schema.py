"""`cluster.yaml`: what `kubekeeper backup all` backs up, where to, and how long to keep it.

Every option has a description and an example (shown by `kubekeeper config example`). Secrets are
references — a file path or an environment variable name — never values in the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kubekeeper import urls
from kubekeeper.errors import BadInput
from kubekeeper.names import CLUSTER_NAME_MAX, CLUSTER_NAME_PATTERN

#: a password or token is one line; longer than this is the wrong file
MAX_SECRET_LINE = 64 << 10


def _http_url(value: str) -> str:
    """The shared URL check (kubekeeper.urls); the loader prefixes file, line and option."""
    try:
        urls.parse_http_url(value, "")
    except BadInput as exc:
        raise ValueError(exc.message) from None
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretRef(_Section):
    """Where a secret comes from; exactly one of file / env."""

    file: Path | None = Field(None, description="File holding the secret (first line).", examples=["/etc/kubekeeper/repo.pass"])
    env: str | None = Field(None, description="Environment variable holding the secret.", examples=["RESTIC_PASSWORD"])

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of file or env")
        return self

    def resolve(self) -> str:
        if self.file is not None:
            try:
                with self.file.open("rb") as handle:
                    first = handle.readline(MAX_SECRET_LINE + 1)  # bounded: /dev/zero or a dump by mistake
            except OSError as exc:
                raise BadInput(f"cannot read secret file {self.file}: {exc.strerror}") from exc
            if len(first) > MAX_SECRET_LINE:
                raise BadInput(f"secret file {self.file}: first line longer than {MAX_SECRET_LINE:,} bytes - is it the right file?")
            try:
                return first.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise BadInput(f"secret file {self.file}: the first line is not UTF-8 text") from None
        value = os.environ.get(self.env or "")
        if value is None:
            raise BadInput(f"environment variable {self.env} is not set")
        return value


class EtcdFollowSection(_Section):
    """The etcd follower (`backup all --follow`): continuous backup for point-in-time restore."""

    enabled: bool = Field(False, description="Run the follower after the backup set when `backup all --follow` is given.", examples=[True])
    delta_interval: str = Field("5s", description="How often the changes are stored as a delta.", examples=["5s"])
    full_interval: str = Field("24h", description="How often a new full snapshot starts a new chain.", examples=["24h"])
    max_buffer: str = Field("256MiB", description="Changes kept in memory while the repository does not take them; past this, exit 3.",
                            examples=["256MiB"])
    metrics_file: Path | None = Field(None, description="Prometheus textfile with the follower's lag (its own file, not reports.prometheus_textfile).",
                                      examples=["/var/lib/node_exporter/textfile_collector/kubekeeper-follower.prom"])

    @field_validator("delta_interval", "full_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        from kubekeeper.etcd.follow import parse_duration

        try:
            parse_duration(value, "interval")
        except BadInput as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("max_buffer")
    @classmethod
    def _size(cls, value: str) -> str:
        from kubekeeper.etcd.follow import parse_size

        try:
            parse_size(value, "max_buffer")
        except BadInput as exc:
            raise ValueError(exc.message) from None
        return value


class EtcdSection(_Section):
    enabled: bool = Field(True, description="Back up etcd.", examples=[True])
    endpoints: list[str] = Field(
        default_factory=list,
        description="Client URLs of the etcd members; the snapshot is taken from the leader.",
        examples=[["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]],
    )
    cacert: Path | None = Field(None, description="CA certificate that signed the etcd server certificates.", examples=["/etc/kubernetes/pki/etcd/ca.crt"])
    cert: Path | None = Field(None, description="Client certificate.", examples=["/etc/kubernetes/pki/etcd/healthcheck-client.crt"])
    key: Path | None = Field(None, description="Client key.", examples=["/etc/kubernetes/pki/etcd/healthcheck-client.key"])
    follow: EtcdFollowSection = Field(default_factory=EtcdFollowSection, description="Continuous backup (the follower).")

    @field_validator("endpoints")
    @classmethod
    def _endpoint_urls(cls, value: list[str]) -> list[str]:
        return [_http_url(item) for item in value]

    @model_validator(mode="after")
    def _endpoints_when_enabled(self) -> EtcdSection:
        if self.enabled and not self.endpoints:
            raise ValueError("endpoints are required when etcd backup is enabled")
        return self


class RegistryCredentials(_Section):
    username: str | None = Field(None, description="Registry user (a robot account is best).", examples=["robot$backup"])
    password: SecretRef | None = Field(None, description="Reference to the password or token.", examples=[{"env": "KUBEKEEPER_REGISTRY_PASSWORD"}])
    docker_config: Path | None = Field(None, description="Read credentials from this docker config.json instead.", examples=["/root/.docker/config.json"])


class RegistrySection(_Section):
    enabled: bool = Field(True, description="Back up the image registry.", examples=[True])
    url: str | None = Field(None, description="Registry URL; https:// is assumed without a scheme.", examples=["https://harbor.example.com"])
    harbor: bool = Field(False, description="List through Harbor's /api/v2.0 (projects, repositories, artifacts).", examples=[True])
    projects: list[str] = Field(default_factory=list, description="Only these Harbor projects / repository prefixes (empty: all).", examples=[["library", "platform"]])
    credentials: RegistryCredentials = Field(default_factory=RegistryCredentials, description="Where credentials come from.")
    cacert: Path | None = Field(None, description="CA certificate for the registry's TLS.", examples=["/etc/kubekeeper/registry-ca.crt"])
    cache: Path | None = Field(None, description="Persistent OCI layout used as incremental cache.", examples=["/var/lib/kubekeeper/registry"])
    concurrency: int = Field(8, ge=1, le=64, description="Parallel blob transfers.", examples=[8])

    @field_validator("url")
    @classmethod
    def _registry_root(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from kubekeeper.registry.client import normalize_url  # httpx: imported only when a registry is configured

        try:
            normalize_url(value, "")
        except BadInput as exc:
            raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _url_when_enabled(self) -> RegistrySection:
        if self.enabled and not self.url:
            raise ValueError("url is required when registry backup is enabled")
        return self


def _check_ns_name(item: str) -> str:
    if item.count("/") != 1 or not all(item.split("/")):
        raise ValueError(f"{item!r} is not NAMESPACE/NAME")
    return item


class DirectoryVolume(_Section):
    pvc: str = Field(..., description="NAMESPACE/NAME recorded for this directory's snapshots.", examples=["prod/postgres-data"])
    path: Path = Field(..., description="Directory backed up as that PVC, without asking the API (hostPath data, scripts).", examples=["/srv/postgres"])

    @field_validator("pvc")
    @classmethod
    def _ns_name(cls, value: str) -> str:
        return _check_ns_name(value)


class VolumesSection(_Section):
    enabled: bool = Field(True, description="Back up PVC volume data found on this node.", examples=[True])
    namespaces: list[str] = Field(default_factory=list, description="Only PVCs in these namespaces (empty: all).", examples=[["prod", "data"]])
    label_selector: str | None = Field(None, description="Only PVCs matching this label selector.", examples=["backup=true"])
    pvcs: list[str] = Field(default_factory=list, description="Explicit PVCs as NAMESPACE/NAME (empty: by namespace/label).", examples=[["prod/postgres-data"]])
    exclude: list[str] = Field(default_factory=list, description="Glob patterns not to back up.", examples=[["*.tmp", "lost+found"]])
    hooks: bool = Field(True, description="Run kubekeeper.io/pre-backup and post-backup annotation hooks.", examples=[True])
    kubelet_root: Path = Field(Path("/var/lib/kubelet"), description="The kubelet's root directory on this node.", examples=["/var/lib/kubelet"])
    kubeconfig: Path | None = Field(None, description="kubeconfig (default: in-cluster service account, then ~/.kube/config).", examples=["/etc/kubernetes/admin.conf"])
    context: str | None = Field(None, description="kubeconfig context.", examples=["prod"])
    concurrency: int = Field(2, ge=1, le=32, description="PVCs backed up in parallel on this node.", examples=[2])
    directories: list[DirectoryVolume] = Field(
        default_factory=list,
        description="Directories backed up as PVCs without the API (like `backup volume --source-dir`); when set, the API is not asked.",
        examples=[[{"pvc": "prod/postgres-data", "path": "/srv/postgres"}]],
    )

    @field_validator("pvcs")
    @classmethod
    def _ns_names(cls, value: list[str]) -> list[str]:
        return [_check_ns_name(item) for item in value]

    @field_validator("label_selector")
    @classmethod
    def _equality_based(cls, value: str | None) -> str | None:
        if value and any(op in value for op in (" in ", " notin ", "(")):
            raise ValueError("only equality-based selectors (a=b,c!=d) are supported")
        return value


class RepositoryRef(_Section):
    url: str = Field(..., description="restic repository: a path, sftp:, rest: or s3: URL.", examples=["sftp:backup@nas:/srv/restic/cluster"])
    password: SecretRef | None = Field(None, description="Reference to the repository password.", examples=[{"file": "/etc/kubekeeper/repo.pass"}])
    password_command: str | None = Field(
        None, description="Instead of password: a command that prints it, run by restic like RESTIC_PASSWORD_COMMAND "
        "(e.g. vault kv get -field=password secret/restic).",
    )
    cacert: Path | None = Field(None, description="CA certificate for a TLS backend.", examples=["/etc/kubekeeper/s3-ca.crt"])
    append_only: bool = Field(
        False, description="The backend refuses deletions (rest-server/rclone --append-only): retention is skipped with a note; "
        "run `kubekeeper repo forget` with the admin URL instead.", examples=[False],
    )

    @model_validator(mode="after")
    def _one_password(self) -> RepositoryRef:
        if (self.password is None) == (self.password_command is None):
            raise ValueError("give exactly one of password or password_command")
        return self


class RepositoriesSection(_Section):
    primary: RepositoryRef = Field(..., description="Where every backup is written first.")
    copies: list[RepositoryRef] = Field(default_factory=list, description="Other repositories the backup set is copied to afterwards.")
    compression: Literal["auto", "max", "off"] = Field(
        "auto", description="restic compression for new data (repository format 2): auto, max or off.", examples=["auto"],
    )


class RetentionSection(_Section):
    keep_last: int | None = Field(None, ge=1, description="Keep the newest N snapshots of each kind.", examples=[7])
    keep_daily: int | None = Field(None, ge=1, description="Keep one per day for N days.", examples=[14])
    keep_weekly: int | None = Field(None, ge=1, description="Keep one per week for N weeks.", examples=[8])
    keep_monthly: int | None = Field(None, ge=1, description="Keep one per month for N months.", examples=[12])


class ReportsSection(_Section):
    directory: Path | None = Field(None, description="Write a JSON report of every run here.", examples=["/var/log/kubekeeper"])
    prometheus_textfile: Path | None = Field(
        None,
        description="Prometheus textfile for node-exporter's textfile collector.",
        examples=["/var/lib/node_exporter/textfile_collector/kubekeeper.prom"],
    )


ClusterName = Annotated[str, Field(pattern=CLUSTER_NAME_PATTERN, max_length=CLUSTER_NAME_MAX)]


class ClusterConfig(_Section):
    """The whole `cluster.yaml`."""

    cluster: ClusterName = Field(..., description="Cluster name, recorded as the cluster:<name> tag of every snapshot.", examples=["prod-east"])
    etcd: EtcdSection = Field(default_factory=lambda: EtcdSection(enabled=False), description="etcd backup.")
    registry: RegistrySection = Field(default_factory=lambda: RegistrySection(enabled=False), description="Image registry backup.")
    volumes: VolumesSection = Field(default_factory=lambda: VolumesSection(enabled=False), description="PVC volume backup.")
    repositories: RepositoriesSection = Field(..., description="restic repositories: a primary and optional copies.")
    retention: RetentionSection = Field(default_factory=RetentionSection, description="How many snapshots to keep (applied after each run).")
    reports: ReportsSection = Field(default_factory=ReportsSection, description="Where run reports go.")
