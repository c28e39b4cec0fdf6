"""Bad input is one line on stderr and exit 2, at once: never a traceback, an internal error or a hang.

Each case runs the real CLI in a subprocess (`python -m kubekeeper`) with a time bound, as an operator
would, and checks the contract: exit 2, exactly one stderr line, naming what was wrong, and nothing
created in the cache. The inputs are the ones issue 11's fault campaign found (cluster.yaml that is
not UTF-8, deeply nested, with a 1 MB comment line or 60 MB long; malformed --registry URLs; an
empty --snapshot) and their siblings in other commands taking URLs, files and names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

#: far above a normal start (~0.3 s); the faults hung for > 10 s or recursed for 9 s
TIME_BOUND = 10.0
REPOSITORY = "{tmp}/no-repository"  # never reached: bad input is refused before the repository is opened
MINIMAL = "cluster: lab\nrepositories:\n  primary: {url: /srv/restic, password: {env: RESTIC_PASSWORD}}\n"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    names: str  # the error line must contain this (what was wrong)
    files: Callable[[Path], None] = lambda tmp: None


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        payload = data.encode() if isinstance(data, str) else data
        (tmp / name).write_bytes(payload)
    return make


def _big(tmp: Path) -> None:
    """60 MB of ordinary comment lines after a valid first line."""
    line = b"# " + b"y" * 97 + b"\n"
    with (tmp / "big.yaml").open("wb") as out:
        out.write(b"cluster: lab\n")
        block = line * 10_000
        for _ in range(60):
            out.write(block)


def _not_a_cert(tmp: Path) -> None:
    (tmp / "ca.pem").write_text("this is not a certificate\n")


LONG_URL = "http://" + "a" * 70_000
CONFIG = ("config", "check", "--config")
REGISTRY_BACKUP = ("backup", "registry", "--repo", REPOSITORY, "--no-progress", "--registry")

CASES = [
    # ---- cluster.yaml (issue 11, fault 7) and the files it refers to
    Case("config-not-utf8", (*CONFIG, "{tmp}/latin1.yaml"), "latin1.yaml:2: not UTF-8 text (byte 0xe9",
         _write("latin1.yaml", b"cluster: lab\n# caf\xe9\n")),
    Case("config-utf16", (*CONFIG, "{tmp}/utf16.yaml"), "UTF-16", _write("utf16.yaml", MINIMAL.encode("utf-16"))),
    Case("config-nested-flow", (*CONFIG, "{tmp}/deep.yaml"), "nested deeper than 32 levels",
         _write("deep.yaml", "cluster: " + "[\n" * 5000 + "]\n" * 5000)),
    Case("config-nested-block", (*CONFIG, "{tmp}/deep.yaml"), "deep.yaml:33: nested deeper than 32 levels",
         _write("deep.yaml", "cluster: lab\n" + "".join(" " * i + f"k{i}:\n" for i in range(1000)))),
    Case("config-1mb-comment-line", (*CONFIG, "{tmp}/comment.yaml"), "comment.yaml: larger than 1 MiB",
         _write("comment.yaml", MINIMAL + "#" + "x" * (1 << 20) + "\n")),
    Case("config-900kb-comment-line", (*CONFIG, "{tmp}/comment.yaml"), "comment.yaml:4: line is 900,001 characters long",
         _write("comment.yaml", MINIMAL + "#" + "x" * 900_000 + "\n")),
    Case("config-60mb", (*CONFIG, "{tmp}/big.yaml"), "big.yaml: larger than 1 MiB", _big),
    Case("config-dev-zero", (*CONFIG, "/dev/zero"), "/dev/zero: larger than 1 MiB"),
    Case("config-directory", (*CONFIG, "{tmp}"), "is a directory"),
    Case("config-registry-url", (*CONFIG, "{tmp}/c.yaml"), "c.yaml:5: registry.url: 'http://[::1'",
         _write("c.yaml", MINIMAL + "registry:\n  url: 'http://[::1'\n")),
    Case("config-etcd-endpoint", (*CONFIG, "{tmp}/c.yaml"), "c.yaml:5: etcd.endpoints: 'http://a b'",
         _write("c.yaml", MINIMAL + "etcd:\n  endpoints: ['http://a b']\n")),
    Case("config-secret-file-dev-zero", ("backup", "all", "--config", "{tmp}/c.yaml"), "secret file /dev/zero",
         _write("c.yaml", MINIMAL.replace("{env: RESTIC_PASSWORD}", "{file: /dev/zero}"))),
    # ---- registry URLs (fault 7) and their siblings
    Case("registry-no-host", (*REGISTRY_BACKUP, "http://"), "--registry 'http://': no host name"),
    Case("registry-space", (*REGISTRY_BACKUP, "http://a b"), "--registry 'http://a b': a URL cannot contain spaces"),
    Case("registry-port-range", (*REGISTRY_BACKUP, "http://127.0.0.1:99999"), "port must be a number from 1 to 65535"),
    Case("registry-ipv6-unclosed", (*REGISTRY_BACKUP, "http://[::1"), "--registry 'http://[::1': an IPv6 address"),
    Case("registry-over-long", (*REGISTRY_BACKUP, LONG_URL), "too long for a URL (at most 2,048 characters)"),
    Case("registry-credentials", (*REGISTRY_BACKUP, "http://user:s3cretpw@127.0.0.1:5000"), "--username/--password-stdin"),
    Case("registry-path", (*REGISTRY_BACKUP, "https://harbor.example/library/app"), "give the registry root, not a path"),
    Case("registry-cacert-not-pem", (*REGISTRY_BACKUP, "https://127.0.0.1:1", "--cacert", "{tmp}/ca.pem"),
         "holds no PEM certificate", _not_a_cert),
    Case("restore-registry-url", ("restore", "registry", "--repo", REPOSITORY, "--registry", "http://[::1"), "--registry 'http://[::1'"),
    Case("deploy-registry", ("deploy", "render", "--registry", "http://a b"), "--registry 'http://a b'"),
    Case("deploy-etcd-endpoints", ("deploy", "render", "--etcd-endpoints", "http://[::1"), "--etcd-endpoints 'http://[::1'"),
    Case("deploy-cluster", ("deploy", "render", "--cluster", "lab;reboot"), "--cluster 'lab;reboot'"),
    Case("etcd-endpoint-ipv6", ("etcd", "status", "--endpoints", "http://[::1"), "etcd endpoint 'http://[::1'"),
    Case("etcd-endpoint-space", ("etcd", "status", "--endpoints", "http://a b"), "etcd endpoint 'http://a b'"),
    Case("restore-etcd-initial-cluster", ("restore", "etcd", "--repo", REPOSITORY, "--name", "m1", "--data-dir", "{tmp}/d",
                                          "--initial-cluster", "m1=http://[::1"), "--initial-cluster entry 'm1'"),
    Case("tune-events-etcd", ("tune", "plan", "--nodes", "600", "--events-etcd-servers", "http://[::1"),
         "--events-etcd-servers 'http://[::1'"),
    Case("kubeconfig-not-utf8", ("backup", "volume", "--all-pvcs", "--repo", REPOSITORY, "--kubeconfig", "{tmp}/kc"),
         "kubeconfig {tmp}/kc is not a kubeconfig: 'utf-8' codec can't decode byte 0xff", _write("kc", b"apiVersion: v1\n# \xff\n")),
    Case("kubeconfig-nested", ("lint", "--cluster", "--kubeconfig", "{tmp}/kc"), "is not a kubeconfig: nested too deeply",
         _write("kc", "apiVersion: " + "[" * 5000 + "]" * 5000 + "\n")),
    # ---- --snapshot never empty (fault 7), on every command that takes it
    Case("restore-volume-empty-snapshot", ("restore", "volume", "--repo", REPOSITORY, "--pvc", "ns/data", "--target", "{tmp}/t",
                                           "--snapshot", ""), "--snapshot is empty"),
    Case("restore-etcd-empty-snapshot", ("restore", "etcd", "--repo", REPOSITORY, "--print-commands",
                                         "--initial-cluster", "m1=http://127.0.0.1:2380", "--snapshot", ""), "--snapshot is empty"),
    Case("restore-registry-empty-snapshot", ("restore", "registry", "--repo", REPOSITORY, "--registry", "http://127.0.0.1:1",
                                             "--snapshot", " "), "--snapshot is empty"),
    Case("verify-empty-snapshot", ("verify", "--repo", REPOSITORY, "--snapshot", ""), "--snapshot is empty"),
    Case("restore-volume-bad-snapshot", ("restore", "volume", "--repo", REPOSITORY, "--pvc", "ns/data", "--target", "{tmp}/t",
                                         "--snapshot", "lates"), "--snapshot 'lates': not a snapshot id"),
    # ---- cluster names become the tag cluster:<name>; restic splits tags on ','
    Case("backup-cluster-comma", ("backup", "etcd", "--repo", REPOSITORY, "--endpoints", "http://127.0.0.1:1",
                                  "--cluster", "prod,kind:registry"), "--cluster 'prod,kind:registry'"),
    Case("snapshots-cluster-space", ("snapshots", "--repo", REPOSITORY, "--cluster", "a b"), "--cluster 'a b'"),
    # ---- day-2 commands (issue 17): durations, snapshot ids, set ids, members, all before any repository
    Case("status-max-age", ("status", "--repo", REPOSITORY, "--max-age", "tomorrow"), "--max-age 'tomorrow': not a duration"),
    Case("ls-not-an-id", ("ls", "--repo", REPOSITORY, "nope!"), "SNAPSHOT 'nope!': not a snapshot id"),
    Case("snapshots-set-comma", ("snapshots", "--repo", REPOSITORY, "--set", "a,kind:etcd"), "--set 'a,kind:etcd'"),
    Case("diff-set-comma", ("diff", "--repo", REPOSITORY, "a,b", "c"), "SET_A 'a,b': not a backup set id"),
    Case("restore-all-set", ("restore", "all", "--set", "x y", "--config", "{tmp}/c.yaml"), "--set 'x y'", _write("c.yaml", MINIMAL)),
    Case("restore-all-member", ("restore", "all", "--set", "s1", "--config", "{tmp}/c.yaml", "--member", "m0"),
         "--member 'm0': expected NAME=DATA_DIR", _write("c.yaml", MINIMAL)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_at_once(case: Case, tmp_path: Path) -> None:
    case.files(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBEKEEPER_", "RESTIC_"))}
    env.update(RESTIC_PASSWORD="not-used", XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path / "home"))
    start = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", "kubekeeper", *args], capture_output=True, text=True,
                                env=env, stdin=subprocess.DEVNULL, timeout=TIME_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {TIME_BOUND} s: {' '.join(a[:60] for a in args)}")
    elapsed = time.monotonic() - start
    lines = result.stderr.splitlines()
    assert result.returncode == 2, f"exit {result.returncode} after {elapsed:.1f} s: {result.stderr[-500:]}"
    assert len(lines) == 1, result.stderr[-2000:]
    line = lines[0]
    assert line.startswith("kubekeeper: error: ") and "internal error" not in line
    assert case.names.replace("{tmp}", str(tmp_path)) in line, line
    assert len(line) < 500  # quotes at most an excerpt of what was given (the over-long URL is 70 KB)
    assert "s3cretpw" not in line  # a password in a URL is never echoed
    assert not (tmp_path / "cache").exists()  # nothing created where the user did not ask
