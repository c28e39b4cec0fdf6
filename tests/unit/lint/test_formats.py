"""Every output format, findings and per-file problems alike; SARIF against the official 2.1.0 schema,
JUnit against the XSD (tests/data/schemas)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema

from tests.unit.lint.conftest import container, deployment, pdb, to_yaml

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "schemas"
BARE_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": {"containers": [container(requests=None, limits=None)]}}
TEMPLATED = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"


@pytest.fixture
def manifest_file(write):
    return write("app.yaml", to_yaml(deployment("clean"), pdb("clean"), deployment("web", namespace="kube-system"), BARE_POD))


@pytest.fixture
def with_problems(write, manifest_file):
    write("chart.yaml", TEMPLATED)
    write("patch.yaml", "- op: remove\n  path: /spec/replicas\n")
    return manifest_file.parent


def sarif_schema():
    return json.loads((SCHEMAS / "sarif-2.1.0.json").read_text())


def test_json_shape(cli, manifest_file):
    result = cli("lint", str(manifest_file), "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert set(document) == {"findings", "workloads", "problems", "summary"}
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
    assert document["problems"] == []
    assert document["summary"]["files"] == 1 and document["summary"]["workloads"] == 3 and document["summary"]["refused"] == 0


def test_json_problems_and_summary(cli, with_problems):
    document = json.loads(cli("lint", str(with_problems), "--format", "json").out)
    assert [(p["file"].rsplit("/", 1)[1], p["line"], p["level"], p["reason"]) for p in document["problems"]] == [
        ("chart.yaml", 4, "error", "template"), ("patch.yaml", 1, "note", "not-an-object")]
    summary = document["summary"]
    assert (summary["files"], summary["refused"], summary["refused_files"], summary["skipped"], summary["skipped_files"]) == (3, 1, 1, 1, 1)
    assert summary["findings"]["error"] == sum(f["severity"] == "error" for f in document["findings"])


def test_json_line_points_at_the_container(cli, manifest_file):
    document = json.loads(cli("lint", str(manifest_file), "--format", "json").out)
    lines = manifest_file.read_text().splitlines()
    finding = next(f for f in document["findings"] if f["rule"] == "resource-limits")
    assert lines[finding["line"] - 1].lstrip().startswith("- name: app")


def test_sarif_validates_against_the_official_schema(cli, manifest_file):
    result = cli("lint", str(manifest_file), "--format", "sarif")
    document = json.loads(result.out)
    schema = sarif_schema()
    jsonschema.Draft4Validator(schema).validate(document)
    run = document["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {r["ruleId"] for r in run["results"]} <= set(rule_ids)
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert {r["level"] for r in run["results"]} <= {"error", "warning", "note"}
    assert run["invocations"][0]["toolExecutionNotifications"] == []
    broken = dict(document, version="2.0.0")
    with pytest.raises(jsonschema.ValidationError):  # the schema really checks
        jsonschema.Draft4Validator(schema).validate(broken)


def test_sarif_reports_refused_and_skipped_input(cli, with_problems):
    document = json.loads(cli("lint", str(with_problems), "--format", "sarif").out)
    jsonschema.Draft4Validator(sarif_schema()).validate(document)
    run = document["runs"][0]
    notifications = run["invocations"][0]["toolExecutionNotifications"]
    assert [(n["level"], n["descriptor"]["id"], n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[1],
             n["locations"][0]["physicalLocation"].get("region", {}).get("startLine")) for n in notifications] == [
        ("error", "input-refused", "chart.yaml", 4), ("note", "input-skipped", "patch.yaml", 1)]
    descriptors = [d["id"] for d in run["tool"]["driver"]["notifications"]]
    assert all(descriptors[n["descriptor"]["index"]] == n["descriptor"]["id"] for n in notifications)
    refused = [r for r in run["results"] if r["ruleId"] == "input-refused"]
    assert len(refused) == 1 and refused[0]["level"] == "error" and refused[0]["message"]["text"].startswith("template: ")
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids[refused[0]["ruleIndex"]] == "input-refused"


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


def test_junit_error_case_per_refused_document_and_skipped_case(cli, with_problems):
    out = cli("lint", str(with_problems), "--format", "junit").out
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(io.StringIO(out))
    root = ET.fromstring(out)
    (error,) = root.findall(".//error")
    assert error.get("type") == "template" and error.text.endswith(f"chart.yaml:4: refused: template: {error.get('message')}")
    (skipped,) = root.findall(".//skipped")
    assert "not a Kubernetes object" in skipped.get("message")
    assert root.get("errors") == "1"
    suites = {suite.get("name").rsplit("/", 1)[1]: suite for suite in root.iter("testsuite")}
    assert suites["chart.yaml"].get("errors") == "1" and suites["patch.yaml"].get("skipped") == "1"
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites.values())


def test_text_groups_by_file_and_object_with_hints(cli, manifest_file):
    out = cli("lint", str(manifest_file)).out
    assert out.splitlines()[0] == str(manifest_file)
    assert "  Pod debug  [QoS BestEffort: evicted first under node pressure]" in out
    assert "bare-pod" in out and "fix: wrap the pod spec in a Deployment" in out
    assert "Deployment prod/clean" not in out  # clean objects are not listed
    assert out.rstrip().splitlines()[-1].startswith("3 workloads (1 BestEffort, 2 Guaranteed):")


def test_text_lists_problems_under_their_file(cli, with_problems):
    out = cli("lint", str(with_problems)).out
    assert f"{with_problems}/chart.yaml\n        4  refused template           unrendered template: does not parse as YAML" in out
    assert f"{with_problems}/patch.yaml\n        1  skipped not-an-object" in out
