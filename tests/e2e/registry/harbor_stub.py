"""A stand-in for Harbor (which cannot run here): serves the parts of Harbor's /api/v2.0 swagger that
kubekeeper uses (systeminfo, projects list/head/create, repositories, artifacts — paginated with
`page`/`page_size`, `Link` and `X-Total-Count`; repository names double URL-encoded) plus the legacy
/api/chartrepo endpoints of Harbor < 2.8, and proxies /v2/ to a REAL docker-registry behind it, so
all image data still goes through a real distribution implementation.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.e2e.registry.sandbox import Registry, free_port

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "host", "content-length"}


@dataclass
class HarborStub:
    registry: Registry
    username: str = "admin"
    password: str = "Harbor12345"
    version: str = "v2.7.1-6015b3ef"
    projects: dict[str, bool] = field(default_factory=dict)  # name -> public
    untagged: dict[str, list[str]] = field(default_factory=dict)  # repo -> digests
    charts: dict[str, dict[str, bytes]] = field(default_factory=dict)  # project -> file -> tgz
    created: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.http = httpx.Client(timeout=120)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _catalog(self) -> list[str]:
        return self.http.get(self.registry.url + "/v2/_catalog").json().get("repositories") or []

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, doc, headers=None):
                self._send(200, json.dumps(doc).encode(), {"Content-Type": "application/json", **(headers or {})})

            def _page(self, items: list, query: dict) -> None:
                page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["10"])[0])
                chunk = items[(page - 1) * size : page * size]
                headers = {"X-Total-Count": str(len(items))}
                if page * size < len(items):
                    headers["Link"] = f'<{urlsplit(self.path).path}?page={page + 1}&page_size={size}>; rel="next"'
                self._json(chunk, headers)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _authorized(self) -> bool:
                expected = "Basic " + base64.b64encode(f"{stub.username}:{stub.password}".encode()).decode()
                if self.headers.get("Authorization") == expected:
                    return True
                self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"Content-Type": "application/json"})
                return False

            def _proxy(self) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                headers["Host"] = f"127.0.0.1:{stub.port}"
                r = stub.http.request(self.command, stub.registry.url + self.path, headers=headers, content=self._body())
                out = {k: v for k, v in r.headers.items() if k.lower() not in HOP}
                self._send(r.status_code, r.content if self.command != "HEAD" else b"", out)
                if self.command == "HEAD":  # keep the registry's length for HEAD
                    pass

            def _route(self) -> None:
                parts = urlsplit(self.path)
                raw, query = parts.path, parse_qs(parts.query)
                stub.requests.append(f"{self.command} {self.path}")
                if raw.startswith("/v2/") or raw == "/v2":
                    return self._proxy()
                if not self._authorized():
                    return
                projects = dict(stub.projects)
                for repo in stub._catalog():
                    projects.setdefault(repo.split("/", 1)[0], False)
                if raw == "/api/v2.0/systeminfo":
                    return self._json({"harbor_version": stub.version})
                if raw == "/api/v2.0/projects":
                    if self.command == "HEAD":
                        return self._send(200 if query.get("project_name", [""])[0] in projects else 404)
                    if self.command == "POST":
                        doc = json.loads(self._body())
                        if doc["project_name"] in projects:
                            return self._send(409)
                        stub.created.append(doc)
                        stub.projects[doc["project_name"]] = doc.get("metadata", {}).get("public") == "true"
                        return self._send(201)
                    items = [{"name": n, "metadata": {"public": "true" if pub else "false"}} for n, pub in sorted(projects.items())]
                    return self._page(items, query)
                m = re.fullmatch(r"/api/v2\.0/projects/([^/]+)/repositories", raw)
                if m:
                    project = unquote(m.group(1))
                    return self._page([{"name": r} for r in stub._catalog() if r.startswith(project + "/")], query)
                m = re.fullmatch(r"/api/v2\.0/projects/([^/]+)/repositories/([^/]+)/artifacts", raw)
                if m:  # the path segment arrives once-encoded (%2F): Harbor wants it double-encoded
                    name = unquote(unquote(m.group(2)))
                    if "/" in name and "%2F" not in m.group(2).upper() and "%252F" not in m.group(2).upper():
                        return self._send(404)
                    repo = f"{unquote(m.group(1))}/{name}"
                    tags = stub.http.get(f"{stub.registry.url}/v2/{repo}/tags/list").json().get("tags") or []
                    items = [{"digest": "?", "tags": [{"name": t}]} for t in tags]
                    items += [{"digest": d, "tags": None} for d in stub.untagged.get(repo, [])]
                    return self._page(items, query)
                m = re.fullmatch(r"/api/chartrepo/([^/]+)/charts(?:/([^/]+))?", raw)
                if m:
                    files = stub.charts.get(m.group(1), {})
                    if self.command == "POST":
                        body = self._body()
                        name = re.search(rb'filename="([^"]+)"', body).group(1).decode()
                        content = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
                        stub.charts.setdefault(m.group(1), {})[name] = content
                        return self._send(201)
                    if m.group(2) is None:
                        names = sorted({f.rsplit("-", 1)[0] for f in files})
                        return self._json([{"name": n} for n in names])
                    versions = [f for f in files if f.rsplit("-", 1)[0] == m.group(2)]
                    return self._json([{"name": m.group(2), "urls": [f"charts/{f}"]} for f in versions])
                m = re.fullmatch(r"/chartrepo/([^/]+)/charts/([^/]+)", raw)
                if m and m.group(2) in stub.charts.get(m.group(1), {}):
                    return self._send(200, stub.charts[m.group(1)][m.group(2)], {"Content-Type": "application/gzip"})
                return self._send(404)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _route

        return Handler
