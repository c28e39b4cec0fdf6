"""Backup sources (etcd, registry, volume) behind one Protocol (source.py), stored in restic."""
