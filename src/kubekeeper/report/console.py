"""The two consoles: results on stdout, logs and progress on stderr (so `--format json` stays clean)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def print_json(document: Any) -> None:
    """JSON on stdout and nothing else (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()
