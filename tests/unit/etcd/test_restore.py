"""Restore planning: --initial-cluster parsing, argv per tool, data-dir safety, printed commands."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput, CommandNotFound
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
    flags = dict(zip(argv[4::2], argv[5::2], strict=True))
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


def test_restore_argv_bumps_revision_only_when_asked(tmp_path):
    member = restore.MemberRestore.build("m0", CLUSTER, tmp_path / "d")
    tool = restore.RestoreTool("/bin/etcdutl", "etcdutl")
    assert "--bump-revision" not in restore.restore_argv(tool, tmp_path / "s.db", member, tmp_path / "stage")
    argv = restore.restore_argv(tool, tmp_path / "s.db", member, tmp_path / "stage", bump=1_000_000_000)
    assert argv[-3:] == ("--bump-revision", "1000000000", "--mark-compacted")


def test_member_commands_pin_the_bump_and_never_print_credentials():
    members = restore.parse_initial_cluster(CLUSTER)
    commands = restore.member_commands("abcdef12", members, "/var/lib/etcd", "tok", "rest:https://***@nas/r", "prod", bump=500)
    assert all("--bump-revision 500" in c and "--repo" not in c and "***" not in c for _, c in commands)


def fake_tool(directory, name: str, version: str):
    """An executable answering `<name> version` like etcdutl/etcdctl do (ETCDCTL_API=3 for etcdctl)."""
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n[ \"$1\" = version ] && echo '{name} version: {version}' && echo 'API version: {version[:3]}'\n")
    path.chmod(0o755)
    return path


def test_tool_choice_by_version(tmp_path, monkeypatch):
    """A 3.5+ snapshot is restored with etcdutl, a 3.4 one with etcdctl of that minor version (both found
    on PATH); a missing or wrong tool is named, and --etcdutl overrides the choice."""
    assert restore._minor("3.4.23") == (3, 4) and restore._minor("") == (0, 0)
    both = tmp_path / "both"
    fake_tool(both, "etcdutl", "3.5.16")
    fake_tool(both, "etcdctl", "3.4.23")
    monkeypatch.setenv("PATH", str(both))
    new = restore.find_tool("3.5.16")
    assert (new.kind, new.path, new.version, new.env) == ("etcdutl", str(both / "etcdutl"), "3.5.16", ())
    assert restore.find_tool("").kind == "etcdutl"  # a snapshot without a recorded version: the current tool
    old = restore.find_tool("3.4.23")
    assert (old.kind, old.path, old.version, old.env) == ("etcdctl", str(both / "etcdctl"), "3.4.23", (("ETCDCTL_API", "3"),))

    newer_only = tmp_path / "newer-only"
    fake_tool(newer_only, "etcdctl", "3.5.16")
    monkeypatch.setenv("PATH", str(newer_only))
    with pytest.raises(CommandNotFound, match=r"etcdctl 3\.4 not found .*found etcdctl 3\.5\.16"):
        restore.find_tool("3.4.23")
    with pytest.raises(CommandNotFound, match="etcdutl"):
        restore.find_tool("3.5.16")

    tool = restore.find_tool("3.5.1", override=restore.Path("/usr/bin/etcdctl"))
    assert tool.kind == "etcdctl" and ("ETCDCTL_API", "3") in tool.env and tool.version.startswith("3.5")
    with pytest.raises(BadInput, match="not an executable"):
        restore.find_tool("3.5.1", override=tmp_path / "etcdutl")


def test_etcdutl_from_path_can_bump(monkeypatch):
    """Debian's etcdutl (etcd-server 3.5.16) is found on PATH and has --bump-revision (asked, not assumed)."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    tool = restore.find_tool("3.5.16")
    assert tool.path == "/usr/bin/etcdutl" and tool.version.startswith("3.5.")
    assert restore.supports_bump(tool) and restore.effective_bump(tool, 7) == 7


def test_a_tool_without_bump_restores_unbumped_with_a_warning(tmp_path, caplog):
    old = tmp_path / "etcdctl"
    old.write_text("#!/bin/sh\necho 'Usage: etcdctl snapshot restore <file> [--data-dir]'\n")
    old.chmod(0o755)
    tool = restore.RestoreTool(str(old), "etcdctl", version="3.4.23")
    assert restore.effective_bump(tool, restore.DEFAULT_BUMP) == 0
    assert "NOT moved ahead" in caplog.text
