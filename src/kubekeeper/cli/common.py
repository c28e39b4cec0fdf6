"""Options and helpers shared by every command."""

from __future__ import annotations

from enum import StrEnum

import typer


class Format(StrEnum):
    text = "text"
    json = "json"


class ReportFormat(StrEnum):
    """Formats for commands that report findings (lint, tune audit)."""

    text = "text"
    json = "json"
    sarif = "sarif"
    junit = "junit"


FORMAT_OPTION = typer.Option(Format.text, "--format", help="Output format; json goes to stdout alone.")
REPORT_FORMAT_OPTION = typer.Option(ReportFormat.text, "--format", help="Output format (text, json, sarif, junit).")
#: cluster.yaml, for every command that reads it (backup all, config check, ...)
CONFIG_OPTION = typer.Option(None, "--config", "-c", envvar="KUBEKEEPER_CONFIG", show_envvar=True, help="Path of cluster.yaml.")
