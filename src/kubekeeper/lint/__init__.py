"""`kubekeeper lint`: workload manifests (files, stdin or a live cluster) against the pod practices.

loader (files, dirs, stdin, List kinds) -> workload (pod template of every controller kind, QoS) ->
rules/<id>.py (one module per rule) with severities from profiles.yaml -> LintResult, rendered by
report/lint.py (text, json, sarif, junit) on the shared writers of report/.
"""

from kubekeeper.lint.engine import LintResult, Options, lint
from kubekeeper.lint.loader import Loaded, load_paths, parse_text

__all__ = ["LintResult", "Loaded", "Options", "lint", "load_paths", "parse_text"]
