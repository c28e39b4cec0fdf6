"""`kubekeeper doctor`: which external programs kubekeeper runs are here, in which version, and what
each missing one turns off. kubekeeper itself is Python; the heavy lifting is done by these programs
(every one is started through execute.py; this list names them all).

A program is *required* only for the work a configuration turns on (restic always; ssh for an sftp:
repository; rclone for an rclone: one; etcdutl or etcdctl when etcd is backed up, for verify and
restore); the rest only turn off the commands named.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from kubekeeper import execute
from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import KubekeeperError
from kubekeeper.execute import Command
from kubekeeper.repository import commands, features

_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Tool:
    """One external program: how to ask its version, what it is for, what is lost without it."""

    name: str
    version_argv: tuple[str, ...]
    used_for: str
    missing_disables: str
    minimum: str | None = None
    #: the program kubekeeper runs may be chosen by an environment variable (KUBEKEEPER_RESTIC)
    executable: str | None = None


TOOLS: tuple[Tool, ...] = (
    Tool("restic", ("version",), "every backup, restore, verify and repository command",
         "all backup and restore work: kubekeeper stores nothing without it",
         minimum=str(features.MINIMUM), executable=commands.RESTIC),
    Tool("etcdutl", ("version",), "restoring and verifying etcd snapshots (etcd 3.5+)",
         "`restore etcd` and the etcd part of `verify` (etcdctl 3.4 is used instead if present)"),
    Tool("etcdctl", ("version",), "restoring etcd 3.4 snapshots (`etcdctl snapshot restore`)",
         "restoring snapshots of etcd 3.4 clusters (etcdutl covers 3.5+)"),
    Tool("ssh", ("-V",), "restic's sftp: repositories", "sftp: repositories"),
    Tool("rclone", ("version",), "restic's rclone: repositories", "rclone: repositories"),
    Tool("ionice", ("--version",), "`etcd priority` (I/O priority of etcd)", "the I/O half of `etcd priority`"),
    Tool("tc", ("-V",), "`etcd priority` (network priority of etcd's peer traffic)", "the network half of `etcd priority`"),
    Tool("etcd", ("--version",), "`demo` (its sandbox cluster)", "`demo`"),
    Tool("docker-registry", ("--version",), "`demo` (its sandbox registry)", "`demo`"),
)


@dataclass
class Found:
    tool: Tool
    path: str | None
    version: str | None
    required_because: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.path is not None and self.problem is None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.tool.name, "found": self.path is not None, "path": self.path, "version": self.version,
                "minimum": self.tool.minimum, "required": self.required_because is not None,
                "required_because": self.required_because, "problem": self.problem,
                "used_for": self.tool.used_for, "missing_disables": self.tool.missing_disables}


@dataclass
class Diagnosis:
    found: list[Found]
    config: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def missing_required(self) -> list[Found]:
        """Required programs that are absent or too old; an etcd restore tool counts once (either will do)."""
        missing = [f for f in self.found if f.required_because and not f.ok]
        by_name = {f.tool.name: f for f in self.found}
        restore_tools = [by_name[n] for n in ("etcdutl", "etcdctl") if n in by_name]
        if any(t.ok for t in restore_tools):
            missing = [f for f in missing if f.tool.name not in ("etcdutl", "etcdctl")]
        elif restore_tools and restore_tools[0].required_because:
            missing = [f for f in missing if f.tool.name != "etcdctl"]  # one message for the pair
        return missing

    def as_json(self) -> dict[str, Any]:
        return {"config": self.config, "tools": [f.as_json() for f in self.found],
                "missing_required": [f.tool.name for f in self.missing_required], "notes": self.notes}


def tool_version(path: str, argv: tuple[str, ...]) -> str | None:
    """The first version number the program prints (stdout or stderr: `ssh -V` uses stderr)."""
    try:
        result = execute.run(Command((path, *argv), timeout=15), check=False)
    except KubekeeperError:
        return None
    for stream in (result.stdout, result.stderr):
        match = _VERSION.search(stream.decode("utf-8", "replace"))
        if match:
            return match.group(1)
    return None


def _older(version: str | None, minimum: str | None) -> bool:
    if version is None or minimum is None:
        return False
    have = tuple(int(p) for p in version.split("."))
    need = tuple(int(p) for p in minimum.split("."))
    return have < need


def required_by(config: ClusterConfig | None) -> dict[str, str]:
    """Program name -> why the configured work needs it."""
    needs = {"restic": "every backup and restore"}
    if config is None:
        return needs
    urls = [config.repositories.primary.url, *(r.url for r in config.repositories.copies)]
    for url in urls:
        scheme = url.split(":", 1)[0] if ":" in url.split("/", 1)[0] else ""
        if scheme == "sftp":
            needs["ssh"] = "a repository is sftp:"
        if scheme == "rclone":
            needs["rclone"] = "a repository is rclone:"
    if config.etcd.enabled:
        needs["etcdutl"] = "etcd is backed up (verify and restore need etcdutl, or etcdctl for etcd 3.4)"
        needs["etcdctl"] = needs["etcdutl"]
    return needs


def diagnose(config: ClusterConfig | None = None, config_source: str | None = None) -> Diagnosis:
    needs = required_by(config)
    found = []
    for tool in TOOLS:
        path = shutil.which(tool.executable or tool.name)
        version = tool_version(path, tool.version_argv) if path else None
        problem = None
        if path and _older(version, tool.minimum):
            problem = f"{tool.name} {version} is older than {tool.minimum}"
        found.append(Found(tool, path, version, needs.get(tool.name), problem))
    diagnosis = Diagnosis(found, config_source)
    restic = found[0]
    if restic.ok and restic.version and _older(restic.version, str(features.RESTORE_DELETE)):
        diagnosis.notes.append(f"restic {restic.version}: resumable restores (--delete), typed exit codes and restore progress need "
                               f"{features.RESTORE_DELETE}+; backups work, restores start over after an interruption")
    return diagnosis
