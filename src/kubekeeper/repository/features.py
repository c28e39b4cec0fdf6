"""restic version gates: use newer features only when the installed restic has them.

Debian bookworm ships restic 0.14; `--stdin-from-command` arrived in 0.16, `restore --delete` in
0.17, and dedicated exit codes (10 no repository, 11 locked, 12 wrong password) in 0.17.
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
STDIN_FROM_COMMAND = ResticVersion(0, 16, 0)
RESTORE_DELETE = ResticVersion(0, 17, 0)
TYPED_EXIT_CODES = ResticVersion(0, 17, 0)


def has(version: ResticVersion, feature: ResticVersion) -> bool:
    return version >= feature
