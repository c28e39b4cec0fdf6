"""cluster.yaml: the example validates; mistakes are reported with file, line and option."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubekeeper.config import example_config, parse_config
from kubekeeper.config.schema import ClusterConfig, SecretRef
from kubekeeper.errors import BadInput

MINIMAL = """\
cluster: lab
etcd:
  endpoints: [http://127.0.0.1:2379]
repositories:
  primary:
    url: /srv/restic
    password: {file: /etc/kubekeeper/pass}
"""


def test_example_is_valid_and_covers_every_section() -> None:
    cfg = parse_config(example_config(), "example.yaml")
    assert cfg.etcd.enabled and cfg.registry.enabled and cfg.volumes.enabled
    assert cfg.repositories.copies and cfg.retention.keep_daily == 14
    for field in ClusterConfig.model_fields:
        assert f"\n{field}:" in example_config()


def test_every_option_has_a_description() -> None:
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
            annotation = field.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                    walk(candidate)
    walk(ClusterConfig)


def test_minimal_config_defaults_other_parts_off() -> None:
    cfg = parse_config(MINIMAL, "c.yaml")
    assert cfg.etcd.enabled and not cfg.registry.enabled and not cfg.volumes.enabled


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("cluster: lab", "cluster: Lab_Cluster"), "c.yaml:1: cluster:"),
        (("  endpoints: [http://127.0.0.1:2379]\n", "  endpoints: []\n"), "c.yaml:2: etcd: endpoints are required"),
        (("    url: /srv/restic\n", "    url: /srv/restic\n    colour: blue\n"), "c.yaml:7: repositories.primary.colour"),
        (("{file: /etc/kubekeeper/pass}", "{file: /a, env: B}"), "c.yaml:7: repositories.primary.password: give exactly one"),
        (("cluster: lab\n", "cluster: lab\n  bad: [\n"), "c.yaml"),
    ],
)
def test_errors_name_file_line_and_option(edit: tuple[str, str], expected: str) -> None:
    text = MINIMAL.replace(*edit)
    assert text != MINIMAL
    with pytest.raises(BadInput) as info:
        parse_config(text, "c.yaml")
    assert str(info.value).startswith(expected), str(info.value)


def test_secret_refs_resolve_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert SecretRef(file=secret).resolve() == "s3cret"
    monkeypatch.setenv("KK_TEST_PW", "fromenv")
    assert SecretRef(env="KK_TEST_PW").resolve() == "fromenv"
    monkeypatch.delenv("KK_TEST_PW")
    with pytest.raises(BadInput, match="KK_TEST_PW"):
        SecretRef(env="KK_TEST_PW").resolve()


def test_cli_check_and_example(cli, tmp_path: Path) -> None:
    result = cli("config", "example")
    assert result.code == 0
    path = tmp_path / "cluster.yaml"
    path.write_text(result.out)
    checked = cli("config", "check", "--config", str(path), "--format", "json")
    assert checked.code == 0, checked.err
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("cluster: lab", "cluster: 'UPPER'"))
    failed = cli("config", "check", "--config", str(bad))
    assert failed.code == 2 and failed.err.count("\n") == 1 and "bad.yaml:1" in failed.err
    missing = cli("config", "check", "--config", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and "not found" in missing.err
