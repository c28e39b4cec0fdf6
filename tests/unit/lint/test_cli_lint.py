"""`kubekeeper lint` end to end in-process: exit codes, stdin, bad input, per-file problems, options."""

from __future__ import annotations

import io
import json

from tests.unit.lint.conftest import deployment, pdb, to_yaml

TEMPLATE = "kind: Deployment\nmetadata:\n  name: {{ .Values.name }}\n"


def test_clean_input_exits_0(cli, write):
    path = write("ok.yaml", to_yaml(deployment(), pdb()))
    result = cli("lint", str(path))
    assert result.code == 0 and "no findings" in result.out


def test_findings_exit_1_and_fail_on(cli, write):
    obj = deployment(replicas=1, containers=[{"name": "app", "image": "x", "resources": {"requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"}}}])
    path = write("w.yaml", to_yaml(obj))
    assert cli("lint", str(path)).code == 1
    assert cli("lint", str(path), "--fail-on", "error").code == 0  # only warnings
    assert cli("lint", str(path), "--fail-on", "error", "--profile", "strict").code == 1


def test_stdin_dash(cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(to_yaml(deployment("piped", replicas=1))))
    result = cli("lint", "-", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out)["workloads"][0]["file"] == "<stdin>"


def test_only_templates_is_exit_2_one_line(cli, write):
    path = write("t.yaml", TEMPLATE)
    result = cli("lint", str(path))
    assert result.code == 2 and result.out == ""
    assert result.err.strip() == (f"kubekeeper: error: nothing could be read: {path}:3: unrendered template: does not parse as YAML "
                                  "(found unhashable key); render it first (helm template ... | kubekeeper lint -)")


def test_one_refused_file_does_not_stop_the_run(cli, write):
    """Issue 13: one template in a directory used to make the whole run exit 2 with no findings."""
    write("m/a-template.yaml", TEMPLATE)
    write("m/b-patch.yaml", "- op: remove\n  path: /spec/replicas\n")
    write("m/c-app.yaml", to_yaml(deployment("app", replicas=1, containers=[{"name": "app", "image": "x"}])))
    root = str(write("m/d-ok.yaml", to_yaml(deployment("ok", replicas=1))).parent)
    result = cli("lint", root)
    assert result.code == 1 and result.err == ""
    assert "a-template.yaml\n        3  refused template           unrendered template" in result.out
    assert "b-patch.yaml\n        1  skipped not-an-object      a YAML list" in result.out
    assert "Deployment prod/app" in result.out and "qos-best-effort" in result.out
    assert result.out.rstrip().splitlines()[-1] == ("4 files read; not linted: 1 documents refused in 1 files (see 'refused' above), "
                                                    "1 skipped as not Kubernetes objects in 1 files")
    clean = cli("lint", str(write("m/d-ok.yaml", to_yaml(deployment("ok", replicas=1)))), root + "/a-template.yaml")
    assert clean.code == 1  # no findings, but a refused file never passes a gate unnoticed
    skipped_only = cli("lint", root + "/b-patch.yaml", root + "/d-ok.yaml")
    assert skipped_only.code == 0  # skipped on purpose is not a failure


def test_missing_path_among_others(cli, write):
    path = write("ok.yaml", to_yaml(deployment(replicas=1)))
    result = cli("lint", str(path), "/nonexistent/x.yaml")
    assert result.code == 1 and "/nonexistent/x.yaml\n        -  refused unreadable         no such file or directory" in result.out
    alone = cli("lint", "/nonexistent/x.yaml")
    assert alone.code == 2 and alone.err.strip() == "kubekeeper: error: nothing could be read: /nonexistent/x.yaml: no such file or directory"


def test_bad_usage_exit_2(cli, write):
    assert cli("lint").code == 2
    path = write("ok.yaml", to_yaml(deployment()))
    assert cli("lint", str(path), "--cluster").code == 2
    assert cli("lint", str(path), "--context", "x").code == 2
    assert cli("lint", str(path), "--profile", "nope").code == 2
    assert cli("lint", str(path), "--format", "xml").code == 2
    assert cli("lint", str(path), "--critical-selector", "a=(").code == 2
    assert cli("lint", str(path), "--spread", "rack").code == 2
    bad_ignore = cli("lint", str(path), "--ignore", "cpu-limits")
    assert bad_ignore.code == 2 and "--ignore cpu-limits: not a rule id nor a resource check" in bad_ignore.err
    assert cli("lint", str(path), "--require", "qos-best-effort").code == 2


def test_ignore_and_require_flags(cli, write):
    obj = deployment(replicas=1, containers=[{"name": "app", "image": "x", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}])
    path = write("w.yaml", to_yaml(obj))
    assert cli("lint", str(path)).code == 1  # memory limit missing
    assert cli("lint", str(path), "--ignore", "memory-limit").code == 0
    assert cli("lint", str(path), "--ignore", "resource-limits").code == 0
    strict = cli("lint", str(path), "--profile", "strict", "--ignore", "cpu-limit,ephemeral-storage-limit", "--ignore", "ephemeral-storage-request",
                 "--format", "json")
    assert [f["message"] for f in json.loads(strict.out)["findings"]] == ["container 'app' has no limits for memory"]
    required = cli("lint", str(path), "--ignore", "memory-limit", "--require", "cpu-limit", "--format", "json")
    assert [f["message"] for f in json.loads(required.out)["findings"]] == ["container 'app' has no limits for cpu"]


def test_no_suppress_flag(cli, write):
    obj = deployment(containers=[{"name": "app", "image": "x"}], annotations={"kubekeeper.io/lint-ignore": "*"})
    path = write("s.yaml", to_yaml(obj))
    assert cli("lint", str(path)).code == 0
    assert cli("lint", str(path), "--no-suppress").code == 1


def test_help_lists_rules_and_checks(cli):
    result = cli("lint", "--help")
    assert result.code == 0
    for text in ("resource-requests", "critical-spread", "bare-pod", "pdb-sanity", "hpa-replicas", "--fail-on", "--cluster",
                 "--ignore", "--require", "--spread", "cpu-limit", "ephemeral-storage-request"):
        assert text in result.out
