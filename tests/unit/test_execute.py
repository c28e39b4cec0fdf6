"""The one subprocess runner: secrets masked, failures typed, streams that never look complete when cut."""

from __future__ import annotations

import io

import pytest

from kubekeeper import execute
from kubekeeper.errors import CommandFailed, CommandNotFound
from kubekeeper.execute import Command


def test_describe_masks_secret_env_and_values() -> None:
    command = Command(("tool", "--url", "rest:https://u:hunter2@h/"), env={"RESTIC_PASSWORD": "s3cret", "RESTIC_REPOSITORY": "/r"},
                      secrets=("hunter2",))
    text = execute.describe(command)
    assert "s3cret" not in text and "hunter2" not in text
    assert "RESTIC_REPOSITORY=/r" in text


def test_failure_is_typed_with_last_stderr_line_masked() -> None:
    command = Command(("sh", "-c", "echo noise >&2; echo 'fatal: bad token tok123' >&2; exit 4"), secrets=("tok123",))
    with pytest.raises(CommandFailed) as info:
        execute.run(command)
    assert info.value.returncode == 4
    assert info.value.message == "sh exited 4: fatal: bad token ***"


def test_missing_executable() -> None:
    with pytest.raises(CommandNotFound, match="no-such-tool-kk"):
        execute.run(Command(("no-such-tool-kk",)))


def test_feed_into_a_child_that_exits_early_reports_the_child_not_a_broken_pipe() -> None:
    command = Command(("sh", "-c", "head -c 10 >/dev/null; echo 'Fatal: repository gone' >&2; exit 1"))
    chunks = (b"x" * (1 << 20) for _ in range(64))
    with pytest.raises(CommandFailed, match="repository gone"):
        execute.feed(command, chunks)


def test_feed_kills_the_child_when_the_producer_fails() -> None:
    def broken():
        yield b"abc"
        raise RuntimeError("stream cut")

    with pytest.raises(RuntimeError, match="stream cut"):
        execute.feed(Command(("cat",)), broken())


def test_drain_to_streams_stdout_into_any_file_object() -> None:
    out = io.BytesIO()
    execute.drain_to(Command(("sh", "-c", "head -c 3000000 /dev/zero")), out, chunk_size=65536)
    assert out.getvalue() == b"\0" * 3000000
