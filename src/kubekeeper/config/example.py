"""`kubekeeper config example`: a commented cluster.yaml generated from the schema itself, so the
documentation can never drift from what `config check` accepts."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from kubekeeper.config.schema import ClusterConfig, RepositoryRef

HEADER = """\
# kubekeeper cluster.yaml - what `kubekeeper backup all` backs up, where to, and how long to keep it.
# Secrets are references (a file or an environment variable), never values in this file.
# Check it with: kubekeeper config check --config cluster.yaml
"""


def _scalar(value: Any) -> str:
    """A YAML scalar: plain when unambiguous, JSON-quoted otherwise (globs, URLs, `$`)."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_/][A-Za-z0-9_./+=-]*", value):
        return value
    return json.dumps(value)


def _model_lines(model: type[BaseModel], indent: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = _nested_model(annotation)
        lines.append(f"{pad}# {field.description}")
        if nested is RepositoryRef and name == "copies":
            lines.append(f"{pad}{name}:")
            lines.append(f"{pad}  - url: rest:https://backup.example.com:8000/cluster")
            lines.append(f"{pad}    password: {{env: RESTIC_COPY_PASSWORD}}")
        elif nested is not None and not field.examples:
            lines.append(f"{pad}{name}:")
            lines.extend(_model_lines(nested, indent + 2))
        else:
            example = field.examples[0] if field.examples else None
            lines.append(_render_value(pad, name, example))
    return lines


def _render_value(pad: str, name: str, example: Any) -> str:
    if isinstance(example, list) and any(isinstance(v, dict) for v in example):
        items = ", ".join("{" + ", ".join(f"{k}: {_scalar(str(v))}" for k, v in item.items()) + "}" for item in example)
        return f"{pad}{name}: [{items}]"
    if isinstance(example, list):
        items = ", ".join(_scalar(v) for v in example)
        return f"{pad}{name}: [{items}]"
    if isinstance(example, dict):
        items = ", ".join(f"{k}: {_scalar(v)}" for k, v in example.items())
        return f"{pad}{name}: {{{items}}}"
    if example is None:
        return f"{pad}# {name}:"
    return f"{pad}{name}: {_scalar(example)}"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def example_config() -> str:
    return HEADER + "\n".join(_model_lines(ClusterConfig, 0)) + "\n"
