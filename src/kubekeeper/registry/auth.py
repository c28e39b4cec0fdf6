"""Registry credentials and the WWW-Authenticate dance.

Credentials come from (first match wins): `--username` + `--password-stdin`, the environment
(`KUBEKEEPER_REGISTRY_USERNAME` / `KUBEKEEPER_REGISTRY_PASSWORD`), then `~/.docker/config.json`
(`credHelpers`, `credsStore`, `auths`). They never reach argv or logs; a credential helper gets the
host on stdin, as docker does.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper import execute
from kubekeeper.errors import BadInput, CommandFailed, CommandNotFound
from kubekeeper.execute import Command

log = logging.getLogger(__name__)

ENV_USERNAME = "KUBEKEEPER_REGISTRY_USERNAME"
ENV_PASSWORD = "KUBEKEEPER_REGISTRY_PASSWORD"
#: a token without expires_in is good for 60 s (distribution spec); refresh a little early
DEFAULT_TOKEN_LIFETIME = 60.0
REFRESH_MARGIN = 5.0


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)  # docker's refresh token (OAuth2)

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.identity_token) if s)


ANONYMOUS = Credentials()


def docker_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME", str(Path.home()))) / ".docker")
    return Path(base) / "config.json"


def _config_keys(host: str) -> tuple[str, ...]:
    return (host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/")


def from_docker_config(host: str, path: Path) -> Credentials:
    """Credentials docker would use for `host` (helpers first, then the inline `auths` entry)."""
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return ANONYMOUS
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8
        raise BadInput(f"cannot read docker config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise BadInput(f"docker config {path} is not a JSON object")
    helpers, auths = config.get("credHelpers") or {}, config.get("auths") or {}
    if not isinstance(helpers, dict) or not isinstance(auths, dict):
        raise BadInput(f"docker config {path}: auths and credHelpers must be JSON objects")
    helper = helpers.get(host) or config.get("credsStore")
    if helper:
        found = from_helper(str(helper), host)
        if not found.empty:
            return found
    for key in _config_keys(host):
        entry = auths.get(key)
        if not entry:
            continue
        if not isinstance(entry, dict):
            raise BadInput(f"malformed auths entry for {key} in {path}")
        if entry.get("identitytoken"):
            return Credentials(username=entry.get("username", ""), identity_token=entry["identitytoken"])
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadInput(f"malformed auth entry for {host} in {path}") from exc
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password", ""))
    return ANONYMOUS


def from_helper(helper: str, host: str) -> Credentials:
    """Ask `docker-credential-<helper> get` (server URL on stdin, JSON on stdout)."""
    command = Command(argv=(f"docker-credential-{helper}", "get"), timeout=30)
    try:
        result = execute.run(command, stdin=host.encode())
    except CommandNotFound:
        log.warning("credential helper docker-credential-%s is not installed; trying other sources", helper)
        return ANONYMOUS
    except CommandFailed:
        return ANONYMOUS  # helper has nothing for this host
    try:
        doc = json.loads(result.stdout)
    except ValueError:
        return ANONYMOUS
    user, secret = doc.get("Username", ""), doc.get("Secret", "")
    if user == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(user, secret)


def resolve(
    host: str,
    *,
    username: str | None = None,
    password: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The credentials for `host`, following the documented order."""
    environ = os.environ if environ is None else environ
    if username or password:
        if not (username and password):
            raise BadInput("--username needs a password on stdin (--password-stdin), and vice versa")
        return Credentials(username, password)
    env_user, env_password = environ.get(ENV_USERNAME, ""), environ.get(ENV_PASSWORD, "")
    if env_user or env_password:
        if not (env_user and env_password):
            raise BadInput(f"set both {ENV_USERNAME} and {ENV_PASSWORD}, or neither")
        return Credentials(env_user, env_password)
    return from_docker_config(host, docker_config_path(environ))


_PARAM_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://auth/token",service="registry",scope="repository:a/b:pull"`."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM_RE.finditer(rest)}
    return Challenge(scheme.lower(), params)


@dataclass
class Token:
    value: str
    expires_at: float

    @property
    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at - REFRESH_MARGIN


class TokenCache:
    """Bearer tokens by scope set; refreshed when they expire (thread-safe)."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, ...], Token] = {}
        self._lock = threading.Lock()

    def get(self, scopes: tuple[str, ...]) -> str | None:
        with self._lock:
            token = self._tokens.get(scopes)
            return token.value if token and token.fresh else None

    def put(self, scopes: tuple[str, ...], value: str, expires_in: float | None) -> None:
        lifetime = float(expires_in) if expires_in else DEFAULT_TOKEN_LIFETIME
        with self._lock:
            self._tokens[scopes] = Token(value, time.monotonic() + max(lifetime, REFRESH_MARGIN + 1))

    def drop(self, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(scopes, None)
