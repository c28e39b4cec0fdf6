"""OCI registry backup: a distribution-API client (client.py, auth.py), a Harbor adapter (harbor.py),
the persistent OCI image-layout cache (layout.py) and the sync both ways (sync.py)."""

from kubekeeper.registry.client import RegistryClient, RegistryOptions
from kubekeeper.registry.layout import Layout

__all__ = ["Layout", "RegistryClient", "RegistryOptions"]
