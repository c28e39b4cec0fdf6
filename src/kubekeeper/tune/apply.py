"""Write the plan onto a node: persisted files (merged, comments kept) and live sysctls.

Safety rules, because this runs on production nodes: every changed file is backed up first
(`<file>.kubekeeper-<timestamp>`; static-pod backups go outside the manifest directory or the
kubelet would start them), written atomically keeping mode and owner, and only when its content
really changes, so a second run is a no-op. Services are never restarted: the result says which
ones need it.
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
from pathlib import Path
from typing import Any

import tomlkit
from ruamel.yaml import YAML

from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.fsutil import write_atomic
from kubekeeper.knowledge import load_catalogue
from kubekeeper.knowledge.catalogue import Catalogue
from kubekeeper.tune.audit import node_plan, normalize, same, show
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
from kubekeeper.tune.render import split_dotted

GROUPS = ("sysctl", "runtime", "kubelet", "control-plane")
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
        }


# ------------------------------------------------------------------------------------ sysctl
def _sysctl_edit(text: str, key: str, value: str) -> tuple[str, bool]:
    """Replace `key = ...` lines in a sysctl file's text; (new text, found)."""
    pattern = re.compile(rf"^(\s*-?\s*{re.escape(key)}\s*=\s*)(.*?)(\s*)$", re.M)
    if not pattern.search(text):
        return text, False
    return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3)}", text), True


def plan_sysctl(state: NodeState, plan: Plan) -> tuple[list[FileChange], list[LiveChange]]:
    root = state.root
    recs = [r for r in plan.settings if r.kind == "sysctl" and r.value is not None]
    own = root / SYSCTL_FILE
    old = own.read_text() if own.is_file() else None
    text = old if old is not None else f"# Written by kubekeeper tune apply ({plan.nodes} nodes, Kubernetes {plan.k8s_version})\n"
    others: dict[Path, str] = {}
    for rec in recs:
        value = show(rec.value) or ""
        text, found = _sysctl_edit(text, rec.key, value)
        if not found:
            text += ("" if text.endswith("\n") else "\n") + f"# {rec.id}: {rec.rationale}\n{rec.key} = {value}\n"
        persisted = state.sysctl_persisted.get(rec.key)
        if persisted and root / persisted.file != own and not same(persisted.value, rec.value):
            other = root / persisted.file  # a later file would override ours at boot: fix it there too
            others[other], _ = _sysctl_edit(others.get(other, other.read_text()), rec.key, value)
    changes = [FileChange(own, root, old, text, "sysctl")] if text != old else []
    changes += [FileChange(p, root, p.read_text(), t, "sysctl") for p, t in others.items() if t != p.read_text()]
    live = []
    for rec in recs:
        current = state.live_sysctl(rec.key)
        if current is not None and not same(current.value, rec.value):
            live.append(LiveChange(rec.key, str(current.value), show(rec.value) or "", root / sysctl_path(rec.key)))
    return changes, live


def write_live_sysctl(path: Path, value: str) -> None:
    """Set a live kernel value (proc/sys is not a regular file: no temp-and-rename here)."""
    try:
        with open(path, "w") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        raise OperationFailed(f"cannot set {path}: {exc.strerror}") from exc


# ----------------------------------------------------------------------------------- runtime
def _toml_set(doc: Any, parts: list[str], value: Any) -> bool:
    node = doc
    for part in parts[:-1]:
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
    key = parts[-1]
    if key in node and same(node[key], value) and type(node[key].unwrap()) is type(value):
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
            changed |= _toml_set(doc, split_dotted(rec.toml_path or rec.key), rec.value)
    new = tomlkit.dumps(doc)
    return [FileChange(path, state.root, old, new, "containerd")] if changed and new != old else []


def plan_docker(state: NodeState, plan: Plan) -> list[FileChange]:
    path = state.root / DOCKER_JSON
    old = path.read_text() if path.is_file() else None
    body = json.loads(old) if old and old.strip() else {}
    changed = False
    for rec in plan.settings:
        if rec.kind == "json" and rec.value is not None and not (rec.key in body and same(body[rec.key], rec.value)):
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
    """An unset key already behaves as recommended when the upstream default is the recommendation."""
    default = catalogue.by_id(rec.id).default
    return default is not None and same(default, rec.value)


def _is_set(tree: Any, dotted: str) -> bool:
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _has_flag(seq: Any, key: str) -> bool:
    return any(str(item) == key or str(item).startswith(key + "=") for item in seq)


def _yaml_set(tree: Any, dotted: str, value: Any) -> bool:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        if key not in node or not isinstance(node[key], dict):
            node[key] = {}
        node = node[key]
    if keys[-1] in node and same(node[keys[-1]], value):
        return False
    node[keys[-1]] = value
    return True


def _set_flag(seq: Any, key: str, value: str | None) -> bool:
    """Set (value) or remove (None) `--key=...` in a static pod's command list."""
    indexes = [i for i, item in enumerate(seq) if str(item) == key or str(item).startswith(key + "=")]
    if value is None:
        for i in reversed(indexes):
            del seq[i]
        return bool(indexes)
    wanted = f"{key}={value}"
    if indexes and str(seq[indexes[-1]]) == wanted:
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
                changed |= _yaml_set(tree, rec.key, rec.value)
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
def plan_control_plane(state: NodeState, plan: Plan, catalogue: Catalogue) -> tuple[list[FileChange], list[str]]:
    root, changes, notes = state.root, [], []
    removed = {(o.component, o.key) for o in plan.obsolete if o.key.startswith("--")}
    for component, pod in state.static_pods.items():
        path = root / pod.file
        old = path.read_text()
        body = _yaml().load(old)
        container = next(c for c in body["spec"]["containers"] if c.get("name") == component)
        seq = container["command"]
        changed = False
        for comp, key in removed:
            if comp == component:
                changed |= _set_flag(seq, key, None)
        config = scheduler_config(root, pod) if component == "kube-scheduler" else None
        config_tree = _yaml().load((root / config[0]).read_text()) if config else None
        config_changed = False
        for rec in plan.for_component(component):
            if rec.value is None:
                if rec.kind == "flag":
                    notes.append(f"{component} {rec.key}: {rec.note or 'no value to apply'}")
                continue
            default_holds = _default_holds(catalogue, rec)
            if rec.kind == "flag":
                if _has_flag(seq, rec.key) or not default_holds:
                    changed |= _set_flag(seq, rec.key, _flag_text(rec.value))
            elif rec.kind == "config" and config_tree is not None:
                if _is_set(config_tree, rec.key) or not default_holds:
                    config_changed |= _yaml_set(config_tree, rec.key, rec.value)
            elif rec.kind == "config":
                legacy = catalogue.by_id(rec.id).legacy_flag
                if legacy and (_has_flag(seq, legacy) or not default_holds):
                    changed |= _set_flag(seq, legacy, _flag_text(rec.value))
        if changed:
            changes.append(FileChange(path, root, old, _yaml_dump(body), component))
        if config and config_changed:
            config_path = root / config[0]
            changes.append(FileChange(config_path, root, config_path.read_text(), _yaml_dump(config_tree), component))
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


def apply(root: Path, nodes: int | None, k8s_version: str | None = None, only: str | None = None,
          dry_run: bool = False) -> ApplyResult:
    """Compute every change, then (unless dry_run) back up, write atomically and set live sysctls."""
    groups = parse_only(only)
    catalogue = load_catalogue()
    state = probe(root)
    plan = node_plan(state, nodes, k8s_version)
    result = plan_changes(state, plan, groups, catalogue)
    result.dry_run = dry_run
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
    if dry_run:
        return result
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for change in result.files:
        if change.old is not None:
            result.backups.append(backup(change, catalogue, stamp))
        write_atomic(change.path, change.new, mode=0o644)
    for live in result.live:
        write_live_sysctl(live.path, live.new)
    return result


def values_equal(a: Any, b: Any) -> bool:
    return normalize(a) == normalize(b)


__all__ = ["ApplyResult", "FileChange", "LiveChange", "Recommendation", "apply", "parse_only", "write_live_sysctl"]
