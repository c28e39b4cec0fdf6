"""Manifests that run kubekeeper inside the cluster it protects (deploy render)."""
