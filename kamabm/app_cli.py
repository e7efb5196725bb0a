"""The ``kamabm app`` command: serve the students' explorer on this machine only.

The app's web stack is an optional extra; this module imports none of it until the
command runs, so ``import kamabm`` stays light for researchers who only sweep.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

#: Loopback only: the app runs models on the serving machine for whoever connects.
HOST = "127.0.0.1"
DEFAULT_PORT = 8765
EXIT_USAGE = 2
#: Distributions the app needs at run time (import names).
APP_MODULES = ("solara", "altair", "ipyvuetify")
INSTALL_HINT = 'the app needs the optional extra: pip install "kamabm[app]"'


def add_app_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``app`` sub-command to the ``kamabm`` parser's ``subparsers``."""
    app = subparsers.add_parser(
        "app", help="start the interactive explorer in the browser (needs kamabm[app])",
        description="Serve the interactive explorer (a Mesa SolaraViz app) on "
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


def run_app_command(args: argparse.Namespace) -> int:
    """Serve the app on loopback at ``args.port``; return the exit status."""
    missing = missing_modules()
    if missing:
        print(f"kamabm: error: {INSTALL_HINT} (missing: {', '.join(missing)})",
              file=sys.stderr)
        return EXIT_USAGE
    from solara.__main__ import run as solara_run

    print(f"kamabm: serving the explorer on http://{HOST}:{args.port}/ (Ctrl-C stops it)",
          file=sys.stderr)
    try:
        solara_run.main(["kamabm.app", "--host", HOST, "--port", str(args.port),
                     "--production", "--no-open", "--log-level", "warning"],
                        prog_name="kamabm app", standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kamabm app`` on its own (``python -m kamabm.app_cli --port N``)."""
    parser = argparse.ArgumentParser(prog="kamabm")
    add_app_parser(parser.add_subparsers(dest="command", required=True))
    return run_app_command(parser.parse_args(["app", *(sys.argv[1:] if argv is None
                                                       else argv)]))


if __name__ == "__main__":
    sys.exit(main())
