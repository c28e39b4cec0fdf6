"""The parts of `backup all`: every registered data source (backup/sources/) that cluster.yaml turns
on, each a (name, runner(set_id) -> PartOutcome).

Each runner backs its source up through `repository.tagged("set=<id>")`, so every snapshot of one run
carries the backup set's id - the same `back_up` the source's own command calls.
"""

from __future__ import annotations

from collections.abc import Collection

from kubekeeper.backup import sources
from kubekeeper.backup.backup_set import Part, PartOutcome
from kubekeeper.backup.source import AnySource, BackupResult
from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import BadInput
from kubekeeper.progress import SILENT, Progress
from kubekeeper.repository import Repository


def set_tag(set_id: str) -> str:
    return f"set={set_id}"


def outcome(result: BackupResult) -> PartOutcome:
    return PartOutcome(snapshots=list(result.snapshots), bytes_added=result.bytes_added, details=dict(result.details))


def part(source: AnySource, config: ClusterConfig, repository: Repository, progress: Progress) -> Part:
    def run(set_id: str) -> PartOutcome:
        origin = source.from_config(config)  # here, not earlier: a broken setting fails this part only
        tagged = repository.tagged(set_tag(set_id))
        return outcome(source.back_up(tagged, origin, cluster=config.cluster, progress=progress))

    return (source.part, run)


def parts_from_config(config: ClusterConfig, repository: Repository, *, progress: Progress = SILENT,
                      skip: Collection[str] = ()) -> list[Part]:
    """A part per source cluster.yaml enables (minus `skip`), in registration order."""
    names = sources.parts()
    for name in skip:
        if name not in names:
            raise BadInput(f"--skip {name}: choose {sources.one_of(names)}")
    parts: list[Part] = []
    for entry in sources.registered():
        if entry.part in skip:
            continue
        source = entry.load()
        if source.enabled(config):
            parts.append(part(source, config, repository, progress))
    if not parts:
        raise BadInput(f"cluster.yaml enables no part ({', '.join(names)}): nothing to back up")
    return parts
