"""Names kubekeeper records in snapshot tags, checked where they enter (CLI options and cluster.yaml).

A cluster name becomes the restic tag `cluster:<name>`, and restic splits tag lists on commas: an
unchecked `--cluster prod,kind:etcd` would file a backup under the wrong cluster and kind.
"""

from __future__ import annotations

import re

from kubekeeper.errors import BadInput

#: a DNS-1123 subdomain label set, as Kubernetes names clusters and contexts
CLUSTER_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
CLUSTER_NAME_MAX = 63
_CLUSTER_NAME = re.compile(CLUSTER_NAME_PATTERN)


def check_cluster_name(name: str, what: str = "--cluster") -> str:
    """`name` if it can be a cluster tag, else BadInput saying what a cluster name may contain."""
    if len(name) > CLUSTER_NAME_MAX or not _CLUSTER_NAME.match(name):
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise BadInput(f"{what} {shown!r}: a cluster name is lower-case letters, digits, '-' and '.', "
                       f"starts and ends with a letter or digit, at most {CLUSTER_NAME_MAX} characters")
    return name
