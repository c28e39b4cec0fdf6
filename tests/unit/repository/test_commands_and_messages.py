"""restic argv builders, spec environment, and error classification (offline)."""

from __future__ import annotations


import pytest

from kubekeeper.errors import BadInput, CommandFailed
from kubekeeper.repository import commands, messages
from kubekeeper.repository.restic import Repository
from kubekeeper.repository.spec import RepoSpec
from kubekeeper.repository.tags import details_of, snapshot_tags


def test_forget_names_exact_snapshots_and_prunes_separately():
    assert commands.forget_ids_argv(["a1", "b2"]) == ("restic", "forget", "a1", "b2")
    assert commands.prune_argv() == ("restic", "prune")


def test_check_and_copy_argv():
    assert commands.check_argv("10%") == ("restic", "check", "--read-data-subset", "10%")
    assert commands.copy_argv((), ["kubekeeper", "kind:etcd"]) == ("restic", "copy", "--tag", "kubekeeper,kind:etcd")


def test_spec_env_options_and_secrets(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret")
    spec = RepoSpec("s3:http://h/b/r", pw, options=("s3.region=x",), backend_env=(("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")))
    env = spec.env()
    assert env["RESTIC_PASSWORD_FILE"] == str(pw) and env["AWS_SECRET_ACCESS_KEY"] == "SK"
    assert "SK" in spec.secrets and "AK" not in spec.secrets
    command = Repository(spec)._command(commands.snapshots_argv(), other_options=("sftp.command=ssh x",))
    assert command.argv[-4:] == ("-o", "s3.region=x", "-o", "sftp.command=ssh x")
    assert "s3cret" not in " ".join(command.argv) and "SK" not in " ".join(command.argv)


def test_missing_password_is_bad_input():
    with pytest.raises(BadInput, match="no password"):
        RepoSpec.from_options("/r", None, environ={})


LOCKED_014 = """repo already locked, waiting up to 0s for the lock
Fatal: unable to create lock in backend: repository is already locked by PID 4242 on node-a by root (UID 0, GID 0)
lock was created at 2024-05-01 10:00:00 (1m2.3s ago)
storage ID 1a2b3c4d
"""


def classify(stderr: str, code: int = 1):
    return messages.classify(CommandFailed("restic failed", returncode=code, stderr=stderr), "/srv/repo")


def test_lock_names_holder_and_since():
    error = classify(LOCKED_014)
    assert isinstance(error, messages.RepositoryLocked)
    assert "PID 4242 on node-a (root (UID 0, GID 0))" in error.message and "since 2024-05-01 10:00:00" in error.message
    assert "\n" not in error.message


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("Fatal: wrong password or no key found\n", messages.WrongPassword),
        ("Fatal: unable to open config file: stat /x/config: no such file or directory\nIs there a repository at the following location?\n/x", messages.RepositoryNotFound),
        ('Fatal: unable to open config file: Stat: Get "http://127.0.0.1:1/b/": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?', messages.BackendUnreachable),
        ("subprocess ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused\nFatal: unable to open repository at sftp:x: unable to start the sftp session, error: EOF", messages.BackendUnreachable),
    ],
)
def test_classification(stderr, kind):
    assert type(classify(stderr)) is kind


def test_snapshot_original_and_tags():
    doc = {"id": "a" * 64, "time": "2024-05-01T10:00:00.123456789Z", "tags": snapshot_tags("etcd", "c", {"revision": 5}), "original": "b" * 64}
    snap = messages.Snapshot.from_json(doc)
    assert snap.original == "b" * 64 and details_of(snap.tags) == {"revision": "5"}
    with pytest.raises(BadInput):
        snapshot_tags("etcd", "c", {"members": "a,b"})
