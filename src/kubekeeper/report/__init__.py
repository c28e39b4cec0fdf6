"""Rendering results for people (rich text) and machines (JSON, Prometheus textfile)."""
