"""A STAND-IN FOR THE KUBERNETES API SERVER (none can run on this machine), for the volume tests.

It serves the v1 PVC, PV and Pod endpoints and batch/v1 Jobs the way the real API server does where
kubekeeper depends on it, so a test can hold it to the API's costs:
- lists are paginated: `limit` + an opaque `continue` token, items in key order (namespace/name, as
  etcd returns them), `metadata.continue` and `remainingItemCount` on every page but the last;
- `fieldSelector` is honoured (`=`, `==`, `!=`, comma = AND) for the fields the API server indexes
  for these kinds (metadata.name/namespace, spec.nodeName, status.phase, ...); any other field is a
  400 "field label not supported", as from the real server;
- GET of one object, 404 Status for a missing one; POST creates (PVCs bind at once to a named static
  PV, as the PV controller would), 409 AlreadyExists for a second Job of the same name;
- every request is logged (method, path, query, and the credentials it carried), so tests count what a
  run cost and see who asked;
- `serve_in_cluster` serves it the way a pod sees the API: HTTPS with a cluster CA, and the pod's
  service-account token, CA and namespace files.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

#: field selectors the API server supports, per resource (pkg/registry/core/*/strategy.go)
FIELDS = {
    "pods": {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "persistentvolumeclaims": {"metadata.name", "metadata.namespace"},
    "persistentvolumes": {"metadata.name"},
    "jobs": {"metadata.name", "metadata.namespace", "status.successful"},
}
KINDS = {"pods": "Pod", "persistentvolumeclaims": "PersistentVolumeClaim", "persistentvolumes": "PersistentVolume", "jobs": "Job"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str = ""


@dataclass
class FakeCluster:
    pvcs: dict[tuple[str, str], dict] = field(default_factory=dict)
    pvs: dict[str, dict] = field(default_factory=dict)
    pods: list[dict] = field(default_factory=list)
    jobs: dict[tuple[str, str], dict] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, claim: dict, volume: dict | None = None) -> None:
        self.pvcs[(claim["metadata"]["namespace"], claim["metadata"]["name"])] = claim
        if volume:
            self.pvs[volume["metadata"]["name"]] = volume

    def objects(self, resource: str, namespace: str | None) -> list[dict]:
        if resource == "pods":
            found = self.pods
        elif resource == "persistentvolumeclaims":
            found = list(self.pvcs.values())
        elif resource == "persistentvolumes":
            found = list(self.pvs.values())
        else:
            found = list(self.jobs.values())
        if namespace is not None:
            found = [o for o in found if o["metadata"].get("namespace") == namespace]
        return sorted(found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def field_value(obj: dict, path: str) -> str:
    value: object = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def parse_selector(resource: str, text: str) -> list[tuple[str, bool, str]]:
    """`a=b,c!=d` -> [(field, equal, value)]; ValueError for a field the server does not index."""
    terms = []
    for term in filter(None, text.split(",")):
        match = re.fullmatch(r"([A-Za-z.]+)(==|=|!=)(.*)", term)
        if not match or match[1] not in FIELDS[resource]:
            raise ValueError(f'field label not supported: {term.split("=")[0].rstrip("!")}')
        terms.append((match[1], match[2] != "!=", match[3]))
    return terms


class Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})

    def _record(self) -> tuple[str, dict[str, str]]:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.cluster.requests.append(Request(self.command, url.path, query, self.headers.get("Authorization", "")))
        return url.path, query

    def _list(self, resource: str, namespace: str | None, query: dict[str, str], api_version: str = "v1") -> None:
        try:
            selector = parse_selector(resource, query.get("fieldSelector", ""))
        except ValueError as exc:
            return self._status(400, "BadRequest", str(exc))
        items = [o for o in self.cluster.objects(resource, namespace)
                 if all((field_value(o, f) == v) == equal for f, equal, v in selector)]
        start = 0
        if query.get("continue"):
            start = json.loads(base64.b64decode(query["continue"]))["start"]
        limit = int(query.get("limit") or 0)
        page = items[start:start + limit] if limit else items[start:]
        metadata: dict = {"resourceVersion": "2000"}
        if limit and start + limit < len(items):
            metadata["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - start - limit
        strip = ("kind", "apiVersion")
        self._send(200, {"kind": f"{KINDS[resource]}List", "apiVersion": api_version, "metadata": metadata,
                         "items": [{k: v for k, v in o.items() if k not in strip} for o in page]})

    def do_GET(self) -> None:  # noqa: N802
        c = self.cluster
        with c.lock:
            path, query = self._record()
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/persistentvolumeclaims/([^/]+)", path):
                found = c.pvcs.get((m[1], m[2]))
                return self._send(200, found) if found else self._status(404, "NotFound", f'persistentvolumeclaims "{m[2]}" not found')
            if m := re.fullmatch(r"/api/v1/persistentvolumes/([^/]+)", path):
                found = c.pvs.get(m[1])
                return self._send(200, found) if found else self._status(404, "NotFound", f'persistentvolumes "{m[1]}" not found')
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/(pods|persistentvolumeclaims)", path):
                return self._list(m[2], m[1], query)
            if m := re.fullmatch(r"/api/v1/(pods|persistentvolumeclaims|persistentvolumes)", path):
                return self._list(m[1], None, query)
            if m := re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs", path):
                return self._list("jobs", m[1], query, "batch/v1")
        self._status(404, "NotFound", f"{path} not found")

    def do_POST(self) -> None:  # noqa: N802
        c = self.cluster
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with c.lock:
            path, _ = self._record()
            body.setdefault("metadata", {})["uid"] = str(uuid.uuid4())
            if path == "/api/v1/persistentvolumes":
                body["status"] = {"phase": "Available"}
                c.pvs[body["metadata"]["name"]] = body
                return self._send(201, body)
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/persistentvolumeclaims", path):
                if body["spec"].get("volumeName") in c.pvs:  # bind at once, as the PV controller does for a matching static PV
                    body["status"] = {"phase": "Bound"}
                    c.pvs[body["spec"]["volumeName"]]["status"] = {"phase": "Bound"}
                else:
                    body["status"] = {"phase": "Pending"}
                c.pvcs[(m[1], body["metadata"]["name"])] = body
                return self._send(201, body)
            if m := re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs", path):
                key = (m[1], body["metadata"]["name"])
                if key in c.jobs:
                    return self._status(409, "AlreadyExists", f'jobs.batch "{key[1]}" already exists')
                body["metadata"]["namespace"] = m[1]
                c.jobs[key] = body
                return self._send(201, body)
        self._status(404, "NotFound", f"{path} not found")


@contextmanager
def serve(cluster: FakeCluster, kubeconfig: Path) -> Iterator[Path]:
    """Serve `cluster` on 127.0.0.1 (a free port) and write a kubeconfig for it; stopped on exit."""
    handler = type("BoundHandler", (Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
        "clusters": [{"name": "stand-in", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "admin", "user": {"token": "stand-in-token"}}],
        "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "admin"}}],
    }))
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A CA-less server certificate for 127.0.0.1 that is its own trust anchor (the pod's ca.crt)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver stand-in")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def serve_in_cluster(cluster: FakeCluster, service_account: Path, namespace: str, token: str) -> Iterator[int]:
    """Serve `cluster` over HTTPS on 127.0.0.1 (a free port) and write what the kubelet mounts into a
    pod at /var/run/secrets/kubernetes.io/serviceaccount: token, ca.crt, namespace. Yields the port."""
    service_account.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed(service_account.parent)
    (service_account / "ca.crt").write_bytes(cert.read_bytes())
    (service_account / "token").write_text(token)
    (service_account / "namespace").write_text(namespace)
    handler = type("BoundHandler", (Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
