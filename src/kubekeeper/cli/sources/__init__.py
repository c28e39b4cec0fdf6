"""One command module per data source (`backup <kind>` and `restore <kind>`), named after its kind:
cli/main.py finds `kubekeeper/cli/sources/<kind>.py` for every source backup/sources/ registers."""
