"""cluster.yaml: schema (with descriptions and examples), loader (file:line errors), example."""

from kubekeeper.config.example import example_config
from kubekeeper.config.loader import config_path, load_config, parse_config
from kubekeeper.config.schema import ClusterConfig

__all__ = ["ClusterConfig", "config_path", "example_config", "load_config", "parse_config"]
