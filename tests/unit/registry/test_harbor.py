"""Harbor adapter details that need no server: double encoding, version gate for chartrepo."""

from __future__ import annotations

import httpx

from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.harbor import Harbor, encode_repository


def test_repository_names_are_double_encoded():
    assert encode_repository("sub/api") == "sub%252Fapi"
    assert encode_repository("plain") == "plain"


def _harbor(version: str) -> Harbor:
    def handler(request):
        return httpx.Response(200, json={"harbor_version": version})

    return Harbor(RegistryClient(RegistryOptions("https://h.test"), transport=httpx.MockTransport(handler)))


def test_chartrepo_only_before_2_8():
    assert _harbor("v2.7.1-abc").has_chartrepo()
    assert not _harbor("v2.8.0-abc").has_chartrepo()
    assert not _harbor("").has_chartrepo()


def test_projects_paginate():
    pages = {"1": [{"name": f"p{i}", "metadata": {"public": "true"}} for i in range(100)], "2": [{"name": "last"}]}

    def handler(request):
        return httpx.Response(200, json=pages.get(request.url.params["page"], []))

    hub = Harbor(RegistryClient(RegistryOptions("https://h.test"), transport=httpx.MockTransport(handler)))
    projects = hub.projects()
    assert len(projects) == 101 and projects[0].public and not projects[-1].public
