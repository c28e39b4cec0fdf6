"""Tuning for scale: plan (evaluate the catalogue for a cluster size and version), render (config
artifacts), probe (read a node under --root), audit (plan vs probe) and apply (backed-up, atomic writes)."""
