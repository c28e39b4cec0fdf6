"""Tuning for scale: plan (evaluate the catalogue), render (config artifacts), and later probe/audit/apply."""
