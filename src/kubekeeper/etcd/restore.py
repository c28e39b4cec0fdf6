"""Restoring an etcd snapshot into a member's data dir with the tool that matches the etcd version.

etcd 3.5+ restores with `etcdutl snapshot restore` (Debian's etcd-server package; any etcdutl on
PATH, or `--etcdutl PATH`); etcd 3.4 has no etcdutl and uses `etcdctl snapshot restore` with
ETCDCTL_API=3 (Debian bookworm's etcd-client). Every member of the new cluster must restore the same
snapshot with the same --initial-cluster, token and revision bump, so commands for other members are
printed with all three pinned.

Revision bump: a restored cluster starts at the snapshot's revision, behind every resourceVersion
kube-apiserver, controllers and kubelets already hold; their watches and caches would see time run
backwards and could miss events. `--bump-revision N --mark-compacted` (etcdutl 3.5.10+, found by
asking the tool's --help) moves the revision N ahead and marks everything before as compacted, so
clients re-list. kubekeeper bumps by 1,000,000,000 by default (the figure etcd's and Kubernetes'
guides use) and records the bump in its output.
"""

from __future__ import annotations

import json
import logging
import os
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

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "etcd-cluster"
#: how far a restore moves the revision ahead (etcd's and Kubernetes' guides use 1,000,000,000)
DEFAULT_BUMP = 1_000_000_000


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
    version: str = ""

    @property
    def name(self) -> str:
        return f"{Path(self.path).name} {self.version}".strip()


def restore_argv(tool: RestoreTool, snapshot_file: Path, member: MemberRestore, data_dir: Path, bump: int = 0) -> tuple[str, ...]:
    """Pure argv builder: same flags for etcdutl (3.5+) and etcdctl (3.4); `bump` > 0 adds
    `--bump-revision N --mark-compacted` (etcd requires the two together)."""
    argv: tuple[str, ...] = (
        tool.path, "snapshot", "restore", str(snapshot_file),
        "--name", member.name,
        "--initial-cluster", member.initial_cluster_text,
        "--initial-cluster-token", member.token,
        "--initial-advertise-peer-urls", member.peer_urls,
        "--data-dir", str(data_dir),
    )
    if bump > 0:
        argv += ("--bump-revision", str(bump), "--mark-compacted")
    return argv


def supports_bump(tool: RestoreTool) -> bool:
    """Whether this etcdutl/etcdctl has `snapshot restore --bump-revision` (feature, not version, test)."""
    result = execute.run(Command((tool.path, "snapshot", "restore", "--help"), env=dict(tool.env), timeout=30), check=False)
    text = (result.stdout + result.stderr).decode("utf-8", "replace")
    return "--bump-revision" in text and "--mark-compacted" in text


def effective_bump(tool: RestoreTool, wanted: int) -> int:
    """The bump this tool can apply: `wanted`, or 0 with a warning when the tool is too old."""
    if wanted <= 0:
        return 0
    if supports_bump(tool):
        return wanted
    log.warning(
        "%s has no --bump-revision (etcd 3.5.10+ etcdutl has it): the restored revision is NOT moved ahead, so "
        "kube-apiserver watches may see revisions go backwards; restart every kube-apiserver after the restore", tool.name,
    )
    return 0


def snapshot_revision(tool: RestoreTool, db: Path) -> int | None:
    """The revision `etcdutl/etcdctl snapshot status` reads from a db (None if unreadable).

    An etcd store with no write yet is at revision 1, but status reports 0 (no key carries a
    revision); callers compare with that in mind."""
    command = Command((tool.path, "snapshot", "status", str(db), "-w", "json"), env=dict(tool.env), timeout=300)
    result = execute.run(command, check=False)
    try:
        return int(json.loads(result.text)["revision"])
    except (ValueError, KeyError, TypeError):
        return None


def _minor(version: str) -> tuple[int, int]:
    match = re.search(r"(\d+)\.(\d+)", version or "")
    return (int(match[1]), int(match[2])) if match else (0, 0)


def tool_version(path: str, kind: str) -> str:
    env = {"ETCDCTL_API": "3"} if kind == "etcdctl" else {}
    try:
        result = execute.run(Command((path, "version"), env=env, timeout=30), check=False)
    except CommandNotFound:
        return ""
    match = re.search(r"(?:etcdutl|etcdctl) version: (\S+)", result.text)
    return match[1] if match else ""


def find_tool(etcd_version: str, override: Path | None = None) -> RestoreTool:
    """etcdutl for 3.5+ snapshots, etcdctl 3.4 (ETCDCTL_API=3) for 3.4 ones; found on PATH
    (Debian: etcdutl in etcd-server, etcdctl in etcd-client), or `override` (--etcdutl PATH)."""
    wanted = _minor(etcd_version)
    if override is not None:
        path = str(override) if "/" in str(override) else (shutil.which(str(override)) or str(override))
        if not Path(path).is_file() or not os.access(path, os.X_OK):
            raise BadInput(f"--etcdutl {override}: not an executable file")
        kind = "etcdutl" if "etcdutl" in Path(path).name else "etcdctl"
        version = tool_version(path, kind)
        if not version:
            raise BadInput(f"--etcdutl {override}: `{Path(path).name} version` does not report an etcdutl/etcdctl version")
        return RestoreTool(path, kind, (("ETCDCTL_API", "3"),) if kind == "etcdctl" else (), version)
    if wanted >= (3, 5) or wanted == (0, 0):
        found = shutil.which("etcdutl")
        version = tool_version(found, "etcdutl") if found else ""
        if found and version:
            return RestoreTool(found, "etcdutl", (), version)
        raise CommandNotFound(
            "etcdutl (etcd 3.5+) not found on PATH: install Debian's etcd-server (trixie: 3.5.16) or pass --etcdutl PATH"
        )
    found = shutil.which("etcdctl")
    version = tool_version(found, "etcdctl") if found else ""
    if found and _minor(version) == wanted:
        return RestoreTool(found, "etcdctl", (("ETCDCTL_API", "3"),), version)
    other = f" (found etcdctl {version} at {found})" if found and version else ""
    raise CommandNotFound(
        f"etcdctl {wanted[0]}.{wanted[1]} not found on PATH for a {etcd_version} snapshot{other}: install Debian "
        "bookworm's etcd-client, or pass --etcdutl PATH"
    )


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


def restore_member(tool: RestoreTool, snapshot_file: Path, member: MemberRestore, *, force: bool = False, bump: int = 0) -> Path | None:
    """Restore into a temp sibling then rename into place, so a failed restore leaves no half dir."""
    data_dir = member.data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    moved = prepare_data_dir(data_dir, force)
    staging = data_dir.with_name(f".{data_dir.name}.kubekeeper-restore")
    if staging.exists():
        shutil.rmtree(staging)  # our own leftover from a crashed restore, never operator data
    try:
        execute.run(Command(restore_argv(tool, snapshot_file, member, staging, bump), env=dict(tool.env), timeout=3600))
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
    bump: int = DEFAULT_BUMP,
    extra: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """One `kubekeeper restore etcd` command per member, the snapshot id and the revision bump pinned
    (never `latest`), and `extra` (a point in time: `--revision N`). A repository URL with credentials
    is left out (they are never printed): the
    member's host selects it with RESTIC_REPOSITORY or --repository-file."""
    initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
    commands = []
    repo_args = [] if "***" in repo_display else ["--repo", repo_display]
    for member in members:
        argv = [
            "kubekeeper", "restore", "etcd", *repo_args, "--cluster", cluster,
            "--snapshot", snapshot_id, "--name", member.name, "--initial-cluster", initial,
            "--initial-advertise-peer-urls", member.peer_url, "--initial-cluster-token", token,
            "--data-dir", data_dir, "--bump-revision", str(bump), *extra,
        ]
        commands.append((member.name, shlex.join(argv)))
    return commands


def check_restored(data_dir: Path) -> None:
    if not (data_dir / "member" / "snap" / "db").is_file():
        raise OperationFailed(f"restore produced no member/snap/db under {data_dir}")
