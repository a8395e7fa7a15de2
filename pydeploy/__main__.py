"""``python -m pydeploy`` runs the CLI."""

from pydeploy.cli import main

main()
