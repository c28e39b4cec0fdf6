"""Input: multi-document files, directories, List kinds, every workload kind, templates, bad YAML, lines,
and per-file problems that never stop the run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kubekeeper.lint import lint, load_paths, parse_text
from kubekeeper.lint.model import TEMPLATE_PATHS
from kubekeeper.lint.workload import as_workload
from tests.unit.lint.conftest import container, deployment, to_yaml

POD_SPEC = {"containers": [container(requests=None, limits=None)]}


def workload_of_kind(kind: str) -> dict:
    api = {"Pod": "v1", "ReplicationController": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    meta = {"name": kind.lower(), "namespace": "ns"}
    template = {"metadata": {"labels": {"app": "x"}}, "spec": POD_SPEC}
    if kind == "Pod":
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": POD_SPEC}
    if kind == "CronJob":
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"template": template}}


def problems_of(loaded) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.level, p.reason) for p in loaded.problems]


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
def test_every_workload_kind_yields_its_pod_template(kind):
    (manifest,) = parse_text(to_yaml(workload_of_kind(kind)), "k.yaml").manifests
    workload = as_workload(manifest)
    assert workload is not None and workload.pod_spec["containers"][0]["name"] == "app"
    assert workload.qos == "BestEffort"


def test_multi_document_file_and_line_numbers_match_ruamel_round_trip(write):
    text = "# leading comment\n---\n" + to_yaml(deployment("a"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, deployment("b"))
    path = write("multi.yaml", text)
    manifests = load_paths([str(path)]).manifests
    assert [m.name for m in manifests] == ["a", "c", "b"]
    docs = list(YAML().load_all(text))
    for manifest, doc in zip(manifests, docs, strict=True):
        assert manifest.line == doc.lc.line + 1
    b = manifests[2]
    first_container = b.obj["spec"]["template"]["spec"]["containers"][0]
    assert b.line_of(first_container) == docs[2]["spec"]["template"]["spec"]["containers"][0].lc.line + 1


def test_a_bad_document_costs_only_itself_and_lines_stay_right(write):
    """The slow path (a document fails) parses documents one by one; lines must still be the file's."""
    good = to_yaml(deployment("a"))
    text = good + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n---\n" + to_yaml(deployment("b"))
    path = write("mixed.yaml", text)
    loaded = load_paths([str(path)])
    assert [m.name for m in loaded.manifests] == ["a", "b"]
    bad_line = text.splitlines().index("  name: [unclosed") + 1
    assert problems_of(loaded) == [(bad_line + 1, "error", "invalid-yaml")] or problems_of(loaded)[0][0] in (bad_line, bad_line + 1)
    b = loaded.manifests[1]
    expected = text.splitlines().index("kind: Deployment", text.splitlines().index("  name: [unclosed")) + 1
    assert b.line in (expected - 1, expected)  # the document's first line (apiVersion or kind)
    first = text.splitlines()[b.line - 1]
    assert first.startswith(("apiVersion:", "kind:"))
    c = b.obj["spec"]["template"]["spec"]["containers"][0]
    assert text.splitlines()[b.line_of(c) - 1].lstrip().startswith("- name: app")


def test_list_kinds_are_unpacked():
    text = to_yaml({"apiVersion": "v1", "kind": "List", "items": [deployment("a"), deployment("b")]},
                   {"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [{k: v for k, v in deployment("c").items() if k != "kind"}]})
    manifests = parse_text(text, "list.yaml").manifests
    assert [(m.kind, m.name) for m in manifests] == [("Deployment", "a"), ("Deployment", "b"), ("Deployment", "c")]
    assert all(m.line for m in manifests)


def test_directories_are_walked_recursively(write):
    write("a/one.yaml", to_yaml(deployment("one")))
    write("a/b/two.yml", to_yaml(deployment("two")))
    write("a/b/three.json", '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "three"}, "spec": {}}')
    write("a/readme.txt", "not yaml {{")
    root = write("a/one.yaml", to_yaml(deployment("one"))).parent
    loaded = load_paths([str(root)])
    assert sorted(m.name for m in loaded.manifests) == ["one", "three", "two"]
    assert loaded.files == 3 and loaded.problems == []


def test_stdin():
    manifests = load_paths(["-"], stdin=io.StringIO(to_yaml(deployment("from-stdin")))).manifests
    assert manifests[0].name == "from-stdin" and manifests[0].file == "<stdin>"


def test_json_that_yaml_rejects_is_read_as_json():
    """kubernetes/examples ships JSON indented with tabs: valid JSON, invalid YAML."""
    text = '{\n"kind": "Pod",\n"apiVersion": "v1",\n"metadata": {"name": "tabbed"},\n"spec": {"containers": [\n\t{"name": "c"}\n\t]}\n}\n'
    loaded = parse_text(text, "tabs.json")
    assert [m.name for m in loaded.manifests] == ["tabbed"] and loaded.problems == []


# --- templates ----------------------------------------------------------------------------------


def test_template_syntax_in_string_values_is_data():
    """Prometheus alert text, Grafana legends and dashboards in ConfigMaps are rendered files."""
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "r"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "Down", "annotations": {"description": "{{ $labels.instance }} is down"}}]}]}}
    dashboard = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"},
                 "data": {"d.json": '{"legendFormat": "{{pod}}", "expr": "sum by (pod) (x)"}'}}
    deploy = deployment("web")
    deploy["spec"]["template"]["spec"]["containers"][0]["args"] = ["--log-format={{.Time}} {{.Msg}}"]
    deploy["metadata"]["annotations"] = {"description": "uses {{ go templates }} at runtime"}
    loaded = parse_text(to_yaml(rule, dashboard, deploy), "rendered.yaml")
    assert loaded.problems == []
    assert [m.kind for m in loaded.manifests] == ["PrometheusRule", "ConfigMap", "Deployment"]


@pytest.mark.parametrize("field,value", [
    ("metadata.name", "web-{{ .Release.Name }}"),
    ("metadata.namespace", "{{ .Release.Namespace }}"),
    ("spec.replicas", "{{ .Values.replicas }}"),
    ("spec.template.metadata.labels.app", "{{ .Values.app }}"),
    ("spec.template.spec.containers.0.resources.limits.memory", "{{ .Values.memory }}"),
    ("spec.template.spec.priorityClassName", "{{ .Values.priority }}"),
    ("kind", "{{ .Values.kind }}"),
])
def test_template_syntax_in_fields_lint_reads_is_refused_with_its_line(field, value):
    obj = deployment("web")
    node = obj
    parts = field.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[parts[-1]] = value
    text = to_yaml(deployment("before"), obj)
    loaded = parse_text(text, "chart.yaml")
    assert [m.name for m in loaded.manifests] == ["before"]  # the other document is still read
    (problem,) = loaded.problems
    assert (problem.level, problem.reason) == ("error", "template")
    assert value in text.splitlines()[problem.line - 1] or value.strip("'") in text.splitlines()[problem.line - 1]
    assert "unrendered template in" in problem.message and "helm template" in problem.message


def test_template_syntax_in_a_key_is_refused():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"{{ .Values.key }}": "x"}}
    (problem,) = parse_text(to_yaml(obj), "c.yaml").problems
    assert problem.reason == "template" and problem.line == 6 and "key data." in problem.message


def test_a_document_that_does_not_parse_because_of_templates_is_refused_at_the_template():
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "spec:\n  replicas: 2\n{{- if .Values.affinity }}\n  template: {}\n{{- end }}\n")
    (problem,) = parse_text(text, "t.yaml").problems
    assert (problem.line, problem.reason) == (7, "template") and "does not parse as YAML" in problem.message


def test_unhashable_key_template_is_refused_on_its_line():
    text = "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: etcd\nspec:\n  replicas: {{replicas}}\n"
    (problem,) = parse_text(text, "t.yaml").problems
    assert (problem.line, problem.reason) == (6, "template")


def test_invalid_yaml_that_is_not_a_template_says_so(write):
    path = write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n  description: \"{{ fine }}\"\n")
    (problem,) = load_paths([str(path)]).problems
    assert problem.reason == "invalid-yaml" and problem.message.startswith("invalid YAML:") and problem.line >= 4


# --- non-objects, unreadable files --------------------------------------------------------------


def test_non_objects_are_skipped_with_a_note(write):
    write("d/patch.yaml", "- op: remove\n  path: /spec/template/spec/containers/0/resources\n")
    write("d/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deploy.yaml\n")
    write("d/old/kustomization.yaml", "resources:\n- deploy.yaml\n")
    write("d/values.yaml", "# Helm values\nreplicaCount: 1\nimage:\n  repository: nginx\n")
    write("d/deploy.yaml", to_yaml(deployment("real")))
    loaded = load_paths([str(write("d/x.yaml", "").parent)])
    assert [m.name for m in loaded.manifests] == ["real"]
    reasons = {p.file.split("/d/")[1]: (p.level, p.reason, p.line) for p in loaded.problems}
    assert reasons == {"kustomization.yaml": ("note", "kustomize", 1), "old/kustomization.yaml": ("note", "kustomize", 1),
                       "patch.yaml": ("note", "not-an-object", 1), "values.yaml": ("note", "not-an-object", 2)}
    assert loaded.documents == 5


def test_missing_and_unreadable_files_are_problems_not_aborts(write):
    good = write("ok.yaml", to_yaml(deployment("ok")))
    binary = write("bin.yaml", "")
    binary.write_bytes(b"\xff\xfe\x00kind: Pod")
    loaded = load_paths([str(good), "/nonexistent/kk.yaml", str(binary)])
    assert [m.name for m in loaded.manifests] == ["ok"]
    assert sorted((p.file, p.reason) for p in loaded.problems) == [("/nonexistent/kk.yaml", "unreadable"), (str(binary), "unreadable")]
    assert loaded.files == 3


def test_empty_documents_are_skipped():
    loaded = parse_text("---\n---\n# only a comment\n", "e.yaml")
    assert loaded.manifests == [] and loaded.problems == [] and loaded.documents == 0
    assert lint([]).findings == []


# --- the fast builder -----------------------------------------------------------------------------

TRICKY = """\
base: &base {cpu: 100m, memory: 64Mi}
merged:
  <<: *base
  memory: 128Mi
alias: *base
octal: 0755
hex: 0x1F
sexagesimal: 1:30
float: 1.5e3
inf: .inf
bools: [true, True, yes, no, off, "true"]
nulls: [null, ~, "null"]
empty:
ints: [0, 7, -3, +4, 1_000]
timestamp: 2025-01-01T00:00:00Z
date: 2025-01-01
binary: !!binary aGVsbG8=
set: !!set {a, b}
nested: [[1, [2, {x: y}]], {}]
"""


def _reference_documents(text: str) -> list:
    """PyYAML's own construction (timestamps kept as strings, as kubekeeper does)."""
    import yaml

    class Reference(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    Reference.add_constructor("tag:yaml.org,2002:timestamp", Reference.construct_yaml_str)
    return list(yaml.load_all(text, Loader=Reference))


def test_fast_builder_builds_what_pyyaml_builds():
    """Every file of the corpus and of the real templates that PyYAML reads, plus YAML's odd corners."""
    import yaml

    from kubekeeper.lint.loader import _parse

    data = Path(__file__).resolve().parents[2] / "data"
    texts = [TRICKY] + [p.read_text() for p in sorted((data / "lint-corpus").rglob("*.y*ml"))]
    compared = 0
    for text in texts:
        try:
            expected = _reference_documents(text)
        except yaml.YAMLError:
            with pytest.raises(yaml.YAMLError):
                list(_parse(text, 0))
            continue
        assert [document for _, document, _ in _parse(text, 0)] == expected
        compared += 1
    assert compared > 450
    (_, tricky, _), = _parse(TRICKY, 0)
    assert tricky["merged"] == {"cpu": "100m", "memory": "128Mi"} and tricky["alias"] is tricky["base"]
    assert tricky["octal"] == 493 and tricky["timestamp"] == "2025-01-01T00:00:00Z"
