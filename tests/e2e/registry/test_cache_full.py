"""`backup registry --cache DIR` when DIR's filesystem fills up, on a real small filesystem.

The cache is a 1 MiB tmpfs mounted in a private mount namespace (`unshare --mount`) that only the
kubekeeper process under test sees: the real kernel returns ENOSPC, and the mount disappears with the
process whatever happens to the test. Before the namespace ends, the cache is copied out so the test
can check what the error message says was kept. Real docker-registry, real restic.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import require
from tests.e2e.registry.sandbox import Filler, digest_of

pytestmark = pytest.mark.e2e
KUBEKEEPER = [sys.executable, "-m", "kubekeeper"]
#: run "$@" with a tmpfs of size $1 at $2, then copy that cache to $3 (still inside the namespace)
IN_SMALL_FS = 'set -e; mount -t tmpfs -o size="$1" kubekeeper-test "$2"; kept="$3"; shift 3; set +e; "$@"; rc=$?; ' \
              'cp -a "$KUBEKEEPER_TEST_CACHE" "$kept"; exit $rc'


def _namespace_prefix() -> list[str]:
    """`unshare` argv giving the child a private mount namespace in which it may mount a tmpfs."""
    unshare = shutil.which("unshare")
    candidates = [[unshare, "--mount", "--propagation", "private"]] if os.geteuid() == 0 else []
    candidates.append([unshare, "--user", "--map-root-user", "--mount", "--propagation", "private"])
    for prefix in candidates if unshare else []:
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    require(False, "a tmpfs mount in a private mount namespace (unshare --mount)")
    raise AssertionError("unreachable")


def _snapshots(repo: str) -> list:
    out = subprocess.run(["restic", "--repo", repo, "snapshots", "--json", "--no-lock"], capture_output=True, check=True)
    return json.loads(out.stdout)


def test_full_cache_is_exit_3_naming_the_path_and_what_was_kept(registry_factory, registry_restic_repo, tmp_path):
    prefix = _namespace_prefix()
    registry = registry_factory("source")
    layers = [os.urandom(300 * 1024) for _ in range(6)]  # 1.8 MB of layers for a 1 MiB cache
    filler = Filler(registry)
    manifests = {filler.image("big/app", tag, part, oci=True)["digest"] for tag, part in (("v1", layers[:3]), ("v2", layers[3:]))}
    blob_count = len(layers) + 2  # the layers and two image configs
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    cache = mount_point / "cache"
    kept = tmp_path / "kept"

    def args(cache_dir: Path) -> list[str]:
        return ["backup", "registry", "--registry", registry.url, "--repo", registry_restic_repo, "--cache", str(cache_dir),
                "--concurrency", "1", "--no-progress", "--format", "json"]

    env = {**os.environ, "KUBEKEEPER_TEST_CACHE": str(cache)}
    env.pop("KUBEKEEPER_DEBUG", None)

    full = subprocess.run([*prefix, "sh", "-c", IN_SMALL_FS, "sh", "1m", str(mount_point), str(kept), *KUBEKEEPER, *args(cache)],
                          capture_output=True, text=True, env=env, timeout=120)

    assert full.returncode == 3, full.stderr
    lines = full.stderr.splitlines()
    assert len(lines) == 1, full.stderr
    line = lines[0]
    assert "internal error" not in line and "Traceback" not in full.stderr
    assert str(cache) in line and "No space left on device" in line
    assert full.stdout == ""  # no report: nothing looks like a good backup
    assert _snapshots(registry_restic_repo) == []  # nothing was stored

    # what the message says was kept is what the cache holds: only complete, verified blobs
    blobs = kept / "layout" / "blobs" / "sha256"
    stored = {"sha256:" + p.name: p for p in blobs.iterdir()}
    for digest, path in stored.items():
        assert "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() == digest
    complete_layers = {digest_of(layer) for layer in layers} & set(stored)
    assert 1 <= len(complete_layers) < len(layers)
    assert f"kept {len(stored)} complete blobs" in line
    assert "partial" in line  # says that partial downloads are not blobs (they resume next run)

    # the next run on a disk with room reuses every kept blob and fetches only the rest
    rerun = subprocess.run([*KUBEKEEPER, *args(kept)], capture_output=True, text=True, env=env, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["details"]["blobs_fetched"] == blob_count - len(set(stored) - manifests)
    assert len(_snapshots(registry_restic_repo)) == 1
