"""The alerts and dashboard `deploy render` writes query only metrics kubekeeper really exports, with
labels those metrics really carry, in PromQL that parses.

The exported names and labels are read from the exporters' own output (the textfile `backup all`
writes, the body and grouping key `deploy run` pushes), not from a list kept here. The etcd
follower's come from the textfile `backup etcd --follow` writes. promtool is not
available here, so a small PromQL parser (the subset Prometheus documents for selectors, aggregations
with by/without, binary and set operators, function calls) stands in for `promtool check rules`.
The PrometheusRule is validated against prometheus-operator's published CRD schema
(tests/data/prometheus-operator, origin noted there)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from kubekeeper import metrics
from kubekeeper.deploy import monitoring, run
from kubekeeper.deploy.render import DeployOptions, render
from kubekeeper.etcd.follow import follower_metrics_text
from kubekeeper.report import prometheus

CRD = Path(__file__).parents[2] / "data" / "prometheus-operator" / "monitoring.coreos.com_prometheusrules.yaml"
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+\S+$")


def exported() -> dict[str, set[str]]:
    """metric name -> its label names, from what the exporters write."""
    found: dict[str, set[str]] = {}
    textfile = prometheus.render([prometheus.PartMetrics("prod", "etcd", True, 1.0, 2.0, 3)], {})
    for line in textfile.splitlines():
        match = SAMPLE.match(line)
        if match:
            found[match["name"]] = {pair.split("=", 1)[0] for pair in (match["labels"] or "").split(",") if pair}
    grouping = run.grouping_path("prod", "volume", "node-1")  # /metrics/job/kubekeeper/cluster@base64/...
    keys = {"job", *(segment.split("@", 1)[0] for segment in grouping.split("/")[4:])}
    for line in run.metrics_text(0, 0.0, 1.0).splitlines():
        match = SAMPLE.match(line)
        if match:
            found[match["name"]] = set(keys)
    for line in follower_metrics_text("prod", 1.5, 2.0).splitlines():  # the continuous etcd backup's textfile
        match = SAMPLE.match(line)
        if match:
            found[match["name"]] = {pair.split("=", 1)[0] for pair in (match["labels"] or "").split(",") if pair}
    return found


# ------------------------------------------------------------------ a PromQL subset parser
TOKEN = re.compile(r'\s*(?:(?P<number>\d+(?:\.\d+)?(?:e\d+)?)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)'
                   r"|(?P<op>==|!=|>=|<=|=~|!~|[-+*/<>(){},=\[\]]))")
AGGREGATIONS = {"sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk"}
FUNCTIONS = {"time", "abs", "absent", "clamp_min", "clamp_max", "label_values", "vector", "scalar", "timestamp"}
BINARY = {"==", "!=", ">", "<", ">=", "<=", "+", "-", "*", "/", "or", "and", "unless"}


class Query:
    """Parses one query; records each selector's metric and label names and each by/without list."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = TOKEN.match(text, position)
            if not match or match.end() == position:
                raise SyntaxError(f"cannot read {text[position:]!r}")
            self.tokens.append(match.group().strip())
            position = match.end()
        self.at = 0
        self.selectors: list[tuple[str, set[str]]] = []
        self.grouping: list[set[str]] = []
        self.expression()
        if self.at != len(self.tokens):
            raise SyntaxError(f"unexpected {self.tokens[self.at]!r}")

    def peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise SyntaxError(f"expected {expected or 'more'}, got {token!r}")
        self.at += 1
        return token

    def expression(self) -> None:
        self.unary()
        while self.peek() in BINARY:
            self.take()
            self.unary()

    def unary(self) -> None:
        if self.peek() == "-":
            self.take()
        self.primary()

    def labels(self) -> set[str]:
        self.take("(")
        names = set()
        while self.peek() != ")":
            names.add(self.take())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return names

    def primary(self) -> None:
        token = self.take()
        if re.fullmatch(r"\d.*", token):
            return
        if token == "(":
            self.expression()
            self.take(")")
            return
        if token in AGGREGATIONS:
            if self.peek() in ("by", "without"):
                self.take()
                self.grouping.append(self.labels())
            self.take("(")
            self.expression()
            self.take(")")
            if self.peek() in ("by", "without"):
                self.take()
                self.grouping.append(self.labels())
            return
        if token in FUNCTIONS and self.peek() == "(":
            self.take("(")
            if token == "label_values":  # Grafana's: label_values(metric, label)
                self.selector(self.take())
                self.take(",")
                self.take()
            else:
                while self.peek() != ")":
                    self.expression()
                    if self.peek() == ",":
                        self.take()
            self.take(")")
            return
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", token):
            raise SyntaxError(f"unexpected {token!r}")
        self.selector(token)

    def selector(self, name: str) -> None:
        names: set[str] = set()
        if self.peek() == "{":
            self.take("{")
            while self.peek() != "}":
                label = self.take()
                if self.take() not in ("=", "!=", "=~", "!~"):
                    raise SyntaxError(f"bad matcher for {label}")
                if not self.take().startswith('"'):
                    raise SyntaxError(f"the value of {label} is not a string")
                names.add(label)
                if self.peek() == ",":
                    self.take()
            self.take("}")
        if self.peek() == "[":
            self.take("[")
            self.take()
            self.take()
            self.take("]")
        self.selectors.append((name, names))


def problems(query: str, known: dict[str, set[str]]) -> list[str]:
    """What is wrong with a query: syntax, unknown metrics, labels the metrics do not carry."""
    try:
        parsed = Query(query)
    except SyntaxError as exc:
        return [f"{query}: {exc}"]
    found = []
    if not parsed.selectors:
        found.append(f"{query}: names no metric")
    carried: set[str] = set(metrics.SCRAPE_LABELS)
    for name, labels in parsed.selectors:
        if name not in known:
            found.append(f"{query}: {name} is not exported")
            continue
        carried |= known[name]
        found += [f"{query}: {name} has no label {label}" for label in labels - known[name] - set(metrics.SCRAPE_LABELS)]
    found += [f"{query}: grouping by {label}, which no metric carries" for group in parsed.grouping for label in group - carried]
    return found


# ------------------------------------------------------------------ tests
def rendered(kind: str) -> list[dict]:
    return [o for o in render(DeployOptions(cluster="prod-east")) if o["kind"] == kind]


def the_dashboard() -> dict:
    config = next(o for o in rendered("ConfigMap") if o["metadata"]["labels"].get(monitoring.DASHBOARD_LABEL) == "1")
    return json.loads(config["data"][monitoring.DASHBOARD_KEY])


def test_every_dashboard_query_names_an_exported_metric_with_its_labels() -> None:
    known = exported()
    dashboard = the_dashboard()
    found = monitoring.queries(dashboard)
    assert len(found) >= 10
    assert [p for q in found for p in problems(q, known)] == []
    queried = {name for q in found for name, _ in Query(q).selectors}
    assert {metrics.BACKUP_LAST_SUCCESS.name, metrics.JOB_SUCCESS.name, metrics.ETCD_FOLLOWER_LAG.name} <= queried


def test_every_alert_parses_and_names_exported_metrics() -> None:
    known = exported()
    rule = rendered("PrometheusRule")[0]
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {"KubekeeperBackupTooOld", "KubekeeperBackupFailed", "KubekeeperRepositoryCheckFailed", "KubekeeperEtcdFollowerLag"} <= set(alerts)
    assert [p for r in alerts.values() for p in problems(r["expr"], known)] == []
    assert all('cluster="prod-east"' in r["expr"] for r in alerts.values())  # this cluster's series only


def test_the_checker_catches_wrong_names_labels_and_syntax() -> None:
    known = exported()
    assert problems("kubekeeper_backup_sucess == 0", known)  # a typo'd metric
    assert problems('kubekeeper_backup_success{node="n1"} == 0', known)  # the textfile has no node label
    assert problems("max by (pod) (kubekeeper_job_success)", known)
    assert problems("time() - (kubekeeper_backup_success", known)
    assert problems('kubekeeper_job_success{part=check}', known)
    assert not problems('max by (cluster, node) (kubekeeper_job_success{part!="check"}) == 0', known)


def test_the_prometheus_rule_matches_prometheus_operators_crd() -> None:
    crd = YAML(typ="safe").load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rule = rendered("PrometheusRule")[0]
    assert (rule["apiVersion"], rule["kind"]) == (f"{crd['spec']['group']}/v1", crd["spec"]["names"]["kind"])
    validator = jsonschema.Draft7Validator(schema)  # not check_schema: its patterns are Go regexps ((?i) mid-pattern)
    validator.validate(rule)
    broken = {**rule, "spec": {"groups": [{"name": "x", "rules": [{"alert": "A", "for": "ten minutes", "expr": "1"}]}]}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_the_dashboard_configmap_is_valid_and_labelled_for_the_sidecar() -> None:
    config = next(o for o in rendered("ConfigMap") if monitoring.DASHBOARD_KEY in o["data"])
    kubernetes_validate.validate(config, "1.31.0", strict=True)
    assert config["metadata"]["labels"][monitoring.DASHBOARD_LABEL] == "1"
    dashboard = the_dashboard()
    assert dashboard["uid"] and all(p["targets"] for p in dashboard["panels"])


def test_no_monitoring_objects_when_turned_off() -> None:
    kinds = {o["kind"] for o in render(DeployOptions(monitoring=False))}
    assert "PrometheusRule" not in kinds


def test_the_check_cronjob_feeds_the_repository_check_alert() -> None:
    """With --check-schedule and --pushgateway, `repo check` runs under `deploy run --part P`; the alert
    selects exactly that part."""
    objects = render(DeployOptions(check_schedule="0 5 * * 0", pushgateway="http://pushgateway.monitoring:9091"))
    cron = next(o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == "kubekeeper-check")
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["deploy", "run"] and args[-2:] == ["repo", "check"]
    part = args[args.index("--part") + 1]
    rule = next(o for o in objects if o["kind"] == "PrometheusRule")
    expr = next(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"] if r["alert"] == "KubekeeperRepositoryCheckFailed")
    assert f'part="{part}"' in expr
    kubernetes_validate.validate(cron, "1.31.0", strict=True)
