"""`snapshots --kind etcd-delta` lists the etcd follower's deltas (a kind that is listed but is not a
data source of its own); `repo forget --kind etcd-delta` is refused, since deltas go with their full
snapshot. Real restic; the delta is stored with the follower's tags by plain `restic backup --stdin`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def _store(restic_repo, tags: str) -> None:
    env = {**os.environ, "RESTIC_REPOSITORY": restic_repo.spec.url, "RESTIC_PASSWORD_FILE": str(restic_repo.password_file)}
    subprocess.run(["restic", "backup", "-q", "--stdin", "--stdin-filename", "x", "--tag", tags], input=b"{}\n",
                   env=env, check=True, timeout=120)


def _kubekeeper(restic_repo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubekeeper", *args, *restic_repo.cli_args], capture_output=True,
                          text=True, timeout=120)


def test_snapshots_lists_deltas_by_kind_and_forget_refuses_them(restic_repo) -> None:
    _store(restic_repo, "kubekeeper,kind:etcd-delta,cluster:prod,chain=1a2b3c4d,from=101,to=180,events=80,lag=0.5")
    _store(restic_repo, "kubekeeper,kind:etcd,cluster:prod,revision=100")
    listed = _kubekeeper(restic_repo, "snapshots", "--kind", "etcd-delta", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [s["kind"] for s in json.loads(listed.stdout)] == ["etcd-delta"]
    full = _kubekeeper(restic_repo, "snapshots", "--kind", "etcd", "--format", "json")
    assert [s["kind"] for s in json.loads(full.stdout)] == ["etcd"]
    forget = _kubekeeper(restic_repo, "repo", "forget", "--kind", "etcd-delta", "--keep-last", "1")
    assert forget.returncode == 2 and "etcd-delta" in forget.stderr and "Traceback" not in forget.stderr
