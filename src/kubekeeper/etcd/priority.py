"""Give etcd disk and network priority: `ionice -c2 -n0` and a prio qdisc with u32 filters.

From etcd's tuning guide (and the seed): best-effort I/O class, level 0, for the etcd process;
a 3-band prio qdisc at the interface root with filters that put peer traffic (port 2380, filter
preference 1) and then client traffic (2379, preference 2) in the first band (flowid 1:1).
Idempotent: existing pieces are detected and kept. `--undo` removes exactly what a previous run
added, recorded in a small state file under /run (which, like tc and ionice settings, does not
survive a reboot). Every change goes through kubekeeper.changes, which honours --dry-run: a dry run
reads the machine like a real one and reports exactly the commands a real run would make.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubekeeper.changes import Changes
from kubekeeper.errors import BadInput, CommandFailed, OperationFailed
from kubekeeper.execute import Command, run
from kubekeeper.fsutil import write_atomic

STATE_FILE = Path("/run/kubekeeper/etcd-prioritize.json")
HANDLE = "1:"
#: (filter preference, match direction, port) in the order the seed adds them
FILTERS = ((1, "sport", 2380), (1, "dport", 2380), (2, "sport", 2379), (2, "dport", 2379))
FLOWID = "1:1"


@dataclass
class PriorityResult:
    changes: Changes = field(default_factory=Changes)
    unchanged: list[str] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        return self.changes.dry_run

    @property
    def actions(self) -> list[str]:
        return self.changes.done

    @property
    def commands(self) -> list[str]:
        return self.changes.commands

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "actions": self.actions, "commands": self.commands, "unchanged": self.unchanged}


# --------------------------------------------------------------------------------- ionice
def find_etcd_pids(proc: Path = Path("/proc")) -> list[int]:
    """Pids whose command name is exactly `etcd` (what `pgrep -x etcd` finds)."""
    pids = []
    for entry in proc.glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() == "etcd":
                pids.append(int(entry.name))
        except OSError:
            continue
    return sorted(pids)


def read_ionice(pid: int, ns: tuple[str, ...] = ()) -> str:
    result = run(Command((*ns, "ionice", "-p", str(pid))))
    return result.text.strip()


def ionice_argv(pid: int, current: str) -> tuple[str, ...]:
    """The command that restores a class/level as printed by `ionice -p` ("best-effort: prio 4")."""
    match = re.match(r"(none|realtime|best-effort|idle)(?::\s*prio\s*(\d+))?", current)
    if not match:
        raise OperationFailed(f"cannot parse ionice output {current!r}")
    klass = {"none": "0", "realtime": "1", "best-effort": "2", "idle": "3"}[match.group(1)]
    argv = ["ionice", "-c", klass]
    if klass in ("1", "2") and match.group(2):
        argv += ["-n", match.group(2)]
    return (*argv, "-p", str(pid))


# ------------------------------------------------------------------------------------- tc
def _match_key(direction: str, port: int) -> tuple[str, str]:
    """u32 `match ip sport/dport P 0xffff` as tc prints it: value/mask at offset 20."""
    if direction == "sport":
        return f"{port << 16:08x}", "ffff0000"
    return f"{port:08x}", "0000ffff"


def tc_filters(dev: str, ns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = run(Command((*ns, "tc", "-j", "filter", "show", "dev", dev, "parent", HANDLE)), check=False)
    if result.returncode != 0 or not result.text.strip():
        return []
    return [f for f in json.loads(result.text) if "flowid" in f.get("options", {})]


def root_qdisc(dev: str, ns: tuple[str, ...] = ()) -> dict[str, Any] | None:
    result = run(Command((*ns, "tc", "-j", "qdisc", "show", "dev", dev)))
    qdiscs: list[dict[str, Any]] = json.loads(result.text or "[]")
    return next((qdisc for qdisc in qdiscs if qdisc.get("root")), None)


def find_filter(filters: list[dict[str, Any]], pref: int, direction: str, port: int) -> str | None:
    """The handle (fh) of an installed filter equal to one of ours, or None."""
    value, mask = _match_key(direction, port)
    for f in filters:
        options = f["options"]
        match = options.get("match", {})
        if (f.get("pref") == pref and options.get("flowid") == FLOWID and match.get("off") == 20
                and int(str(match.get("value", "0")), 16) == int(value, 16)
                and int(str(match.get("mask", "0")), 16) == int(mask, 16)):
            return str(options.get("fh"))
    return None


def qdisc_argv(dev: str, kind: str) -> tuple[str, ...]:
    if kind == "prio":
        return ("tc", "qdisc", "add", "dev", dev, "root", "handle", HANDLE, "prio", "bands", "3")
    return ("tc", "qdisc", "add", "dev", dev, "root", "handle", HANDLE, "htb", "default", "2")


def htb_class_argvs(dev: str, rate: str) -> list[tuple[str, ...]]:
    """HTB stand-in for the 3 prio bands (kernels without sch_prio): strict class priorities 0/1/2."""
    return [("tc", "class", "add", "dev", dev, "parent", HANDLE, "classid", f"1:{band + 1}", "htb",
             "rate", rate, "ceil", rate, "prio", str(band)) for band in range(3)]


def filter_argv(dev: str, pref: int, direction: str, port: int) -> tuple[str, ...]:
    return ("tc", "filter", "add", "dev", dev, "parent", HANDLE, "protocol", "ip", "prio", str(pref), "u32",
            "match", "ip", direction, str(port), "0xffff", "flowid", FLOWID)


# ----------------------------------------------------------------------------------- state
def load_state(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        return state
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise OperationFailed(f"cannot read state file {path}: {exc}") from exc


def save_state(path: Path, state: dict[str, Any]) -> None:
    if not state.get("ionice") and not state.get("tc"):
        path.unlink(missing_ok=True)
        return
    write_atomic(path, json.dumps(state, indent=2) + "\n", mode=0o600)


# ------------------------------------------------------------------------------- actions
def prioritize(pid: int | None = None, dev: str | None = None, *, dry_run: bool = False, qdisc: str = "prio",
               rate: str = "10gbit", state_file: Path = STATE_FILE, netns: str | None = None) -> PriorityResult:
    """Apply ionice to etcd (and tc on `dev`); record what was added so --undo can remove exactly it."""
    if qdisc not in ("prio", "htb"):
        raise BadInput(f"--qdisc must be prio or htb, not {qdisc!r}")
    ns = ("ip", "netns", "exec", netns) if netns else ()
    result = PriorityResult(Changes(dry_run))
    changes = result.changes
    state = load_state(state_file)
    pids = [pid] if pid else find_etcd_pids()
    if not pids:
        raise OperationFailed("no etcd process found (pass --pid)")
    for target in pids:
        current = read_ionice(target)
        if current.startswith("best-effort: prio 0"):
            result.unchanged.append(f"etcd pid {target} already has I/O class best-effort, level 0")
            continue
        changes.run(Command(("ionice", "-c2", "-n0", "-p", str(target))), f"ionice pid {target}: {current} -> best-effort: prio 0")
        state.setdefault("ionice", {})[str(target)] = current
    if dev:
        _prioritize_tc(result, state, dev, qdisc, rate, ns)
    _record(changes, state_file, state)
    return result


def _record(changes: Changes, state_file: Path, state: dict[str, Any]) -> None:
    """Keep what was added (for --undo) in the state file: kubekeeper's own bookkeeping, not a change it
    reports; a dry run added nothing, so the file stays as it was."""
    if not changes.dry_run:
        save_state(state_file, state)


def _prioritize_tc(result: PriorityResult, state: dict[str, Any], dev: str, qdisc: str, rate: str,
                   ns: tuple[str, ...]) -> None:
    changes = result.changes
    record = state.setdefault("tc", {}).setdefault(dev, {"qdisc": False, "filters": []})
    root = root_qdisc(dev, ns)
    if root and root.get("handle") == HANDLE and root.get("kind") in ("prio", "htb"):
        result.unchanged.append(f"{dev}: {root['kind']} qdisc {HANDLE} already at the root")
    else:
        if root and root.get("kind") not in ("noqueue", "pfifo_fast", "fq_codel", "mq", "noop", "pfifo", "fq"):
            raise OperationFailed(f"{dev} already has a {root.get('kind')} root qdisc; not replacing it")
        try:
            changes.run(Command((*ns, *qdisc_argv(dev, qdisc))), f"{dev}: add {qdisc} qdisc {HANDLE} at the root")
        except CommandFailed as exc:
            if "unknown" in exc.message.lower():
                raise OperationFailed(f"the kernel has no {qdisc} qdisc (sch_{qdisc} module); load it or use --qdisc htb") from exc
            raise
        if qdisc == "htb":
            for argv in htb_class_argvs(dev, rate):
                changes.run(Command((*ns, *argv)), f"{dev}: add htb class {argv[8]} prio {argv[-1]}")
        record["qdisc"] = True
    installed = tc_filters(dev, ns)
    for pref, direction, port in FILTERS:
        if find_filter(installed, pref, direction, port):
            result.unchanged.append(f"{dev}: filter {direction} {port} already in place")
            continue
        changes.run(Command((*ns, *filter_argv(dev, pref, direction, port))), f"{dev}: {direction} {port} -> band {FLOWID}")
        handle = find_filter(tc_filters(dev, ns), pref, direction, port)  # what tc numbered it (None in a dry run)
        record["filters"].append({"pref": pref, "handle": handle, "direction": direction, "port": port})


def undo(*, dry_run: bool = False, state_file: Path = STATE_FILE, netns: str | None = None) -> PriorityResult:
    """Remove exactly what earlier runs added (filters by handle, the qdisc only if we created it)."""
    ns = ("ip", "netns", "exec", netns) if netns else ()
    result = PriorityResult(Changes(dry_run))
    changes = result.changes
    state = load_state(state_file)
    if not state:
        result.unchanged.append("nothing to undo: no earlier `etcd prioritize` recorded")
        return result
    for pid, previous in list(state.get("ionice", {}).items()):
        if Path(f"/proc/{pid}").exists():
            changes.run(Command(ionice_argv(int(pid), previous)), f"ionice pid {pid}: back to {previous}")
        else:
            result.unchanged.append(f"pid {pid} has exited")
        del state["ionice"][pid]
    for dev, record in list(state.get("tc", {}).items()):
        if record.get("qdisc"):
            changes.run(Command((*ns, "tc", "qdisc", "del", "dev", dev, "root", "handle", HANDLE)),
                        f"{dev}: remove the root qdisc {HANDLE} (and its filters)")
        else:
            for f in record.get("filters", []):
                changes.run(Command((*ns, "tc", "filter", "del", "dev", dev, "parent", HANDLE, "protocol", "ip", "prio",
                                     str(f["pref"]), "handle", str(f["handle"]), "u32")),
                            f"{dev}: remove filter {f['direction']} {f['port']}")
        del state["tc"][dev]
    _record(changes, state_file, state)
    return result
