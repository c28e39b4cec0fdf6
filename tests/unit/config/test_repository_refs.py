"""cluster.yaml repository references: a password or a password command (not both), append-only
declared, compression checked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubekeeper.config.schema import RepositoriesSection, RepositoryRef


def test_password_or_password_command_exactly_one() -> None:
    assert RepositoryRef(url="/r", password_command="vault kv get -field=pw secret/r").password is None
    with pytest.raises(ValidationError, match="exactly one of password or password_command"):
        RepositoryRef(url="/r", password={"env": "PW"}, password_command="cat pw")
    with pytest.raises(ValidationError, match="exactly one"):
        RepositoryRef(url="/r")


def test_append_only_and_compression() -> None:
    section = RepositoriesSection(primary={"url": "rest:https://h/r/", "password": {"env": "PW"}, "append_only": True})
    assert section.primary.append_only and section.compression == "auto"
    with pytest.raises(ValidationError):
        RepositoriesSection(primary={"url": "/r", "password": {"env": "PW"}}, compression="fast")
