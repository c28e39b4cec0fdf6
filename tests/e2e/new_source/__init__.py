"""A data source written for a test the way a developer adds one: a module exposing SOURCE
(notes.py), a line in kubekeeper.backup.sources.SOURCES, and its command module (commands.py,
installed as kubekeeper.cli.sources.<kind>). Nothing else in kubekeeper is touched."""
