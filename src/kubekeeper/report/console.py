"""The two consoles: results on stdout, logs and progress on stderr (so `--format json` stays clean).

Everything printed passes through redact (URL credentials and registered secrets masked by value),
like log records do: a secret must not reach the terminal through a message that happens to quote it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from kubekeeper import redact
from kubekeeper.report.json_format import dumps


class RedactingConsole(Console):
    """A rich Console whose printed strings are redacted first."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(redact.redact(o) if isinstance(o, str) else o for o in objects), **kwargs)


stdout = RedactingConsole(soft_wrap=True)
stderr = RedactingConsole(stderr=True, soft_wrap=True)


def redact_document(document: Any) -> Any:
    """A JSON-able document with every string redacted (keys and values; numbers untouched)."""
    if isinstance(document, str):
        return redact.redact(document)
    if isinstance(document, dict):
        return {redact_document(k) if isinstance(k, str) else k: redact_document(v) for k, v in document.items()}
    if isinstance(document, (list, tuple)):
        return [redact_document(v) for v in document]
    return document


def print_json(document: Any) -> None:
    """JSON on stdout and nothing else (no rich markup, no wrapping), secrets masked."""
    sys.stdout.write(dumps(redact_document(json.loads(dumps(document)))))
    sys.stdout.flush()
