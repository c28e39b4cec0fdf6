"""`kubekeeper demo` runs its whole cycle on real sandbox components and cleans up after itself."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_backs_up_destroys_restores_and_verifies_everything(tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("kubekeeper-demo-*"))
    proc = subprocess.run(
        [sys.executable, "-m", "kubekeeper", "demo"], capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS": "120", "HOME": str(tmp_path)}, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "every part verified: every byte came back" in out
    for part in ("etcd", "registry", "volume", "repository"):
        assert f"ok     {part}" in out, part
    assert "Tuning plan: 3000 nodes" in out
    assert set(Path(tempfile.gettempdir()).glob("kubekeeper-demo-*")) == before  # sandbox removed
