"""`ls` and `diff` as text and JSON, each in the terms of the snapshot's kind: a registry's
repositories, tags and digests; a volume's files; etcd's revision, members and size."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from kubekeeper.backup.contents import Listing, SeriesDiff, SetDiff
from kubekeeper.backup.source import Entry
from kubekeeper.report.console import stdout
from kubekeeper.report.run_report import size_text
from kubekeeper.report.snapshot import snapshot_json
from kubekeeper.repository.tags import typed_details


def entry_json(entry: Entry) -> dict[str, Any]:
    doc: dict[str, Any] = {"path": entry.path, "type": entry.type, "size": entry.size, "fingerprint": entry.fingerprint}
    if entry.type == "manifest":  # `repository:tag`, or `repository@digest` when untagged
        if "@" in entry.path:
            repository, tag = entry.path.split("@", 1)[0], None
        else:
            repository, _, tag = entry.path.rpartition(":")
        doc.update({"repository": repository, "tag": tag, "digest": entry.fingerprint})
    return doc


def listing_json(listing: Listing) -> dict[str, Any]:
    doc: dict[str, Any] = {"snapshot": snapshot_json(listing.snapshot), "kind": listing.kind,
                           "count": len(listing.entries), "size": listing.total_size,
                           "entries": [entry_json(e) for e in listing.entries]}
    if listing.kind == "registry":
        repositories: dict[str, list[dict[str, Any]]] = {}
        for e in (entry_json(x) for x in listing.entries if x.type == "manifest"):
            repositories.setdefault(e["repository"], []).append({"tag": e["tag"], "digest": e["digest"], "size": e["size"]})
        doc["repositories"] = [{"repository": name, "references": refs} for name, refs in sorted(repositories.items())]
    if listing.kind == "etcd":
        details = typed_details(listing.snapshot.tags)
        doc["etcd"] = {k: details.get(k) for k in ("revision", "revision_max", "member_count", "members", "db_size", "etcd_version",
                                                    "leader")}
        if isinstance(doc["etcd"]["members"], str):
            doc["etcd"]["members"] = doc["etcd"]["members"].split(";")
    return doc


def show_listing(listing: Listing) -> None:
    s = listing.snapshot
    details = typed_details(s.tags)
    stdout.print(f"snapshot {s.short_id} ({listing.kind}, {s.time:%Y-%m-%d %H:%M:%S} UTC)", highlight=False, markup=False)
    if listing.kind == "etcd":
        members = str(details.get("members", "")).replace(";", ", ")
        db = details.get("db_size")
        stdout.print(f"etcd {details.get('etcd_version', '?')}: revision {details.get('revision', '?')}, "
                     f"{details.get('member_count', '?')} member(s) ({members}), db {db:,} bytes" if isinstance(db, int) else
                     f"etcd revision {details.get('revision', '?')}", highlight=False, markup=False)
    if listing.kind == "registry":
        refs = [entry_json(e) for e in listing.entries if e.type == "manifest"]
        repositories = sorted({r["repository"] for r in refs})
        stdout.print(f"registry {details.get('registry', '?')}: {len(repositories)} repositories, {len(refs)} references",
                     highlight=False, markup=False)
        for r in refs:
            name = f"{r['repository']}:{r['tag']}" if r["tag"] else f"{r['repository']} (untagged)"
            stdout.print(f"  {name:<48} {r['digest']}  {size_text(r['size'] or 0):>10}", highlight=False, markup=False)
        return
    files = [e for e in listing.entries if e.type == "file"]
    stdout.print(f"{len(files)} file(s), {size_text(sum(e.size or 0 for e in files))}", highlight=False, markup=False)
    for e in listing.entries:
        size = size_text(e.size) if e.size is not None else ""
        stdout.print(f"  {e.type:<8} {size:>10}  {escape(e.path)}", highlight=False)


def series_json(diff: SeriesDiff) -> dict[str, Any]:
    before, after = diff.revision_change
    return {
        "part": diff.part, "name": diff.name,
        "before": snapshot_json(diff.before) if diff.before else None,
        "after": snapshot_json(diff.after) if diff.after else None,
        "added": [entry_json(e) for e in diff.added],
        "removed": [entry_json(e) for e in diff.removed],
        "changed": [{"before": entry_json(a), "after": entry_json(b)} for a, b in diff.changed],
        "revision": {"before": int(before) if before and before.isdigit() else before,
                     "after": int(after) if after and after.isdigit() else after} if before or after else None,
        "unchanged": diff.unchanged,
    }


def set_diff_json(diff: SetDiff) -> dict[str, Any]:
    return {"set_a": diff.set_a, "set_b": diff.set_b, "series": [series_json(s) for s in diff.series]}


def _label(entry: Entry) -> str:
    if entry.type == "manifest":
        return f"{entry.path} {entry.fingerprint}"
    return entry.path


def show_set_diff(diff: SetDiff) -> None:
    stdout.print(f"backup set {diff.set_a} -> {diff.set_b}", highlight=False, markup=False)
    for s in diff.series:
        label = s.name if s.name == s.part else f"{s.part} {s.name}"
        if s.before is None:
            stdout.print(f"+ {label}: only in {diff.set_b} (snapshot {s.after.short_id if s.after else '?'})", highlight=False, markup=False)
            continue
        if s.after is None:
            stdout.print(f"- {label}: only in {diff.set_a} (snapshot {s.before.short_id})", highlight=False, markup=False)
            continue
        before, after = s.revision_change
        revision = f", revision {before} -> {after}" if before != after else ""
        if s.unchanged:
            stdout.print(f"= {label}: unchanged ({s.before.short_id} -> {s.after.short_id})", highlight=False, markup=False)
            continue
        stdout.print(f"~ {label}: {len(s.added)} added, {len(s.removed)} removed, {len(s.changed)} changed{revision} "
                     f"({s.before.short_id} -> {s.after.short_id})", highlight=False, markup=False)
        for e in s.added:
            stdout.print(f"    + {_label(e)}", highlight=False, markup=False)
        for e in s.removed:
            stdout.print(f"    - {_label(e)}", highlight=False, markup=False)
        for a, b in s.changed:
            what = f"{a.fingerprint} -> {b.fingerprint}" if a.type == "manifest" else f"{size_text(a.size or 0)} -> {size_text(b.size or 0)}"
            stdout.print(f"    ~ {a.path}: {what}", highlight=False, markup=False)
