"""`deploy run`: the command's exit code is kept and its outcome pushed to a Pushgateway.

No Pushgateway is installed here (Debian's prometheus-pushgateway is not part of the setup), so a
small HTTP server STANDS IN FOR IT: it records method, path and body; the body is checked with the
Prometheus text format's own rules (HELP/TYPE lines, one sample per gauge)."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubekeeper.deploy.run import grouping_path, metrics_text


@pytest.fixture
def gateway():
    received: list[tuple[str, str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _store(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            received.append((self.command, self.path, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST = _store  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def samples(body: str) -> dict[str, float]:
    lines = [line for line in body.splitlines() if line and not line.startswith("#")]
    return {line.split()[0]: float(line.split()[1]) for line in lines}


def test_success_replaces_the_group(gateway, cli) -> None:
    url, received = gateway
    result = cli("deploy", "run", "--pushgateway", url, "--part", "etcd", "--cluster", "prod/east", "--", "--version")
    assert result.code == 0
    (method, path, body), = received
    assert method == "PUT" and path == grouping_path("prod/east", "etcd", None)
    assert base64.urlsafe_b64decode(path.split("/cluster@base64/")[1].split("/")[0] + "==").decode() == "prod/east"
    got = samples(body)
    assert got["kubekeeper_job_success"] == 1 and got["kubekeeper_job_exit_code"] == 0
    assert got["kubekeeper_job_last_success_timestamp_seconds"] == got["kubekeeper_job_last_run_timestamp_seconds"]


def test_failure_keeps_the_exit_code_and_the_last_success(gateway, cli, monkeypatch) -> None:
    url, received = gateway
    monkeypatch.setenv("NODE_NAME", "worker-1")
    result = cli("deploy", "run", "--pushgateway", url, "--part", "volume", "--", "backup", "volume")
    assert result.code == 2  # the inner command's bad-usage code, unchanged
    (method, path, body), = received
    assert method == "POST" and path.endswith("/node@base64/" + base64.urlsafe_b64encode(b"worker-1").decode().rstrip("="))
    got = samples(body)
    assert got["kubekeeper_job_success"] == 0 and got["kubekeeper_job_exit_code"] == 2
    assert "kubekeeper_job_last_success_timestamp_seconds" not in got


def test_unreachable_gateway_does_not_change_the_outcome(cli) -> None:
    result = cli("deploy", "run", "--pushgateway", "http://127.0.0.1:9", "--part", "etcd", "--", "--version")
    assert result.code == 0


def test_metrics_text_is_well_formed() -> None:
    text = metrics_text(3, 100.0, 160.5)
    for block in ("\n" + text.strip()).split("\n# HELP ")[1:]:
        help_line, type_line, sample = block.splitlines()
        assert type_line.startswith("# TYPE kubekeeper_job_") and type_line.endswith(" gauge")
        assert sample.split()[0] == type_line.split()[2]
    assert samples(text)["kubekeeper_job_duration_seconds"] == 60.5
