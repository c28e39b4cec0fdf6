"""Restore planning: --initial-cluster parsing, argv per tool, data-dir safety, printed commands."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.etcd import restore

CLUSTER = "m0=http://10.0.0.1:2380,m1=http://10.0.0.2:2380,m2=http://10.0.0.3:2380"


def test_parse_initial_cluster():
    members = restore.parse_initial_cluster(CLUSTER)
    assert [m.name for m in members] == ["m0", "m1", "m2"]
    for bad in ("", "m0", "m0=10.0.0.1:2380", "=http://x:1"):
        with pytest.raises(BadInput):
            restore.parse_initial_cluster(bad)


def test_member_defaults_peer_url_and_checks_it(tmp_path):
    member = restore.MemberRestore.build("m1", CLUSTER, tmp_path / "d")
    assert member.peer_urls == "http://10.0.0.2:2380" and member.token == restore.DEFAULT_TOKEN
    with pytest.raises(BadInput, match="not in --initial-cluster"):
        restore.MemberRestore.build("x", CLUSTER, tmp_path / "d")
    with pytest.raises(BadInput, match="does not match"):
        restore.MemberRestore.build("m1", CLUSTER, tmp_path / "d", peer_urls="http://10.0.0.9:2380")


@pytest.mark.parametrize("kind", ["etcdutl", "etcdctl"])
def test_restore_argv_same_flags_for_both_tools(tmp_path, kind):
    member = restore.MemberRestore.build("m0", CLUSTER, tmp_path / "d", token="tok")
    argv = restore.restore_argv(restore.RestoreTool(f"/bin/{kind}", kind), tmp_path / "s.db", member, tmp_path / "stage")
    assert argv[:4] == (f"/bin/{kind}", "snapshot", "restore", str(tmp_path / "s.db"))
    flags = dict(zip(argv[4::2], argv[5::2]))
    assert flags == {
        "--name": "m0", "--initial-cluster": CLUSTER, "--initial-cluster-token": "tok",
        "--initial-advertise-peer-urls": "http://10.0.0.1:2380", "--data-dir": str(tmp_path / "stage"),
    }


def test_non_empty_data_dir_is_refused_then_moved_never_deleted(tmp_path):
    data = tmp_path / "etcd"
    assert restore.prepare_data_dir(data, force=False) is None
    data.mkdir()
    assert restore.prepare_data_dir(data, force=False) is None  # empty is fine
    (data / "member").mkdir()
    (data / "member" / "keep").write_text("precious")
    with pytest.raises(BadInput, match="--force"):
        restore.prepare_data_dir(data, force=False)
    moved = restore.prepare_data_dir(data, force=True)
    assert moved is not None and (moved / "member" / "keep").read_text() == "precious" and not data.exists()


def test_member_commands_pin_one_snapshot():
    members = restore.parse_initial_cluster(CLUSTER)
    commands = restore.member_commands("abcdef12", members, "/var/lib/etcd", "tok", "/srv/repo", "prod")
    assert [name for name, _ in commands] == ["m0", "m1", "m2"]
    assert all("--snapshot abcdef12" in c and "latest" not in c for _, c in commands)
    assert "--initial-advertise-peer-urls http://10.0.0.3:2380" in commands[2][1]


def test_tool_choice_by_version():
    assert restore._minor("3.4.23") == (3, 4) and restore._minor("") == (0, 0)
    tool = restore.find_tool("3.5.1", override=restore.Path("/opt/etcdctl"))
    assert tool.kind == "etcdctl" and ("ETCDCTL_API", "3") in tool.env
