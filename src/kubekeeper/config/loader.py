"""Load and validate `cluster.yaml`; errors name the file, line and option."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import BadInput

ENV_VAR = "KUBEKEEPER_CONFIG"


def config_path(option: Path | None) -> Path:
    if option is not None:
        return option
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    raise BadInput(f"no configuration: pass --config FILE or set {ENV_VAR}")


def _line_of(document: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node along loc that exists in the round-trip document."""
    node, line = document, None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None:
                if isinstance(part, int):
                    line = lc.item(part)[0] + 1
                else:
                    line = lc.key(part)[0] + 1
            node = node[part]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line


def parse_config(text: str, source: str) -> ClusterConfig:
    try:
        document = YAML().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise BadInput(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(document, dict):
        raise BadInput(f"{source}: expected a mapping with cluster, repositories, ...")
    try:
        return ClusterConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        option = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(document, loc)
        where = f"{source}:{line}" if line else source
        return_msg = first["msg"].removeprefix("Value error, ")
        raise BadInput(f"{where}: {option}: {return_msg}") from exc


def load_config(path: Path) -> ClusterConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"configuration file not found: {path}") from exc
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    return parse_config(text, str(path))
