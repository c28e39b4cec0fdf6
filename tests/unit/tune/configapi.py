"""Strict validation of config documents against the upstream config-API reference (tests/data/config-api).

The reference pages are generated from the Kubernetes Go types (kubernetes-sigs/reference-docs genref):
one section per type, one table row per field with its JSON name and type. This module reads those
tables into {type: {field: type}} and checks a document the way kubeadm's strict decoding does:
unknown fields and wrong shapes (a map where the type is a list, a string where it is an object)
are errors. It checks shapes, not value semantics.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parents[2] / "data" / "config-api"
_SECTION = re.compile(r"^## `(\w+)`\s+\{#([\w.-]+)\}", re.M)
_ROW = re.compile(r"<tr><td><code>([\w-]+)</code>(?: <B>\[Required\]</B>)?<br/>\s*(.*?)\s*</td>", re.S)
_LINKED = re.compile(r'<a href="([^"]+)"><code>([^<]+)</code></a>')
_PLAIN = re.compile(r"<code>([^<]+)</code>")
_ALIAS = re.compile(r"\(Alias of `([^`]+)`\)")
_EMBEDDED = re.compile(r"\(Members of <code>(\w+)</code> are embedded into this type\.\)")
SCALARS = {
    "string": str, "bool": bool, "int": int, "int32": int, "int64": int, "uint16": int, "uint32": int,
    "uint64": int, "float32": (int, float), "float64": (int, float), "byte": int,
}
#: external types by their printed name: what a YAML document holds for them
EXTERNAL = {"meta/v1.Duration": str, "meta/v1.Time": str, "resource.Quantity": (str, int), "time.Duration": str}


@dataclass
class TypeInfo:
    fields: dict[str, str] = field(default_factory=dict)  # json name -> type expression
    embedded: list[str] = field(default_factory=list)
    alias_of: str | None = None


@dataclass
class ApiSchema:
    group_version: str
    types: dict[str, TypeInfo]

    def validate(self, document: dict[str, Any]) -> list[str]:
        kind = document.get("kind")
        if document.get("apiVersion") != self.group_version:
            return [f"apiVersion {document.get('apiVersion')!r} is not {self.group_version}"]
        if kind not in self.types:
            return [f"kind {kind!r} is not a type of {self.group_version}"]
        body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
        return self._object(kind, body, kind)

    def _fields(self, type_name: str) -> dict[str, str]:
        info = self.types[type_name]
        merged = dict(info.fields)
        for inner in info.embedded:
            merged.update(self._fields(inner))
        return merged

    def _object(self, type_name: str, value: Any, where: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: expected an object ({type_name}), got {type(value).__name__}"]
        fields = self._fields(type_name)
        errors = []
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{where}.{key}: unknown field of {type_name}")
                continue
            errors += self._value(fields[key], item, f"{where}.{key}")
        return errors

    def _value(self, type_expr: str, value: Any, where: str) -> list[str]:
        if value is None:
            return []
        if type_expr.startswith("[]"):
            if not isinstance(value, list):
                return [f"{where}: expected a list ({type_expr}), got {type(value).__name__}"]
            return [e for i, item in enumerate(value) for e in self._value(type_expr[2:], item, f"{where}[{i}]")]
        if type_expr.startswith("map["):
            if not isinstance(value, dict):
                return [f"{where}: expected a map ({type_expr}), got {type(value).__name__}"]
            inner = type_expr[type_expr.index("]") + 1:]
            return [e for k, item in value.items() for e in self._value(inner, item, f"{where}.{k}")]
        if type_expr in SCALARS or type_expr in EXTERNAL:
            expected = SCALARS.get(type_expr) or EXTERNAL[type_expr]
            ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
            return [] if ok else [f"{where}: expected {type_expr}, got {value!r}"]
        if type_expr in self.types:
            alias = self.types[type_expr].alias_of
            if alias:
                return self._value(alias, value, where)
            return self._object(type_expr, value, where)
        return []  # a type from another API group (core/v1 ...): its shape is not checked here


def _type_expr(cell: str) -> str:
    linked = _LINKED.search(cell)
    if linked:
        return html.unescape(linked.group(2))
    plain = _PLAIN.search(cell)
    return html.unescape(plain.group(1) if plain else re.sub(r"<[^>]+>", "", cell).strip())


def parse_reference(text: str) -> ApiSchema:
    group_version = re.search(r"^package: (\S+)$", text, re.M)
    if not group_version:
        raise ValueError("not a config-API reference page (no `package:` header)")
    sections = list(_SECTION.finditer(text))
    types: dict[str, TypeInfo] = {}
    for index, match in enumerate(sections):
        end = sections[index + 1].start() if index + 1 < len(sections) else len(text)
        body = text[match.end():end]
        info = TypeInfo()
        alias = _ALIAS.search(body)
        if alias:
            info.alias_of = alias.group(1)
        for row in _ROW.finditer(body):
            name, cell = row.group(1), row.group(2)
            after = body[row.end(): row.end() + 600]
            embedded = _EMBEDDED.search(after.split("</tr>")[0])
            if embedded:
                info.embedded.append(embedded.group(1))
            elif name not in ("apiVersion", "kind"):
                info.fields[name] = _type_expr(cell)
        types[match.group(1)] = info
    return ApiSchema(group_version.group(1), types)


def load_schema(page: str) -> ApiSchema:
    """`kubeadm-config.v1beta4` -> the schema of that reference page under tests/data/config-api."""
    return parse_reference((DATA / f"{page}.md").read_text())


SCHEMA_FOR_API = {
    "kubeadm.k8s.io/v1beta3": "kubeadm-config.v1beta3",
    "kubeadm.k8s.io/v1beta4": "kubeadm-config.v1beta4",
    "kubelet.config.k8s.io/v1beta1": "kubelet-config.v1beta1",
    "kubeproxy.config.k8s.io/v1alpha1": "kube-proxy-config.v1alpha1",
    "kubescheduler.config.k8s.io/v1": "kube-scheduler-config.v1",
}


def validate_documents(documents: list[dict[str, Any]]) -> list[str]:
    """Every error in a multi-document config (kubeadm's --config file), by its apiVersion."""
    errors = []
    for doc in documents:
        page = SCHEMA_FOR_API.get(doc.get("apiVersion", ""))
        if page is None:
            errors.append(f"no reference schema for {doc.get('apiVersion')!r}")
            continue
        errors += load_schema(page).validate(doc)
    return errors
