"""Prometheus textfile: exposition format, and last success carried over a failed run."""

from __future__ import annotations

from pathlib import Path

from kubekeeper.report.prometheus import PartMetrics, previous_last_success, write_textfile


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_textfile_carries_last_success_over_failure(tmp_path: Path) -> None:
    path = tmp_path / "kubekeeper.prom"
    write_textfile(path, [PartMetrics("prod", "etcd", True, 1000.0, 2.5, 1234),
                          PartMetrics("prod", "registry", True, 1001.0, 9.0, 99)])
    write_textfile(path, [PartMetrics("prod", "etcd", True, 2000.0, 2.0, 10),
                          PartMetrics("prod", "registry", False, 2001.0, 1.0, 0)])
    values = samples(path.read_text())
    assert values['kubekeeper_backup_last_success_timestamp_seconds{cluster="prod",part="etcd"}'] == 2000.0
    assert values['kubekeeper_backup_last_success_timestamp_seconds{cluster="prod",part="registry"}'] == 1001.0
    assert values['kubekeeper_backup_success{cluster="prod",part="registry"}'] == 0
    assert values['kubekeeper_backup_bytes_added{cluster="prod",part="etcd"}'] == 10


def test_every_family_has_help_and_type(tmp_path: Path) -> None:
    path = tmp_path / "k.prom"
    write_textfile(path, [PartMetrics("c", "volume", True, 1.0, 1.0, 1)])
    text = path.read_text()
    names = {line.split("{")[0] for line in text.splitlines() if line and not line.startswith("#")}
    for name in names:
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text


def test_label_values_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "k.prom"
    write_textfile(path, [PartMetrics('we"ird', "etcd", True, 5.0, 1.0, 1)])
    assert 'cluster="we\\"ird"' in path.read_text()
    assert previous_last_success(path) == {'cluster="we\\"ird",part="etcd"': 5.0}


def test_missing_previous_file_is_empty(tmp_path: Path) -> None:
    assert previous_last_success(tmp_path / "none.prom") == {}
