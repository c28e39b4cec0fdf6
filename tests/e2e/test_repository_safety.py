"""Repositories that cannot be lost by accident (issue 11), against real restic 0.18, real `rclone serve
restic` (REST, with auth and --append-only), real sshd, on 127.0.0.1.

The one deliberately broken peer here is `SilentServer`: a real TCP listener that accepts connections
and never answers - exactly the fault being tested (a hung backend), not a stand-in for a backend.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kubekeeper.repository import Repository, RepoSpec
from tests.e2e.conftest import write_password

pytestmark = pytest.mark.e2e
#: KUBEKEEPER_TEST_CLI_SRC runs the CLI from another source tree (e.g. the code before a fix, to see
#: these tests fail there); fixtures and checks always use this tree
_OTHER_SRC = os.environ.get("KUBEKEEPER_TEST_CLI_SRC")
KUBEKEEPER = [*(["env", f"PYTHONPATH={_OTHER_SRC}"] if _OTHER_SRC else []), sys.executable, "-m", "kubekeeper"]


def kk(*args: str, env: dict | None = None, timeout: float = 180, input: str | None = None) -> subprocess.CompletedProcess:
    """`kubekeeper ARGS` as a process (see KUBEKEEPER above)."""
    return subprocess.run([*KUBEKEEPER, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout, input=input)


def volume_dir(root: Path, files: int = 20) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"f{i:03d}.bin").write_bytes(os.urandom(2048 + 97 * i))
    return root


def restic(repo: str, password_file: Path, *args: str, check: bool = True, input: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["restic", "-r", repo, "--password-file", str(password_file), *args], capture_output=True, text=True,
                          check=check, timeout=300, input=input)


class SilentServer:
    """Accepts TCP connections and never sends a byte (a hung REST server or sshd)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


# ------------------------------------------------------------------------------ nothing created by accident
def test_typo_repository_is_exit_10_and_nothing_is_created(tmp_path: Path) -> None:
    """backup, copy (both ends), forget, verify and snapshots never create a repository."""
    pw = write_password(tmp_path / "pw")
    typo = tmp_path / "mnt" / "nas" / "typo"
    volume = volume_dir(tmp_path / "data")
    repo_args = ["--repo", str(typo), "--password-file", str(pw)]
    runs = {
        "backup volume": kk("backup", "volume", "--pvc", "a/b", "--source-dir", str(volume), *repo_args),
        "snapshots": kk("snapshots", *repo_args),
        "verify": kk("verify", *repo_args),
        "repo forget": kk("repo", "forget", "--keep-last", "1", *repo_args),
        "repo copy (source)": kk("repo", "copy", "--to", str(tmp_path / "elsewhere"), *repo_args),
        "restore volume": kk("restore", "volume", "--pvc", "a/b", "--target", str(tmp_path / "t"), *repo_args),
    }
    for name, result in runs.items():
        assert result.returncode == 10, f"{name}: {result.returncode} {result.stderr}"
        errors = [line for line in result.stderr.splitlines() if line.startswith("kubekeeper: error:")]
        assert len(errors) == 1 and "kubekeeper repo init" in errors[0] and str(typo) in errors[0], name
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "mnt").exists() and not (tmp_path / "elsewhere").exists()

    # a copy into a typo'd target: the source exists, the target is named and not created
    real = tmp_path / "real"
    assert kk("repo", "init", "--repo", str(real), "--password-file", str(pw)).returncode == 0
    assert kk("backup", "volume", "--pvc", "a/b", "--source-dir", str(volume), "--repo", str(real), "--password-file", str(pw)).returncode == 0
    copied = kk("repo", "copy", "--to", str(typo), "--repo", str(real), "--password-file", str(pw))
    assert copied.returncode == 10 and "copy target" in copied.stderr and str(typo) in copied.stderr
    assert not (tmp_path / "mnt").exists()


# ------------------------------------------------------------------------------ repo init races
def _race(repo: str, pw: Path, rounds_env: list[dict]) -> list[subprocess.Popen]:
    return [subprocess.Popen([*KUBEKEEPER, "-v", "repo", "init", "--repo", repo, "--password-file", str(pw), "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
            for env in rounds_env]


def _assert_sound(repo: str, pw: Path, results: list[tuple[int, str, str]]) -> None:
    assert all(code == 0 for code, _, _ in results), results
    created = [json.loads(out)["created"] for _, out, _ in results]
    assert sorted(created) == [False, True], results  # one creates, the other reports it exists
    keys = json.loads(restic(repo, pw, "key", "list", "--json").stdout)
    assert len(keys) == 1, keys  # no stray key that opens with this password
    restic(repo, pw, "backup", "--stdin", "--stdin-filename", "probe", "--json", "-q", input="probe\n")
    assert "no errors were found" in restic(repo, pw, "check").stdout


def test_two_repo_inits_at_once_leave_one_sound_repository_local(tmp_path: Path) -> None:
    pw = write_password(tmp_path / "pw")
    rounds = 6
    procs = {i: _race(str(tmp_path / f"repo{i}"), pw, [{}, {}]) for i in range(rounds)}  # all rounds at once
    for i, pair in procs.items():
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in pair]
        _assert_sound(str(tmp_path / f"repo{i}"), pw, results)
        assert not (tmp_path / f"repo{i}" / ".kubekeeper-init.lock").exists()


def test_two_repo_inits_at_once_leave_one_sound_repository_rest(tmp_path: Path, rclone_rest) -> None:
    """Each racer gets its own TMPDIR, so the host-wide lock does not serialise them: this is the
    race between two machines, settled by the one-time-password protocol (repository/create.py)."""
    pw = write_password(tmp_path / "pw")
    rounds = 4
    raced = 0
    urls = {i: f"rest:http://127.0.0.1:{rclone_rest.port}/race-{secrets.token_hex(4)}/" for i in range(rounds)}
    envs = []
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        envs.append({"TMPDIR": str(tmp_path / side), "XDG_RUNTIME_DIR": str(tmp_path / side)})
    procs = {i: _race(url, pw, envs) for i, url in urls.items()}
    for i, pair in procs.items():
        results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in pair]
        raced += any("a concurrent init created" in err for _, _, err in results)
        _assert_sound(urls[i], pw, results)
    assert raced >= 1, "no round actually raced: the test did not exercise the protocol"


def test_two_backups_at_once_into_one_repository(tmp_path: Path, restic_repo, rclone_rest) -> None:
    """Per-node backups start together: both stored, `restic check --read-data` clean (local and REST)."""
    rest_pw = write_password(tmp_path / "rest.pw")
    rest_url = f"rest:http://127.0.0.1:{rclone_rest.port}/concurrent-{secrets.token_hex(4)}/"
    assert kk("repo", "init", "--repo", rest_url, "--password-file", str(rest_pw)).returncode == 0
    for url, pw in ((restic_repo.url, restic_repo.password_file), (rest_url, rest_pw)):
        sources = [volume_dir(tmp_path / f"node{i}-{abs(hash(url))}", files=60) for i in range(3)]
        procs = [subprocess.Popen([*KUBEKEEPER, "backup", "volume", "--pvc", f"ns/pvc{i}", "--source-dir", str(src), "--repo", url,
                                   "--password-file", str(pw), "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i, src in enumerate(sources)]
        for proc in procs:
            assert proc.wait(timeout=300) == 0, proc.stderr.read()
        listed = json.loads(kk("snapshots", "--repo", url, "--password-file", str(pw), "--format", "json").stdout)
        assert {d["details"]["pvc"] for d in listed if d["details"].get("part") == "data"} == {"pvc0", "pvc1", "pvc2"}
        assert "no errors were found" in restic(url, pw, "check", "--read-data").stdout


# ------------------------------------------------------------------------------ append-only
def write_cluster_yaml(path: Path, *, url: str, password_file: Path, volume: Path, reports: Path, append_only: bool = False) -> Path:
    path.write_text(f"""\
cluster: lab
volumes:
  directories:
    - {{pvc: db/data, path: {volume}}}
repositories:
  primary:
    url: {url}
    password: {{file: {password_file}}}
    append_only: {str(append_only).lower()}
retention:
  keep_last: 1
reports:
  directory: {reports}
  prometheus_textfile: {reports / "kubekeeper.prom"}
""")
    return path


def test_append_only_backup_all_twice_skips_retention_and_admin_url_forgets(tmp_path: Path, rclone_factory) -> None:
    root = tmp_path / "rest-root"
    guarded = rclone_factory(root, "--append-only")
    admin = rclone_factory(root)
    pw = write_password(tmp_path / "pw")
    url = f"rest:http://127.0.0.1:{guarded.port}/cluster/"
    admin_url = f"rest:http://127.0.0.1:{admin.port}/cluster/"
    assert kk("repo", "init", "--repo", url, "--password-file", str(pw)).returncode == 0
    volume = volume_dir(tmp_path / "vol")
    config = write_cluster_yaml(tmp_path / "cluster.yaml", url=url, password_file=pw, volume=volume, reports=tmp_path / "reports")
    for run in range(2):  # the second run has a snapshot per series to thin out: the append-only server refuses
        (volume / f"run{run}").write_text("changed\n")
        result = kk("backup", "all", "--config", str(config), "--no-progress")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "asm_amd64" not in result.stdout + result.stderr
        report = json.loads((tmp_path / "reports" / "latest.json").read_text())
        assert report["ok"]
    assert "retention skipped" in result.stdout and "repo forget --repo <admin URL>" in result.stdout
    assert report["retention"]["skipped"] == [url]
    assert len(json.loads(kk("snapshots", "--repo", url, "--password-file", str(pw), "--format", "json").stdout)) == 2  # both stored

    declared = write_cluster_yaml(tmp_path / "declared.yaml", url=url, password_file=pw, volume=volume, reports=tmp_path / "r2",
                                  append_only=True)
    result = kk("backup", "all", "--config", str(declared), "--no-progress", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["retention"]["repositories"][0]["skipped"] == "append-only"

    refused = kk("repo", "forget", "--keep-last", "1", "--repo", url, "--password-file", str(pw))
    assert refused.returncode == 3 and "append-only" in refused.stderr and "admin URL" in refused.stderr
    forgot = kk("repo", "forget", "--keep-last", "1", "--repo", admin_url, "--password-file", str(pw), "--format", "json")
    assert forgot.returncode == 0, forgot.stderr
    assert json.loads(forgot.stdout)["removed"] == 2  # 3 runs, the newest kept
    assert len(json.loads(kk("snapshots", "--repo", url, "--password-file", str(pw), "--format", "json").stdout)) == 1


# ------------------------------------------------------------------------------ secrets
def test_rest_url_password_never_shown_at_any_verbosity(tmp_path: Path, rclone_factory) -> None:
    """15 runs at -v/-vv, successes and failures, with the password in a rest: URL (argv, env, a
    repository file, cluster.yaml): it is never in stdout, stderr, reports or metrics."""
    secret = "Pa55-" + secrets.token_hex(8)
    server = rclone_factory(tmp_path / "rest-root", "--user", "backup", "--pass", secret)
    base = f"http://backup:{secret}@127.0.0.1:{server.port}"
    url = f"rest:{base}/repo/"
    pw = write_password(tmp_path / "pw")
    volume = volume_dir(tmp_path / "vol")
    repo_file = tmp_path / "repo.url"
    repo_file.write_text(url + "\n")
    reports = tmp_path / "reports"
    config = write_cluster_yaml(tmp_path / "cluster.yaml", url=url, password_file=pw, volume=volume, reports=reports)
    args = ["--repo", url, "--password-file", str(pw)]
    wrong_pw = write_password(tmp_path / "wrong")
    runs = [
        kk("-vv", "repo", "init", *args),
        kk("-vv", "backup", "volume", "--pvc", "db/data", "--source-dir", str(volume), *args),
        kk("-v", "snapshots", "--format", "json", *args),
        kk("-vv", "snapshots", "--password-file", str(pw), env={"RESTIC_REPOSITORY": url}),
        kk("-vv", "snapshots", "--repository-file", str(repo_file), "--password-file", str(pw)),
        kk("-vv", "backup", "all", "--config", str(config), "--no-progress"),
        kk("-vv", "restore", "volume", "--pvc", "db/data", "--target", str(tmp_path / "restored"), *args),
        kk("-vv", "verify", *args, "--cluster", "lab"),
        kk("-v", "repo", "check", *args),
        kk("-vv", "snapshots", "--repo", url, "--password-file", str(wrong_pw)),  # wrong repository password
        kk("-vv", "snapshots", "--repo", url.replace(secret, secret[::-1]), "--password-file", str(pw)),  # wrong REST password
        kk("-vv", "snapshots", "--repo", url.replace("/repo/", "/missing/"), "--password-file", str(pw)),
        kk("-vv", "restore", "etcd", "--print-commands", "--initial-cluster", "m0=http://10.0.0.1:2380", *args),
        kk("-vv", "repo", "unlock", *args),
        kk("-vv", "snapshots", "--repo", url, "--password-file", secret),  # the password typed where its file belongs
    ]
    assert len(runs) == 15
    outputs = [r.stdout + r.stderr for r in runs]
    assert [r.returncode for r in runs[:9]] == [0] * 9, [(r.returncode, r.stderr[-300:]) for r in runs[:9]]
    assert runs[9].returncode == 12 and runs[10].returncode == 3 and runs[11].returncode == 10 and runs[14].returncode == 2
    assert "access denied" in runs[10].stderr and "repo init" not in runs[10].stderr  # fault 3: never "create one"
    for text, result in zip(outputs, runs, strict=True):
        assert secret not in text and secret[::-1] not in text, result.args
    assert "***@127.0.0.1" in outputs[1] or "***@127.0.0.1" in outputs[6]  # masked, not dropped
    for path in reports.iterdir():
        assert secret not in path.read_text(), path


def test_password_command_is_passed_to_restic(tmp_path: Path, rclone_rest) -> None:
    """RESTIC_PASSWORD_COMMAND and --password-command (a vault client's way) work, locally and on REST."""
    pw = write_password(tmp_path / "pw")
    command = f"cat {pw}"
    local = tmp_path / "repo"
    env = {"RESTIC_PASSWORD_COMMAND": command, "RESTIC_PASSWORD_FILE": "", "RESTIC_PASSWORD": ""}
    assert kk("repo", "init", "--repo", str(local), env=env).returncode == 0
    volume = volume_dir(tmp_path / "vol")
    stored = kk("backup", "volume", "--pvc", "a/b", "--source-dir", str(volume), "--repo", str(local), env=env)
    assert stored.returncode == 0, stored.stderr
    assert len(Repository(RepoSpec(str(local), pw)).snapshots(["kubekeeper"])) == 1  # the same password
    rest = f"rest:http://127.0.0.1:{rclone_rest.port}/pwcmd-{secrets.token_hex(4)}/"
    made = kk("repo", "init", "--repo", rest, "--password-command", command)
    assert made.returncode == 0 and "created repository" in made.stdout, made.stderr
    listed = kk("snapshots", "--repo", rest, "--password-command", command)
    assert listed.returncode == 0 and "no kubekeeper snapshots" in listed.stdout
    both = kk("snapshots", "--repo", rest, "--password-command", command, "--password-file", str(pw))
    assert both.returncode == 2 and "only one of" in both.stderr


# ------------------------------------------------------------------------------ hung and refusing backends
@pytest.mark.parametrize("backend", ["rest", "sftp"])
def test_hung_backend_is_stopped_and_named(tmp_path: Path, backend: str) -> None:
    """A backend that accepts the connection and never answers: restic (and ssh, waiting for the
    server's banner) would wait for minutes; kubekeeper stops it after the stall timeout, exit 3."""
    server = SilentServer()
    try:
        pw = write_password(tmp_path / "pw")
        url = {"rest": f"rest:http://127.0.0.1:{server.port}/repo/", "sftp": f"sftp://kk@127.0.0.1:{server.port}/{tmp_path}/repo"}[backend]
        started = time.monotonic()
        for args in (["snapshots"], ["backup", "volume", "--pvc", "a/b", "--source-dir", str(volume_dir(tmp_path / "v"))]):
            result = kk("--stall-timeout", "4", *args, "--repo", url, "--password-file", str(pw), timeout=120)
            assert result.returncode == 3, result.stderr
            assert f"127.0.0.1:{server.port}" in result.stderr and "stopped" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr and "repo init" not in result.stderr
        assert time.monotonic() - started < 60  # two commands; restic alone retries for up to 15 minutes
        assert server.accepted, "restic never connected: the test did not exercise a hung backend"
    finally:
        server.close()


# ------------------------------------------------------------------------------ locks, keys, copy targets
def test_repo_unlock_removes_only_stale_locks_and_names_them(tmp_path: Path, restic_repo) -> None:
    env = {**os.environ, **restic_repo.spec.env()}
    dead = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "x"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    live = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "y"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while len(list((Path(restic_repo.url) / "locks").iterdir())) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        dead.kill()  # a killed run leaves its lock behind
        dead.wait()
        locked = kk("repo", "check", *restic_repo.cli_args)
        assert locked.returncode == 11 and "kubekeeper repo unlock" in locked.stderr
        result = kk("repo", "unlock", *restic_repo.cli_args, "--format", "json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert [lock["pid"] for lock in report["removed"]] == [dead.pid]
        assert [lock["pid"] for lock in report["kept"]] == [live.pid]
        text = kk("repo", "unlock", *restic_repo.cli_args)
        assert "kept live lock" in text.stdout and f"PID {live.pid}" in text.stdout and "removed" not in text.stdout
    finally:
        live.kill()
        live.wait()


def test_password_rotation_with_repo_key(tmp_path: Path, restic_repo) -> None:
    new = write_password(tmp_path / "new.pw")
    added = kk("repo", "key", "add", "--new-password-file", str(new), *restic_repo.cli_args)
    assert added.returncode == 0 and "added key" in added.stdout
    listed = json.loads(kk("repo", "key", "list", "--format", "json", *restic_repo.cli_args).stdout)
    assert len(listed) == 2 and sum(k["current"] for k in listed) == 1
    newer = write_password(tmp_path / "newer.pw")
    changed = kk("repo", "key", "passwd", "--repo", restic_repo.url, "--password-file", str(new), input=newer.read_text())
    assert changed.returncode == 0, changed.stderr
    assert kk("snapshots", "--repo", restic_repo.url, "--password-file", str(new)).returncode == 12
    assert kk("snapshots", "--repo", restic_repo.url, "--password-file", str(newer)).returncode == 0
    assert kk("snapshots", *restic_repo.cli_args).returncode == 0  # the original key stays until removed


def test_copy_destination_from_file_or_environment_keeps_credentials_out_of_argv(tmp_path: Path, restic_repo, rclone_factory) -> None:
    secret = "Cp-" + secrets.token_hex(8)
    server = rclone_factory(tmp_path / "dest-root", "--user", "copy", "--pass", secret)
    dest = f"rest:http://copy:{secret}@127.0.0.1:{server.port}/dest/"
    dest_pw = write_password(tmp_path / "dest.pw")
    url_file = tmp_path / "dest.url"
    url_file.write_text(dest + "\n")
    made = kk("repo", "init", "--repository-file", str(url_file), "--password-file", str(dest_pw))
    assert made.returncode == 0, made.stderr
    volume = volume_dir(tmp_path / "vol")
    assert kk("backup", "volume", "--pvc", "a/b", "--source-dir", str(volume), *restic_repo.cli_args).returncode == 0
    by_file = kk("-vv", "repo", "copy", "--to-repository-file", str(url_file), "--to-password-file", str(dest_pw), *restic_repo.cli_args)
    assert by_file.returncode == 0, by_file.stderr
    by_env = kk("-vv", "repo", "copy", *restic_repo.cli_args, env={"KUBEKEEPER_TO_REPOSITORY": dest, "KUBEKEEPER_TO_PASSWORD_FILE": str(dest_pw)})
    assert by_env.returncode == 0, by_env.stderr
    for result in (made, by_file, by_env):
        assert secret not in " ".join(result.args) and secret not in result.stdout + result.stderr
    assert "copied 1 kubekeeper snapshot(s) to rest:http://***@127.0.0.1" in by_env.stdout


def test_killed_backup_leaves_no_restic_behind(tmp_path: Path, restic_repo) -> None:
    """PR_SET_PDEATHSIG: kill -9 of kubekeeper takes its restic with it (no orphan writing on)."""
    volume = volume_dir(tmp_path / "big", files=10)
    for i in range(4):
        (volume / f"large{i}").write_bytes(os.urandom(40 << 20))
    proc = subprocess.Popen([*KUBEKEEPER, "backup", "volume", "--pvc", "a/b", "--source-dir", str(volume), *restic_repo.cli_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = _wait_for_children(proc.pid, "restic")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _assert_gone(children)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _wait_for_children(pid: int, name: str, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [c for c in _children(pid) if _comm(c) == name]
        if mine:
            return mine
        time.sleep(0.02)
    raise AssertionError(f"no {name} child of {pid} appeared")


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _assert_gone(pids: list[int], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{p}").exists() and _state(p) != "Z" for p in pids):
        assert time.monotonic() < deadline, f"children {pids} outlived kubekeeper"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""
