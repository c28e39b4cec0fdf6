"""Real `docker-registry` (distribution 2.8) processes on 127.0.0.1, a token issuer, and a raw-httpx
filler/inspector that is independent of kubekeeper's own client (so the tests can catch its bugs).

Used by the e2e tests and by bench/bench_registry.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------- token issuer


class TokenIssuer:
    """A tiny Docker token server: Basic-authenticates a user, signs an RS256 JWT with a test key
    whose self-signed certificate is the registry's `rootcertbundle`. Grants every requested scope."""

    def __init__(self, workdir: Path, username: str, password: str, *, lifetime: int = 60) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.username, self.password, self.lifetime = username, password, lifetime
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubekeeper-test-issuer")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                     .not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = workdir / "issuer.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.issued = 0
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, scopes: list[str], subject: str = "test", service: str = "test-registry") -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": "test-issuer", "sub": subject, "aud": service, "exp": now + self.lifetime, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": access}
        b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        signing_input = f"{b64(header)}.{b64(claims)}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def _handler(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                expected = "Basic " + base64.b64encode(f"{issuer.username}:{issuer.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                query = parse_qs(urlsplit(self.path).query)
                token = issuer.sign(query.get("scope", []), service=query.get("service", ["test-registry"])[0])
                issuer.issued += 1
                body = json.dumps({"token": token, "expires_in": issuer.lifetime}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------- registry process


@dataclass
class Registry:
    """One docker-registry process; `auth_header(scopes)` is what the filler sends."""

    workdir: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    username: str = ""
    password: str = ""
    issuer: TokenIssuer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def auth_header(self, scopes: list[str]) -> dict[str, str]:
        if self.issuer is not None:
            return {"Authorization": "Bearer " + self.issuer.sign(scopes)}
        if self.username:
            return {"Authorization": "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()}
        return {}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def blob_gets(self) -> int:
        """Blob downloads the registry served (its access log), to prove what a backup fetched."""
        return len(re.findall(r'"GET /v2/\S+/blobs/sha256:', self.log_text()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.issuer is not None:
            self.issuer.stop()


def start_registry(workdir: Path, *, auth: str = "none", username: str = "tester", password: str = "") -> Registry:
    """auth: none | htpasswd | token. Waits until /v2/ answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    password = password or secrets.token_urlsafe(12)
    auth_config = ""
    issuer = None
    if auth == "htpasswd":
        htpasswd = workdir / "htpasswd"
        subprocess.run(["htpasswd", "-B", "-i", "-c", str(htpasswd), username], input=password.encode(),
                       check=True, capture_output=True)
        auth_config = f"auth:\n  htpasswd:\n    realm: kubekeeper-test\n    path: {htpasswd}\n"
    elif auth == "token":
        issuer = TokenIssuer(workdir, username, password)
        auth_config = (f"auth:\n  token:\n    realm: {issuer.realm}\n    service: test-registry\n"
                       f"    issuer: test-issuer\n    rootcertbundle: {issuer.cert_path}\n")
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: info\n  formatter: text\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n" + auth_config)
    log_path = workdir / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    registry = Registry(workdir, port, process, log_path, username if auth != "none" else "",
                        password if auth != "none" else "", issuer)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {registry.log_text()[-2000:]}")
        try:
            httpx.get(registry.url + "/v2/", timeout=1)
            return registry
        except httpx.TransportError:
            time.sleep(0.1)
    registry.stop()
    raise RuntimeError("docker-registry did not start")


# ---------------------------------------------------------------------- filler and inspector


@dataclass
class Filler:
    """Pushes blobs and manifests with plain httpx (not kubekeeper's client)."""

    registry: Registry
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))

    def _h(self, repo: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.registry.auth_header([f"repository:{repo}:pull,push"]), **(extra or {})}

    def blob(self, repo: str, data: bytes) -> dict:
        digest = digest_of(data)
        r = self.http.post(f"{self.registry.url}/v2/{repo}/blobs/uploads/", headers=self._h(repo))
        assert r.status_code == 202, r.text
        location = httpx.URL(self.registry.url).join(r.headers["Location"]).copy_merge_params({"digest": digest})
        r = self.http.put(location, content=data,
                          headers=self._h(repo, {"Content-Type": "application/octet-stream"}))
        assert r.status_code == 201, r.text
        return {"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}

    def blob_file(self, repo: str, path: Path, digest: str) -> dict:
        """Stream a big blob from a file (bench: 1 GB layer without holding it in memory)."""
        size = path.stat().st_size
        r = self.http.post(f"{self.registry.url}/v2/{repo}/blobs/uploads/", headers=self._h(repo))
        location = httpx.URL(self.registry.url).join(r.headers["Location"]).copy_merge_params({"digest": digest})

        def pieces():
            with path.open("rb") as f:
                yield from iter(lambda: f.read(1 << 20), b"")

        r = self.http.put(location, content=pieces(),
                          headers=self._h(repo, {"Content-Type": "application/octet-stream", "Content-Length": str(size)}))
        assert r.status_code == 201, r.text
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}

    def manifest(self, repo: str, ref: str, doc: dict) -> tuple[str, int]:
        data = json.dumps(doc, separators=(",", ":")).encode()
        r = self.http.put(f"{self.registry.url}/v2/{repo}/manifests/{ref}", content=data,
                          headers=self._h(repo, {"Content-Type": doc["mediaType"]}))
        assert r.status_code == 201, r.text
        return digest_of(data), len(data)

    def image(self, repo: str, tag: str | None, layers: list[bytes], *, oci: bool, platform: str = "linux/amd64",
              subject: dict | None = None, config_type: str | None = None, layer_type: str | None = None) -> dict:
        os_, arch = platform.split("/")
        config = json.dumps({"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": []},
                             "salt": secrets.token_hex(4)}).encode()
        cdesc = self.blob(repo, config)
        ldescs = [self.blob(repo, layer) for layer in layers]
        mtype = OCI_MANIFEST if oci else DOCKER_MANIFEST
        cdesc["mediaType"] = config_type or ("application/vnd.oci.image.config.v1+json" if oci else
                                             "application/vnd.docker.container.image.v1+json")
        for d in ldescs:
            d["mediaType"] = layer_type or ("application/vnd.oci.image.layer.v1.tar+gzip" if oci else
                                            "application/vnd.docker.image.rootfs.diff.tar.gzip")
        doc: dict = {"schemaVersion": 2, "mediaType": mtype, "config": cdesc, "layers": ldescs}
        if subject:
            doc["subject"] = subject
        digest, size = self.manifest(repo, tag or digest_of(json.dumps(doc, separators=(",", ":")).encode()), doc)
        return {"mediaType": mtype, "digest": digest, "size": size, "platform": {"os": os_, "architecture": arch}}

    def index(self, repo: str, tag: str, children: list[dict], *, oci: bool) -> dict:
        mtype = OCI_INDEX if oci else DOCKER_LIST
        digest, size = self.manifest(repo, tag, {"schemaVersion": 2, "mediaType": mtype, "manifests": children})
        return {"mediaType": mtype, "digest": digest, "size": size}


def fill_standard(registry: Registry, *, layer_size: int = 64 * 1024) -> dict:
    """Images sharing layers, Docker v2 + OCI manifests, a multi-arch OCI index and a Docker manifest
    list, a Helm chart OCI artifact and a cosign-style signature (subject + sha256-<hex>.sig tag)."""
    f = Filler(registry)
    base1, base2 = os.urandom(layer_size), os.urandom(layer_size)
    u = [os.urandom(layer_size // 4 + i) for i in range(8)]
    app_v1 = f.image("library/app", "v1", [base1, base2, u[0]], oci=False)
    f.image("library/app", "v2", [base1, base2, u[1]], oci=False)
    f.image("team/web", "1.0", [base1, u[2]], oci=True)
    amd = f.image("team/multi", None, [base1, u[3]], oci=True, platform="linux/amd64")
    arm = f.image("team/multi", None, [base2, u[4]], oci=True, platform="linux/arm64")
    f.index("team/multi", "latest", [amd, arm], oci=True)
    d_amd = f.image("library/app", None, [base1, u[5]], oci=False, platform="linux/amd64")
    d_arm = f.image("library/app", None, [base2, u[6]], oci=False, platform="linux/arm64")
    f.index("library/app", "multi", [d_amd, d_arm], oci=False)
    f.image("charts/mychart", "0.1.0", [u[7]], oci=True, config_type="application/vnd.cncf.helm.config.v1+json",
            layer_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip")
    subject = {"mediaType": app_v1["mediaType"], "digest": app_v1["digest"], "size": app_v1["size"]}
    sig_tag = app_v1["digest"].replace(":", "-") + ".sig"
    f.image("library/app", sig_tag, [b'{"critical":{"image":{"docker-manifest-digest":"%s"}}}' % app_v1["digest"].encode()],
            oci=True, subject=subject, layer_type="application/vnd.dev.cosign.simplesigning.v1+json")
    return {"app_v1": app_v1, "sig_tag": sig_tag}


def inventory(registry: Registry) -> dict[str, dict[str, str]]:
    """{repository: {tag: manifest digest}} plus every child manifest as `@digest` keys, read with
    plain httpx (the ground truth the tests compare)."""
    http = httpx.Client(timeout=60)
    r = http.get(registry.url + "/v2/_catalog", headers=registry.auth_header(["registry:catalog:*"]))
    assert r.status_code == 200, r.text
    result: dict[str, dict[str, str]] = {}
    for repo in r.json()["repositories"]:
        h = {**registry.auth_header([f"repository:{repo}:pull"]), "Accept": ACCEPT}
        tags = http.get(f"{registry.url}/v2/{repo}/tags/list", headers=h).json().get("tags") or []
        entry: dict[str, str] = {}
        for tag in tags:
            m = http.get(f"{registry.url}/v2/{repo}/manifests/{tag}", headers=h)
            assert m.status_code == 200
            entry[tag] = digest_of(m.content)
            assert m.headers["Docker-Content-Digest"] == entry[tag]
            doc = json.loads(m.content)
            for child in doc.get("manifests", []):
                c = http.get(f"{registry.url}/v2/{repo}/manifests/{child['digest']}", headers=h)
                assert c.status_code == 200, f"{repo}@{child['digest']} missing"
                entry["@" + child["digest"]] = digest_of(c.content)
        result[repo] = entry
    return result


class ThrottleProxy:
    """A TCP proxy that slows registry -> client traffic to `rate` bytes/s, so a test can kill a
    backup while blobs are in flight (loopback is otherwise too fast to catch midway)."""

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.upstream_port, self.rate = upstream_port, rate
        self.port = free_port()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.rate), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, rate: int) -> None:
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self.running = False
        self.sock.close()


def blob_digests_requested(log_text: str) -> set[str]:
    return set(re.findall(r'"GET /v2/\S+/blobs/(sha256:[0-9a-f]{64})', log_text))
