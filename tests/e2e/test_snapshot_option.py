"""`--snapshot ''` is refused, on a real restic repository that holds a snapshot it could restore.

An empty id is a prefix of every snapshot id: `restore volume --snapshot ''` used to restore the
newest snapshot as if 'latest' had been asked for. Real restic 0.18, real files.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_empty_snapshot_restores_nothing(cli, restic_repo, tmp_path):
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "data.txt").write_text("the only copy\n")
    stored = cli("backup", "volume", *restic_repo.cli_args, "--pvc", "db/data", "--source-dir", str(volume))
    assert stored.code == 0, stored.err
    target = tmp_path / "target"

    refused = cli("restore", "volume", *restic_repo.cli_args, "--pvc", "db/data", "--target", str(target), "--snapshot", "")

    assert refused.code == 2, refused.out + refused.err
    assert refused.err.strip().splitlines() == ["kubekeeper: error: --snapshot is empty: give a snapshot id "
                                                "(see `kubekeeper snapshots`) or 'latest'"]
    assert not target.exists()  # nothing restored, nothing created

    latest = cli("restore", "volume", *restic_repo.cli_args, "--pvc", "db/data", "--target", str(target))
    assert latest.code == 0, latest.err  # the same command without the empty value does restore
    assert (target / "data.txt").read_text() == "the only copy\n"
