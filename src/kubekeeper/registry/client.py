"""A small OCI distribution-API client on httpx: auth, listing, manifests, blobs, referrers.

Written here because no maintained Python library streams uploads, mounts blobs across repositories
and reads docker credentials. Every request goes through `_send`, which handles the auth challenge
(Basic or Bearer with scopes, token refresh) and retries 5xx / 429 (`Retry-After`) / dropped
connections with exponential backoff. Blobs are streamed in 1 MiB pieces: memory stays flat whatever
the layer size.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import httpx

from kubekeeper import urls
from kubekeeper.errors import BadInput, OperationFailed, VerificationFailed
from kubekeeper.registry import auth, media
from kubekeeper.registry.auth import Credentials
from kubekeeper.registry.media import Descriptor

log = logging.getLogger(__name__)

PIECE = 1 << 20  # streaming granularity
DEFAULT_CHUNK = 64 << 20  # blobs above this are uploaded in PATCH chunks of this size
RETRY_STATUS = {429, 500, 502, 503, 504}
RETRY_ERRORS = (httpx.TransportError,)
ProgressFn = Callable[[int], None]


def _no_progress(_: int) -> None:
    return None


def normalize_url(url: str, what: str = "--registry") -> tuple[str, str]:
    """(`scheme://host[:port]`, `host[:port]`); `https://` is assumed when no scheme is given.

    Checked by the shared URL parser (kubekeeper.urls), so a malformed value is exit 2 at once
    instead of half a minute of retries; `what` names where it came from.
    """
    parsed = urls.parse_http_url(url, what, credentials_hint="; use --username/--password-stdin or the environment")
    if parsed.path.rstrip("/") not in ("", "/v2"):
        raise urls.invalid(url, what, "give the registry root, not a path")
    return parsed.origin, parsed.netloc


@dataclass(frozen=True)
class RegistryOptions:
    url: str
    credentials: Credentials = auth.ANONYMOUS
    cacert: Path | None = None
    insecure: bool = False
    concurrency: int = 8
    timeout: float = 60.0
    retries: int = 6
    backoff: float = 0.5
    chunk_size: int = DEFAULT_CHUNK

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise BadInput("--concurrency must be at least 1")
        if self.cacert is not None and not Path(self.cacert).is_file():
            raise BadInput(f"CA certificate not found: {self.cacert}")
        if self.cacert is not None and not self.insecure:
            tls_context(self.cacert)  # bad input is refused before anything is contacted or created


def tls_context(cacert: Path) -> ssl.SSLContext:
    """A verifying TLS context trusting `cacert`; BadInput when the file holds no PEM certificate."""
    try:
        return ssl.create_default_context(cafile=str(cacert))
    except ssl.SSLError as exc:
        raise BadInput(f"CA certificate {cacert} holds no PEM certificate ({exc.reason or exc})") from exc


@dataclass
class Stats:
    """What a run transferred; reports and tests read it (a no-change backup fetches 0 blobs)."""

    blobs_fetched: int = 0
    bytes_fetched: int = 0
    blobs_pushed: int = 0
    bytes_pushed: int = 0
    blobs_mounted: int = 0
    blobs_present: int = 0
    manifests_fetched: int = 0
    manifests_pushed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


CATALOG_SCOPE = "registry:catalog:*"


class RegistryClient:
    """One registry. Thread-safe: the sync runs many blob transfers through one client."""

    def __init__(self, options: RegistryOptions, *, transport: httpx.BaseTransport | None = None) -> None:
        self.options = options
        self.base, self.host = normalize_url(options.url)
        verify: bool | ssl.SSLContext = not options.insecure
        if options.cacert and not options.insecure:
            verify = tls_context(options.cacert)
        self._http = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 15.0)),
            limits=httpx.Limits(max_connections=options.concurrency * 2 + 2, max_keepalive_connections=options.concurrency * 2),
            transport=transport,
            headers={"User-Agent": "kubekeeper"},
        )
        self._creds = options.credentials
        self._mode = ""  # "", "basic" or "bearer": what the registry asked for
        self._bearer: auth.Challenge | None = None
        self._tokens = auth.TokenCache()
        self._auth_lock = threading.Lock()
        self.stats = Stats()

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return urljoin(self.base + "/", path.lstrip("/")) if not path.startswith("http") else path

    def _auth_header(self, scopes: tuple[str, ...]) -> str | None:
        if self._mode == "basic":
            return self._creds.basic_header()
        if self._mode == "bearer":
            token = self._tokens.get(scopes)
            if token is None:
                token = self._fetch_token(scopes)
            return f"Bearer {token}"
        return None

    def _fetch_token(self, scopes: tuple[str, ...]) -> str:
        """Ask the token issuer for `scopes` (GET with Basic, or POST with docker's refresh token)."""
        with self._auth_lock:
            cached = self._tokens.get(scopes)
            if cached:
                return cached
            challenge = self._bearer
            assert challenge is not None
            realm = challenge.params.get("realm", "")
            if not realm:
                raise OperationFailed(f"registry {self.host} asked for a bearer token without a realm")
            service = challenge.params.get("service", "")
            if self._creds.identity_token:
                data = {"grant_type": "refresh_token", "refresh_token": self._creds.identity_token,
                        "service": service, "scope": " ".join(scopes), "client_id": "kubekeeper"}
                response = self._http.post(realm, data=data)
            else:
                params = (("service", service), *(("scope", s) for s in scopes))
                headers = {"Authorization": self._creds.basic_header()} if not self._creds.empty else {}
                response = self._http.get(realm, params=params, headers=headers)
            if response.status_code in (401, 403):
                raise OperationFailed(f"token issuer {urlsplit(realm).netloc} refused the credentials for {self.host}")
            if response.status_code != 200:
                raise OperationFailed(f"token issuer {urlsplit(realm).netloc} answered HTTP {response.status_code}")
            doc = response.json()
            token = doc.get("token") or doc.get("access_token")
            if not isinstance(token, str) or not token:
                raise OperationFailed(f"token issuer {urlsplit(realm).netloc} returned no token")
            self._tokens.put(scopes, token, doc.get("expires_in"))
            return token

    def _on_challenge(self, response: httpx.Response, scopes: tuple[str, ...], sent: str | None) -> None:
        challenge = auth.parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            raise OperationFailed(f"registry {self.host} answered 401 without a challenge")
        if challenge.scheme == "basic":
            if self._creds.empty or not self._creds.password:
                raise OperationFailed(f"registry {self.host} needs credentials (--username/--password-stdin, "
                                      f"{auth.ENV_USERNAME}/{auth.ENV_PASSWORD} or ~/.docker/config.json)")
            if sent and sent.startswith("Basic"):
                raise OperationFailed(f"registry {self.host} rejected the credentials")
            self._mode = "basic"
        elif challenge.scheme == "bearer":
            if sent and sent.startswith("Bearer") and challenge.params.get("error") != "invalid_token":
                self._tokens.drop(scopes)  # maybe expired early; one fresh token, then give up
                if getattr(self, "_retried_scope", None) == scopes:
                    raise OperationFailed(f"registry {self.host} denied access ({', '.join(scopes) or 'ping'})")
                self._retried_scope = scopes
            else:
                self._tokens.drop(scopes)
            self._bearer = challenge
            self._mode = "bearer"
        else:
            raise OperationFailed(f"registry {self.host} wants unsupported auth scheme {challenge.scheme!r}")

    def _send(
        self,
        method: str,
        path: str,
        scopes: tuple[str, ...] = (),
        *,
        headers: dict[str, str] | None = None,
        content: Callable[[], Iterable[bytes] | bytes] | None = None,
        params: dict[str, str] | None = None,
        stream: bool = False,
        follow: bool = True,
    ) -> httpx.Response:
        """One request with auth and retries. `content` is a factory so a retry can resend the body."""
        attempt, auth_rounds = 0, 0
        while True:
            sent = self._auth_header(scopes)
            all_headers = dict(headers or {})
            if sent:
                all_headers["Authorization"] = sent
            url = httpx.URL(self.url(path))
            if params:  # merge: upload locations carry their own query (_state), httpx would drop it
                url = url.copy_merge_params(params)
            request = self._http.build_request(method, url, headers=all_headers, content=content() if content else None)
            try:
                response = self._http.send(request, stream=stream, follow_redirects=follow)
            except RETRY_ERRORS as exc:
                if _does_not_resolve(exc):  # the resolver's final answer: retrying cannot help
                    raise OperationFailed(f"registry host {urlsplit(self.base).hostname} does not resolve "
                                          f"(DNS: {exc}); check the registry URL") from exc
                untrusted = _untrusted_certificate(exc)
                if untrusted is not None:  # the same certificate will be presented again
                    raise OperationFailed(f"registry {self.host}: TLS certificate not trusted ({untrusted}); "
                                          "give its CA bundle with --cacert") from exc
                attempt += 1
                if attempt > self.options.retries:
                    raise OperationFailed(f"registry {self.host} unreachable: {type(exc).__name__}: {exc}") from exc
                log.warning("registry %s: %s: %s; retry %d of %d", self.host, type(exc).__name__, exc, attempt,
                            self.options.retries)
                self._sleep(attempt, None)
                continue
            if response.status_code == 401 and auth_rounds < 3:
                response.close()
                auth_rounds += 1
                self._on_challenge(response, scopes, sent)
                continue
            if response.status_code in RETRY_STATUS and attempt < self.options.retries:
                response.close()
                attempt += 1
                self._sleep(attempt, response.headers.get("Retry-After"))
                continue
            if response.status_code == 401:
                response.close()
                raise OperationFailed(f"registry {self.host} rejected the credentials")
            return response

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.options.backoff * (2 ** (attempt - 1))
        if retry_after:
            try:
                delay = float(retry_after)
            except ValueError:
                try:
                    delay = max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
                except (TypeError, ValueError):
                    pass
        time.sleep(min(delay, 60.0))

    def _fail(self, response: httpx.Response, what: str) -> OperationFailed:
        try:
            errors = response.json().get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        except (ValueError, AttributeError):
            detail = ""
        return OperationFailed(f"{what} on {self.host}: HTTP {response.status_code}{' ' + detail if detail else ''}")

    # ------------------------------------------------------------------ discovery
    def ping(self) -> None:
        """GET /v2/: reachable, speaks the API, and our credentials (if any) are accepted."""
        response = self._send("GET", "/v2/")
        if response.status_code != 200:
            raise self._fail(response, "ping")

    def _paged(self, path: str, key: str, scopes: tuple[str, ...], page_size: int) -> Iterator[str]:
        url: str | None = path
        params: dict[str, str] | None = {"n": str(page_size)}
        while url:
            response = self._send("GET", url, scopes, params=params)
            if response.status_code == 404 and key == "tags":
                return
            if response.status_code != 200:
                raise self._fail(response, f"listing {path}")
            yield from response.json().get(key) or []
            url, params = _next_link(response.headers.get("Link", "")), None

    def catalog(self, page_size: int = 1000) -> list[str]:
        return list(self._paged("/v2/_catalog", "repositories", (CATALOG_SCOPE,), page_size))

    def tags(self, repo: str, page_size: int = 1000) -> list[str]:
        return list(self._paged(f"/v2/{repo}/tags/list", "tags", (pull_scope(repo),), page_size))

    # ------------------------------------------------------------------ manifests
    def head_manifest(self, repo: str, reference: str) -> Descriptor | None:
        response = self._send("HEAD", f"/v2/{repo}/manifests/{quote(reference)}", (pull_scope(repo),),
                              headers={"Accept": media.ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"HEAD manifest {repo}:{reference}")
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest:  # some registries omit it on HEAD: fall back to GET
            _, media_type, digest = self.get_manifest(repo, reference)
            return Descriptor(media_type, digest, 0)
        size = int(response.headers.get("Content-Length", "0") or 0)
        return Descriptor(response.headers.get("Content-Type", "").split(";")[0], media.check_digest(digest), size)

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """(exact bytes, media type, digest), the digest checked against the bytes."""
        response = self._send("GET", f"/v2/{repo}/manifests/{quote(reference)}", (pull_scope(repo),),
                              headers={"Accept": media.ACCEPT})
        if response.status_code != 200:
            raise self._fail(response, f"GET manifest {repo}:{reference}")
        data = response.content
        digest = media.sha256_digest(data)
        expected = reference if reference.startswith("sha256:") else response.headers.get("Docker-Content-Digest", digest)
        if expected != digest:
            raise VerificationFailed(f"manifest {repo}@{expected} from {self.host} has digest {digest}")
        self.stats.add(manifests_fetched=1)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return data, media.parse(data, media_type).media_type, digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        """PUT the exact bytes; the registry's digest must equal ours (digests never change)."""
        response = self._send("PUT", f"/v2/{repo}/manifests/{quote(reference)}", (push_scope(repo),),
                              headers={"Content-Type": media_type}, content=lambda: data)
        if response.status_code not in (200, 201):
            raise self._fail(response, f"PUT manifest {repo}:{reference}")
        digest = media.sha256_digest(data)
        returned = response.headers.get("Docker-Content-Digest", digest)
        if returned != digest:
            raise VerificationFailed(f"registry {self.host} stored {repo}:{reference} as {returned}, expected {digest}")
        self.stats.add(manifests_pushed=1)
        return digest

    def referrers(self, repo: str, digest: str) -> list[Descriptor] | None:
        """Manifests whose `subject` is `digest` via the referrers API; None if the registry lacks it."""
        response = self._send("GET", f"/v2/{repo}/referrers/{digest}", (pull_scope(repo),),
                              headers={"Accept": media.OCI_INDEX})
        if response.status_code in (404, 405, 400):
            return None
        if response.status_code != 200:
            raise self._fail(response, f"referrers of {repo}@{digest}")
        try:
            return list(media.parse(response.content, media.OCI_INDEX).manifests)
        except (ValueError, KeyError):
            return None

    # ------------------------------------------------------------------ blobs
    def has_blob(self, repo: str, digest: str, *, push: bool = False) -> bool:
        scope = push_scope(repo) if push else pull_scope(repo)
        response = self._send("HEAD", f"/v2/{repo}/blobs/{digest}", (scope,))
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self._fail(response, f"HEAD blob {repo}@{digest}")

    def fetch_blob(self, repo: str, desc: Descriptor, partial: Path, progress: ProgressFn = _no_progress) -> None:
        """Stream a blob into `partial`, resuming what is there with `Range`; digest and size verified.

        The caller moves the file into the layout only after this returns: a partial or corrupt
        blob never enters it.
        """
        partial.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        have = 0
        if partial.exists():
            with partial.open("rb") as handle:
                for piece in iter(lambda: handle.read(PIECE), b""):
                    hasher.update(piece)
                    have += len(piece)
            if desc.size and have > desc.size:
                partial.unlink()
                hasher, have = hashlib.sha256(), 0
            elif have:
                progress(have)
        attempts = 0
        while True:
            headers = {"Range": f"bytes={have}-"} if have else {}
            if desc.size and have == desc.size:
                break
            response = self._send("GET", f"/v2/{repo}/blobs/{desc.digest}", (pull_scope(repo),), headers=headers, stream=True)
            try:
                if response.status_code == 200 and have:  # no range support: start over
                    hasher, have = hashlib.sha256(), 0
                    mode = "wb"
                elif response.status_code in (200, 206):
                    mode = "ab" if have else "wb"
                elif response.status_code == 416 and have:
                    break
                else:
                    response.read()
                    raise self._fail(response, f"GET blob {repo}@{desc.digest}")
                with partial.open(mode) as handle:
                    for piece in response.iter_bytes():  # as it arrives: a kill loses little
                        handle.write(piece)
                        hasher.update(piece)
                        have += len(piece)
                        progress(len(piece))
                        self.stats.add(bytes_fetched=len(piece))
                break
            except RETRY_ERRORS as exc:  # connection dropped mid-stream: resume from what we have
                attempts += 1
                if attempts > self.options.retries:
                    raise OperationFailed(f"blob {repo}@{desc.digest} from {self.host}: {exc}") from exc
                self._sleep(attempts, None)
            except OSError as exc:  # our disk, not the network (full, read-only): name the file
                if exc.filename is None:
                    raise OSError(exc.errno, exc.strerror, str(partial)) from exc
                raise
            finally:
                response.close()
        actual = "sha256:" + hasher.hexdigest()
        if actual != desc.digest or (desc.size and have != desc.size):
            partial.unlink(missing_ok=True)
            raise VerificationFailed(f"blob {repo}@{desc.digest} from {self.host} arrived as {actual} ({have} bytes)")
        self.stats.add(blobs_fetched=1)

    def mount_blob(self, repo: str, digest: str, source_repo: str) -> bool:
        """Cross-repository mount: no bytes move when `source_repo` in this registry has the blob."""
        response = self._send("POST", f"/v2/{repo}/blobs/uploads/", (push_scope(repo), pull_scope(source_repo)),
                              params={"mount": digest, "from": source_repo}, follow=False)
        if response.status_code == 201:
            self.stats.add(blobs_mounted=1)
            return True
        if response.status_code == 202:  # mount refused, an upload session was opened: cancel it
            location = response.headers.get("Location")
            if location:
                self._send("DELETE", location, (push_scope(repo),))
            return False
        raise self._fail(response, f"mount {digest} from {source_repo} into {repo}")

    def upload_blob(self, repo: str, desc: Descriptor, path: Path, progress: ProgressFn = _no_progress) -> None:
        """Monolithic (POST + PUT) for blobs up to `chunk_size`, else chunked PATCHes with resume."""
        scopes = (push_scope(repo),)
        response = self._send("POST", f"/v2/{repo}/blobs/uploads/", scopes, follow=False)
        if response.status_code != 202:
            raise self._fail(response, f"start upload of {desc.digest} to {repo}")
        location = self.url(urljoin(self.base + f"/v2/{repo}/blobs/uploads/", response.headers["Location"]))
        size = path.stat().st_size
        if size <= self.options.chunk_size:
            response = self._send("PUT", location, scopes, params={"digest": desc.digest},
                                  headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                                  content=lambda: _file_pieces(path, 0, size, progress))
        else:
            location = self._upload_chunks(repo, location, path, size, progress)
            response = self._send("PUT", location, scopes, params={"digest": desc.digest},
                                  headers={"Content-Length": "0"})
        if response.status_code != 201:
            raise self._fail(response, f"upload of {desc.digest} to {repo}")
        self.stats.add(blobs_pushed=1, bytes_pushed=size)

    def _upload_chunks(self, repo: str, location: str, path: Path, size: int, progress: ProgressFn) -> str:
        scopes = (push_scope(repo),)
        offset, failures = 0, 0
        while offset < size:
            end = min(offset + self.options.chunk_size, size)
            start = offset
            response = self._send("PATCH", location, scopes, headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(end - start),
                "Content-Range": f"{start}-{end - 1}"}, content=partial(_file_pieces, path, start, end, progress))
            if response.status_code == 202:
                location = self.url(urljoin(location, response.headers.get("Location", location)))
                offset = end
                continue
            failures += 1
            if failures > self.options.retries:
                raise self._fail(response, f"chunked upload to {repo}")
            offset, location = self._upload_status(repo, location)  # resume where the registry is
        return location

    def _upload_status(self, repo: str, location: str) -> tuple[int, str]:
        response = self._send("GET", location, (push_scope(repo),))
        if response.status_code != 204:
            raise self._fail(response, f"upload status in {repo}")
        last = response.headers.get("Range", "0-0").rpartition("-")[2]
        location = self.url(urljoin(location, response.headers.get("Location", location)))
        return int(last) + 1 if last and last != "0" else 0, location


def _does_not_resolve(exc: BaseException) -> bool:
    """Whether a connection failed because the host name has no address (not a timeout of the resolver)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return seen.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
        seen = seen.__cause__ or seen.__context__
    return False


def _untrusted_certificate(exc: BaseException) -> str | None:
    """The verification error when a connection failed on the server's certificate, else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return getattr(seen, "verify_message", None) or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _file_pieces(path: Path, start: int, end: int, progress: ProgressFn) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            piece = handle.read(min(PIECE, left))
            if not piece:
                break
            left -= len(piece)
            progress(len(piece))
            yield piece


def _next_link(header: str) -> str | None:
    """`</v2/_catalog?last=b&n=2>; rel="next"` -> the URL, else None."""
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end]
    return None
