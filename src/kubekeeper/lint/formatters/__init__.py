"""Render a LintResult: text (people), json (scripts), sarif (code-scanning UIs), junit (CI test reports)."""

from __future__ import annotations

from typing import Callable

from kubekeeper.lint.engine import LintResult
from kubekeeper.lint.formatters import json_format, junit, sarif, text

FORMATTERS: dict[str, Callable[[LintResult], str]] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "junit": junit.render,
}


def render(result: LintResult, output_format: str) -> str:
    return FORMATTERS[output_format](result)
