"""``kamabm diagnose CLIENT.toml``: a consultant's diagnosis of one client firm.

Reads the client file (:func:`kamabm.diagnosis.client.load_client`), runs the client's market
(:func:`kamabm.diagnosis.diagnose.diagnose`) and writes the tables, charts and one-page report
(:func:`kamabm.diagnosis.report.write_diagnosis`) into ``results/diagnose/<client>/``.

The runs are journaled in the output folder as they finish (``parts/``, as a sweep keeps
its runs), so a diagnosis stopped in any way (Ctrl-C, SIGTERM, ``kill -9``, a full disk)
resumes where it stopped when the same command is run again; a folder holding runs of
another client file or other model code is refused (``--overwrite`` starts afresh). The
model runs on the compiled engine unless ``--engine mesa`` (the same numbers; a folder
resumes on either). The report, tables and charts are written into a temporary folder and
moved into place once all are written.

Exit status: 0 success; 2 bad input (a one-line message naming the field and its allowed
range, nothing written), a folder in the way, or output that does not fit (a full disk, a
read-only folder: one line); 130 interrupted by Ctrl-C, 128 + N by signal N (143 for
SIGTERM), with one line saying how to resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kamabm.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_engine_argument,
    fail,
    interrupted,
    say,
    unwritable,
    workers_problem,
)
from kamabm.cli.outputs import cannot_write, in_target, staged

COMMAND = "diagnose"


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
                        help="runs per constant set (overrides the file's [run] "
                             "replications)")
    parser.add_argument("--draws", type=int, default=None, metavar="N",
                        help="constant sets drawn from the calibration's posterior "
                             "(overrides the file's [run] draws)")
    parser.add_argument("--constants", choices=("posterior", "defaults"), default=None,
                        help="run over constant sets drawn from the calibration's "
                             "posterior (the file's default) or at the model's defaults "
                             "only (overrides the file's [run] constants)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard the runs and report of another client file or model "
                             "code in --out and start afresh")
    parser.add_argument("--deck", action="store_true",
                        help="also write a slide deck (needs the deck extra: python-pptx)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_engine_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm diagnose`` with parsed arguments; return the exit status."""
    import dataclasses

    from kamabm.diagnosis.client import (
        MAX_DRAWS,
        MAX_REPLICATIONS,
        REPLICATIONS_WHY,
        ClientFileError,
        load_client,
    )

    try:
        client = load_client(args.file)
    except ClientFileError as exc:
        return fail(None, str(exc))
    if args.replications is not None:
        if not 2 <= args.replications <= MAX_REPLICATIONS:
            return fail(None, f"--replications {args.replications}: out of range, allowed "
                        f"[2, {MAX_REPLICATIONS}] ({REPLICATIONS_WHY})")
        client = dataclasses.replace(client, replications=args.replications)
    if args.draws is not None:
        if not 1 <= args.draws <= MAX_DRAWS:
            return fail(None, f"--draws {args.draws}: out of range, allowed [1, {MAX_DRAWS}] "
                        "(constant sets)")
        client = dataclasses.replace(client, draws=args.draws)
    if client.runs_per_option > MAX_REPLICATIONS:
        return fail(None, f"--draws x --replications is {client.runs_per_option:,}, allowed "
                    f"at most {MAX_REPLICATIONS:,} ({REPLICATIONS_WHY})")
    if args.constants is not None:
        client = dataclasses.replace(client, constants=args.constants)
    problem = workers_problem(args.workers)
    if problem:
        return fail(None, problem)
    if args.deck:
        from kamabm.report.deck import available

        if not available():
            return fail(None, "--deck: the slide deck needs python-pptx: pip install -e "
                        "'.[deck]'")
    out = args.out or Path("results") / "diagnose" / client.slug
    from kamabm.diagnosis.diagnose import diagnose
    from kamabm.diagnosis.runs import RunsStored, check_folder, diagnosis_identity
    from kamabm.experiments.lock import FolderLockedError, folder_lock
    from kamabm.experiments.store import StoreError

    try:
        identity = diagnosis_identity(client)
    except ClientFileError as exc:
        return fail(None, str(exc))
    try:
        if out.is_dir():  # before anything is made
            check_folder(out, identity, overwrite=args.overwrite)
    except (StoreError, FolderLockedError) as exc:
        return fail(COMMAND, str(exc), label=None)
    problem = unwritable(out, option="--out")
    if problem:
        return fail(None, problem)

    from kamabm.diagnosis.report import command_line, diagnosis_points, write_diagnosis

    quiet = args.quiet
    if not quiet:
        print(f"{client.name}: {len(client.accounts)} key accounts, "
              f"{client.runs_per_option:,} runs an option, {len(client.options())} levers "
              f"to test alone and in pairs -> {out}", file=sys.stderr)
    shown = [-1]
    done = [0, 0]

    def progress(n: int, total: int) -> None:
        done[:] = [n, total]
        tenth = 10 * n // total
        if not quiet and tenth != shown[0]:
            shown[0] = tenth
            print(f"  {n:,} of {total:,} runs", file=sys.stderr)

    def stopped(how: str) -> str:
        kept = f"{done[0]:,} of {done[1]:,} runs are stored" if done[1] else "runs so far " \
            "are stored"
        return (f"{how}; {kept} in {out}, run the same command again to resume")

    stored = RunsStored(out, identity, overwrite=args.overwrite,
                        notify=lambda line: say(COMMAND, line))
    try:
        with folder_lock(out, purpose="diagnosis"):  # through the report too
            diag = diagnose(client, workers=args.workers, progress=progress, store=stored,
                            engine=args.engine)
            with staged(out) as tmp:
                written = [in_target(path, tmp, out)
                           for path in write_diagnosis(diag, tmp, deck=args.deck,
                                                       command=command_line())]
    except (StoreError, FolderLockedError) as exc:
        return fail(COMMAND, str(exc), label=None)
    except ClientFileError as exc:
        return fail(None, str(exc))
    except KeyboardInterrupt as exc:  # a signal (SweepInterrupted) or Ctrl-C
        return interrupted(COMMAND, exc, stopped)
    except OSError as exc:
        return fail(COMMAND, cannot_write(exc, out) + "; the runs stored so far are kept, "
                    "run the same command again once there is room", EXIT_USAGE, label=None)
    status, points, notes = diagnosis_points(diag)
    print(status)
    for point in points:
        print(f"- {point}")
    for note in notes:
        print(f"Note: {note}.")
    resumed = f", {diag.runs_resumed:,} of them resumed" if diag.runs_resumed else ""
    print(f"report: {written[0]} ({diag.runs:,} runs{resumed}, {diag.wall_time:.1f} s)",
          file=sys.stderr)
    return EXIT_OK
