"""``kamabm diagnose CLIENT.toml``: a consultant's diagnosis of one client firm.

Reads the client file (:func:`kamabm.diagnosis.client.load_client`), runs the client's market
(:func:`kamabm.diagnosis.diagnose.diagnose`) and writes the tables, charts and one-page report
(:func:`kamabm.diagnosis.report.write_diagnosis`) into ``results/diagnose/<client>/``.

Exit status: 0 success, 2 bad input (a one-line message naming the field and its allowed
range; nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kamabm.cli.common import EXIT_OK, fail, unwritable, workers_problem


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``diagnose`` sub-command on ``commands``."""
    parser = commands.add_parser(
        "diagnose", help="diagnose one client firm: capture risk, margin at risk, levers",
        description="Diagnose one client firm (a supplier) from its own portfolio: capture "
                    "risk of each key account's KAM, margin at risk, the levers not in "
                    "place at a standard dose (net of their cost), a capture map and a "
                    "one-page report. See experiments/client_example.toml.")
    parser.add_argument("file", type=Path, help="client file (TOML), e.g. "
                        "experiments/client_example.toml")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for the results (default results/diagnose/<client>)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: all cores); the numbers do not "
                        "depend on it")
    parser.add_argument("--replications", type=int, default=None, metavar="N",
                        help="replications (overrides the file's [run] replications)")
    parser.add_argument("--deck", action="store_true",
                        help="also write a slide deck (needs the deck extra: python-pptx)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm diagnose`` with parsed arguments; return the exit status."""
    import dataclasses

    from kamabm.diagnosis.client import MAX_REPLICATIONS, ClientFileError, load_client
    from kamabm.diagnosis.diagnose import diagnose

    try:
        client = load_client(args.file)
    except ClientFileError as exc:
        return fail(None, str(exc))
    if args.replications is not None:
        if not 2 <= args.replications <= MAX_REPLICATIONS:
            return fail(None, f"--replications {args.replications}: out of range, allowed "
                        f"[2, {MAX_REPLICATIONS}]")
        client = dataclasses.replace(client, replications=args.replications)
    problem = workers_problem(args.workers)
    if problem:
        return fail(None, problem)
    if args.deck:
        from kamabm.report.deck import available

        if not available():
            return fail(None, "--deck: the slide deck needs python-pptx: pip install -e "
                        "'.[deck]'")
    out = args.out or Path("results") / "diagnose" / client.slug
    problem = unwritable(out, option="--out")
    if problem:
        return fail(None, problem)

    from kamabm.diagnosis.report import command_line, diagnosis_points, write_diagnosis

    quiet = args.quiet
    if not quiet:
        print(f"{client.name}: {len(client.accounts)} key accounts, "
              f"{client.replications} replications, {len(client.not_in_place())} levers "
              f"to test -> {out}", file=sys.stderr)
    shown = [-1]

    def progress(done: int, total: int) -> None:
        tenth = 10 * done // total
        if not quiet and tenth != shown[0]:
            shown[0] = tenth
            print(f"  {done:,} of {total:,} runs", file=sys.stderr)

    diag = diagnose(client, workers=args.workers, progress=progress)
    written = write_diagnosis(diag, out, deck=args.deck, command=command_line())
    status, points, notes = diagnosis_points(diag)
    print(status)
    for point in points:
        print(f"- {point}")
    for note in notes:
        print(f"Note: {note}.")
    print(f"report: {written[0]} ({diag.runs:,} runs, {diag.wall_time:.1f} s)",
          file=sys.stderr)
    return EXIT_OK
