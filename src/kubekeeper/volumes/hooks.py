"""Pre/post-backup hooks from annotations, run in the mounting pod through the API's exec.

`kubekeeper.io/pre-backup` / `kubekeeper.io/post-backup`: a JSON list (argv) or a shell line (run with
`/bin/sh -c`); `kubekeeper.io/hook-container` names the container (default: the pod's first). Read
from the PVC, else from the mounting pod. A failed pre-hook skips the volume; the post-hook still runs.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from kubekeeper.errors import OperationFailed
from kubekeeper.volumes.model import HOOKS_OFF, Hook, LocatedVolume, Problem

PRE = "kubekeeper.io/pre-backup"
POST = "kubekeeper.io/post-backup"
CONTAINER = "kubekeeper.io/hook-container"


class Executor(Protocol):
    def exec(self, namespace: str, pod: str, container: str, command: tuple[str, ...], timeout: float) -> tuple[int, str]:
        """Run command in the container; (exit status, combined output)."""


def parse_command(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.startswith("["):
        try:
            argv = json.loads(text)
        except json.JSONDecodeError:
            argv = None
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            return tuple(argv)
    return ("/bin/sh", "-c", text)


def from_annotations(pvc: dict[str, Any], pod: dict[str, Any] | None) -> tuple[Hook | None, Hook | None]:
    """The hooks configured for this PVC; none without a mounting pod to run them in."""
    if pod is None:
        return None, None
    pvc_notes = pvc.get("metadata", {}).get("annotations") or {}
    pod_notes = pod.get("metadata", {}).get("annotations") or {}
    notes = pvc_notes if (PRE in pvc_notes or POST in pvc_notes) else pod_notes
    containers = [c.get("name", "") for c in pod.get("spec", {}).get("containers") or []]
    container = notes.get(CONTAINER) or (containers[0] if containers else "")
    meta = pod["metadata"]

    def hook(key: str) -> Hook | None:
        if not notes.get(key):
            return None
        return Hook(meta.get("namespace", ""), meta["name"], container, parse_command(notes[key]))

    return hook(PRE), hook(POST)


def run_hook(executor: Executor, hook: Hook, what: str, timeout: float) -> None:
    """Run one hook; OperationFailed (one line, with the command's last output line) if it fails."""
    try:
        status, output = executor.exec(hook.namespace, hook.pod, hook.container, hook.command, timeout)
    except OperationFailed:
        raise
    except Exception as exc:  # API/websocket errors from the client
        raise OperationFailed(f"{what} hook in {hook.namespace}/{hook.pod}[{hook.container}] could not run: {exc}") from exc
    if status != 0:
        last = next((line for line in reversed(output.splitlines()) if line.strip()), "no output")
        raise OperationFailed(f"{what} hook in {hook.namespace}/{hook.pod}[{hook.container}] exited {status}: {last.strip()}")


def allowed_in(sources: list[LocatedVolume], namespaces: set[str] | None) -> tuple[list[LocatedVolume], list[Problem]]:
    """Split off the volumes whose hooks may not run here (`namespaces`: where exec is granted; None:
    anywhere). Such a volume fails rather than being read without the freeze/flush its owner asked for."""
    if namespaces is None:
        return sources, []
    keep: list[LocatedVolume] = []
    refused: list[Problem] = []
    for source in sources:
        hook = source.pre_hook or source.post_hook
        if hook is None or hook.namespace in namespaces:
            keep.append(source)
            continue
        refused.append(Problem(
            source.ref, HOOKS_OFF,
            f"PVC {source.ref} has a backup hook (pod {hook.namespace}/{hook.pod}), but hooks are not enabled in namespace "
            f"{hook.namespace}: not backed up without it (in-cluster: kubekeeper deploy render --hook-namespace {hook.namespace})",
            node=source.node,
        ))
    return keep, refused
