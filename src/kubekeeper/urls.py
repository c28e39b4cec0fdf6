"""The http(s) URLs of the services kubekeeper talks to (registry, etcd members), checked before any use.

`urllib.parse` accepts almost anything and fails later: `http://127.0.0.1:99999` raises only when the
port is read, `http://[::1` raises a bare ValueError, and `http://a b` goes to the resolver, where
httpx retries it for half a minute and gRPC reports the endpoint "unavailable". One strict parser
turns each of these into a one-line BadInput (exit 2) that names the option and what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubekeeper.errors import BadInput

#: longer than any registry or etcd URL (a host name is at most 253 characters); says "not a URL"
MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253  # RFC 1035 2.3.4, as dotted text
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")  # letters, digits, hyphen; `_` as resolvers allow
_SHOWN = 80  # an error quotes at most this much of the value


@dataclass(frozen=True)
class HttpUrl:
    scheme: str  # http or https
    host: str  # a DNS name (lower case) or an IP address (IPv6 without brackets)
    port: int | None
    path: str
    netloc: str  # `host[:port]` as written (IPv6 in brackets)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def shown(text: str) -> str:
    """The value as an error may quote it: credentials cut out, at most `_SHOWN` characters."""
    head, sep, rest = text.partition("://")
    if not sep:
        head, rest = "", text
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    text = f"{head}{sep}{authority}{slash}{tail}"
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text):,} characters)"


def invalid(value: str, what: str, problem: str) -> BadInput:
    """`<what> '<value as shown>': <problem>`, the one shape of every URL error."""
    subject = " ".join(part for part in (what, repr(shown(value.strip()))) if part)
    return BadInput(f"{subject}: {problem}")


def parse_http_url(text: str, what: str, *, default_scheme: str = "https", credentials_hint: str = "") -> HttpUrl:
    """`text` as an http(s) URL, the scheme defaulting to `default_scheme`; BadInput naming `what`.

    `what` is the option or setting the value came from (`--registry`, `etcd endpoint`); empty when
    the caller names it itself (cluster.yaml errors start with the file, line and option).
    """
    value = text.strip()

    def bad(problem: str) -> BadInput:
        return invalid(value, what, problem)

    if not value:
        raise BadInput(f"{what or 'the URL'} is empty")
    if len(value) > MAX_URL_LENGTH:
        raise bad(f"too long for a URL (at most {MAX_URL_LENGTH:,} characters)")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise bad("a URL cannot contain spaces or control characters")
    if "://" not in value:
        value = f"{default_scheme}://{value}"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:  # unclosed IPv6 bracket, port out of range or not a number
        if "port" in str(exc).lower():
            raise bad("port must be a number from 1 to 65535") from None
        if "Invalid IPv6 URL" in str(exc):
            raise bad("an IPv6 address goes in closed brackets, e.g. http://[::1]:5000") from None
        raise bad(f"not an IP address in the brackets ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise bad("expected an http:// or https:// URL")
    if "@" in parts.netloc:
        raise bad("credentials do not belong in the URL (it shows in process lists and logs)" + credentials_hint)
    host = parts.hostname or ""
    if not host:
        raise bad("no host name")
    if port == 0 or parts.netloc.endswith(":"):
        raise bad("port must be a number from 1 to 65535")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise bad("a query or fragment does not belong in this URL")
    _check_host(host, parts.netloc.startswith("["), bad)
    return HttpUrl(parts.scheme, host, port, parts.path, parts.netloc)


def _check_host(host: str, bracketed: bool, bad: Callable[[str], BadInput]) -> None:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise bad(f"{host!r} is not an IPv6 address") from None
        return
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise bad("not a valid host name") from None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > MAX_HOST_LENGTH or not all(_LABEL.match(label) for label in labels):
        raise bad("not a valid host name (letters, digits, '-' and '.'; labels of at most 63)")
