"""etcd check-disk (small size, real fdatasync) and prioritize's pure parts (tc match keys, ionice)."""

from __future__ import annotations

import json

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.etcd.diskcheck import check_disk, percentile
from kubekeeper.etcd.priority import _match_key, filter_argv, find_filter, ionice_argv


def test_check_disk_measures_and_cleans_up(tmp_path) -> None:
    result = check_disk(tmp_path, 2300, 230_000)
    assert result.writes == 100
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms
    assert result.iops > 0
    assert list(tmp_path.iterdir()) == []


def test_check_disk_bad_dir(tmp_path) -> None:
    with pytest.raises(BadInput):
        check_disk(tmp_path / "missing")


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.99) == 99.0 and percentile(values, 0.5) == 50.0


def test_cli_check_disk_json(cli, tmp_path) -> None:
    result = cli("etcd", "check-disk", "--dir", str(tmp_path), "--total-bytes", "23000", "--format", "json")
    body = json.loads(result.out)
    assert body["writes"] == 10 and result.code == (0 if body["passed"] else 1)


def test_u32_match_keys_as_tc_prints_them() -> None:
    assert _match_key("sport", 2380) == ("094c0000", "ffff0000")
    assert _match_key("dport", 2379) == ("0000094b", "0000ffff")
    installed = [{"pref": 1, "options": {"fh": "800::800", "flowid": "1:1",
                                         "match": {"value": "94c0000", "mask": "ffff0000", "off": 20}}}]
    assert find_filter(installed, 1, "sport", 2380) == "800::800"
    assert find_filter(installed, 1, "dport", 2380) is None
    assert filter_argv("eth0", 1, "sport", 2380)[-6:] == ("ip", "sport", "2380", "0xffff", "flowid", "1:1")


def test_ionice_restore_commands() -> None:
    assert ionice_argv(7, "none: prio 4") == ("ionice", "-c", "0", "-p", "7")
    assert ionice_argv(7, "best-effort: prio 6") == ("ionice", "-c", "2", "-n", "6", "-p", "7")
    assert ionice_argv(7, "idle") == ("ionice", "-c", "3", "-p", "7")
