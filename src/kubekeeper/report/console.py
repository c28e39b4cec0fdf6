"""The two consoles: results on stdout, logs and progress on stderr (so `--format json` stays clean)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from kubekeeper.report.json_format import dumps

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def print_json(document: Any) -> None:
    """JSON on stdout and nothing else (no rich markup, no wrapping)."""
    sys.stdout.write(dumps(document))
    sys.stdout.flush()
