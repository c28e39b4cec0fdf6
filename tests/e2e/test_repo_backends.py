"""One contract every backend must pass (local, sftp via sshd, REST via `rclone serve restic`, S3 via
`rclone serve s3`), run against real restic 0.18 and real servers on 127.0.0.1."""

from __future__ import annotations

import io
import subprocess
import time

import pytest

from kubekeeper.repository import (
    BackendUnreachable,
    Repository,
    RepositoryLocked,
    RepositoryNotFound,
    RepoSpec,
    Retention,
    WrongPassword,
    selection,
    snapshot_tags,
)
from tests.e2e.conftest import BACKENDS, ResticRepo, free_port, plain_init, write_password

pytestmark = pytest.mark.e2e


def store(repo: ResticRepo, payload: bytes, n: int) -> str:
    tags = snapshot_tags("etcd", "contract", {"revision": n})
    return repo.repository.backup_stream(iter([payload[: len(payload) // 2], payload[len(payload) // 2 :]]), "etcd-snapshot.db", tags).snapshot_id


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_contract(backend, backend_repo_factory, cli, tmp_path):
    repo = backend_repo_factory(backend)
    assert not repo.repository.exists()
    # `repo init` itself (and its race protocol) is tested in test_repository_safety.py; here the CLI
    # creates the local one and the others get a plain init, to keep the contract quick
    created = cli("repo", "init", *repo.cli_args) if backend == "local" else None
    if created is None:
        plain_init(repo.repository)
    else:
        assert created.code == 0, created.err
    assert repo.repository.exists()

    payloads = [bytes([i]) * 300_000 + b"tail" for i in range(3)]
    ids = [store(repo, p, i) for i, p in enumerate(payloads)]
    listed = repo.repository.snapshots(selection("etcd", "contract"))
    assert [s.id[:8] for s in listed] == [i[:8] for i in ids]  # oldest first

    out = io.BytesIO()
    repo.repository.dump(listed[-1].id, "/etcd-snapshot.db", out)
    assert out.getvalue() == payloads[-1]
    target = tmp_path / "restored"
    repo.repository.restore(listed[0].id, target)
    assert (target / "etcd-snapshot.db").read_bytes() == payloads[0]

    repo.repository.check(read_data_subset="50%")

    groups = repo.repository.forget(Retention(keep_last=2), selection("etcd", "contract"))
    assert sum(len(g.get("remove") or []) for g in groups) == 1
    assert len(repo.repository.snapshots()) == 2

    # copy to another backend (local -> this backend's peer, or this backend -> local); it must exist
    other = backend_repo_factory("local" if backend != "local" else "rest", init=True)
    repo.repository.copy_to(other.repository, selection("etcd"))
    copied = other.repository.snapshots(selection("etcd"))
    assert sorted(s.original for s in copied) == sorted(s.id for s in repo.repository.snapshots())
    again = io.BytesIO()
    other.repository.dump(copied[-1].id, "/etcd-snapshot.db", again)
    assert again.getvalue() == payloads[-1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_error_messages(backend, backend_repo_factory, tmp_path):
    missing = backend_repo_factory(backend)
    with pytest.raises(RepositoryNotFound, match="no repository at"):
        missing.repository.snapshots()

    repo = backend_repo_factory(backend, init=True)
    wrong = RepoSpec(repo.spec.url, write_password(tmp_path / "wrong.pw"), options=repo.spec.options, backend_env=repo.spec.backend_env)
    with pytest.raises(WrongPassword) as raised:
        Repository(wrong).snapshots()
    assert "wrong password" in raised.value.message and "\n" not in raised.value.message

    if backend != "local":
        dead = free_port()
        url = {"sftp": None, "rest": f"rest:http://127.0.0.1:{dead}/x/", "s3": f"s3:http://127.0.0.1:{dead}/bucket/x"}[backend]
        options = tuple(o.replace(f"-p {repo.spec.options[0].split('-p ')[1].split()[0]}", f"-p {dead}") for o in repo.spec.options)
        spec = RepoSpec(url or repo.spec.url, repo.password_file, options=options, backend_env=repo.spec.backend_env)
        started = time.monotonic()
        with pytest.raises(BackendUnreachable, match="unreachable") as unreachable:
            Repository(spec, timeout=120, stall_timeout=4).snapshots()  # restic 0.17+ retries for 15 minutes
        assert time.monotonic() - started < 30 and spec.display in unreachable.value.message

    # a live restic holding a lock: an exclusive operation is refused and the holder is named.
    holder = subprocess.Popen(
        ["restic", "backup", "--stdin", "--stdin-filename", "x", *sum((["-o", o] for o in repo.spec.options), [])],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "holder.err", "wb"),
        env={**__import__("os").environ, **repo.spec.env()},
    )
    try:
        deadline = time.monotonic() + 30
        env = {**__import__("os").environ, **repo.spec.env()}
        list_locks = ["restic", "list", "locks", "--no-lock", *sum((["-o", o] for o in repo.spec.options), [])]
        while not subprocess.run(list_locks, env=env, capture_output=True).stdout.strip():
            assert holder.poll() is None and time.monotonic() < deadline, "the holder never took its lock"
            time.sleep(0.2)  # never race the holder: wait until its lock is in the repository
        while True:
            try:
                repo.repository.check()  # takes an exclusive lock
            except RepositoryLocked as exc:
                assert f"PID {holder.pid}" in exc.message and " since " in exc.message
                assert "kubekeeper repo unlock" in exc.message and "never a live one" in exc.message
                assert exc.exit_code == 11
                break
            assert time.monotonic() < deadline, f"the lock never showed up: holder rc={holder.poll()} {(tmp_path / 'holder.err').read_text()[-300:]}"
            time.sleep(0.3)
    finally:
        holder.kill()
        holder.wait()


def test_cli_errors_are_one_line(cli, tmp_path, restic_repo):
    wrong = write_password(tmp_path / "other.pw")
    result = cli("snapshots", "--repo", restic_repo.url, "--password-file", str(wrong))
    assert result.code == 12 and "wrong password" in result.err and result.err.count("\n") == 1
    result = cli("snapshots", "--repo", str(tmp_path / "nothing"), "--password-file", str(wrong))
    assert result.code == 10 and "no repository at" in result.err and "kubekeeper repo init" in result.err
    assert not (tmp_path / "nothing").exists()
    result = cli("repo", "forget", *restic_repo.cli_args)
    assert result.code == 2 and "--keep-last" in result.err


def test_repo_commands_and_copy_to_several(cli, restic_repo, backend_repo_factory, tmp_path):
    for i in range(3):
        restic_repo.repository.backup_stream(iter([b"x" * 1000 * (i + 1)]), "etcd-snapshot.db", snapshot_tags("etcd", "c1", {"revision": i}))
    restic_repo.repository.backup_stream(iter([b"v"]), "data", snapshot_tags("volume", "c1"))
    listed = cli("snapshots", "--kind", "etcd", "--format", "json", *restic_repo.cli_args)
    assert listed.code == 0, listed.err
    import json

    docs = json.loads(listed.out)
    assert [d["details"]["revision"] for d in docs] == [0, 1, 2]  # typed: the one snapshot shape (issue 17)
    assert set(docs[0]) == {"id", "short_id", "time", "kind", "cluster", "set", "hostname", "paths", "tags", "details", "data_added"}
    assert docs[0]["short_id"] == docs[0]["id"][:8] and len(docs[0]["id"]) == 64
    assert isinstance(docs[0]["data_added"], int)  # restic 0.17+ records the backup's summary
    assert docs[0]["time"] <= docs[-1]["time"]

    checked = cli("repo", "check", "--read-data-subset", "1/2", *restic_repo.cli_args, "--format", "json")
    assert checked.code == 0, checked.err
    assert json.loads(checked.out) == {"repository": restic_repo.url, "ok": True, "read_data_subset": "1/2"}

    one, two = tmp_path / "copy1", tmp_path / "copy2"
    pw1, pw2 = write_password(tmp_path / "c1.pw"), write_password(tmp_path / "c2.pw")
    missing = cli("repo", "copy", "--kind", "etcd", "--to", str(one), "--to-password-file", str(pw1), *restic_repo.cli_args)
    assert missing.code == 10 and "copy target" in missing.err and not one.exists()  # never created by a copy
    for target, pw in ((one, pw1), (two, pw2)):
        made = cli("repo", "init", "--repo", str(target), "--password-file", str(pw), "--copy-chunker-params-from", restic_repo.url,
                   "--from-password-file", str(restic_repo.password_file))
        assert made.code == 0 and "created repository" in made.out, made.err
    copied = cli("repo", "copy", "--kind", "etcd", "--to", str(one), "--to-password-file", str(pw1),
                 "--to", str(two), "--to-password-file", str(pw2), *restic_repo.cli_args)
    assert copied.code == 0, copied.err
    for target, pw in ((one, pw1), (two, pw2)):
        assert len(Repository(RepoSpec(str(target), pw)).snapshots(selection("etcd"))) == 3
        assert Repository(RepoSpec(str(target), pw)).snapshots(selection("volume")) == []

    forgot = cli("repo", "forget", "--keep-last", "1", "--kind", "etcd", "--format", "json", *restic_repo.cli_args)
    assert forgot.code == 0, forgot.err
    assert json.loads(forgot.out)["removed"] == 2
    assert len(restic_repo.repository.snapshots()) == 2  # one etcd + the volume snapshot

    bad = cli("repo", "copy", "--to", str(one), "--to", str(two), "--to", str(tmp_path / "c3"),
              "--to-password-file", str(pw1), "--to-password-file", str(pw2), *restic_repo.cli_args)
    assert bad.code == 2 and "--to-password-file" in bad.err
