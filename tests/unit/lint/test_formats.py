"""Every output format; SARIF against the official 2.1.0 schema, JUnit against the XSD (tests/data/schemas)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema

from tests.unit.lint.conftest import container, deployment, to_yaml

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "schemas"
BARE_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": {"containers": [container(requests=None, limits=None)]}}


@pytest.fixture
def manifest_file(write):
    return write("app.yaml", to_yaml(deployment("clean"), deployment("web", namespace="kube-system"), BARE_POD))


def test_json_shape(cli, manifest_file):
    result = cli("lint", str(manifest_file), "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert set(document) == {"findings", "workloads"}
    keys = {"rule", "severity", "file", "line", "kind", "namespace", "name", "container", "message"}
    assert all(set(f) == keys for f in document["findings"])
    pod = [f for f in document["findings"] if f["name"] == "debug"]
    assert {f["rule"] for f in pod} == {"bare-pod", "qos-best-effort", "resource-requests", "resource-limits"}
    assert all(f["namespace"] is None and f["file"] == str(manifest_file) and isinstance(f["line"], int) for f in pod)
    assert next(f for f in pod if f["rule"] == "bare-pod")["container"] is None
    assert next(f for f in pod if f["rule"] == "resource-limits")["container"] == "app"
    assert document["workloads"] == [
        {"file": str(manifest_file), "kind": "Deployment", "namespace": "prod", "name": "clean", "qos": "Guaranteed"},
        {"file": str(manifest_file), "kind": "Deployment", "namespace": "kube-system", "name": "web", "qos": "Guaranteed"},
        {"file": str(manifest_file), "kind": "Pod", "namespace": None, "name": "debug", "qos": "BestEffort"},
    ]


def test_json_line_points_at_the_container(cli, manifest_file):
    document = json.loads(cli("lint", str(manifest_file), "--format", "json").out)
    lines = manifest_file.read_text().splitlines()
    finding = next(f for f in document["findings"] if f["rule"] == "resource-limits")
    assert lines[finding["line"] - 1].lstrip().startswith("- name: app")


def test_sarif_validates_against_the_official_schema(cli, manifest_file):
    result = cli("lint", str(manifest_file), "--format", "sarif")
    document = json.loads(result.out)
    schema = json.loads((SCHEMAS / "sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    run = document["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {r["ruleId"] for r in run["results"]} <= set(rule_ids)
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert {r["level"] for r in run["results"]} <= {"error", "warning", "note"}
    broken = dict(document, version="2.0.0")
    with pytest.raises(jsonschema.ValidationError):  # the schema really checks
        jsonschema.Draft4Validator(schema).validate(broken)


def test_junit_validates_against_the_xsd(cli, manifest_file):
    result = cli("lint", str(manifest_file), "--format", "junit")
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))
    schema.validate(io.StringIO(result.out))
    root = ET.fromstring(result.out)
    failures = root.findall(".//failure")
    assert int(root.get("failures")) == len(failures) > 0
    assert any("clean" in case.get("name") for case in root.iter("testcase") if case.find("failure") is None)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(io.StringIO(result.out.replace("<testsuite ", "<testsuitex ", 1).replace("</testsuite>", "</testsuitex>", 1)))


def test_text_groups_by_file_and_object_with_hints(cli, manifest_file):
    out = cli("lint", str(manifest_file)).out
    assert out.splitlines()[0] == str(manifest_file)
    assert "  Pod debug  [QoS BestEffort: evicted first under node pressure]" in out
    assert "bare-pod" in out and "fix: wrap the pod spec in a Deployment" in out
    assert "Deployment prod/clean" not in out  # clean objects are not listed
    assert out.rstrip().splitlines()[-1].startswith("3 workloads (1 BestEffort, 2 Guaranteed):")
