"""restic argv builders, spec environment, and error classification (offline)."""

from __future__ import annotations

from pathlib import Path

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
        # restic 0.18 --json (an empty directory backed up), and 0.14's plain text
        ('{"message_type":"exit_error","code":1,"message":"Fatal: unable to save snapshot: snapshot is empty"}\n', messages.EmptySnapshot),
        ("Fatal: unable to save snapshot: snapshot is empty\n", messages.EmptySnapshot),
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


REST_401 = """Stat(<config/>) failed: unexpected HTTP response (401): 401 Unauthorized
{"message_type":"exit_error","code":1,"message":"Fatal: unable to open config file: unexpected HTTP response (401): 401 Unauthorized\\nIs there a repository at the following location?\\nrest:http://u:***@127.0.0.1:18765/r/"}
"""


def test_rest_wrong_credentials_is_access_denied_never_create_one():
    error = classify(REST_401)
    assert isinstance(error, messages.AccessDenied) and error.exit_code == 3
    assert "access denied" in error.message and "repo init" not in error.message and "401" in error.message


@pytest.mark.parametrize(("code", "kind", "exit_code"), [(10, messages.RepositoryNotFound, 10), (11, messages.RepositoryLocked, 11),
                                                         (12, messages.WrongPassword, 12)])
def test_restic_017_exit_codes_map_to_ours(code, kind, exit_code):
    stderr = f'{{"message_type":"exit_error","code":{code},"message":"Fatal: something"}}\n'
    error = classify(stderr, code)
    assert type(error) is kind and error.exit_code == exit_code


def test_missing_repository_says_nothing_was_created_and_how_to_create_one():
    error = classify('{"message_type":"exit_error","code":10,"message":"Fatal: repository does not exist: unable to open config file"}', 10)
    assert "nothing was created" in error.message and "kubekeeper repo init" in error.message


def test_append_only_refusal_is_recognised_but_lock_removal_is_not():
    forget = "Remove(<snapshot/675ca2d12b>) failed: unexpected HTTP response (403): 403 Forbidden\nunable to remove snapshot/675ca2d12bec"
    assert messages.is_append_only_refusal(forget)
    assert not messages.is_append_only_refusal("Remove(<lock/1a2b3c4d5e>) failed: unexpected HTTP response (403): 403 Forbidden")
    assert isinstance(classify(forget), messages.AppendOnly)


def test_backup_errors_name_the_unreadable_files():
    json_018 = ('{"message_type":"error","error":{"message":"/v/b: open b: permission denied"},"during":"archival","item":"/v/b"}\n'
                '{"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}\n')
    assert messages.backup_errors(json_018) == [("/v/b", "/v/b: open b: permission denied")]
    text_014 = "error: open /v/c: permission denied\nWarning: at least one source file could not be read\n"
    assert messages.backup_errors(text_014) == [("open /v/c", "open /v/c: permission denied")]


def test_stalled_restic_names_the_backend_and_the_retry_reason():
    from kubekeeper.errors import CommandStalled

    stalled = CommandStalled("restic (rest:http://h:1/r/) made no progress for 4s and was stopped", returncode=-1,
                             stderr='Load(<config/0>) returned error, retrying after 1.2s: dial tcp 127.0.0.1:1: connect: connection refused\n')
    error = messages.classify(stalled, "rest:http://h:1/r/")
    assert isinstance(error, messages.BackendStalled) and "unreachable" in error.message and "connection refused" in error.message
    hung = messages.classify(CommandStalled("restic made no progress for 60s and was stopped", returncode=-1, stderr=""), "rest:http://h/")
    assert "does not answer" in hung.message and "--stall-timeout" in hung.message


def test_options_go_before_a_producer_command():
    spec = RepoSpec("/r", password="x")
    command = Repository(spec, stall_timeout=None, compression="max")._command(
        commands.backup_command_argv(["python", "-m", "relay", "--x"], "f.db", ["kubekeeper"]), writes=True)
    cut = command.argv.index("--")
    assert command.argv[cut:] == ("--", "python", "-m", "relay", "--x") and "--compression" in command.argv[:cut]


def test_incomplete_snapshots_and_their_records_are_left_out():
    from kubekeeper.repository.restic import INCOMPLETE_MARK

    def snap(i, *tags):
        return messages.Snapshot.from_json({"id": f"{i}" * 64, "time": f"2024-05-0{i}T10:00:00Z", "tags": ["kubekeeper", *tags]})

    good, bad = snap(1, "kind:volume"), snap(2, "kind:volume")
    record = snap(3, "kind:volume", INCOMPLETE_MARK, f"incomplete={bad.id}")
    assert Repository.snapshots_from([good, bad, record]) == [good]


def test_password_command_and_no_echo_of_a_mistyped_password(tmp_path):
    spec = RepoSpec.from_options("/r", environ={"RESTIC_PASSWORD_COMMAND": "vault read pw", "RESTIC_PASSWORD": "ignored"})
    assert spec.env()["RESTIC_PASSWORD_COMMAND"] == "vault read pw" and "RESTIC_PASSWORD" not in spec.env()
    with pytest.raises(BadInput, match="only one of"):
        RepoSpec("/r", password_file=tmp_path / "x", password_command="cat x")
    with pytest.raises(BadInput) as raised:
        RepoSpec.from_options("/r", tmp_path / "hunter2-typed-here", environ={})
    assert "hunter2" not in raised.value.message


def test_repository_file_keeps_the_url_out_of_argv(tmp_path):
    from kubekeeper import redact

    url_file = tmp_path / "repo.url"
    url_file.write_text("rest:https://u:fil3secret@h/r\n")
    spec = RepoSpec.from_options(None, environ={"RESTIC_PASSWORD": "pw"}, repository_file=url_file)
    assert spec.url == "rest:https://u:fil3secret@h/r" and "fil3secret" in spec.secrets
    assert redact.redact("before fil3secret after") == "before *** after"


def test_path_backups_skip_the_scanner_only_when_asked():
    """--no-scan (restic 0.15+) goes before the `--` that ends the options; restic 0.14 never gets it."""
    argv = commands.backup_paths_argv([Path(".")], ["kubekeeper"], no_scan=True)
    assert argv[argv.index("--") :] == ("--", ".") and "--no-scan" in argv[: argv.index("--")]
    assert "--no-scan" not in commands.backup_paths_argv([Path(".")], ["kubekeeper"])


@pytest.mark.parametrize(("version", "scan_skipped"), [("restic 0.14.0 compiled", False), ("restic 0.15.0 compiled", True),
                                                      ("restic 0.18.0 compiled", True)])
def test_backup_paths_gates_no_scan_on_the_restic_version(monkeypatch, tmp_path, version, scan_skipped):
    from kubekeeper import execute
    from kubekeeper.repository import restic as restic_module

    monkeypatch.setattr(restic_module, "_VERSIONS", {})
    seen: list[tuple[str, ...]] = []

    def fake_run(command, **_kwargs):
        seen.append(command.argv)
        if command.argv[1:2] == ("version",):
            return execute.Result(command.argv, 0, version.encode(), b"")
        summary = b'{"message_type":"summary","snapshot_id":"abc","files_new":0,"total_files_processed":0}'
        return execute.Result(command.argv, 0, summary, b"")

    monkeypatch.setattr(execute, "run", fake_run)
    Repository(RepoSpec(str(tmp_path / "r"), password="x"), stall_timeout=None).backup_paths([Path(".")], ["kubekeeper"])
    backup = next(argv for argv in seen if argv[1:2] == ("backup",))
    assert ("--no-scan" in backup) is scan_skipped
