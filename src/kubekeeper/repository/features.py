"""restic version gates: use newer features only when the installed restic has them.

Debian bookworm ships restic 0.14, trixie 0.18. What each version adds that kubekeeper uses:

- 0.14: repository format 2 with compression (`--compression auto|max|off`), `--json` everywhere.
- 0.15: `backup --no-scan` (kubekeeper never shows restic's ETA, so the second walk of the whole volume
  that only feeds it is skipped - restic's changelog: it "can slow down backups, especially of network
  filesystems").
- 0.16: `backup --stdin-from-command` (restic runs the producer and keeps the snapshot only if it
  exits 0: the etcd stream is committed only once its SHA-256 trailer verified), `--retry-lock`.
- 0.17: `restore --json` status lines (restore progress; older versions restore without it),
  `restore --delete` and `--overwrite` (an interrupted restore is resumed in place), exit codes
  10 (no repository) and 11 (locked), JSON `exit_error` and `error` messages; 0.17.1: exit code 12
  (wrong password) and `--stuck-request-timeout`.
- 0.18: (nothing further that kubekeeper depends on; it is the tested version).
Older versions get the same results by slower or text-based means, noted where they are gated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubekeeper.errors import OperationFailed


@dataclass(frozen=True, order=True)
class ResticVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, output: str) -> ResticVersion:
        match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", output)
        if not match:
            raise OperationFailed(f"cannot read restic version from {output.strip()[:80]!r}")
        return cls(*(int(g) for g in match.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


MINIMUM = ResticVersion(0, 14, 0)
NO_SCAN = ResticVersion(0, 15, 0)
STDIN_FROM_COMMAND = ResticVersion(0, 16, 0)
RETRY_LOCK = ResticVersion(0, 16, 0)
RESTORE_DELETE = ResticVersion(0, 17, 0)
RESTORE_STATUS = ResticVersion(0, 17, 0)
TYPED_EXIT_CODES = ResticVersion(0, 17, 0)
STUCK_REQUEST_TIMEOUT = ResticVersion(0, 17, 1)


def has(version: ResticVersion, feature: ResticVersion) -> bool:
    return version >= feature
