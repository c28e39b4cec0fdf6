"""The one subprocess runner: secrets masked, failures typed, streams that never look complete when cut."""

from __future__ import annotations

import io
import os
import time

import pytest

from kubekeeper import execute
from kubekeeper.errors import CommandFailed, CommandNotFound, CommandStalled
from kubekeeper.execute import Command


def test_describe_masks_secret_env_and_values() -> None:
    command = Command(("tool", "--url", "rest:https://u:hunter2@h/"), env={"RESTIC_PASSWORD": "s3cret", "RESTIC_REPOSITORY": "/r"},
                      secrets=("hunter2",))
    text = execute.describe(command)
    assert "s3cret" not in text and "hunter2" not in text
    assert "tool --url rest:https://***@h/" in text


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


def test_describe_masks_url_credentials_in_non_secret_variables_and_argv() -> None:
    """A password inside a URL is masked wherever the URL appears: in a variable whose name says
    nothing about secrets, and on the command line (whose rest stays readable for the operator)."""
    url = "rest:https://user:s3cr3tpw@host/repo"
    command = Command(("restic", "-r", url, "snapshots"), env={"RESTIC_REPOSITORY": url, "KUBEKEEPER_NOTE": f"copy of {url}"})
    text = execute.describe(command)
    assert "s3cr3tpw" not in text and "user:" not in text
    assert "restic -r rest:https://***@host/repo snapshots" in text


def test_children_die_with_kubekeeper(tmp_path) -> None:
    """A parent killed with SIGKILL takes its children along (no orphaned restic committing a stream)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pidfile = tmp_path / "child.pid"
    script = (
        "import sys; from kubekeeper import execute; from kubekeeper.execute import Command;"
        f"p = execute.popen(Command(('sh', '-c', 'echo $$ > {pidfile}; exec sleep 60')));"
        "import time; time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child outlived its killed parent")


def test_a_child_without_progress_is_stopped_and_named(monkeypatch) -> None:
    """A hung peer looks like this from outside: the child sleeps, prints status now and then."""
    monkeypatch.setattr(execute, "WATCH_INTERVAL", 0.1)
    command = Command(("sh", "-c", "while true; do echo status; sleep 0.2; done"), stall_timeout=1.5, stall_subject="rest:http://h/r")
    started = time.monotonic()
    with pytest.raises(CommandStalled) as info:
        execute.run(command)
    assert 1.4 < time.monotonic() - started < 10
    assert "(rest:http://h/r) made no progress for" in info.value.message and "\n" not in info.value.message


def test_a_child_moving_data_is_not_a_stall(monkeypatch) -> None:
    monkeypatch.setattr(execute, "WATCH_INTERVAL", 0.1)
    # 3 s of steady I/O (1 MiB every 0.2 s into /dev/null) against a 1 s stall timeout
    script = "for i in $(seq 15); do head -c 1048576 /dev/zero > /dev/null; sleep 0.2; done"
    result = execute.run(Command(("sh", "-c", script), stall_timeout=1.0))
    assert result.returncode == 0


def test_activity_reads_proc() -> None:
    now = execute.activity(os.getpid())
    assert now is not None and now.io_bytes > 0 and now.cpu_seconds > 0
