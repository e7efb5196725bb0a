"""What the commands share: exit statuses, the parser, error lines, folders, arguments.

Every command reports bad input the same way: one line on stderr, ``kamabm: error: ...``
or ``kamabm COMMAND: error: ...``, no traceback, and exit status 2 (:data:`EXIT_USAGE`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from kamabm.cli import outputs

#: Exit statuses: success, a failure while running (some runs raised, the sweep stopped),
#: bad input, interrupted by Ctrl-C (128 + SIGINT), and the reader of the output gone
#: (``kamabm params | head``; 128 + SIGPIPE, as other Unix tools).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
#: Seeds are stored as 64-bit signed integers, like the sweep's.
MAX_SEED = 2**63 - 1


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with status 2 and one short line."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 (argparse's own contract)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def say(command: str | None, message: str) -> None:
    """Print ``message`` on stderr as one line of ``kamabm`` (or ``kamabm COMMAND``)."""
    prog = "kamabm" if command is None else f"kamabm {command}"
    print(f"{prog}: {message}", file=sys.stderr)


def fail(command: str | None, message: str, status: int = EXIT_USAGE, *,
         label: str | None = "error") -> int:
    """Print ``kamabm[ COMMAND]: error: MESSAGE`` on stderr; return ``status``.

    Args:
        command: the sub-command named in the line, or ``None`` for plain ``kamabm``.
        message: what went wrong, one line.
        status: the exit status to return (default :data:`EXIT_USAGE`).
        label: the word before the message (``None``: none, as ``kamabm sweep`` prints).

    """
    say(command, message if label is None else f"{label}: {message}")
    return status


def interrupted(command: str, exc: KeyboardInterrupt, stopped: Callable[[str], str]) -> int:
    """One line for a command stopped by a signal or by Ctrl-C; return its exit status.

    A signal (:class:`kamabm.experiments.sweep.SweepInterrupted`, which carries
    ``signum``) exits 128 + its number, as a shell reports it; Ctrl-C exits
    :data:`EXIT_INTERRUPTED`. ``stopped`` turns how it stopped into the line, with what is
    kept and how to resume.
    """
    signum = getattr(exc, "signum", None)
    if signum is not None:
        return fail(command, stopped(f"stopped by {exc}"), 128 + signum, label=None)
    return fail(command, stopped("interrupted"), EXIT_INTERRUPTED, label=None)


def unwritable(*folders: Path, option: str | None = None) -> str | None:
    """Why the first of ``folders`` that cannot take output cannot, or ``None``.

    Each folder is created if missing (:func:`kamabm.cli.outputs.unwritable`); the reason is
    one line naming the folder, after ``option`` (e.g. ``--out``) when given.
    """
    for folder in folders:
        problem = outputs.unwritable(folder)
        if problem:
            return problem if option is None else f"{option} {problem}"
    return None


def workers_problem(workers: int | None) -> str | None:
    """Why ``--workers`` is refused (not a whole number >= 1), or ``None`` if it is not."""
    if workers is not None and workers < 1:
        return f"--workers {workers}: expected a whole number >= 1"
    return None


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine {compiled,mesa}`` (into ``args.engine``; default compiled).

    A value outside the choices is a usage error (exit status 2) naming them.
    """
    from kamabm.model.batch import DEFAULT_ENGINE, ENGINES

    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                        help="the model's engine: compiled (numba, the default; the same "
                             "numbers, many times faster) or mesa (the reference Mesa "
                             "model)")


def add_set_argument(parser: argparse.ArgumentParser, help_text: str, dest: str = "set") -> None:
    """Add the repeatable ``--set NAME=VALUE`` option (into ``args.<dest>``, a list)."""
    parser.add_argument("--set", dest=dest, action="append", default=[],
                        metavar="NAME=VALUE", help=help_text)
