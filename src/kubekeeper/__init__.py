"""kubekeeper: tune, audit, back up and restore large Kubernetes clusters."""

import os
from importlib.metadata import PackageNotFoundError, version

# kubekeeper forks only to exec (restic, etcdutl, ...). gRPC's fork handlers would re-start its
# event engine inside those children between fork and exec, where it can crash them ("epoll_wait
# error: Bad file descriptor") before restic ever runs. Must be set before grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

try:
    __version__ = version("kubekeeper")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
