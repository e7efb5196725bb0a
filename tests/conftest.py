"""Helpers shared by the tests: the plot/report command, and headless Chromium."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

#: Where Debian puts Chromium; also looked up on PATH.
CHROMIUM_PATHS = (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> Path | None:
    """A Chromium executable, or ``None`` when the machine has none."""
    for path in CHROMIUM_PATHS:
        if path.exists():
            return path
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def plot_command(argv: list[str]) -> int:
    """Run ``kamabm plot`` or ``kamabm report`` with ``argv``; return the exit status."""
    from kamabm.cli import plot, report

    parser = argparse.ArgumentParser(prog="kamabm")
    commands = parser.add_subparsers(dest="command", required=True)
    plot.add_parser(commands)
    report.add_parser(commands)
    args = parser.parse_args(argv)
    return (plot if args.command == "plot" else report).run(args)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright (skipped without either)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
