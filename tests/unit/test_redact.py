"""Secrets are masked by value wherever text leaves the process, not only by variable name."""

from __future__ import annotations

import logging

import pytest

from kubekeeper import redact


@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_values", set())


def test_url_userinfo_is_masked_in_any_text() -> None:
    text = "Fatal: unable to open repository at rest:https://alice:pa55word@backup.example:8000/r: 401"
    assert redact.redact(text) == "Fatal: unable to open repository at rest:https://***@backup.example:8000/r: 401"


def test_registered_values_are_masked_even_without_a_url() -> None:
    redact.register("correct-horse")
    assert redact.redact("wrong password: correct-horse") == "wrong password: ***"


def test_short_secrets_are_masked_only_as_whole_words() -> None:
    redact.register("pw")
    assert redact.redact("password pw given") == "password *** given"


def test_secret_named_environment_variables_are_registered() -> None:
    redact.register_environment({"AWS_SECRET_ACCESS_KEY": "abcdEFGH1234", "RESTIC_PASSWORD_FILE": "/etc/pw",
                                 "RESTIC_REPOSITORY": "rest:http://u:tok3n@h/"})
    assert redact.redact("key abcdEFGH1234 file /etc/pw token tok3n") == "key *** file /etc/pw token ***"


def test_redact_env_masks_by_name_and_by_value() -> None:
    env = redact.redact_env({"RESTIC_PASSWORD": "x", "RESTIC_REPOSITORY": "rest:https://u:p4ss@h/r"})
    assert env == {"RESTIC_PASSWORD": "***", "RESTIC_REPOSITORY": "rest:https://***@h/r"}


def test_logging_filter_masks_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    redact.register("hunter22")
    logger = logging.getLogger("kubekeeper.test.redact")
    handler = logging.StreamHandler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.propagate = False
    try:
        redact.install_logging_filter(logger)
        logger.warning("repo %s password %s", "rest:https://u:zz@h/", "hunter22")
    finally:
        logger.removeHandler(handler)
    assert records == ["repo rest:https://***@h/ password ***"]
