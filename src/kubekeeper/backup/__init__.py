"""Backing up and restoring the cluster's data in restic: the one shape of a data source (source.py),
one module per source (sources/), `backup all` as a backup set (backup_set.py, parts.py), and the
restore drill (verify.py)."""
