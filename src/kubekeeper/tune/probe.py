"""Read a node's actual settings under a root directory (``/`` or a copied node tree).

Read-only by design: `tune audit` runs on production nodes. Every value keeps where it was read
(file and line, or the running process) so a finding can point at it. Sources:

- sysctls: live under ``proc/sys``; persisted in ``etc/sysctl.d/*.conf`` then ``etc/sysctl.conf``
  (the order ``sysctl --system`` loads them, so the last one wins);
- ``etc/docker/daemon.json``, ``etc/containerd/config.toml`` (config version 2 and 3);
- kubelet: systemd drop-ins, their environment files (``kubeadm-flags.env``, ``etc/default/kubelet``),
  the running process (``proc/<pid>/cmdline``) and the config file named by ``--config``; flags win
  over the config file, as in the kubelet itself;
- static pods in ``etc/kubernetes/manifests``: flags, and the Kubernetes and etcd versions from image tags;
- versions where no static pod tells: the package database (``var/lib/dpkg/status``), then the
  version stamp Go release builds carry (``-ldflags -X ...gitVersion=v1.30.2``) in the kubelet and
  containerd binaries, read as bytes (never executed).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kubekeeper.errors import BadInput
from kubekeeper.tune.render import split_dotted

CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
MANIFEST_DIR = "etc/kubernetes/manifests"
SYSCTL_CONF = "etc/sysctl.conf"
SYSCTL_DIRS = ("usr/lib/sysctl.d", "run/sysctl.d", "etc/sysctl.d")
DOCKER_JSON = "etc/docker/daemon.json"
CONTAINERD_TOML = "etc/containerd/config.toml"
KUBELET_CONFIG = "var/lib/kubelet/config.yaml"
KUBELET_DROPIN_DIRS = ("usr/lib/systemd/system/kubelet.service.d", "lib/systemd/system/kubelet.service.d",
                       "etc/systemd/system/kubelet.service.d")
_IMAGE_VERSION = re.compile(r":v?(\d+\.\d+)(?:\.\d+)?(?:[-@].*)?$")
_IMAGE_RELEASE = re.compile(r":v?(\d+\.\d+\.\d+)(?:[-@].*)?$")
DPKG_STATUS = "var/lib/dpkg/status"
KUBELET_BINARIES = ("usr/bin/kubelet", "usr/local/bin/kubelet")
CONTAINERD_BINARIES = ("usr/bin/containerd", "usr/local/bin/containerd")
# the version a Go release build stamps in with -ldflags -X (Go records the flags in the binary)
_KUBE_STAMP = re.compile(rb"k8s\.io/component-base/version\.gitVersion=v(\d+\.\d+\.\d+)")
_CONTAINERD_STAMP = re.compile(rb"github\.com/containerd/containerd(?:/v2)?/version\.Version=v?(\d+\.\d+\.\d+)")
_SCAN_CHUNK = 4 << 20


@dataclass(frozen=True)
class Value:
    """One setting as read: the raw value and where it came from (file relative to root, 1-based line)."""

    value: Any
    file: str
    line: int | None = None
    process: int | None = None

    @property
    def source(self) -> str:
        if self.process is not None:
            return f"process {self.process} (/{self.file})"
        return f"/{self.file}:{self.line}" if self.line else f"/{self.file}"


@dataclass
class TomlConfig:
    file: str
    version: int
    data: dict[str, Any]
    text: str

    def get(self, dotted: str) -> Value | None:
        parts = split_dotted(dotted)
        node: Any = self.data
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return Value(node, self.file, toml_line(self.text, parts))


@dataclass
class StaticPod:
    component: str
    file: str
    image: str
    flags: dict[str, Value]


@dataclass
class KubeletState:
    flags: dict[str, Value]
    config_file: str | None
    config: dict[str, Any] | None
    config_lines: dict[str, int] = field(default_factory=dict)
    pid: int | None = None
    persisted: dict[str, Value] = field(default_factory=dict)  # flags from the unit and its env files only

    def restart_drops(self, flag: str) -> bool:
        """True when only the running process still carries `flag`: the unit no longer passes it."""
        found = self.flags.get(flag)
        return bool(found and found.process is not None and self.persisted and flag not in self.persisted)

    def config_value(self, dotted: str) -> Value | None:
        if self.config is None or self.config_file is None:
            return None
        found = _dig(self.config, dotted.split("."))
        if found is _MISSING:
            return None
        return Value(found, self.config_file, self.config_lines.get(dotted))


@dataclass
class NodeState:
    root: Path
    sysctl_persisted: dict[str, Value]
    docker: dict[str, Value] | None
    containerd: TomlConfig | None
    kubelet: KubeletState | None
    static_pods: dict[str, StaticPod]
    k8s_version: str | None
    runtime: str
    cri_dockerd: bool = False
    k8s_version_source: str | None = None  # where k8s_version was read
    containerd_version: str | None = None
    containerd_version_source: str | None = None
    etcd_version: str | None = None  # from the etcd static pod's image tag
    kubeadm: bool = False  # kubeadm manages this node (kubeadm-flags.env or kubeadm's static pods)

    def live_sysctl(self, key: str) -> Value | None:
        return read_live_sysctl(self.root, key)


_MISSING = object()


def _dig(tree: Any, keys: list[str]) -> Any:
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def rel(root: Path, path: Path) -> str:
    return str(path.relative_to(root))


def under_root(root: Path, node_path: str) -> Path:
    """A node's absolute path (/var/lib/...) mapped under the audit root."""
    return root / node_path.lstrip("/")


# ------------------------------------------------------------------------------------ sysctls
def sysctl_path(key: str) -> str:
    return "proc/sys/" + key.replace(".", "/")


def read_live_sysctl(root: Path, key: str) -> Value | None:
    path = root / sysctl_path(key)
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return Value(" ".join(text.split()), sysctl_path(key))


def sysctl_files(root: Path) -> list[Path]:
    """Files in the order `sysctl --system` applies them: *.conf by name (etc overrides same-named
    files in usr/lib and run), then etc/sysctl.conf."""
    by_name: dict[str, Path] = {}
    for directory in SYSCTL_DIRS:
        for path in sorted((root / directory).glob("*.conf")):
            by_name[path.name] = path
    ordered = [by_name[name] for name in sorted(by_name)]
    if (root / SYSCTL_CONF).is_file():
        ordered.append(root / SYSCTL_CONF)
    return ordered


def parse_sysctl_lines(text: str) -> list[tuple[int, str, str]]:
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().lstrip("-").replace("/", ".")
        out.append((number, key, " ".join(value.split())))
    return out


def read_persisted_sysctls(root: Path) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for path in sysctl_files(root):
        for number, key, value in parse_sysctl_lines(path.read_text(errors="replace")):
            values[key] = Value(value, rel(root, path), number)
    return values


# ------------------------------------------------------------------------------------ runtimes
def read_docker(root: Path) -> dict[str, Value] | None:
    path = root / DOCKER_JSON
    if not path.is_file():
        return None
    text = path.read_text()
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise BadInput(f"/{DOCKER_JSON} is not valid JSON: {exc}") from exc
    lines = text.splitlines()
    out = {}
    for key, value in body.items():
        line = next((i for i, ln in enumerate(lines, 1) if f'"{key}"' in ln), None)
        out[key] = Value(value, DOCKER_JSON, line)
    return out


def toml_line(text: str, path: list[str]) -> int | None:
    """1-based line where a dotted TOML path is assigned (tables, dotted keys and inline keys)."""
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.match(r"^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$", line)
        if header:
            table = split_dotted(header.group(1).replace(" ", ""))
            continue
        if "=" in line:
            key = line.split("=", 1)[0].strip()
            if table + split_dotted(key) == path:
                return number
    return None


def read_containerd(root: Path) -> TomlConfig | None:
    path = root / CONTAINERD_TOML
    if not path.is_file():
        return None
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"/{CONTAINERD_TOML} is not valid TOML: {exc}") from exc
    return TomlConfig(CONTAINERD_TOML, int(data.get("version", 1)), data, text)


# ------------------------------------------------------------------------------------- flags
def parse_flags(tokens: list[tuple[str, Value]]) -> dict[str, Value]:
    """`--key=value`, `--key value` and bare `--flag` (true); the last occurrence wins."""
    flags: dict[str, Value] = {}
    index = 0
    while index < len(tokens):
        token, where = tokens[index]
        index += 1
        if not token.startswith("-"):
            continue
        name = "--" + token.lstrip("-")
        if "=" in name:
            name, value = name.split("=", 1)
        elif index < len(tokens) and not tokens[index][0].startswith("-"):
            value = tokens[index][0]
            index += 1
        else:
            value = "true"
        flags[name] = Value(value, where.file, where.line, where.process)
    return flags


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps line numbers
    yaml.preserve_quotes = True
    return yaml


def load_yaml(path: Path, root: Path) -> Any:
    try:
        return _yaml().load(path.read_text())
    except YAMLError as exc:
        raise BadInput(f"/{rel(root, path)} is not valid YAML: {str(exc).splitlines()[0]}") from exc


def read_static_pods(root: Path) -> dict[str, StaticPod]:
    pods: dict[str, StaticPod] = {}
    directory = root / MANIFEST_DIR
    for path in sorted(directory.glob("*.y*ml")) if directory.is_dir() else []:
        body = load_yaml(path, root)
        containers = (((body or {}).get("spec") or {}).get("containers")) or []
        for container in containers:
            name = container.get("name", "")
            if name not in CONTROL_PLANE:
                continue
            tokens = []
            for section in ("command", "args"):
                seq = container.get(section) or []
                for i, item in enumerate(seq):
                    line = seq.lc.item(i)[0] + 1 if hasattr(seq, "lc") else None
                    tokens.append((str(item), Value(None, rel(root, path), line)))
            pods[name] = StaticPod(name, rel(root, path), str(container.get("image", "")), parse_flags(tokens))
    return pods


def etcd_from_image(pods: dict[str, StaticPod]) -> str | None:
    pod = pods.get("etcd")
    match = _IMAGE_RELEASE.search(pod.image) if pod else None
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------- versions
def dpkg_versions(root: Path) -> dict[str, str]:
    """Installed package -> version from the dpkg status database (Debian, Ubuntu)."""
    path = root / DPKG_STATUS
    if not path.is_file():
        return {}
    versions: dict[str, str] = {}
    for stanza in path.read_text(errors="replace").split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if fields.get("Package") and fields.get("Version") and fields.get("Status", "").endswith(" installed"):
            versions[fields["Package"]] = fields["Version"]
    return versions


def binary_stamp(path: Path, pattern: re.Pattern[bytes]) -> str | None:
    """The version a Go binary carries in its recorded -ldflags, read in chunks (binaries are large)."""
    try:
        handle = path.open("rb")
    except OSError:
        return None
    with handle:
        tail = b""
        while chunk := handle.read(_SCAN_CHUNK):
            match = pattern.search(tail + chunk)
            if match:
                return match.group(1).decode()
            tail = chunk[-256:]
    return None


def _first_stamp(root: Path, candidates: list[str], pattern: re.Pattern[bytes]) -> tuple[str, str] | None:
    for candidate in candidates:
        found = binary_stamp(root / candidate.lstrip("/"), pattern)
        if found:
            return found, f"/{candidate.lstrip('/')}"
    return None


def kubelet_version(root: Path, kubelet: KubeletState | None, packages: dict[str, str]) -> tuple[str, str] | None:
    """(MAJOR.MINOR.PATCH, where it was read) of the node's kubelet, without running it."""
    if "kubelet" in packages:
        return packages["kubelet"].split("-")[0].split("~")[0].split(":")[-1], f"/{DPKG_STATUS} (package kubelet)"
    candidates = list(KUBELET_BINARIES)
    if kubelet and kubelet.pid is not None:
        try:
            argv0 = (root / f"proc/{kubelet.pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            if argv0.startswith("/"):
                candidates.insert(0, argv0)
        except OSError:
            pass
    return _first_stamp(root, candidates, _KUBE_STAMP)


def containerd_version(root: Path, packages: dict[str, str]) -> tuple[str, str] | None:
    for package in ("containerd.io", "containerd"):
        if package in packages:
            return packages[package].split("-")[0].split("~")[0].split(":")[-1], f"/{DPKG_STATUS} (package {package})"
    return _first_stamp(root, list(CONTAINERD_BINARIES), _CONTAINERD_STAMP)


def version_from_images(pods: dict[str, StaticPod]) -> str | None:
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        pod = pods.get(component)
        match = _IMAGE_VERSION.search(pod.image) if pod else None
        if match:
            return match.group(1)
    return None


# ----------------------------------------------------------------------------------- kubelet
def _env_file(root: Path, path: Path) -> dict[str, tuple[str, Value]]:
    env: dict[str, tuple[str, Value]] = {}
    if not path.is_file():
        return env
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        words = shlex.split(value) if value.strip() else [""]
        env[name.strip()] = (" ".join(words), Value(None, rel(root, path), number))
    return env


def dropin_files(root: Path) -> list[Path]:
    by_name: dict[str, Path] = {}
    for directory in KUBELET_DROPIN_DIRS:
        for path in sorted((root / directory).glob("*.conf")):
            by_name[path.name] = path
    return [by_name[name] for name in sorted(by_name)]


def kubelet_unit_flags(root: Path) -> dict[str, Value]:
    """Flags the kubelet's systemd unit would start it with: drop-ins' ExecStart with $VARs expanded."""
    env: dict[str, tuple[str, Value]] = {}
    exec_start: list[tuple[str, Value]] = []
    for path in dropin_files(root):
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            where = Value(None, rel(root, path), number)
            if line.startswith("Environment="):
                for assignment in shlex.split(line[len("Environment="):]):
                    if "=" in assignment:
                        name, value = assignment.split("=", 1)
                        env[name] = (value, where)
            elif line.startswith("EnvironmentFile="):
                target = line[len("EnvironmentFile="):].lstrip("-").strip()
                env.update(_env_file(root, under_root(root, target)))
            elif line.startswith("ExecStart="):
                command = line[len("ExecStart="):].strip()
                exec_start = [(word, where) for word in shlex.split(command)] if command else []
    if not exec_start:  # no unit found: the usual kubeadm environment files, in kubeadm's order
        for target in ("var/lib/kubelet/kubeadm-flags.env", "etc/default/kubelet", "etc/sysconfig/kubelet"):
            env.update(_env_file(root, root / target))
        exec_start = [(f"${name}", Value(None, "")) for name in
                      ("KUBELET_KUBECONFIG_ARGS", "KUBELET_CONFIG_ARGS", "KUBELET_KUBEADM_ARGS", "KUBELET_EXTRA_ARGS")]
    tokens: list[tuple[str, Value]] = []
    for word, where in exec_start:
        match = re.fullmatch(r"\$\{?(\w+)\}?", word)
        if match:
            value, source = env.get(match.group(1), ("", where))
            tokens += [(part, source) for part in value.split()]
        else:
            tokens.append((word, where))
    return parse_flags(tokens)


def kubelet_process(root: Path) -> tuple[int, list[str]] | None:
    proc = root / "proc"
    for entry in sorted(proc.glob("[0-9]*"), key=lambda p: int(p.name)) if proc.is_dir() else []:
        try:
            argv = [a for a in (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0") if a]
        except OSError:
            continue
        if argv and Path(argv[0]).name == "kubelet":
            return int(entry.name), argv
    return None


def _yaml_key_lines(tree: Any, prefix: str = "") -> dict[str, int]:
    lines: dict[str, int] = {}
    if not hasattr(tree, "lc"):
        return lines
    for key in tree:
        dotted = f"{prefix}{key}"
        try:
            lines[dotted] = tree.lc.key(key)[0] + 1
        except (KeyError, TypeError, AttributeError):
            pass
        if isinstance(tree[key], dict):
            lines.update(_yaml_key_lines(tree[key], dotted + "."))
    return lines


def read_kubelet(root: Path) -> KubeletState | None:
    flags = kubelet_unit_flags(root)
    persisted = dict(flags)
    pid = None
    process = kubelet_process(root)
    if process:
        pid, argv = process
        where = Value(None, f"proc/{pid}/cmdline", None, pid)
        flags.update(parse_flags([(a, where) for a in argv[1:]]))
    config_flag = flags.get("--config")
    config_path = under_root(root, str(config_flag.value)) if config_flag else root / KUBELET_CONFIG
    config = None
    lines: dict[str, int] = {}
    if config_path.is_file():
        config = load_yaml(config_path, root) or {}
        lines = _yaml_key_lines(config)
    if not flags and config is None:
        return None
    config_file = rel(root, config_path) if config_path.is_relative_to(root) else None
    return KubeletState(flags, config_file, config, lines, pid, persisted)


def scheduler_config(root: Path, pod: StaticPod) -> tuple[str, Any, dict[str, int]] | None:
    """The KubeSchedulerConfiguration named by the scheduler's --config, when it uses one."""
    flag = pod.flags.get("--config")
    if not flag:
        return None
    path = under_root(root, str(flag.value))
    if not path.is_file():
        return None
    tree = load_yaml(path, root) or {}
    return rel(root, path), tree, _yaml_key_lines(tree)


# ----------------------------------------------------------------------------------- runtime
def detect_runtime(kubelet: KubeletState | None, docker: object, containerd: object) -> tuple[str, bool]:
    """(runtime, through cri-dockerd): the kubelet's endpoint first, then which config exists."""
    endpoint = ""
    if kubelet:
        flag = kubelet.flags.get("--container-runtime-endpoint")
        configured = kubelet.config_value("containerRuntimeEndpoint")
        endpoint = str(flag.value if flag else (configured.value if configured else ""))
        if "cri-dockerd" in endpoint:
            return "docker", True
        if "containerd" in endpoint:
            return "containerd", False
        runtime_flag = kubelet.flags.get("--container-runtime")
        if runtime_flag and runtime_flag.value == "docker":
            return "docker", False
    if containerd is not None:
        return "containerd", False
    if docker is not None:
        return "docker", False
    return "containerd", False


def probe(root: Path) -> NodeState:
    """Everything `tune audit` compares against the plan, read without changing anything."""
    if not root.is_dir():
        raise BadInput(f"--root {root} is not a directory")
    pods = read_static_pods(root)
    kubelet = read_kubelet(root)
    docker = read_docker(root)
    containerd = read_containerd(root)
    runtime, cri_dockerd = detect_runtime(kubelet, docker, containerd)
    packages = dpkg_versions(root)
    k8s_version = version_from_images(pods)
    k8s_source: str | None = "control-plane static pod image tags"
    if k8s_version is None:
        found = kubelet_version(root, kubelet, packages)
        k8s_version, k8s_source = (found[0], f"kubelet version from {found[1]}") if found else (None, None)
    ctd = containerd_version(root, packages) if runtime == "containerd" else None
    kubeadm = (root / "var/lib/kubelet/kubeadm-flags.env").is_file() or any(
        "kubeadm.kubernetes.io/" in (root / pod.file).read_text(errors="replace") for pod in pods.values())
    return NodeState(
        root=root,
        sysctl_persisted=read_persisted_sysctls(root),
        docker=docker,
        containerd=containerd,
        kubelet=kubelet,
        static_pods=pods,
        k8s_version=k8s_version,
        runtime=runtime,
        cri_dockerd=cri_dockerd,
        k8s_version_source=k8s_source,
        containerd_version=ctd[0] if ctd else None,
        containerd_version_source=ctd[1] if ctd else None,
        etcd_version=etcd_from_image(pods),
        kubeadm=kubeadm,
    )
