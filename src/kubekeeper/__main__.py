"""`python -m kubekeeper` runs the CLI."""

from kubekeeper.cli.main import run

if __name__ == "__main__":
    run()
