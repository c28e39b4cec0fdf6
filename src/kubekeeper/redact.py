"""Secrets masked by value, wherever text leaves the process.

Masking by variable name is not enough: a repository URL such as `rest:https://user:pw@host/` sits in
RESTIC_REPOSITORY, whose name says nothing secret, and restic repeats it in its error messages. So
every string shown to a user (log records, error lines, reports, rendered commands) passes through
`redact`, which removes the userinfo of any URL and every secret value registered in this process.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

MASK = "***"

#: environment variable names whose values are secrets (matched as substrings of the upper-cased name)
SECRET_NAME_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "CREDENTIAL", "_KEY", "PASSPHRASE")
#: names that contain a marker but hold no secret
NOT_SECRET_NAMES = frozenset({"RESTIC_PASSWORD_FILE", "RESTIC_FROM_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND",
                              "RESTIC_FROM_PASSWORD_COMMAND", "AWS_ACCESS_KEY_ID", "KUBEKEEPER_PASSWORD_FILE",
                              "KUBEKEEPER_TO_PASSWORD_FILE", "KUBEKEEPER_TO_PASSWORD_COMMAND"})

#: `scheme://user:password@` or `scheme://token@`: the userinfo of a URL (RFC 3986 3.2.1)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s?#]+)@")
#: secrets shorter than this are masked only as whole words, not inside other words
_SHORT = 4

_lock = threading.Lock()
_values: set[str] = set()


def is_secret_name(name: str) -> bool:
    """Whether an environment variable of this name carries a secret value."""
    upper = name.upper()
    if upper in NOT_SECRET_NAMES:
        return False
    return any(marker in upper for marker in SECRET_NAME_MARKERS) or upper.endswith("KEY")


def register(*values: str | None) -> None:
    """Remember secret values (passwords, tokens, URLs with credentials) so they are masked anywhere."""
    with _lock:
        for value in values:
            if value and value.strip():
                _values.add(value)
                stripped = value.strip()
                if stripped != value:
                    _values.add(stripped)


def userinfo_secrets(text: str) -> tuple[str, ...]:
    """The password (or token) of every URL's userinfo in `text`, also percent-decoded."""
    found: list[str] = []
    for match in _USERINFO.finditer(text or ""):
        secret = match["userinfo"].partition(":")[2] or match["userinfo"]
        found.append(secret)
        decoded = unquote(secret)
        if decoded != secret:
            found.append(decoded)
    return tuple(found)


def register_environment(environ: Mapping[str, str]) -> None:
    """Register the values of secret-named variables and the credentials of URLs in any variable."""
    for name, value in environ.items():
        if is_secret_name(name):
            register(value)
        register(*userinfo_secrets(value or ""))


def known() -> tuple[str, ...]:
    with _lock:
        return tuple(sorted(_values, key=len, reverse=True))


def strip_userinfo(text: str) -> str:
    """`rest:https://user:pw@host/` -> `rest:https://***@host/`."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """The text with URL credentials and every registered (and `extra`) secret value masked."""
    if not text:
        return text
    text = strip_userinfo(text)
    for secret in sorted({*known(), *(e for e in extra if e)}, key=len, reverse=True):
        if len(secret) >= _SHORT:
            text = text.replace(secret, MASK)
        elif secret.isalnum():
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """An environment fit for a log line: secret-named values masked, the others redacted."""
    return {name: MASK if is_secret_name(name) else redact(value) for name, value in env.items()}


class RedactingFilter(logging.Filter):
    """A logging filter that formats each record once and masks secrets in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install_logging_filter(logger: logging.Logger | None = None) -> None:
    """Mask secrets in every record any handler of `logger` (default: root) emits."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
