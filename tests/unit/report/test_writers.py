"""The one writer per format (report/sarif.py, junit.py, json_format.py) that lint and tune audit share:
documents valid against the official schemas (tests/data/schemas), indexes and counts derived right."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import xmlschema

from kubekeeper.report import sarif
from kubekeeper.report.json_format import dumps, dumps_itemwise
from kubekeeper.report.junit import Case, Suite, junit_document

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "schemas"


def _sarif_errors(document: dict) -> list[str]:
    validator = jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-2.1.0.json").read_text()))
    return [error.message for error in validator.iter_errors(document)]


def _lint_like() -> dict:
    tool = sarif.Tool(
        "kubekeeper", "1.0", [sarif.Rule("b-rule", "B", "B in full", "fix b", level="warning", named=True),
                              sarif.Rule("a-rule", "A", level="error")],
        "https://example.invalid/tool", [sarif.Descriptor("refused", "could not read"), sarif.Descriptor("skipped", "not ours")])
    results = [sarif.Result("a-rule", "error", "a at fault", "./dir/x.yaml", 7, "prod/Deployment/web"),
               sarif.Result("b-rule", "warning", "b at fault", "<stdin>"),
               sarif.Result("unknown-rule", "note", "no location")]
    notifications = [sarif.Notification("skipped", "note", "a patch list", "p.yaml", 1),
                     sarif.Notification("refused", "error", "bad YAML", "bad.yaml")]
    return sarif.sarif_document(tool, results, notifications=notifications)


def test_sarif_with_rules_results_and_notifications_is_valid() -> None:
    document = _lint_like()
    assert _sarif_errors(document) == []
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["b-rule", "a-rule", "unknown-rule"]  # the caller's order, bare entry last
    assert rules[0] == {"id": "b-rule", "name": "b-rule", "shortDescription": {"text": "B"}, "fullDescription": {"text": "B in full"},
                        "help": {"text": "fix b"}, "defaultConfiguration": {"level": "warning"}}
    assert rules[2] == {"id": "unknown-rule", "shortDescription": {"text": "unknown-rule"}}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    first = run["results"][0]["locations"][0]
    assert first["physicalLocation"] == {"artifactLocation": {"uri": "dir/x.yaml"}, "region": {"startLine": 7}}
    assert first["logicalLocations"] == [{"fullyQualifiedName": "prod/Deployment/web", "kind": "object"}]
    assert run["results"][1]["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "stdin"}}
    assert "locations" not in run["results"][2]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    descriptors = run["tool"]["driver"]["notifications"]
    assert [descriptors[n["descriptor"]["index"]]["id"] for n in notes] == ["skipped", "refused"]
    assert [n["descriptor"]["id"] for n in notes] == ["skipped", "refused"]


def test_sarif_with_a_base_uri_and_no_invocation_is_valid() -> None:
    tool = sarif.Tool("kubekeeper tune audit", "1.0", [sarif.Rule("s.k", "why", help_uri="https://example.invalid/doc")])
    document = sarif.sarif_document(tool, [sarif.Result("s.k", "warning", "m", "etc/x.conf", 3)], base_uri="file:///node")
    assert _sarif_errors(document) == []
    run = document["runs"][0]
    assert "invocations" not in run and "notifications" not in run["tool"]["driver"]
    assert run["originalUriBaseIds"] == {"ROOT": {"uri": "file:///node/"}}
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "etc/x.conf", "uriBaseId": "ROOT"}
    assert run["tool"]["driver"]["rules"][0]["helpUri"] == "https://example.invalid/doc"


def test_sarif_schema_catches_a_bad_level() -> None:
    document = _lint_like()
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert _sarif_errors(document)


def _junit() -> str:
    return junit_document("tool", [
        Suite("a.yaml", [Case("ok", "a.yaml"), Case("bad", "a.yaml", "failure", "m", "warning", "a.yaml:3: m"),
                         Case("refused", "a.yaml", "error", "bad YAML", "yaml", "a.yaml:1: refused"),
                         Case("patch", "a.yaml", "skipped", "not an object")]),
        Suite("b.yaml", [Case("bad too", "b.yaml", "failure", "n", "error", "b.yaml:1: n")]),
    ])


def test_junit_counts_every_outcome_and_validates() -> None:
    text = _junit()
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(text)
    root = ET.fromstring(text.split("\n", 1)[1])
    assert {k: root.get(k) for k in ("tests", "failures", "errors")} == {"tests": "5", "failures": "2", "errors": "1"}
    first, second = root.findall("testsuite")
    assert {k: first.get(k) for k in ("tests", "failures", "errors", "skipped")} == {"tests": "4", "failures": "1", "errors": "1", "skipped": "1"}
    assert {k: second.get(k) for k in ("tests", "failures", "errors", "skipped")} == {"tests": "1", "failures": "1", "errors": "0", "skipped": "0"}
    cases = first.findall("testcase")
    assert list(cases[0]) == []
    assert cases[1].find("failure").attrib == {"message": "m", "type": "warning"} and cases[1].find("failure").text == "a.yaml:3: m"
    assert cases[2].find("error").attrib == {"message": "bad YAML", "type": "yaml"}
    assert cases[3].find("skipped").attrib == {"message": "not an object"} and cases[3].find("skipped").text is None


def test_junit_schema_catches_a_case_without_name() -> None:
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))
    assert not schema.is_valid(_junit().replace('name="ok" ', ""))


def test_json_layouts_are_the_same_document() -> None:
    document = {"findings": [{"rule": "r", "line": 3}, {"rule": "s", "line": None}], "empty": [], "summary": {"n": 2},
                "path": Path("/x")}
    itemwise = dumps_itemwise(document)
    assert json.loads(itemwise) == json.loads(dumps(document)) == {**document, "path": "/x"}
    assert '    {"rule": "r", "line": 3},\n    {"rule": "s", "line": null}\n' in itemwise  # one item per line
    assert '  "empty": []' in itemwise and '  "summary": {"n": 2}' in itemwise
