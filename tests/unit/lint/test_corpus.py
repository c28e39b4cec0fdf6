"""`kubekeeper lint` on real published manifests (tests/data/lint-corpus, origin in its SOURCES).

The expectations are computed here independently of the code under test: workloads are found by a
plain `yaml.safe_load_all` (or `json.load`) walk, and the QoS class by reference_qos.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema
import yaml

from kubekeeper.lint import Options, lint, load_paths
from tests.unit.lint.reference_qos import reference_qos

DATA = Path(__file__).resolve().parents[2] / "data"
CORPUS = DATA / "lint-corpus"
TEMPLATES = DATA / "lint-templates"
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}
#: files in the corpus that are real unrendered templates (kubernetes/examples, archived): `{{cell}}`
#: style placeholders in names, replicas and labels
EXPECTED_REFUSED = {
    "kubernetes-examples/_archived/newrelic-infrastructure/newrelic-config-template.yaml",
    "kubernetes-examples/_archived/newrelic/newrelic-config-template.yaml",
    "kubernetes-examples/_archived/storage/vitess/etcd-controller-template.yaml",
    "kubernetes-examples/_archived/storage/vitess/etcd-service-template.yaml",
    "kubernetes-examples/_archived/storage/vitess/vtgate-controller-template.yaml",
    "kubernetes-examples/_archived/storage/vitess/vttablet-pod-template.yaml",
}
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%")


def rel(file: str) -> str:
    return str(Path(file).relative_to(CORPUS))


def _objects(document):
    if isinstance(document, dict):
        if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
            item_kind = document["kind"][:-4] or None
            for item in document["items"]:
                if isinstance(item, dict):
                    yield {"kind": item_kind, **item} if item_kind and "kind" not in item else item
        else:
            yield document


def _pod_spec(obj):
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return spec
    if obj["kind"] == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


@pytest.fixture(scope="module")
def independent():
    """(file, kind, namespace, name) -> pod spec for every workload, found without kubekeeper."""
    found, unparsable = {}, set()
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        text = path.read_text()
        try:
            documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
        except yaml.YAMLError:
            try:
                documents = [json.loads(text)]
            except ValueError:
                unparsable.add(rel(str(path)))
                continue
        for document in documents:
            for obj in _objects(document):
                if obj.get("kind") not in WORKLOAD_KINDS:
                    continue
                meta = obj.get("metadata") or {}
                if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
                    continue
                spec = _pod_spec(obj)
                if not spec.get("containers"):
                    continue
                found[(rel(str(path)), obj["kind"], meta.get("namespace"), meta.get("name") or meta.get("generateName"))] = spec
    return found, unparsable


@pytest.fixture(scope="module")
def result():
    return lint(load_paths([str(CORPUS)]))


def test_sources_name_every_file_with_repository_commit_and_licence():
    rows = list(csv.DictReader((CORPUS / "SOURCES").open(), delimiter="\t"))
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("SOURCES", "README.md")}
    assert {r["path"] for r in rows} == files
    assert all(re.fullmatch(r"[0-9a-f]{40}", r["commit"]) and r["licence"] in ("Apache-2.0", "CC-BY-4.0") for r in rows)
    assert all((CORPUS / r["path"]).as_posix().endswith(r["repository_path"]) for r in rows)
    projects = {r["path"].split("/")[0] for r in rows}
    assert len(projects) >= 10 and len({r["repository"] for r in rows}) >= 10


def test_every_workload_is_found(result, independent):
    expected, _ = independent
    got = {(rel(w.manifest.file), w.kind, w.namespace, w.name) for w in result.workloads}
    # a workload inside a refused template file is not linted, by design
    expected = {k for k in expected if k[0] not in EXPECTED_REFUSED}
    assert got == expected
    assert len(got) >= 150
    projects = {k[0].split("/")[0] for k in got}
    assert len(projects) >= 10


def test_qos_equals_the_reference_computation(result, independent):
    expected, _ = independent
    mismatches = [(key, w.qos, reference_qos(expected[key])) for w in result.workloads
                  if w.qos != reference_qos(expected[key := (rel(w.manifest.file), w.kind, w.namespace, w.name)])]
    assert mismatches == []
    classes = {w.qos for w in result.workloads}
    assert classes == {"BestEffort", "Burstable", "Guaranteed"}
    assert sum(w.resources.pod_level for w in result.workloads) >= 4  # kubernetes/website pod-level examples


def test_no_rendered_file_is_refused_and_real_templates_are(result, independent):
    _, unparsable = independent
    refused = {rel(p.file) for p in result.refused}
    assert refused == EXPECTED_REFUSED
    assert unparsable <= EXPECTED_REFUSED  # whatever plain PyYAML and json cannot read is a template
    for p in result.refused:
        assert p.reason == "template" and p.line
        assert TEMPLATE_SYNTAX.search(Path(p.file).read_text().splitlines()[p.line - 1]), p
    # rendered files holding `{{` in values (alert text, Grafana dashboards) are linted
    templated_text = {rel(str(p)) for p in CORPUS.rglob("*.yaml") if "{{" in p.read_text()}
    assert len(templated_text - EXPECTED_REFUSED) >= 10
    names = {(rel(w.manifest.file), w.name) for w in result.workloads}
    assert ("istio/samples/addons/grafana.yaml", "grafana") in names
    assert ("kube-prometheus/manifests/grafana-deployment.yaml", "grafana") in names


def test_non_objects_are_skipped_with_a_note_not_refused(result):
    skipped = {rel(p.file): p.reason for p in result.skipped}
    assert skipped["argo-cd/manifests/ha/base/redis-ha/overlays/deployment-resources.yaml"] == "not-an-object"  # JSON patch list
    assert skipped["argo-cd/manifests/ha/base/redis-ha/kustomization.yaml"] == "kustomize"
    assert skipped["ingress-nginx/deploy/static/provider/cloud/kustomization.yaml"] == "kustomize"  # no apiVersion/kind
    assert skipped["cert-manager/deploy/charts/cert-manager/values.yaml"] == "not-an-object"  # Helm values
    assert skipped["kubernetes-examples/databases/cassandra/image/files/cassandra.yaml"] == "not-an-object"
    assert set(skipped.values()) == {"not-an-object", "kustomize"}


def test_real_helm_templates_are_refused_with_file_and_line():
    loaded = load_paths([str(TEMPLATES)])
    files = {p for p in TEMPLATES.rglob("*.yaml")}
    assert {Path(p.file) for p in loaded.problems} == files and loaded.manifests == []
    for p in loaded.problems:
        assert (p.level, p.reason) == ("error", "template")
        assert TEMPLATE_SYNTAX.search(Path(p.file).read_text().splitlines()[p.line - 1]), p


def test_every_format_on_the_corpus(cli):
    text = cli("lint", str(CORPUS))
    assert text.code == 1 and text.err == ""
    assert re.search(r"^\d+ workloads \(\d+ BestEffort, \d+ Burstable, \d+ Guaranteed\)", text.out, re.M)
    assert "535 files read; not linted: 6 documents refused in 6 files" in text.out
    document = json.loads(cli("lint", str(CORPUS), "--format", "json").out)
    assert document["summary"]["workloads"] == len(document["workloads"]) >= 150
    assert document["summary"]["refused"] == len(EXPECTED_REFUSED)
    sarif = json.loads(cli("lint", str(CORPUS), "--format", "sarif").out)
    jsonschema.Draft4Validator(json.loads((DATA / "schemas" / "sarif-2.1.0.json").read_text())).validate(sarif)
    assert len(sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]) == len(document["problems"])
    junit = cli("lint", str(CORPUS), "--format", "junit").out
    xmlschema.XMLSchema(str(DATA / "schemas" / "junit-10.xsd")).validate(io.StringIO(junit))
    root = ET.fromstring(junit)
    assert root.get("errors") == str(len(EXPECTED_REFUSED)) and int(root.get("failures")) == len(document["findings"])


def test_strict_profile_on_the_corpus_flags_every_best_effort_workload(result):
    strict = lint(load_paths([str(CORPUS)]), Options(profile="strict"))
    best_effort = {(w.manifest.file, w.name) for w in strict.workloads if w.qos == "BestEffort"}
    flagged = {(f.file, f.name) for f in strict.findings if f.rule == "qos-best-effort"}
    assert flagged == best_effort and len(best_effort) == sum(w.qos == "BestEffort" for w in result.workloads)


def test_real_breakage_named_in_the_docs_is_found(result):
    """docs/lint.md cites these findings on the corpus; they must stay true."""
    found = {(rel(f.file), f.rule, f.name) for f in result.findings}
    assert ("kubernetes-examples/_archived/cockroachdb/cockroachdb-statefulset.yaml", "pdb-sanity", "cockroachdb-budget") in found
    assert ("kubernetes-examples/AI/vllm-deployment/vllm-deployment.yaml", "hpa-replicas", "vllm-gemma-deployment") in found
    assert ("kube-state-metrics/examples/autosharding/statefulset.yaml", "critical-spread", "kube-state-metrics") in found
