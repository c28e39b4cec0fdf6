"""Registry client against httpx.MockTransport: auth challenges, pagination, retries, digest checks,
resume; plus credentials resolution, URL normalisation and project mapping. Offline and fast."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from kubekeeper.errors import BadInput, OperationFailed, VerificationFailed
from kubekeeper.registry import auth, media
from kubekeeper.registry.client import RegistryClient, RegistryOptions, _next_link, normalize_url
from kubekeeper.registry.layout import Entry, Layout
from kubekeeper.registry.media import Descriptor
from kubekeeper.registry.sync import map_repository, parse_project_map


def client_for(handler, **kw) -> RegistryClient:
    opts = RegistryOptions("http://reg.test", backoff=0.0, **kw)
    return RegistryClient(opts, transport=httpx.MockTransport(handler))


def test_normalize_url_assumes_https_and_rejects_paths():
    assert normalize_url("reg.example:5000") == ("https://reg.example:5000", "reg.example:5000")
    assert normalize_url("http://127.0.0.1:5000/") == ("http://127.0.0.1:5000", "127.0.0.1:5000")
    for bad in ("", "ftp://x", "https://r/some/path", "https://u:p@r"):
        with pytest.raises(BadInput):
            normalize_url(bad)


def test_bearer_challenge_fetches_scoped_token_and_reuses_it():
    tokens = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
            tokens.append(request.url.params.get_list("scope"))
            return httpx.Response(200, json={"token": "T1", "expires_in": 300})
        if request.headers.get("Authorization") != "Bearer T1":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="http://reg.test/token",service="svc",scope="repository:a/b:pull"'})
        return httpx.Response(200, json={"name": "a/b", "tags": ["x", "y"]})

    c = client_for(handler, credentials=auth.Credentials("u", "p"))
    assert c.tags("a/b") == ["x", "y"]
    assert c.tags("a/b") == ["x", "y"]
    assert tokens == [["repository:a/b:pull"]]


def test_basic_challenge_and_wrong_password_is_one_clear_error():
    def handler(request):
        if request.headers.get("Authorization") == auth.Credentials("u", "good").basic_header():
            return httpx.Response(200)
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    client_for(handler, credentials=auth.Credentials("u", "good")).ping()
    with pytest.raises(OperationFailed, match="rejected"):
        client_for(handler, credentials=auth.Credentials("u", "bad")).ping()
    with pytest.raises(OperationFailed, match="needs credentials"):
        client_for(handler).ping()


def test_catalog_follows_link_pagination():
    pages = {None: (["a", "b"], '</v2/_catalog?last=b&n=2>; rel="next"'), "b": (["c"], "")}

    def handler(request):
        repos, link = pages[request.url.params.get("last")]
        return httpx.Response(200, json={"repositories": repos}, headers={"Link": link} if link else {})

    assert client_for(handler).catalog(page_size=2) == ["a", "b", "c"]
    assert _next_link('<https://r/v2/x?n=1&last=a>; rel="next"') == "https://r/v2/x?n=1&last=a"


def test_retries_5xx_and_429_with_retry_after():
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(503)
        if len(calls) == 2:
            return httpx.Response(429, headers={"Retry-After": "0"})
        if len(calls) == 3:
            raise httpx.ConnectError("dropped")
        return httpx.Response(200)

    client_for(handler).ping()
    assert len(calls) == 4


def test_manifest_digest_mismatch_is_detected():
    body = b'{"schemaVersion":2,"mediaType":"%s","config":{"digest":"sha256:%s","size":1},"layers":[]}' % (media.OCI_MANIFEST.encode(), b"0" * 64)

    def handler(request):
        assert media.OCI_INDEX in request.headers["Accept"] and media.DOCKER_LIST in request.headers["Accept"]
        return httpx.Response(200, content=body, headers={"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "1" * 64})

    with pytest.raises(VerificationFailed):
        client_for(handler).get_manifest("a", "latest")


def test_put_manifest_sends_exact_bytes_and_media_type():
    data = b'{"schemaVersion": 2,  "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}'
    seen = {}

    def handler(request):
        seen["body"], seen["type"] = request.content, request.headers["Content-Type"]
        return httpx.Response(201, headers={"Docker-Content-Digest": media.sha256_digest(request.content)})

    assert client_for(handler).put_manifest("a", "t", data, media.OCI_INDEX) == media.sha256_digest(data)
    assert seen == {"body": data, "type": media.OCI_INDEX}


def test_blob_fetch_resumes_with_range_and_verifies(tmp_path: Path):
    blob = bytes(range(256)) * 1000
    desc = Descriptor("x", "sha256:" + hashlib.sha256(blob).hexdigest(), len(blob))
    partial = tmp_path / "p.partial"
    partial.write_bytes(blob[:1000])
    ranges = []

    def handler(request):
        ranges.append(request.headers.get("Range"))
        start = int(request.headers["Range"].split("=")[1].rstrip("-"))
        return httpx.Response(206, content=blob[start:])

    c = client_for(handler)
    c.fetch_blob("a", desc, partial)
    assert ranges == ["bytes=1000-"] and partial.read_bytes() == blob
    assert c.stats.bytes_fetched == len(blob) - 1000
    bad = tmp_path / "bad.partial"
    with pytest.raises(VerificationFailed):
        client_for(lambda r: httpx.Response(200, content=b"evil")).fetch_blob("a", desc, bad)
    assert not bad.exists()


def test_chunked_upload_patches_in_order(tmp_path: Path):
    blob = b"z" * 2500
    path = tmp_path / "b"
    path.write_bytes(blob)
    digest = media.sha256_digest(blob)
    got = bytearray()
    log = []

    def handler(request):
        log.append(request.method)
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/a/blobs/uploads/u1?_state=s"})
        assert request.url.params["_state"] == "s"
        if request.method == "PATCH":
            start, end = map(int, request.headers["Content-Range"].split("-"))
            assert start == len(got)
            got.extend(request.content)
            return httpx.Response(202, headers={"Location": "/v2/a/blobs/uploads/u1?_state=s"})
        assert request.url.params["digest"] == digest
        return httpx.Response(201)

    client_for(handler, chunk_size=1000).upload_blob("a", Descriptor("x", digest, len(blob)), path)
    assert bytes(got) == blob and log == ["POST", "PATCH", "PATCH", "PATCH", "PUT"]


def test_credentials_order(tmp_path: Path):
    config = tmp_path / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"https://reg.test": {"auth": base64.b64encode(b"d:dp").decode()}}}))
    env = {"HOME": str(tmp_path)}
    assert auth.resolve("reg.test", environ=env) == auth.Credentials("d", "dp")
    env2 = {**env, auth.ENV_USERNAME: "e", auth.ENV_PASSWORD: "ep"}
    assert auth.resolve("reg.test", environ=env2) == auth.Credentials("e", "ep")
    assert auth.resolve("reg.test", username="f", password="fp", environ=env2) == auth.Credentials("f", "fp")
    assert auth.resolve("other", environ=env).empty
    with pytest.raises(BadInput):
        auth.resolve("reg.test", environ={auth.ENV_USERNAME: "only"})
    assert "dp" not in repr(auth.Credentials("d", "dp"))


def test_parse_challenge():
    c = auth.parse_challenge('Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"')
    assert c.scheme == "bearer" and c.params["scope"] == "repository:x:pull,push" and c.params["service"] == "reg"


def test_project_map():
    mapping = parse_project_map(["team=prod", "a/b=c"])
    assert map_repository("team/web", mapping) == "prod/web"
    assert map_repository("teamx/web", mapping) == "teamx/web"
    assert map_repository("a/b/c", mapping) == "c/c"
    with pytest.raises(BadInput):
        parse_project_map(["nope"])


def test_layout_rejects_bad_bytes_and_roundtrips_index(tmp_path: Path):
    layout = Layout(tmp_path).ensure()
    data = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    digest = media.sha256_digest(data)
    with pytest.raises(VerificationFailed):
        layout.put_bytes(b"other", digest)
    layout.put_bytes(data, digest)
    entries = [Entry("a/b", "t", digest, media.OCI_INDEX, len(data)), Entry("a/b", None, digest, media.OCI_INDEX, len(data))]
    layout.write_index(entries)
    assert set(layout.entries()) == set(entries)
    doc = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert doc["manifests"][0]["annotations"]["io.kubekeeper.repository"] == "a/b"
    stray = media.sha256_digest(b"stray")
    layout.put_bytes(b"stray", stray)
    assert layout.gc(entries) == 1 and not layout.has(stray)
    with pytest.raises(ValueError):
        layout.blob_path("sha256:../../etc/passwd")


def test_media_parse_and_fallback_tag():
    doc = {"mediaType": media.OCI_MANIFEST, "config": {"digest": "sha256:" + "a" * 64, "size": 1, "mediaType": media.HELM_CONFIG},
           "layers": [{"digest": "sha256:" + "b" * 64, "size": 2}], "subject": {"digest": "sha256:" + "c" * 64, "size": 3}}
    parsed = media.parse(json.dumps(doc).encode())
    assert [b.digest[-1] for b in parsed.blobs] == ["a", "b"] and parsed.subject.digest.endswith("c")
    assert media.fallback_tag("sha256:" + "c" * 64) == "sha256-" + "c" * 64


# ---- connection errors and bad inputs around the client (issue 11, fault 7 siblings)


def _connect_error(cause: OSError):
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise cause
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
    return handler


def test_a_name_that_does_not_resolve_fails_at_once_other_errors_are_retried(caplog):
    """The resolver is stood in for by the transport (tests reach no DNS server): NXDOMAIN vs refused."""
    import socket

    calls = []

    def counting(cause):
        inner = _connect_error(cause)

        def handler(request):
            calls.append(request)
            return inner(request)
        return handler

    no_name = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(OperationFailed, match="registry host reg.test does not resolve"):
        client_for(counting(no_name), retries=6).ping()
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(OperationFailed, match="unreachable"):
        client_for(counting(ConnectionRefusedError(111, "Connection refused")), retries=2).ping()
    assert len(calls) == 3  # refused is retried (the registry may be restarting), and each retry is logged
    assert [r.getMessage() for r in caplog.records if "retry" in r.getMessage()] == [
        "registry reg.test: ConnectError: [Errno 111] Connection refused; retry 1 of 2",
        "registry reg.test: ConnectError: [Errno 111] Connection refused; retry 2 of 2",
    ]


def test_an_untrusted_certificate_fails_at_once_naming_cacert():
    import ssl

    calls = []
    inner = _connect_error(ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate"))

    def handler(request):
        calls.append(request)
        return inner(request)

    with pytest.raises(OperationFailed, match="TLS certificate not trusted .* --cacert"):
        client_for(handler, retries=6).ping()
    assert len(calls) == 1


def test_a_ca_file_without_a_certificate_is_bad_input(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    with pytest.raises(BadInput, match=f"CA certificate {ca} holds no PEM certificate"):
        RegistryClient(RegistryOptions("https://reg.test", cacert=ca))


@pytest.mark.parametrize("content", ['["a list"]', '{"auths": ["x"]}', '{"auths": {"reg.test": "x"}}', "\xff{", "{"])
def test_malformed_docker_config_is_bad_input(tmp_path: Path, content: str):
    config = tmp_path / "config.json"
    config.write_bytes(content.encode("latin-1"))
    with pytest.raises(BadInput, match="docker config|auths entry"):
        auth.from_docker_config("reg.test", config)


def test_a_manifest_that_cannot_be_written_leaves_no_temp_file_and_names_the_blob(tmp_path: Path, monkeypatch):
    import errno
    import os

    layout = Layout(tmp_path / "cache").ensure()
    data = b'{"schemaVersion": 2}'
    digest = media.sha256_digest(data)

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("kubekeeper.registry.layout.os.replace", full)
    with pytest.raises(OSError) as info:
        layout.put_bytes(data, digest)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(layout.blob_path(digest))
    assert list(layout.ingest.iterdir()) == [] and not layout.has(digest)
