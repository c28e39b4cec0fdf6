"""A backup killed with SIGKILL midway resumes: finished blobs are not fetched again, the blob that was
in flight continues with a Range request, and nothing partial ever sits in the layout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.registry.sandbox import Filler, ThrottleProxy, blob_digests_requested, digest_of

pytestmark = pytest.mark.e2e
KUBEKEEPER = [sys.executable, "-m", "kubekeeper"]


def _layer_blobs(cache: Path, size: int) -> set[str]:
    blobs = cache / "layout" / "blobs" / "sha256"
    return {"sha256:" + p.name for p in blobs.iterdir() if p.stat().st_size == size} if blobs.is_dir() else set()


def test_killed_backup_resumes_without_refetching(registry_factory, registry_restic_repo, tmp_path):
    registry = registry_factory("source", "htpasswd")
    size = 256 * 1024
    filler = Filler(registry)
    layers = [os.urandom(size) for _ in range(6)]
    filler.image("big/app", "v1", layers[:3], oci=True)
    filler.image("big/app", "v2", layers[3:], oci=True)
    proxy = ThrottleProxy(registry.port, rate=600 * 1024)
    cache = tmp_path / "cache"
    env = {**os.environ, "KUBEKEEPER_REGISTRY_USERNAME": registry.username}
    args = ["backup", "registry", "--repo", registry_restic_repo, "--cache", str(cache), "--concurrency", "1",
            "--no-progress", "--format", "json", "--username", registry.username, "--password-stdin"]
    process = subprocess.Popen([*KUBEKEEPER, *args, "--registry", proxy.url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    process.stdin.write(registry.password.encode() + b"\n")
    process.stdin.close()
    deadline = time.monotonic() + 60
    ingest = cache / "ingest"
    while time.monotonic() < deadline:  # kill once >= 2 layers are complete and another is half-way
        partials = [p for p in ingest.glob("*.partial") if p.stat().st_size > 0] if ingest.is_dir() else []
        if len(_layer_blobs(cache, size)) >= 2 and partials:
            break
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    proxy.stop()
    finished = _layer_blobs(cache, size)
    assert 2 <= len(finished) < 6
    for path in (cache / "layout" / "blobs" / "sha256").iterdir():  # nothing partial entered the layout
        assert digest_of(path.read_bytes()) == "sha256:" + path.name
    resumable = sum(p.stat().st_size for p in ingest.glob("*.partial"))
    assert resumable > 0
    offset = len(registry.log_text())

    rerun = subprocess.run([*KUBEKEEPER, *args, "--registry", registry.url], input=registry.password.encode(),
                           capture_output=True, env=env, timeout=120)
    assert rerun.returncode == 0, rerun.stderr.decode()
    report = json.loads(rerun.stdout)
    refetched = blob_digests_requested(registry.log_text()[offset:])
    assert not refetched & finished  # finished blobs were not fetched again
    assert report["details"]["blobs_fetched"] == len(refetched)
    assert _layer_blobs(cache, size) == {digest_of(layer) for layer in layers}
    # the in-flight blob resumed with Range: the re-run moved fewer bytes than its blobs' full size
    blobs = cache / "layout" / "blobs" / "sha256"
    full = sum((blobs / d.split(":")[1]).stat().st_size for d in refetched)
    assert report["details"]["bytes_fetched"] == full - resumable
    assert not list(ingest.glob("*.partial"))
