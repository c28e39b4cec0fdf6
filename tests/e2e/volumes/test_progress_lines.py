"""Progress without a terminal (a CronJob's log): a 300 MB volume backup through real restic, stderr
to a file, shows periodic `kubekeeper: progress:` lines whose byte counts grow, with a rate.

The interval is shortened with KUBEKEEPER_PROGRESS_INTERVAL so the test stays short; the default
(10 s, the issue's upper bound) is checked in tests/unit/report/test_progress.py. The data is
incompressible (os.urandom): restic deduplicates zeros, which would make the backup instant."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

SIZE = 300 << 20
LINE = re.compile(r"^kubekeeper: progress: storing volume (?P<pvc>\S+): (?P<done>[\d.]+) (?P<unit>B|KiB|MiB|GiB)\b.*?, "
                  r"(?P<rate>[\d.]+ (?:B|KiB|MiB|GiB))/s.*elapsed (?P<elapsed>\d+:\d\d:\d\d)", re.M)
FACTOR = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def test_a_300mb_volume_backup_logs_progress_lines(restic_repo, tmp_path):
    volume = tmp_path / "volume"
    volume.mkdir()
    chunk = 16 << 20
    for i in range(SIZE // chunk + 1):  # ~304 MiB in 19 files: several files, as a PVC has
        (volume / f"part{i:02d}.bin").write_bytes(os.urandom(chunk if i < SIZE // chunk else SIZE % chunk or 1))
    log = tmp_path / "stderr.log"
    env = {**os.environ, "KUBEKEEPER_PROGRESS_INTERVAL": "0.5", "COLUMNS": "200"}
    with log.open("wb") as err:
        done = subprocess.run([sys.executable, "-m", "kubekeeper", "backup", "volume", *restic_repo.cli_args, "--pvc", "db/data",
                               "--source-dir", str(volume)], stdout=subprocess.PIPE, stderr=err, env=env, timeout=300)
    text = log.read_text()
    assert done.returncode == 0, text
    lines = [m for m in LINE.finditer(text) if m.group("pvc") == "db/data"]
    assert len(lines) >= 3, f"expected periodic progress lines, got:\n{text}"
    counts = [float(m.group("done")) * FACTOR[m.group("unit")] for m in lines]
    assert counts == sorted(counts) and counts[0] < counts[-1], counts  # growing, not a repeated line
    assert counts[-1] >= SIZE * 0.99, counts  # the closing line has it all
    assert any(line.startswith("kubekeeper: progress: storing volume db/data:") and line.endswith("(done)") for line in text.splitlines())
    assert "\x1b[" not in text  # no terminal escape debris in a log

    # the verbosity flags after the subcommand (restic/kubectl habit), against the same real repository
    listed = subprocess.run([sys.executable, "-m", "kubekeeper", "snapshots", "-v", *restic_repo.cli_args, "--format", "json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert len([s for s in json.loads(listed.stdout) if s["kind"] == "volume"]) >= 1
    quiet = subprocess.run([sys.executable, "-m", "kubekeeper", "backup", "volume", *restic_repo.cli_args, "--pvc", "db/data",
                            "--source-dir", str(volume), "-q"], capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0 and "progress:" not in quiet.stderr, quiet.stderr
