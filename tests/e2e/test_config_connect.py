"""`config check --connect` against real components on 127.0.0.1: a one-member etcd, a
docker-registry and a restic repository. A configuration that names them all passes; one whose
entries are broken in seven different ways gets seven one-line problems, each at the file:line of
its key in cluster.yaml."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.registry.sandbox import start_registry

pytestmark = pytest.mark.e2e


@pytest.fixture
def components(etcd_cluster_factory, restic_repo, tmp_path):
    registry = start_registry(tmp_path / "registry")
    yield etcd_cluster_factory(1).endpoints[0], registry.url, restic_repo
    registry.stop()


def good_config(etcd: str, registry: str, repo, tmp_path) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return f"""cluster: lab
etcd:
  enabled: true
  endpoints: ["{etcd}"]
registry:
  enabled: true
  url: "{registry}"
  cache: {tmp_path / "cache"}
volumes:
  enabled: true
  directories:
    - {{pvc: db/data, path: {data}}}
repositories:
  primary: {{url: "{repo.spec.url}", password: {{file: {repo.password_file}}}}}
  copies:
    - {{url: "{repo.spec.url}", password_command: "cat {repo.password_file}"}}
reports:
  directory: {tmp_path / "reports"}
"""


def test_a_config_whose_parts_all_answer_passes(cli, components, tmp_path, monkeypatch):
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    etcd, registry, repo = components
    config = tmp_path / "cluster.yaml"
    config.write_text(good_config(etcd, registry, repo, tmp_path))
    result = cli("config", "check", "--config", str(config), "--connect", "--format", "json")
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["problems"] == []
    assert not (tmp_path / "cache").exists() and not (tmp_path / "reports").exists()  # nothing created


def test_each_broken_entry_is_one_line_at_its_key(cli, components, tmp_path, monkeypatch):
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    monkeypatch.delenv("KK_TEST_UNSET_PASSWORD", raising=False)
    etcd, registry, repo = components
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not the password\n")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    config = tmp_path / "cluster.yaml"
    config.write_text(f"""cluster: lab
etcd:
  enabled: true
  endpoints: ["{etcd}", "http://127.0.0.1:{free_port()}"]
registry:
  enabled: true
  url: "http://127.0.0.1:{free_port()}"
volumes:
  enabled: true
  directories:
    - {{pvc: db/data, path: {tmp_path / "no-such-dir"}}}
repositories:
  primary: {{url: "{repo.spec.url}", password: {{file: {wrong}}}}}
  copies:
    - {{url: "{tmp_path / 'no-repo'}", password: {{env: KK_TEST_UNSET_PASSWORD}}}}
    - {{url: "{repo.spec.url}", password_command: "false"}}
reports:
  directory: {a_file / "reports"}
""")
    result = cli("config", "check", "--config", str(config), "--connect", "--timeout", "2")
    assert result.code == 1, result.out + result.err
    lines = [line for line in result.out.splitlines() if re.match(rf"{re.escape(str(config))}:\d+: ", line)]
    found = {(int(m[1]), m[2]) for line in lines if (m := re.match(rf"{re.escape(str(config))}:(\d+): (\S+): ", line))}
    assert found == {
        (4, "etcd.endpoints[1]"),
        (7, "registry.url"),
        (11, "volumes.directories[0].path"),
        (13, "repositories.primary.url"),
        (15, "repositories.copies[0].password"),
        (16, "repositories.copies[1].password_command"),
        (18, "reports.directory"),
    }, result.out
    assert len(lines) == 7
    by_option = {line.split(": ", 2)[1]: line for line in lines}
    assert "password" in by_option["repositories.primary.url"].lower()  # restic: wrong password, not "missing"
    assert "KK_TEST_UNSET_PASSWORD" in by_option["repositories.copies[0].password"]
    assert "not the password" not in result.out + result.err
