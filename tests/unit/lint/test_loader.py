"""Input: multi-document files, directories, List kinds, every workload kind, templates, bad YAML, lines."""

from __future__ import annotations

import io

import pytest
from ruamel.yaml import YAML

from kubekeeper.errors import BadInput
from kubekeeper.lint import lint, load_paths, parse_text
from kubekeeper.lint.workload import TEMPLATE_PATHS, as_workload
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


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
def test_every_workload_kind_yields_its_pod_template(kind):
    (manifest,) = parse_text(to_yaml(workload_of_kind(kind)), "k.yaml")
    workload = as_workload(manifest)
    assert workload is not None and workload.pod_spec["containers"][0]["name"] == "app"
    assert workload.qos == "BestEffort"


def test_multi_document_file_and_line_numbers_match_ruamel_round_trip(write):
    text = "# leading comment\n---\n" + to_yaml(deployment("a"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, deployment("b"))
    path = write("multi.yaml", text)
    manifests = load_paths([str(path)])
    assert [m.name for m in manifests] == ["a", "c", "b"]
    docs = list(YAML().load_all(text))
    for manifest, doc in zip(manifests, docs):
        assert manifest.line == doc.lc.line + 1
    b = manifests[2]
    first_container = b.obj["spec"]["template"]["spec"]["containers"][0]
    assert b.line_of(first_container) == docs[2]["spec"]["template"]["spec"]["containers"][0].lc.line + 1


def test_list_kinds_are_unpacked():
    text = to_yaml({"apiVersion": "v1", "kind": "List", "items": [deployment("a"), deployment("b")]},
                   {"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [{k: v for k, v in deployment("c").items() if k != "kind"}]})
    manifests = parse_text(text, "list.yaml")
    assert [(m.kind, m.name) for m in manifests] == [("Deployment", "a"), ("Deployment", "b"), ("Deployment", "c")]
    assert all(m.line for m in manifests)


def test_directories_are_walked_recursively(write):
    write("a/one.yaml", to_yaml(deployment("one")))
    write("a/b/two.yml", to_yaml(deployment("two")))
    write("a/b/three.json", '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "three"}, "spec": {}}')
    write("a/readme.txt", "not yaml {{")
    root = write("a/one.yaml", to_yaml(deployment("one"))).parent
    assert sorted(m.name for m in load_paths([str(root)])) == ["one", "three", "two"]


def test_stdin():
    manifests = load_paths(["-"], stdin=io.StringIO(to_yaml(deployment("from-stdin"))))
    assert manifests[0].name == "from-stdin" and manifests[0].file == "<stdin>"


def test_unrendered_template_is_bad_input_with_file_and_line(write):
    path = write("chart.yaml", "apiVersion: apps/v1\nkind: Deployment\n# {{ in a comment is fine }}\nmetadata:\n  name: {{ .Release.Name }}\n")
    with pytest.raises(BadInput, match=r"chart\.yaml:5: unrendered template"):
        load_paths([str(path)])


def test_invalid_yaml_names_file_and_line(write):
    path = write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n")
    with pytest.raises(BadInput, match=r"bad\.yaml:\d+: invalid YAML"):
        load_paths([str(path)])


def test_non_mapping_document_and_missing_path(write):
    with pytest.raises(BadInput, match="not a mapping"):
        parse_text("- a\n- b\n", "x.yaml")
    with pytest.raises(BadInput, match="no such file"):
        load_paths(["/nonexistent/kk.yaml"])


def test_empty_documents_are_skipped():
    assert parse_text("---\n---\n", "e.yaml") == []
    assert lint([]).findings == []
