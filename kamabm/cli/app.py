"""The ``kamabm app`` command: serve the students' explorer on this machine only.

The app's web stack is an optional extra; this module imports none of it until the
command runs, so ``import kamabm`` stays light for researchers who only sweep.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import sys
import warnings

from kamabm.cli.common import EXIT_OK, fail

#: Loopback only: the app runs models on the serving machine for whoever connects.
HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Distributions the app needs at run time (import names).
APP_MODULES = ("solara", "ipyvuetify")
INSTALL_HINT = 'the app needs the optional extra: pip install "kamabm[app]"'


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``app`` sub-command to the ``kamabm`` parser's ``subparsers``."""
    app = subparsers.add_parser(
        "app", help="start the interactive explorer in the browser (needs kamabm[app])",
        description="Serve the interactive explorer (a Solara web page) on "
                    f"http://{HOST}:PORT/ until interrupted with Ctrl-C.")
    app.add_argument("--port", type=_port, default=DEFAULT_PORT,
                     help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    return app


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number in [0, 65535]")
    return port


def missing_modules() -> list[str]:
    """Modules of the ``app`` extra that cannot be imported here."""
    return [name for name in APP_MODULES if importlib.util.find_spec(name) is None]


def port_in_use(port: int) -> str | None:
    """Why ``port`` cannot be served on :data:`HOST` (``None`` if it can).

    The probe binds the way the server will (``SO_REUSEADDR``, as uvicorn does), so a
    port another program listens on is refused and one merely in TIME_WAIT is not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def free_port() -> int:
    """A port on :data:`HOST` nothing listens on now (for ``--port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    """Serve the app on loopback at ``args.port`` until Ctrl-C; return the exit status.

    A port that cannot be served is refused with one line and status 2 before anything
    is announced; Ctrl-C stops the server with one line and status 0.
    """
    missing = missing_modules()
    if missing:
        return fail(None, f"{INSTALL_HINT} (missing: {', '.join(missing)})")
    port = args.port or free_port()
    busy = port_in_use(port)
    if busy:
        return fail(None, f"cannot serve on {HOST}:{port}: {busy.lower()} "
                    "(another program listens there? try --port N)")
    # Solara's "This website runs on Solara" banner would cover the charts' captions.
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    # Solara warns that a session cookie falls back to SameSite=Lax on plain http; that
    # is what a loopback server wants, and the warning would bury our one line.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    import click

    # The server shuts down gracefully on Ctrl-C or SIGTERM, then raises the signal again
    # for the handler it found: ours ends the command quietly, where a KeyboardInterrupt
    # would make click print an empty line and raise Abort. Installed before the web
    # stack is imported, so an early Ctrl-C is as quiet.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"kamabm: serving the explorer on http://{HOST}:{port}/ (Ctrl-C stops it)",
          file=sys.stderr, flush=True)
    try:
        from solara.__main__ import run as solara_run

        solara_run.main(["kamabm.app.page", "--host", HOST, "--port", str(port), "--production",
                         "--no-open", "--log-level", "warning"],
                        prog_name="kamabm app", standalone_mode=False)
    except (_Stopped, KeyboardInterrupt, click.exceptions.Abort):
        pass
    except SystemExit as exc:  # the server could not start (e.g. the port was taken since)
        if exc.code not in (None, 0):
            return fail(None, f"the explorer's server stopped with status {exc.code} on "
                        f"{HOST}:{port}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("kamabm: explorer stopped", file=sys.stderr)
    return EXIT_OK


class _Stopped(Exception):
    """The user (Ctrl-C) or the system (SIGTERM) stopped the server."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped
