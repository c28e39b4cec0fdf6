"""Which restic repository, and its password — selected exactly as restic does.

`--repo`, `--repository-file`, RESTIC_REPOSITORY or RESTIC_REPOSITORY_FILE; password from
--password-file, --password-command, RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND or
RESTIC_PASSWORD. All reach restic only through its environment, never argv (a REST URL may carry
credentials, and argv is world-readable in /proc); a password command is run by restic itself.
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
    #: a command that prints the password (a vault client); restic runs it (RESTIC_PASSWORD_COMMAND)
    password_command: str | None = None
    cacert: Path | None = None
    insecure_tls: bool = False
    #: extended options (`restic -o key=value`), e.g. sftp.command with an ssh key and port
    options: tuple[str, ...] = ()
    #: backend credentials given programmatically (AWS_ACCESS_KEY_ID, ...); else restic reads os.environ
    backend_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: declared append-only (cluster.yaml): retention is skipped without asking the backend
    append_only: bool = False

    def __post_init__(self) -> None:
        redact.register(*self.secrets)
        # restic may run in another directory (a volume is backed up from inside it): relative paths
        # given by the operator are made absolute here, once
        for name in ("password_file", "cacert"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_absolute():
                object.__setattr__(self, name, Path(value).absolute())
        local = self.url.removeprefix("local:")
        if local and ":" not in local.split("/", 1)[0] and not local.startswith("/"):
            object.__setattr__(self, "url", str(Path(local).absolute()))
        if not self.url:
            raise BadInput("no repository: pass --repo or set RESTIC_REPOSITORY")
        given = [name for name, value in (("a password file", self.password_file), ("a password command", self.password_command),
                                          ("a password", self.password)) if value is not None]
        if not given:
            raise BadInput(
                f"no password for repository {self.display}: pass --password-file or --password-command, or set "
                "RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND or RESTIC_PASSWORD"
            )
        if len(given) > 1:
            raise BadInput(f"repository {self.display}: give only one of {' and '.join(given)}")
        if self.password_command is not None and not self.password_command.strip():
            raise BadInput("--password-command / RESTIC_PASSWORD_COMMAND is empty")
        if self.password_file is not None and not self.password_file.is_file():
            # the value is not shown: a password typed where its file's path belongs must not be echoed
            raise BadInput("password file not found: the path given to --password-file / RESTIC_PASSWORD_FILE "
                           "is not a readable file (the value is not shown, in case it is the password itself)")

    @property
    def display(self) -> str:
        """The URL with any user:password@ part masked, for messages and reports."""
        return redact.strip_userinfo(self.url)

    def env(self, prefix: str = "RESTIC_") -> dict[str, str]:
        """Environment that selects this repository (prefix RESTIC_FROM_ for `copy --from-repo`)."""
        env = {f"{prefix}REPOSITORY": self.url}
        if self.password_file is not None:
            env[f"{prefix}PASSWORD_FILE"] = str(self.password_file)
        elif self.password_command is not None:
            env[f"{prefix}PASSWORD_COMMAND"] = self.password_command
        else:
            env[f"{prefix}PASSWORD"] = self.password or ""
        env.update(dict(self.backend_env))
        return env

    @property
    def secrets(self) -> tuple[str, ...]:
        backend = tuple(v for k, v in self.backend_env if redact.is_secret_name(k))
        userinfo = redact.userinfo_secrets(self.url)
        return tuple(s for s in (self.password, self.url if "@" in self.url else None, *userinfo, *backend) if s)

    @classmethod
    def from_options(
        cls,
        repo: str | None,
        password_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        cacert: Path | None = None,
        insecure_tls: bool = False,
        *,
        password_command: str | None = None,
        repository_file: Path | None = None,
        prefix: str = "RESTIC_",
    ) -> RepoSpec:
        """Options first, then restic's own environment variables (`prefix` KUBEKEEPER_TO_ for copy targets)."""
        environ = os.environ if environ is None else environ
        url = read_repository_file(repository_file) if repository_file is not None else (repo or "")
        url = url or environ.get(f"{prefix}REPOSITORY", "")
        if not url and environ.get(f"{prefix}REPOSITORY_FILE"):
            url = read_repository_file(Path(environ[f"{prefix}REPOSITORY_FILE"]))
        if password_file is None and password_command is None:
            if environ.get(f"{prefix}PASSWORD_FILE"):
                password_file = Path(environ[f"{prefix}PASSWORD_FILE"])
            elif environ.get(f"{prefix}PASSWORD_COMMAND"):
                password_command = environ[f"{prefix}PASSWORD_COMMAND"]
        password = None if (password_file or password_command) else environ.get(f"{prefix}PASSWORD")
        return cls(url=url, password_file=password_file, password=password, password_command=password_command,
                   cacert=cacert, insecure_tls=insecure_tls)


def read_repository_file(path: Path) -> str:
    """The first line of a repository file (restic's --repository-file): keeps credentials out of argv."""
    try:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the repository file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    if not lines:
        raise BadInput(f"the repository file {path} is empty")
    redact.register(*redact.userinfo_secrets(lines[0]))
    return lines[0]
