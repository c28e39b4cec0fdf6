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


# ---- bounds: cluster.yaml is a small settings file; what cannot be one is refused before parsing


def test_bounds_are_checked_before_parsing(tmp_path: Path) -> None:
    from kubekeeper.config import load_config
    from kubekeeper.config.loader import MAX_BYTES, MAX_DEPTH, MAX_LINE

    nested = MINIMAL.replace("cluster: lab", "cluster: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(BadInput, match=f"c.yaml:1: nested deeper than {MAX_DEPTH} levels"):
        parse_config(nested, "c.yaml")
    fits = MINIMAL.replace("cluster: lab", "cluster: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    with pytest.raises(BadInput, match="c.yaml:1: cluster: Input should be a valid string"):  # the schema's turn
        parse_config(fits, "c.yaml")
    assert parse_config(MINIMAL + "#" + "x" * (MAX_LINE - 1) + "\n", "c.yaml").cluster == "lab"
    with pytest.raises(BadInput, match=f"c.yaml:8: line is {MAX_LINE + 1:,} characters long"):
        parse_config(MINIMAL + "#" + "x" * MAX_LINE + "\n", "c.yaml")
    at_limit = tmp_path / "at-limit.yaml"
    at_limit.write_text(MINIMAL + ("#" + "x" * 999 + "\n") * ((MAX_BYTES - len(MINIMAL)) // 1001))
    assert at_limit.stat().st_size <= MAX_BYTES and load_config(at_limit).cluster == "lab"
    over = tmp_path / "over.yaml"
    over.write_bytes(at_limit.read_bytes() + b"#" * (MAX_BYTES + 1 - at_limit.stat().st_size))
    with pytest.raises(BadInput, match="over.yaml: larger than 1 MiB"):
        load_config(over)


def test_text_must_be_utf8_a_bom_is_fine(tmp_path: Path) -> None:
    from kubekeeper.config import load_config

    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(bom).cluster == "lab"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(MINIMAL.replace("/srv/restic", "/srv/r\xe9stic").encode("latin-1"))
    with pytest.raises(BadInput, match=r"latin1.yaml:6: not UTF-8 text \(byte 0xe9 in column 16\)"):
        load_config(latin1)


def test_secret_file_reads_one_bounded_line(tmp_path: Path) -> None:
    from kubekeeper.config.schema import MAX_SECRET_LINE

    two_lines = tmp_path / "pw"
    two_lines.write_text("first\r\nsecond\n")
    assert SecretRef(file=two_lines).resolve() == "first"
    empty = tmp_path / "empty"
    empty.write_text("")
    assert SecretRef(file=empty).resolve() == ""
    huge = tmp_path / "huge"
    huge.write_bytes(b"x" * (MAX_SECRET_LINE + 1))
    with pytest.raises(BadInput, match="first line longer than"):
        SecretRef(file=huge).resolve()
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00secret\n")
    with pytest.raises(BadInput, match="not UTF-8"):
        SecretRef(file=binary).resolve()


def test_urls_in_the_file_are_checked_like_the_options() -> None:
    registry = MINIMAL + "registry:\n  url: https://harbor.example/library\n"
    with pytest.raises(BadInput, match="c.yaml:9: registry.url: 'https://harbor.example/library': give the registry root"):
        parse_config(registry, "c.yaml")
    endpoints = MINIMAL.replace("[http://127.0.0.1:2379]", "['http://127.0.0.1:99999']")
    with pytest.raises(BadInput, match="c.yaml:3: etcd.endpoints: 'http://127.0.0.1:99999': port must be"):
        parse_config(endpoints, "c.yaml")


def test_etcd_follow_is_off_by_default_and_its_values_are_checked() -> None:
    assert not parse_config(MINIMAL, "c.yaml").etcd.follow.enabled
    text = MINIMAL.replace("  endpoints: [http://127.0.0.1:2379]\n",
                           "  endpoints: [http://127.0.0.1:2379]\n  follow: {enabled: true, delta_interval: 30s, max_buffer: 1GiB}\n")
    follow = parse_config(text, "c.yaml").etcd.follow
    assert follow.enabled and follow.delta_interval == "30s" and follow.full_interval == "24h" and follow.max_buffer == "1GiB"
    with pytest.raises(BadInput, match="etcd.follow.delta_interval"):
        parse_config(text.replace("30s", "often"), "c.yaml")
