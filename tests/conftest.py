"""Helpers shared by the tests: the plot/report command, the small sweeps, headless Chromium."""

from __future__ import annotations

import argparse
import shutil
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

# A test run started in the background by a non-interactive shell (`scripts/test.sh &`)
# inherits SIGINT ignored (POSIX), and so would every command the tests start, which then
# could not be stopped with Ctrl-C as the signal tests do: give SIGINT back its handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: Where Debian puts Chromium; also looked up on PATH.
CHROMIUM_PATHS = (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


#: Long experiments kept out of the default run (pyproject's addopts ``-m 'not slow'``;
#: ``pytest -m slow`` runs only them). Each is listed, rather than decorated in its file,
#: with the faster tests that still cover what it checks in the default run.
SLOW = {
    "tests/test_sweep.py::test_smoke_experiment_runs_end_to_end_through_the_command":
        "48 runs of the real model through `python -m kamabm sweep` on 2 workers; the same "
        "shipped smoke.toml is swept with the real model once a session (fixture swept: "
        "test_results, test_plots), the command by test_sweep's fake-run tests, the real "
        "model on 2 spawned workers by test_sweep::test_seeds_in_the_rows_reproduce_the_"
        "outcomes_through_run_one",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests of :data:`SLOW` ``slow``."""
    for item in items:
        if item.nodeid in SLOW:
            item.add_marker(pytest.mark.slow)


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


class OnFirstUse(Mapping[str, Any]):
    """Named test artefacts, each built by ``build(name)`` the first time a test asks for it.

    A test that needs one sweep's charts waits for those only, and xdist can spread the
    tests of different sweeps over its workers.
    """

    def __init__(self, names: Iterable[str], build: Callable[[str], Any]) -> None:
        self._names = list(names)
        self._build = build
        self._done: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._done:
            if name not in self._names:
                raise KeyError(name)
            self._done[name] = self._build(name)
        return self._done[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without building it (Mapping's would)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@pytest.fixture(scope="session")
def swept(tmp_path_factory) -> OnFirstUse:
    """The smoke experiment and the miniatures of :mod:`plot_fixtures`, each swept once a
    session, when first used.

    Shared by tests/test_plots.py, test_report.py and test_results.py. Tests read these
    folders and may add a report or charts to them, but never change their runs.
    """
    from plot_fixtures import MINIATURES, sweep

    root = tmp_path_factory.mktemp("sweeps")
    return OnFirstUse(["smoke", *MINIATURES], lambda name: sweep(root, name))


#: The sweeps whose HTML report (with its charts) the tests read.
REPORTED = ("smoke", "interventions", "sensitivity")


@pytest.fixture(scope="session")
def reported(swept) -> OnFirstUse:
    """``{name: (report path, its charts, the analysis)}`` for :data:`REPORTED`, each written
    once a session, when first used.

    Each report is written into its sweep's folder, its charts into ``charts/`` beside it;
    tests/test_report.py reads the reports, tests/test_plots.py the charts, so that these
    are drawn once.
    """
    from kamabm.analysis.results import load
    from kamabm.analysis.tables import analyse
    from kamabm.report.html import write_report

    def write(name: str) -> tuple:
        an = analyse(load(swept[name]), n_boot=60)
        path, charts = write_report(an, swept[name] / "report.html")
        return path, charts, an

    return OnFirstUse(REPORTED, write)


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
