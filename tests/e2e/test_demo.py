"""`kubekeeper demo` runs its whole cycle on real sandbox components and cleans up after itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_backs_up_destroys_restores_and_verifies_everything(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"  # the demo's own TMPDIR: another demo running beside it cannot confuse the check
    scratch.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "kubekeeper", "demo"], capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS": "120", "HOME": str(tmp_path), "TMPDIR": str(scratch)},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "every part verified: every byte came back" in out
    for part in ("etcd", "registry", "volume", "repository"):
        assert f"ok     {part}" in out, part
    assert "Tuning plan: 3000 nodes" in out
    assert list(scratch.iterdir()) == []  # sandbox removed, nothing left behind
