"""kubekeeper: tune, audit, back up and restore large Kubernetes clusters."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kubekeeper")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
