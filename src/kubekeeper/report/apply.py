"""Text rendering of a `tune apply` result: diffs (dry run) or what changed, and what needs a restart."""

from __future__ import annotations

from kubekeeper.tune.apply import ApplyResult


def apply_text(result: ApplyResult) -> str:
    if not result.changed:
        return "nothing changed: the node already matches the plan\n"
    lines: list[str] = []
    verb = "would change" if result.dry_run else "changed"
    for change in result.files:
        if result.dry_run:
            lines.append(change.diff().rstrip("\n"))
        else:
            lines.append(f"{verb} {change.name}")
    for live in result.live:
        lines.append(f"{'would set' if result.dry_run else 'set'} live sysctl {live.key}: {live.old} -> {live.new}")
    for path in result.backups:
        lines.append(f"backup {path}")
    if result.restarts:
        lines.append(f"restart needed (not done by kubekeeper): {', '.join(result.restarts)}")
    lines += [f"note: {note}" for note in result.notes]
    if result.dry_run:
        lines.append("dry run: nothing was changed")
    return "\n".join(lines) + "\n"
