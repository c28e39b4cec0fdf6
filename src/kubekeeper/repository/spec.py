"""Which restic repository, and its password — selected exactly as restic does.

`--repo` or RESTIC_REPOSITORY; password from --password-file, RESTIC_PASSWORD_FILE or
RESTIC_PASSWORD. Both reach restic only through its environment, never argv (a REST URL may carry
credentials, and argv is world-readable in /proc).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper import redact
from kubekeeper.errors import BadInput

#: backend credential variables restic reads itself; passed through untouched
BACKEND_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "RESTIC_REST_USERNAME",
    "RESTIC_REST_PASSWORD",
    "RESTIC_CACERT",
    "RESTIC_CACHE_DIR",
)


@dataclass(frozen=True)
class RepoSpec:
    url: str
    password_file: Path | None = None
    password: str | None = field(default=None, repr=False)
    cacert: Path | None = None
    insecure_tls: bool = False
    #: extended options (`restic -o key=value`), e.g. sftp.command with an ssh key and port
    options: tuple[str, ...] = ()
    #: backend credentials given programmatically (AWS_ACCESS_KEY_ID, ...); else restic reads os.environ
    backend_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.url:
            raise BadInput("no repository: pass --repo or set RESTIC_REPOSITORY")
        if self.password_file is None and self.password is None:
            raise BadInput(
                f"no password for repository {self.display}: pass --password-file or set "
                "RESTIC_PASSWORD_FILE or RESTIC_PASSWORD"
            )
        if self.password_file is not None and not self.password_file.is_file():
            raise BadInput(f"password file not found: {self.password_file}")
        redact.register(*self.secrets)

    @property
    def display(self) -> str:
        """The URL with any user:password@ part masked, for messages and reports."""
        return redact.strip_userinfo(self.url)

    def env(self, prefix: str = "RESTIC_") -> dict[str, str]:
        """Environment that selects this repository (prefix RESTIC_FROM_ for `copy --from-repo`)."""
        env = {f"{prefix}REPOSITORY": self.url}
        if self.password_file is not None:
            env[f"{prefix}PASSWORD_FILE"] = str(self.password_file)
        else:
            env[f"{prefix}PASSWORD"] = self.password or ""
        env.update(dict(self.backend_env))
        return env

    @property
    def secrets(self) -> tuple[str, ...]:
        backend = tuple(v for k, v in self.backend_env if "SECRET" in k or "PASSWORD" in k or "TOKEN" in k)
        return tuple(s for s in (self.password, self.url if "@" in self.url else None, *backend) if s)

    @classmethod
    def from_options(
        cls,
        repo: str | None,
        password_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        cacert: Path | None = None,
        insecure_tls: bool = False,
    ) -> RepoSpec:
        """Options first, then restic's own environment variables."""
        environ = os.environ if environ is None else environ
        url = repo or environ.get("RESTIC_REPOSITORY", "")
        if not url and environ.get("RESTIC_REPOSITORY_FILE"):
            url = Path(environ["RESTIC_REPOSITORY_FILE"]).read_text().strip()
        if password_file is None and environ.get("RESTIC_PASSWORD_FILE"):
            password_file = Path(environ["RESTIC_PASSWORD_FILE"])
        password = None if password_file else environ.get("RESTIC_PASSWORD")
        return cls(url=url, password_file=password_file, password=password, cacert=cacert, insecure_tls=insecure_tls)
