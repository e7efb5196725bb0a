"""The ``kamabm`` command line: parse input, call the model or the runner, show output.

Exit status: 0 success, 1 a failure while running, 2 bad input (a one-line message on
stderr naming the field and its allowed range; no traceback), 141 when the reader of the
output went away (``kamabm params | head``), silently, as other Unix tools do.

One module per command (``run``, ``params``, ``sweep``, ``plot``, ``report``, ``app``,
``screen``, ``calibrate``, ``patterns``, ``diagnose``), each with ``add_parser(commands)`` and
``run(args) -> int``; what they share (exit statuses, the parser, error lines, output
folders, common options) is in :mod:`kamabm.cli.common`. ``python -m kamabm`` runs
:func:`main` too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from kamabm.cli import (
    app,
    calibrate,
    diagnose,
    params,
    patterns,
    plot,
    report,
    run,
    screen,
    sweep,
)
from kamabm.cli.common import EXIT_BROKEN_PIPE, Parser

__all__ = ["COMMANDS", "build_parser", "main"]


class Command(Protocol):
    """What a command module offers: its sub-parser, and running it."""

    def add_parser(self, commands: argparse._SubParsersAction, /) -> argparse.ArgumentParser:
        """Add the command's sub-parser to ``commands``; return it."""


    def run(self, args: argparse.Namespace, /) -> int:
        """Carry out the command with parsed arguments; return the exit status."""


#: The sub-commands, in the order ``kamabm --help`` lists them.
COMMANDS: dict[str, Command] = {
    "run": run, "params": params, "sweep": sweep, "plot": plot, "report": report,
    "app": app, "screen": screen, "calibrate": calibrate, "patterns": patterns,
    "diagnose": diagnose,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``kamabm`` argument parser with all its sub-commands."""
    parser = Parser(prog="kamabm", description="Key account managers captured by their "
                    "clients: an agent-based model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kamabm`` console command."""
    try:
        args = build_parser().parse_args(argv)
        status = COMMANDS[args.command].run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`kamabm params | head`): stop quietly. Point stdout at devnull
        # so that the interpreter's own flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return status
