"""The ``kamabm params`` command: every parameter with its label, default, unit, range, meaning."""

from __future__ import annotations

import argparse

from kamabm.cli.common import EXIT_OK
from kamabm.model.doc_tables import parameter_table


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``params`` sub-command to the ``kamabm`` parser's ``commands``."""
    return commands.add_parser("params",
                               help="list parameters: label, default, unit, range, meaning")


def run(args: argparse.Namespace) -> int:
    """Print the parameters as a Markdown table; return the exit status."""
    print(parameter_table())
    return EXIT_OK
