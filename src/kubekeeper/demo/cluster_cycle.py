"""The demo's main act: a whole cluster's data backed up with `backup all`, destroyed, restored and
verified, on a sandbox that needs nothing but this machine.

Sandbox: a 3-member etcd (Debian's etcd 3.5 on PATH), a docker-registry with sample images and a Helm chart,
a directory tree standing in for a node's volumes, and local restic repositories (a primary and a
copy). Every process is started on 127.0.0.1 with a port the OS hands out and stopped by its pid,
including on Ctrl-C.
"""

from __future__ import annotations

import filecmp
import os
import secrets
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

from rich.table import Table

from kubekeeper.backup.backup_set import SetReport, run_backup_set
from kubekeeper.backup.parts import parts_from_config
from kubekeeper.backup.sources import etcd as etcd_source
from kubekeeper.backup.sources import registry as registry_source
from kubekeeper.backup.sources import volume as volume_source
from kubekeeper.backup.verify import VerifyOptions, VerifyReport, verify
from kubekeeper.config import parse_config
from kubekeeper.demo.sandbox import SandboxEtcdCluster, digests, fill_samples, sandbox_registry
from kubekeeper.errors import OperationFailed, VerificationFailed
from kubekeeper.etcd.restore import MemberRestore
from kubekeeper.progress import SILENT
from kubekeeper.registry.client import RegistryOptions
from kubekeeper.report.console import stdout
from kubekeeper.report.run_report import show_set
from kubekeeper.repository import Repository, RepoSpec, Retention
from kubekeeper.volumes.model import PvcRef

CLUSTER = "demo"
VOLUME_PVC = "shop/orders-db"


def make_volume_tree(root: Path) -> Path:
    """A stand-in for a PVC's files: many small files, a larger one, a symlink, private modes."""
    root.mkdir(parents=True)
    for i in range(200):
        sub = root / "orders" / f"{i // 50:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"order-{i:04d}.json").write_text(f'{{"id": {i}, "token": "{secrets.token_hex(8)}"}}\n')
    (root / "wal.bin").write_bytes(os.urandom(4 << 20))
    (root / "secret.key").write_bytes(os.urandom(32))
    (root / "secret.key").chmod(0o600)
    os.symlink("orders/00", root / "current")
    return root


def same_tree(left: Path, right: Path) -> bool:
    """Byte-for-byte (shallow=False) comparison, recursively, plus symlink targets and modes."""
    cmp = filecmp.dircmp(left, right)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    for name in cmp.common:
        a, b = left / name, right / name
        if a.is_symlink() != b.is_symlink() or (a.is_symlink() and os.readlink(a) != os.readlink(b)):
            return False
        if (a.lstat().st_mode & 0o7777) != (b.lstat().st_mode & 0o7777):
            return False
    return all(same_tree(left / d, right / d) for d in cmp.common_dirs if not (left / d).is_symlink())


def write_config(workdir: Path, etcd: SandboxEtcdCluster, registry_url: str, volume: Path) -> str:
    password = workdir / "restic-password"
    password.write_text(secrets.token_urlsafe(24) + "\n")
    password.chmod(0o600)
    return f"""\
cluster: {CLUSTER}
etcd:
  endpoints: [{", ".join(etcd.endpoints)}]
registry:
  url: {registry_url}
  cache: {workdir / "registry-cache"}
volumes:
  directories:
    - {{pvc: {VOLUME_PVC}, path: {volume}}}
repositories:
  primary:
    url: {workdir / "repo-primary"}
    password: {{file: {password}}}
  copies:
    - url: {workdir / "repo-offsite"}
      password: {{file: {password}}}
retention:
  keep_last: 5
reports:
  directory: {workdir / "reports"}
  prometheus_textfile: {workdir / "reports" / "kubekeeper.prom"}
"""


def restore_etcd(repository: Repository, workdir: Path) -> SandboxEtcdCluster:
    """Every member of a brand-new cluster restored from the same snapshot, then started."""
    fresh = SandboxEtcdCluster(workdir, "restored")
    snapshot = etcd_source.SOURCE.find(repository, "latest", cluster=CLUSTER)
    for m in fresh.members:
        member = MemberRestore.build(m.name, fresh.initial_cluster, m.data_dir, token="kubekeeper-demo")
        etcd_source.SOURCE.restore(repository, snapshot, etcd_source.EtcdTarget(member), progress=SILENT)
    return fresh


def show_verify(report: VerifyReport) -> None:
    for check in report.checks:
        mark = "[green]ok[/green]    " if check.ok else "[red]FAILED[/red]"
        stdout.print(f"  {mark} {check.part:<10} {check.message}", markup=True, highlight=False)


def demo_cluster_cycle(workdir: Path) -> None:
    """backup all -> destroy -> restore everything -> verify -> report."""
    timings: dict[str, float] = {}
    with ExitStack() as stack:
        stdout.rule("[bold]1. sandbox cluster[/bold]")
        started = time.monotonic()
        etcd = SandboxEtcdCluster(workdir, "original").start()
        stack.callback(etcd.stop)
        etcd.fill()
        etcd_before, revision = etcd.contents()
        registry_url = stack.enter_context(sandbox_registry(workdir / "registry-a"))
        fill_samples(registry_url, workdir / "samples")
        registry_before = digests(registry_url)
        volume = make_volume_tree(workdir / "node" / "volumes" / "orders-db")
        pristine = workdir / "pristine-volume"
        shutil.copytree(volume, pristine, symlinks=True)
        stdout.print(f"3-member etcd with {len(etcd_before)} keys (revision {revision}), registry {registry_url} with "
                     f"{len(registry_before)} tags, volume {VOLUME_PVC} at {volume}", highlight=False)

        stdout.rule("[bold]2. kubekeeper backup all[/bold]")
        config = parse_config(write_config(workdir, etcd, registry_url, volume), str(workdir / "cluster.yaml"))
        primary = Repository(RepoSpec(url=str(workdir / "repo-primary"), password_file=workdir / "restic-password"))
        copy = Repository(RepoSpec(url=str(workdir / "repo-offsite"), password_file=workdir / "restic-password"))
        primary.init()
        copy.init(chunker_source=primary)  # repositories are created on purpose, never by a backup
        report: SetReport = run_backup_set(CLUSTER, parts_from_config(config, primary), primary, [copy], Retention(keep_last=5))
        show_set(report)
        if not report.ok:
            raise OperationFailed("demo: backup all did not complete")
        timings.update({f"backup {p.name}": p.duration_seconds for p in report.parts})

        stdout.rule("[bold]3. disaster: the sandbox's data is destroyed[/bold]")
        etcd.stop()
        for m in etcd.members:
            shutil.rmtree(m.data_dir)
        shutil.rmtree(volume)
        stdout.print("etcd stopped and its data dirs deleted; the volume deleted; a new, empty registry stands in "
                     "for the lost one", highlight=False)

        stdout.rule("[bold]4. restore everything[/bold]")
        t = time.monotonic()
        restored = restore_etcd(primary, workdir)
        stack.callback(restored.stop)
        restored.start()
        etcd_after, revision_after = restored.contents()
        timings["restore etcd"] = time.monotonic() - t
        t = time.monotonic()
        target_url = stack.enter_context(sandbox_registry(workdir / "registry-b"))
        into_registry = registry_source.RegistryTarget(RegistryOptions(target_url))
        registry_source.SOURCE.restore(primary, registry_source.SOURCE.find(primary, "latest", cluster=CLUSTER), into_registry, progress=SILENT)
        registry_after = digests(target_url)
        timings["restore registry"] = time.monotonic() - t
        t = time.monotonic()
        into_volume = volume_source.VolumeTarget(PvcRef.parse(VOLUME_PVC), directory=volume)
        volume_source.SOURCE.restore(primary, volume_source.SOURCE.find(primary, "latest", cluster=CLUSTER, target=into_volume), into_volume,
                              progress=SILENT)
        timings["restore volumes"] = time.monotonic() - t

        stdout.rule("[bold]5. kubekeeper verify (restore drill)[/bold]")
        t = time.monotonic()
        drill = verify(primary, "latest", cluster=CLUSTER, options=VerifyOptions(read_data_subset="100%"))
        timings["verify"] = time.monotonic() - t
        show_verify(drill)

        stdout.rule("[bold]6. report[/bold]")
        results = {
            # every key back, and the revision moved ahead (bump) so old watches cannot see it go backwards
            "etcd": etcd_after == etcd_before and revision_after > revision,
            "registry": registry_after == registry_before,
            "volumes": same_tree(pristine, volume),
        }
        table = Table("part", "backed up", "came back")
        table.add_row("etcd", f"{len(etcd_before)} keys, revision {revision}, 3 members",
                      _yes(results["etcd"], f"{len(etcd_after)} keys, revision {revision_after:,} (bumped) on 3 restored members"))
        table.add_row("registry", f"{len(registry_before)} tags", _yes(results["registry"], "every manifest digest identical"))
        table.add_row("volumes", VOLUME_PVC, _yes(results["volumes"], "every byte, mode and symlink identical"))
        stdout.print(table)
        for step, seconds in timings.items():
            stdout.print(f"  {step:<18} {seconds:6.1f}s", highlight=False)
        stdout.print(f"  {'whole cycle':<18} {time.monotonic() - started:6.1f}s", highlight=False)
        if not all(results.values()) or not drill.ok:
            raise VerificationFailed("demo: something did not come back intact (see above)")
        stdout.print("[bold green]every part verified: every byte came back[/bold green]")


def _yes(ok: bool, text: str) -> str:
    return f"[green]{text}[/green]" if ok else "[red]DIFFERENT[/red]"
