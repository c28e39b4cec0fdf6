"""Fixtures: real docker-registry processes (htpasswd or token auth) and a local restic repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.registry.sandbox import Registry, start_registry


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e/registry" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def registry_factory(tmp_path: Path):
    started: list[Registry] = []

    def start(name: str, auth: str = "none") -> Registry:
        registry = start_registry(tmp_path / name, auth=auth)
        started.append(registry)
        return registry

    yield start
    for registry in started:
        registry.stop()


@pytest.fixture
def registry_restic_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An initialised restic repository on local disk; RESTIC_PASSWORD_FILE points at its password."""
    from tests.e2e.conftest import require

    require(bool(shutil.which("restic")), "restic")
    password = tmp_path / "restic-password"
    password.write_text("correct horse battery staple\n")
    repo = tmp_path / "restic-repo"
    subprocess.run(["restic", "init", "--repo", str(repo), "--password-file", str(password)], check=True, capture_output=True)
    monkeypatch.setenv("RESTIC_PASSWORD_FILE", str(password))
    monkeypatch.delenv("RESTIC_PASSWORD", raising=False)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    return str(repo)
