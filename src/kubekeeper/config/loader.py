"""Load and validate `cluster.yaml`; errors name the file, line and option.

cluster.yaml is a small settings file (the full commented example is 4 KB), so the loader refuses
what cannot be one before parsing it: ruamel.yaml scans comments one character at a time (a 1 MB
comment line takes ~10 s) and composes nesting by recursion (RecursionError after seconds), and
`/dev/zero` or a log file passed by mistake would be read forever. The bounds are data below.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import YAMLError

from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import BadInput

ENV_VAR = "KUBEKEEPER_CONFIG"
#: bounds for cluster.yaml: room for thousands of PVCs listed one per line, far below where parsing slows
MAX_BYTES = 1 << 20  # 1 MiB
MAX_LINE = 64 << 10  # characters in one line (a 64 KiB comment parses in ~15 ms)
MAX_DEPTH = 32  # nesting levels; the schema needs 5


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


def _check_lines(text: str, source: str) -> None:
    start, number = 0, 1
    while start <= len(text):
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        if end - start > MAX_LINE:
            raise BadInput(f"{source}:{number}: line is {end - start:,} characters long; "
                           f"cluster.yaml lines may have at most {MAX_LINE:,}")
        start, number = end + 1, number + 1


def parse_config(text: str, source: str) -> ClusterConfig:
    return parse_config_document(text, source)[0]


def parse_config_document(text: str, source: str) -> tuple[ClusterConfig, Any]:
    """The config and its round-trip YAML document (which knows each key's line, see `line_of`)."""
    _check_lines(text, source)
    yaml = YAML()
    yaml.max_depth = MAX_DEPTH
    try:
        document = yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise BadInput(f"{where}: nested deeper than {MAX_DEPTH} levels; cluster.yaml needs at most 5") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise BadInput(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(document, dict):
        raise BadInput(f"{source}: expected a mapping with cluster, repositories, ...")
    try:
        return ClusterConfig.model_validate(document), document
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        option = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(document, loc)
        where = f"{source}:{line}" if line else source
        return_msg = first["msg"].removeprefix("Value error, ")
        raise BadInput(f"{where}: {option}: {return_msg}") from exc


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text (a BOM is fine); anything else is bad input naming the line and byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadInput(f"{source}: UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise BadInput(f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} in column {column}); "
                       "save the file as UTF-8") from None


def load_config(path: Path) -> ClusterConfig:
    return load_config_document(path)[0]


def line_of(document: Any, *loc: str | int) -> int | None:
    """1-based line of the key at `loc` (e.g. "etcd", "endpoints", 1) in a document from
    `load_config_document`, or of its deepest parent that is there."""
    return _line_of(document, loc)


def load_config_document(path: Path) -> tuple[ClusterConfig, Any]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # bounded: /dev/zero or a huge log given by mistake
    except FileNotFoundError as exc:
        raise BadInput(f"configuration file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise BadInput(f"{path} is a directory, not a configuration file") from exc
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_BYTES:
        raise BadInput(f"{path}: larger than {MAX_BYTES >> 20} MiB; cluster.yaml is a small settings file - is it the right file?")
    return parse_config_document(decode_text(data, str(path)), str(path))
