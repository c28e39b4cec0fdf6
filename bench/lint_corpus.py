"""Deterministic generator of a workload-manifest corpus for `bench_lint.py` (mixed kinds, multi-document files).

Kept apart from the benchmark so the corpus can be regenerated and inspected on its own:
`python bench/lint_corpus.py DIR [N]`.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod")
API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
       "ReplicationController": "v1", "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}


def _resources(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return ""  # BestEffort container
    if choice < 0.6:  # Guaranteed
        return ("          resources:\n            requests: {cpu: 100m, memory: 128Mi, ephemeral-storage: 1Gi}\n"
                "            limits: {cpu: 100m, memory: 128Mi, ephemeral-storage: 1Gi}\n")
    return "          resources:\n            requests:\n              cpu: 50m\n            limits:\n              memory: 256Mi\n"


def _pod_spec(rng: random.Random, i: int, indent: int) -> str:
    pad = " " * indent
    lines = []
    if rng.random() < 0.3:
        lines.append("priorityClassName: system-cluster-critical")
    if rng.random() < 0.3:
        lines.append("affinity:\n  podAntiAffinity:\n    preferredDuringSchedulingIgnoredDuringExecution:\n"
                     "    - weight: 100\n      podAffinityTerm:\n        topologyKey: kubernetes.io/hostname\n"
                     f"        labelSelector:\n          matchLabels: {{app: app-{i}}}")
    lines.append("containers:")
    body = "\n".join(pad + line for chunk in lines for line in chunk.split("\n"))
    containers = ""
    for c in range(rng.randint(1, 3)):
        containers += (f"{pad}- name: c{c}\n{pad}  image: registry.example.com/app-{i}:1.{c}\n"
                       f"{pad}  ports:\n{pad}  - containerPort: {8000 + c}\n")
        containers += "\n".join(pad + line[8:] for line in _resources(rng).splitlines()) + ("\n" if containers else "")
    return body + "\n" + containers


def manifest(rng: random.Random, i: int) -> str:
    kind = KINDS[i % len(KINDS)]
    ns = rng.choice(["default", "kube-system", "payments", "search"])
    head = (f"apiVersion: {API[kind]}\nkind: {kind}\nmetadata:\n  name: app-{i}\n  namespace: {ns}\n"
            f"  labels:\n    app: app-{i}\n")
    if kind == "Pod":
        return head + "spec:\n" + _pod_spec(rng, i, 2)
    template = f"  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n" + _pod_spec(rng, i, 6)
    if kind == "CronJob":
        template = "\n".join("    " + line for line in template.splitlines()) + "\n"
        return head + 'spec:\n  schedule: "*/5 * * * *"\n  jobTemplate:\n    spec:\n' + template
    replicas = "" if kind in ("DaemonSet", "Job") else f"  replicas: {rng.choice([1, 2, 3, 5])}\n"
    selector = "" if kind in ("Job", "ReplicationController") else f"  selector:\n    matchLabels:\n      app: app-{i}\n"
    return head + "spec:\n" + replicas + selector + template


def generate(directory: Path, count: int = 2000, per_file: int = 10, seed: int = 7) -> list[Path]:
    """Write `count` workload manifests, `per_file` documents per file; returns the files."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, count, per_file):
        path = directory / f"workloads-{start // per_file:04d}.yaml"
        docs = [manifest(rng, i) for i in range(start, min(start + per_file, count))]
        path.write_text("---\n".join(docs))
        files.append(path)
    return files


if __name__ == "__main__":
    out = generate(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
    print(f"{len(out)} files written")
