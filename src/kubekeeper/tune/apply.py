"""Write the plan onto a node: persisted files (merged, comments kept) and live sysctls.

Safety rules, because this runs on production nodes: every changed file is backed up first
(`<file>.kubekeeper-<timestamp>`; static-pod backups go outside the manifest directory or the
kubelet would start them), written atomically keeping mode and owner, and only when its content
really changes, so a second run is a no-op. Services are never restarted: the result says which
ones need it. A dry run computes the same changes and makes none of them (kubekeeper.changes).
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import shlex
import shutil
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import tomlkit
from ruamel.yaml import YAML

from kubekeeper.changes import Changes
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.fsutil import write_atomic
from kubekeeper.knowledge import load_catalogue, load_versions
from kubekeeper.knowledge.catalogue import Catalogue
from kubekeeper.tune.audit import NodeRequest, node_plan, normalize, same, satisfies, show
from kubekeeper.tune.plan import Plan, Recommendation
from kubekeeper.tune.probe import (
    CONTAINERD_TOML,
    DOCKER_JSON,
    KUBELET_CONFIG,
    NodeState,
    probe,
    rel,
    scheduler_config,
    sysctl_path,
)
from kubekeeper.tune.render import KUBEADM_SCHEDULER_CONFIG, KUBEADM_SCHEDULER_KUBECONFIG, split_dotted

GROUPS = ("sysctl", "runtime", "kubelet", "control-plane")
_UNSET = object()
SYSCTL_FILE = "etc/sysctl.d/90-kubekeeper.conf"
KUBELET_ENV_FILES = ("var/lib/kubelet/kubeadm-flags.env", "etc/default/kubelet", "etc/sysconfig/kubelet")


@dataclass
class FileChange:
    path: Path
    root: Path
    old: str | None
    new: str
    component: str

    @property
    def name(self) -> str:
        return "/" + rel(self.root, self.path)

    def diff(self) -> str:
        old = (self.old or "").splitlines(keepends=True)
        new = self.new.splitlines(keepends=True)
        before = self.name if self.old is not None else "/dev/null"
        return "".join(difflib.unified_diff(old, new, before, self.name))


@dataclass
class LiveChange:
    key: str
    old: str
    new: str
    path: Path


@dataclass
class ApplyResult:
    files: list[FileChange] = field(default_factory=list)
    live: list[LiveChange] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)  # the plan's: versions assumed or mismatched

    @property
    def changed(self) -> bool:
        return bool(self.files or self.live)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "files": [f.name for f in self.files],
            "backups": [str(b) for b in self.backups],
            "live_sysctls": [{"key": c.key, "old": c.old, "new": c.new} for c in self.live],
            "restart": self.restarts,
            "notes": self.notes,
            "warnings": self.warnings,
        }


# ------------------------------------------------------------------------------------ sysctl
def _sysctl_edit(text: str, key: str, value: str) -> tuple[str, bool]:
    """Replace `key = ...` lines in a sysctl file's text; (new text, found)."""
    pattern = re.compile(rf"^(\s*-?\s*{re.escape(key)}\s*=\s*)(.*?)(\s*)$", re.M)
    if not pattern.search(text):
        return text, False
    return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3)}", text), True


def plan_sysctl(state: NodeState, plan: Plan) -> tuple[list[FileChange], list[LiveChange]]:
    """Our sysctl.d file plus live values. A floor is never lowered: a live value at or above it (and
    nothing persisted below it) leaves the key alone, so LONG_MAX from systemd stays LONG_MAX."""
    root = state.root
    recs = [r for r in plan.settings if r.kind == "sysctl" and r.value is not None]
    own = root / SYSCTL_FILE
    old = own.read_text() if own.is_file() else None
    text = old if old is not None else f"# Written by kubekeeper tune apply (Kubernetes {plan.k8s_version})\n"
    others: dict[Path, str] = {}
    live_changes = []
    for rec in recs:
        value = show(rec.value) or ""
        persisted = state.sysctl_persisted.get(rec.key)
        current = state.live_sysctl(rec.key)
        live_ok = current is not None and satisfies(current.value, rec)
        persisted_ok = persisted is None or satisfies(persisted.value, rec)
        if rec.bound != "exact" and live_ok and persisted_ok:
            continue
        text, found = _sysctl_edit(text, rec.key, value)
        if not found:
            text += ("" if text.endswith("\n") else "\n") + f"# {rec.id}: {rec.rationale}\n{rec.key} = {value}\n"
        if persisted and root / persisted.file != own and not satisfies(persisted.value, rec):
            other = root / persisted.file  # a later file would override ours at boot: fix it there too
            others[other], _ = _sysctl_edit(others.get(other, other.read_text()), rec.key, value)
        if current is not None and not live_ok:
            live_changes.append(LiveChange(rec.key, str(current.value), value, root / sysctl_path(rec.key)))
    changes = [FileChange(own, root, old, text, "sysctl")] if text != old and (old is not None or recs_written(text)) else []
    changes += [FileChange(p, root, p.read_text(), t, "sysctl") for p, t in others.items() if t != p.read_text()]
    return changes, live_changes


def recs_written(text: str) -> bool:
    """Whether a new sysctl file would hold any setting (not just its header)."""
    return any(line.strip() and not line.lstrip().startswith(("#", ";")) for line in text.splitlines())


def write_live_sysctl(path: Path, value: str) -> None:
    """Set a live kernel value (proc/sys is not a regular file: no temp-and-rename here)."""
    try:
        with open(path, "w") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        raise OperationFailed(f"cannot set {path}: {exc.strerror}") from exc


# ----------------------------------------------------------------------------------- runtime
def _toml_get(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return _UNSET
        node = node[part]
    return node


def _toml_set(doc: Any, parts: list[str], value: Any, rec: Recommendation | None = None) -> bool:
    node = doc
    for part in parts[:-1]:
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
    key = parts[-1]
    if key in node and same(node[key], value) and type(node[key].unwrap()) is type(value):
        return False
    if key in node and rec is not None and rec.bound != "exact" and satisfies(node[key].unwrap(), rec):
        return False
    sibling = None
    if key not in node:
        items = [node.item(k) for k in node]
        sibling = next((i for i in items if not isinstance(i, (tomlkit.items.Table, tomlkit.items.AoT))), None)
    node[key] = value
    if sibling is not None:
        node.item(key).trivia.indent = sibling.trivia.indent  # line up with the table's other keys
    return True


def plan_containerd(state: NodeState, plan: Plan) -> list[FileChange]:
    path = state.root / CONTAINERD_TOML
    old = path.read_text() if path.is_file() else None
    doc = tomlkit.parse(old) if old is not None else tomlkit.document()
    if old is None:
        doc["version"] = plan.containerd_config_version
    changed = old is None
    for rec in plan.settings:
        if rec.kind == "toml" and rec.value is not None:
            parts = split_dotted(rec.toml_path or rec.key)
            if _toml_get(doc, parts) is _UNSET and rec.default is not None and satisfies(rec.default, rec):
                continue  # unset already behaves as recommended (e.g. containerd 2.1's CRI limit of 3)
            changed |= _toml_set(doc, parts, rec.value, rec)
    new = tomlkit.dumps(doc)
    return [FileChange(path, state.root, old, new, "containerd")] if changed and new != old else []


def plan_docker(state: NodeState, plan: Plan) -> list[FileChange]:
    path = state.root / DOCKER_JSON
    old = path.read_text() if path.is_file() else None
    body = json.loads(old) if old and old.strip() else {}
    changed = False
    for rec in plan.settings:
        if rec.kind == "json" and rec.value is not None and not (rec.key in body and satisfies(body[rec.key], rec)):
            body[rec.key] = rec.value
            changed = True
    if not changed:
        return []
    return [FileChange(path, state.root, old, json.dumps(body, indent=2) + "\n", "docker")]


# ------------------------------------------------------------------------------------- YAML
def _represent_none(representer: Any, _: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.representer.add_representer(type(None), _represent_none)  # keep kubeadm's `creationTimestamp: null`
    return yaml


def _yaml_dump(tree: Any) -> str:
    out = io.StringIO()
    _yaml().dump(tree, out)
    return out.getvalue()


def _default_holds(catalogue: Catalogue, rec: Recommendation) -> bool:
    """An unset key already behaves as recommended when the upstream default (for the planned
    versions) meets the recommendation."""
    return rec.default is not None and satisfies(rec.default, rec)


def _is_set(tree: Any, dotted: str) -> bool:
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _has_flag(seq: Any, key: str) -> bool:
    return any(str(item) == key or str(item).startswith(key + "=") for item in seq)


def _yaml_set(tree: Any, dotted: str, value: Any, rec: Recommendation | None = None) -> bool:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        if key not in node or not isinstance(node[key], dict):
            node[key] = {}
        node = node[key]
    if keys[-1] in node and (same(node[keys[-1]], value) or (rec is not None and satisfies(node[keys[-1]], rec))):
        return False
    node[keys[-1]] = value
    return True


def _flag_current(seq: Any, key: str) -> str | None:
    for item in reversed(list(seq)):
        text = str(item)
        if text == key:
            return "true"
        if text.startswith(key + "="):
            return text.split("=", 1)[1]
    return None


def _set_flag(seq: Any, key: str, value: str | None, rec: Recommendation | None = None) -> bool:
    """Set (value) or remove (None) `--key=...` in a static pod's command list; a value that already
    meets a floor or ceiling is kept."""
    indexes = [i for i, item in enumerate(seq) if str(item) == key or str(item).startswith(key + "=")]
    if value is None:
        for i in reversed(indexes):
            del seq[i]
        return bool(indexes)
    wanted = f"{key}={value}"
    if indexes and str(seq[indexes[-1]]) == wanted:
        return False
    current = _flag_current(seq, key)
    if current is not None and rec is not None and satisfies(current, rec):
        return False
    if indexes:
        seq[indexes[-1]] = wanted
        for i in reversed(indexes[:-1]):
            del seq[i]
    else:
        seq.append(wanted)
    return True


def _flag_text(value: Any) -> str:
    return show(value) if isinstance(value, bool) else str(value)  # type: ignore[return-value]


# ----------------------------------------------------------------------------------- kubelet
def _edit_env_flags(text: str, key: str, value: str | None, variable: str | None = None) -> tuple[str, bool]:
    """Remove (value None) or set a flag inside VAR="..." lines of an environment file."""
    changed = False
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = re.match(r'^(\s*)(\w+)=(.*?)(\s*)$', line)
        if not match or (variable and match.group(2) != variable):
            continue
        words = " ".join(shlex.split(match.group(3))).split() if match.group(3).strip() else []
        kept = [w for w in words if not (w == key or w.startswith(key + "="))]
        if value is not None and variable:
            kept.append(f"{key}={value}")
        if kept != words:
            lines[index] = f'{match.group(1)}{match.group(2)}="{" ".join(kept)}"{match.group(4)}'
            changed = True
    return "".join(lines), changed


def plan_kubelet(state: NodeState, plan: Plan, catalogue: Catalogue) -> tuple[list[FileChange], list[str]]:
    root, kubelet, notes = state.root, state.kubelet, []
    config_path = root / (kubelet.config_file if kubelet and kubelet.config_file else KUBELET_CONFIG)
    old = config_path.read_text() if config_path.is_file() else None
    tree = _yaml().load(old) if old else None
    if tree is None:
        tree = _yaml().load("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n")
    changed = old is None
    env_texts: dict[Path, str] = {p: (root / p).read_text() for p in map(Path, KUBELET_ENV_FILES) if (root / p).is_file()}
    env_new = dict(env_texts)
    for rec in plan.for_component("kubelet"):
        if rec.value is None:
            continue
        if rec.kind == "config":
            if _is_set(tree, rec.key) or not _default_holds(catalogue, rec):
                changed |= _yaml_set(tree, rec.key, rec.value, rec)
            legacy = catalogue.by_id(rec.id).legacy_flag
            if legacy:  # the deprecated flag would win over the config file: drop it
                for path in env_new:
                    env_new[path], _ = _edit_env_flags(env_new[path], legacy, None)
                flag = kubelet.flags.get(legacy) if kubelet else None
                if flag and flag.process is None and not any(str(p) == flag.file for p in env_new):
                    notes.append(f"{legacy} is set in {flag.source}: remove it there, it overrides {rec.key}")
        elif rec.kind == "flag":
            target = Path(KUBELET_ENV_FILES[0])
            env_new[target], _ = _edit_env_flags(env_new.get(target, 'KUBELET_KUBEADM_ARGS=""\n'), rec.key,
                                                 _flag_text(rec.value), "KUBELET_KUBEADM_ARGS")
    # a flag the plan lists as obsolete is unneeded in this release at best, and a removed one stops the
    # kubelet from starting (--pod-infra-container-image on 1.35+): drop it where kubekeeper can edit
    for old_flag in plan.obsolete:
        if old_flag.component == "kubelet" and old_flag.key.startswith("--"):
            for path in env_new:
                env_new[path], _ = _edit_env_flags(env_new[path], old_flag.key, None)
            flag = kubelet.flags.get(old_flag.key) if kubelet else None
            if flag and flag.process is None and not any(str(p) == flag.file for p in env_new):
                notes.append(f"{old_flag.key} is set in {flag.source}: remove it there ({old_flag.sentence()})")
    changes = []
    new = _yaml_dump(tree)
    if changed and new != old:
        changes.append(FileChange(config_path, root, old, new, "kubelet"))
    for path, text in env_new.items():
        if text != env_texts.get(path):
            changes.append(FileChange(root / path, root, env_texts.get(path), text, "kubelet"))
    if kubelet and kubelet.pid is not None:
        notes.append(f"the running kubelet (pid {kubelet.pid}) keeps its current flags until it is restarted")
    return changes, notes


# ----------------------------------------------------------------------------- control plane
def _gate(item: str) -> tuple[str, str]:
    """`Gate=value` from --feature-gates; a bare `Gate` is on."""
    name, sep, value = item.partition("=")
    return (name, value) if sep else (name, "true")


def _set_feature_gate(seq: Any, gate: str, value: str) -> bool:
    """Merge one gate into --feature-gates=..., keeping the others."""
    current = _flag_current(seq, "--feature-gates")
    gates = dict(_gate(item) for item in (current or "").split(",") if item)
    if gates.get(gate, "").lower() == value.lower():
        return False
    gates[gate] = value
    return _set_flag(seq, "--feature-gates", ",".join(f"{k}={v}" for k, v in gates.items()))


def _scheduler_config_for_kubeadm_pod(state: NodeState, plan: Plan, catalogue: Catalogue, pod: Any,
                                      body: Any, container: Any) -> FileChange | None:
    """A scheduler started without --config (kubeadm's way) gets one, as the kubeadm configuration from
    `tune plan` would give it: the file, `--config`, and a hostPath volume mounting it."""
    recs = [r for r in plan.for_component("kube-scheduler") if r.kind == "config" and r.value is not None]
    api = load_versions().scheduler_api(plan.k8s_version)
    if not recs or api is None:
        return None

    def current(rec: Recommendation) -> Any:
        legacy = catalogue.by_id(rec.id).legacy_flag
        flag = pod.flags.get(legacy) if legacy else None
        return flag.value if flag else rec.default

    if all(current(r) is not None and satisfies(current(r), r) for r in recs):
        return None
    kubeconfig = pod.flags.get("--kubeconfig")
    tree: dict[str, Any] = {"apiVersion": api, "kind": "KubeSchedulerConfiguration"}
    for rec in recs:
        _yaml_set(tree, rec.key, rec.value)
    _yaml_set(tree, "clientConnection.kubeconfig", str(kubeconfig.value) if kubeconfig else KUBEADM_SCHEDULER_KUBECONFIG)
    target = state.root / KUBEADM_SCHEDULER_CONFIG.lstrip("/")
    old = target.read_text() if target.is_file() else None
    _set_flag(container["command"], "--config", KUBEADM_SCHEDULER_CONFIG)
    mounts = container.setdefault("volumeMounts", [])
    if not any(m.get("mountPath") == KUBEADM_SCHEDULER_CONFIG for m in mounts):
        mounts.append({"mountPath": KUBEADM_SCHEDULER_CONFIG, "name": "kubekeeper-scheduler-config", "readOnly": True})
    volumes = body["spec"].setdefault("volumes", [])
    if not any(v.get("name") == "kubekeeper-scheduler-config" for v in volumes):
        volumes.append({"hostPath": {"path": KUBEADM_SCHEDULER_CONFIG, "type": "File"}, "name": "kubekeeper-scheduler-config"})
    return FileChange(target, state.root, old, _yaml_dump(tree), "kube-scheduler")


def plan_control_plane(state: NodeState, plan: Plan, catalogue: Catalogue) -> tuple[list[FileChange], list[str]]:
    root, changes, notes = state.root, [], []
    obsolete = {(o.component, o.key) for o in plan.obsolete if o.key.startswith("--")}
    for component, pod in state.static_pods.items():
        path = root / pod.file
        old = path.read_text()
        body = _yaml().load(old)
        container = next(c for c in body["spec"]["containers"] if c.get("name") == component)
        seq = container["command"]
        changed = False
        for comp, key in obsolete:
            if comp == component:
                changed |= _set_flag(seq, key, None)
        config = scheduler_config(root, pod) if component == "kube-scheduler" else None
        config_tree = _yaml().load((root / config[0]).read_text()) if config else None
        config_changed = False
        created = None
        if component == "kube-scheduler" and config is None:
            created = _scheduler_config_for_kubeadm_pod(state, plan, catalogue, pod, body, container)
            changed |= created is not None
        for rec in plan.for_component(component):
            if rec.value is None:
                if rec.kind == "flag":
                    notes.append(f"{component} {rec.key}: {rec.note or 'no value to apply'}")
                continue
            default_holds = _default_holds(catalogue, rec)
            if rec.kind == "flag":
                if _has_flag(seq, rec.key) or not default_holds:
                    changed |= _set_flag(seq, rec.key, _flag_text(rec.value), rec)
            elif rec.kind == "feature-gate":
                changed |= _set_feature_gate(seq, rec.key, _flag_text(rec.value))
            elif rec.kind == "config" and config_tree is not None:
                if _is_set(config_tree, rec.key) or not default_holds:
                    config_changed |= _yaml_set(config_tree, rec.key, rec.value, rec)
            elif rec.kind == "config" and created is None:
                legacy = catalogue.by_id(rec.id).legacy_flag
                if legacy and (_has_flag(seq, legacy) or not default_holds):
                    changed |= _set_flag(seq, legacy, _flag_text(rec.value), rec)
        if changed:
            changes.append(FileChange(path, root, old, _yaml_dump(body), component))
        if created:
            changes.append(created)
        if config and config_changed:
            config_path = root / config[0]
            changes.append(FileChange(config_path, root, config_path.read_text(), _yaml_dump(config_tree), component))
    if changes and state.kubeadm:
        notes.append("kubeadm node: `kubeadm upgrade` rewrites static-pod manifests from the kube-system/kubeadm-config "
                     "ClusterConfiguration; carry these settings there too (tune plan writes kubeadm/cluster-configuration.yaml)")
    return changes, notes


# --------------------------------------------------------------------------------- the run
def _backup_path(change: FileChange, catalogue: Catalogue, stamp: str) -> Path:
    info = catalogue.components.get(change.component)
    directory = change.root / info.backup_dir if info and info.backup_dir else change.path.parent
    candidate = directory / f"{change.path.name}.kubekeeper-{stamp}"
    counter = 1
    while candidate.exists():
        candidate = directory / f"{change.path.name}.kubekeeper-{stamp}.{counter}"
        counter += 1
    return candidate


def backup(change: FileChange, catalogue: Catalogue, stamp: str) -> Path:
    target = _backup_path(change, catalogue, stamp)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(change.path, target)
    stat = change.path.stat()
    try:
        os.chown(target, stat.st_uid, stat.st_gid)
    except PermissionError:
        pass
    return target


def parse_only(only: str | None) -> set[str]:
    if not only:
        return set(GROUPS)
    groups = {g.strip() for g in only.split(",") if g.strip()}
    unknown = groups - set(GROUPS)
    if unknown:
        raise BadInput(f"--only: unknown group(s) {', '.join(sorted(unknown))} (choose from {', '.join(GROUPS)})")
    return groups


def plan_changes(state: NodeState, plan: Plan, groups: set[str], catalogue: Catalogue) -> ApplyResult:
    result = ApplyResult()
    if "sysctl" in groups:
        files, live = plan_sysctl(state, plan)
        result.files += files
        result.live += live
    if "runtime" in groups:
        result.files += plan_containerd(state, plan) if plan.runtime == "containerd" else plan_docker(state, plan)
    if "kubelet" in groups:
        files, notes = plan_kubelet(state, plan, catalogue)
        result.files += files
        result.notes += notes
    if "control-plane" in groups:
        files, notes = plan_control_plane(state, plan, catalogue)
        result.files += files
        result.notes += notes
    return result


def apply(root: Path, nodes: int | NodeRequest | None, k8s_version: str | None = None, only: str | None = None,
          dry_run: bool = False) -> ApplyResult:
    """Compute every change, then (unless dry_run) back up, write atomically and set live sysctls.
    Without a node count only settings that do not depend on the cluster size are applied; a
    control-plane node then needs --nodes (its limits and etcd quota grow with the cluster)."""
    groups = parse_only(only)
    catalogue = load_catalogue()
    state = probe(root)
    request = nodes if isinstance(nodes, NodeRequest) else NodeRequest(nodes, k8s_version)
    if request.nodes is None and "control-plane" in groups and state.static_pods:
        raise BadInput("--nodes N is required to apply control-plane settings (request limits, client QPS and the "
                       "etcd quota depend on the cluster size); sysctl, runtime and kubelet settings need no --nodes: "
                       "add --only sysctl,runtime,kubelet")
    plan = node_plan(state, request)
    result = plan_changes(state, plan, groups, catalogue)
    result.dry_run = dry_run
    result.warnings = list(plan.warnings)
    restarts: list[str] = []
    for change in result.files:
        info = catalogue.components.get(change.component)
        if info and info.restart and info.restart not in restarts:
            restarts.append(info.restart)
        elif info and info.restart_note and change.component not in ("sysctl",):
            note = f"{change.component}: {info.restart_note}"
            if note not in result.notes:
                result.notes.append(note)
    result.restarts = restarts
    make_changes(result, catalogue, Changes(dry_run))
    return result


def make_changes(result: ApplyResult, catalogue: Catalogue, changes: Changes) -> None:
    """Back up each file that exists, write every file atomically, then set the live sysctls."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for change in result.files:
        if change.old is not None:
            saved = changes.make(f"back up {change.name}", partial(backup, change, catalogue, stamp))
            if saved is not None:
                result.backups.append(saved)
        changes.make(f"write {change.name}", partial(write_atomic, change.path, change.new, mode=0o644))
    for live in result.live:
        changes.make(f"set live sysctl {live.key}: {live.old} -> {live.new}", partial(write_live_sysctl, live.path, live.new))


def values_equal(a: Any, b: Any) -> bool:
    return normalize(a) == normalize(b)


__all__ = ["ApplyResult", "FileChange", "LiveChange", "Recommendation", "apply", "parse_only", "write_live_sysctl"]
