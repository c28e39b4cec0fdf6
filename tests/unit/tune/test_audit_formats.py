"""SARIF 2.1.0 and JUnit XML from `tune audit` validate against their schemas (tests/data/schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import xmlschema

from kubekeeper.report.junit import Case, Suite, junit_document
from kubekeeper.report.sarif import Result, Tool, sarif_document

SCHEMAS = Path(__file__).parents[2] / "data" / "schemas"


def _sarif_validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-2.1.0.json").read_text()))


def test_audit_sarif_validates(cli, node_tree) -> None:
    result = cli("tune", "audit", "--root", str(node_tree("1.30-containerd-v3")), "--nodes", "1000", "--format", "sarif")
    assert result.code == 1
    document = json.loads(result.out)
    _sarif_validator().validate(document)
    results = document["runs"][0]["results"]
    assert any(r["ruleId"] == "kube-apiserver.target-ram-mb" and r["level"] == "error" for r in results)
    located = [r for r in results if r["ruleId"] == "kube-apiserver.target-ram-mb"][0]
    region = located["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "etc/kubernetes/manifests/kube-apiserver.yaml"
    assert region["region"]["startLine"] == 27


def test_sarif_schema_rejects_a_broken_document() -> None:
    document = sarif_document(Tool("t", "1"), [Result("r", "warning", "m", "f.yaml", 3)])
    assert not list(_sarif_validator().iter_errors(document))
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert list(_sarif_validator().iter_errors(document))


def test_audit_junit_validates(cli, node_tree) -> None:
    result = cli("tune", "audit", "--root", str(node_tree("1.20-docker")), "--nodes", "1000", "--format", "junit")
    assert result.code == 1
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))
    schema.validate(result.out)
    assert 'failures="' in result.out and "kube-apiserver.apiserver-count" in result.out


def test_junit_schema_rejects_missing_name() -> None:
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))
    text = junit_document("s", [Suite("s", [Case("r", "s.r", "failure", "m", "error", "error: m"), Case("ok", "s.ok")])])
    assert schema.is_valid(text)
    assert not schema.is_valid(text.replace('name="ok" ', ""))
