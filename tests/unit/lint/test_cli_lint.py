"""`kubekeeper lint` end to end in-process: exit codes, stdin, bad input, options."""

from __future__ import annotations

import io
import json

from tests.unit.lint.conftest import deployment, to_yaml


def test_clean_input_exits_0(cli, write):
    path = write("ok.yaml", to_yaml(deployment()))
    result = cli("lint", str(path))
    assert result.code == 0 and "no findings" in result.out


def test_findings_exit_1_and_fail_on(cli, write):
    obj = deployment(containers=[{"name": "app", "image": "x", "resources": {"requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"}}}])
    path = write("w.yaml", to_yaml(obj))
    assert cli("lint", str(path)).code == 1
    assert cli("lint", str(path), "--fail-on", "error").code == 0  # only warnings
    assert cli("lint", str(path), "--fail-on", "error", "--profile", "strict").code == 1


def test_stdin_dash(cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(to_yaml(deployment("piped"))))
    result = cli("lint", "-", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out)["workloads"][0]["file"] == "<stdin>"


def test_template_is_exit_2_one_line(cli, write):
    path = write("t.yaml", "kind: Deployment\nmetadata:\n  name: {{ .Values.name }}\n")
    result = cli("lint", str(path))
    assert result.code == 2 and result.out == ""
    assert result.err.strip() == f"kubekeeper: error: {path}:3: unrendered template ('{{{{') - render it first, e.g. helm template ... | kubekeeper lint -"


def test_bad_usage_exit_2(cli, write):
    assert cli("lint").code == 2
    path = write("ok.yaml", to_yaml(deployment()))
    assert cli("lint", str(path), "--cluster").code == 2
    assert cli("lint", str(path), "--context", "x").code == 2
    assert cli("lint", str(path), "--profile", "nope").code == 2
    assert cli("lint", str(path), "--format", "xml").code == 2
    assert cli("lint", str(path), "--critical-selector", "a=(").code == 2


def test_no_suppress_flag(cli, write):
    obj = deployment(containers=[{"name": "app", "image": "x"}], annotations={"kubekeeper.io/lint-ignore": "*"})
    path = write("s.yaml", to_yaml(obj))
    assert cli("lint", str(path)).code == 0
    assert cli("lint", str(path), "--no-suppress").code == 1


def test_help_lists_rules(cli):
    result = cli("lint", "--help")
    assert result.code == 0
    for rule in ("resource-requests", "critical-spread", "bare-pod", "--fail-on", "--cluster"):
        assert rule in result.out
