"""`config check --connect` (the preflight of `backup all`): what a schema check cannot see. Every file the configuration names is
there and readable, every password source gives a password, and every endpoint answers: each etcd
endpoint's status, the registry's /v2/, each repository opened by restic (`cat config`, which also
proves the password). Each problem is one line naming the file and line of its cluster.yaml key,
so a 3 a.m. fix starts at the right place. Nothing is written anywhere.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubekeeper import execute
from kubekeeper.config.loader import line_of
from kubekeeper.config.schema import ClusterConfig, RepositoryRef, SecretRef
from kubekeeper.errors import KubekeeperError
from kubekeeper.execute import Command

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    where: str  # file:line
    option: str  # etcd.endpoints[1]
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.option}: {self.message}"

    def as_json(self) -> dict[str, str]:
        return {"where": self.where, "option": self.option, "message": self.message}


def _option(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class Checker:
    """Collects problems, each located at its key's line in the document."""

    def __init__(self, document: Any, source: str, timeout: float) -> None:
        self.document = document
        self.source = source
        self.timeout = timeout
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        line = line_of(self.document, *loc)
        self.problems.append(Problem(f"{self.source}:{line}" if line else self.source, _option(loc), " ".join(message.split())))

    def readable(self, loc: Loc, path: Path | None, *, directory: bool = False) -> bool:
        if path is None:
            return True
        kind = "directory" if directory else "file"
        if not path.exists():
            self.add(loc, f"{path} does not exist")
        elif directory != path.is_dir():
            self.add(loc, f"{path} is not a {kind}")
        elif not os.access(path, os.R_OK | (os.X_OK if directory else 0)):
            self.add(loc, f"{path} is not readable by this user (uid {os.getuid()})")
        else:
            return True
        return False

    def writable_dir(self, loc: Loc, path: Path | None) -> None:
        """A directory kubekeeper writes into: it, or the parent it would be created in, is writable."""
        if path is None:
            return
        existing = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
        if not existing.is_dir():
            self.add(loc, f"{existing} is not a directory")
        elif not os.access(existing, os.W_OK | os.X_OK):
            self.add(loc, f"{existing} is not writable by this user (uid {os.getuid()})")

    def secret(self, loc: Loc, ref: SecretRef | None) -> str | None:
        if ref is None:
            return None
        try:
            value = ref.resolve()
        except KubekeeperError as exc:
            self.add(loc, exc.message)
            return None
        if not value.strip():
            self.add(loc, f"{'file ' + str(ref.file) if ref.file else 'environment variable ' + str(ref.env)} is empty")
            return None
        return value

    def password_command(self, loc: Loc, command: str | None) -> bool:
        """Run it as restic would (split like a shell, no shell): exit 0 and a first line. Its output is never shown."""
        if command is None:
            return True
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            self.add(loc, f"cannot split the command: {exc}")
            return False
        if not argv:
            self.add(loc, "the command is empty")
            return False
        try:
            result = execute.run(Command(tuple(argv), timeout=self.timeout * 6), check=False)
        except KubekeeperError as exc:
            self.add(loc, exc.message)
            return False
        if result.returncode != 0:
            self.add(loc, f"{Path(argv[0]).name} exited {result.returncode}")
            return False
        if not result.stdout.strip():
            self.add(loc, f"{Path(argv[0]).name} printed no password")
            return False
        return True


def check_connections(config: ClusterConfig, document: Any, source: str, timeout: float = 5.0) -> list[Problem]:
    checker = Checker(document, source, timeout)
    for loc, ref in _repositories(config):
        _check_repository(checker, loc, ref)
    if config.etcd.enabled:
        _check_etcd(checker, config)
    if config.registry.enabled:
        _check_registry(checker, config)
    if config.volumes.enabled:
        volumes = config.volumes
        if volumes.directories:
            for index, item in enumerate(volumes.directories):
                checker.readable(("volumes", "directories", index, "path"), item.path, directory=True)
        else:
            checker.readable(("volumes", "kubelet_root"), volumes.kubelet_root, directory=True)
            checker.readable(("volumes", "kubeconfig"), volumes.kubeconfig)
    checker.writable_dir(("reports", "directory"), config.reports.directory)
    if config.reports.prometheus_textfile is not None:
        checker.writable_dir(("reports", "prometheus_textfile"), config.reports.prometheus_textfile.parent)
    return checker.problems


def _repositories(config: ClusterConfig) -> Iterator[tuple[Loc, RepositoryRef]]:
    yield ("repositories", "primary"), config.repositories.primary
    for index, ref in enumerate(config.repositories.copies):
        yield ("repositories", "copies", index), ref


def _check_repository(checker: Checker, loc: Loc, ref: RepositoryRef) -> None:
    from kubekeeper.repository import Repository, RepoSpec

    cacert_ok = checker.readable((*loc, "cacert"), ref.cacert)
    if ref.password is not None and ref.password.file is not None:
        if not checker.readable((*loc, "password", "file"), ref.password.file):
            return
    password = checker.secret((*loc, "password"), ref.password)
    command_ok = checker.password_command((*loc, "password_command"), ref.password_command)
    if (ref.password is not None and password is None) or not command_ok or not cacert_ok:
        return  # restic would only repeat what is already said
    spec = RepoSpec(url=ref.url, password=password, password_command=ref.password_command, cacert=ref.cacert)
    try:
        Repository(spec, stall_timeout=checker.timeout * 12).open_config()
    except KubekeeperError as exc:
        checker.add((*loc, "url"), exc.message)


def _check_etcd(checker: Checker, config: ClusterConfig) -> None:
    from kubekeeper.etcd.client import EtcdClient, TLSConfig, parse_endpoints

    section = config.etcd
    files = [checker.readable(("etcd", name), getattr(section, name)) for name in ("cacert", "cert", "key")]
    if not all(files):
        return
    try:
        tls = TLSConfig(cacert=section.cacert, cert=section.cert, key=section.key)
        endpoints = parse_endpoints(section.endpoints, tls)
    except KubekeeperError as exc:
        checker.add(("etcd",), exc.message)
        return
    with EtcdClient(endpoints, tls, checker.timeout) as client:
        for index, endpoint in enumerate(endpoints):
            try:
                status = client.status(endpoint.url)
            except Exception as exc:  # grpc errors of every kind: the endpoint does not answer
                checker.add(("etcd", "endpoints", index), f"{endpoint.url} does not answer etcd's Status call: {_reason(exc)}")
                continue
            if not status.leader_id:
                checker.add(("etcd", "endpoints", index), f"{endpoint.url} answers but knows no leader")


def _check_registry(checker: Checker, config: ClusterConfig) -> None:
    from kubekeeper.backup.sources.registry import SOURCE
    from kubekeeper.registry.client import RegistryClient

    section = config.registry
    credentials = section.credentials
    files = [checker.readable(("registry", "cacert"), section.cacert),
             checker.readable(("registry", "credentials", "docker_config"), credentials.docker_config)]
    if credentials.password is not None and checker.secret(("registry", "credentials", "password"), credentials.password) is None:
        return
    if section.cache is not None:
        checker.writable_dir(("registry", "cache"), section.cache)
    if not all(files):
        return
    try:
        origin = SOURCE.from_config(config)
        options = dataclasses.replace(origin.options, retries=1, timeout=checker.timeout)  # a check, not a backup: no long retries
        with RegistryClient(options) as client:
            client.ping()
    except KubekeeperError as exc:
        checker.add(("registry", "url"), exc.message)
    except Exception as exc:  # httpx transport errors: refused, DNS, TLS
        checker.add(("registry", "url"), f"{section.url} does not answer: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    from kubekeeper.etcd.client import describe_rpc_error

    try:
        import grpc

        if isinstance(exc, grpc.RpcError):
            return describe_rpc_error(exc)
    except ImportError:  # pragma: no cover - grpc is a dependency
        pass
    return f"{type(exc).__name__}: {exc}"
