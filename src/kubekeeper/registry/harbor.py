"""Harbor adapter: list through `/api/v2.0` (Harbor serves `_catalog` only to system admins), create
missing projects (public/private kept) before a restore, and carry the legacy ChartMuseum repository
(`/api/chartrepo`) for Harbor < 2.8, where charts were not yet OCI artifacts.

Repository names inside a project are double URL-encoded in the v2.0 API (`a/b` -> `a%252Fb`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from packaging.version import InvalidVersion, Version

from kubekeeper.errors import OperationFailed
from kubekeeper.fsutil import write_atomic
from kubekeeper.registry.client import RegistryClient

log = logging.getLogger(__name__)

API = "/api/v2.0"
PAGE_SIZE = 100
CHARTMUSEUM_REMOVED = Version("2.8")
CHARTREPO_DIR = "chartrepo"


@dataclass(frozen=True)
class Project:
    name: str
    public: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "public": self.public}


def encode_repository(name: str) -> str:
    """Harbor's double encoding of the repository part (after the project)."""
    return quote(quote(name, safe=""), safe="")


class Harbor:
    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def _headers(self) -> dict[str, str]:
        creds = self.client.options.credentials
        return {"Authorization": creds.basic_header()} if not creds.empty and creds.password else {}

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response | None:
        response = self.client._http.get(self.client.url(path), params=params, headers={**self._headers(), "Accept": "application/json"})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise OperationFailed(f"Harbor API {path} on {self.client.host}: HTTP {response.status_code}")
        return response

    def _pages(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self._get(path, {**(params or {}), "page": str(page), "page_size": str(PAGE_SIZE)})
            if response is None:
                return items
            batch = response.json() or []
            items.extend(batch)
            if 'rel="next"' not in response.headers.get("Link", "") and len(batch) < PAGE_SIZE:
                return items
            if not batch:
                return items
            page += 1

    def version(self) -> Version | None:
        response = self._get(f"{API}/systeminfo")
        text = (response.json().get("harbor_version", "") if response is not None else "").lstrip("v").split("-")[0]
        try:
            return Version(text) if text else None
        except InvalidVersion:
            return None

    def has_chartrepo(self) -> bool:
        version = self.version()
        return version is not None and version < CHARTMUSEUM_REMOVED

    def projects(self) -> list[Project]:
        return [Project(p["name"], str((p.get("metadata") or {}).get("public", "false")).lower() == "true")
                for p in self._pages(f"{API}/projects")]

    def repositories(self, project: str) -> list[str]:
        return [r["name"] for r in self._pages(f"{API}/projects/{quote(project, safe='')}/repositories")]

    def untagged_artifacts(self, repository: str) -> list[str]:
        """Digests of artifacts without a tag (signatures and other accessories live here)."""
        project, _, name = repository.partition("/")
        path = f"{API}/projects/{quote(project, safe='')}/repositories/{encode_repository(name)}/artifacts"
        return [a["digest"] for a in self._pages(path, {"with_tag": "true"}) if not a.get("tags")]

    def ensure_project(self, project: Project) -> bool:
        """Create the project if missing; True when it was created."""
        response = self.client._http.head(self.client.url(f"{API}/projects"), params={"project_name": project.name}, headers=self._headers())
        if response.status_code == 200:
            return False
        body = {"project_name": project.name, "metadata": {"public": "true" if project.public else "false"}}
        response = self.client._http.post(self.client.url(f"{API}/projects"), json=body, headers=self._headers())
        if response.status_code == 409:
            return False
        if response.status_code != 201:
            raise OperationFailed(f"cannot create Harbor project {project.name} on {self.client.host}: HTTP {response.status_code}")
        return True

    # ------------------------------------------------------------------ legacy chart repository (< 2.8)
    def backup_charts(self, project: str, target: Path) -> int:
        """Download every chart version's .tgz into `target/<project>/`; returns how many."""
        count = 0
        charts = self._get(f"/api/chartrepo/{quote(project, safe='')}/charts")
        for chart in (charts.json() if charts is not None else []) or []:
            versions = self._get(f"/api/chartrepo/{quote(project, safe='')}/charts/{quote(chart['name'], safe='')}")
            for version in (versions.json() if versions is not None else []) or []:
                for url in version.get("urls", []):
                    name = url.rsplit("/", 1)[-1]
                    response = self._get(f"/chartrepo/{quote(project, safe='')}/{url.lstrip('/')}")
                    if response is None:
                        continue
                    write_atomic(target / project / name, response.content)
                    count += 1
        return count

    def restore_charts(self, project: str, source: Path) -> int:
        count = 0
        for tgz in sorted((source / project).glob("*.tgz")):
            response = self.client._http.post(self.client.url(f"/api/chartrepo/{quote(project, safe='')}/charts"),
                                              files={"chart": (tgz.name, tgz.read_bytes(), "application/gzip")}, headers=self._headers())
            if response.status_code not in (200, 201, 409):
                raise OperationFailed(f"cannot upload chart {tgz.name} to {project}: HTTP {response.status_code}")
            count += 1
        return count


def save_projects(projects: list[Project], path: Path) -> None:
    write_atomic(path, json.dumps([p.to_json() for p in projects], indent=1))


def load_projects(path: Path) -> list[Project]:
    if not path.exists():
        return []
    return [Project(p["name"], bool(p.get("public"))) for p in json.loads(path.read_text())]
